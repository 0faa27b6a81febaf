/**
 * SharedSteps (src/capture/steps.ts): named steps kept in a store several processes share. Each
 * name's takes and ends reach the store in the order this process made them, so a call never
 * overtakes the end of the call before it (the store answering late); a store that fails links
 * nothing and is reported, never thrown at the call. The store here keeps a name's state as
 * postgres-steps.ts does (capture-steps-postgres.test.ts runs that one through real serves).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parentsOf, SharedSteps, type StepsStore } from '../src/capture/steps.ts';

/** A store in memory, as run_steps keeps a name; `delay` holds each answer that long (ms). */
function memoryStore(delay: { take: number; end: number }): StepsStore & { calls: string[] } {
  const names = new Map<string, { ended: string[]; endedCalls: number; last: string[] }>();
  const state = (name: string) => names.get(name) ?? names.set(name, { ended: [], endedCalls: 0, last: [] }).get(name)!;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const calls: string[] = [];
  return {
    calls,
    async take(name) {
      await wait(delay.take);
      const steps = state(name);
      if (steps.endedCalls > 0) steps.last = steps.ended;
      steps.ended = [];
      steps.endedCalls = 0;
      calls.push(`take ${name}`);
      return steps.last;
    },
    async end(name, ids) {
      await wait(delay.end);
      const steps = state(name);
      steps.ended = [...steps.ended, ...ids];
      steps.endedCalls++;
      calls.push(`end ${name} ${ids.join(',')}`);
    },
  };
}

test('a call taken after the end of the call before it follows from it, however late the store has that end', async () => {
  const store = memoryStore({ take: 0, end: 40 });
  const shared = new SharedSteps(store, (error) => assert.fail(String(error)));
  const first = shared.get('agent').take();
  assert.deepEqual(await parentsOf(first), []);
  const ended = shared.get('agent').ending(first)('run-1');
  // The next call starts at once, while the store has not answered the end yet.
  const second = shared.get('agent').take();
  assert.deepEqual(await parentsOf(second), ['run-1']);
  await ended;
  assert.deepEqual(store.calls, ['take agent', 'end agent run-1', 'take agent']);
});

test('calls started together follow from the same runs; a failed call stands for what it followed from', async () => {
  const shared = new SharedSteps(memoryStore({ take: 5, end: 5 }), (error) => assert.fail(String(error)));
  const steps = shared.get('agent');
  const root = steps.take();
  await steps.ending(root)('run-0');
  const [left, right] = [steps.take(), steps.take()];
  assert.deepEqual(await parentsOf(left), ['run-0']);
  assert.deepEqual(await parentsOf(right), ['run-0']);
  await Promise.all([steps.ending(left)(null), steps.ending(right)('run-r')]);
  assert.deepEqual((await parentsOf(steps.take())).sort(), ['run-0', 'run-r'], 'the failed call stands for run-0, what it followed from');
  // Another name is other steps.
  assert.deepEqual(await parentsOf(shared.get('other').take()), []);
});

test('a store that fails links nothing and is reported once until it works again; the call is never failed by it', async () => {
  const failures: unknown[] = [];
  let broken = true;
  const store = memoryStore({ take: 0, end: 0 });
  const flaky: StepsStore = {
    take: (name) => (broken ? Promise.reject(new Error('take failed')) : store.take(name)),
    end: (name, ids) => (broken ? Promise.reject(new Error('end failed')) : store.end(name, ids)),
  };
  const steps = new SharedSteps(flaky, (error) => failures.push(error)).get('agent');
  const links = steps.take();
  assert.deepEqual(await parentsOf(links), []);
  await steps.ending(links)('run-1');
  assert.deepEqual(await parentsOf(steps.take()), []);
  assert.deepEqual(failures.map((error) => (error as Error).message), ['take failed'], 'one report while it keeps failing');
  broken = false;
  assert.deepEqual(await parentsOf(steps.take()), []);
  broken = true;
  await steps.ending([])('run-2');
  assert.deepEqual(failures.map((error) => (error as Error).message), ['take failed', 'end failed'], 'reported again after it worked');
});

test('a store that does not answer holds a call at most the wait: it goes on without links, reported once', async () => {
  const failures: unknown[] = [];
  const stalled: StepsStore = { take: () => new Promise(() => undefined), end: () => new Promise(() => undefined) };
  const steps = new SharedSteps(stalled, (error) => failures.push(error), 50).get('agent');
  const started = performance.now();
  const links = steps.take();
  assert.deepEqual(await parentsOf(links), []);
  await steps.ending(links)('run-1');
  // The name's next call is not queued behind the stalled one for ever either.
  assert.deepEqual(await parentsOf(steps.take()), []);
  assert.ok(performance.now() - started < 2_000, 'three waits of 50 ms, not a stall');
  assert.equal(failures.length, 1);
  assert.match((failures[0] as Error).message, /did not answer within 0\.05 s for named steps/);
});
