#!/usr/bin/env node
// runprint's command line. The sources are TypeScript, which Node runs directly and without a
// warning from version 24.3 on; `npm start`, `npm test` and `npx runprint` put the project's
// pinned Node first on PATH.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 24 || (major === 24 && minor < 3)) {
  process.stderr.write(
    `runprint: ERR_CLI_USAGE: runprint needs Node 24.3 or later (this is ${process.version}); run it through npx or npm scripts\n`,
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
