/**
 * Connections refused past serve's --max-connections (503 ERR_HTTP_BUSY) and
 * --max-client-connections (429 ERR_HTTP_TOO_MANY_REQUESTS) are shown to the operator: /healthz
 * counts them since start (`connections.refused`), and stderr counts them on one line a minute at
 * most, naming the option to raise (`runprint: refused N connections since ...`), never a line per
 * connection. serve's reporter with mocked timers, and a real serve sent connections past both caps.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, mock, test } from 'node:test';
import { refusedConnectionsReporter } from '../src/cli/serve-limits.ts';
import { validate } from './helpers/json-schema.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-serve-refused-connections-');
after(() => endServeTest(undefined, scratch));

const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
const HEALTH_SCHEMA = OPENAPI.paths['/healthz']!['get']!.responses['200']!.content['application/json']!.schema;

const BUSY = '503 ERR_HTTP_BUSY past --max-connections 4 (raise it if the machine has room for more connections)';
const CLIENT = '429 ERR_HTTP_TOO_MANY_REQUESTS past --max-client-connections 2 from one client address (raise it if a client needs more at once)';
const TAIL = '; /healthz connections.refused counts them since start\n';

test('serve\'s refused-connections reporter: the first at once, the others counted by cap in one line a minute after the line before, since the first of them; nothing when none; flush prints the count held', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let clock = 0;
    // 2026-01-31T12:00:00Z at clock 0.
    const wall = () => Date.UTC(2026, 0, 31, 12) + clock;
    const lines: string[] = [];
    const reporter = refusedConnectionsReporter((text) => void lines.push(text), { maxConnections: 4, maxClientConnections: 2 }, () => clock, wall);
    // None refused: a stop prints nothing.
    reporter.flush();
    assert.deepEqual(lines, []);
    reporter.report('clientConnections');
    assert.deepEqual(lines, [`runprint: refused 1 connection since 2026-01-31T12:00:00Z: 1 with ${CLIENT}${TAIL}`]);
    // 300 more over the next 30 s, of both caps (the first 2.5 s after the line): nothing printed yet.
    clock += 2_500;
    mock.timers.tick(2_500);
    for (let i = 0; i < 300; i++) {
      reporter.report(i % 3 === 0 ? 'clientConnections' : 'connections');
      clock += 100;
      mock.timers.tick(100);
    }
    assert.equal(lines.length, 1, 'no line per connection');
    // A minute after the line: one line with their counts by cap, since the first of them.
    clock += 27_500;
    mock.timers.tick(27_500);
    assert.equal(lines.length, 2);
    assert.equal(lines[1], `runprint: refused 300 connections since 2026-01-31T12:00:02Z: 200 with ${BUSY}; 100 with ${CLIENT}${TAIL}`);
    // Quiet for longer than a minute: no line, and the next is printed at once.
    clock += 120_000;
    mock.timers.tick(120_000);
    assert.equal(lines.length, 2, 'nothing to print');
    reporter.report('connections');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], `runprint: refused 1 connection since 2026-01-31T12:03:00Z: 1 with ${BUSY}${TAIL}`);
    // At a stop, the count held is printed, once.
    reporter.report('connections');
    reporter.report('connections');
    assert.equal(lines.length, 3);
    reporter.flush();
    reporter.flush();
    assert.equal(lines.length, 4);
    assert.equal(lines[3], `runprint: refused 2 connections since 2026-01-31T12:03:00Z: 2 with ${BUSY}${TAIL}`);
    // The timer set for them does not print again.
    clock += 60_000;
    mock.timers.tick(60_000);
    assert.equal(lines.length, 4);
  } finally {
    mock.timers.reset();
  }
});

/** Opens `count` connections from `localAddress` and resolves once all are connected (idle: no request). */
function holdConnections(port: number, count: number, localAddress: string): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
          socket.on('error', () => undefined);
        }),
    ),
  );
}

/** `GET path` on a connection of its own from `localAddress`: the status and JSON body of the answer. */
function getFrom(port: number, localAddress: string, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, path, localAddress, agent: false, headers: { connection: 'close' } }, (incoming) => {
      let text = '';
      incoming.setEncoding('utf8').on('data', (part: string) => (text += part));
      incoming.on('error', reject).on('end', () => resolve({ status: incoming.statusCode ?? 0, body: JSON.parse(text) }));
    });
    outgoing.on('error', reject).end();
  });
}

test('a real serve refuses connections past --max-client-connections (429) and --max-connections (503): /healthz counts them, and stderr has the first at once and the others on the line its stop prints, not a line each', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--max-connections', '4', '--max-client-connections', '2'] });
  const held: Socket[] = [];
  try {
    const refusedLines = () => serve.stderr().split('\n').filter((line) => line.startsWith('runprint: refused '));
    // Two held from one address: three more from it are past its cap.
    held.push(...(await holdConnections(serve.port, 2, '127.0.0.2')));
    const clientRefused = await Promise.all([0, 1, 2].map(() => getFrom(serve.port, '127.0.0.2', '/healthz')));
    assert.deepEqual(clientRefused.map((answer) => answer.status), [429, 429, 429]);
    assert.equal((clientRefused[0]!.body as { error: { code: string } }).error.code, 'ERR_HTTP_TOO_MANY_REQUESTS');
    const deadline = performance.now() + 5_000;
    while (refusedLines().length === 0) {
      assert.ok(performance.now() < deadline, `the first is printed at once; stderr:\n${serve.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(refusedLines()[0]!, /^runprint: refused 1 connection since [0-9-]{10}T[0-9:]{8}Z: 1 with 429 ERR_HTTP_TOO_MANY_REQUESTS past --max-client-connections 2 from one client address \(raise it if a client needs more at once\); \/healthz connections\.refused counts them since start$/);
    // Two more held from another address: the server's four are open, a fifth is past its cap.
    held.push(...(await holdConnections(serve.port, 2, '127.0.0.3')));
    const busy = await Promise.all([0, 1].map(() => getFrom(serve.port, '127.0.0.4', '/healthz')));
    assert.deepEqual(busy.map((answer) => answer.status), [503, 503]);
    assert.equal((busy[0]!.body as { error: { code: string } }).error.code, 'ERR_HTTP_BUSY');
    assert.equal(refusedLines().length, 1, `no line per connection; stderr:\n${serve.stderr()}`);
    for (const socket of held.splice(0)) socket.destroy();
    // /healthz once a connection is free again (one refused before serve saw the held ones close
    // is counted here too).
    let refusedBusy = 2;
    let health: { status: number; body: unknown };
    for (;;) {
      health = await getFrom(serve.port, '127.0.0.1', '/healthz');
      if (health.status !== 503) break;
      refusedBusy += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(health.status, 200);
    const body = health.body as { capture?: unknown; connections: unknown };
    assert.deepEqual(body.connections, { refused: { connections: refusedBusy, clientConnections: 3, unanswered: 0 } });
    assert.ok(body.capture !== undefined, 'capture\'s member is still there');
    assert.deepEqual(validate(body, HEALTH_SCHEMA as never, OPENAPI as never), [], 'the answer docs/openapi.json documents');
    assert.equal(await serve.stop(), 0);
    // The stop prints the line of those counted since the first.
    const lines = refusedLines();
    assert.equal(lines.length, 2, serve.stderr());
    assert.match(lines[1]!, new RegExp(`^runprint: refused ${refusedBusy + 2} connections since [0-9-]{10}T[0-9:]{8}Z: ${refusedBusy} with 503 ERR_HTTP_BUSY past --max-connections 4 \\(raise it if the machine has room for more connections\\); 2 with 429 ERR_HTTP_TOO_MANY_REQUESTS past --max-client-connections 2 from one client address `));
  } finally {
    for (const socket of held) socket.destroy();
    await serve.kill();
  }
});
