/**
 * Reliability records for the fault-injection tier: each test file counts what it injected and what
 * the guest got back, and leaves one JSON record that scripts/reliability-summary.mjs sums up.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ReliabilityCounts {
  faultsInjected: number;
  requestsSent: number;
  requestsAnswered: number;
  /** Items (requests, edges, config) that vanished without an answer, an error or a lost count. */
  dataLost: number;
  crashes: number;
  hangs: number;
}

export class ReliabilityRecord {
  readonly counts: ReliabilityCounts = { faultsInjected: 0, requestsSent: 0, requestsAnswered: 0, dataLost: 0, crashes: 0, hangs: 0 };

  constructor(readonly source: string) {
    if (!/^faults:[a-z0-9-]+$/.test(source)) throw new Error(`reliability source "${source}" must look like faults:<name>`);
  }

  add(counts: Partial<ReliabilityCounts>): void {
    for (const [key, value] of Object.entries(counts) as Array<[keyof ReliabilityCounts, number]>) this.counts[key] += value;
  }

  /** Call from afterAll. Writes to $VGPIO_RELIABILITY_DIR (set by test/faults/run.sh) or .ci/out/reliability. */
  write(): void {
    const dir = process.env['VGPIO_RELIABILITY_DIR'] ?? join(process.cwd(), '.ci/out/reliability');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.source.replace(':', '-')}.json`);
    writeFileSync(file, JSON.stringify({ source: this.source, ...this.counts }, null, 2) + '\n');
  }
}
