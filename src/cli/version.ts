/** runprint's own version: shared with in-process capture, which signs receipts with it too. */
export { runprintVersion } from '../capture-node/version.ts';
