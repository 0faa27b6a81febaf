/** A small local model on disk for the weights-digest tests: one weights file and a configuration file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeModel(dir: string, weights: Buffer): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), weights);
  writeFileSync(join(dir, 'config.json'), '{"hidden_size": 8}\n');
}
