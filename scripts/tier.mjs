#!/usr/bin/env node
// Runs one heavier test tier by name. A tier that has not been built yet says so and fails, so that
// nobody mistakes a missing tier for a passing one; `.ci/run` only calls the tiers listed in TIERS.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** tier name -> [marker file that exists once the tier is built, command to run] */
export const TIERS = {
  firmware: ['firmware/test/run.sh', ['bash', ['firmware/test/run.sh']]],
  e2e: ['test/e2e/run.sh', ['bash', ['test/e2e/run.sh']]],
  bench: ['bench/run.mjs', ['node', ['bench/run.mjs', ...process.argv.slice(3)]]],
  faults: ['test/faults/run.sh', ['bash', ['test/faults/run.sh']]],
  fuzz: ['test/fuzz/run.sh', ['bash', ['test/fuzz/run.sh']]],
};

const name = process.argv[2];
if (name === '--built') {
  // For .ci/run: the tiers that exist, one per line.
  for (const [tier, [marker]] of Object.entries(TIERS)) if (existsSync(join(root, marker))) console.log(tier);
  process.exit(0);
}
const tier = TIERS[name];
if (!tier) {
  console.error(`unknown tier "${name}"; known tiers: ${Object.keys(TIERS).join(', ')}`);
  process.exit(2);
}
const [marker, [command, args]] = tier;
if (!existsSync(join(root, marker))) {
  console.error(`the ${name} tier is not built yet (${marker} is missing); see the open issues`);
  process.exit(1);
}
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
