/** The data directory serve keeps its stores and keys in, which the runs commands and replay read: --data, else RUNPRINT_DATA, else ./runprint-data. */
import { UsageError } from '../errors.ts';

export const DEFAULT_DATA_DIR = 'runprint-data';

/**
 * The data directory as given, and whether RUNPRINT_DATA named it. `--data ""` names no folder and
 * is refused (ERR_CLI_USAGE), as `--out ""` is; RUNPRINT_DATA set to the empty string is taken as
 * not set (the default folder), as runprintFetch takes it, so every part of runprint that reads
 * the variable finds the same store.
 */
export function dataDirectory(data: string | undefined): { dir: string; fromEnv: boolean } {
  if (data === '') throw new UsageError('ERR_CLI_USAGE', '--data must name a folder: leave it out for RUNPRINT_DATA, else ./runprint-data');
  if (data !== undefined) return { dir: data, fromEnv: false };
  const variable = process.env['RUNPRINT_DATA'] || undefined;
  return variable === undefined ? { dir: DEFAULT_DATA_DIR, fromEnv: false } : { dir: variable, fromEnv: true };
}
