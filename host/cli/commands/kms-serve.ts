// `nitro-sandbox kms serve`: runs the AWS-KMS-compatible service until SIGINT/SIGTERM.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { defaultDataDir } from '../../../attestation/index.ts';
import { DEFAULT_REGION, isRegionName, startKmsServer, type Limits, type Quota } from '../../../kms-proxy/index.ts';
import { flagOpt, intOpt, listOpt, stringOpt, UsageError, type Command } from '../command.ts';
import { kmsDataDir, recipientOptions } from './kms-options.ts';

/**
 * The default audit replica id on a shared store: the host name and the port (lower case, a-z 0-9
 * '-', at most 63), so replicas on one host differ and a replica restarted where it ran continues
 * its chain. With --port 0 the port is not known yet: the process id stands in for it.
 */
function defaultReplica(port: number): string {
  const suffix = port === 0 ? `-pid${process.pid}` : `-${port}`;
  const id = hostname().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, 63 - suffix.length);
  return `${id === '' ? 'replica' : id}${suffix}`;
}

export const kmsServe: Command = {
  help: `Usage: nitro-sandbox kms serve [--port 4000] [--host 127.0.0.1] [--data-dir DIR] [--seed FILE]
                           [--region R]... [--account A] [--allow-anonymous]
                           [--credentials FILE]... [--quota G=RATE[:BURST]]... [--limit NAME=N]...
                           [--trust-anchor PEM]... [--aws-nitro-root] [--sandbox-dir DIR]
                           [--attestation-max-age SECONDS]
                           [--audit-segment-mib N] [--audit-segment-hours N]
                           [--store postgres://USER:PASSWORD@HOST:PORT/DB [--audit-dir DIR] [--replica ID]]

Serves the AWS KMS JSON API (awsJson1_1, X-Amz-Target: TrentService.<Operation>) so the unmodified
AWS SDKs and CLI work against it by changing only the endpoint:

  aws kms list-keys --endpoint-url http://127.0.0.1:4000

Options:
  --port N            TCP port (default 4000; 0 picks a free port)
  --host ADDR         address to listen on (default 127.0.0.1)
  --data-dir DIR      key store, master key, credentials and audit log
                      (default $NITRO_SANDBOX_HOME/kms or ~/.nitro-sandbox/kms)
  --seed FILE         YAML or JSON seed file applied at start-up (idempotent): keys (in any
                      account) and credentials; see kms-proxy/README.md, "Seed files"
  --region R          a Region this KMS answers for (default us-east-1); repeatable, the first is
                      the default (of unsigned requests and seeded keys). A request is for the
                      Region of its SigV4 scope (the SDK's or CLI's region), which is the Region
                      in its ARNs; keys, aliases and listings are per Region, and multi-Region keys
                      (CreateKey --multi-region, ReplicateKey) relate keys of several Regions
  --account A         12-digit default account (default 111122223333): of the credential generated
                      for a fresh data directory, of anonymous callers, of seeded keys that name none
  --allow-anonymous   also accept unsigned requests, as the account root (off by default)
  --credentials FILE  more credentials (JSON or YAML list), accepted besides DIR/credentials.json;
                      repeatable. Each entry: {accessKeyId, secretAccessKey, principalArn,
                      account?, allowedActions?}; see "Accounts and credentials" below
  --limit NAME=N      resource quota (AWS's defaults): keys-per-account=100000,
                      aliases-per-key=50, grants-per-key=50000; repeatable. Past one:
                      LimitExceededException
  --quota G=RATE[:BURST]
                      request quota per account for group G (cryptographic, random, management,
                      list, write) in requests/second; repeatable. Default cryptographic=10000
                      (AWS's default), management=2000, list=1000, write=500, random=10000.
                      Over quota: ThrottlingException, which the AWS SDKs retry with backoff.

Attested requests (Recipient on Decrypt, GenerateDataKey, GenerateDataKeyPair, GenerateRandom,
DeriveSharedSecret): the attestation document is verified, its PCRs become the
kms:RecipientAttestation:ImageSha384 / PCR<n> condition keys, and the answer is
CiphertextForRecipient (CMS, to the document's RSA public_key) instead of the plaintext.
  --trust-anchor PEM  root certificate accepted for attestation documents; repeatable.
                      Default: the sandbox root, DIR/pki/root.pem of --sandbox-dir
  --sandbox-dir DIR   the enclave host's data directory whose sandbox root is trusted
                      (default $NITRO_SANDBOX_HOME or ~/.nitro-sandbox)
  --aws-nitro-root    also accept documents from real Nitro Enclaves (AWS Nitro Root-G1)
  --attestation-max-age SECONDS
                      oldest document accepted (default 300, as AWS)

Audit log (DIR/audit/local/; kms-proxy/README.md, "Audit log"): one signed, hash-chained
CloudTrail-shaped record per authenticated call; calls refused before authentication or by a quota
are counted in one summary record a minute. The KMS does not start on a log that fails
'kms audit verify' (see 'kms audit recover'), and refuses calls while the log cannot be written.
  --audit-segment-mib N    start a new segment after N MiB (default 64)
  --audit-segment-hours N  … or after N hours (default 24)
The key that verifies the log is printed at start-up (audit public key: ed25519:…).

Replicas on PostgreSQL (kms-proxy/README.md, "Replicas on PostgreSQL"): several KMS processes
behind a load balancer, one database, consistent as one KMS. Start each the same way:
  nitro-sandbox kms serve --store postgres://kms:…@db:5432/kms --data-dir /run/secrets/kms --port 4000
  --store URL         postgres://USER:PASSWORD@HOST:PORT/DB (?sslmode=require etc. as libpq reads
                      them): keys, aliases, grants, quotas and the audit registry live there, the
                      schema is created and migrated by the KMS. DIR (--data-dir) is then only
                      read: master.key and credentials.json, the same for every replica (e.g. a
                      read-only secret; created there only by a first start on an empty database),
                      and no lock keeps other replicas out. Without --store, DIR/kms.sqlite (one
                      process).
  --audit-dir DIR     where this replica writes its audit chain, audit/<replica>/ (default
                      $NITRO_SANDBOX_HOME/kms-audit or ~/.nitro-sandbox/kms-audit; replicas may
                      share one, each writes its own folder). Verify all of them with
                      'kms audit verify --audit-dir DIR --store URL'.
  --replica ID        this replica's audit chain id (1-63 of a-z, 0-9, '-'; default: the host name
                      and the port, e.g. kms-7f9c-4000; the process id instead of a port of 0).
                      Unique per live replica: a second process with the same id on the same
                      database is refused.

Accounts and credentials: every key, alias and grant belongs to an account, as on AWS. A caller
acts in the account of its credential's principal: CreateKey and CreateAlias make resources there,
ListKeys and ListAliases list only its own, an alias name is unique per account. Another account's
key is reachable only by key ARN (or alias ARN), only for the operations AWS allows across
accounts (cryptographic operations, DescribeKey, GetPublicKey, GetKeyRotationStatus, grants), and
only when both its key policy and the caller's identity policy allow it. The identity policy is the
credential's allowedActions (IAM actions, * and ? wildcards; absent: every action), e.g.
  [{"accessKeyId": "AKIAPARTNER000000001", "secretAccessKey": "…",
    "principalArn": "arn:aws:iam::444455556666:user/partner",
    "allowedActions": ["kms:Decrypt", "kms:DescribeKey"]}]
A fresh data directory gets one generated credential (an IAM user of --account), stored with mode
0600 in DIR/credentials.json and printed at start-up; add entries there, or with --credentials or
the seed file's credentials list. An access key defined twice with different contents is refused.
Requests must be SigV4-signed (host, X-Amz-Date, X-Amz-Target and every X-Amz-* header signed).

The data directory's master.key protects everything in kms.sqlite; keep a backup of both. A
missing master.key beside an existing kms.sqlite refuses to start (it is never regenerated), and
a record changed in kms.sqlite outside the KMS is refused (KMSInternalException, reason on stderr).`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    seed: { type: 'string' },
    region: { type: 'string', multiple: true },
    account: { type: 'string' },
    'allow-anonymous': { type: 'boolean' },
    quota: { type: 'string', multiple: true },
    credentials: { type: 'string', multiple: true },
    limit: { type: 'string', multiple: true },
    'trust-anchor': { type: 'string', multiple: true },
    'sandbox-dir': { type: 'string' },
    'aws-nitro-root': { type: 'boolean' },
    'attestation-max-age': { type: 'string' },
    'audit-segment-mib': { type: 'string' },
    'audit-segment-hours': { type: 'string' },
    store: { type: 'string' },
    'audit-dir': { type: 'string' },
    replica: { type: 'string' },
  },
  async run(args, io) {
    const port = intOpt(args, 'port', 0, 65535) ?? 4000;
    const account = stringOpt(args, 'account') ?? '111122223333';
    if (!/^\d{12}$/.test(account)) throw new UsageError(`--account must be 12 digits, got '${account}'`);
    const regions = listOpt(args, 'region');
    for (const r of regions) if (!isRegionName(r)) throw new UsageError(`--region does not look like an AWS region: '${r}'`);
    const region = regions[0] ?? DEFAULT_REGION;
    const dataDir = kmsDataDir(args);
    const seed = stringOpt(args, 'seed');
    const allowAnonymous = flagOpt(args, 'allow-anonymous');
    const quotas: Record<string, Quota> = {};
    for (const q of listOpt(args, 'quota')) {
      const m = /^(cryptographic|random|management|list|write)=(\d+)(?::(\d+))?$/.exec(q);
      // A zero rate or burst would refuse every call of the group for ever.
      if (!m || Number(m[2]) < 1 || (m[3] !== undefined && Number(m[3]) < 1)) throw new UsageError(`--quota must look like cryptographic=10000 or write=50:100, got '${q}'`);
      quotas[m[1] ?? ''] = { rate: Number(m[2]), ...(m[3] ? { burst: Number(m[3]) } : {}) };
    }
    const limits: Partial<Record<keyof Limits, number>> = {};
    const LIMIT_NAMES: Readonly<Record<string, keyof Limits>> = { 'keys-per-account': 'keysPerAccount', 'aliases-per-key': 'aliasesPerKey', 'grants-per-key': 'grantsPerKey' };
    for (const l of listOpt(args, 'limit')) {
      const m = /^([a-z-]+)=(\d{1,9})$/.exec(l);
      const name = m ? LIMIT_NAMES[m[1] ?? ''] : undefined;
      if (!m || !name || Number(m[2]) < 1) throw new UsageError(`--limit must look like keys-per-account=100000 (${Object.keys(LIMIT_NAMES).join(', ')}; at least 1), got '${l}'`);
      limits[name] = Number(m[2]);
    }
    const credentialFiles = listOpt(args, 'credentials');
    const recipient = recipientOptions(args);
    const segmentMib = intOpt(args, 'audit-segment-mib', 1, 1 << 20);
    const segmentHours = intOpt(args, 'audit-segment-hours', 1, 24 * 366);
    const storeUrl = stringOpt(args, 'store');
    if (storeUrl !== undefined && !/^postgres(ql)?:\/\//.test(storeUrl)) throw new UsageError('--store must be a postgres:// URL');
    if (storeUrl === undefined && (stringOpt(args, 'audit-dir') !== undefined || stringOpt(args, 'replica') !== undefined)) throw new UsageError('--audit-dir and --replica are for replicas on a shared store (--store)');
    // With a shared store the data directory is only read: the audit chain goes elsewhere.
    const auditDir = stringOpt(args, 'audit-dir') ?? (storeUrl !== undefined ? join(defaultDataDir(), 'kms-audit') : undefined);
    const replica = stringOpt(args, 'replica') ?? (storeUrl !== undefined ? defaultReplica(port) : undefined);
    const audit = {
      ...(segmentMib ? { maxSegmentBytes: segmentMib * 1024 * 1024 } : {}),
      ...(segmentHours ? { maxSegmentAgeMs: segmentHours * 3_600_000 } : {}),
      ...(replica !== undefined ? { replica } : {}),
    };
    const server = await startKmsServer({
      port, host: stringOpt(args, 'host') ?? '127.0.0.1', dataDir, region, regions: regions.length > 0 ? regions : [region], account, allowAnonymous, quotas, limits, credentialFiles, recipient, audit,
      ...(seed ? { seed } : {}), ...(storeUrl !== undefined ? { storeUrl } : {}), ...(auditDir !== undefined ? { auditDir } : {}),
    });
    const c = server.credential;
    const others = server.credentials.filter((x) => x.accessKeyId !== c.accessKeyId);
    const accounts = [...new Set(server.credentials.map((x) => x.account))].sort();
    io.out(
      [
        `KMS listening on ${server.endpoint}  (${regions.length > 1 ? `regions ${regions.join(', ')};` : `region ${region},`} account ${account})`,
        `data directory: ${dataDir}${server.credentialsCreated ? '  (new: credential generated)' : ''}`,
        `credential for ${c.principalArn}:`,
        `  AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
        `  AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
        `audit public key: ${server.auditPublicKey}`,
        storeUrl !== undefined ? `store: PostgreSQL ${storeUrl.replace(/\/\/[^@/]*@/, '//…@')}; audit replica ${replica} in ${auditDir}` : '',
        others.length > 0 ? `${others.length} more credential(s) accepted; accounts ${accounts.join(', ')}` : '',
        allowAnonymous ? 'WARNING: unsigned requests are accepted as the account root (--allow-anonymous)' : '',
        '',
      ]
        .filter((l, i, a) => l !== '' || i === a.length - 1)
        .join('\n'),
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
};
