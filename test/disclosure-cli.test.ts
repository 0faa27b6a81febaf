/** `runprint disclose salts|create|verify`: files, outputs, exit codes and one-line errors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { discloseCommand } from '../src/cli/disclose-command.ts';
import { COMMAND_USAGE, formatCommandHelp } from '../src/cli/usage.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { disclosureComposition, SALTS } from './fixtures/disclosure-run.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { folder, file, cli } = cliFolder('runprint-disclose-cli-');

const composition = disclosureComposition();
const runId = computeIdentity(composition).runId!;
const { salts, ...unsalted } = composition;
file('composition.json', JSON.stringify(composition));
file('content.json', JSON.stringify(unsalted));
file('salts.json', JSON.stringify(salts));
file('output.json', '{"text":"Der Mont Blanc."}\n');

async function signed(): Promise<void> {
  const keys = await cli(['keygen', '--out', 'keys']);
  assert.equal(keys.code, 0, keys.stderr);
  await cli(['keygen', '--out', 'other']);
  const receipt = await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'composition.json', '--output', 'output.json', '--out', 'receipt.json']);
  assert.equal(receipt.code, 0, receipt.stderr);
}
const ready = signed();

test('disclose salts prints 64 hex digits per named component, fresh each time', async () => {
  const first = await cli(['disclose', 'salts', '--components', 'system,input']);
  const second = await cli(['disclose', 'salts', '--components', 'system,input']);
  assert.equal(first.code, 0, first.stderr);
  const a = JSON.parse(first.stdout);
  assert.deepEqual(Object.keys(a), ['system', 'input']);
  for (const salt of Object.values(a)) assert.match(salt as string, /^[0-9a-f]{64}$/);
  assert.notEqual(a.system, JSON.parse(second.stdout).system);
  assert.deepEqual(await cli(['disclose', 'salts', '--components', 'system,served']), {
    code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: --components must name request components (model, system, input, context, tools, parameters, configuration)\n',
  });
});

test('create then verify: an element of a salted list, with the receipt signature checked first', async () => {
  await ready;
  const created = await cli(['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input[2]', '--reveal', 'context', '--out', 'disclosure.json']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, '');
  const text = readFileSync(join(folder, 'disclosure.json'), 'utf8');
  assert.equal(text.includes(SALTS.input), false, 'never the list salt');
  assert.equal(text.includes('Wie hoch ist die Zugspitze?'), false, 'never a neighbour');
  const verified = await cli(['disclose', 'verify', 'disclosure.json', '--receipt', 'receipt.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(verified.code, 0, verified.stdout);
  assert.match(verified.stdout, /^✓ receipt: envelope shape/);
  assert.match(verified.stdout, /✓ disclosure: revealed element is in its list \(RFC 9162 inclusion proof to the list root\): input\[2\]\n/);
  assert.ok(verified.stdout.endsWith(`disclosure verified: ${runId}\n`));
  const json = await cli(['disclose', 'verify', 'disclosure.json', '--receipt', 'receipt.json', '--key', 'keys/receipt-key.pub.pem', '--json']);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.runId, runId);
  assert.deepEqual(report.disclosure.checks.map((c: { name: string }) => c.name), ['disclosure', 'receipt', 'identity', 'run-identity', 'component', 'element']);
});

test('a receipt of a salted composition verifies with it (runprint verify), and runprint id marks salted components', async () => {
  await ready;
  const verified = await cli(['verify', 'receipt.json', '--key', 'keys/receipt-key.pub.pem', '--composition', 'composition.json']);
  assert.equal(verified.code, 0, verified.stdout);
  assert.ok(verified.stdout.endsWith(`receipt verified: ${runId}\n`));
  const unsaltedCheck = await cli(['verify', 'receipt.json', '--key', 'keys/receipt-key.pub.pem', '--composition', 'content.json']);
  assert.equal(unsaltedCheck.code, 1, 'the same content without its salts is another run');
  const id = await cli(['id', 'composition.json', '--json']);
  const document = JSON.parse(id.stdout);
  assert.deepEqual(Object.keys(document.components).filter((name) => document.components[name].salted === true), ['system', 'input', 'parameters']);
  for (const salt of Object.values(SALTS)) assert.equal(id.stdout.includes(salt), false);
});

test('salts kept apart from the content: --salts gives the same disclosure', async () => {
  const together = await cli(['disclose', 'create', '--composition', 'composition.json', '--reveal', 'system']);
  const apart = await cli(['disclose', 'create', '--composition', 'content.json', '--salts', 'salts.json', '--reveal', 'system']);
  assert.equal(apart.code, 0, apart.stderr);
  assert.equal(apart.stdout, together.stdout);
  assert.deepEqual(await cli(['disclose', 'create', '--composition', 'composition.json', '--salts', 'salts.json', '--reveal', 'system']), {
    code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: the composition has "salts" already; --salts is for salts kept apart from it\n',
  });
  file('bad-salts.json', JSON.stringify({ system: 'ab' }));
  assert.deepEqual(await cli(['disclose', 'create', '--composition', 'content.json', '--salts', 'bad-salts.json', '--reveal', 'system']), {
    code: 3, stdout: '', stderr: "runprint: ERR_COMPOSITION_INVALID: a salt must be 64 lowercase hex digits (32 bytes) (at $['salts']['system'])\n",
  });
});

test('verify fails (exit 1) for a tampered disclosure, another key, or a tampered receipt', async () => {
  await ready;
  const disclosure = JSON.parse((await cli(['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input[2]'])).stdout);
  disclosure.elements[0].element.content = 'Welcher ist höher?';
  file('tampered.json', JSON.stringify(disclosure));
  const tampered = await cli(['disclose', 'verify', 'tampered.json', '--receipt', 'receipt.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stdout, /✗ disclosure: revealed element is in its list \(RFC 9162 inclusion proof to the list root\): input\[2\]: ERR_DISCLOSURE_MISMATCH: revealed element input\[2\] is not proven part of its list in the receipt\ndisclosure NOT verified\n$/);
  file('good.json', (await cli(['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input[2]'])).stdout);
  const otherKey = await cli(['disclose', 'verify', 'good.json', '--receipt', 'receipt.json', '--key', 'other/receipt-key.pub.pem']);
  assert.equal(otherKey.code, 1);
  assert.match(otherKey.stdout, /✗ receipt: Ed25519 signature over the DSSE PAE \(key [0-9a-f]{16}\): ERR_SIGNATURE_UNKNOWN_KEY: the receipt has no signature by this key\ndisclosure NOT verified\n$/);
  assert.equal(otherKey.stdout.includes('✓ disclosure'), false, 'a disclosure is not checked against an unverified receipt');
  const envelope = JSON.parse(readFileSync(join(folder, 'receipt.json'), 'utf8'));
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString());
  statement.predicate.buildDefinition.resolvedDependencies[2].annotations.count = 6;
  envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
  file('forged-receipt.json', JSON.stringify(envelope));
  const forged = await cli(['disclose', 'verify', 'good.json', '--receipt', 'forged-receipt.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(forged.code, 1);
  assert.match(forged.stdout, /ERR_SIGNATURE_INVALID/);
  file('broken.json', '{"version":');
  const broken = await cli(['disclose', 'verify', 'broken.json', '--receipt', 'receipt.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /✗ disclosure: disclosure shape \(runprint\.disclosure\/v1\): ERR_DISCLOSURE_INVALID: disclosure is not strict JSON \(ERR_JSON_TRUNCATED\) \(at \$\)\n/);
});

test('wrong command lines are ERR_CLI_USAGE with exit 2', async () => {
  const cases: Array<[string[], string]> = [
    [['disclose', 'publish'], 'disclose takes salts, create or verify; run "runprint disclose --help"'],
    [['disclose', 'verfy', 'disclosure.json'], 'disclose takes salts, create or verify; did you mean "disclose verify"?; run "runprint disclose --help"'],
    // A name of an inherited object member is no subcommand (it was read as "verify", or crashed with an option).
    [['disclose', 'constructor'], 'disclose takes salts, create or verify; run "runprint disclose --help"'],
    [['disclose', 'toString', '--json'], 'disclose takes salts, create or verify; run "runprint disclose --help"'],
    [['disclose', 'create', '--composition', 'composition.json'], '--reveal is required: name what to disclose'],
    [['disclose', 'create', '--reveal', 'system'], '--composition is required'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'prompt'], '--reveal must name a request component (model, system, input, context, tools, parameters, configuration), with [INDEX] for one element of a list'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input[01]'], '--reveal must name a request component (model, system, input, context, tools, parameters, configuration), with [INDEX] for one element of a list'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'parameters[0]'], '--reveal parameters[…]: only list components (system, input, context, tools) have elements'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input[5]'], '--reveal input[5]: "input" has 5 element(s)'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input[1]', '--reveal', 'input[1]'], '--reveal names the same part twice'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'input', '--reveal', 'input[1]'], '--reveal input and input[1]: reveal a component whole or by element, not both'],
    [['disclose', 'create', '--composition', 'composition.json', '--reveal', 'system', '--key', 'k'], '--key cannot be used with "disclose create"'],
    [['disclose', 'verify', 'disclosure.json', '--key', 'keys/receipt-key.pub.pem'], '--receipt is required'],
    [['disclose', 'verify', '--receipt', 'receipt.json', '--key', 'keys/receipt-key.pub.pem'], 'give exactly one DISCLOSURE file (or - for standard input)'],
  ];
  for (const [argv, message] of cases) {
    assert.deepEqual(await cli(argv), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` }, argv.join(' '));
  }
  const noServed = { ...unsalted } as Record<string, unknown>;
  delete noServed['served'];
  file('no-served.json', JSON.stringify(noServed));
  assert.deepEqual(await cli(['disclose', 'create', '--composition', 'no-served.json', '--reveal', 'system']), {
    code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: the composition has no served facts: give --output FILE, the response the receipt was signed with\n',
  });
  // The help is usage.ts's, the one source: each form with its options; to standard error and
  // exit 2 when no subcommand is given.
  const help = await cli(['disclose', '--help']);
  assert.deepEqual(help, { code: 0, stdout: formatCommandHelp('disclose'), stderr: '' });
  assert.match(help.stdout, /^usage: runprint disclose salts --components NAME\[,NAME\]\.\.\.\n {7}runprint disclose create --composition FILE --reveal PART\.\.\. /);
  for (const form of COMMAND_USAGE.filter((usage) => usage.command.startsWith('disclose '))) {
    for (const option of form.options) assert.match(help.stdout, new RegExp(`\\n  --${option.name} `), `--${option.name}`);
  }
  assert.deepEqual(await cli(['disclose']), { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: disclose takes salts, create or verify; run "runprint disclose --help"\n' });
  assert.deepEqual(await cli(['disclose', 'create', '--help']), { code: 0, stdout: formatCommandHelp('disclose create'), stderr: '' });
  // Called without the dispatcher (which answers --help first), the command prints the same.
  let printed = '';
  const io = { readStdin: async () => new Uint8Array(0), stdout: (text: string | Uint8Array) => void (printed += String(text)), stderr: () => undefined, stderrIsTTY: false, cwd: folder };
  assert.equal(await discloseCommand(['salts', '--help'], io), 0);
  assert.equal(printed, formatCommandHelp('disclose salts'));
});

test('a provider request with salts kept apart: sign --salts, verify --salts, disclose create --salts', async () => {
  await ready;
  file('request.json', JSON.stringify({
    model: 'gpt-4o', messages: [{ role: 'system', content: 'Answer in one word.' }, { role: 'user', content: 'Capital of France?' }],
  }));
  file('response.json', JSON.stringify({
    id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Paris.', refusal: null }, finish_reason: 'stop' }],
  }));
  file('request-salts.json', JSON.stringify({ system: 'ab'.repeat(32) }));
  const receipt = await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'request.json', '--salts', 'request-salts.json',
    '--output', 'response.json', '--out', 'salted-receipt.json']);
  assert.equal(receipt.code, 0, receipt.stderr);
  const verify = (extra: string[]) => cli(['verify', 'salted-receipt.json', '--key', 'keys/receipt-key.pub.pem', '--composition', 'request.json', ...extra]);
  assert.equal((await verify(['--salts', 'request-salts.json'])).code, 0);
  const unsalted = await verify([]);
  assert.equal(unsalted.code, 1, 'without its salts the request has another identity');
  assert.match(unsalted.stdout, /ERR_IDENTITY_MISMATCH/);
  const disclosure = await cli(['disclose', 'create', '--composition', 'request.json', '--salts', 'request-salts.json',
    '--output', 'response.json', '--reveal', 'input[0]', '--out', 'salted-disclosure.json']);
  assert.equal(disclosure.code, 0, disclosure.stderr);
  assert.doesNotMatch(readFileSync(join(folder, 'salted-disclosure.json'), 'utf8'), /Answer in one word|abababab/);
  const checked = await cli(['disclose', 'verify', 'salted-disclosure.json', '--receipt', 'salted-receipt.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  file('bad-salts.json', JSON.stringify({ system: 'not hex' }));
  const bad = await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'request.json', '--salts', 'bad-salts.json', '--output', 'response.json']);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /^runprint: ERR_COMPOSITION_INVALID: .*\(at \$\['salts'\]\['system'\]\)\n$/);
  assert.doesNotMatch(bad.stderr, /not hex/);
});

test('disclose verify takes the receipt as a Sigstore bundle too; one whose hint names another key fails the receipt', async () => {
  await ready;
  const bundled = await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'composition.json', '--output', 'output.json', '--out', 'receipt-b.json', '--bundle', 'bundle.json']);
  assert.equal(bundled.code, 0, bundled.stderr);
  assert.equal((await cli(['disclose', 'create', '--composition', 'composition.json', '--reveal', 'system', '--out', 'system.json'])).code, 0);
  const verified = await cli(['disclose', 'verify', 'system.json', '--receipt', 'bundle.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(verified.code, 0, verified.stdout);
  assert.ok(verified.stdout.endsWith(`disclosure verified: ${runId}\n`));
  const bundle = JSON.parse(readFileSync(join(folder, 'bundle.json'), 'utf8'));
  bundle.verificationMaterial.publicKey.hint = 'https://keys.example/app.pem';
  bundle.dsseEnvelope.signatures[0].keyid = 'https://keys.example/app.pem';
  file('bundle-url.json', JSON.stringify(bundle));
  const refused = await cli(['disclose', 'verify', 'system.json', '--receipt', 'bundle-url.json', '--key', 'keys/receipt-key.pub.pem']);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /ERR_SIGNATURE_UNKNOWN_KEY: the bundle's key hint does not name this key\ndisclosure NOT verified\n$/);
});
