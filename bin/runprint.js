#!/usr/bin/env node
// runprint's command line. An installed package runs the compiled JavaScript in dist/ (built by
// `npm run build`, shipped in the tarball). A checkout runs its TypeScript sources directly, which
// Node does without a warning from 24.3 on; `npm start`, `npm test` and `npx runprint` put the
// project's pinned Node first on PATH. RUNPRINT_DIST=1 makes a checkout run dist/ too.
import { existsSync } from 'node:fs';

const [major = 0, minor = 0, patch = 0] = process.versions.node.split('.').map(Number);
const source = new URL('../src/cli/main.ts', import.meta.url);
const fromSource = process.env.RUNPRINT_DIST !== '1' && existsSync(source);
/** At least a.b.c. */
const atLeast = (a, b, c) => major > a || (major === a && (minor > b || (minor === b && patch >= c)));
// As package.json's engines: ^22.23.3 || >=24.3.0 (the sources: 24.3 or later).
const supported = fromSource ? atLeast(24, 3, 0) : (major === 22 && atLeast(22, 23, 3)) || atLeast(24, 3, 0);
if (!supported) {
  const what = fromSource ? 'runprint from its sources needs Node 24.3 or later' : 'runprint needs Node 22.23.3 or later on the 22 line, or 24.3 or later';
  process.stderr.write(
    `runprint: ERR_CLI_USAGE: ${what} (this is ${process.version})${fromSource ? '; run it through npx or npm scripts' : ''}\n`,
  );
  process.exit(2);
}
// Node 22 and 24 call node:sqlite experimental and say so on every start of a command that opens
// the log; runprint's stderr keeps its one-line format, so that notice is dropped and any other
// warning is printed as one line.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning' && /SQLite/.test(warning.message)) return;
  process.stderr.write(`runprint: warning: ${warning.name}: ${warning.message}\n`);
});
const { main } = await import(fromSource ? source.href : '../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
