/**
 * The package as a user gets it: `npm pack`, installed from the tarball into an empty project
 * outside this repository, then used from that project on Node 24 (this test's own node) and on
 * Node 22 LTS (installed from the npm registry for the test): the CLI, every subpath export from a
 * plain .mjs file, and the same exports' types from a TypeScript file.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  exports: Record<string, unknown>;
};
/** The Node 22 LTS the package is checked on, besides the pinned Node 24. */
const NODE_22 = '22.23.3';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** A loopback port nobody listens on now. */
const freePort = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});
const quiet = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

async function npmIn(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run(npm, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return stdout;
}

const REQUEST = JSON.stringify({
  model: 'gpt-4o',
  temperature: 0,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is the capital of France?' },
  ],
});

test('npm pack gives a tarball that installs into an empty project and works there on Node 24 and Node 22', { timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'runprint-pack-'));
  // npm test builds dist/ before any test runs; packing without prepack's rebuild keeps dist/ in
  // place for the tests that read it at the same time (the browser test).
  assert.ok(existsSync(join(root, 'dist', 'cli', 'main.js')), 'dist/ is built (npm run build)');
  const packed = JSON.parse(await npmIn(root, ['pack', '--ignore-scripts', '--json', '--pack-destination', work, '--loglevel=error'])) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const tarball = join(work, packed[0]!.filename);
  const files = packed[0]!.files.map((file) => file.path);
  assert.ok(files.includes('dist/cli/main.js') && files.includes('dist/jcs/index.d.ts'), 'compiled JavaScript and declarations are packed');
  assert.ok(files.includes('dist/jcs/index.js.map'), 'source maps are packed');
  // src/ is not packed: each map carries its TypeScript (tsconfig.build.json inlineSources), so a
  // debugger or node --enable-source-maps shows runprint's own lines from node_modules.
  for (const map of files.filter((file) => file.endsWith('.js.map'))) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
    assert.ok(sources.length > 0 && sourcesContent?.length === sources.length && sourcesContent.every((text) => typeof text === 'string' && text.length > 0), `${map} carries the sources it names`);
  }
  assert.equal(files.filter((file) => file.endsWith('.d.ts.map')).length, 0, 'no declaration maps: they would point at src/, which is not packed');
  assert.equal(files.filter((file) => file.startsWith('src/') || file.startsWith('test/')).length, 0, 'no sources or tests are packed');
  // README's links (docs/CAPTURE.md, docs/decisions/, testdata/, BENCHMARKS.md) work in node_modules/runprint too.
  const linked = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/\]\(((?!https?:|#)[^)#\s]+)/g)].map((match) => match[1]!);
  assert.ok(linked.length >= 8, `${linked.length} relative links in README`);
  for (const link of linked) assert.ok(link.endsWith('/') ? files.some((file) => file.startsWith(link)) : files.includes(link), `README links to ${link}, which the package holds`);

  const project = join(work, 'app');
  await run('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  await npmIn(project, ['install', ...quiet, tarball]);
  const installed = JSON.parse(readFileSync(join(project, 'node_modules', manifest.name, 'package.json'), 'utf8')) as {
    version: string;
    private?: boolean;
  };
  assert.equal(installed.version, manifest.version);
  assert.equal(installed.private, undefined, 'the package is publishable');
  assert.ok(!existsSync(join(project, 'node_modules', 'node')), 'the pinned node is not a dependency of users');

  writeFileSync(join(project, 'request.json'), REQUEST);
  const subpaths = Object.keys(manifest.exports).map((subpath) => `${manifest.name}${subpath.slice(1)}`);
  writeFileSync(
    join(project, 'imports.mjs'),
    [
      ...subpaths.map((specifier, index) => `import * as m${index} from '${specifier}';`),
      `const modules = { ${subpaths.map((specifier, index) => `'${specifier}': m${index}`).join(', ')} };`,
      `for (const [name, module] of Object.entries(modules)) if (Object.keys(module).length === 0) throw new Error(name + ' exports nothing');`,
      `const { computeIdentity } = m${subpaths.indexOf(`${manifest.name}/identity`)};`,
      `const { compositionFromRequest } = m${subpaths.indexOf(`${manifest.name}/providers`)};`,
      `const { readFileSync } = await import('node:fs');`,
      `const composition = compositionFromRequest('openai-chat', JSON.parse(readFileSync('request.json', 'utf8')));`,
      `process.stdout.write(computeIdentity(composition).requestId);`,
    ].join('\n'),
  );

  const nodes: Array<{ name: string; node: string }> = [{ name: 'Node 24', node: process.execPath }];
  const node22 = join(work, 'node22');
  await run('mkdir', ['-p', node22]);
  writeFileSync(join(node22, 'package.json'), JSON.stringify({ name: 'node22', version: '1.0.0', private: true }));
  await npmIn(node22, ['install', ...quiet, `node@${NODE_22}`]);
  nodes.push({ name: `Node ${NODE_22}`, node: join(node22, 'node_modules', '.bin', 'node') });

  const bin = join(project, 'node_modules', '.bin', 'runprint');
  const expected = (await run(process.execPath, [join(root, 'bin', 'runprint.js'), 'id', join(project, 'request.json')])).stdout;
  assert.match(expected, /^rp-req-v1-sha256-[0-9a-f]{64}\n$/);
  for (const { name, node } of nodes) {
    await t.test(name, async () => {
      const version = (await run(node, ['--version'])).stdout.trim();
      assert.ok(version.startsWith(name === 'Node 24' ? 'v24.' : `v${NODE_22}`), version);
      const cli = async (args: string[]) => run(node, [bin, ...args], { cwd: project });
      assert.equal((await cli(['id', 'request.json'])).stdout, expected, 'the same identity as the checkout computes');
      assert.match((await cli(['explain', 'request.json'])).stdout, /system/);
      assert.equal((await cli(['canon', 'request.json'])).stdout.length > 0, true);
      const keys = join(project, `keys-${version}`);
      await cli(['keygen', '--out', keys]);
      writeFileSync(join(project, 'response.json'), JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }] }));
      const receipt = join(project, `receipt-${version}.json`);
      await cli(['sign', '--key', join(keys, 'receipt-key.pem'), '--composition', 'request.json', '--output', 'response.json', '--out', receipt]);
      const verified = await cli(['verify', receipt, '--key', join(keys, 'receipt-key.pub.pem'), '--composition', 'request.json', '--output', 'response.json']);
      assert.match(verified.stdout, /receipt verified: rp-run-v1-sha256-/);
      await assert.rejects(cli(['id', 'no-such-file.json']), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 4);
        assert.match(error.stderr, /^runprint: ERR_INPUT_[A-Z_]+: /);
        assert.doesNotMatch(error.stderr, /\n\s+at /, 'no stack trace');
        return true;
      });
      const imported = await run(node, ['imports.mjs'], { cwd: project });
      assert.equal(`${imported.stdout}\n`, expected, 'the library gives the CLI identity');
    });
  }

  await t.test("README's five-minute tour, pasted block by block into an empty folder", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Five minutes\n'), readme.indexOf('\n## ', readme.indexOf('## Five minutes\n') + 1));
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
    assert.ok(blocks.length >= 7, `${blocks.length} shell blocks`);
    const tour = join(work, 'tour');
    await run('mkdir', ['-p', tour]);
    // The tour installs ../runprint-<version>.tgz: the tarball npm pack made, beside the folder.
    assert.equal(packed[0]!.filename, `${manifest.name}-${manifest.version}.tgz`);
    assert.match(blocks[0]!, new RegExp(`npm install \\.\\./${manifest.name}-${manifest.version}\\.tgz`));
    const env = { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env['PATH'] ?? ''}`, npm_config_update_notifier: 'false', npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
    let server: ReturnType<typeof spawn> | undefined;
    try {
      for (const [number, text] of blocks.entries()) {
        // The README's port 8480 may be taken on this machine; the test gives the service a free one.
        const block = text.replace('runprint serve', `runprint serve --port ${freePort}`).replaceAll('127.0.0.1:8480', `127.0.0.1:${freePort}`);
        if (block.includes('runprint serve')) {
          // "in a second terminal": its own process group, stopped below as Ctrl-C stops one.
          server = spawn('bash', ['-c', block], { cwd: tour, env, detached: true, stdio: 'ignore' });
          continue;
        }
        const result = await run('bash', ['-c', block], { cwd: tour, env }).then(
          (ok) => ({ code: 0, ...ok }),
          (error: { code: number; stdout: string; stderr: string }) => error,
        );
        const wantCode = block.includes('runprint diff') ? 1 : 0;
        assert.equal(result.code, wantCode, `block ${number + 1} exits ${wantCode}:\n${block}\n${result.stderr}`);
        assert.doesNotMatch(result.stderr, /ERR_|Error|warn/i, `block ${number + 1}:\n${result.stderr}`);
        if (block.includes('/v1/identity')) assert.match(result.stdout, /"requestId":"rp-req-v1-sha256-[0-9a-f]{64}"/, 'the service answers with the identity');
        if (block.includes('runprint verify')) assert.match(result.stdout, /receipt verified: rp-run-v1-sha256-/);
        if (block.includes('disclose verify')) assert.match(result.stdout, /disclosure verified: rp-run-v1-sha256-/);
      }
      assert.ok(server !== undefined, 'the tour starts the service');
    } finally {
      // Ctrl-C: SIGINT to the whole process group of the "second terminal".
      if (server?.pid !== undefined) process.kill(-server.pid, 'SIGINT');
    }
  });

  await t.test('TypeScript resolves every subpath export to its declarations', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['imports.ts'] }),
    );
    writeFileSync(
      join(project, 'imports.ts'),
      [
        `import { canonicalize } from '${manifest.name}/jcs';`,
        `import { computeIdentity, type Composition } from '${manifest.name}/identity';`,
        ...subpaths.map((specifier, index) => `import * as all${index} from '${specifier}';`),
        `export const used = [${subpaths.map((_, index) => `all${index}`).join(', ')}];`,
        `export function id(composition: Composition): string { return computeIdentity(composition).requestId; }`,
        `export const text: string = canonicalize({ b: 1, a: 2 });`,
        `// @ts-expect-error a number is not a composition: the declarations are real types, not any`,
        `id(42);`,
      ].join('\n'),
    );
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project });
  });
});
