// Public surface of the web console (`nitro-sandbox ui`): start it, or build its app for tests; the
// inspector's analysis is usable on its own.
export { startUi, DEFAULT_PORT, type UiOptions, type UiServer } from './start.ts';
export { createUiApp, type UiApp, type UiAppOptions, type UiAssets } from './app.ts';
export { inspectDocument, documentFromText, MAX_DOCUMENT_BYTES, STEP_IDS, type Inspection, type InspectOptions, type Step, type StepId, type CertificateView, type PcrComparison, type Anchor } from './inspect.ts';
export { csrfToken } from './guard.ts';
export * from './errors.ts';
