// Mutation testing of the trust core (StrykerJS with its tap runner): one Stryker run per module,
// each mutant tried against that module's own test files only. Usage:
//   node scripts/mutation/run.ts [module ...] [--concurrency=N] [--force] [--report-only]
// With no module named, every module in modules.ts runs, one after the other. Reports go to
// reports/mutation/<module>.html and .json. Runs are incremental: a mutant whose code and covering
// tests did not change since the last run keeps its result (reports/mutation/<module>.incremental.json);
// --force tests every mutant again. A module passes when every surviving mutant is listed in
// equivalent.ts and its score is at least 90%; the process exits 1 when one does not. A listed
// mutant that timed out is set aside as equivalent (a slow run on a loaded machine), and one that a
// test killed is reported: its listing is wrong. --report-only judges the last reports again.
import { readFileSync } from 'node:fs';
import { Stryker } from '@stryker-mutator/core';
import { EQUIVALENT } from './equivalent.ts';
import { MODULES, type LineRange, type MutationModule } from './modules.ts';

const THRESHOLD = 90;

type PartialStrykerOptions = ConstructorParameters<typeof Stryker>[0];
type LogLevel = NonNullable<PartialStrykerOptions['logLevel']>;

/** The parts of Stryker's JSON report (mutation-testing-report-schema) read here; lines are 1-based. */
interface JsonReport {
  files: Record<string, { source: string; mutants: JsonMutant[] }>;
}
interface JsonMutant {
  mutatorName: string;
  replacement: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

/** The source text a mutant replaces (columns are 1-based, the end exclusive). */
function originalText(lines: readonly string[], { start, end }: JsonMutant['location']): string {
  if (start.line === end.line) return (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1);
  const middle = lines.slice(start.line, end.line - 1);
  return [(lines[start.line - 1] ?? '').slice(start.column - 1), ...middle, (lines[end.line - 1] ?? '').slice(0, end.column - 1)].join('\n');
}

interface Outcome {
  readonly line: string;
  readonly unexplained: readonly string[];
  readonly passed: boolean;
}

/** `file:start-end` as Stryker takes a range; a marker that is missing is an error, not a silent skip. */
function resolveRange(range: LineRange): string {
  const lines = readFileSync(range.file, 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(range.from));
  const end = range.to === undefined ? lines.length : lines.findIndex((line, index) => index > start && line.startsWith(range.to!));
  if (start < 0 || end < 0) throw new Error(`${range.file}: no line starts with ${JSON.stringify(start < 0 ? range.from : range.to)}`);
  return `${range.file}:${start + 1}-${end}`;
}

function optionsFor(name: string, module: MutationModule, concurrency: number, force: boolean): PartialStrykerOptions {
  return {
    testRunner: 'tap',
    plugins: ['@stryker-mutator/tap-runner'],
    // Per test file: the tap runner runs each file in its own process and records what it reached.
    coverageAnalysis: 'perTest',
    mutate: module.mutate.map((entry) => (typeof entry === 'string' ? entry : resolveRange(entry))),
    tap: {
      testFiles: [...module.testFiles],
      nodeArgs: ['--test-reporter=tap', '-r', '{{hookFile}}', '{{testFile}}'],
      forceBail: true,
    },
    concurrency,
    reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: false },
    htmlReporter: { fileName: `reports/mutation/${name}.html` },
    jsonReporter: { fileName: `reports/mutation/${name}.json` },
    incremental: true,
    force,
    incrementalFile: `reports/mutation/${name}.incremental.json`,
    tempDirName: '.stryker-tmp',
    // The sandbox copy needs the sources, tests and test data only.
    ignorePatterns: ['/dist', '/bench/out', '/bench/.cache', '/runprint-data', '/keys', '/reports'],
    thresholds: { high: THRESHOLD, low: 80, break: null },
    // LogLevel is a string enum in Stryker's types; the strings are what its config file takes.
    fileLogLevel: 'off' as LogLevel,
    logLevel: 'warn' as LogLevel,
  };
}

/** Scores a module's JSON report, with and without the mutants listed as equivalent. */
function judge(name: string, seconds: number): Outcome {
  const report = JSON.parse(readFileSync(`reports/mutation/${name}.json`, 'utf8')) as JsonReport;
  let detected = 0;
  let strykerDetected = 0;
  let valid = 0;
  let equivalent = 0;
  const unexplained: string[] = [];
  const counts = new Map<string, number>();
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    for (const mutant of mutants) {
      counts.set(mutant.status, (counts.get(mutant.status) ?? 0) + 1);
      if (!['Killed', 'Timeout', 'Survived', 'NoCoverage'].includes(mutant.status)) continue;
      const line = (lines[mutant.location.start.line - 1] ?? '').trim();
      const listed = EQUIVALENT.some(
        (known) =>
          known.file === file &&
          known.mutator === mutant.mutatorName &&
          known.line === line &&
          known.replacement === mutant.replacement &&
          (known.original === undefined || known.original === originalText(lines, mutant.location)),
      );
      const where =
        `${file}:${mutant.location.start.line}:${mutant.location.start.column} ${mutant.status} ${mutant.mutatorName}: ` +
        `${JSON.stringify(originalText(lines, mutant.location))} -> ${JSON.stringify(mutant.replacement)}`;
      valid++;
      if (mutant.status === 'Killed' || mutant.status === 'Timeout') strykerDetected++;
      if (mutant.status === 'Killed') {
        detected++;
        // A test failed on a mutant listed as equivalent: the listing is wrong and must go.
        if (listed) unexplained.push(`${where} (listed as equivalent, but a test kills it)`);
      } else if (mutant.status === 'Timeout') {
        // A listed mutant that timed out was a slow run (the machine was loaded), not a detection.
        if (listed) equivalent++;
        else detected++;
      } else if (listed) equivalent++;
      else unexplained.push(where);
    }
  }
  const percent = (part: number, whole: number): string => (whole === 0 ? '100.00' : ((part / whole) * 100).toFixed(2));
  const adjusted = valid - equivalent === 0 ? 100 : (detected / (valid - equivalent)) * 100;
  const statuses = [...counts].map(([status, count]) => `${status} ${count}`).join(', ');
  const line =
    `${name}: score ${percent(strykerDetected, valid)}% (${percent(detected, valid - equivalent)}% without the ${equivalent} equivalent), ` +
    `${unexplained.length} unexplained survivors, ${seconds} s [${statuses}]`;
  return { line, unexplained, passed: unexplained.length === 0 && adjusted >= THRESHOLD };
}

const args = process.argv.slice(2);
const flags = args.filter((arg) => arg.startsWith('--'));
const named = args.filter((arg) => !arg.startsWith('--'));
const concurrencyFlag = flags.find((flag) => flag.startsWith('--concurrency='));
const concurrency = concurrencyFlag === undefined ? 2 : Number(concurrencyFlag.slice('--concurrency='.length));
const force = flags.includes('--force');
// Judge the reports of the last runs again (after equivalent.ts changed) without running Stryker.
const reportOnly = flags.includes('--report-only');
const unknown = named.filter((name) => !(name in MODULES));
if (unknown.length > 0 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`usage: test:mutation [${Object.keys(MODULES).join('|')} ...] [--concurrency=N] [--force] [--report-only]`);
  process.exit(2);
}

const outcomes: Outcome[] = [];
for (const name of named.length > 0 ? named : Object.keys(MODULES)) {
  const module = MODULES[name];
  if (module === undefined) continue;
  const started = performance.now();
  if (!reportOnly) await new Stryker(optionsFor(name, module, concurrency, force)).runMutationTest();
  const outcome = judge(name, Math.round((performance.now() - started) / 1000));
  for (const survivor of outcome.unexplained) console.log(`  survived: ${survivor}`);
  console.log(outcome.line);
  outcomes.push(outcome);
}
console.log(['', 'mutation score per module:', ...outcomes.map((outcome) => outcome.line)].join('\n'));
process.exit(outcomes.every((outcome) => outcome.passed) ? 0 : 1);
