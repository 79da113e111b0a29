// The vsock-proxy allowlist file (AWS's format, aws-nitro-enclaves-cli vsock_proxy/configs/
// vsock-proxy.yaml) and AWS's matching rule (proxy.rs check_allowlist): port first, then the
// name as written, then the entry's resolved addresses.
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AllowlistConfigError, checkRemoteAllowed, findAllowed, loadAllowlist, parseAllowlist, type Lookup } from '../../host/index.ts';
import { cleanupDaemons, codeOf, tempDir } from './helpers.ts';

// The first lines of AWS's shipped default allowlist, verbatim (flow mappings in a block list).
const AWS_DEFAULT = `allowlist:
- {address: kms.us-east-2.amazonaws.com, port: 443}
- {address: kms-fips.us-east-2.amazonaws.com, port: 443}
- {address: kms.us-east-1.amazonaws.com, port: 443}
`;

const fakeDns: Record<string, string[]> = {
  'kms.local': ['127.0.0.1'],
  'alias.local': ['10.1.1.1', '127.0.0.1'],
  'other.local': ['10.9.9.9'],
};
const lookup: Lookup = async (h) => {
  const r = fakeDns[h] ?? (/^[\d.]+$/.test(h) ? [h] : undefined);
  if (!r) throw new Error(`ENOTFOUND ${h}`);
  return r;
};

afterAll(() => cleanupDaemons([]));

describe('allowlist file', () => {
  it("parses AWS's default file format", () => {
    expect(parseAllowlist(AWS_DEFAULT)).toEqual([
      { address: 'kms.us-east-2.amazonaws.com', port: 443 },
      { address: 'kms-fips.us-east-2.amazonaws.com', port: 443 },
      { address: 'kms.us-east-1.amazonaws.com', port: 443 },
    ]);
  });

  it('reads an empty file, an empty list and a missing file as "allow nothing"', () => {
    const dir = tempDir();
    expect(parseAllowlist('')).toEqual([]);
    expect(parseAllowlist('allowlist: []\n')).toEqual([]);
    expect(parseAllowlist('allowlist:\n')).toEqual([]);
    expect(loadAllowlist(join(dir, 'absent.yaml'))).toEqual([]);
  });

  it.each([
    ['not YAML', 'allowlist: [\n'],
    ['a list at the top', '- {address: a, port: 1}\n'],
    ['an unknown top-level key', 'allowlist: []\nallow: []\n'],
    ['allowlist not a list', 'allowlist: {address: a, port: 1}\n'],
    ['an entry that is a string', 'allowlist:\n- kms.local:443\n'],
    ['an unknown entry key', 'allowlist:\n- {address: a, port: 1, proto: udp}\n'],
    ['a missing address', 'allowlist:\n- {port: 443}\n'],
    ['a quoted port', 'allowlist:\n- {address: a, port: "443"}\n'],
    ['port 0', 'allowlist:\n- {address: a, port: 0}\n'],
    ['port 65536', 'allowlist:\n- {address: a, port: 65536}\n'],
    ['a duplicate key', 'allowlist:\n- {address: a, address: b, port: 1}\n'],
    ['an address with a space', 'allowlist:\n- {address: "a b", port: 1}\n'],
    ['an unknown YAML tag', 'allowlist:\n- {address: !env KMS, port: 1}\n'],
  ])('refuses %s with ERR_VSOCK_PROXY_CONFIG', (_t, text) => {
    expect(codeOf(() => parseAllowlist(text))).toBe('ERR_VSOCK_PROXY_CONFIG');
  });

  it('reads back any valid list written by an independent YAML serializer (property)', () => {
    const entry = fc.record({
      address: fc.oneof(fc.ipV4(), fc.domain()),
      port: fc.integer({ min: 1, max: 65535 }),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), fc.boolean(), (list, flow) => {
        const text = stringify({ allowlist: list }, flow ? { collectionStyle: 'flow' } : {});
        expect(parseAllowlist(text)).toEqual(list);
      }),
    );
  });

  it('throws nothing but ERR_VSOCK_PROXY_CONFIG on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `allowlist:\n- ${s}\n`), fc.string().map((s) => `allowlist:\n- {address: ${s}, port: 1}\n`)), (text) => {
        try {
          const list = parseAllowlist(text);
          expect(Array.isArray(list)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(AllowlistConfigError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('is read from a file; an unreadable path is ERR_VSOCK_PROXY_CONFIG', () => {
    const dir = tempDir();
    const f = join(dir, 'a.yaml');
    writeFileSync(f, AWS_DEFAULT);
    expect(loadAllowlist(f)).toHaveLength(3);
    expect(codeOf(() => loadAllowlist(dir))).toBe('ERR_VSOCK_PROXY_CONFIG');
  });
});

describe('matching (AWS check_allowlist)', () => {
  const list = parseAllowlist('allowlist:\n- {address: kms.local, port: 443}\n- {address: 10.1.1.1, port: 8443}\n');

  it('admits the name as written, on its port only', async () => {
    expect(await findAllowed(list, { address: 'kms.local', port: 443 }, '127.0.0.1', lookup)).toEqual(list[0]);
    expect(await findAllowed(list, { address: 'KMS.local.', port: 443 }, '127.0.0.1', lookup)).toEqual(list[0]);
    expect(await findAllowed(list, { address: 'kms.local', port: 444 }, '127.0.0.1', lookup)).toBeUndefined();
  });

  it("admits another name or an IP when it resolves to an entry's address", async () => {
    expect(await findAllowed(list, { address: '127.0.0.1', port: 443 }, '127.0.0.1', lookup)).toEqual(list[0]);
    expect(await findAllowed(list, { address: 'alias.local', port: 8443 }, '10.1.1.1', lookup)).toEqual(list[1]);
    expect(await findAllowed(list, { address: 'other.local', port: 443 }, '10.9.9.9', lookup)).toBeUndefined();
  });

  it('refuses at start a remote that is not listed, or any remote with an empty list', async () => {
    await expect(checkRemoteAllowed({ address: 'other.local', port: 443 }, list, lookup)).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_NOT_ALLOWED' });
    await expect(checkRemoteAllowed({ address: 'kms.local', port: 443 }, [], lookup)).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_NOT_ALLOWED' });
    await expect(checkRemoteAllowed({ address: 'nowhere.local', port: 443 }, list, lookup)).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_NOT_ALLOWED' });
    await expect(checkRemoteAllowed({ address: 'a b', port: 443 }, list, lookup)).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_INVALID_ARGUMENT' });
    await expect(checkRemoteAllowed({ address: 'kms.local', port: 0 }, list, lookup)).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_INVALID_ARGUMENT' });
    expect(await checkRemoteAllowed({ address: 'kms.local', port: 443 }, list, lookup)).toBe('127.0.0.1');
  });
});
