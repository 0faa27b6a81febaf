/** Key files on disk: the writer lives in the store layer (the run store's receipt key uses it too). */
export { keyFileMode, writeFileAtomic } from '../store/key-file.ts';
