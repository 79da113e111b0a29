// The enclave SDK: what an app imports (and bundles) to use the devices the bootstrap provides.
//
//     import { nsmClient, type AppContext } from '<path>/enclave/sdk/index.ts';
//     export default async function main(ctx: AppContext) {
//       const nsm = nsmClient(ctx);
//       ctx.vsock.listen(5005, async (conn) => { … await nsm.attestation({ nonce }) … });
//     }
export { nsmClient, type NsmClient } from './nsm.ts';
export {
  kmsClient,
  attestedTransport,
  generateRecipientKeyPair,
  httpOverStream,
  signKmsRequest,
  RECIPIENT_OPERATIONS,
  type KmsClient,
  type KmsClientOptions,
  type Credentials,
  type RecipientKeyPair,
  type AttestedTransport,
} from './kms.ts';
export { KmsClientError, KmsServiceError, type KmsClientErrorCode } from '../errors.ts';
export { kmsHttpHandler, type KmsHttpHandler } from './kms-http-handler.ts';
export {
  serveJsonRequests,
  DEFAULT_JSON_REQUEST_MAX_BYTES,
  type JsonErrorAnswer,
  type JsonRequestHandler,
  type ServeJsonRequestsOptions,
} from './json-requests.ts';
export { JsonRequestError, type JsonRequestErrorCode } from '../errors.ts';
// cms.ts (openEnvelope) is not re-exported: it carries @peculiar/asn1-* into every app importing
// this index; apps that open envelopes themselves import './cms.ts' directly.
export { readAll, type ReadAllOptions } from '../vsock/read-all.ts';
export type { EnclaveServices } from '../services.ts';
export type { AppImageInfo } from '../bootstrap.ts';
import type { AppContext as BaseContext } from '../bootstrap.ts';
import type { EnclaveServices } from '../services.ts';
/** The argument of an app's `export default async function main(ctx)`. */
export type AppContext = BaseContext<EnclaveServices>;
