/** Benchmarks of identity computation against JSON.stringify + SHA-256 of the same input (issue: performance). */
import { createHash } from 'node:crypto';
import { compositionFromDocument } from '../src/compose/from-document.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { chatRequest, composition } from './fixtures.ts';
import { compare, SIZES, us, type BenchResult } from './measure.ts';




export async function benchIdentity(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const shape of ['rag', 'many-small'] as const) {
    for (const [label, bytes] of SIZES) {
      const value = composition(bytes, shape);
      const elements = ['system', 'input', 'context', 'tools'].reduce((n, name) => n + (value[name] as unknown[]).length, 0);
      const { candidate, baseline, ratio } = compare(
        () => computeIdentity(value),
        () => createHash('sha256').update(JSON.stringify(value)).digest(),
      );
      results.push({
        name: `identity of a ${label} ${shape} composition (${elements} elements, in-process object) vs JSON.stringify + SHA-256`,
        ratio,
        detail: `${us(candidate)} vs ${us(baseline)}, ${JSON.stringify(value).length} chars`,
      });
    }
  }
  // The canonical form alone, hashed once: the cost of RFC 8785 without per-element digests.
  const value = composition(20_000);
  const jcsOnly = compare(
    () => createHash('sha256').update(canonicalize(value)).digest(),
    () => createHash('sha256').update(JSON.stringify(value)).digest(),
  );
  results.push({
    name: 'RFC 8785 canonical form + one SHA-256 of a 20 KB rag composition vs JSON.stringify + SHA-256',
    ratio: jcsOnly.ratio,
    detail: `${us(jcsOnly.candidate)} vs ${us(jcsOnly.baseline)}, ${JSON.stringify(value).length} chars`,
  });
  const decoder = new TextDecoder();
  for (const [label, bytes] of SIZES) {
    const raw = new TextEncoder().encode(JSON.stringify(chatRequest(bytes)));
    const { candidate, baseline, ratio } = compare(
      () => computeIdentity(compositionFromDocument(parseJson(raw), { from: 'openai-chat' }).composition),
      () => createHash('sha256').update(JSON.stringify(JSON.parse(decoder.decode(raw)))).digest(),
    );
    results.push({
      name: `identity from raw ${label} OpenAI Chat request bytes vs decode + JSON.parse + JSON.stringify + SHA-256`,
      ratio,
      detail: `${us(candidate)} vs ${us(baseline)}, ${raw.length} B`,
    });
  }
  return results;
}
