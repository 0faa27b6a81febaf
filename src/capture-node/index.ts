/** In-process capture for Node: async-context parents on top of runprint/capture. */
export { currentParents, withParent } from './parents.ts';
