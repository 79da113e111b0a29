// Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant (KMS API Reference;
// Developer Guide "Grants in AWS KMS"). A grant allows its grantee the listed operations, possibly
// constrained by encryption context; it never denies. Grants take effect at once here, so grant
// tokens are accepted but not needed.
import { createHash, randomBytes } from 'node:crypto';
import { kmsError } from '../errors.ts';
import type { GrantConstraints, GrantRecord } from '../model.ts';
import { DryRunField, GrantTokensField, KeyIdField } from '../shapes.ts';
import { dryRun, list, page, reqStr, str, type Operation } from './types.ts';

export const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
] as const;

const PrincipalField = { t: 'string', min: 1, max: 256, pattern: '^[\\w+=,.@:/-]+$' } as const;
const GrantIdField = { t: 'string', min: 1, max: 128, required: true } as const;

function grantView(g: GrantRecord, keyArn: string, account: string): Record<string, unknown> {
  return {
    KeyId: keyArn,
    GrantId: g.grantId,
    ...(g.name !== undefined ? { Name: g.name } : {}),
    CreationDate: g.creationDate / 1000,
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
    IssuingAccount: `arn:aws:iam::${account}:root`,
    Operations: g.operations,
    ...(g.constraints ? { Constraints: g.constraints } : {}),
  };
}

export const CreateGrant: Operation = {
  name: 'CreateGrant',
  quota: 'write',
  readOnly: false,
  shape: {
    KeyId: KeyIdField,
    GranteePrincipal: { ...PrincipalField, required: true },
    RetiringPrincipal: PrincipalField,
    Operations: { t: 'strings', required: true, enum: GRANT_OPERATIONS },
    Constraints: { t: 'constraints' },
    GrantTokens: GrantTokensField,
    Name: { t: 'string', min: 1, max: 256, pattern: '^[a-zA-Z0-9:/_-]+$' },
    DryRun: DryRunField,
  },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    const operations = list(input, 'Operations') ?? [];
    const grantee = reqStr(input, 'GranteePrincipal');
    const retiring = str(input, 'RetiringPrincipal');
    trail.decision = await svc.authorize(r, caller, 'kms:CreateGrant', {
      'kms:GrantOperations': operations,
      'kms:GranteePrincipal': grantee,
      'kms:RetiringPrincipal': retiring,
      'kms:GrantIsForAWSResource': 'false',
    });
    svc.requireNotPendingDeletion(r.key);
    if (operations.length === 0) throw kmsError('ValidationException', "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1");
    const constraints = input.Constraints as GrantConstraints | undefined;
    dryRun(input);
    const name = str(input, 'Name');
    const record = { keyId: r.key.keyId, granteePrincipal: grantee, retiringPrincipal: retiring, operations: [...operations].sort(), constraints, name };
    // CreateGrant is idempotent for a repeated Name with identical parameters (CreateGrant docs).
    if (name !== undefined) {
      for (const g of await svc.store.listGrants(r.key.keyId)) {
        if (g.name === name && JSON.stringify({ ...record, operations: [...g.operations].sort(), constraints: g.constraints, retiringPrincipal: g.retiringPrincipal, granteePrincipal: g.granteePrincipal }) === JSON.stringify(record)) {
          return { GrantToken: g.grantToken, GrantId: g.grantId };
        }
      }
    }
    const grantId = createHash('sha256').update(randomBytes(32)).digest('hex');
    // 64 base64url characters: the shape server.ts accepts in GrantTokens.
    const grantToken = randomBytes(48).toString('base64url');
    const g: GrantRecord = {
      grantId,
      keyId: r.key.keyId,
      ...(name !== undefined ? { name } : {}),
      granteePrincipal: grantee,
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
      issuingAccount: svc.account,
      operations,
      ...(constraints && Object.keys(constraints).length > 0 ? { constraints } : {}),
      creationDate: svc.clock(),
      grantToken,
    };
    await svc.store.putGrant(g);
    return { GrantToken: grantToken, GrantId: grantId };
  },
};

export const ListGrants: Operation = {
  name: 'ListGrants',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 100 }, Marker: { t: 'string', min: 1, max: 1024 }, GrantId: { t: 'string', min: 1, max: 128 }, GranteePrincipal: PrincipalField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:ListGrants');
    const id = str(input, 'GrantId');
    const grantee = str(input, 'GranteePrincipal');
    const grants = (await svc.store.listGrants(r.key.keyId)).filter((g) => (id === undefined || g.grantId === id) && (grantee === undefined || g.granteePrincipal === grantee));
    const { items, out } = page(grants, input, 50);
    return { Grants: items.map((g) => grantView(g, r.key.arn, svc.account)), ...out };
  },
};

export const ListRetirableGrants: Operation = {
  name: 'ListRetirableGrants',
  quota: 'list',
  readOnly: true,
  shape: { Limit: { t: 'int', min: 1, max: 100 }, Marker: { t: 'string', min: 1, max: 1024 }, RetiringPrincipal: { ...PrincipalField, required: true } },
  async run({ svc, input }) {
    const rp = reqStr(input, 'RetiringPrincipal');
    const grants = (await svc.store.listGrants()).filter((g) => g.retiringPrincipal === rp);
    const { items, out } = page(grants, input, 50);
    return { Grants: items.map((g) => grantView(g, svc.keyArn(g.keyId), svc.account)), ...out };
  },
};

export const RetireGrant: Operation = {
  name: 'RetireGrant',
  quota: 'write',
  readOnly: false,
  shape: { GrantToken: { t: 'string', min: 1, max: 8192 }, KeyId: { t: 'string', min: 1, max: 2048 }, GrantId: { t: 'string', min: 1, max: 128 }, DryRun: DryRunField },
  async run({ svc, caller, input, trail }) {
    const token = str(input, 'GrantToken');
    const keyIdIn = str(input, 'KeyId');
    const grantId = str(input, 'GrantId');
    let grant: GrantRecord | undefined;
    if (token !== undefined) {
      grant = (await svc.store.listGrants()).find((g) => g.grantToken === token);
      if (!grant) throw kmsError('InvalidGrantTokenException', 'The grant token is not valid.');
    } else {
      if (keyIdIn === undefined || grantId === undefined) throw kmsError('ValidationException', 'Either GrantToken or both KeyId and GrantId must be specified.');
      const r = await svc.resolve(keyIdIn, { aliases: false });
      grant = await svc.store.getGrant(grantId);
      if (!grant || grant.keyId !== r.key.keyId) throw kmsError('InvalidGrantIdException', 'Grant ID not found');
    }
    trail.keyArn = svc.keyArn(grant.keyId);
    // Who may retire (RetireGrant docs): the retiring principal, or the grantee when the grant
    // includes RetireGrant.
    const may = grant.retiringPrincipal === caller.principalArn || (grant.granteePrincipal === caller.principalArn && grant.operations.includes('RetireGrant'));
    if (!may) throw kmsError('AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: kms:RetireGrant on resource: ${svc.keyArn(grant.keyId)}`);
    dryRun(input);
    await svc.store.deleteGrant(grant.grantId);
    return {};
  },
};

export const RevokeGrant: Operation = {
  name: 'RevokeGrant',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, GrantId: GrantIdField, DryRun: DryRunField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:RevokeGrant');
    const g = await svc.store.getGrant(reqStr(input, 'GrantId'));
    if (!g || g.keyId !== r.key.keyId) throw kmsError('NotFoundException', 'Grant ID not found');
    dryRun(input);
    await svc.store.deleteGrant(g.grantId);
    return {};
  },
};
