/**
 * Declared retrieval's check (capture-run.ts, locate): the main-thread time one proxied call
 * spends finding its declared texts in the request, on requests and declarations a client
 * chooses. Run `node bench/retrieval.ts [CALLS]`: CALLS is how many times the proxy runs the
 * check per call (1 now; the code before the fix ran it twice: `node bench/retrieval.ts 2` in a
 * checkout of it; a pattern after CALLS runs only the cases it matches). Prints one line per case:
 * milliseconds per call (after a warm-up call, the median of 5 rounds, a round repeating the call
 * for at least 20 ms when it is quicker) and what was found. Not part of `npm run bench`: a
 * before/after measure of the check's changes.
 */
import { locate, prepareRequest } from '../src/capture/capture-run.ts';
import type { DeclaredDocument } from '../src/capture/run-record.ts';

const calls = Number(process.argv[2] ?? '1');
/** Only the cases whose name matches this, when given (the code before the fix takes minutes on some). */
const only = process.argv[3] === undefined ? undefined : new RegExp(process.argv[3]);
const encoder = new TextEncoder();

/** Deterministic words, so every run searches the same text. */
function prose(length: number, seed: number): string {
  const words = ['the', 'tower', 'river', 'stands', 'in', 'paris', 'and', 'lyon', 'of', 'metres', 'tall', 'a', 'city', 'confluence'];
  let state = seed;
  let text = '';
  while (text.length < length) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    text += `${words[state % words.length]} `;
  }
  return text.slice(0, length);
}

function chat(contents: string[]): Uint8Array {
  return encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: contents.map((content) => ({ role: 'user', content })) }));
}

function measure(name: string, body: Uint8Array, documents: DeclaredDocument[]): void {
  if (only !== undefined && !only.test(name)) return;
  const prepared = prepareRequest('openai-chat', body);
  if (prepared.composition === null) throw new Error(`${name}: the request is not identified`);
  let result: ReturnType<typeof locate> | undefined;
  const call = () => {
    for (let i = 0; i < calls; i++) result = locate(documents, prepared.composition!);
  };
  call();
  let start = performance.now();
  call();
  // Calls per round: enough for 20 ms when a call is quicker (one call of a few ms is mostly noise).
  const repeat = Math.max(1, Math.ceil(20 / Math.max(performance.now() - start, 0.01)));
  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    start = performance.now();
    for (let i = 0; i < repeat; i++) call();
    times.push((performance.now() - start) / repeat);
  }
  times.sort((a, b) => a - b);
  const error = (result as { error?: { code: string } | null }).error?.code ?? (result!.notFound.length > 0 ? 'not found' : 'none');
  console.log(`${name}: ${times[2]!.toFixed(2)} ms per call (${calls} check(s)); body ${(body.length / 1048576).toFixed(1)} MiB, ${documents.length} documents, found ${result!.found.length}, error ${error}`);
}

const tiny = (count: number) => Array.from({ length: count }, (_, i) => ({ source: `kb://doc/${i}`, text: `zq${i}#` }));
const big = Array.from({ length: 300 }, (_, i) => prose(100 * 1024, i + 1));
const bigBody = chat(big);
measure('30 MiB body, 1,800 tiny documents not in it (62 KB header)', bigBody, tiny(1800));
measure('30 MiB body, 256 tiny documents not in it', bigBody, tiny(256));
measure('30 MiB body, 256 documents of 190 characters, in its last message', bigBody, Array.from({ length: 256 }, (_, i) => ({ source: `kb://p/${i}`, text: big[299]!.slice(i * 300, i * 300 + 190) })));
const mid = chat(Array.from({ length: 40 }, (_, i) => prose(100 * 1024, i + 1000)));
measure('4 MiB body, 29,000 tiny documents not in it (1 MiB header)', mid, tiny(29_000));
measure('4 MiB body, 256 tiny documents not in it', mid, tiny(256));
const periodic = chat(['a'.repeat(4 * 1024 * 1024)]);
measure('4 MiB of one letter, one document of 1,001 characters almost in it', periodic, [{ source: 'kb://x', text: `${'a'.repeat(500)}b${'a'.repeat(500)}` }]);
measure('4 MiB of one letter, 64 such documents (64 KiB header)', periodic, Array.from({ length: 64 }, (_, i) => ({ source: `kb://x/${i}`, text: `${'a'.repeat(500 + i)}b${'a'.repeat(500)}` })));
// Where the quick search gives up (find-texts.ts): anchors V8 finds nowhere one code unit at a time.
const letters = chat(['a'.repeat(256 * 1024)]);
measure('256 KiB of one letter, 64 documents of 127 such letters, a b, 100 others', letters, Array.from({ length: 64 }, (_, i) => ({ source: `kb://y/${i}`, text: `${'a'.repeat(127)}b${'c'.repeat(100)}[${i}]` })));
const rag = Array.from({ length: 20 }, (_, i) => prose(2000, i + 5000));
const ragDocuments = rag.map((text, i) => ({ source: `kb://rag/${i}`, text }));
measure('a RAG call: 200 KB body, 20 documents of 2,000 characters, all in it', chat([...rag.map((text) => `Document:\n${text}`), prose(150 * 1024, 9)]), ragDocuments);
measure('a RAG call after 150 KB of chat: the 20 documents in its last message', chat([prose(150 * 1024, 9), rag.join('\n')]), ragDocuments);
measure('a RAG call, one of the 20 documents not in it', chat([...rag.slice(1).map((text) => `Document:\n${text}`), prose(150 * 1024, 9)]), ragDocuments);
