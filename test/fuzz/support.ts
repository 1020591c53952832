/**
 * What every TypeScript fuzz target shares: the seed and run count (fixed by default, so a CI run is
 * reproducible; VGPIO_FUZZ_SEED and VGPIO_FUZZ_RUNS change them), the corpus in test/fuzz/corpus/<target>/
 * (seed inputs replayed first on every run, then used as fast-check examples), and the reliability
 * record each target leaves in $VGPIO_RELIABILITY_DIR (scripts/reliability-summary.mjs sums them).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

/** Fixed unless VGPIO_FUZZ_SEED says otherwise: a CI failure replays bit for bit. */
export const FUZZ_SEED = Number(process.env['VGPIO_FUZZ_SEED'] ?? 0x5eed);

/**
 * Runs for a target: its CI default (sized so the whole tier stays well under 5 minutes on 2 cores),
 * or VGPIO_FUZZ_RUNS (e.g. 1e6) for a long local run. VGPIO_FUZZ_RUNS is per target, not per tier.
 */
export function fuzzRuns(ciDefault: number): number {
  const env = process.env['VGPIO_FUZZ_RUNS'];
  if (env === undefined || env === '') return ciDefault;
  const runs = Number(env);
  if (!Number.isFinite(runs) || runs < 1) throw new Error(`VGPIO_FUZZ_RUNS must be a positive number, got "${env}"`);
  return Math.floor(runs);
}

/** Corpus entries of a target: JSON files, each one input in the target's own format. */
export function loadCorpus<T>(target: string): Array<{ name: string; input: T }> {
  const dir = join(CORPUS_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, input: JSON.parse(readFileSync(join(dir, name), 'utf8')) as T }));
}

export interface FuzzCounts {
  fuzzExecutions: number;
  /** Distinct failing inputs found this run (a fast-check counterexample, shrunk). */
  findings: number;
  /** An exception escaped the code under test, or an invariant broke. */
  crashes: number;
  /** A run did not finish within its time bound. */
  hangs: number;
}

/** One target's record. Call `write()` from afterAll: a target that crashed still leaves its record. */
export class FuzzRecord {
  readonly counts: FuzzCounts = { fuzzExecutions: 0, findings: 0, crashes: 0, hangs: 0 };

  constructor(readonly target: string) {
    if (!/^[a-z0-9-]+$/.test(target)) throw new Error(`fuzz target "${target}" must be lowercase words joined by dashes`);
  }

  /** Runs fc.assert with the tier's seed and run count, counting the outcome. */
  async check<Ts>(property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>, params: fc.Parameters<Ts>): Promise<void> {
    try {
      await fc.assert(property as fc.IAsyncProperty<Ts>, { seed: FUZZ_SEED, ...params } as fc.Parameters<Ts>);
    } catch (error) {
      this.counts.findings++;
      if (/timeout|timed out|time limit|hang/i.test(String((error as Error).message))) this.counts.hangs++;
      else this.counts.crashes++;
      throw error;
    }
  }

  /** Replays one corpus entry, counting a failure like a fresh finding. */
  async replay(run: () => Promise<void> | void): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.counts.findings++;
      this.counts.crashes++;
      throw error;
    }
  }

  write(): void {
    const dir = process.env['VGPIO_RELIABILITY_DIR'] ?? join(process.cwd(), '.ci/out/reliability');
    mkdirSync(dir, { recursive: true });
    const record = { source: `fuzz:${this.target}`, ...this.counts };
    writeFileSync(join(dir, `fuzz-${this.target}.json`), JSON.stringify(record, null, 2) + '\n');
    console.log(`fuzz:${this.target}: ${this.counts.fuzzExecutions} executions, ${this.counts.findings} findings`);
  }
}

/** Lets every pending promise callback and immediate run. */
export const settle = async (rounds = 3): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};
