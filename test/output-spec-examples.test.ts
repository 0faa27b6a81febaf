/** docs/SPEC.md section 12: the worked examples, read from the document itself, give what the text says. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { canonicalize } from '../src/jcs/index.ts';
import { runOutputFrom, type RequestFormat } from '../src/providers/index.ts';

const spec = readFileSync(new URL('../docs/SPEC.md', import.meta.url), 'utf8');
const encoder = new TextEncoder();

/** The text of subsection `12.n`, up to the next subsection. */
function subsection(number: string): string {
  const start = spec.indexOf(`### ${number} `);
  assert.notEqual(start, -1, `SPEC.md has no section ${number}`);
  const end = spec.indexOf('\n### ', start + 1);
  return spec.slice(start, end === -1 ? undefined : end);
}

/** The indented block that follows `marker`: its lines less four spaces, as one text. */
function indentedAfter(text: string, marker: string): string {
  const at = text.indexOf(marker);
  assert.notEqual(at, -1, `no "${marker}"`);
  const lines = text.slice(at).split('\n').slice(1);
  while (lines.length > 0 && !(lines[0] as string).startsWith('    ')) lines.shift();
  const block: string[] = [];
  for (const line of lines) {
    if (line.startsWith('    ')) block.push(line.slice(4));
    else if (line === '') block.push('');
    else break;
  }
  while (block.at(-1) === '') block.pop();
  return block.join('\n');
}

/** The worked example of one subsection: a stream body (each event ended by an empty line) and its stated results. */
function example(number: string): { stream: string; response: string | undefined; output: string; digest: string; raw: string[] } {
  const text = subsection(number).slice(subsection(number).indexOf('Worked example: this stream'));
  const stream = `${indentedAfter(text, 'Worked example: this stream')}\n\n`;
  const response = /and the response\n`([^`]+)`/.exec(text)?.[1];
  const output = indentedAfter(text, text.includes('have the output') ? 'have the output' : 'has the output');
  const digest = /output digest `([0-9a-f]{64})`/.exec(text)?.[1];
  assert.ok(digest !== undefined, `${number}: no output digest`);
  const raw = [...text.matchAll(/(?:stream|response|raw digest)\s+`([0-9a-f]{64})`/g)].map((match) => match[1] as string);
  return { stream, response, output, digest, raw };
}

const EXAMPLES: ReadonlyArray<readonly [string, RequestFormat]> = [
  ['12.2', 'openai-chat'],
  ['12.3', 'openai-responses'],
  ['12.4', 'anthropic-messages'],
];

describe('SPEC 12 worked examples, as written in docs/SPEC.md', () => {
  for (const [number, format] of EXAMPLES) {
    it(`${number}: the stream (and the response) give the output, output digest and raw digests the text states`, () => {
      const { stream, response, output, digest, raw } = example(number);
      const bodies = response === undefined ? [stream] : [stream, response];
      assert.equal(raw.length, bodies.length, `${number}: one raw digest per body`);
      for (const [i, body] of bodies.entries()) {
        const result = runOutputFrom(encoder.encode(body), format);
        assert.equal(canonicalize(result.output ?? null), output);
        assert.equal(result.digest?.sha256, digest);
        assert.equal(result.rawDigest.sha256, raw[i]);
      }
    });
  }

  it('12.1: the output digest and raw digest of the body without a format', () => {
    const text = subsection('12.1');
    const body = /the body\n`([^`]+)`/.exec(text)?.[1];
    assert.ok(body !== undefined);
    const result = runOutputFrom(encoder.encode(body));
    assert.ok(text.includes(result.digest?.sha256 ?? '-'));
    assert.ok(text.includes(`\`${result.rawDigest.sha256}\``));
  });
});
