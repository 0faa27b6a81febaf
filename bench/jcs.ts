/** Benchmarks of RFC 8785 canonicalization and strict I-JSON parsing against JSON.stringify and JSON.parse. */
import { pathToFileURL } from 'node:url';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { composition } from './fixtures.ts';
import { compare, SIZES, us, type BenchResult } from './measure.ts';




/**
 * canonicalize vs JSON.stringify of the same value (an in-process composition, then the tree
 * parseJson builds from its text), and parseJson vs JSON.parse of the same text (given as a
 * string, then as UTF-8 bytes against TextDecoder + JSON.parse). Every result reads the output,
 * so a lazily joined string is paid for as a hash would pay for it. Prints nothing.
 */
export async function benchJcs(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const decoder = new TextDecoder();
  for (const [label, bytes] of SIZES) {
    const value = composition(bytes);
    const text = JSON.stringify(value);
    const raw = new TextEncoder().encode(text);
    const parsed = parseJson(text);
    const add = (name: string, candidate: () => unknown, baseline: () => unknown) => {
      const timing = compare(candidate, baseline);
      results.push({ name, ratio: timing.ratio, detail: `${us(timing.candidate)} vs ${us(timing.baseline)}, ${text.length} chars` });
    };
    add(
      `canonicalize ${label} composition (in-process object) vs JSON.stringify`,
      () => canonicalize(value).charCodeAt(0),
      () => JSON.stringify(value).charCodeAt(0),
    );
    add(
      `canonicalize ${label} composition (parseJson tree) vs JSON.stringify`,
      () => canonicalize(parsed).charCodeAt(0),
      () => JSON.stringify(parsed).charCodeAt(0),
    );
    add(`parseJson ${label} text (string) vs JSON.parse`, () => parseJson(text), () => JSON.parse(text));
    add(
      `parseJson ${label} UTF-8 bytes vs TextDecoder + JSON.parse`,
      () => parseJson(raw),
      () => JSON.parse(decoder.decode(raw)),
    );
    // parseJson decodes bytes with TextDecoder too, so both sides of the line above pay the same
    // decoding; where it is most of the baseline, that ratio says more about TextDecoder than
    // about the parser. This line shows how much of the baseline it is.
    add(
      `TextDecoder alone, share of the ${label} bytes baseline (TextDecoder + JSON.parse), ${raw.length} B of UTF-8`,
      () => decoder.decode(raw).charCodeAt(0),
      () => JSON.parse(decoder.decode(raw)),
    );
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const result of await benchJcs()) {
    process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
  }
}
