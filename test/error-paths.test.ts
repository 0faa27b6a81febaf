/** Error paths (SPEC 1.3): RFC 9535 normalized paths, with long member names cut so no error echoes one whole. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNormalizedPath, formatPath, RunprintError } from '../src/errors.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { compositionFromRequest } from '../src/providers/index.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { file, cli } = cliFolder('runprint-error-paths-');

/** A member name of 1 MiB: the size an attacker may send to make an error line huge. */
const HUGE = 'a'.repeat(1 << 20);
const CUT = `$['${'a'.repeat(64)}'\u2026]`;

function failure(run: () => unknown): RunprintError {
  try {
    run();
  } catch (error) {
    if (error instanceof RunprintError) return error;
    throw error;
  }
  assert.fail('expected a RunprintError');
}

test('RFC 9535 normalized path escaping: quote, backslash, the five short escapes, \\u00xx in lowercase', () => {
  assert.equal(formatPath([]), '$');
  assert.equal(formatPath(['a', 0, 'b', 12]), "$['a'][0]['b'][12]");
  assert.equal(formatPath(["it's"]), "$['it\\'s']");
  assert.equal(formatPath(['a\\b']), "$['a\\\\b']");
  assert.equal(formatPath(['\b\f\n\r\t']), "$['\\b\\f\\n\\r\\t']");
  assert.equal(formatPath(['\u0000\u001f\u000b']), "$['\\u0000\\u001f\\u000b']");
  // Nothing else is escaped: not ", /, DEL, U+2028 or non-ASCII.
  assert.equal(formatPath(['"/\u007f\u2028é😀']), "$['\"/\u007f\u2028é😀']");
});

test('a name of more than 64 code points is cut to 64 and marked after its closing quote', () => {
  assert.equal(formatPath(['a'.repeat(64)]), `$['${'a'.repeat(64)}']`);
  assert.equal(formatPath(['a'.repeat(65)]), CUT);
  // Code points, not UTF-16 code units: 64 emoji are 128 units and written whole; a pair is never split.
  assert.equal(formatPath(['😀'.repeat(64)]), `$['${'😀'.repeat(64)}']`);
  assert.equal(formatPath(['😀'.repeat(65)]), `$['${'😀'.repeat(64)}'\u2026]`);
  // The cut comes before escaping: 65 quotes give 64 escaped quotes.
  assert.equal(formatPath(["'".repeat(65), 3]), `$['${"\\'".repeat(64)}'\u2026][3]`);
  // A report (the diff) keeps the exact normalized path.
  assert.equal(formatNormalizedPath(['a'.repeat(65)]), `$['${'a'.repeat(65)}']`);
});

test('a 1 MiB member name is not echoed: duplicate key, unknown composition member, served fact', () => {
  const duplicate = failure(() => parseJson(`{"${HUGE}":1,"${HUGE}":2}`));
  assert.equal(duplicate.code, 'ERR_JSON_DUPLICATE_KEY');
  assert.equal(duplicate.path, CUT);
  const composition = { version: 'runprint/v1', model: { name: 'm' }, system: [], input: [], context: [], tools: [], parameters: {}, configuration: {} };
  const unknown = failure(() => computeIdentity({ ...composition, [HUGE]: 1 }));
  assert.equal(unknown.code, 'ERR_COMPOSITION_INVALID');
  assert.equal(unknown.path, CUT);
  assert.ok(unknown.message.length < 200, unknown.message);
  const fact = failure(() => computeIdentity({ ...composition, served: { [HUGE]: { source: 'x', value: 1 } } }));
  assert.equal(fact.path, `$['served']['${'a'.repeat(64)}'\u2026]['source']`);
  const deep = failure(() => computeIdentity(compositionFromRequest('openai-chat', { model: 'm', [HUGE]: { n: 2 ** 53 } })));
  assert.equal(deep.code, 'ERR_JSON_UNSAFE_INTEGER');
  assert.equal(deep.path, `$['configuration']['${'a'.repeat(64)}'\u2026]['n']`);
});

test('CLI: an error about a 1 MiB member name is one short line', async () => {
  const result = await cli(['id', file('huge.json', `{"${HUGE}":1,"${HUGE}":2}`)]);
  assert.equal(result.code, 3);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^runprint: ERR_JSON_DUPLICATE_KEY: .*\(at \$\['a{64}'\u2026\]\)\n$/);
  assert.ok(result.stderr.length < 300, `${result.stderr.length} characters`);
  const member = await cli(['id', '--from', 'composition', file('member.json', JSON.stringify({ version: 'runprint/v1', [HUGE]: 1 }))]);
  assert.match(member.stderr, /^runprint: ERR_COMPOSITION_INVALID: unknown composition member "a{64}\u2026" \(at \$\['a{64}'\u2026\]\)\n$/);
});
