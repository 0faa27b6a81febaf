/** runprint/log: the pure transparency log core: C2SP signed notes, checkpoints, tiles, cosignatures and tlog-proof. */
export { addSignatures, formatNote, MAX_NOTE_SIGNATURES, parseNote, signNote, verifiedSignatures, verifyNote } from './note.ts';
export type { Note, NoteSignature, NoteSigner, NoteVerifier } from './note.ts';
export { noteSigner, noteVerifier, noteVerifierKey, parseNoteVerifier } from './note-keys.ts';
export { formatCheckpoint, parseCheckpoint } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
export {
  COSIGNATURE_TYPE,
  cosignatureSigner,
  cosignatureVerifier,
  cosignCheckpoint,
  cosignedMessage,
  cosignerKeyHash,
  formatCosignerKey,
  parseCosignature,
  parseCosignerKey,
  verifyCosignatures,
} from './cosignature.ts';
export type { Cosignature } from './cosignature.ts';
export {
  computeTiles,
  consistencyProofFromTiles,
  entriesPath,
  entryBundlesForSize,
  inclusionProofFromTiles,
  leafHashFromTiles,
  parseTilePath,
  rootFromTiles,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileAt,
  tileHashReader,
  tileNodes,
  tilePath,
  tilesForSize,
} from './tiles.ts';
export type { TileCoordinates, TileReader } from './tiles.ts';
export { formatEntryBundle, MAX_ENTRY_SIZE, parseEntryBundle } from './entry-bundle.ts';
export { formatTlogProof, parseTlogProof, TLOG_PROOF_HEADER, verifyTlogProof } from './tlog-proof.ts';
export type { TlogProof, TlogProofPolicy, VerifiedTlogProof } from './tlog-proof.ts';
export {
  checkLogProgress,
  checkpointText,
  fetchCheckpoint,
  fetchEntryBundle,
  findRunIndexes,
  httpTileReader,
  logPrefix,
  proveInclusion as proveLogInclusion,
  submitReceipt,
  verifyCheckpointNote,
  type LogProgress,
  type SignedCheckpoint,
} from './client.ts';
export {
  decideAddCheckpoint,
  formatAddCheckpoint,
  parseAddCheckpoint,
  parseCosignatureLines,
  SIZE_MEDIA_TYPE,
  witnessedLogs,
  WitnessConflictError,
  type AddCheckpointRequest,
  type WitnessDecision,
  type WitnessedCheckpoint,
  type WitnessedLogs,
} from './witness.ts';
