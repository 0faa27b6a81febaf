/** In-process capture for Node: async-context parents, and runprintFetch into a data directory's run store. */
export { currentParents, withParent } from './parents.ts';
export { DEFAULT_DATA, runprintFetch, type RunprintFetch, type RunprintFetchCounts, type RunprintFetchOptions } from './runprint-fetch.ts';
