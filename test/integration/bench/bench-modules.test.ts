/**
 * Runs every `npm run bench` section for a handful of iterations (`smoke`) and checks the shape and the
 * sanity of what it returns: counts add up, every edge is accounted for, no request went unanswered.
 * Never timings: speed is measured by the bench tier, not asserted here.
 */
import { describe, expect, it } from 'vitest';

// The bench modules are plain ESM JavaScript run against dist/ (built by `npm test`'s pretest).
const load = (name: string) => import(`../../../bench/${name}.mjs`) as Promise<{ run(o: { smoke?: boolean; quick?: boolean }): Promise<any> }>;
const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

describe('bench sections (smoke runs: shape and accounting, not speed)', () => {
  it('host: every request answered OK with a 2-byte response, one daemon sample per request', async () => {
    const r = await (await load('host')).run({ smoke: true });
    expect(r.sequential).toHaveLength(3);
    for (const s of r.sequential) {
      expect(s.errors).toBe(0);
      expect(s.daemonSamples).toBe(s.iterations);
      for (const k of ['p50', 'p99', 'p999', 'max']) expect(finite(s.daemonUs[k])).toBe(true);
      expect(s.daemonUs.p50).toBeLessThanOrEqual(s.daemonUs.p999);
      expect(finite(s.requestsPerSecond)).toBe(true);
    }
    // SET_VALUE and GET_VALUE each cost exactly one board request; GET_DIRECTION none.
    expect(r.sequential.map((s: any) => s.boardRequestsPerRequest)).toEqual([1, 1, 0]);
    expect(r.pipelined.requests).toBeGreaterThan(0);
    expect(r.pipelined.errors).toBe(0);
    expect(r.pipelined.unanswered).toBe(0);
    expect(r.pipelined.lines).toBe(27);
  }, 60_000);

  it('codec: every case decoded frames, none bad', async () => {
    const r = await (await load('codec')).run({ smoke: true });
    expect(r.rows.length).toBeGreaterThanOrEqual(8);
    for (const row of r.rows) {
      expect(row.units).toBeGreaterThan(0);
      expect(finite(row.perSecond)).toBe(true);
      if ('badFrames' in row) expect(row.badFrames).toBe(0);
    }
    expect(r.rows.find((x: any) => x.edgesPerSecond)?.lostEventFrames).toBe(0);
  }, 60_000);

  it('edges: generated = lost + delivered + merged - overflow interrupts, at every rate', async () => {
    const r = await (await load('edges')).run({ smoke: true });
    expect(r.rows.length).toBeGreaterThan(0);
    for (const row of r.rows) {
      expect(row.generated).toBeGreaterThan(0);
      expect(row.unaccounted).toBe(0);
      expect(row.generated).toBe(row.lost + row.delivered + row.merged - row.overflowInterrupts);
      expect(row.received + row.lost).toBe(row.generated); // the link saw everything the board sent
      expect(row.lost).toBe(row.boardLost); // and every drop was reported by OVERFLOW
      expect(row.deviceDelivered).toBe(row.delivered); // the frontend got every VALID completion
    }
    expect(r.unaccountedTotal).toBe(0);
    expect(r.invalidCompletions).toBe(0);
  }, 60_000);

  it('footprint: serve and the bench daemon became ready and were measured', async () => {
    const r = await (await load('footprint')).run({ smoke: true });
    expect(r.rows.map((x: any) => x.daemon)).toEqual(['vgpio serve --board emulator', 'bench daemon, instant board']);
    for (const row of r.rows) {
      expect(row.readyMs.p50).toBeGreaterThan(0);
      expect(row.idleRssMiB).toBeGreaterThan(0);
      expect(row.hwmMiB).toBeGreaterThanOrEqual(row.idleRssMiB);
      expect(row.loadRequests).toBeGreaterThan(0);
    }
  }, 90_000);

  it('chart: renders an SVG with both panels from a result', async () => {
    const chart: string = '../../../bench/chart.mjs'; // plain JavaScript: typed by the cast, not resolved by tsc
    const { renderSvg } = (await import(chart)) as { renderSvg(r: unknown): string };
    const host = await (await load('host')).run({ smoke: true });
    const svg = renderSvg({ machine: { cpu: 'x', cores: 2, node: 'v20', os: 'linux' }, sections: { host, edges: undefined } });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('kick -&gt; call');
    expect(svg).toContain('edges section not run');
    expect(svg).not.toMatch(/NaN/);
  }, 60_000);
});
