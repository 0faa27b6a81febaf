/**
 * The @noble/hashes fallback of src/hash/sha256.ts (docs/decisions/0003): the hash, Merkle,
 * identity, output and log vectors run once more in a Node process where the runtime refuses
 * `node:crypto` to process.getBuiltinModule, as a browser has no such module, so every digest the
 * core computes comes from @noble/hashes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('..', import.meta.url));

// Loaded before any test file: getBuiltinModule answers undefined for node:crypto and counts the
// refusals, which the child reports when it exits.
const PRELOAD = `data:text/javascript,${encodeURIComponent(`
const original = process.getBuiltinModule;
let refused = 0;
process.getBuiltinModule = (id) => {
  if (id === 'node:crypto' || id === 'crypto') { refused++; return undefined; }
  return original.call(process, id);
};
process.on('exit', () => process.stderr.write('node:crypto refused to getBuiltinModule ' + refused + ' times\\n'));
`)}`;

const VECTOR_TESTS = [
  'test/identity-digest.test.ts',
  'test/identity-vectors.test.ts',
  'test/identity-salt-vectors.test.ts',
  'test/rfc6962-merkle.test.ts',
  'test/output-vectors.test.ts',
  'test/log-vectors.test.ts',
];

test('the hash, Merkle, identity, output and log vectors pass on @noble/hashes, with node:crypto out of reach of the core', () => {
  // Without NODE_TEST_CONTEXT the child reports in TAP, as a run of its own, not to this runner.
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawnSync(process.execPath, ['--import', PRELOAD, '--test', '--test-isolation=none', '--test-reporter=tap', ...VECTOR_TESTS], {
    cwd: root,
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  assert.equal(child.status, 0, `vectors failed on the fallback:\n${child.stdout.split('\n').filter((line) => /^\s*not ok|^# (fail|pass)/.test(line)).join('\n')}\n${child.stderr}`);
  assert.match(child.stdout, /^# fail 0$/m);
  const passed = Number(/^# pass (\d+)$/m.exec(child.stdout)?.[1]);
  assert.ok(passed >= VECTOR_TESTS.length, `only ${passed} tests ran`);
  // src/hash/sha256.ts asked for node:crypto once, when it loaded, and was refused.
  assert.match(child.stderr, /node:crypto refused to getBuiltinModule [1-9]\d* times/);
});
