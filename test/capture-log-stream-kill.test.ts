/**
 * kill -9 of a capturing `runprint serve --capture-log URL` while several SSE streams are in
 * flight through its proxy AND its outbox is delivering receipts to a remote runprint log (a
 * second real serve on loopback, behind a link that holds the log's answers, so the log has
 * appended receipts the capturing serve never heard about). Restarted on the same data directory:
 * every stream a client read to its terminal event has its durable record (sync durability); the
 * streams cut by the crash left no complete record; the streams the upstream cut or the client
 * aborted before the crash are recorded as incomplete; every receiptable run ends up in the remote
 * log exactly once, and its receipt and inclusion verify. Deterministic: the fake upstream holds
 * the mid-flight streams open until told to go on, and every wait is on a condition.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { RunRecord } from '../src/capture/index.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { logLink } from './helpers/log-link.ts';
import { readBody } from './helpers/proxy-calls.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe } from './helpers/serve-process.ts';

const TOKEN = 'stream-kill-log-token';
const TEXT = 'A streamed answer of several words, so that a stream can be held open in its middle.';

interface RunView {
  captureId: string;
  record: RunRecord;
  receipt: { logIndex: number | null } | null;
}

/** One SSE stream through the proxy, as its client reads it. */
interface Stream {
  prompt: string;
  captureId: string;
  /** SSE events read so far. */
  events: number;
  /** True once the client has read the terminal event (`data: [DONE]`). */
  terminal: boolean;
  /** Why reading ended early (the crash, the upstream's cut, the client's own abort), or undefined. */
  error: unknown;
  /** Resolves when the client has stopped reading, whatever the reason. */
  ended: Promise<void>;
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  cleanups.push(() => open());
  return { promise, open };
}

let upstream: FakeUpstream;
/** The scenario of each prompt (a stream's run identity is its prompt's). */
const scenarios = new Map<string, Scenario>();
const scratch = scratchFolders('runprint-stream-kill-');
/** Closed after the tests, whatever failed: links, and gates that would hold a stream open. */
const cleanups: (() => unknown)[] = [];

function promptOf(request: RecordedRequest): string {
  return (JSON.parse(request.body.toString('utf8')) as { messages: { content: string }[] }).messages[0]!.content;
}

before(async () => {
  upstream = await startFakeUpstream({ fallback: (request) => scenarios.get(promptOf(request)) ?? { kind: 'text', text: TEXT } });
});
after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await endServeTest(upstream, scratch);
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Starts a streamed chat call through the proxy with its own prompt and scenario; resolves once the
 * answer's headers are in, reading the body on the side. `abortAfterEvents`: the client aborts
 * once it has read that many events; `onTerminal` is called the moment the terminal event is read.
 */
async function openStream(base: string, prompt: string, scenario: Scenario, abortAfterEvents?: number, onTerminal?: () => void): Promise<Stream> {
  scenarios.set(prompt, scenario);
  const controller = new AbortController();
  const response = await fetch(`${base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-stream-kill' },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: prompt }] }),
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  const captureId = response.headers.get('runprint-capture-id');
  assert.ok(captureId !== null, 'the proxy names the capture id with the headers');
  const stream: Stream = { prompt, captureId, events: 0, terminal: false, error: undefined, ended: Promise.resolve() };
  const read = readBody(response, (text) => {
    stream.events = text.split('\n\n').length - 1;
    if (!stream.terminal && text.includes('data: [DONE]\n\n')) {
      stream.terminal = true;
      onTerminal?.();
    }
    if (abortAfterEvents !== undefined && stream.events >= abortAfterEvents) controller.abort();
  });
  stream.ended = read.then(({ error }) => {
    stream.error = error;
  });
  return stream;
}

/** Streams read to their end. */
async function readToEnd(base: string, prompts: string[]): Promise<Stream[]> {
  const streams = await Promise.all(prompts.map((prompt) => openStream(base, prompt, { kind: 'text', text: TEXT })));
  await Promise.all(streams.map((stream) => stream.ended));
  for (const stream of streams) assert.ok(stream.terminal && stream.error === undefined, `${stream.prompt} was read to its terminal event`);
  return streams;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function runs(base: string): Promise<RunView[]> {
  return ((await (await fetch(`${base}/v1/runs?limit=1000`)).json()) as { runs: RunView[] }).runs;
}

/** The stored run of a capture id, or null (404). */
async function stored(base: string, captureId: string): Promise<RunView | null> {
  const response = await fetch(`${base}/v1/runs/${captureId}`);
  if (response.status === 404) {
    await response.arrayBuffer();
    return null;
  }
  assert.equal(response.status, 200);
  const { runs: found } = (await response.json()) as { runs: RunView[] };
  assert.equal(found.length, 1);
  return found[0]!;
}

async function checkpointSize(base: string): Promise<number> {
  return Number((await (await fetch(`${base}/checkpoint`)).text()).split('\n')[1]);
}

async function remoteIndexes(log: string, runId: string): Promise<number[]> {
  return ((await (await fetch(`${log}/v1/log/entries?runId=${encodeURIComponent(runId)}`)).json()) as { indexes: number[] }).indexes;
}

/**
 * A link to the remote log that forwards everything; while `holding`, the log's answer to a
 * receipt submission is kept from the sender (the log has appended the receipt; the sender waits
 * on an answer that never comes). Records each submission's answer status and, for held ones, the
 * log's answer.
 */
interface HoldingLink {
  url: string;
  holding: boolean;
  answered: number[];
  held: { index: number; runId?: string }[];
  close(): Promise<void>;
}

async function holdingLink(target: string): Promise<HoldingLink> {
  const link: HoldingLink = { url: '', holding: false, answered: [], held: [], close: async () => {} };
  const { url, close } = await logLink(target, {
    onSubmission: (_receipt, status, answer) => {
      link.answered.push(status);
      if (!link.holding) return undefined;
      link.held.push(JSON.parse(answer.toString('utf8')) as { index: number; runId?: string });
      return 'hold';
    },
  });
  link.url = url;
  link.close = close;
  cleanups.push(link.close);
  return link;
}

test('kill -9 during streaming and outbox delivery to a remote log: every stream read to its end is recorded, every receipt is in the remote log once and verifies', async () => {
  const remote = await startServe({ data: scratch.tempDir(), token: TOKEN, args: ['--no-capture'] });
  const link = await holdingLink(remote.base);
  const data = scratch.tempDir();
  // Sync durability (the default, said here whatever the environment says): a client reads a
  // stream's terminal event only once its record is durable.
  const args = ['--upstream', `openai=${upstream.url}`, '--capture-durability', 'sync', '--capture-log', `${link.url}/`, '--capture-log-token', TOKEN, '--capture-log-key', remote.key];
  const first = await startServe({ data, args });
  await until(() => first.stderr().includes('runprint: capture on'), 'serve prints its capture line');
  assert.match(first.stderr(), /capture on \(sync durability.*receipts to the log http:\/\/127\.0\.0\.1:[0-9]+\/ \(each proved in a signed checkpoint\)/);

  // 1. Streams answered and their receipts proved in the remote log before the crash.
  const early = await readToEnd(first.base, ['early 0', 'early 1', 'early 2']);
  await until(async () => (await runs(first.base)).filter((view) => view.receipt?.logIndex != null).length === 3, 'the first 3 receipts are proved in the remote log');

  // 2. From now on the log's answers are held: it appends receipts the capturing serve never hears of.
  link.holding = true;
  const answered = await readToEnd(first.base, ['answered 0', 'answered 1', 'answered 2']);
  // A stream the upstream cuts, and one the client aborts, both before the crash.
  const cut = await openStream(first.base, 'cut by the upstream', { kind: 'text', text: TEXT, cutAfterEvents: 3 });
  const abortGate = gate();
  const aborted = await openStream(first.base, 'aborted by the client', { kind: 'text', text: TEXT, pauseBeforeEvent: 3, resume: abortGate.promise }, 2);
  await Promise.all([cut.ended, aborted.ended]);
  assert.ok(!cut.terminal && cut.error !== undefined, 'the client of the cut stream sees it fail');
  assert.ok(!aborted.terminal && aborted.error !== undefined, 'the aborting client stopped reading');
  await until(async () => (await stored(first.base, cut.captureId)) !== null && (await stored(first.base, aborted.captureId)) !== null, 'the cut and the aborted stream are recorded');
  await until(() => link.held.length > 0, 'the remote log appended a receipt whose answer the capturing serve has not had');

  // 3. Streams in flight at the crash: held open by the upstream after 3 events, read that far.
  const midGate = gate();
  const raceGate = gate();
  // The racing streams go on when told; the crash comes the moment the first of them has been
  // read to its end, so the others are anywhere between the pause, the commit and their last byte.
  let killed: Promise<number | string> | undefined;
  const crash = () => (killed ??= first.kill());
  const paused = (prompt: string, resume: Gate, onTerminal?: () => void) => openStream(first.base, prompt, { kind: 'text', text: TEXT, pauseBeforeEvent: 3, resume: resume.promise }, undefined, onTerminal);
  const midflight = await Promise.all([0, 1, 2, 3].map((i) => paused(`mid-flight ${i}`, midGate)));
  const racing = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => paused(`racing ${i}`, raceGate, crash)));
  await until(() => [...midflight, ...racing].every((stream) => stream.events >= 3), 'every in-flight stream has been read up to the pause');
  raceGate.open();
  await until(() => killed !== undefined, 'a racing stream was read to its end');
  await killed;
  const inflight = [...midflight, ...racing];
  await Promise.all(inflight.map((stream) => stream.ended));
  midGate.open();
  abortGate.open();
  await upstream.settled();
  for (const stream of midflight) assert.ok(!stream.terminal && stream.error !== undefined, `${stream.prompt}: the client sees the stream cut by the crash`);
  const finished = racing.filter((stream) => stream.terminal);
  assert.ok(finished.length >= 1);
  const heldAtCrash = [...link.held];

  // 4. Restart on the same data directory, the link answering again.
  link.holding = false;
  const mark = link.answered.length;
  const second = await startServe({ data, args });
  const everyStream = [...early, ...answered, cut, aborted, ...midflight, ...racing];
  const read = [...early, ...answered, ...finished];

  // Every stream a client read to its terminal event has its record, complete, of the exact bytes the upstream sent.
  for (const stream of read) {
    const view = await stored(second.base, stream.captureId);
    assert.ok(view !== null, `${stream.prompt}: read to its end, so its record is durable`);
    assert.equal(view.record.incomplete, null);
    const sent = upstream.requests.find((request) => promptOf(request) === stream.prompt)!;
    assert.equal(sent.response.outcome, 'complete');
    assert.equal(view.record.response.rawDigest?.sha256, sha256(sent.response.body), `${stream.prompt}: the record names the bytes the upstream sent`);
  }
  // The upstream's cut and the client's abort are recorded as incomplete, and get no receipt.
  const cutView = (await stored(second.base, cut.captureId))!;
  assert.deepEqual([cutView.record.incomplete?.reason, cutView.record.output, cutView.receipt], ['cut', null, null]);
  const abortedView = (await stored(second.base, aborted.captureId))!;
  assert.deepEqual([abortedView.record.incomplete?.reason, abortedView.record.output, abortedView.receipt], ['aborted', null, null]);
  // A stream the crash cut has no record, or an incomplete one: never a complete record of half an answer.
  for (const stream of midflight) {
    const view = await stored(second.base, stream.captureId);
    assert.ok(view === null || view.record.incomplete !== null, `${stream.prompt}: no complete record of a stream cut by the crash`);
  }
  // Racing streams not read to their end may have been committed before the crash (their last
  // byte waiting on the commit): a record there is of the whole answer the upstream sent.
  for (const stream of racing.filter((one) => !one.terminal)) {
    const view = await stored(second.base, stream.captureId);
    if (view === null) continue;
    const sent = upstream.requests.find((request) => promptOf(request) === stream.prompt)!;
    assert.equal(view.record.incomplete, null, `${stream.prompt}: recorded only once the upstream had sent it all`);
    assert.equal(view.record.response.rawDigest?.sha256, sha256(sent.response.body), `${stream.prompt}: a complete record holds the whole answer`);
  }
  // Nothing stored that no client started.
  const views = await runs(second.base);
  const started = new Set(everyStream.map((stream) => stream.captureId));
  assert.ok(views.every((view) => started.has(view.captureId)), 'every stored run is one of the calls made');
  assert.equal(new Set(views.map((view) => view.captureId)).size, views.length, 'one record per call');

  // Delivery settles: every receiptable run's receipt is proved in the remote log, exactly once.
  const receiptable = (view: RunView) => view.record.incomplete === null && view.record.runId !== null;
  let settled: RunView[] = [];
  await until(async () => {
    settled = await runs(second.base);
    return settled.filter(receiptable).every((view) => view.receipt?.logIndex != null);
  }, 'every receipt is proved in the remote log');
  const logged = settled.filter(receiptable);
  assert.ok(logged.length >= read.length);
  assert.ok(settled.filter((view) => !receiptable(view)).every((view) => view.receipt === null), 'incomplete runs get no receipt');
  const indexes = logged.map((view) => view.receipt!.logIndex!);
  assert.equal(new Set(indexes).size, logged.length, 'one log index per receipt');
  await until(async () => (await checkpointSize(remote.base)) === logged.length, `the remote checkpoint covers the ${logged.length} receipts`);
  assert.equal(await checkpointSize(remote.base), logged.length, 'and no more: nothing was logged twice');
  for (const view of logged) assert.deepEqual(await remoteIndexes(remote.base, view.record.runId!), [view.receipt!.logIndex], `${view.captureId}: one entry in the remote log, at the stored index`);
  // A receipt the log had appended before the crash was sent again and answered with the index it had.
  assert.ok(link.answered.slice(mark).includes(200), `a receipt delivered again was answered 200 (answers after the restart: ${link.answered.slice(mark).join(' ')})`);
  for (const entry of heldAtCrash) {
    const view = logged.find((one) => one.record.runId === entry.runId);
    assert.equal(view?.receipt?.logIndex, entry.index, 'the index stored after the restart is the one the log gave before the crash');
  }

  // Every receipt verifies with its inclusion in the remote log: over HTTP (serve has
  // --capture-log-key; no monitor state there, so no monitor check) and with the CLI.
  for (const view of logged) {
    const answer = (await (await fetch(`${second.base}/v1/runs/${view.captureId}/verify`)).json()) as { checks: { name: string; status: string }[] };
    assert.deepEqual(answer.checks.map((check) => [check.name, check.status]), [['record', 'pass'], ['identity', 'pass'], ['output', 'pass'], ['receipt', 'pass'], ['log', 'pass'], ['monitor', 'not-checked']], view.captureId);
  }
  const held = logged.find((one) => one.record.runId === heldAtCrash[0]!.runId)!;
  const cli = await runRunprint(['runs', 'verify', held.captureId, '--data', data, '--log', `${remote.base}/`, '--log-key', remote.key, '--json']);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  const checks = (JSON.parse(cli.stdout) as { checks: { name: string; status: string; log?: { index: number } }[] }).checks;
  assert.deepEqual(checks.map((check) => [check.name, check.status]), [['record', 'pass'], ['identity', 'pass'], ['output', 'pass'], ['receipt', 'pass'], ['log', 'pass'], ['monitor', 'not-checked']]);
  assert.equal(checks.find((check) => check.name === 'log')?.log?.index, heldAtCrash[0]!.index);

  await second.stop();
  await link.close();
  await remote.stop();
});
