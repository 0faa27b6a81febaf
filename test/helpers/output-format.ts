/** Shared by the output tests of one API (SPEC 12): read its fixtures, run it, expect its errors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ErrorCode } from '../../src/errors.ts';
import { runOutputFrom, type RequestFormat, type RunOutput } from '../../src/providers/index.ts';

export interface OutputFormatHelpers {
  /** A fixture of this API under test/fixtures/output/<format>/. */
  read(name: string): string;
  /** runOutputFrom of a body given as text. */
  run(text: string): RunOutput;
  /** Expects `text` to be rejected with exactly this code and message. */
  rejects(text: string, code: ErrorCode, message: string): void;
}

export function outputFormat(format: RequestFormat): OutputFormatHelpers {
  const run = (text: string) => runOutputFrom(new TextEncoder().encode(text), format);
  return {
    read: (name) => readFileSync(new URL(`../fixtures/output/${format}/${name}`, import.meta.url), 'utf8'),
    run,
    rejects(text, code, message) {
      assert.throws(() => run(text), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal((error as { code?: string }).code, code);
        assert.equal(error.message, message);
        return true;
      });
    },
  };
}

/** Parsed trees have null-prototype objects; compare them as plain JSON. */
export const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
