/**
 * `runprint serve --capture-log URL`: captured runs' receipts go to a remote runprint log (a
 * second real serve on loopback) through the run store as a durable outbox. Delivered while the
 * log is up, delivered later when it was down, delivered exactly once across a kill -9 in the
 * middle of delivery, and a refusal is reported once and stops delivery instead of retrying
 * forever. The receipt and its tlog-proof are retrievable by run identity from the capturing serve.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { LogAnswerError } from '../src/log/client.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import { verifyTlogProof } from '../src/log/tlog-proof.ts';
import { LogError } from '../src/errors.ts';
import { verifyReceipt } from '../src/receipt/index.ts';
import { outcomeOf, type OutboxState } from '../src/store/log-outbox.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { validate } from './helpers/json-schema.ts';
import { logLink } from './helpers/log-link.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { killServeProcesses, runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { closedPort } from './helpers/closed-port.ts';

const TOKEN = 'remote-log-token';
const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: never }> }> } }> };

/** The JSON answer of GET `url`, checked against docs/openapi.json's answer for `path` and its status. */
async function documented<T>(path: string, url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  const answer = OPENAPI.paths[path]!.get.responses[String(response.status)];
  assert.ok(answer !== undefined, `${path} -> ${response.status} is documented`);
  const body = (await response.json()) as T;
  assert.deepEqual(validate(body, answer.content['application/json']!.schema, OPENAPI), [], `${path} -> ${response.status} answers as documented`);
  return { status: response.status, body };
}

interface RunView {
  captureId: string;
  record: { runId: string | null };
  receipt: { logIndex: number | null } | null;
}

/** What /healthz answers of the outbox: its state, as JSON. */
type LogHealth = OutboxState;

let upstream: FakeUpstream;
let pg: PgSchemas;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-capture-log-'));
  scratch.push(dir);
  return dir;
}

before(async () => {
  upstream = await startFakeUpstream();
  pg = await pgSchemas();
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  await pg.drop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A remote runprint log: serve without capture, writes with TOKEN (its data directory `data`). */
function startRemoteLog(args: string[] = [], data = tempDir()): Promise<ServeProcess> {
  return startServe({ data, token: TOKEN, args: ['--no-capture', ...args] });
}

/** A capturing serve whose receipts go to `log`. */
function startCapturing(data: string, log: string, args: string[] = []): Promise<ServeProcess> {
  return startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--capture-log', log, ...args] });
}

/** One chat call through the proxy, a prompt of its own (so a run identity of its own); its capture id. */
async function call(base: string, prompt: string): Promise<string> {
  const response = await fetch(`${base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-outbox' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: prompt }] }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  return response.headers.get('runprint-capture-id')!;
}

async function runs(base: string): Promise<RunView[]> {
  return ((await (await fetch(`${base}/v1/runs?limit=1000`)).json()) as { runs: RunView[] }).runs;
}

async function logHealth(base: string): Promise<LogHealth> {
  return (await documented<{ capture: { log: LogHealth } }>('/healthz', `${base}/healthz`)).body.capture.log;
}

async function checkpointSize(base: string): Promise<number> {
  return Number((await (await fetch(`${base}/checkpoint`)).text()).split('\n')[1]);
}

/** The indexes the remote log lists for a run identity. */
async function remoteIndexes(log: string, runId: string): Promise<number[]> {
  return ((await (await fetch(`${log}/v1/log/entries?runId=${encodeURIComponent(runId)}`)).json()) as { indexes: number[] }).indexes;
}

async function until(condition: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Every stored run has a receipt with a log index. */
async function allDelivered(base: string, count: number): Promise<RunView[]> {
  let views: RunView[] = [];
  await until(async () => {
    views = await runs(base);
    return views.length === count && views.every((view) => view.receipt !== null && view.receipt.logIndex !== null);
  }, `the ${count} receipts are delivered`);
  return views;
}

/**
 * Each run's receipt is in the remote log exactly once, at the index the capturing store holds,
 * and the tlog-proof the capturing serve answers by run identity verifies with the remote log's
 * key against the receipt it answers.
 */
async function checkInRemote(base: string, remote: ServeProcess, views: readonly RunView[], receiptKeyFile: string): Promise<void> {
  const logKey = await parseNoteVerifier(remote.key);
  const receiptKey = (await parsePrivateKey(readFileSync(receiptKeyFile, 'utf8'))).publicKey;
  for (const view of views) {
    const runId = view.record.runId!;
    const receipt = await fetch(`${base}/v1/runs/${runId}/receipt`);
    assert.equal(receipt.status, 200);
    const receiptBytes = new Uint8Array(await receipt.arrayBuffer());
    const report = await verifyReceipt(new TextDecoder().decode(receiptBytes), { keys: [receiptKey] });
    assert.ok(report.ok, `the receipt verifies with the capturing serve's receipt key: ${JSON.stringify(report.checks.filter((check) => !check.ok))}`);
    let proof: Response | undefined;
    await until(async () => {
      proof = await fetch(`${base}/v1/runs/${runId}/tlog-proof`);
      return proof.status === 200;
    }, 'a checkpoint of the remote log covers the receipt');
    const verified = await verifyTlogProof(await proof!.text(), receiptBytes, { logKey, witnesses: [], threshold: 0 });
    assert.equal(verified.index, view.receipt!.logIndex);
    // The log lists the entries its latest checkpoint covers, which the proof showed covers this one.
    assert.deepEqual(await remoteIndexes(remote.base, runId), [view.receipt!.logIndex], 'one entry per run in the remote log, at the stored index');
  }
}

describe('serve --capture-log: receipts to a remote runprint log through a durable outbox', () => {
  test('delivered while the log is up: each receipt once in the remote log, proved, its tlog-proof by run identity verifies', async () => {
    const remote = await startRemoteLog();
    const data = tempDir();
    const serve = await startCapturing(data, `${remote.base}/`, ['--capture-log-token', TOKEN, '--capture-log-key', remote.key]);
    await until(async () => serve.stderr().includes('capture on'), 'serve prints its capture line');
    assert.match(serve.stderr(), /receipts to the log http:\/\/127\.0\.0\.1:[0-9]+\/ \(each proved in a signed checkpoint\)/);
    for (let i = 0; i < 5; i++) await call(serve.base, `Outbox happy path ${i}`);
    const views = await allDelivered(serve.base, 5);
    await checkInRemote(serve.base, remote, views, join(data, 'receipt-key.pem'));
    assert.equal(await checkpointSize(remote.base), 5, 'the remote log holds the 5 receipts and nothing else');
    assert.equal(await checkpointSize(serve.base), 0, 'serve\'s own log got none of them');
    const health = await logHealth(serve.base);
    assert.deepEqual({ delivered: health.delivered, proved: health.proved, refused: health.refused, stopped: health.stopped }, { delivered: 5, proved: 5, refused: 0, stopped: null });
    // runs verify checks the inclusion in the remote log: over HTTP with --capture-log-key, and the CLI with --log.
    const verify = (await (await fetch(`${serve.base}/v1/runs/${views[0]!.captureId}/verify`)).json()) as { checks: { name: string; status: string; reliesOn: string }[] };
    const logCheck = verify.checks.find((check) => check.name === 'log')!;
    assert.equal(logCheck.status, 'pass', JSON.stringify(logCheck));
    assert.match(logCheck.reliesOn, /the tiles and latest checkpoint the log at http:\/\/127\.0\.0\.1:[0-9]+\/ serves, the log key given with --capture-log-key/);
    // The CLI with --log (and --monitor-state: the remote log's latest checkpoint extends one kept
    // before, by a consistency proof from its tiles); without --log, the data directory's own
    // (empty) log does not hold the receipt: not checked, never a pass; --log without --log-key is refused.
    const kept = join(tempDir(), 'monitor.json');
    writeFileSync(kept, JSON.stringify({ checkpoint: await (await fetch(`${remote.base}/checkpoint`)).text() }));
    await call(serve.base, 'Outbox happy path 5');
    await allDelivered(serve.base, 6);
    await until(async () => (await checkpointSize(remote.base)) === 6, 'the remote checkpoint covers the sixth receipt');
    const [monitored, own, noKey] = await Promise.all([
      runRunprint(['runs', 'verify', views[1]!.captureId, '--data', data, '--log', `${remote.base}/`, '--log-key', remote.key, '--monitor-state', kept, '--json']),
      runRunprint(['runs', 'verify', views[1]!.captureId, '--data', data, '--json']),
      runRunprint(['runs', 'verify', views[1]!.captureId, '--data', data, '--log', `${remote.base}/`]),
    ]);
    assert.equal(monitored.code, 0, monitored.stdout + monitored.stderr);
    const checks = (JSON.parse(monitored.stdout) as { checks: { name: string; status: string; message?: string; log?: { index: number } }[] }).checks;
    assert.deepEqual(checks.map((check) => [check.name, check.status]), [['record', 'pass'], ['identity', 'pass'], ['output', 'pass'], ['receipt', 'pass'], ['log', 'pass'], ['monitor', 'pass']]);
    assert.equal(checks.find((check) => check.name === 'log')!.log!.index, views[1]!.receipt!.logIndex);
    assert.equal(checks.find((check) => check.name === 'monitor')!.message, 'the monitor\'s checkpoint of size 5 leads to the log\'s latest of size 6');
    assert.deepEqual((JSON.parse(own.stdout) as { checks: { name: string; status: string; code?: string }[] }).checks.filter((check) => check.name === 'log').map((check) => [check.status, check.code]), [['not-checked', 'ERR_LOG_ENTRY_NOT_FOUND']]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^runprint: ERR_CLI_USAGE: --log URL needs --log-key VKEY/);
    // The remote log gone: a tlog-proof cannot be had, and the answer says where it failed.
    await remote.stop();
    const gone = await documented<{ error: { code: string; message: string } }>('/v1/runs/{id}/tlog-proof', `${serve.base}/v1/runs/${views[0]!.captureId}/tlog-proof`);
    assert.equal(gone.status, 502);
    assert.equal(gone.body.error.code, 'ERR_LOG_UNREACHABLE');
    assert.equal((await fetch(`${serve.base}/v1/runs/${views[0]!.captureId}/receipt`)).status, 200, 'the receipt is still served from the run store');
    await serve.stop();
  });

  test('the log is down at capture time: calls are not held up, the failure is reported once, and the receipts are delivered once it is up', async () => {
    const port = await closedPort();
    const data = tempDir();
    const serve = await startCapturing(data, `http://127.0.0.1:${port}/`, ['--capture-log-token', TOKEN]);
    await until(async () => serve.stderr().includes('capture on'), 'serve prints its capture line');
    assert.match(serve.stderr(), /\(its answers unproved: no --capture-log-key\)/);
    const started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await call(serve.base, `Outbox log down ${i}`));
    assert.ok(performance.now() - started < 5_000, 'the calls are answered while the log is down');
    await until(async () => (await logHealth(serve.base)).retries >= 2, 'delivery was tried and failed twice');
    // How many wait: the three receipts, once signed (counted as the outbox looks, at most once a second).
    await until(async () => (await logHealth(serve.base)).waiting === 3, 'the three receipts are counted waiting');
    const health = await logHealth(serve.base);
    assert.equal(health.lastError?.code, 'ERR_LOG_UNREACHABLE');
    assert.equal(health.stopped, null, 'a log that cannot be reached is retried, not given up');
    assert.equal(serve.stderr().split('ERR_LOG_UNREACHABLE').length - 1, 1, `reported once: ${serve.stderr()}`);
    assert.match(serve.stderr(), /receipts wait in the run store and are sent again with back-off/);
    const { status, body: pending } = await documented<{ error: { code: string; message: string } }>('/v1/runs/{id}/tlog-proof', `${serve.base}/v1/runs/${ids[0]}/tlog-proof`);
    assert.equal(status, 404);
    assert.equal(pending.error.code, 'ERR_LOG_ENTRY_NOT_FOUND');
    assert.match(pending.error.message, /not in the capture log http:\/\/127\.0\.0\.1:[0-9]+\/ yet/);

    const remote = await startRemoteLog(['--port', String(port)]);
    assert.equal(remote.port, port);
    const views = await allDelivered(serve.base, 3);
    await checkInRemote(serve.base, remote, views, join(data, 'receipt-key.pem'));
    assert.equal(await checkpointSize(remote.base), 3);
    assert.equal((await logHealth(serve.base)).lastError, null, 'the failure is over once delivery worked');
    await until(async () => (await logHealth(serve.base)).waiting === 0, 'none waits once all are delivered');
    const verify = (await (await fetch(`${serve.base}/v1/runs/${views[0]!.captureId}/verify`)).json()) as { checks: { name: string; status: string; message?: string }[] };
    const logCheck = verify.checks.find((check) => check.name === 'log')!;
    assert.equal(logCheck.status, 'not-checked', 'without --capture-log-key serve does not check the inclusion');
    assert.match(logCheck.message!, /no --capture-log-key to check it with; runprint runs verify --log URL --log-key VKEY checks it/);
    await serve.stop();
    await remote.stop();
  });

  test('kill -9 during delivery: after a restart every committed record\'s receipt is in the remote log exactly once', async () => {
    const remote = await startRemoteLog();
    const link = await slowLink(remote.base);
    const data = tempDir();
    const args = ['--capture-log-token', TOKEN, '--capture-log-key', remote.key];
    link.delayMs = 300;
    const first = await startCapturing(data, `${link.url}/`, args);
    const count = 30;
    for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => call(first.base, `Outbox crash ${i + j}`)));
    // The log has taken at least one receipt; the capturing serve has stored no index yet (it
    // proves each against a signed checkpoint first): the crash falls between the two.
    await until(async () => link.answered.length > 0, 'the remote log took a receipt');
    await first.kill();
    assert.ok((await runs(first.base).catch(() => undefined)) === undefined, 'the capturing serve is gone');
    const before = await checkpointSize(remote.base).catch(() => 0);

    link.delayMs = 0;
    const second = await startCapturing(data, `${link.url}/`, args);
    const views = await allDelivered(second.base, count);
    assert.ok(link.answered.includes(200), `some receipt was delivered again after the restart and the log answered it with the index it had (answers: ${link.answered.join(' ')})`);
    await checkInRemote(second.base, remote, views, join(data, 'receipt-key.pem'));
    assert.equal(new Set(views.map((view) => view.receipt!.logIndex)).size, count);
    await until(async () => (await checkpointSize(remote.base)) === count, `the remote checkpoint covers the ${count} receipts`);
    assert.equal(await checkpointSize(remote.base), count, `and no more: nothing was logged twice (the log had ${before} at the crash)`);
    await second.stop();
    await link.close();
    await remote.stop();
  });

  test('a refusal (401: a wrong token) is reported once with its code, stops delivery, holds up no call; a restart with the right token delivers', async () => {
    const remote = await startRemoteLog();
    const data = tempDir();
    const serve = await startCapturing(data, `${remote.base}/`, ['--capture-log-token', 'not-the-token']);
    await call(serve.base, 'Outbox refused 0');
    await until(async () => (await logHealth(serve.base)).stopped !== null, 'delivery stopped');
    const health = await logHealth(serve.base);
    assert.deepEqual({ code: health.stopped!.code, status: health.stopped!.status }, { code: 'ERR_HTTP_UNAUTHORIZED', status: 401 });
    assert.equal(health.delivered, 0);
    const capture = (await documented<{ capture: { healthy: boolean } }>('/healthz', `${serve.base}/healthz`)).body.capture;
    assert.equal(capture.healthy, false, 'a monitor polling healthy sees that receipts no longer reach the log');
    await call(serve.base, 'Outbox refused 1');
    await until(async () => (await runs(serve.base)).every((view) => view.receipt !== null), 'both receipts are signed');
    await new Promise((resolve) => setTimeout(resolve, 600));
    const lines = serve.stderr().split('\n').filter((line) => line.includes('ERR_HTTP_UNAUTHORIZED'));
    assert.equal(lines.length, 1, `reported once: ${serve.stderr()}`);
    assert.match(lines[0]!, /^runprint: capture log http:\/\/127\.0\.0\.1:[0-9]+\/: ERR_HTTP_UNAUTHORIZED: log answered 401: .*; delivery stopped: receipts wait in the run store until serve restarts/);
    assert.equal((await logHealth(serve.base)).retries, 0, 'not retried');
    assert.equal(await checkpointSize(remote.base), 0);
    assert.ok((await runs(serve.base)).every((view) => view.receipt!.logIndex === null), 'the receipts stay in the store, undelivered');
    await serve.stop();

    const fixed = await startCapturing(data, `${remote.base}/`, ['--capture-log-token', TOKEN]);
    const views = await allDelivered(fixed.base, 2);
    assert.equal((await documented<{ capture: { healthy: boolean } }>('/healthz', `${fixed.base}/healthz`)).body.capture.healthy, true);
    await checkInRemote(fixed.base, remote, views, join(data, 'receipt-key.pem'));
    await fixed.stop();
    await remote.stop();
  });

  test('a wrong --capture-log-key stops delivery before any index is stored (the log\'s checkpoint fails the check)', async () => {
    const remote = await startRemoteLog();
    // A key of the log's name that is not its key.
    const other = noteVerifierKey(remote.key.split('+')[0]!, (await parsePrivateKey((await generateKeyFiles('other')).privateKeyPem)).publicKey);
    const data = tempDir();
    const serve = await startCapturing(data, `${remote.base}/`, ['--capture-log-token', TOKEN, '--capture-log-key', other]);
    await call(serve.base, 'Outbox wrong key');
    await until(async () => (await logHealth(serve.base)).stopped !== null, 'delivery stopped');
    const health = await logHealth(serve.base);
    assert.match(health.stopped!.code, /^ERR_LOG_(NOTE_SIGNATURE|CHECKPOINT_INVALID)$/);
    assert.equal(health.proved, 0);
    assert.equal((await runs(serve.base))[0]!.receipt!.logIndex, null, 'an index the key does not prove is not stored');
    await serve.stop();
    await remote.stop();
  });

  test('a refused receipt (413 ERR_LOG_ENTRY_TOO_LARGE) is set aside, reported once, not sent again; the others are delivered', async () => {
    const remote = await startRemoteLog();
    const link = await slowLink(remote.base);
    let refused: string | undefined;
    link.meddle = (receipt) => {
      refused ??= receipt.toString('utf8');
      return receipt.toString('utf8') === refused ? { status: 413, body: JSON.stringify({ error: { code: 'ERR_LOG_ENTRY_TOO_LARGE', message: 'entry is larger than 65536 bytes' } }) } : undefined;
    };
    const data = tempDir();
    const serve = await startCapturing(data, `${link.url}/`, ['--capture-log-token', TOKEN]);
    for (let i = 0; i < 3; i++) await call(serve.base, `Outbox set aside ${i}`);
    await until(async () => (await logHealth(serve.base)).delivered === 2, 'the two others are delivered');
    // Further passes (a new run wakes one) do not send the refused receipt again.
    await call(serve.base, 'Outbox set aside 3');
    await until(async () => (await logHealth(serve.base)).delivered === 3, 'the new one is delivered');
    const health = await logHealth(serve.base);
    assert.deepEqual({ refused: health.refused, stopped: health.stopped, retries: health.retries }, { refused: 1, stopped: null, retries: 0 });
    assert.equal(link.submitted.filter((receipt) => receipt === refused).length, 1, 'the refused receipt was sent once');
    const lines = serve.stderr().split('\n').filter((line) => line.includes('ERR_LOG_ENTRY_TOO_LARGE'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /: ERR_LOG_ENTRY_TOO_LARGE: log answered 413: entry is larger than 65536 bytes; the log refused this receipt: it stays in the run store without a log index and is not sent again until serve restarts$/);
    const waiting = (await runs(serve.base)).filter((view) => view.receipt!.logIndex === null);
    assert.equal(waiting.length, 1, 'the refused receipt waits in the store');
    await serve.stop();
    // The log takes it after all (the cause fixed): a restart delivers it.
    link.meddle = undefined;
    const again = await startCapturing(data, `${link.url}/`, ['--capture-log-token', TOKEN]);
    await allDelivered(again.base, 4);
    await again.stop();
    await link.close();
    await remote.stop();
  });

  test('a log that answers an index where it holds another entry is caught by --capture-log-key: no index it answered is stored', async () => {
    const remote = await startRemoteLog();
    const link = await slowLink(remote.base);
    const data = tempDir();
    const serve = await startCapturing(data, `${link.url}/`, ['--capture-log-token', TOKEN, '--capture-log-key', remote.key]);
    await call(serve.base, 'Outbox honest');
    await allDelivered(serve.base, 1);
    // From now on the log answers index 0 (the first receipt's) for every receipt, with the right leafHash.
    link.meddle = (_receipt, status, answer) => ({ status, body: JSON.stringify({ ...(JSON.parse(answer.toString('utf8')) as object), index: 0 }) });
    await call(serve.base, 'Outbox lied about');
    await until(async () => (await logHealth(serve.base)).stopped !== null, 'delivery stopped');
    const health = await logHealth(serve.base);
    assert.equal(health.stopped!.code, 'ERR_LOG_PROOF_INVALID');
    assert.equal(health.proved, 1);
    const views = await runs(serve.base);
    assert.deepEqual(views.map((view) => view.receipt!.logIndex).sort(), [0, null], 'the index the log lied about is not stored');
    assert.match(serve.stderr(), /ERR_LOG_PROOF_INVALID: the log answered index 0 for a receipt, but holds another entry there; delivery stopped/);
    await serve.stop();
    await link.close();
    await remote.stop();
  });

  test('the remote log replaced by an empty one with the same key: delivery stops (ERR_LOG_DROPPED), and after a restart too (ERR_LOG_REWRITE); no index is stored twice, /healthz says why', async () => {
    const logData = tempDir();
    const remote = await startRemoteLog(['--log-name', 'example.com/rlog'], logData);
    const data = tempDir();
    const args = ['--capture-log-token', TOKEN, '--capture-log-key', remote.key];
    const serve = await startCapturing(data, `${remote.base}/`, args);
    for (let i = 0; i < 3; i++) await call(serve.base, `Outbox replaced log ${i}`);
    await allDelivered(serve.base, 3);
    // The log serve stopped, its log.sqlite set aside (its log-key.pem kept), started again: an empty log, same key, name and URL.
    await remote.stop();
    const emptyData = tempDir();
    copyFileSync(join(logData, 'log-key.pem'), join(emptyData, 'log-key.pem'));
    const replaced = await startRemoteLog(['--log-name', 'example.com/rlog', '--port', String(remote.port)], emptyData);
    assert.equal(replaced.key, remote.key);
    await call(serve.base, 'Outbox replaced log 3');
    await until(async () => (await logHealth(serve.base)).stopped !== null, 'delivery stopped');
    const health = (await documented<{ capture: { healthy: boolean; log: LogHealth } }>('/healthz', `${serve.base}/healthz`)).body.capture;
    assert.equal(health.healthy, false);
    assert.deepEqual(health.log.stopped, { code: 'ERR_LOG_DROPPED', status: null, message: 'the log\'s signed checkpoint has 1 entry, the one verified before 3: it was rolled back or replaced; no index it answers is stored' });
    assert.equal(health.log.proved, 3);
    const stopped = serve.stderr().split('\n').filter((line) => line.includes('ERR_LOG_DROPPED'));
    assert.equal(stopped.length, 1, serve.stderr());
    assert.match(stopped[0]!, /^runprint: capture log http:\/\/127\.0\.0\.1:[0-9]+\/: ERR_LOG_DROPPED: .*; delivery stopped: receipts wait in the run store; after a restart serve delivers again only to a log that still holds the receipts delivered before \(restore the log from its backup\)$/);
    const indexes = async (base: string) => (await runs(base)).map((view) => view.receipt!.logIndex).sort();
    assert.deepEqual(await indexes(serve.base), [0, 1, 2, null], 'the index 0 the replaced log answered is not stored beside the run at 0');
    await serve.stop();

    // Restarted, serve checks the log still holds the store's last delivered receipt (index 2): it does not.
    const again = await startCapturing(data, `${remote.base}/`, args);
    await until(async () => (await logHealth(again.base)).stopped !== null, 'delivery stopped after the restart');
    const after = await logHealth(again.base);
    assert.equal(after.stopped!.code, 'ERR_LOG_REWRITE');
    assert.match(after.stopped!.message, /^the capture log no longer holds the run store's last delivered receipt at index 2 \(its signed checkpoint has 1 entry\): it was rolled back or replaced \(or the store's receipts went to another log\)/);
    assert.equal(after.proved, 0);
    assert.deepEqual(await indexes(again.base), [0, 1, 2, null]);
    assert.match(again.stderr(), /ERR_LOG_REWRITE: the capture log no longer holds/);
    await again.stop();
    await replaced.stop();
  });

  test('two serves on one PostgreSQL run store both deliver what waits: each receipt is in the remote log once', async () => {
    const remote = await startRemoteLog();
    const { url } = await pg.fresh('runprint_outbox');
    const args = ['--runs-db', url, '--capture-log-token', TOKEN];
    const [a, b] = await Promise.all([startCapturing(tempDir(), `${remote.base}/`, args), startCapturing(tempDir(), `${remote.base}/`, args)]);
    await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 === 0 ? a.base : b.base, `Outbox shared store ${i}`)));
    const views = await allDelivered(a.base, 10);
    await until(async () => (await checkpointSize(remote.base)) === 10, 'the remote checkpoint covers the 10 receipts');
    for (const view of views) assert.deepEqual(await remoteIndexes(remote.base, view.record.runId!), [view.receipt!.logIndex]);
    assert.equal(await checkpointSize(remote.base), 10, 'nothing was logged twice');
    await Promise.all([a.stop(), b.stop()]);
    await remote.stop();
  });

  test('bad --capture-log options are refused before serve starts', async () => {
    const cases: [string[], RegExp][] = [
      [['--capture-log-token', TOKEN], /--capture-log-token and --capture-log-key go with --capture-log URL/],
      [['--capture-log', 'ftp://127.0.0.1/'], /--capture-log must be an absolute http\(s\) URL/],
      [['--capture-log', 'http://127.0.0.1:8490/v1/log/'], /--capture-log: the log URL is the prefix the log's \/checkpoint is under \(for runprint serve, http:\/\/127\.0\.0\.1:8490\/\), not its \/v1\/log\/ path/],
      [['--capture-log', 'http://user:secret@127.0.0.1/'], /must not carry a user name or password/],
      [['--capture-log', 'http://127.0.0.1/', '--capture-log-token', 'has space'], /--capture-log-token must be 1 or more visible ASCII characters/],
    ];
    const results = await Promise.all(cases.map(([args]) => runRunprint(['serve', '--port', '0', '--data', tempDir(), ...args])));
    for (const [i, [, message]] of cases.entries()) {
      const result = results[i]!;
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^runprint: ERR_CLI_USAGE: /);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /secret/);
    }
  });

  test('what the outbox does after each kind of failure', () => {
    assert.equal(outcomeOf(new LogError('ERR_LOG_UNREACHABLE', 'cannot reach')), 'retry');
    assert.equal(outcomeOf(new LogAnswerError('ERR_STORE_UNAVAILABLE', 'log answered 503', 503)), 'retry');
    assert.equal(outcomeOf(new LogAnswerError('ERR_LOG_UNREACHABLE', 'log answered HTTP 502', 502)), 'retry');
    assert.equal(outcomeOf(new LogAnswerError('ERR_HTTP_TOO_MANY_REQUESTS', 'slow down', 429)), 'retry');
    assert.equal(outcomeOf(new LogError('ERR_LOG_ENTRY_NOT_FOUND', 'no checkpoint covers it yet')), 'retry');
    assert.equal(outcomeOf(new LogAnswerError('ERR_LOG_ENTRY_TOO_LARGE', 'too large', 413)), 'set-aside');
    assert.equal(outcomeOf(new LogAnswerError('ERR_LOG_ENTRY_INVALID', 'not an envelope', 400)), 'set-aside');
    assert.equal(outcomeOf(new LogAnswerError('ERR_HTTP_UNAUTHORIZED', 'token', 401)), 'stop');
    assert.equal(outcomeOf(new LogAnswerError('ERR_LOG_WRITES_DISABLED', 'no writes', 403)), 'stop');
    assert.equal(outcomeOf(new LogAnswerError('ERR_LOG_UNREACHABLE', 'log answered HTTP 404', 404)), 'stop');
    assert.equal(outcomeOf(new LogError('ERR_LOG_PROOF_INVALID', 'another leaf')), 'stop');
    for (const code of ['ERR_LOG_DROPPED', 'ERR_LOG_FORK', 'ERR_LOG_REWRITE'] as const) assert.equal(outcomeOf(new LogError(code, 'the log rolled back')), 'stop', code);
  });
});

/** What a link answers instead of the log's answer to a receipt submission (undefined: the log's answer). */
type Meddle = (receipt: Buffer, status: number, answer: Buffer) => { status: number; body: string } | undefined;

/**
 * A slow link to the remote log: forwards every request after `delayMs`, and records the status
 * of each answer to a receipt submission (201: appended, 200: the log had it already); `meddle`
 * may answer a submission otherwise (a log that refuses or lies).
 */
async function slowLink(target: string): Promise<{ url: string; delayMs: number; answered: number[]; submitted: string[]; meddle: Meddle | undefined; close(): Promise<void> }> {
  const link = { url: '', delayMs: 0, answered: [] as number[], submitted: [] as string[], meddle: undefined as Meddle | undefined, close: async () => {} };
  const { url, close } = await logLink(target, {
    delayMs: () => link.delayMs,
    onSubmission: (receipt, status, answer) => {
      link.answered.push(status);
      link.submitted.push(receipt.toString('utf8'));
      return link.meddle?.(receipt, status, answer);
    },
  });
  link.url = url;
  link.close = close;
  return link;
}
