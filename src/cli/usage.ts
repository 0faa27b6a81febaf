/**
 * The command line as documented: every command, its arguments and options, in one place.
 * `runprint help` prints from it; the README's CLI table and docs/LOG.md 19.3 are checked against
 * it, and it against the options each command's parser accepts (test/cli-docs.test.ts).
 */

/** One option of a command. */
export interface OptionUsage {
  /** The long name without the dashes: `from`. */
  readonly name: string;
  /** The value's placeholder (`F`, `FILE`, `files|shards`); absent for a flag. */
  readonly value?: string;
  /** The command fails without it. */
  readonly required?: boolean;
  /** May be given more than once. */
  readonly repeatable?: boolean;
  /** The environment variable read when the option is not given. */
  readonly env?: string;
  /** An input that may be `-`: read from standard input (an output never is). */
  readonly stdin?: boolean;
  readonly description: string;
}

/** One form of a command: `sign` has two, every other command one. */
export interface CommandUsage {
  /** The command words: `verify`, `log submit`. */
  readonly command: string;
  /** The positional arguments as the synopsis writes them: `RECEIPT`, `[FILE|-]`, `A B`. */
  readonly arguments?: string;
  /** The positional arguments that may be `-` (standard input), as help names them: `RECEIPT`, `A or B`. */
  readonly stdinArguments?: string;
  readonly options: readonly OptionUsage[];
  /** What the command does, in one line. */
  readonly summary: string;
  /** More about it, for `COMMAND --help`: sentences, wrapped when printed. */
  readonly details?: string;
  /** One to three command lines that work as written, each starting with `runprint`. */
  readonly examples: readonly string[];
}

const from: OptionUsage = { name: 'from', value: 'F', description: 'how to read the composition or provider request (default auto)' };
const response: OptionUsage = { name: 'response', value: 'FILE', stdin: true, description: 'the provider response, for the served facts' };
const json = (what: string): OptionUsage => ({ name: 'json', description: `print ${what} as JSON` });
/** The run store as serve takes it: the commands that read it open the same one. */
const runsDb: OptionUsage = { name: 'runs-db', value: 'URL', env: 'RUNPRINT_RUNS_DB', description: 'the PostgreSQL run store serve --runs-db writes (default: RUNPRINT_LOG_DB when set, as serve, else <data>/runs.sqlite)' };
/** For the commands that read only runs: --data names the other store. */
const runsDbOnly: OptionUsage = { ...runsDb, description: 'the PostgreSQL run store serve --runs-db writes (default: RUNPRINT_LOG_DB when set, as serve, else <data>/runs.sqlite); not with --data, which names the other store' };
const strict: OptionUsage = { name: 'strict', description: 'refuse a provider request with a member or role its mapping does not know (default: warn)' };
const salts: OptionUsage = { name: 'salts', value: 'FILE', stdin: true, description: 'salts kept apart from the composition (SPEC 2.5)' };
const outputFormat: OptionUsage = { name: 'output-format', value: 'F', description: 'how to read --output (default: the request\'s format, or as the receipt records)' };
const publicKey: OptionUsage = { name: 'key', value: 'PUB', required: true, repeatable: true, stdin: true, description: 'public key (PEM, JWK or verifier key); every key given must have signed' };
const logKey: OptionUsage = { name: 'key', value: 'LOGKEY.vkey', required: true, stdin: true, description: 'the log\'s verifier key, or a file holding it' };

/** Every command form, in the order `runprint help` lists them. */
export const COMMAND_USAGE: readonly CommandUsage[] = [
  { command: 'canon', arguments: '[FILE|-]', options: [], summary: 'print the RFC 8785 canonical bytes of a JSON document', examples: ['runprint canon request.json', 'runprint canon - < request.json > request.canonical.json'] },
  { command: 'id', arguments: '[FILE|-]', options: [from, response, strict, json('the identity document')], summary: 'print the identity (--json: the identity document)', details: 'Prints the run identity when served facts are known (a composition that has them, or --response with a provider request), else the request identity. --response is a JSON response body or an SSE stream.', examples: ['runprint id request.json', 'runprint id request.json --response response.json', 'runprint id request.json --from openai-chat --strict --json'] },
  { command: 'explain', arguments: '[FILE|-]', options: [from, response, strict, json('the components, elements and digests')], summary: 'show components and elements with their digests', examples: ['runprint explain request.json', 'runprint explain request.json --response response.json --json'] },
  {
    command: 'diff',
    arguments: 'A B',
    stdinArguments: 'A or B',
    options: [
      from,
      { name: 'response-a', value: 'FILE', stdin: true, description: 'the provider response to request A, for its served facts and output digest' },
      { name: 'response-b', value: 'FILE', stdin: true, description: 'the provider response to request B, for its served facts and output digest' },
      strict,
      { name: 'values', description: 'print the differing values (cut to 80 characters); only when both sides are compositions or requests' },
      json('the result and the differences'),
    ],
    summary: 'exit 0 when the identities are equal, 1 when not',
    details: 'A and B are each a composition, a provider request, a receipt (DSSE envelope or Sigstore bundle; its signatures are not checked, run verify for that) or an identity document (id --json). --response-a and --response-b give the response (JSON body or SSE stream) to a provider request A or B, so that its served facts make the run identity. Compares run identities when both sides have one, else request identities, and lists each difference with its component and JSON path; with a receipt or an identity document on either side, only identities, component digests, list counts and served facts. When both sides have an output (a receipt, or a request with its response), the output digests are compared too and printed on an output line; the exit code says only whether the identities are equal. Values are never printed without --values.',
    examples: ['runprint diff request.json other-request.json --values', 'runprint diff request.json other-request.json --response-a response.json --response-b other-response.json', 'runprint diff receipt.json request.json --response-b response.json --json'],
  },
  {
    command: 'model-digest',
    arguments: 'PATH',
    options: [
      json('the digest, serialization parameters and every resource'),
      { name: 'method', value: 'files|shards', description: 'files (one resource per file) or shards (default)' },
      { name: 'shard-size', value: 'N', description: 'shard size in bytes for --method shards (default 268435456)' },
      { name: 'allow-symlinks', description: 'follow symbolic links to regular files instead of refusing them' },
    ],
    summary: 'OpenSSF Model Signing v1.0 digest of a file or directory',
    details: 'Prints sha256:<hex>. Files are hashed in parallel worker threads; on a terminal, standard error shows progress from the start: bytes done, rate and time left.',
    examples: ['runprint model-digest ./my-model', 'runprint model-digest ./my-model --method files --json'],
  },
  {
    command: 'keygen',
    options: [
      { name: 'out', value: 'DIR', description: 'folder to write the key files to (default: the current directory)' },
      { name: 'name', value: 'NAME', description: 'name of the signed-note verifier key (default runprint)' },
      json('the key id, the verifier key and the files written'),
    ],
    summary: 'new Ed25519 receipt key: private PEM, public PEM, JWK, verifier key',
    details: 'Writes receipt-key.pem (private, PKCS #8, mode 0600: keep it secret), receipt-key.pub.pem (SubjectPublicKeyInfo), receipt-key.pub.jwk (RFC 8037) and receipt-key.vkey (C2SP signed-note verifier key named NAME) into DIR, and prints the key id. Existing files are never overwritten.',
    examples: ['runprint keygen --out keys', 'runprint keygen --out keys --name example.com/app --json'],
  },
  {
    command: 'sign',
    options: [
      { name: 'key', value: 'KEY', required: true, stdin: true, description: 'Ed25519 private key, PKCS #8 PEM (runprint keygen)' },
      { name: 'composition', value: 'FILE', required: true, stdin: true, description: 'the composition, or the provider request body' },
      { name: 'output', value: 'FILE', required: true, stdin: true, description: 'the provider response body or stream, as received' },
      from,
      strict,
      salts,
      outputFormat,
      { name: 'started', value: 'T', description: 'RFC 3339 time the run started' },
      { name: 'finished', value: 'T', description: 'RFC 3339 time the run finished' },
      { name: 'capture', value: 'cli|sdk|proxy', description: 'where the run was captured (default cli)' },
      { name: 'parent', value: 'RUNID', repeatable: true, description: 'a parent run of this agent step' },
      { name: 'retrieval', value: 'FILE', stdin: true, description: 'the documents the run rests on (declared retrieval): a JSON array of {"source", "text"}' },
      { name: 'out', value: 'FILE', description: 'write the receipt to FILE instead of standard output' },
      { name: 'bundle', value: 'FILE', description: 'also write a Sigstore bundle v0.3 with a public-key hint' },
    ],
    summary: 'sign a receipt (DSSE envelope JSON)',
    details: 'Signs an in-toto statement in a DSSE envelope. --composition is a composition or a provider request body as runprint id reads it, with the same warning on standard error for each member or role its mapping does not know (--strict refuses it instead); --output is the response as received (JSON body or SSE stream). --retrieval names the documents the answer rests on, as capture takes them (withRetrieval, the runprint-retrieval header): each text must occur in a string of the request\'s system or input, checked as capture checks it, and the receipt states each by source and digest as a captured run\'s receipt does; a text the request does not hold is ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST and nothing is signed.',
    examples: ['runprint sign --key keys/receipt-key.pem --composition request.json --output response.json --out receipt.json', 'runprint sign --key keys/receipt-key.pem --composition request.json --output stream.sse --capture sdk --bundle receipt.sigstore.json', 'runprint sign --key keys/receipt-key.pem --composition request.json --output response.json --retrieval documents.json --out receipt.json'],
  },
  {
    command: 'sign',
    options: [
      { name: 'add-to', value: 'RECEIPT', required: true, stdin: true, description: 'the receipt to add a signature to (payload unchanged)' },
      { name: 'key', value: 'KEY', required: true, stdin: true, description: 'Ed25519 private key, PKCS #8 PEM' },
      { name: 'out', value: 'FILE', description: 'write the receipt to FILE instead of standard output' },
    ],
    summary: 'add a signature to a receipt',
    examples: ['runprint sign --add-to receipt.json --key gateway-key.pem --out receipt.both.json'],
  },
  {
    command: 'verify',
    arguments: 'RECEIPT',
    stdinArguments: 'RECEIPT',
    options: [
      publicKey,
      { name: 'composition', value: 'FILE', stdin: true, description: 'recompute the identity from this composition or provider request' },
      from,
      salts,
      { name: 'output', value: 'FILE', stdin: true, description: 'recompute the output digest from this response body or stream' },
      outputFormat,
      { name: 'log-proof', value: 'FILE', stdin: true, description: 'also check this C2SP tlog-proof of the receipt, offline' },
      { name: 'log-key', value: 'VKEY', stdin: true, description: 'the log\'s verifier key, or a file holding it (with --log-proof)' },
      { name: 'log-origin', value: 'ORIGIN', description: 'the log\'s checkpoint origin (default: the log key\'s name)' },
      { name: 'witness', value: 'VKEY', repeatable: true, stdin: true, description: 'a witness\'s cosignature/v1 verifier key, or a file holding it' },
      { name: 'witness-threshold', value: 'K', description: 'at least K of the --witness keys must have cosigned (default: all)' },
      json('the report'),
    ],
    summary: 'check a receipt offline; exit 0 when every check passes',
    details: 'Reads a DSSE envelope or a Sigstore bundle holding one and prints each check. Every --key must have signed. --log-proof checks offline that the log signed a checkpoint including the RECEIPT file\'s exact bytes, and that the witnesses cosigned it.',
    examples: ['runprint verify receipt.json --key keys/receipt-key.pub.pem', 'runprint verify receipt.json --key keys/receipt-key.pub.pem --composition request.json --output response.json --json', 'runprint verify receipt.json --key keys/receipt-key.pub.pem --log-proof receipt.tlog-proof --log-key log.vkey'],
  },
  {
    command: 'show',
    arguments: 'RECEIPT|BUNDLE',
    stdinArguments: 'RECEIPT|BUNDLE',
    options: [
      { name: 'log-proof', value: 'FILE', stdin: true, description: 'also show what this tlog-proof claims (origin, index, size, signers)' },
      json('the claims'),
    ],
    summary: 'what a receipt claims, as a person reads it; checks nothing (use verify)',
    details: 'Shows the run and request identities, the model asked for and the facts of what served it, the times, the capture point, the output digests, the parent runs, the key ids the signatures name and, with --log-proof, where the proof says the log holds the receipt. No signature, digest or proof is checked: every line is a claim until runprint verify has checked it.',
    examples: ['runprint show receipt.json', 'runprint show receipt.sigstore.json --json', 'runprint show receipt.json --log-proof receipt.tlog-proof'],
  },
  {
    command: 'disclose salts',
    options: [{ name: 'components', value: 'NAME[,NAME]...', required: true, description: 'the request components to salt' }],
    summary: 'fresh random salts for the named components (JSON)',
    details: 'Keep the salts with the content they salt (in the composition\'s "salts" member or beside it), never in a receipt.',
    examples: ['runprint disclose salts --components system,input > salts.json'],
  },
  {
    command: 'disclose create',
    options: [
      { name: 'composition', value: 'FILE', required: true, stdin: true, description: 'the composition (or provider request) the receipt was signed for' },
      { name: 'reveal', value: 'PART', required: true, repeatable: true, description: 'a component whole (system) or one element of a list (input[2])' },
      from,
      salts,
      { name: 'output', value: 'FILE', stdin: true, description: 'the provider response, when the composition has no served facts' },
      outputFormat,
      { name: 'out', value: 'FILE', description: 'write the disclosure to FILE instead of standard output' },
    ],
    summary: 'reveal chosen components (system) or elements (input[2]) of a run',
    examples: ['runprint disclose create --composition request.json --salts salts.json --output response.json --reveal system --out disclosure.json', "runprint disclose create --composition request.json --output response.json --reveal 'input[0]' --reveal tools"],
  },
  {
    command: 'disclose verify',
    arguments: 'DISCLOSURE',
    stdinArguments: 'DISCLOSURE',
    options: [{ name: 'receipt', value: 'RECEIPT', required: true, stdin: true, description: 'the receipt the disclosure is about' }, publicKey, json('the report')],
    summary: 'check the receipt, then the disclosure against it',
    examples: ['runprint disclose verify disclosure.json --receipt receipt.json --key keys/receipt-key.pub.pem'],
  },
  {
    command: 'serve',
    options: [
      { name: 'host', value: 'H', env: 'RUNPRINT_HOST', description: 'address to listen on (default 127.0.0.1)' },
      { name: 'port', value: 'N', env: 'RUNPRINT_PORT', description: 'port to listen on (default 8480)' },
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'data directory (default ./runprint-data)' },
      { name: 'max-connections', value: 'N', env: 'RUNPRINT_MAX_CONNECTIONS', description: 'connections open at once (default 1000, or the open-file limit less 64)' },
      { name: 'max-client-connections', value: 'N', env: 'RUNPRINT_MAX_CLIENT_CONNECTIONS', description: 'open connections per client address (default 128; 0: no cap)' },
      { name: 'max-client-requests', value: 'N', env: 'RUNPRINT_MAX_CLIENT_REQUESTS', description: 'requests in progress per client address, proxied calls aside (default 64; 0: no cap)' },
      { name: 'headers-timeout', value: 'MS', env: 'RUNPRINT_HEADERS_TIMEOUT', description: 'close a connection that has not sent its headers by then (default 10000)' },
      { name: 'request-timeout', value: 'MS', env: 'RUNPRINT_REQUEST_TIMEOUT', description: 'the longest a whole request may take to arrive (default 120000)' },
      { name: 'shutdown-grace', value: 'MS', env: 'RUNPRINT_SHUTDOWN_GRACE', description: 'on SIGTERM or Ctrl-C, how long requests in progress may take to finish before they are cut (captured calls then recorded as cut by serve: network-error, incomplete cut; default 10000; a second signal stops at once)' },
      { name: 'log-name', value: 'NAME', env: 'RUNPRINT_LOG_NAME', description: 'the log\'s checkpoint origin and key name' },
      { name: 'log-key', value: 'KEY.pem', env: 'RUNPRINT_LOG_KEY', description: 'the log\'s private key (default <data>/log-key.pem)' },
      { name: 'log-token', value: 'T', env: 'RUNPRINT_LOG_TOKEN', description: 'bearer token that log writes must present (better in the variable: a command line is visible to other users of the machine)' },
      { name: 'log-anonymous-writes', description: 'accept log writes without a token' },
      { name: 'log-db', value: 'URL', env: 'RUNPRINT_LOG_DB', description: 'PostgreSQL instead of <data>/log.sqlite' },
      { name: 'log-check', value: 'full|tiles', env: 'RUNPRINT_LOG_CHECK', description: 'how much of the stored log to check at start (default full)' },
      { name: 'log-witness', value: 'URL=VKEY', repeatable: true, env: 'RUNPRINT_LOG_WITNESSES', description: 'ask a witness to cosign each checkpoint' },
      { name: 'log-witness-timeout', value: 'MS', env: 'RUNPRINT_LOG_WITNESS_TIMEOUT', description: 'how long to wait for each witness (default 400)' },
      { name: 'witness-key', value: 'KEY.pem', env: 'RUNPRINT_WITNESS_KEY', description: 'act as a witness with this key' },
      { name: 'witness-name', value: 'NAME', env: 'RUNPRINT_WITNESS_NAME', description: 'the witness\'s name' },
      { name: 'witness-log', value: 'VKEY', repeatable: true, env: 'RUNPRINT_WITNESS_LOG', description: 'a log the witness cosigns' },
      { name: 'sign-key', value: 'KEY.pem', env: 'RUNPRINT_SIGN_KEY', description: 'sign receipts at POST /v1/sign with this key (never the log key)' },
      { name: 'sign-token', value: 'T', env: 'RUNPRINT_SIGN_TOKEN', description: 'bearer token that POST /v1/sign requires (its own, not the log token)' },
      { name: 'no-log', description: 'run without the log' },
      { name: 'upstream', value: 'NAME=URL', repeatable: true, env: 'RUNPRINT_UPSTREAMS', description: 'where the proxy forwards /NAME/... (openai, anthropic; each NAME once; default the providers\' public URLs)' },
      { name: 'upstream-weights', value: 'NAME=PATH', repeatable: true, env: 'RUNPRINT_UPSTREAM_WEIGHTS', description: 'the model file or directory the server at --upstream NAME loaded: digested once at start (as model-digest), recorded with each of its runs as the derived served fact weights' },
      { name: 'upstream-timeout', value: 'MS', env: 'RUNPRINT_UPSTREAM_TIMEOUT', description: 'how long an upstream may send nothing, before its answer or between two chunks of it, before the call is cut (504 ERR_CAPTURE_UPSTREAM_TIMEOUT before an answer; default 300000)' },
      { name: 'capture-token', value: 'T', env: 'RUNPRINT_CAPTURE_TOKEN', description: 'token every proxied call and /v1/runs request must carry in runprint-capture-token (better in the variable: a command line is visible to other users of the machine)' },
      { name: 'capture-fail-closed', env: 'RUNPRINT_CAPTURE_FAIL_CLOSED', description: 'refuse calls (503) while runs cannot be recorded, and calls whose runprint-retrieval declaration cannot be (400, 431), instead of forwarding them' },
      { name: 'capture-durability', value: 'sync|async', env: 'RUNPRINT_CAPTURE_DURABILITY', description: 'sync: an answer ends once its run is on disk (default); async: at once' },
      { name: 'capture-keep', value: '[PART=]content|digest', repeatable: true, env: 'RUNPRINT_CAPTURE_KEEP', description: 'what the run store keeps of each part (default: content, but request: digest)' },
      { name: 'capture-salt', value: 'NAME[,NAME]', repeatable: true, env: 'RUNPRINT_CAPTURE_SALT', description: 'salt these request components (model, system, input, context, tools, parameters, configuration; all: every one) with a fresh random salt per run: receipts and the log then carry commitments (SPEC 5.6), opened only by disclosure; the salts are kept in the run store as the salts part' },
      { name: 'capture-retention', value: 'DAYS', env: 'RUNPRINT_CAPTURE_RETENTION', description: 'delete stored content after this many days; records and receipts stay' },
      { name: 'capture-retrieval-max', value: 'BYTES', env: 'RUNPRINT_CAPTURE_RETRIEVAL_MAX', description: 'most bytes of runprint-retrieval headers (declared retrieval) a proxied call may carry, 1024 to 1048576 (default 65536); request header blocks may be 16 KiB longer' },
      { name: 'capture-workers', value: 'N', env: 'RUNPRINT_CAPTURE_WORKERS', description: 'worker threads (0 to 8) that compute proxied calls\' identities while the calls go upstream, and exchanges\', off the event loop; 0: the event loop does, once the call is sent (default: 2 from 4 cores; below, the event loop, but one worker, started when the first comes, for requests of 1 MiB or more)' },
      { name: 'capture-key', value: 'KEY.pem', env: 'RUNPRINT_CAPTURE_KEY', description: 'the key that signs captured runs\' receipts (default --sign-key, else <data>/receipt-key.pem)' },
      { name: 'runs-db', value: 'URL', env: 'RUNPRINT_RUNS_DB', description: 'PostgreSQL for the run store (default: --log-db when given, else <data>/runs.sqlite)' },
      { name: 'otlp-endpoint', value: 'URL', description: 'export a span per captured run over OTLP/HTTP (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces)' },
      { name: 'capture-log', value: 'URL', env: 'RUNPRINT_CAPTURE_LOG', description: 'send captured runs\' receipts to this remote runprint log (its URL prefix, where its /checkpoint is: http://HOST:PORT/ for a runprint serve) instead of serve\'s own, through the run store as a durable outbox' },
      { name: 'capture-log-token', value: 'T', env: 'RUNPRINT_CAPTURE_LOG_TOKEN', description: 'bearer token for writes to the --capture-log log' },
      { name: 'capture-log-key', value: 'VKEY', env: 'RUNPRINT_CAPTURE_LOG_KEY', description: 'the --capture-log log\'s verifier key, or a file holding it: a receipt\'s index is stored only once a checkpoint signed with it includes the receipt' },
      { name: 'no-capture', description: 'run without the capture proxy and run store (refused with an option of capture, such as --upstream or --capture-log)' },
    ],
    summary: 'run the HTTP service, its transparency log and the capture proxy (default 127.0.0.1:8480)',
    details: 'Every option also reads the environment variable named beside it (docs/LOG.md 19.3).',
    examples: ['runprint serve', 'runprint serve --upstream openai=http://127.0.0.1:11434', 'runprint serve --host 0.0.0.0 --data /var/lib/runprint'],
  },
  {
    command: 'log submit',
    arguments: 'RECEIPT',
    stdinArguments: 'RECEIPT',
    options: [
      { name: 'log', value: 'URL', required: true, description: 'the log\'s URL prefix' },
      { name: 'token', value: 'T', env: 'RUNPRINT_LOG_TOKEN', description: 'the log\'s bearer token' },
      { name: 'proof-out', value: 'FILE', description: 'wait for a checkpoint and save the verified tlog-proof to a new FILE' },
      { ...logKey, required: false, description: 'the log\'s verifier key, or a file holding it (with --proof-out)' },
    ],
    summary: 'add a receipt to a log; prints its index and leafHash',
    details: 'POSTs the receipt byte for byte. With --proof-out, waits (at most 5 s) for a signed checkpoint covering it, verifies the tlog-proof with the log key and writes it to FILE, which must not exist yet.',
    examples: ['runprint log submit receipt.json --log http://127.0.0.1:8480/', 'runprint log submit receipt.json --log http://127.0.0.1:8480/ --proof-out receipt.tlog-proof --key log.vkey'],
  },
  {
    command: 'log proof',
    arguments: 'RECEIPT',
    stdinArguments: 'RECEIPT',
    options: [
      { name: 'log', value: 'URL', required: true, description: 'the log\'s URL prefix' },
      logKey,
      { name: 'index', value: 'N', description: 'the receipt\'s index, instead of a look-up by its run identity' },
      json('index, size, leafHash and the tlog-proof'),
      { name: 'out', value: 'FILE', description: 'write the tlog-proof to a new FILE instead of printing it' },
    ],
    summary: 'a C2SP tlog-proof of the receipt, proved from the log\'s tiles',
    details: 'Verifies the log\'s signed checkpoint, finds the receipt (by its run identity, or at --index), proves its inclusion from the tiles and prints a tlog-proof that verifies offline. Exit 1 when the receipt is not in the log.',
    examples: ['runprint log proof receipt.json --log http://127.0.0.1:8480/ --key log.vkey --out receipt.tlog-proof'],
  },
  {
    command: 'log monitor',
    arguments: 'URL',
    options: [
      logKey,
      { name: 'state', value: 'FILE', description: 'where the last verified checkpoint is kept' },
      { name: 'once', description: 'check once and exit' },
      { name: 'interval', value: 'S', description: 'seconds between checks (default 60; 1 to 2147483, about 24.8 days)' },
      json('each check, one JSON object per line'),
    ],
    summary: 'follow a log; exit 1 on a fork, a rewrite or a dropped entry',
    details: 'Each new checkpoint must be signed, consistent with the last one kept in the state file, and its new entries must hash to its tiles. A log that cannot be reached is tried again at the next interval; a fork, a rewrite or a dropped entry exits 1 and leaves the state file unchanged.',
    examples: ['runprint log monitor http://127.0.0.1:8480/ --key log.vkey --once --json', 'runprint log monitor http://127.0.0.1:8480/ --key log.vkey --state monitor.json --interval 300'],
  },
  {
    command: 'runs list',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDbOnly,
      { name: 'since', value: 'T', description: 'runs started at or after this RFC 3339 time' },
      { name: 'until', value: 'T', description: 'runs started before this RFC 3339 time' },
      { name: 'model', value: 'M', description: 'runs that asked for this model' },
      { name: 'served-model', value: 'M', description: 'runs the provider says this model served' },
      { name: 'provider', value: 'P', description: 'runs made with this provider\'s API: openai or anthropic' },
      { name: 'status', value: 'S', description: 'complete, incomplete, failed or unidentified' },
      { name: 'parent', value: 'RUN_ID', description: 'runs naming this run identity as their parent (its children)' },
      { name: 'verdict', value: 'V', description: 'runs replayed with this verdict: identical, same-request-other-server, divergent, variant or cannot-replay (the originals, not the replays)' },
      { name: 'component', value: 'NAME=DIGEST', description: 'runs whose component (or list element) NAME has this digest; DIGEST alone: any part' },
      { name: 'limit', value: 'N', description: 'at most N runs, newest first (default 100, at most 1000)' },
      { name: 'before', value: 'SEQ', description: 'runs stored before the run numbered SEQ (its seq in --json): the next page' },
      json('the runs, as GET /v1/runs answers'),
    ],
    summary: 'the captured runs, newest first, one line each',
    details: 'Reads the run store of the data directory (runs.sqlite), also while serve runs. Each line: start time, capture id, format, model asked (and served, when different), status, run identity. When more runs match than are shown, a line on standard error says so and gives the --before SEQ that lists the next ones. --component finds every run that used a given system prompt, tool, message or document: the digests are those of runprint id --json and runs show. --status: complete (a whole output), failed (an error status or event, or no answer), incomplete (an answer whose output is not whole: cut, aborted, timed out, unreadable or too large); unidentified selects the runs whose request has no identity, however they ended. --verdict selects the runs that runprint replay replayed with that verdict (linked in the run store\'s replay_links): a run replayed twice matches both verdicts; a replay refused before anything was sent leaves no link.',
    examples: ['runprint runs list --served-model gpt-4o-2024-08-06 --since 2026-12-01T00:00:00Z', 'runprint runs list --provider anthropic --status failed --before 4812', 'runprint runs list --component system=9f2c...e1 --json'],
  },
  {
    command: 'runs show',
    arguments: 'RUN',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDbOnly,
      json('the run record, identity document and receipt status'),
      { name: 'composition', description: 'print the run\'s composition as JSON, from the stored content, with its served facts and the salts of its salted components: what disclose create --composition takes (secret as the content)' },
      { name: 'response', description: 'print the run\'s response bytes as the client received them (JSON, or the SSE stream), from the stored content, checked against the record\'s raw digest: what verify --output takes' },
    ],
    summary: 'one captured run: identities, served facts, status, digests, receipt',
    details: 'RUN is a capture id (the runprint-capture-id header), a record digest, or a run identity (every capture of that run is shown; --composition: the latest). A replay names the run it replays (replay of) with its verdict, and a replayed run lists its replays (runprint replay links them in the run store). --composition needs every piece of the run\'s content and, for a salted run (serve --capture-salt), its salts in the store (ERR_REPLAY_CONTENT_NOT_STORED otherwise: kept as a digest only, or deleted by the retention period); --response likewise needs the response body in the store (the latest capture of a run identity).',
    examples: ['runprint runs show rp-run-v1-sha256-fcee... --json', 'runprint runs show 910c2159-56c4-48fd-beb5-8f0b7da44f35 --composition > composition.json', 'runprint runs show 910c2159-56c4-48fd-beb5-8f0b7da44f35 --response > response.json'],
  },
  {
    command: 'runs receipt',
    arguments: 'RUN',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve or in-process capture records into (default ./runprint-data)' },
      runsDb,
      { name: 'out', value: 'FILE', description: 'write the receipt to FILE instead of standard output' },
      { name: 'key-out', value: 'FILE', description: 'also write the public key that checks it (PEM), derived from <data>/receipt-key.pem when that key signed the receipt' },
    ],
    summary: 'a captured run\'s receipt (DSSE envelope JSON), to check offline with runprint verify',
    details: 'RUN is a capture id, a record digest or a run identity (its latest capture). The receipt is printed exactly as it was signed and logged (GET /v1/runs/ID/receipt gives the same bytes). --key-out writes the public half of the data directory\'s receipt-key.pem, which signs the receipts of in-process capture and of serve without --capture-key or --sign-key; a receipt signed by another key is refused (ERR_SIGNATURE_UNKNOWN_KEY), and that key\'s public half is what to hand over then. Whoever can write the data directory can re-sign: hand the public key over once, on its own, and pin it. A run without a receipt: ERR_RUN_NO_RECEIPT, saying why (not signed yet, or none is made for it).',
    examples: ['runprint runs receipt 910c2159-56c4-48fd-beb5-8f0b7da44f35 --out receipt.json --key-out receipt-key.pub.pem', 'runprint runs receipt rp-run-v1-sha256-fcee... > receipt.json'],
  },
  {
    command: 'runs diff',
    arguments: 'A B',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDbOnly,
      { name: 'values', description: 'print the differing values (cut to 80 characters); only when both runs\' content is stored' },
      json('the identities, differences, served facts and outputs'),
    ],
    summary: 'two captured runs compared: components, elements, served facts, outputs',
    details: 'A and B are each a capture id, a record digest or a run identity (the latest capture of it). Differences are by component and list element, with paths inside the values when both runs\' content is stored, else by element digests. Served facts are compared fact by fact, outputs by digest and, when both response bodies are stored, by where they first differ. A run recorded unidentified (its request has no identity) is refused: ERR_REPLAY_UNIDENTIFIED, exit 3. Exit 0 when A and B have the same run identity and the same output, 1 otherwise.',
    examples: ['runprint runs diff 910c2159-56c4-48fd-beb5-8f0b7da44f35 0b5e87a4-3f38-4f6b-a1a9-5d1e0e0f3c2a', 'runprint runs diff 910c2159-56c4-48fd-beb5-8f0b7da44f35 0b5e87a4-3f38-4f6b-a1a9-5d1e0e0f3c2a --values --json'],
  },
  {
    command: 'runs verify',
    arguments: 'RUN',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDb,
      { name: 'key', value: 'PUB', stdin: true, description: 'the receipt public key (PEM, JWK or verifier key; default: derived from <data>/receipt-key.pem, with the runs in PostgreSQL only when --data or RUNPRINT_DATA names the directory)' },
      { name: 'log-db', value: 'URL', env: 'RUNPRINT_LOG_DB', description: 'the PostgreSQL log serve --log-db writes (default <data>/log.sqlite)' },
      { name: 'log', value: 'URL', description: 'instead, a runprint log over HTTP (its URL prefix) holding the receipts, as serve --capture-log sends them: its checkpoint and tiles are fetched (needs --log-key)' },
      { name: 'log-key', value: 'VKEY', stdin: true, description: 'the log\'s verifier key, or a file holding it (default: derived from <data>/log-key.pem, with the runs in PostgreSQL only when --data or RUNPRINT_DATA names the directory)' },
      { name: 'log-origin', value: 'O', description: 'the log\'s origin (default: the --log-key\'s name, else RUNPRINT_LOG_NAME, else localhost/runprint)' },
      { name: 'witness', value: 'VKEY', repeatable: true, stdin: true, description: 'a witness\'s cosignature/v1 verifier key, or a file holding it' },
      { name: 'witness-threshold', value: 'K', description: 'at least K of the --witness keys must have cosigned the log\'s checkpoint (default: all)' },
      { name: 'monitor-state', value: 'FILE', stdin: true, description: 'a log monitor --state file: the log must be consistent with the checkpoint it kept' },
      json('each check, its status and what it relies on'),
    ],
    summary: 'check everything checkable about a stored run, and say what each check relies on',
    details: 'Checks the record digest, the request and run identities recomputed from the stored content, the raw and output digests recomputed from the stored response bytes, the receipt (verifyReceipt with the receipt public key, against that composition and those bytes; every fact of the run the receipt signs, model, capture point, parents, times, served and output facts, must be the one stored, else ERR_IDENTITY_MISMATCH naming each with both values) and the receipt\'s inclusion in the log at its stored index (a tlog-proof from the log.sqlite of the data directory), and with --monitor-state the log\'s consistency with a monitor\'s checkpoint. It checks the whole SQLite run store, and the log.sqlite it reads, with SQLite\'s quick_check at open (which the other runs commands skip for a store over 256 MiB): a damaged page anywhere in either is ERR_STORE_CORRUPT, exit 3. A check whose material is not there (content kept as a digest only, no receipt yet, no log) is not checked, with the reason; never a pass. Exit 0 when no check made fails, 1 when one fails (named).',
    examples: ['runprint runs verify 910c2159-56c4-48fd-beb5-8f0b7da44f35', 'runprint runs verify rp-run-v1-sha256-fcee... --key receipt.pub.pem --log-key log.vkey --witness witness.vkey --json'],
  },
  {
    command: 'runs group',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDbOnly,
      { name: 'by', value: 'KEY', required: true, description: 'request, run, component=NAME (a request component or output) or element=NAME (each element of a list component)' },
      { name: 'since', value: 'T', description: 'runs started at or after this RFC 3339 time' },
      { name: 'until', value: 'T', description: 'runs started before this RFC 3339 time' },
      { name: 'model', value: 'M', description: 'runs that asked for this model' },
      { name: 'served-model', value: 'M', description: 'runs the provider says this model served' },
      { name: 'provider', value: 'P', description: 'runs made with this provider\'s API: openai or anthropic' },
      { name: 'status', value: 'S', description: 'complete, incomplete, failed or unidentified' },
      { name: 'parent', value: 'RUN_ID', description: 'runs naming this run identity as their parent (its children)' },
      { name: 'verdict', value: 'V', description: 'runs replayed with this verdict: identical, same-request-other-server, divergent, variant or cannot-replay (the originals, not the replays)' },
      { name: 'component', value: 'NAME=DIGEST', description: 'runs whose component (or list element) NAME has this digest; DIGEST alone: any part' },
      { name: 'limit', value: 'N', description: 'count at most the N newest runs (default: every matching run)' },
      { name: 'values', description: 'show the stored content each component or element digest names (cut to 80 characters)' },
      json('the groups with their counts and capture ids'),
    ],
    summary: 'count the runs a query selects by request or run identity, component or element',
    details: 'How many distinct request identities ran (--by request), which versions of a system prompt or tool list (--by component=system), which runs shared a retrieval document (--by element=context). Each group: its identity or digest, the number of runs, the first and last start time, the capture ids. Runs without one (unidentified, no elements) are the group (none).',
    examples: ['runprint runs group --by request --since 2026-12-05T00:00:00Z', 'runprint runs group --by component=system --values', 'runprint runs group --by element=context --json'],
  },
  {
    command: 'replay',
    arguments: 'RUN',
    options: [
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDbOnly,
      { name: 'upstream', value: 'NAME=URL', repeatable: true, description: 'where to send the replay (NAME openai or anthropic, each once; default the provider\'s public URL); a query, such as Azure\'s ?api-version=..., is sent after the recorded path' },
      { name: 'model', value: 'M', description: 'send this model instead: a variant' },
      { name: 'param', value: 'K=V', repeatable: true, description: 'set request member K to V (JSON, else a string): a variant' },
      { name: 'weights', value: 'PATH', description: 'a local model\'s weights (file or directory): their digest must be the original\'s weights fact, else nothing is sent' },
      json('the verdict and its evidence'),
    ],
    summary: 'send a stored run\'s request again and say how the answer compares',
    details: 'Rebuilds the request from the run store (each piece checked against its digest), sends it through the capture core with the key in OPENAI_API_KEY or ANTHROPIC_API_KEY (AZURE_OPENAI_API_KEY, as the api-key header, to an Azure OpenAI upstream), stores the replay as a run linked to the original, and gives one verdict: identical, same-request-other-server, divergent, variant or cannot-replay (docs/REPLAY.md). Exit 0 identical, 1 same-request-other-server, divergent or variant, 3 cannot-replay.',
    examples: ['runprint replay 910c2159-56c4-48fd-beb5-8f0b7da44f35', 'runprint replay rp-run-v1-sha256-fcee... --upstream openai=http://127.0.0.1:8000 --json', 'runprint replay 910c2159-56c4-48fd-beb5-8f0b7da44f35 --model gpt-4.1 --param temperature=0'],
  },
  {
    command: 'replay',
    options: [
      { name: 'runs', value: 'QUERY', required: true, description: 'the runs to replay: all, or a GET /v1/runs query (since, until, model, servedModel, provider, status, parent, verdict, component, before; limit caps the whole set)' },
      { name: 'data', value: 'DIR', env: 'RUNPRINT_DATA', description: 'the data directory serve captures into (default ./runprint-data)' },
      runsDbOnly,
      { name: 'upstream', value: 'NAME=URL', repeatable: true, description: 'where to send the replays (NAME openai or anthropic, each once; default the provider\'s public URL); a query, such as Azure\'s ?api-version=..., is sent after the recorded path' },
      { name: 'model', value: 'M', description: 'send this model instead: every replay a variant' },
      { name: 'param', value: 'K=V', repeatable: true, description: 'set request member K to V (JSON, else a string): every replay a variant' },
      { name: 'weights', value: 'PATH', description: 'a local model\'s weights (file or directory), digested once: a run whose weights fact is another digest, or that has none, is cannot-replay and nothing is sent for it' },
      { name: 'concurrency', value: 'N', description: 'replays in flight at once (default 1, at most 64)' },
      { name: 'rate', value: 'R', description: 'replays started per second, at most (default: no limit; 0.000001 to 100000)' },
      { name: 'json', value: 'FILE', required: true, description: 'the report: verdict counts, one row per run, served-model changes (the batch state is kept in FILE.state until it is written)' },
      { name: 'report', value: 'FILE', description: 'the same report as a static, self-contained HTML page' },
    ],
    summary: 'replay every run a query selects, resumably, and report the verdicts',
    details: 'The set is fixed when the batch starts (runs that are themselves replays are left out). Each finished replay is marked in the run store with its link, so the same command run again after an interruption (even kill -9) goes on where it stopped and never sends a finished replay again. A progress line goes to stderr on a terminal. The report names the served-model changes found. Exit 0 when every run is identical, 1 otherwise.',
    examples: ['runprint replay --runs all --json replays.json', 'runprint replay --runs "servedModel=gpt-4o-2024-08-06&since=2026-12-01T00:00:00Z" --concurrency 4 --rate 10 --json replays.json --report replays.html'],
  },
];

/** What the placeholders mean, printed after the commands. */
export const USAGE_NOTES: readonly string[] = [
  'F is auto, composition, openai-chat, openai-responses or anthropic-messages (default auto).',
  'An input may be - (standard input) where runprint COMMAND --help says so.',
  'runprint help COMMAND or runprint COMMAND --help: its options and examples; runprint --version: the version.',
];

/** One option as a synopsis writes it: `--key PUB`, `[--from F]`, `[--witness VKEY]...`. */
export function formatOption(option: OptionUsage): string {
  const text = option.value === undefined ? `--${option.name}` : `--${option.name} ${option.value}`;
  if (option.required === true) return option.repeatable === true ? `${text}...` : text;
  return option.repeatable === true ? `[${text}]...` : `[${text}]`;
}

/** A command form's synopsis, in pieces: its words, arguments, required options, then the others. */
function synopsisParts(usage: CommandUsage): string[] {
  const required = usage.options.filter((option) => option.required === true);
  const optional = usage.options.filter((option) => option.required !== true);
  return [usage.command, ...(usage.arguments === undefined ? [] : [usage.arguments]), ...[...required, ...optional].map(formatOption)];
}

/** A command form's synopsis: `verify RECEIPT --key PUB... [--composition FILE] ...`. */
export function formatSynopsis(usage: CommandUsage): string {
  return synopsisParts(usage).join(' ');
}

const WIDTH = 100;

/** Pieces joined into lines of at most WIDTH columns (a longer piece gets a line of its own). */
function wrap(pieces: string[], first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first + pieces[0]!;
  for (const piece of pieces.slice(1)) {
    if (line.length + 1 + piece.length > WIDTH) {
      lines.push(line);
      line = rest + piece;
    } else {
      line += ` ${piece}`;
    }
  }
  lines.push(line);
  return lines;
}

/** `runprint help`: every command form with its synopsis and what it does. */
export function formatUsage(): string {
  const out = ['usage: runprint <command> [options]', '', 'commands:'];
  for (const usage of COMMAND_USAGE) {
    out.push(...wrap(synopsisParts(usage), '  ', '        '), `      ${usage.summary}`);
  }
  out.push('', ...USAGE_NOTES, '');
  return out.join('\n');
}

/** A paragraph wrapped to WIDTH columns, each line indented by `indent`. */
function wrapText(text: string, indent: string): string[] {
  return wrap(text.split(' '), indent, indent);
}

/** The forms `runprint help WORDS` and `WORDS --help` describe: `log` gives all three log forms, `log proof` one. */
export function formsOf(words: string): CommandUsage[] {
  return COMMAND_USAGE.filter((usage) => usage.command === words || usage.command.startsWith(`${words} `));
}

/** One option as `COMMAND --help` lists it: the flag, then what it does and how it may be given. */
function formatOptionLine(option: OptionUsage): string[] {
  const flag = option.value === undefined ? `--${option.name}` : `--${option.name} ${option.value}`;
  const notes = [option.required === true ? 'required' : '', option.repeatable === true ? 'repeatable' : '', option.env === undefined ? '' : `env ${option.env}`, option.stdin === true ? 'standard input if -' : ''].filter((note) => note !== '');
  const text = notes.length === 0 ? option.description : `${option.description} (${notes.join('; ')})`;
  const column = 30;
  if (flag.length + 4 > column) return [`  ${flag}`, ...wrapText(text, ' '.repeat(column))];
  const lines = wrapText(text, ' '.repeat(column));
  lines[0] = `  ${flag.padEnd(column - 2)}${lines[0]!.slice(column)}`;
  return lines;
}

/**
 * `runprint help WORDS` and `WORDS --help`: the synopsis of each form, then per form what it does,
 * its options and its examples; undefined when no command has these words.
 */
export function formatCommandHelp(words: string): string | undefined {
  const forms = formsOf(words);
  if (forms.length === 0) return undefined;
  const out: string[] = [];
  forms.forEach((usage, index) => out.push(...wrap(synopsisParts(usage), index === 0 ? 'usage: runprint ' : '       runprint ', '           ')));
  for (const usage of forms) {
    out.push('', `${forms.length > 1 ? `${usage.command}: ` : ''}${usage.summary}`);
    if (usage.details !== undefined) out.push(...wrapText(usage.details, '  '));
    if (usage.stdinArguments !== undefined) out.push(...wrapText(`${usage.stdinArguments} may be - for standard input.`, '  '));
    if (usage.options.length > 0) out.push('', 'options:', ...usage.options.flatMap(formatOptionLine));
    out.push('', 'examples:', ...usage.examples.map((example) => `  ${example}`));
  }
  // The note on F only where a form takes an F (--from, --output-format); which inputs may be -
  // (standard input) each option and argument says itself (stdin, stdinArguments).
  const takesF = forms.some((usage) => usage.options.some((option) => option.value === 'F'));
  if (takesF) out.push('', USAGE_NOTES[0]!);
  out.push('');
  return out.join('\n');
}
