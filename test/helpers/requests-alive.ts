/**
 * The HTTP client requests alive at once in this process (made, not yet closed), and the most there
 * were, seen through Node's diagnostics channel for each request made: a request made past a
 * client's connections while every one is held would be a request the agent has to queue.
 * Counted from the test file's `before` to its `after`; set `mostAlive` to 0 to count anew.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { after, before } from 'node:test';

export function requestsAlive(): { readonly alive: number; mostAlive: number } {
  let alive = 0;
  const counts = {
    get alive(): number {
      return alive;
    },
    mostAlive: 0,
  };
  const made = ({ request }: { request: ClientRequest }): void => {
    alive += 1;
    counts.mostAlive = Math.max(counts.mostAlive, alive);
    request.once('close', () => (alive -= 1));
  };
  before(() => subscribe('http.client.request.created', made as (message: unknown) => void));
  after(() => unsubscribe('http.client.request.created', made as (message: unknown) => void));
  return counts;
}
