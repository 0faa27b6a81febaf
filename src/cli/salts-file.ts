/** `--salts FILE`: salts kept apart from the content they salt (SPEC 2.5), joined to a composition. */
import { UsageError } from '../errors.ts';
import { parseComposition, type Composition } from '../identity/composition.ts';
import type { CliIo } from './io.ts';
import { readJsonInput } from './read-input.ts';

/**
 * Reads a salts file and returns the composition with those salts. The result is checked as a
 * composition, so a bad salts file fails with ERR_COMPOSITION_INVALID at `$['salts']…`, never
 * echoing a salt.
 */
export async function withSaltsFile(composition: Composition, name: string, io: CliIo): Promise<Composition> {
  if (composition.salts !== undefined) {
    throw new UsageError('ERR_CLI_USAGE', 'the composition has "salts" already; --salts is for salts kept apart from it');
  }
  const salts = await readJsonInput(name, io, '--salts ');
  return parseComposition({ ...composition, salts });
}
