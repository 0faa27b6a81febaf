/**
 * Serves started at the same moment with one new data directory (each with its own PostgreSQL log,
 * --log-db and --log-name, all with one PostgreSQL run store): the store is bound to one log, so
 * one serve runs and the others are refused (ERR_LOG_CONFIG_MISMATCH). The keys in the data
 * directory are shared: whichever start made log-key.pem and receipt-key.pem, the others read
 * them. A refused start removes nothing (serve-data.ts NewAtStart), so the serve that runs keeps
 * its keys on disk: it restarts with the same options and its log goes on taking entries. Before,
 * a refused start removed the keys it had made (and the data directory once empty), though the
 * running serve had read them: the data directory held only receipt-key.pem, or was gone, and the
 * winner's restart failed (ERR_INPUT_NOT_FOUND, log-key.pem missing), its log never extended.
 *
 * The first test makes that order certain: one serve is held (a lock the test takes on its log
 * database's tables) after it looked at the data directory and before it opens its log, while two
 * others start and one of them binds the store; then it goes on and is refused. Before the fix it
 * had made log-key.pem before it was held, and removed it when refused, in every round. The second
 * is the race as a reviewer ran it, three serves at once, in which a refused start before the fix
 * removed a key the winner used in 4 of 24 rounds (its script's two runs). The third holds a start
 * whose log database holds another key's log while another serve with the same new data directory
 * starts: before, it made log-key.pem, the other serve took it, and the refused start removed it
 * (with the directory); now it looks at its log database before it makes a key, and makes none.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas, TEST_PG } from './helpers/pg-schemas.ts';
import { chatCall, untilLogged } from './helpers/proxy-calls.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { RUNPRINT_BIN } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-refused-shared-');
const pgs = await pgSchemas();
const upstream = await startFakeUpstream();
const children = new Set<ReturnType<typeof spawn>>();
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await upstream.close();
  await pgs.drop();
  scratch.removeAll();
});

interface Started {
  outcome: Promise<{ listening: string } | { exited: number | string }>;
  stderr(): string;
  stop(): Promise<number | string>;
}

/** A serve process with `args`: it listens (its URL, once it said its log), or exits first (its code); `stop` sends SIGTERM and waits. */
function spawnServe(args: string[]): Started {
  const env = { ...process.env };
  for (const name of ['RUNPRINT_DATA', 'RUNPRINT_LOG_DB', 'RUNPRINT_LOG_KEY', 'RUNPRINT_LOG_NAME', 'RUNPRINT_RUNS_DB', 'RUNPRINT_CAPTURE_KEY']) delete env[name];
  const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  const outcome = new Promise<{ listening: string } | { exited: number | string }>((resolve) => {
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const listening = /runprint: listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(stderr);
      if (listening !== null && /^runprint: log \S+$/m.test(stderr)) resolve({ listening: listening[1]! });
    });
    void exited.then((code) => resolve({ exited: code }));
  });
  return {
    outcome,
    stderr: () => stderr,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The options of serve `i` of a round: the shared data directory and run store, a log of its own. */
const serveArgs = (data: string, runs: string, log: string, i: number): string[] => ['--data', data, '--runs-db', runs, '--log-db', log, '--log-name', `s${i}.example/log`, '--upstream', `openai=${upstream.url}`];

const BOUND = /^runprint: ERR_LOG_CONFIG_MISMATCH: serve's log s[0-9]\.example\/log\+[0-9a-f]{8} \(the --log-db database .+\) is not the log the run store's log indexes refer to: the run store \(.+\) is bound to the log s[0-9]\.example\/log\+[0-9a-f]{8} \(since .+\)\. The store's indexes are of another log .*$/m;

/**
 * After a round: exactly one serve runs; the data directory still holds both keys; the refused
 * ones exited 2 with the binding's refusal, saying the data directory (new at their start) is left
 * with the keys in it; the winner, stopped and started again with the same options, runs and its
 * log takes a captured call's receipt.
 */
async function checkRound(round: string, data: string, serves: Started[], args: string[][]): Promise<void> {
  const outcomes = await Promise.all(serves.map((serve) => serve.outcome));
  const said = serves.map((serve, i) => `serve ${i}: ${JSON.stringify(outcomes[i])}\n${serve.stderr()}`).join('\n---\n');
  const winners = outcomes.flatMap((outcome, i) => ('listening' in outcome ? [i] : []));
  assert.equal(winners.length, 1, `${round}: exactly one serve runs:\n${said}`);
  const w = winners[0]!;
  const files = existsSync(data) ? readdirSync(data).filter((name) => !name.startsWith('.')).sort() : ['(the data directory is gone)'];
  assert.deepEqual(files, ['log-key.pem', 'receipt-key.pem'], `${round}: the running serve's keys are in the data directory:\n${said}`);
  for (const [i, serve] of serves.entries()) {
    if (i === w) continue;
    assert.deepEqual(outcomes[i], { exited: 2 }, said);
    const line = BOUND.exec(serve.stderr())?.[0];
    assert.ok(line !== undefined, said);
    // What it says it left (what it found missing at its start and is there now) is never said removed.
    assert.doesNotMatch(line, /remov(ed|es) (log-key|receipt-key|the data)/);
    const left = / Left as (it is|they are) \(a refused start removes nothing, as another serve started with this data directory may be using what it made\): (.*)$/.exec(line)?.[2];
    if (left !== undefined) {
      assert.ok(
        [
          `the data directory ${data}, which was not there before this start, holding log-key.pem and receipt-key.pem; remove ${data} if no serve uses it.`,
          `log-key.pem and receipt-key.pem in the data directory ${data}, not there before this start; remove them if no serve uses them.`,
          `receipt-key.pem in the data directory ${data}, not there before this start; remove it if no serve uses it.`,
        ].includes(left),
        line,
      );
    }
  }
  assert.equal(await serves[w]!.stop(), 0, serves[w]!.stderr());
  const again = spawnServe(args[w]!);
  try {
    const outcome = await again.outcome;
    assert.ok('listening' in outcome, `${round}: the winner starts again with the same options: ${again.stderr()}`);
    const response = await chatCall(outcome.listening, `${round}: after the restart`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    await untilLogged(outcome.listening, response.headers.get('runprint-capture-id')!);
    assert.equal(await again.stop(), 0);
    assert.doesNotMatch(again.stderr(), /ERR_/);
  } finally {
    await again.stop();
  }
}

/** Waits until a session waits for a lock on `table` (a serve held by the test's lock). */
async function untilWaiting(table: string, serve: Started): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const waiting = await pgs.admin.query('SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted', [table]);
    if ((waiting.rows[0] as { n: number }).n > 0) return;
    assert.ok(Date.now() < deadline, `the held serve never waited for its log database: ${serve.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a serve that is refused after another serve with the same new data directory started and read its keys leaves the keys: the winner restarts and its log goes on (two rounds, the order made certain)', { timeout: 300_000 }, async () => {
  for (let round = 0; round < 2; round++) {
    const data = join(scratch.tempDir(), 'data');
    const runs = (await pgs.fresh('runprint_refused_runs')).url;
    const logs = [await pgs.fresh('runprint_refused_log'), await pgs.fresh('runprint_refused_log'), await pgs.fresh('runprint_refused_log')];
    // Serve 0's log database has its tables (no log yet), which the test locks: serve 0 waits at
    // opening it, after it looked for the data directory's log key.
    await (await PostgresLog.open(logs[0]!.url)).close();
    const holder = new pg.Client({ connectionString: TEST_PG });
    await holder.connect();
    const args = logs.map((log, i) => serveArgs(data, runs, log.url, i));
    const serves: Started[] = [];
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${logs[0]!.schema}.meta IN ACCESS EXCLUSIVE MODE`);
      serves.push(spawnServe(args[0]!));
      await untilWaiting(`${logs[0]!.schema}.meta`, serves[0]!);
      // Two more start at once; one binds the store and runs, with the keys it found or made.
      serves.push(spawnServe(args[1]!), spawnServe(args[2]!));
      const settled = await Promise.all(serves.slice(1).map((serve) => serve.outcome));
      assert.equal(settled.filter((outcome) => 'listening' in outcome).length, 1, serves.map((serve) => serve.stderr()).join('\n---\n'));
      // Serve 0 goes on: its log opens, and the store is another's.
      await holder.query('ROLLBACK');
      assert.deepEqual(await serves[0]!.outcome, { exited: 2 }, serves[0]!.stderr());
      await checkRound(`round ${round}`, data, serves, args);
      // It found no data directory, and says it leaves it with the keys, whoever made them.
      assert.ok(
        serves[0]!.stderr().includes(`. Left as it is (a refused start removes nothing, as another serve started with this data directory may be using what it made): the data directory ${data}, which was not there before this start, holding log-key.pem and receipt-key.pem; remove ${data} if no serve uses it.\n`),
        serves[0]!.stderr(),
      );
    } finally {
      await holder.end().catch(() => undefined);
      for (const serve of serves) await serve.stop();
    }
  }
});

test('three serves started at the same moment with one new data directory, each with its own PostgreSQL log, on one PostgreSQL run store: one runs, and keeps its keys on disk, restarting with the same options (four rounds)', { timeout: 300_000 }, async () => {
  for (let round = 0; round < 4; round++) {
    const data = join(scratch.tempDir(), 'data');
    const runs = (await pgs.fresh('runprint_refused_runs')).url;
    const logs = [await pgs.fresh('runprint_refused_log'), await pgs.fresh('runprint_refused_log'), await pgs.fresh('runprint_refused_log')];
    const args = logs.map((log, i) => serveArgs(data, runs, log.url, i));
    const serves = args.map((one) => spawnServe(one));
    try {
      await checkRound(`round ${round}`, data, serves, args);
      assert.ok(existsSync(dirname(data)));
    } finally {
      for (const serve of serves) await serve.stop();
    }
  }
});

test('a start whose log database holds another key\'s log, held while another serve with the same new data directory starts: it makes no log key, removes none, and the other serve keeps the one it runs with', { timeout: 120_000 }, async () => {
  for (let round = 0; round < 2; round++) {
    const data = join(scratch.tempDir(), 'data');
    // A log of the default name, signed by a key this data directory never had.
    const other = await pgs.fresh('runprint_refused_log');
    const key = await parsePrivateKey((await generateKeyFiles('localhost/runprint')).privateKeyPem);
    const log = await TransparencyLog.open({ storage: await PostgresLog.open(other.url), origin: 'localhost/runprint', key, checkpointDelayMs: 10 });
    await log.append(new TextEncoder().encode('an entry'));
    await log.close();
    const own = await pgs.fresh('runprint_refused_log');
    const holder = new pg.Client({ connectionString: TEST_PG });
    await holder.connect();
    const serves: Started[] = [];
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${other.schema}.meta IN ACCESS EXCLUSIVE MODE`);
      serves.push(spawnServe(['--data', data, '--log-db', other.url, '--no-capture']));
      await untilWaiting(`${other.schema}.meta`, serves[0]!);
      // Another serve with the same data directory and a log database of its own starts meanwhile.
      const args = ['--data', data, '--log-db', own.url, '--no-capture'];
      serves.push(spawnServe(args));
      const outcome = await serves[1]!.outcome;
      assert.ok('listening' in outcome, serves[1]!.stderr());
      const announced = /^runprint: log (\S+)$/m.exec(serves[1]!.stderr())![1]!;
      await holder.query('ROLLBACK');
      const refusal = await serves[0]!.outcome;
      assert.deepEqual(existsSync(data) ? readdirSync(data) : ['(the data directory is gone)'], ['log-key.pem'], `round ${round}: the running serve's key stays: ${serves[0]!.stderr()}`);
      assert.deepEqual(refusal, { exited: 2 }, serves[0]!.stderr());
      // It took the key the other serve made (a log this key cannot sign is another log), and removed nothing.
      assert.match(serves[0]!.stderr(), /^runprint: ERR_LOG_CONFIG_MISMATCH: last stored checkpoint is not signed by this log's key: .* Left as it is \(a refused start removes nothing, .*\): the data directory .*, holding log-key\.pem; remove .* if no serve uses it\.$/m);
      assert.equal(await serves[1]!.stop(), 0);
      const again = spawnServe(args);
      serves.push(again);
      assert.ok('listening' in (await again.outcome), again.stderr());
      assert.equal(/^runprint: log (\S+)$/m.exec(again.stderr())?.[1], announced, 'the same log key');
    } finally {
      await holder.end().catch(() => undefined);
      for (const serve of serves) await serve.stop();
    }
  }
});
