/**
 * Two `runprint serve` processes: one a witness (--witness-key, --witness-log), the other a log asking
 * it (--log-witness URL=VKEY); a witness that missed a checkpoint is asked again, also by serves
 * sharing one PostgreSQL log (RUNPRINT_TEST_PG, a fresh schema).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { run } from '../src/cli/main.ts';
import { formatCosignerKey, parseCosignerKey, verifyCosignatures } from '../src/log/cosignature.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import { parseNote, verifyNote } from '../src/log/note.ts';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import { closedPort } from './helpers/closed-port.ts';

const main = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
const folders: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'runprint-witness-serve-'));
  folders.push(path);
  return path;
}

/** Starts `runprint serve` (on `port`, any free one by default) and waits for the line that starts with `ready`; returns its URL and stderr lines. */
async function serve(args: string[], ready: string, env: Record<string, string> = {}, port = 0) {
  const child = spawn(process.execPath, [main, 'serve', '--port', String(port), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.split('\n').some((line) => line.startsWith(ready))) resolve();
    });
    child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const listening = /listening on http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stderr)![1]!;
  return {
    base: `http://127.0.0.1:${listening}`,
    line: (prefix: string) => stderr.split('\n').find((line) => line.startsWith(prefix))?.slice(prefix.length),
    stderr: () => stderr,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The log's /checkpoint once it is of `size` entries or more and carries `signatures` signatures
 * (the log's and a cosignature, by default), or the last one served after `waitMs` (15 s by
 * default; it returns as soon as the checkpoint is cosigned). A witness that misses a checkpoint
 * (a witness answer later than the 400 ms timeout on a loaded machine, a witness restarting) is
 * asked again after 1 s, 2 s, 4 s, .. (docs/LOG.md 19.7), so the cosignature may come seconds
 * after the checkpoint.
 */
async function cosignedCheckpoint(base: string, size: number, options: { signatures?: number; waitMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + (options.waitMs ?? 15_000);
  for (;;) {
    const note = await (await fetch(`${base}/checkpoint`)).text();
    const parsed = parseNote(note);
    if ((parseCheckpoint(parsed.text).size >= size && parsed.signatures.length >= (options.signatures ?? 2)) || Date.now() > deadline) return note;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const LOG_NAME = 'example.test/served-log';
const WITNESS_NAME = 'example.test/served-witness';
const receipt = JSON.stringify({ payload: 'AAAA', payloadType: 't', signatures: [{ sig: 'AAAA' }] });

test('a log served with --log-witness gets its checkpoints cosigned by a witness served with --witness-key; the witness keeps its state across a restart', async () => {
  const dir = await folder();
  const logKeyFile = join(dir, 'log.pem');
  const logFiles = await generateKeyFiles(LOG_NAME);
  await writeFile(logKeyFile, logFiles.privateKeyPem, { mode: 0o600 });
  const logVkey = noteVerifierKey(LOG_NAME, (await parsePrivateKey(logFiles.privateKeyPem)).publicKey);
  const witnessKeyFile = join(dir, 'witness.pem');
  const witnessFiles = await generateKeyFiles(WITNESS_NAME);
  await writeFile(witnessKeyFile, witnessFiles.privateKeyPem, { mode: 0o600 });
  const expectedWitnessVkey = formatCosignerKey(WITNESS_NAME, (await parsePrivateKey(witnessFiles.privateKeyPem)).publicKey);
  // The witness reads the log's key from a file of keys, one per line, with a comment and another log.
  const otherLog = noteVerifierKey('example.test/other', (await parsePrivateKey((await generateKeyFiles('x')).privateKeyPem)).publicKey);
  const logsFile = join(dir, 'witnessed-logs.vkeys');
  await writeFile(logsFile, `# logs this witness cosigns\n${otherLog}\n\n${logVkey}\n`);

  const witnessData = join(dir, 'witness-data');
  const witnessArgs = ['--data', witnessData, '--no-log', '--witness-key', witnessKeyFile, '--witness-log', logsFile];
  const witness = await serve(witnessArgs, 'runprint: witness ', { RUNPRINT_WITNESS_NAME: WITNESS_NAME });
  const witnessVkey = witness.line('runprint: witness ')!;
  assert.equal(witnessVkey, expectedWitnessVkey);
  assert.equal(witness.line('runprint: log '), undefined);
  // The witness key is read from the command line as a file of its vkey, too.
  const witnessVkeyFile = join(dir, 'witness.vkey');
  await writeFile(witnessVkeyFile, `${witnessVkey}\n`);

  const logArgs = ['--data', join(dir, 'log-data'), '--log-name', LOG_NAME, '--log-key', logKeyFile, '--log-anonymous-writes'];
  const log = await serve([...logArgs, '--log-witness', `${witness.base}=${witnessVkey}`], 'runprint: log ');
  try {
    assert.equal(log.line('runprint: log '), logVkey);
    const posted = await fetch(`${log.base}/v1/log/entries?wait=checkpoint`, { method: 'POST', body: receipt, headers: { 'content-type': 'application/json' } });
    assert.equal(posted.status, 201);
    const answer = (await posted.json()) as { index: number; checkpoint: string };
    assert.equal(answer.index, 0);
    const served = await cosignedCheckpoint(log.base, 1);
    assert.equal(parseCheckpoint(parseNote(served).text).size, 1);
    await verifyNote(served, [await parseNoteVerifier(logVkey)]);
    const cosignatures = await verifyCosignatures(served, [await parseCosignerKey(witnessVkey)]);
    assert.equal(cosignatures.length, 1);
    assert.equal(cosignatures[0]!.name, WITNESS_NAME);
    // No error but, on a loaded machine, a witness answer later than the 400 ms timeout (the
    // checkpoint is then asked again, as cosignedCheckpoint waited for).
    const errors = log.stderr().split('\n').filter((line) => line.includes('ERR_') && !line.endsWith(': ERR_WITNESS_UNREACHABLE: witness did not answer within 400 ms'));
    assert.deepEqual(errors, [], log.stderr());
  } finally {
    assert.equal(await log.stop(), 0);
    assert.equal(await witness.stop(), 0);
  }

  // The witness's state is in its data directory's log database.
  const storage = SqliteLog.open(join(witnessData, 'log.sqlite'));
  assert.equal((await storage.witnessed(LOG_NAME))?.size, 1);
  await storage.close();

  // Restarted, the witness knows size 1; the restarted log (knowing nothing) learns it from 409 and extends it.
  const witness2 = await serve(witnessArgs, 'runprint: witness ', { RUNPRINT_WITNESS_NAME: WITNESS_NAME });
  const log2 = await serve([...logArgs, '--log-witness', `${witness2.base}/=${witnessVkeyFile}`], 'runprint: log ');
  try {
    const posted = await fetch(`${log2.base}/v1/log/entries?wait=checkpoint`, { method: 'POST', body: receipt.replace('AAAA', 'AAAB'), headers: { 'content-type': 'application/json' } });
    assert.equal(((await posted.json()) as { index: number }).index, 1);
    const served = await cosignedCheckpoint(log2.base, 2);
    assert.equal(parseCheckpoint(parseNote(served).text).size, 2);
    assert.equal((await verifyCosignatures(served, [await parseCosignerKey(witnessVkey)])).length, 1);
  } finally {
    assert.equal(await log2.stop(), 0);
    assert.equal(await witness2.stop(), 0);
  }
});

/** A log's key file and verifier key, and a witness's key file and cosigner key, in `dir`. */
async function keyFiles(dir: string, witnessNames: string[] = [WITNESS_NAME]) {
  const logKeyFile = join(dir, 'log.pem');
  const logFiles = await generateKeyFiles(LOG_NAME);
  await writeFile(logKeyFile, logFiles.privateKeyPem, { mode: 0o600 });
  const logVkey = noteVerifierKey(LOG_NAME, (await parsePrivateKey(logFiles.privateKeyPem)).publicKey);
  const logsFile = join(dir, 'witnessed-logs.vkeys');
  await writeFile(logsFile, `${logVkey}\n`);
  const witnesses = [];
  for (const [i, name] of witnessNames.entries()) {
    const keyFile = join(dir, `witness-${i}.pem`);
    const files = await generateKeyFiles(name);
    await writeFile(keyFile, files.privateKeyPem, { mode: 0o600 });
    const vkey = formatCosignerKey(name, (await parsePrivateKey(files.privateKeyPem)).publicKey);
    const port = await closedPort();
    const args = ['--data', join(dir, `witness-${i}-data`), '--no-log', '--witness-key', keyFile, '--witness-log', logsFile];
    witnesses.push({ name, vkey, port, url: `http://127.0.0.1:${port}`, start: () => serve(args, 'runprint: witness ', { RUNPRINT_WITNESS_NAME: name }, port) });
  }
  return { logKeyFile, logVkey, witnesses };
}

/** The lines a serve wrote on stderr about the witness at `url`. */
function witnessLines(stderr: string, url: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith(`runprint: witness ${url}:`));
}

test('a witness down when the checkpoint is made is asked again: once it is up, the served checkpoint (the same one, no entry appended) gains its cosignature; the outage and the recovery are each said once', async () => {
  const dir = await folder();
  const { logKeyFile, logVkey, witnesses } = await keyFiles(dir);
  const witness = witnesses[0]!;
  const logData = join(dir, 'log-data');
  const log = await serve(['--data', logData, '--log-name', LOG_NAME, '--log-key', logKeyFile, '--log-anonymous-writes', '--log-witness', `${witness.url}=${witness.vkey}`], 'runprint: log ');
  let up: Awaited<ReturnType<typeof witness.start>> | undefined;
  let served: string;
  try {
    const posted = await fetch(`${log.base}/v1/log/entries?wait=checkpoint`, { method: 'POST', body: receipt, headers: { 'content-type': 'application/json' } });
    assert.equal(posted.status, 201);
    const made = ((await posted.json()) as { checkpoint: string }).checkpoint;
    assert.equal(parseCheckpoint(parseNote(made).text).size, 1);
    assert.equal(parseNote(made).signatures.length, 1, 'made while the witness is down: the log signature alone');
    assert.equal(await (await fetch(`${log.base}/checkpoint`)).text(), made);

    up = await witness.start();
    const started = performance.now();
    served = await cosignedCheckpoint(log.base, 1, { waitMs: 35_000 });
    console.log(`the checkpoint was cosigned ${(performance.now() - started).toFixed(0)} ms after the witness was up`);
    // The same checkpoint: its text and the log's signature as made, the witness's cosignature added.
    assert.equal(parseNote(served).text, parseNote(made).text);
    assert.deepEqual(parseNote(served).signatures[0], parseNote(made).signatures[0]);
    assert.equal(parseNote(served).signatures.length, 2);
    await verifyNote(served, [await parseNoteVerifier(logVkey)]);
    assert.equal((await verifyCosignatures(served, [await parseCosignerKey(witness.vkey)])).length, 1);
    assert.deepEqual(witnessLines(log.stderr(), witness.url), [
      `runprint: witness ${witness.url}: ERR_WITNESS_UNREACHABLE: witness cannot be reached`,
      `runprint: witness ${witness.url}: cosigned again (checkpoint of size 1)`,
    ]);
  } finally {
    assert.equal(await log.stop(), 0);
    if (up !== undefined) assert.equal(await up.stop(), 0);
  }
  // Stored: the checkpoints of 0 and 1 entries, the latest with the cosignature.
  const storage = SqliteLog.open(join(logData, 'log.sqlite'));
  try {
    assert.deepEqual(await storage.latestCheckpoint(), { size: 1, note: served });
  } finally {
    await storage.close();
  }
});

test('two serves sharing one PostgreSQL log, both asking again for the checkpoint two witnesses missed: it gains each cosignature once, and both serve it', async () => {
  const base = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const schema = `runprint_witness_again_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  const servers: Array<{ stop: () => Promise<number | null> }> = [];
  try {
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const dir = await folder();
    const { logKeyFile, logVkey, witnesses } = await keyFiles(dir, ['example.test/witness-1', 'example.test/witness-2']);
    const args = (name: string) => ['--data', join(dir, name), '--log-db', url.toString(), '--log-name', LOG_NAME, '--log-key', logKeyFile, '--log-anonymous-writes', ...witnesses.flatMap((witness) => ['--log-witness', `${witness.url}=${witness.vkey}`])];
    const one = await serve(args('one'), 'runprint: log ');
    servers.push(one);
    const posted = await fetch(`${one.base}/v1/log/entries?wait=checkpoint`, { method: 'POST', body: receipt, headers: { 'content-type': 'application/json' } });
    const made = ((await posted.json()) as { checkpoint: string }).checkpoint;
    assert.equal(parseNote(made).signatures.length, 1);
    // The second serve finds the stored checkpoint lacking both cosignatures at its start, and asks again too.
    const two = await serve(args('two'), 'runprint: log ');
    servers.push(two);
    for (const witness of witnesses) servers.push(await witness.start());

    const verifiers = await Promise.all(witnesses.map((witness) => parseCosignerKey(witness.vkey)));
    for (const log of [one, two]) {
      const served = await cosignedCheckpoint(log.base, 1, { signatures: 3, waitMs: 35_000 });
      assert.equal(parseNote(served).text, parseNote(made).text);
      assert.deepEqual(parseNote(served).signatures[0], parseNote(made).signatures[0]);
      // Each witness's cosignature once: the log's signature and two lines.
      assert.equal(parseNote(served).signatures.length, 3, served);
      await verifyNote(served, [await parseNoteVerifier(logVkey)]);
      assert.deepEqual((await verifyCosignatures(served, verifiers)).map((cosignature) => cosignature.name).sort(), witnesses.map((witness) => witness.name));
    }
    const stored = (await admin.query(`SELECT size, note FROM ${schema}.checkpoints ORDER BY size`)).rows as Array<{ size: string; note: string }>;
    assert.deepEqual(stored.map((row) => Number(row.size)), [0, 1]);
    assert.equal(stored[1]!.note, await (await fetch(`${one.base}/checkpoint`)).text());
    assert.equal(stored[1]!.note, await (await fetch(`${two.base}/checkpoint`)).text());
    // Each serve said each witness's outage at most once, and its recovery at most once (a serve
    // that found the cosignatures added by the other asked no more: it says so at its next one).
    for (const log of [one, two]) {
      for (const witness of witnesses) {
        const lines = witnessLines(log.stderr(), witness.url);
        const failures = lines.filter((line) => line.includes(': ERR_'));
        const recoveries = lines.filter((line) => line.endsWith(': cosigned again (checkpoint of size 1)'));
        assert.ok(failures.length <= 1 && recoveries.length <= failures.length && failures.length + recoveries.length === lines.length, log.stderr());
      }
    }
    // The first serve asked while both were down (at its start, and for the checkpoint made).
    for (const witness of witnesses) assert.equal(witnessLines(one.stderr(), witness.url).filter((line) => line.includes(': ERR_')).length, 1, one.stderr());
  } finally {
    for (const server of servers.reverse()) assert.equal(await server.stop(), 0);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});

test('a log whose witness is down still serves, and says so once on stderr', async () => {
  const dir = await folder();
  const witnessVkey = formatCosignerKey(WITNESS_NAME, (await parsePrivateKey((await generateKeyFiles('w')).privateKeyPem)).publicKey);
  const dead = `http://127.0.0.1:${await closedPort()}`;
  const log = await serve(['--data', dir, '--log-anonymous-writes', '--log-witness', `${dead}=${witnessVkey}`], 'runprint: log ', {
    RUNPRINT_LOG_WITNESS_TIMEOUT: '200',
  });
  try {
    const started = performance.now();
    const posted = await fetch(`${log.base}/v1/log/entries?wait=checkpoint`, { method: 'POST', body: receipt, headers: { 'content-type': 'application/json' } });
    assert.equal(posted.status, 201);
    assert.ok('checkpoint' in ((await posted.json()) as object));
    // The answer does not wait for the dead witness beyond its 200 ms, nor for the asks again
    // (after 1 s, 2 s, 4 s, ..): about 0.7 s here (500 ms checkpoint delay and the 200 ms). The
    // bound is 5 s, not 1.5 s, since a loaded machine (load average 20) took longer than 1.5 s;
    // an answer that waited for the asks again of the dead witness (1 + 2 + 4 s) still exceeds it.
    const took = performance.now() - started;
    assert.ok(took < 5000, `answered after ${took.toFixed(0)} ms`);
    assert.equal(parseNote(await (await fetch(`${log.base}/checkpoint`)).text()).signatures.length, 1);
    // Asked again after 1 s and 3 s: still one report for the outage.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const reports = log.stderr().split('\n').filter((line) => line.startsWith(`runprint: witness ${dead}`));
    assert.deepEqual(reports, [`runprint: witness ${dead}: ERR_WITNESS_UNREACHABLE: witness cannot be reached`]);
  } finally {
    assert.equal(await log.stop(), 0);
  }
});

async function runServe(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await run(['serve', '--port', '0', '--data', await folder(), ...args], {
    readStdin: async () => new Uint8Array(),
    stdout: () => undefined,
    stderr: (text) => void (stderr += text),
    stderrIsTTY: false,
    cwd: process.cwd(),
  });
  return { code, stderr };
}

test('serve refuses incomplete or malformed witness options before it listens', async () => {
  const dir = await folder();
  const keyFile = join(dir, 'w.pem');
  await writeFile(keyFile, (await generateKeyFiles('w')).privateKeyPem);
  const logVkey = noteVerifierKey(LOG_NAME, (await parsePrivateKey((await generateKeyFiles('l')).privateKeyPem)).publicKey);
  const witnessVkey = formatCosignerKey(WITNESS_NAME, (await parsePrivateKey((await generateKeyFiles('w')).privateKeyPem)).publicKey);
  const usage = 'runprint: ERR_CLI_USAGE: a witness needs --witness-key KEY.pem, --witness-name NAME and at least one --witness-log VKEY\n';
  assert.deepEqual(await runServe(['--witness-key', keyFile, '--witness-log', logVkey]), { code: 2, stderr: usage });
  assert.deepEqual(await runServe(['--witness-name', WITNESS_NAME, '--witness-log', logVkey]), { code: 2, stderr: usage });
  assert.deepEqual(await runServe(['--witness-key', keyFile, '--witness-name', WITNESS_NAME]), { code: 2, stderr: usage });
  const badName = await runServe(['--witness-key', keyFile, '--witness-name', 'has space', '--witness-log', logVkey]);
  assert.equal(badName.code, 3);
  assert.match(badName.stderr, /^runprint: ERR_KEY_INVALID: /);
  const missing = await runServe(['--witness-key', join(dir, 'nope.pem'), '--witness-name', WITNESS_NAME, '--witness-log', logVkey]);
  assert.deepEqual(missing, { code: 4, stderr: `runprint: ERR_INPUT_NOT_FOUND: no such file: ${join(dir, 'nope.pem')} (the witness key file)\n` });
  const noLogs = join(dir, 'empty.vkeys');
  await writeFile(noLogs, '# nothing\n\n');
  assert.deepEqual(await runServe(['--witness-key', keyFile, '--witness-name', WITNESS_NAME, '--witness-log', noLogs]), {
    code: 2,
    stderr: 'runprint: ERR_CLI_USAGE: --witness-log file holds no verifier key\n',
  });
  // A cosigner key where a log key belongs, and the other way round.
  const swapped = await runServe(['--witness-key', keyFile, '--witness-name', WITNESS_NAME, '--witness-log', witnessVkey]);
  assert.equal(swapped.code, 3);
  assert.match(swapped.stderr, /^runprint: ERR_KEY_/);
  const logKeyAsWitness = await runServe(['--log-witness', `http://127.0.0.1:1=${logVkey}`]);
  assert.equal(logKeyAsWitness.code, 3);
  assert.match(logKeyAsWitness.stderr, /^runprint: ERR_KEY_UNSUPPORTED: /);
  const syntax = '--log-witness must be URL=VKEY: an http(s) URL, "=", and the witness key or a file holding it\n';
  for (const value of [witnessVkey, `=${witnessVkey}`, 'http://127.0.0.1:1=', `ftp://host=${witnessVkey}`, `not a url=${witnessVkey}`]) {
    assert.deepEqual(await runServe(['--log-witness', value]), { code: 2, stderr: `runprint: ERR_CLI_USAGE: ${syntax}` }, value);
  }
  const credentials = await runServe(['--log-witness', `http://admin:s3cret@127.0.0.1:1/=${witnessVkey}`]);
  assert.deepEqual(credentials, { code: 2, stderr: 'runprint: ERR_CLI_USAGE: --log-witness URL must not carry a user name or password\n' });
  assert.doesNotMatch(credentials.stderr, /s3cret/);
  assert.deepEqual(await runServe(['--no-log', '--log-witness', `http://127.0.0.1:1=${witnessVkey}`]), {
    code: 2,
    stderr: 'runprint: ERR_CLI_USAGE: --log-witness needs the log; it cannot go with --no-log\n',
  });
  for (const timeout of ['0', '-1', 'soon', '20000']) {
    const result = await runServe([`--log-witness-timeout=${timeout}`]);
    assert.deepEqual(result, { code: 2, stderr: 'runprint: ERR_CLI_USAGE: --log-witness-timeout must be a number of milliseconds from 1 to 10000\n' }, timeout);
  }
});
