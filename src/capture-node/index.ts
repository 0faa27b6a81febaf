/** In-process capture for Node: async-context parents, and runprintFetch into a data directory's run store. */
export { currentParents, currentSteps, withParent, withSteps } from './parents.ts';
export { currentRetrieval, withRetrieval } from './retrieval.ts';
export { DEFAULT_DATA, OUTBOX_FOLDER, runprintFetch, type RunprintFetch, type RunprintFetchCounts, type RunprintFetchOptions } from './runprint-fetch.ts';
export { Outbox, REJECTED_FOLDER, type OutboxCounts, type OutboxOptions } from './outbox.ts';
export type { MisuseCode, MisuseError } from './misuse.ts';
export type { Collected } from './collect.ts';
