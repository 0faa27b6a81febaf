/** `runprint serve`: the HTTP service on 127.0.0.1 with a data directory (README, "Service"). */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError, UsageError } from '../errors.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../receipt/keys.ts';
import { createApp, type AppOptions } from '../server/app.ts';
import { DEFAULT_LOG_NAME, TransparencyLog } from '../store/log-service.ts';
import { openStorage } from '../store/open-storage.ts';
import { listen } from '../server/listen.ts';
import { EXIT, type CliIo } from './io.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8480;
export const DEFAULT_DATA_DIR = 'runprint-data';
/** In the data directory, when no --log-key is given: the log key made on first start. */
export const LOG_KEY_FILE = 'log-key.pem';

/** The --log-key file, or the data directory's own key, created owner-only (0600) on first start. */
async function logKey(dataDir: string, cwd: string, file: string | undefined, name: string): Promise<SigningKey> {
  const path = file === undefined ? join(dataDir, LOG_KEY_FILE) : resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (file !== undefined || (error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new InputError('ERR_INPUT_UNREADABLE', 'log key file cannot be read');
    }
    text = (await generateKeyFiles(name)).privateKeyPem;
    try {
      await writeFile(path, text, { mode: 0o600, flag: 'wx' });
    } catch {
      throw new InputError('ERR_FILE_UNWRITABLE', 'log key file cannot be written in the data directory');
    }
  }
  return parsePrivateKey(text);
}

export async function serveCommand(args: string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        'no-log': { type: 'boolean' },
        'log-name': { type: 'string' },
        'log-key': { type: 'string' },
        'log-token': { type: 'string' },
        'log-db': { type: 'string' },
        'log-anonymous-writes': { type: 'boolean' },
      },
      strict: true,
    }));
  } catch {
    throw new UsageError(
      'ERR_CLI_USAGE',
      'serve takes --host H, --port N, --data DIR, --log-name NAME, --log-key KEY.pem, --log-token T, --log-db URL, --log-anonymous-writes and --no-log',
    );
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
  const options: AppOptions = { version: process.env['npm_package_version'] ?? '0.1.0' };
  let log: TransparencyLog | undefined;
  if (values['no-log'] !== true) {
    const name = values['log-name'] ?? process.env['RUNPRINT_LOG_NAME'] ?? DEFAULT_LOG_NAME;
    const key = await logKey(dataDir, io.cwd, values['log-key'] ?? process.env['RUNPRINT_LOG_KEY'], name);
    const url = values['log-db'] ?? process.env['RUNPRINT_LOG_DB'];
    log = await TransparencyLog.open({ storage: await openStorage({ dataDir, ...(url === undefined ? {} : { url }) }), origin: name, key });
    const token = values['log-token'] ?? process.env['RUNPRINT_LOG_TOKEN'];
    options.log = { log, ...(token === undefined || token === '' ? {} : { token }), anonymousWrites: values['log-anonymous-writes'] === true };
  }
  const app = createApp(options);
  let server;
  try {
    server = await listen(app, { host, port: Number(portText) });
  } catch (error) {
    await log?.close();
    throw error;
  }
  io.stderr(`runprint: listening on http://${server.host}:${server.port} (data directory ${dataDir})\n`);
  if (log !== undefined) io.stderr(`runprint: log ${log.verifierKey}\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(() => log?.close()).then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return EXIT.ok;
}
