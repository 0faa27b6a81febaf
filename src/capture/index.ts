/** runprint/capture: the run record of a provider call from its exact bytes, and a `fetch` that records every call it forwards. */
export { captureFetch, type CaptureCounts, type CaptureFetchOptions, type CapturingFetch, type RunContent } from './capture-fetch.ts';
export { captureRun, isRunId, type CapturedExchange } from './capture-run.ts';
export { observeBody, outcomeOfError, type ObserveOptions, type ObservedBody } from './observe-body.ts';
export { CAPTURE_ROUTES, routeOf, type CaptureRoute } from './route.ts';
export { RUN_RECORD_VERSION, type CaptureOutcome, type DeclaredDocument, type IncompleteReason, type RetrievedDocument, type RunRecord } from './run-record.ts';
export { MAX_STEPS_NAMES, readStepsHeader, STEPS_HEADER } from './steps.ts';
export { readRetrievalHeader, retrievalHeader, MAX_DECLARED_DOCUMENTS, MAX_DECLARED_TEXT, MAX_RETRIEVAL_HEADER_BYTES, RETRIEVAL_ERROR_HEADER, RETRIEVAL_HEADER } from './declared.ts';
