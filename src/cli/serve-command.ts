/** `runprint serve`: the HTTP service on 127.0.0.1 with a data directory (README, "Service"). */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError, UsageError } from '../errors.ts';
import { createApp } from '../server/app.ts';
import { listen } from '../server/listen.ts';
import { EXIT, type CliIo } from './io.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8480;
export const DEFAULT_DATA_DIR = 'runprint-data';

export async function serveCommand(args: string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { host: { type: 'string' }, port: { type: 'string' }, data: { type: 'string' } },
      strict: true,
    }));
  } catch {
    throw new UsageError('ERR_CLI_USAGE', 'serve takes --host H, --port N and --data DIR');
  }
  const host = values.host ?? process.env['RUNPRINT_HOST'] ?? DEFAULT_HOST;
  const portText = values.port ?? process.env['RUNPRINT_PORT'] ?? String(DEFAULT_PORT);
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new UsageError('ERR_CLI_USAGE', '--port must be a number from 0 to 65535');
  }
  const dataDir = resolve(io.cwd, values.data ?? process.env['RUNPRINT_DATA'] ?? DEFAULT_DATA_DIR);
  try {
    await mkdir(dataDir, { recursive: true });
  } catch {
    throw new InputError('ERR_INPUT_UNREADABLE', 'data directory cannot be created');
  }
  const app = createApp({ version: process.env['npm_package_version'] ?? '0.1.0' });
  const server = await listen(app, { host, port: Number(portText) });
  io.stderr(`runprint: listening on http://${server.host}:${server.port} (data directory ${dataDir})\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return EXIT.ok;
}
