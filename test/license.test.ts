/**
 * The licence a user gets: LICENSE holds the Apache License 2.0 that package.json names, and npm
 * packs it into the tarball (a dry run without prepack, so dist/ is left alone for other tests).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
/** SHA-256 of the words of the Apache License 2.0 terms (sections 1-9), from another package's copy of the text. */
const TERMS_SHA256 = '09ae9bf1886f530f7338889ef805f37b288ec6adedd1e1e32058921acf05a782';

test('LICENSE is the Apache License 2.0 that package.json names, every section of it', () => {
  assert.equal(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).license, 'Apache-2.0');
  assert.match(license, /^\s+Apache License\n\s+Version 2\.0, January 2004\n\s+http:\/\/www\.apache\.org\/licenses\/\n/);
  const sections = [...license.matchAll(/^ {3}(\d)\. ([A-Z][A-Za-z ]+)\./gm)].map((match) => `${match[1]}. ${match[2]}`);
  assert.deepEqual(sections, [
    '1. Definitions',
    '2. Grant of Copyright License',
    '3. Grant of Patent License',
    '4. Redistribution',
    '5. Submission of Contributions',
    '6. Trademarks',
    '7. Disclaimer of Warranty',
    '8. Limitation of Liability',
    '9. Accepting Warranty or Additional Liability',
  ]);
  assert.ok(license.includes('END OF TERMS AND CONDITIONS\n'));
  assert.ok(license.includes('APPENDIX: How to apply the Apache License to your work.'));
  // The terms (everything up to END OF TERMS AND CONDITIONS) word for word as apache.org publishes
  // them, compared by the SHA-256 of their words joined by single spaces, so layout does not count.
  const terms = license.slice(0, license.indexOf('END OF TERMS AND CONDITIONS')).split(/\s+/).filter((word) => word !== '').join(' ');
  assert.equal(createHash('sha256').update(terms).digest('hex'), TERMS_SHA256);
});

test('npm pack puts LICENSE in the tarball', async () => {
  const { stdout } = await promisify(execFile)(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', '--dry-run', '--ignore-scripts', '--json', '--loglevel=error'], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string; size: number }> }>)[0]!.files;
  const packed = files.find((file) => file.path === 'LICENSE');
  assert.ok(packed !== undefined, `LICENSE is not among the packed files: ${files.map((file) => file.path).join(', ')}`);
  assert.equal(packed.size, Buffer.byteLength(license));
});
