/**
 * `runprint runs verify` against runs a real `runprint serve` captured from the fake upstream,
 * signed and logged: every check passes on an untouched store; each kind of tampering with the
 * stored content, response bytes, receipt or log fails its own check (exit 1, named); content kept
 * as a digest only, a missing key and a missing log are "not checked", never a pass.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { formatCheckpoint } from '../src/log/checkpoint.ts';
import { formatCosignerKey } from '../src/log/cosignature.ts';
import { noteSigner } from '../src/log/note-keys.ts';
import { signNote } from '../src/log/note.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';
import { captureChat, untilLogged } from './helpers/proxy-calls.ts';

const OPENAI_KEY = 'sk-test-runs-verify-0123456789';

let upstream: FakeUpstream;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-runs-verify-'));
  scratch.push(dir);
  return dir;
}

const cli = (argv: string[]) => runCliInProcess(argv);

interface Check {
  name: string;
  status: 'pass' | 'fail' | 'not-checked';
  reliesOn: string;
  code?: string;
  message?: string;
  steps?: Array<{ name: string; ok: boolean; code?: string }>;
  log?: { index: number; treeSize: number; origin: string; cosignedBy: string[] };
}
interface Verification {
  run: { captureId: string; recordDigest: string; runId: string | null };
  ok: boolean;
  counts: { pass: number; fail: number; 'not-checked': number };
  checks: Check[];
}

async function verify(captureId: string, data: string, extra: string[] = []): Promise<{ code: number; result: Verification; stderr: string }> {
  const out = await cli(['runs', 'verify', captureId, '--data', data, '--json', ...extra]);
  return { code: out.code, result: JSON.parse(out.stdout) as Verification, stderr: out.stderr };
}

const check = (result: Verification, name: string) => result.checks.find((entry) => entry.name === name)!;
const statuses = (result: Verification) => Object.fromEntries(result.checks.map((entry) => [entry.name, entry.status]));


/** A copy of a stopped serve's data directory, to tamper with. */
function copyOf(data: string): string {
  const copy = tempDir();
  cpSync(data, copy, { recursive: true });
  return copy;
}

let data: string;
let digestOnly: string;
const ids: string[] = [];
let digestOnlyId: string;
let logVkey: string;
let monitorState: string;
let unidentifiedId: string;

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  ids.push(await captureChat(serve.base, OPENAI_KEY, 'Name a colour.'));
  await untilLogged(serve.base, ids[0]!);
  logVkey = serve.key;
  // A monitor follows the log while it has one entry.
  monitorState = join(tempDir(), 'monitor.json');
  const monitor = await cli(['log', 'monitor', `${serve.base}/`, '--key', logVkey, '--once', '--state', monitorState]);
  assert.equal(monitor.code, 0, monitor.stderr);
  ids.push(await captureChat(serve.base, OPENAI_KEY, 'Name a river.'));
  await untilLogged(serve.base, ids[1]!);
  // A seed beyond 2^53 - 1: forwarded and recorded, with no identity and so no receipt.
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` },
    body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"seed":18446744073709551615}',
  });
  await response.arrayBuffer();
  unidentifiedId = response.headers.get('runprint-capture-id')!;
  await serve.stop();
  digestOnly = tempDir();
  const second = await startServe({ data: digestOnly, args: ['--upstream', `openai=${upstream.url}`, '--capture-keep', 'digest'] });
  digestOnlyId = await captureChat(second.base, OPENAI_KEY, 'Name a bird.');
  await untilLogged(second.base, digestOnlyId);
  await second.stop();
});
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('runs verify', () => {
  test('an untouched run passes every check, each saying what it relies on', async () => {
    const { code, result } = await verify(ids[1]!, data);
    assert.equal(code, 0);
    assert.equal(result.ok, true);
    assert.deepEqual(statuses(result), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
    assert.deepEqual(result.counts, { pass: 5, fail: 0, 'not-checked': 1 });
    assert.match(check(result, 'monitor').message!, /no monitor state given/);
    assert.match(check(result, 'receipt').reliesOn, /derived from receipt-key\.pem in the data directory/);
    assert.match(check(result, 'receipt').reliesOn, /recomputed composition and the stored response bytes/);
    const steps = check(result, 'receipt').steps!.map((step) => step.name);
    for (const name of ['signature', 'identity', 'composition', 'output']) assert.ok(steps.includes(name), name);
    assert.deepEqual(check(result, 'log').log, { index: 1, treeSize: 2, origin: 'localhost/runprint', cosignedBy: [] });
    assert.match(check(result, 'log').reliesOn, /no witness policy/);
    assert.match(check(result, 'log').reliesOn, /stored log index 1/);
    // The text form names each check.
    const text = await cli(['runs', 'verify', ids[1]!, '--data', data]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^ok /);
    assert.match(text.stdout, /5 passed, 0 failed, 1 not checked/);
    assert.match(text.stdout, /^pass {8}record\n/m, 'a check with nothing more to say has no blanks after its name');
    assert.doesNotMatch(text.stdout, / \n/, 'no line ends in a blank');
  });

  test('a receipt key given with --key: the right one passes, another fails the signature', async () => {
    const dir = tempDir();
    // The serve's own key, as its public half in a file of its own.
    writeFileSync(join(dir, 'receipt.pub.pem'), createPublicKey(readFileSync(join(data, 'receipt-key.pem'))).export({ type: 'spki', format: 'pem' }));
    const right = await verify(ids[0]!, data, ['--key', join(dir, 'receipt.pub.pem'), '--log-key', logVkey]);
    assert.equal(right.code, 0);
    assert.deepEqual(statuses(right.result), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
    assert.match(check(right.result, 'receipt').reliesOn, /given with --key/);
    assert.match(check(right.result, 'log').reliesOn, /given with --log-key/);
    const wrong = await generateKeyFiles('other');
    writeFileSync(join(dir, 'other.pub.pem'), wrong.publicKeyPem);
    const { code, result } = await verify(ids[0]!, data, ['--key', join(dir, 'other.pub.pem')]);
    assert.equal(code, 1);
    assert.equal(result.ok, false);
    assert.equal(check(result, 'receipt').status, 'fail');
    assert.match(check(result, 'receipt').code!, /^ERR_SIGNATURE_/);
    assert.match(check(result, 'receipt').reliesOn, /given with --key/);
    // The other checks still ran and passed.
    assert.equal(check(result, 'identity').status, 'pass');
    assert.equal(check(result, 'output').status, 'pass');
    // The text form names the failed check.
    const text = await cli(['runs', 'verify', ids[0]!, '--data', data, '--key', join(dir, 'other.pub.pem')]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^FAILED /);
    assert.match(text.stdout, /FAIL\s+receipt\s+ERR_SIGNATURE_/);
  });

  test('altered stored content fails the identity check; altered response bytes fail the output check', async () => {
    const copy = copyOf(data);
    const shown = JSON.parse((await cli(['runs', 'show', ids[0]!, '--data', copy, '--json'])).stdout) as { runs: Array<{ record: { response: { rawDigest: { sha256: string } } }; identity: { components: { input: { elements: Array<{ sha256: string }> } } } }> };
    const run = shown.runs[0]!;
    const db = new DatabaseSync(join(copy, 'runs.sqlite'));
    db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode('{"content":"Name a colour!","role":"user"}'), run.identity.components.input.elements[0]!.sha256);
    db.close();
    let out = await verify(ids[0]!, copy);
    assert.equal(out.code, 1);
    assert.equal(check(out.result, 'identity').status, 'fail');
    assert.equal(check(out.result, 'identity').code, 'ERR_REPLAY_CONTENT_MISMATCH');
    assert.equal(check(out.result, 'output').status, 'pass');
    // The receipt is then checked without the composition, and still verifies.
    assert.equal(check(out.result, 'receipt').status, 'pass');
    assert.doesNotMatch(check(out.result, 'receipt').reliesOn, /recomputed composition/);

    const db2 = new DatabaseSync(join(copy, 'runs.sqlite'));
    const bytes = (db2.prepare('SELECT bytes FROM content WHERE digest = ?').get(run.record.response.rawDigest.sha256) as { bytes: Uint8Array }).bytes;
    const altered = new TextDecoder().decode(bytes).replace('Hello', 'Jello');
    assert.notEqual(altered, new TextDecoder().decode(bytes));
    db2.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode(altered), run.record.response.rawDigest.sha256);
    db2.close();
    out = await verify(ids[0]!, copy);
    assert.equal(check(out.result, 'output').status, 'fail');
    assert.equal(check(out.result, 'output').code, 'ERR_REPLAY_CONTENT_MISMATCH');
  });

  test('an altered receipt fails the receipt check, and is then not the log entry either', async () => {
    const copy = copyOf(data);
    const db = new DatabaseSync(join(copy, 'runs.sqlite'));
    const row = db.prepare('SELECT receipt FROM runs WHERE capture_id = ?').get(ids[0]!) as { receipt: string };
    const envelope = JSON.parse(row.receipt) as { signatures: Array<{ sig: string }> };
    const sig = envelope.signatures[0]!.sig;
    envelope.signatures[0]!.sig = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    db.prepare('UPDATE runs SET receipt = ? WHERE capture_id = ?').run(JSON.stringify(envelope), ids[0]!);
    db.close();
    const { code, result } = await verify(ids[0]!, copy);
    assert.equal(code, 1);
    assert.equal(check(result, 'receipt').status, 'fail');
    assert.equal(check(result, 'receipt').code, 'ERR_SIGNATURE_INVALID');
    assert.equal(check(result, 'log').status, 'fail');
    assert.equal(check(result, 'log').code, 'ERR_LOG_PROOF_INVALID');
  });

  test('a log checked with another log key fails at the checkpoint signature', async () => {
    const other = await generateKeyFiles('localhost/runprint');
    const { code, result } = await verify(ids[0]!, data, ['--log-key', other.verifierKey]);
    assert.equal(code, 1);
    assert.equal(check(result, 'log').status, 'fail');
    assert.ok(check(result, 'log').steps!.some((step) => step.name === 'log-checkpoint' && !step.ok));
    assert.match(check(result, 'log').reliesOn, /given with --log-key/);
    // The message names the option the key came with, and what to give there.
    const signer = logVkey.split('+').slice(0, 2).join('+');
    const given = other.verifierKey.split('+').slice(0, 2).join('+');
    assert.equal(
      check(result, 'log').message,
      `log-checkpoint: the tlog-proof's checkpoint (log "localhost/runprint") is signed by ${signer}; the log key given with --log-key is ${given} (another key with the same name): ` +
        "give the log's own verifier key as --log-key (the line its GET /v1/log/key serves, checked out of band)",
    );
  });

  test('a log-key.pem in the data directory that did not sign the log: the message says the key was derived from it, and to give --log-key', async () => {
    const copy = copyOf(data);
    const other = await generateKeyFiles('localhost/runprint');
    writeFileSync(join(copy, 'log-key.pem'), other.privateKeyPem, { mode: 0o600 });
    const { code, result } = await verify(ids[0]!, copy);
    assert.equal(code, 1);
    assert.equal(check(result, 'log').status, 'fail');
    assert.equal(check(result, 'log').code, 'ERR_LOG_NOTE_SIGNATURE');
    const signer = logVkey.split('+').slice(0, 2).join('+');
    const given = other.verifierKey.split('+').slice(0, 2).join('+');
    assert.equal(
      check(result, 'log').message,
      `log-checkpoint: the tlog-proof's checkpoint (log "localhost/runprint") is signed by ${signer}; the log key derived from log-key.pem in the data directory is ${given} (another key with the same name): ` +
        "give the log's own verifier key as --log-key (the line its GET /v1/log/key serves, checked out of band)",
    );
  });

  test('content kept as a digest only is "not checked: content not stored", never a pass; receipt and log still pass', async () => {
    const { code, result } = await verify(digestOnlyId, digestOnly);
    assert.equal(code, 0, 'nothing failed');
    assert.deepEqual(statuses(result), { record: 'pass', identity: 'not-checked', output: 'not-checked', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
    assert.match(check(result, 'identity').message!, /^content not stored: not checkable/);
    assert.match(check(result, 'output').message!, /^content not stored: not checkable/);
    assert.deepEqual(result.counts, { pass: 3, fail: 0, 'not-checked': 3 });
  });

  test('an unidentified run: its identity and receipt are not checked, with the reason; its stored response bytes are', async () => {
    const { code, result } = await verify(unidentifiedId, data);
    assert.equal(code, 0);
    assert.deepEqual(statuses(result), { record: 'pass', identity: 'not-checked', output: 'pass', receipt: 'not-checked', log: 'not-checked', monitor: 'not-checked' });
    assert.equal(check(result, 'identity').code, 'ERR_REPLAY_UNIDENTIFIED');
    assert.equal(check(result, 'receipt').code, 'ERR_RUN_NO_RECEIPT');
    assert.match(check(result, 'receipt').message!, /gets no receipt/);
    assert.match(check(result, 'output').message!, /raw digest and output digest recomputed/);
  });

  test('a replay the CLI stored is not signed yet, and says who signs it: a running serve, after its next capture', async () => {
    const copy = copyOf(data);
    const serve = await startServe({ data: copy, args: ['--upstream', `openai=${upstream.url}`] });
    try {
      const replay = await cli(['replay', ids[0]!, '--data', copy, '--upstream', `openai=${upstream.url}`, '--json']);
      assert.equal(replay.code, 0, replay.stderr);
      const replayId = (JSON.parse(replay.stdout) as { replay: { captureId: string } }).replay.captureId;
      const unsigned = await verify(replayId, copy);
      assert.equal(unsigned.code, 0);
      assert.deepEqual(statuses(unsigned.result), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'not-checked', log: 'not-checked', monitor: 'not-checked' });
      assert.equal(check(unsigned.result, 'receipt').code, 'ERR_RUN_NO_RECEIPT');
      assert.match(check(unsigned.result, 'receipt').message!, /^the run is not signed yet \(a serve running on the data directory signs it after its next capture, else the next serve when it starts\)$/);
      await captureChat(serve.base, OPENAI_KEY, 'Name a mountain.');
      await untilLogged(serve.base, replayId);
      const signed = await verify(replayId, copy);
      assert.equal(signed.code, 0);
      assert.deepEqual(statuses(signed.result), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
    } finally {
      await serve.stop();
    }
  });

  test('no receipt key and no log in the data directory: those checks are not made, and said so', async () => {
    const copy = copyOf(data);
    renameSync(join(copy, 'receipt-key.pem'), join(copy, 'moved-receipt-key.pem'));
    renameSync(join(copy, 'log.sqlite'), join(copy, 'moved-log.sqlite'));
    const { code, result } = await verify(ids[0]!, copy);
    assert.equal(code, 0);
    assert.equal(check(result, 'receipt').status, 'not-checked');
    assert.match(check(result, 'receipt').message!, /no --key and no receipt-key\.pem/);
    assert.equal(check(result, 'log').status, 'not-checked');
    assert.match(check(result, 'log').message!, /no log\.sqlite in the data directory/);
  });

  test('a receipt with no log index yet, or an index the data directory\'s log does not cover: not checked, saying where it may be', async () => {
    const copy = copyOf(data);
    const db = new DatabaseSync(join(copy, 'runs.sqlite'));
    try {
      // As a receipt waiting in the outbox for a --capture-log log; and one delivered there at an index this log never reaches.
      db.prepare('UPDATE runs SET log_index = NULL WHERE capture_id = ?').run(ids[0]!);
      db.prepare('UPDATE runs SET log_index = 99 WHERE capture_id = ?').run(ids[1]!);
    } finally {
      db.close();
    }
    const waiting = check((await verify(ids[0]!, copy)).result, 'log');
    assert.equal(waiting.status, 'not-checked');
    assert.match(waiting.message!, /^the receipt has no log index yet: it waits to be appended to a log \(one serve sends it to with --capture-log keeps it in its outbox .*GET \/healthz, capture\.log, says why; a run captured in process, by runprintFetch, is appended by a serve with a log on the same run store, its data directory or --runs-db, once one runs\), or the serve that signed it keeps no log \(--no-log\)$/);
    const shown = await runCliInProcess(['runs', 'show', ids[0]!, '--data', copy]);
    assert.match(shown.stdout, /signed, no log index yet \(waiting to be appended to a log: in the outbox of a serve with --capture-log while that log cannot be reached; captured in process, until a serve with a log on this run store appends it; or signed by a serve that keeps none: runs verify says more\)/);
    const elsewhere = check((await verify(ids[1]!, copy)).result, 'log');
    assert.equal(elsewhere.status, 'not-checked');
    assert.equal(elsewhere.message, 'no signed checkpoint of this log covers index 99 yet (if serve sent its receipts to another log with --capture-log, check it there: --log URL --log-key VKEY)');
  });

  test('a log index two runs hold (a store an earlier version wrote): the run whose receipt the log does not hold there fails ERR_LOG_REWRITE naming the other; the other passes', async () => {
    const copy = copyOf(data);
    const db = new DatabaseSync(join(copy, 'runs.sqlite'));
    try {
      // As a runprint before the store refused a held index wrote it: the log replaced, it answered index 1 again.
      db.prepare('UPDATE runs SET log_index = 1 WHERE capture_id = ?').run(ids[0]!);
    } finally {
      db.close();
    }
    const holder = (await verify(ids[1]!, copy)).result;
    assert.equal(check(holder, 'log').status, 'pass', 'the log holds this run\'s receipt at index 1');
    const { code, result } = await verify(ids[0]!, copy);
    assert.equal(code, 1);
    assert.equal(result.ok, false);
    assert.deepEqual(result.counts, { pass: 4, fail: 1, 'not-checked': 1 });
    const shared = check(result, 'log');
    assert.equal(shared.status, 'fail');
    assert.equal(shared.code, 'ERR_LOG_REWRITE');
    assert.match(shared.message!, new RegExp(`^the run store gives log index 1 to another run too \\(${holder.run.recordDigest}\\): an earlier version of runprint stored an index its log gave out twice \\(the log replaced, rolled back or forked, or the store's receipts sent to two logs\\), so this run's index is not to be trusted; the log's check: ERR_LOG_PROOF_INVALID: `));
    const text = await cli(['runs', 'verify', ids[0]!, '--data', copy]);
    assert.match(text.stdout, /^FAIL {8}log {6}ERR_LOG_REWRITE: the run store gives log index 1 to another run too/m);
    // Without the log, neither can be told right: both fail.
    rmSync(join(copy, 'log.sqlite'));
    for (const id of [ids[0]!, ids[1]!]) {
      const alone = check((await verify(id, copy)).result, 'log');
      assert.equal(alone.code, 'ERR_LOG_REWRITE', id);
      assert.match(alone.message!, /; the log's check not made: no log\.sqlite in the data directory/);
    }
  });

  test('a receipt-key.pem or log-key.pem in the data directory that is a folder is ERR_INPUT_UNREADABLE naming it, not an internal error', async () => {
    for (const name of ['receipt-key.pem', 'log-key.pem']) {
      const copy = copyOf(data);
      rmSync(join(copy, name));
      mkdirSync(join(copy, name));
      const result = await cli(['runs', 'verify', ids[0]!, '--data', copy]);
      assert.deepEqual([result.code, result.stderr], [4, `runprint: ERR_INPUT_UNREADABLE: a directory, not a file: ${join(copy, name)}\n`], name);
    }
  });

  test('bad input: an unknown run, a malformed run name, witness options that do not add up', async () => {
    let out = await cli(['runs', 'verify', '00000000-0000-4000-8000-000000000000', '--data', data]);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /^runprint: ERR_RUN_NOT_FOUND: /);
    out = await cli(['runs', 'verify', 'nope', '--data', data]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /ERR_CLI_USAGE/);
    out = await cli(['runs', 'verify', ids[0]!, '--data', data, '--witness-threshold', '1']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /^runprint: ERR_CLI_USAGE: --witness-threshold goes with --witness\n$/);
    const witness = await generateKeyFiles('example.test/w');
    out = await cli(['runs', 'verify', ids[0]!, '--data', data, '--witness', formatCosignerKey('example.test/w', (await parsePrivateKey(witness.privateKeyPem)).publicKey), '--witness-threshold', '2']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /^runprint: ERR_CLI_USAGE: --witness-threshold must be a number from 1 to 1/);
  });

  test('witness cosignatures: a serve whose log a witness cosigns passes --witness; a witness that did not cosign fails log-witnesses unless the threshold allows it', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const witnessed = join(dir, 'data');
    mkdirSync(witnessed);
    // The log's key made beforehand, so the witness can be told which log it cosigns.
    const logFiles = await generateKeyFiles('localhost/runprint');
    writeFileSync(join(witnessed, 'log-key.pem'), logFiles.privateKeyPem, { mode: 0o600 });
    const WITNESS = 'example.test/runs-verify-witness';
    const witnessFiles = await generateKeyFiles(WITNESS);
    writeFileSync(join(dir, 'witness.pem'), witnessFiles.privateKeyPem, { mode: 0o600 });
    const witnessVkey = formatCosignerKey(WITNESS, (await parsePrivateKey(witnessFiles.privateKeyPem)).publicKey);
    const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', join(dir, 'witness-data'), '--no-log', '--witness-key', join(dir, 'witness.pem'), '--witness-name', WITNESS, '--witness-log', logFiles.verifierKey], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    const port = await new Promise<string>((resolve, reject) => {
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const listening = /listening on http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stderr);
        if (listening !== null && stderr.includes('runprint: witness ')) resolve(listening[1]!);
      });
      child.once('exit', () => reject(new Error(`witness exited: ${stderr}`)));
    });
    const serve = await startServe({ data: witnessed, args: ['--upstream', `openai=${upstream.url}`, '--log-witness', `http://127.0.0.1:${port}=${witnessVkey}`] });
    const id = await captureChat(serve.base, OPENAI_KEY, 'Name a witness.');
    await untilLogged(serve.base, id);
    // The log stores a checkpoint before the witness answers: wait for the cosigned one.
    let out = await verify(id, witnessed, ['--witness', witnessVkey]);
    for (let i = 0; i < 100 && check(out.result, 'log').status !== 'pass'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      out = await verify(id, witnessed, ['--witness', witnessVkey]);
    }
    assert.equal(out.code, 0, JSON.stringify(check(out.result, 'log')));
    assert.deepEqual(check(out.result, 'log').log!.cosignedBy, [WITNESS]);
    assert.match(check(out.result, 'log').reliesOn, new RegExp(`at least 1 of the witnesses ${WITNESS} cosigning it`));
    assert.ok(check(out.result, 'log').steps!.some((step) => step.name === 'log-witnesses' && step.ok));

    const absentFiles = await generateKeyFiles('example.test/absent');
    const absent = formatCosignerKey('example.test/absent', (await parsePrivateKey(absentFiles.privateKeyPem)).publicKey);
    out = await verify(id, witnessed, ['--witness', witnessVkey, '--witness', absent]);
    assert.equal(out.code, 1, 'both witnesses required by default');
    assert.equal(check(out.result, 'log').status, 'fail');
    assert.equal(check(out.result, 'log').code, 'ERR_LOG_COSIGNATURE_INVALID');
    assert.ok(check(out.result, 'log').steps!.some((step) => step.name === 'log-witnesses' && !step.ok));
    out = await verify(id, witnessed, ['--witness', witnessVkey, '--witness', absent, '--witness-threshold', '1']);
    assert.equal(out.code, 0);
    await serve.stop();
  });

  test('--monitor-state: the log is consistent with the checkpoint a monitor kept; a fork, a rewrite or a dropped tail fails, and so does another log\'s checkpoint', async () => {
    let out = await verify(ids[1]!, data, ['--monitor-state', monitorState]);
    assert.equal(out.code, 0);
    assert.equal(check(out.result, 'monitor').status, 'pass');
    assert.equal(check(out.result, 'monitor').message, 'the monitor\'s checkpoint of size 1 leads to the log\'s latest of size 2');
    assert.match(check(out.result, 'monitor').reliesOn, /--monitor-state/);
    // Checkpoints signed with the log's own key (it is in the data directory) that the log contradicts.
    const key = await parsePrivateKey(readFileSync(join(data, 'log-key.pem')));
    const dir = tempDir();
    const state = async (size: number, rootHash: Uint8Array, signer = noteSigner('localhost/runprint', key)) => {
      const path = join(dir, `state-${size}-${rootHash[0]}.json`);
      writeFileSync(path, JSON.stringify({ checkpoint: await signNote(formatCheckpoint({ origin: 'localhost/runprint', size, rootHash }), signer) }));
      return path;
    };
    const cases: Array<[number, string]> = [[2, 'ERR_LOG_FORK'], [1, 'ERR_LOG_REWRITE'], [7, 'ERR_LOG_DROPPED']];
    for (const [size, code] of cases) {
      out = await verify(ids[1]!, data, ['--monitor-state', await state(size, new Uint8Array(32).fill(9))]);
      assert.equal(out.code, 1, code);
      assert.equal(check(out.result, 'monitor').status, 'fail');
      assert.equal(check(out.result, 'monitor').code, code);
      assert.equal(check(out.result, 'log').status, 'pass', 'the other checks still ran');
    }
    const other = await parsePrivateKey((await generateKeyFiles('localhost/runprint')).privateKeyPem);
    out = await verify(ids[1]!, data, ['--monitor-state', await state(1, new Uint8Array(32).fill(3), noteSigner('localhost/runprint', other))]);
    assert.equal(out.code, 1);
    assert.match(check(out.result, 'monitor').code!, /^ERR_LOG_NOTE/);
    // A file that is not a monitor state is an error of the command line's input.
    writeFileSync(join(dir, 'not-state.json'), '{"size": 3}');
    const bad = await cli(['runs', 'verify', ids[1]!, '--data', data, '--monitor-state', join(dir, 'not-state.json')]);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /^runprint: ERR_INPUT_UNREADABLE: monitor state file/);
  });
});
