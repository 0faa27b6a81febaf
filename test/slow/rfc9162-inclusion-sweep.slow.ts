/** RFC 9162 section 2.1.3: every index of every tree size up to 256 (slow: `npm run test:slow`; `npm test` checks sizes 1 to 70 and a few above). */
import { test } from 'node:test';
import { checkInclusionSweep } from '../helpers/inclusion-sweep.ts';

test('proveInclusion equals the recursive PATH and verifies, for every size up to 256 and every index', () => {
  checkInclusionSweep(Array.from({ length: 256 }, (_, i) => i + 1));
});
