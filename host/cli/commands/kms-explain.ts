// `nitro-sandbox kms explain`: why the KMS would allow or deny a request, statement by statement.
import { explainAction, explainInDataDir, formatExplanation, isRegionName, KmsError, principalAccount } from '../../../kms-proxy/index.ts';
import { readDocumentFile } from './verify-attestation.ts';
import { flagOpt, json, listOpt, requiredOpt, stringOpt, UsageError, type Command } from '../command.ts';
import { kmsDataDir, recipientOptions } from './kms-options.ts';

export const kmsExplain: Command = {
  help: `Usage: nitro-sandbox kms explain --key-id K --action kms:Decrypt [--attestation DOC]
                             [--principal ARN] [--encryption-context k=v]... [--data-dir DIR]
                             [--trust-anchor PEM]... [--sandbox-dir DIR] [--aws-nitro-root] [--json]

Evaluates the request against the key policy and grants in the KMS data directory exactly as
'kms serve' would, and prints the decision: which statement (index and Sid) or grant allowed or
denied it, and for every statement whose conditions were evaluated, each condition's operator,
key, expected values and the request's value. The principal's identity policy (its allowedActions
in DIR/credentials.json) and the cross-account rules apply as in 'kms serve'; a key of another
account than the principal's is named by its key ARN. Reads the store only; a running 'kms serve'
on the same directory is not disturbed.

Options:
  --key-id K               key id, key ARN, alias name or alias ARN
  --action A               kms:Decrypt, kms:GenerateDataKey, … (the kms: prefix is optional)
  --attestation DOC        an attestation document (raw COSE bytes or base64), as an enclave sends
                           in Recipient; verified like the KMS does (trust anchors, 5-minute age),
                           its PCRs become the kms:RecipientAttestation:* condition keys;
                           only for the actions that take a Recipient (Decrypt, GenerateDataKey,
                           GenerateDataKeyPair, GenerateRandom, DeriveSharedSecret)
  --principal ARN          the caller (default the account root, arn:aws:iam::ACCOUNT:root)
  --encryption-context k=v the request's encryption context; repeatable
  --data-dir DIR           the KMS data directory (default $NITRO_SANDBOX_HOME/kms or ~/.nitro-sandbox/kms)
  --region R               the Region the request is made in, one 'kms serve' serves (default us-east-1)
  --account A              as given to 'kms serve' (default 111122223333)
  --trust-anchor PEM, --sandbox-dir DIR, --aws-nitro-root
                           trust anchors for --attestation, as for 'kms serve'
  --json                   print the explanation as JSON

Exit status: 0 when the request would be allowed, 1 when denied or refused, 2 on usage errors.`,
  options: {
    'key-id': { type: 'string' },
    action: { type: 'string' },
    attestation: { type: 'string' },
    principal: { type: 'string' },
    'encryption-context': { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    region: { type: 'string' },
    account: { type: 'string' },
    'trust-anchor': { type: 'string', multiple: true },
    'sandbox-dir': { type: 'string' },
    'aws-nitro-root': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const keyId = requiredOpt(args, 'key-id');
    const action = requiredOpt(args, 'action');
    if (explainAction(action) === undefined) throw new UsageError(`--action must look like kms:Decrypt, got '${action}'`);
    const ec: Record<string, string> = {};
    for (const kv of listOpt(args, 'encryption-context')) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new UsageError(`--encryption-context takes k=v, got '${kv}'`);
      ec[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const principal = stringOpt(args, 'principal');
    if (principal !== undefined && principalAccount(principal) === undefined) throw new UsageError(`--principal must be an IAM or STS ARN, got '${principal}'`);
    const account = stringOpt(args, 'account');
    if (account !== undefined && !/^\d{12}$/.test(account)) throw new UsageError(`--account must be 12 digits, got '${account}'`);
    const docPath = stringOpt(args, 'attestation');
    const attestation = docPath === undefined ? undefined : readDocumentFile(docPath);
    const region = stringOpt(args, 'region');
    if (region !== undefined && !isRegionName(region)) throw new UsageError(`--region does not look like an AWS region: '${region}'`);
    const dataDir = kmsDataDir(args);
    try {
      const e = await explainInDataDir(
        {
          dataDir,
          ...(region ? { region } : {}),
          ...(account ? { account } : {}),
          recipient: recipientOptions(args),
        },
        { keyId, action, ...(principal ? { principal } : {}), ...(attestation ? { attestation } : {}), ...(Object.keys(ec).length ? { encryptionContext: ec } : {}) },
      );
      io.out(flagOpt(args, 'json') ? json(e) : formatExplanation(e));
      return e.outcome === 'Allowed' ? 0 : 1;
    } catch (err) {
      if (err instanceof KmsError) {
        io.err(`kms explain: ${err.awsName}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
