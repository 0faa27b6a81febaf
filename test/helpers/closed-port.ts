/**
 * A loopback port that refuses connections, for tests of an upstream or server that cannot be
 * reached. Not one a server had and closed: the system hands such a port to the next server that
 * listens on port 0, and with test files running side by side that can be another test's server
 * (a proxied call then got that server's 429 instead of the 502 expected). This one is taken below
 * the system's range for port 0 (Linux: net.ipv4.ip_local_port_range), which listen(0) never
 * gives, and is checked to refuse a connection now.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** The lowest port the system hands to listen(0) (Linux; 32768, its default, elsewhere). */
function ephemeralFloor(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024) return low;
  } catch {
    // Not Linux: its usual range starts at or above 32768 too (IANA's 49152 for most others).
  }
  return 32768;
}

/** Whether a connection to 127.0.0.1:port is refused (nothing listens there). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Whether this process could listen on 127.0.0.1:port (nothing holds it). */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port nothing listens on, nor will by a test's listen(0): see the file's comment. */
export async function closedPort(): Promise<number> {
  const floor = ephemeralFloor();
  // Above the well-known ports and PostgreSQL's and the like, below the range for port 0.
  const low = Math.min(20000, floor - 1000);
  for (let tries = 0; tries < 100; tries++) {
    const port = low + Math.floor(Math.random() * (floor - low));
    if ((await free(port)) && (await refused(port))) return port;
  }
  throw new Error(`no closed loopback port found from ${low} to ${floor - 1}`);
}
