/**
 * Writes test/fixtures/sdk-wire/: for each official SDK client and kind of call, the exact request
 * body it sent to the fake upstream and the exact body it got back. Run after a deliberate change
 * to the pinned SDKs or to the fake: `node scripts/sdk-wire-fixtures.ts`. The SDK test rebuilds
 * them and fails when they drift.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { buildSdkWireFixtures, formatSdkWireFixture, SDK_WIRE_FOLDER } from '../test/helpers/fake-upstream/sdk-wire.ts';

const fixtures = await buildSdkWireFixtures();
mkdirSync(SDK_WIRE_FOLDER, { recursive: true });
for (const name of readdirSync(SDK_WIRE_FOLDER)) {
  if (name.endsWith('.json') && !fixtures.has(name)) rmSync(new URL(name, SDK_WIRE_FOLDER));
}
for (const [name, fixture] of fixtures) writeFileSync(new URL(name, SDK_WIRE_FOLDER), formatSdkWireFixture(fixture));
console.log(`${fixtures.size} fixtures in test/fixtures/sdk-wire/`);
