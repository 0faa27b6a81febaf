/** Suggesting the known name nearest to a mistyped one: commands, options, request members, in-process capture's options. */

/** Edit distance counting a swap of two neighbouring letters as one edit (`form` is one from `from`). */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
    }
    [before, previous] = [previous, current];
  }
  return previous[b.length]!;
}

/** The known name nearest to `word`, when it is near enough to be a typo (at most a third of it differs). */
export function closestName(word: string, names: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = distance(word.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= Math.max(1, Math.floor(Math.max(word.length, (best ?? '').length) / 3)) ? best : undefined;
}
