/** docs/SPEC.md section 3.1: how an error names its place in the input text (offset, line, column). */
import { utf8Length } from './utf8.ts';

/** Whether offsets count UTF-8 bytes (input given as bytes) or UTF-16 code units (input given as a string). */
export type OffsetUnit = 'byte' | 'character';

/**
 * Describes a position for an error message: `byte 12 (line 2, column 3)`. The offset is counted
 * from 0 in the input's own unit; line and column are counted from 1, lines end at LF, and the
 * column is in the same unit as the offset.
 */
export function describePosition(text: string, index: number, unit: OffsetUnit): string {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < index; at = text.indexOf('\n', at + 1)) {
    line++;
    lineStart = at + 1;
  }
  if (unit === 'character') return `character ${index} (line ${line}, column ${index - lineStart + 1})`;
  const offset = utf8Length(text, 0, index);
  return `byte ${offset} (line ${line}, column ${offset - utf8Length(text, 0, lineStart) + 1})`;
}

/** Describes a byte offset in raw input that is not decoded (ill-formed UTF-8). */
export function describeByteOffset(bytes: Uint8Array, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < offset; at = bytes.indexOf(0x0a, at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return `byte ${offset} (line ${line}, column ${offset - lineStart + 1})`;
}
