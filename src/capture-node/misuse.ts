/**
 * Programmer errors of runprint/capture-node (a bad option, a callback that is not a function):
 * thrown at once as `TypeError`s with Node's own codes, `ERR_INVALID_ARG_TYPE` or
 * `ERR_INVALID_ARG_VALUE`. The helpers are capture's (capture/misuse.ts), so captureFetch and
 * runprintFetch throw the same errors.
 */
export { closestOption, typeName, unknownOption, wrongType, wrongValue, type MisuseCode, type MisuseError } from '../capture/misuse.ts';
