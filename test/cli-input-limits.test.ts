/**
 * The 256 MiB input limit (SPEC 3.1, MAX_INPUT_BYTES) holds for inputs whose size nobody knows
 * beforehand: standard input, a FIFO, a process substitution, a character device. The read stops as
 * soon as the limit is passed (ERR_JSON_TOO_LARGE, exit 3, naming the input) instead of taking all
 * the machine's memory. Each command runs as a real `runprint` process whose data segment is
 * limited (sh's ulimit -d) to about 2 GB: a read without bound dies of it within seconds rather
 * than filling the machine, so these tests fail fast without the bound.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAX_INPUT_BYTES } from '../src/cli/read-input.ts';

const BIN = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
/** Kilobytes of data segment runprint may use: well above what a bounded read needs (a document at the limit is held about twice while it is parsed), far below what an unbounded read takes in seconds. */
const MEMORY_KB = 2_000_000;

const folder = mkdtempSync(join(tmpdir(), 'runprint-input-limits-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** Runs `script` in bash with $RUNPRINT the memory-limited runprint command; exit code (or signal) and stderr. */
function shell(script: string): Promise<{ code: number | string; stderr: string; stdout: string }> {
  const runprint = `(ulimit -d ${MEMORY_KB} && exec "$NODE" "$BIN" "$@")`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `runprint() ${runprint}\n${script}`], {
      cwd: folder,
      env: { ...process.env, NODE: process.execPath, BIN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk.slice(0, 1000)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

const tooLarge = (what: string) => `runprint: ERR_JSON_TOO_LARGE: input is larger than ${MAX_INPUT_BYTES} bytes: ${what}\n`;

test('an endless standard input (a pipe, or /dev/zero) is refused once 256 MiB have come: exit 3, ERR_JSON_TOO_LARGE', async () => {
  for (const [script, command] of [
    ['yes | runprint canon -', 'canon -'],
    ['yes | runprint id', 'id'],
    ['runprint canon < /dev/zero', 'canon < /dev/zero'],
    ['yes | runprint sign --key - --composition x.json --output y.json', 'sign --key -'],
  ] as const) {
    const result = await shell(script);
    assert.deepEqual({ code: result.code, stderr: result.stderr }, { code: 3, stderr: tooLarge('standard input') }, command);
  }
});

test('a FIFO, a process substitution and a character device given as FILE are refused the same way, naming the file', async () => {
  for (const [script, name] of [
    ['runprint canon /dev/zero', '/dev/zero'],
    ['runprint id /dev/zero --from composition', '/dev/zero'],
    ['mkfifo endless.fifo && { yes > endless.fifo & } && runprint canon endless.fifo; code=$?; rm endless.fifo; exit $code', 'endless.fifo'],
    ['exec 3< <(yes); runprint canon /dev/fd/3', '/dev/fd/3'],
    ['runprint verify /dev/zero --key /dev/zero', '/dev/zero'],
  ] as const) {
    const result = await shell(script);
    assert.deepEqual({ code: result.code, stderr: result.stderr }, { code: 3, stderr: tooLarge(name) }, script);
  }
});

test('the limit is exact: 256 MiB from a pipe or a FIFO is read (and parsed), one byte more is ERR_JSON_TOO_LARGE', async () => {
  // Zero bytes are not JSON: a document read whole fails at its first byte, one refused for its size never gets there.
  const syntax = 'runprint: ERR_JSON_SYNTAX: JSON syntax error: expected a value at byte 0 (line 1, column 1) (at $)\n';
  for (const [bytes, expected] of [
    [MAX_INPUT_BYTES, { code: 3, stderr: syntax }],
    [MAX_INPUT_BYTES + 1, { code: 3, stderr: tooLarge('standard input') }],
  ] as const) {
    const result = await shell(`head -c ${bytes} /dev/zero | runprint canon`);
    assert.deepEqual({ code: result.code, stderr: result.stderr }, expected, `${bytes} bytes on standard input`);
  }
  for (const [bytes, expected] of [
    // A file is named in its JSON error (README: an error about a file names it as given).
    [MAX_INPUT_BYTES, { code: 3, stderr: syntax.replace('ERR_JSON_SYNTAX: ', 'ERR_JSON_SYNTAX: sized.fifo: ') }],
    [MAX_INPUT_BYTES + 1, { code: 3, stderr: tooLarge('sized.fifo') }],
  ] as const) {
    const result = await shell(`mkfifo sized.fifo && { head -c ${bytes} /dev/zero > sized.fifo & } && runprint canon sized.fifo; code=$?; rm sized.fifo; exit $code`);
    assert.deepEqual({ code: result.code, stderr: result.stderr }, expected, `${bytes} bytes from a FIFO`);
  }
});

test('small documents from a pipe, a FIFO and a process substitution are read as before', async () => {
  const result = await shell(
    `printf '{"b":1,"a":2}' | runprint canon - && echo && mkfifo small.fifo && { printf '[1, 2]' > small.fifo & } && runprint canon small.fifo && rm small.fifo && echo && runprint canon <(printf '"x"')`,
  );
  assert.deepEqual(result, { code: 0, stdout: '{"a":2,"b":1}\n[1,2]\n"x"', stderr: '' });
});
