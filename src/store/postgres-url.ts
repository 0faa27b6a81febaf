/** PostgreSQL connection URLs as runprint hands them to node-postgres (LOG.md 19.5), and as its messages name them. */
import { InputError, LogError } from '../errors.ts';
import { printable } from '../io/printable.ts';
import { printableUrl } from '../log/client.ts';

/**
 * node-postgres (pg 8) verifies the server's certificate and host name for `sslmode=prefer`,
 * `require` and `verify-ca`, as for `verify-full`, and prints a multi-line deprecation warning for
 * each: pg 9 will give them libpq's weaker meaning. runprint keeps today's checks and says so in
 * one line: those modes are handed over as `sslmode=verify-full`. `uselibpqcompat=true` (libpq's
 * meaning, asked for explicitly) is left as it is. Returns the URL to use and the mode replaced.
 */
export function pinSslMode(url: string): { url: string; replaced?: string } {
  if (/[?&]uselibpqcompat=true(?:&|#|$)/.test(url)) return { url };
  const match = /([?&]sslmode=)(prefer|require|verify-ca)(?=&|#|$)/.exec(url);
  if (match === null) return { url };
  return { url: url.slice(0, match.index) + match[1] + 'verify-full' + url.slice(match.index + match[0].length), replaced: match[2]! };
}

/**
 * The database a connection URL names, as a message may show it: the URL without its user name,
 * password and query (they may hold credentials; printableUrl). Throws on a URL that does not parse.
 */
export function databaseShown(url: string): string {
  return printableUrl(new URL(url));
}

/** Why the server refused a connection, for the SQLSTATEs that say it (the first connection's error and a pool's later ones: postgres-log.ts). */
export const NO_CONNECTION_LEFT = "max_connections, or the role's or the database's connection limit, is reached";
export const NOT_ACCEPTING = 'starting up, shutting down or in recovery';

/**
 * The error of a first connection the server or the network refused, said with what the URL names
 * (its host and port, for an authentication failure its user name, for startup options the server
 * refused the names of the settings they set; never its password, a setting's value or the
 * server's text), or undefined for any other failure. Only for the open's first statement, which
 * is fixed: a syntax error, an unknown setting or a bad value there can only be the options'.
 * `what` names the database: `log`, `run`.
 */
export function connectionRefused(error: unknown, url: string, what: 'log' | 'run'): LogError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  // libpq's defaults: a socket or localhost, port 5432; `?host=` may name a socket folder.
  const host = printable(parsed.hostname === '' ? (parsed.searchParams.get('host') ?? 'localhost') : parsed.hostname, 80);
  const port = parsed.port === '' ? (parsed.searchParams.get('port') ?? '5432') : parsed.port;
  const server = `${host}:${printable(port, 8)}`;
  const user = (): string => {
    let name: string;
    try {
      name = decodeURIComponent(parsed.username);
    } catch {
      name = parsed.username;
    }
    return name === '' ? 'the default user (the URL names none)' : `the user ${printable(name, 64)}`;
  };
  // The startup options (`?options=-c name=value`, else PGOPTIONS) the server refused: said with
  // the names they set, never their values or the server's text (either may hold what the URL holds).
  const options = (why: string, names: boolean): LogError => {
    const given = parsed.searchParams.get('options') ?? undefined;
    const source = given !== undefined ? "the URL's options parameter" : process.env['PGOPTIONS'] !== undefined ? 'PGOPTIONS' : "the URL's parameters";
    const set = names ? settingNames(given ?? process.env['PGOPTIONS'] ?? '') : [];
    const listed = set.length === 0 ? '' : `; they set ${set.slice(0, 6).map((name) => printable(name, 64)).join(', ')}${set.length > 6 ? `, and ${set.length - 6} more` : ''}`;
    return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL server at ${server} refused the startup options of the ${what} database's connection (${source}): ${why} (${code}${listed})${names ? '' : '; options takes -c name=value settings, such as ?options=-c%20search_path%3Dname'}`);
  };
  switch (code) {
    case '42601': // syntax_error: the options are not command-line switches the server takes
      return options('they are not settings the server can read', false);
    case '42704': // undefined_object: unrecognized configuration parameter
      return options('a setting they name does not exist', true);
    case '22023': // invalid_parameter_value
      return options('a setting has a value the server refuses', true);
    case '55P02': // cant_change_runtime_param: a setting only the server's configuration (and a restart) sets
      return options('a setting they name cannot be set for a session', true);
    case '42501': {
      // insufficient_privilege while applying a setting (set_config_option); otherwise (no CONNECT
      // privilege, say) postgresFault's ERR_STORE_PERMISSION.
      const routine = (error as { routine?: unknown } | null)?.routine;
      return typeof routine === 'string' && /config_option/.test(routine) ? options(`${user()} may not change a setting they name`, true) : undefined;
    }
    case '53300': // too_many_connections
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL server at ${server} has no connection left for the ${what} database (53300: ${NO_CONNECTION_LEFT})`);
    case '57P03': // cannot_connect_now
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL server at ${server} does not accept connections now (57P03: it is ${NOT_ACCEPTING}); try again`);
    case '28000': // invalid_authorization_specification: no such role, or no pg_hba.conf entry lets it in
    case '28P01': {
      // invalid_password
      const who = user();
      const why = code === '28P01' ? 'the password was refused' : 'authentication failed, or the role does not exist';
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL server at ${server} refused ${who} for the ${what} database: ${why} (${code})`);
    }
    case 'ECONNREFUSED':
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database cannot be reached: nothing accepts connections at ${server} (ECONNREFUSED); is the server running, on that host and port?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database cannot be reached: the host name ${host} does not resolve (${code})`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database cannot be reached at ${server} (${code})`);
    default:
      return undefined;
  }
}

/**
 * The names of the settings a startup options string sets (`-c name=value`, `-cname=value`,
 * `--name=value`; words split at unescaped white space, as the server splits them), without values.
 */
function settingNames(options: string): string[] {
  const words = options.split(/(?<!\\)\s+/).filter((word) => word !== '');
  const names: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const setting = word === '-c' ? words[++i] : word.startsWith('--') ? word.slice(2) : word.startsWith('-c') ? word.slice(2) : undefined;
    const name = setting?.split('=')[0];
    if (name !== undefined && name !== '') names.push(name.replace(/-/g, '_'));
  }
  return names;
}

/** How many schemas of a search_path a message lists, and how long each may be. */
const SCHEMAS_SHOWN = 4;
const SCHEMA_CHARS = 64;

/**
 * The elements of a search_path setting as the server shows it (`"$user", public`): comma-separated,
 * an element in double quotes may hold a comma.
 */
function searchPathSchemas(searchPath: string): string[] {
  const schemas: string[] = [];
  let current = '';
  let quoted = false;
  for (const character of searchPath) {
    if (character === '"') quoted = !quoted;
    if (character === ',' && !quoted) {
      schemas.push(current.trim());
      current = '';
    } else {
      current += character;
    }
  }
  schemas.push(current.trim());
  return schemas.filter((schema) => schema !== '' && schema !== '""');
}

/**
 * A search_path element as a message shows it: as written (an identifier, quoted or not, which
 * `CREATE SCHEMA` takes as the search_path does), unless it holds a character a terminal must not
 * get or is long, then through printable.
 */
function schemaShown(schema: string): string {
  const bare = schema.replaceAll('"', '');
  return [...schema].length <= SCHEMA_CHARS && printable(bare, SCHEMA_CHARS) === bare ? schema : printable(schema, SCHEMA_CHARS);
}

/**
 * The error of a session whose search_path names no schema that exists (current_schema() is
 * null), naming the database (`database`: databaseShown, no credentials) and the schemas the
 * search_path lists (`searchPath`: current_setting('search_path')). For a command that only reads
 * (`reader`), ERR_INPUT_NOT_FOUND: there is no store there, as for a schema without its tables; for
 * a process that would make the tables (serve; replay's links, after its run store was found), ERR_STORE_UNAVAILABLE: runprint makes
 * tables, not schemas. Either says how to make the schema (`CREATE SCHEMA`) or name another.
 */
export function noSuchSchema(searchPath: string, database: string, what: 'log' | 'run', reader: boolean): LogError | InputError {
  const schemas = searchPathSchemas(searchPath);
  const listed = schemas.slice(0, SCHEMAS_SHOWN).map(schemaShown).join(', ') + (schemas.length > SCHEMAS_SHOWN ? `, and ${schemas.length - SCHEMAS_SHOWN} more` : '');
  // "$user" stands for a schema named as the session's user: the one to make is the first other.
  const first = schemas.find((schema) => schema !== '"$user"');
  const missing = schemas.length === 0 ? 'the search_path names no schema' : schemas.length === 1 ? `the schema ${listed} that the search_path names does not exist` : `none of the schemas the search_path names (${listed}) exists`;
  const create = first === undefined ? undefined : `create ${schemas.length === 1 ? 'it' : 'one'} (CREATE SCHEMA ${schemaShown(first)})`;
  const rename = (which: string) => `name ${which} in the URL (?options=-c%20search_path%3DNAME)`;
  if (reader) {
    const store = what === 'run' ? 'run store' : 'log';
    const make = create === undefined ? '' : `${create} for runprint serve --${what === 'run' ? 'runs' : 'log'}-db to make the ${store} in, or `;
    return new InputError('ERR_INPUT_NOT_FOUND', `no ${store} in the PostgreSQL database ${database}: ${missing}: ${make}${rename(`the ${store}'s schema`)}`);
  }
  return new LogError('ERR_STORE_UNAVAILABLE', `in the PostgreSQL ${what} database ${database}, ${missing}: ${create === undefined ? '' : `${create}, or `}${rename('another')}`);
}
