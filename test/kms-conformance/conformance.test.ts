// The conformance suite: every operation of the AWS KMS API model that ships in the unmodified
// @aws-sdk/client-kms, called through that SDK. For each: a success whose response carries every
// member AWS returns, each in its model type (shape.ts), and each exception the API Reference
// documents for it, with AWS's exception name and, where known, its message (or no message where
// AWS sends none). The operations come from the model, so a model release with a new operation,
// member, enum value or documented exception fails here until the KMS and rows.ts answer it.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OPERATIONS, UNSUPPORTED } from '../../kms-proxy/operations/index.ts';
import type { Field } from '../../kms-proxy/shapes.ts';
import { MISSING, MISSING_KEY, arnOf, send, World, type Key } from './fixture.ts';
import { documentedErrors, inputMembers, MODEL_OPERATIONS, outputSchema } from './model.ts';
import { DRY_RUN, type ErrorCase, type Input, NOT_IMPLEMENTED, type Row, ROWS } from './rows.ts';
import { checkShape } from './shape.ts';

let w: World;
beforeAll(async () => {
  w = await World.start();
});
afterAll(async () => {
  await w?.stop();
});

const hasMember = (op: string, name: string) => inputMembers(op).some((m) => m.name === name);

async function keyFor(row: Row, state: 'Enabled' | 'Disabled' | 'PendingDeletion' = 'Enabled', fresh = row.fresh === true && state === 'Enabled'): Promise<Key> {
  if (!row.kind) return MISSING;
  return fresh ? w.fresh(row.kind, state) : w.key(row.kind, state);
}

/** The error cases of `op`: those every key operation shares, derived from its success input, then its own. */
function casesOf(op: string, row: Row): ErrorCase[] {
  const documented = new Set(documentedErrors(op));
  const cases: ErrorCase[] = [];
  if (row.kind) {
    cases.push({ name: 'NotFoundException', what: 'a key id no key has', input: async () => row.ok(w, MISSING), message: `Key '${arnOf(MISSING_KEY)}' does not exist` });
    if (documented.has('DisabledException')) {
      let arn = '';
      cases.push({ name: 'DisabledException', what: 'a disabled key', input: async () => {
        const k = await keyFor(row, 'Disabled');
        arn = k.arn;
        return row.ok(w, k);
      }, message: () => `${arn} is disabled.` });
    }
    if (row.pendingDeletion === 'refused') {
      let arn = '';
      cases.push({ name: 'KMSInvalidStateException', what: 'a key pending deletion', input: async () => {
        const k = await keyFor(row, 'PendingDeletion');
        arn = k.arn;
        return row.ok(w, k);
      }, message: () => `${arn} is pending deletion.` });
    }
  }
  if (hasMember(op, 'DryRun')) cases.push({ name: 'DryRunOperationException', what: 'DryRun', input: async () => ({ ...(await row.ok(w, await keyFor(row))), DryRun: true }), message: DRY_RUN });
  if (hasMember(op, 'GrantTokens')) cases.push({ name: 'InvalidGrantTokenException', what: 'a grant token that is no token', input: async () => ({ ...(await row.ok(w, await keyFor(row))), GrantTokens: ['not a grant token'] }) });
  if (!row.storeless) cases.push({ name: 'KMSInternalException', what: 'the key store fails', input: async () => row.ok(w, await keyFor(row)), on: 'failing' });
  return [...cases, ...(row.errors ?? [])];
}

describe('the model of @aws-sdk/client-kms', () => {
  test('every operation has a row here or is listed as not implemented, and the KMS agrees', () => {
    expect(MODEL_OPERATIONS.length).toBeGreaterThanOrEqual(53);
    expect([...Object.keys(ROWS), ...Object.keys(NOT_IMPLEMENTED)].sort()).toEqual([...MODEL_OPERATIONS]);
    expect([...OPERATIONS.keys()].sort()).toEqual(Object.keys(ROWS).sort());
    expect([...UNSUPPORTED].sort()).toEqual(Object.keys(NOT_IMPLEMENTED).sort());
  });

  test("kms-proxy/README.md's operation table lists every operation, implemented or not as the KMS is", () => {
    const readme = readFileSync(new URL('../../kms-proxy/README.md', import.meta.url), 'utf8');
    const table = new Map([...readme.matchAll(/^\| `(\w+)` \| (yes|no)\b/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
    expect([...table.keys()].sort()).toEqual([...MODEL_OPERATIONS]);
    for (const [op, implemented] of table) expect(implemented, op).toBe(op in ROWS ? 'yes' : 'no');
  });

  test.each(Object.keys(ROWS))('%s takes every input member of the model, with its enum values and required members', (op) => {
    const shape = OPERATIONS.get(op)?.shape ?? {};
    for (const m of inputMembers(op)) {
      const field = shape[m.name] as Field | undefined;
      expect(field, `${op}.${m.name}`).toBeDefined();
      if (m.enumValues && field && 'enum' in field) expect([...(field.enum ?? [])].sort(), `${op}.${m.name}`).toEqual([...m.enumValues].sort());
      if (m.required) expect(field?.required, `${op}.${m.name} is required`).toBe(true);
    }
    // No member the model does not have.
    expect(Object.keys(shape).filter((k) => !inputMembers(op).some((m) => m.name === k))).toEqual([]);
  });

  test('the shape check finds a member the model lacks, a wrong wire type, and an SDK value that differs', () => {
    const wire = { KeyMetadata: { KeyId: 'k', CreationDate: '2026-01-01', Enabled: 'true', Bogus: 1 } };
    const { problems } = checkShape(outputSchema('DescribeKey'), wire, { KeyMetadata: { KeyId: 'other' } });
    expect(problems).toEqual([
      'KeyMetadata.KeyId: the SDK returned another value',
      'KeyMetadata.CreationDate: epoch seconds expected (timestamp)',
      'KeyMetadata.Enabled: a boolean expected',
      'KeyMetadata: member Bogus is not in the model',
    ]);
  });

  test.each(Object.keys(ROWS))('%s: every documented exception has a case or a reason it cannot happen here', (op) => {
    const row = ROWS[op] as Row;
    const covered = new Set([...casesOf(op, row).map((c) => c.name), ...Object.keys(row.unreachable ?? {}), ...Object.keys(row.differences ?? {})]);
    expect(documentedErrors(op).filter((e) => !covered.has(e))).toEqual([]);
  });
});

for (const op of Object.keys(ROWS)) {
  const row = ROWS[op] as Row;
  describe(op, () => {
    test('succeeds with every member AWS returns, each in the model\'s type', async () => {
      const input = await row.ok(w, await keyFor(row));
      const out = await send(w.kms, op, input);
      const { paths, problems } = checkShape(outputSchema(op), w.last(op).body, out);
      expect(problems).toEqual([]);
      const schema = outputSchema(op);
      const top = schema.isUnitSchema() ? [] : [...schema.structIterator()].map(([k]) => k);
      const absent = row.absent ?? {};
      expect(top.filter((m) => !(m in absent) && !paths.has(m)), 'members missing from the response').toEqual([]);
      expect((row.nested ?? []).filter((p) => !paths.has(p)), 'nested members missing').toEqual([]);
    });

    if (row.pendingDeletion === 'allowed') {
      test('acts on a key pending deletion (the key state table allows it)', async () => {
        const error = await send(w.kms, op, await row.ok(w, await keyFor(row, 'PendingDeletion', row.fresh === true))).then(() => undefined, (e: unknown) => e as Error);
        expect(error?.name).not.toBe('KMSInvalidStateException');
      });
    }

    for (const c of casesOf(op, row)) {
      test(`${c.name}: ${c.what}`, async () => {
        const input: Input = await c.input(w);
        const kms = c.on ? w.brokenKms : w.kms;
        const run = () => send(kms, op, input);
        const error = await (c.on === 'failing' ? w.failStore(run) : run()).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.name, 'the exception').toBe(c.name);
        const body = w.last(op).body as Record<string, unknown>;
        expect(body.__type).toBe(c.name);
        if (c.message === null) expect(body, 'AWS sends no message').not.toHaveProperty('message');
        else if (typeof c.message === 'string') expect(body.message).toBe(c.message);
        else if (typeof c.message === 'function') expect(body.message).toBe(c.message(input));
      });
    }
  });
}

describe.each(Object.entries(NOT_IMPLEMENTED))('%s (not implemented)', (op, why) => {
  test(`UnsupportedOperationException: ${why}`, async () => {
    const input = Object.fromEntries(inputMembers(op).filter((m) => m.required).map((m) => [m.name, m.enumValues?.[0] ?? (m.list ? ['x'] : 'x')]));
    const error = await send(w.kms, op, input).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.name).toBe('UnsupportedOperationException');
  });
});
