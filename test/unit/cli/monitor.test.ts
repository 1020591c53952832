/**
 * monitorLines (src/cli/monitor.ts) on the in-process FakeBoard: configuration, lost edges from line_seq
 * gaps, OVERFLOW records, edges from before the start, the stop conditions, release, and the text format.
 */
import { describe, expect, it } from 'vitest';
import { FakeBoard } from '../../helpers/fake-board.js';
import { monitorLines, type MonitoredLine, type MonitorRecord, type MonitorSettings } from '../../../src/cli/monitor-lines.js';
import { formatRecord } from '../../../src/cli/monitor-output.js';

const gp = (line: number, extra: Partial<MonitoredLine> = {}): MonitoredLine => ({ line, name: `GP${line}`, bias: 'none', debounceUs: 0, idleBias: 'pull-down', ...extra });
const tick = () => new Promise((r) => setImmediate(r));

function run(board: FakeBoard, settings: MonitorSettings) {
  const records: MonitorRecord[] = [];
  const finished = monitorLines(board, settings, (r) => records.push(r));
  finished.catch(() => undefined);
  const started = async () => {
    while (!records.some((r) => r.type === 'start')) await tick();
  };
  return { records, finished, started };
}

describe('monitorLines', () => {
  it('configures inputs grouped by bias and debounce, with the edge filter inverted for active-low, and releases with the idle bias', async () => {
    const board = new FakeBoard();
    const m = run(board, { lines: [gp(3, { bias: 'pull-up', debounceUs: 50 }), gp(5, { bias: 'pull-up', debounceUs: 50 }), gp(7, { idleBias: 'pull-up' })], edges: 'rising', activeLow: true, count: 1 });
    await m.started();
    const configs = board.calls.filter((c) => c.op === 'configure').map((c) => c.args);
    expect(configs).toEqual([
      [[3, 5], { direction: 'input', edge: 'falling', bias: 'pull-up', debounceUs: 50 }],
      [[7], { direction: 'input', edge: 'falling', bias: 'none', debounceUs: 0 }],
    ]);
    // pull-up, active low: the lines read 1 at the pin, 0 as reported
    expect(m.records[0]).toMatchObject({ type: 'start', activeLow: true, edges: 'rising', lines: [{ name: 'GP3', level: 0 }, { name: 'GP5', level: 0 }, { name: 'GP7', level: 1 }] });
    board.drive(5, 0);
    const summary = await m.finished;
    expect(m.records[1]).toMatchObject({ type: 'edge', name: 'GP5', edge: 'rising', level: 1, lineSeq: 1, lostBefore: 0 });
    expect(summary).toMatchObject({ stoppedBy: 'count', edges: 1, lines: [{ name: 'GP3', edges: 0 }, { name: 'GP5', edges: 1 }, { name: 'GP7', edges: 0 }] });
    const released = board.calls.filter((c) => c.op === 'configure').slice(2).map((c) => c.args);
    expect(released).toEqual([[[3, 5], { direction: 'off', bias: 'pull-down' }], [[7], { direction: 'off', bias: 'pull-up' }]]);
  });

  it('counts lost edges per line from line_seq gaps, reports OVERFLOW for its lines only, and ignores other lines', async () => {
    const board = new FakeBoard();
    const m = run(board, { lines: [gp(3), gp(5)], edges: 'both', activeLow: false, count: 4 });
    await m.started();
    board.inject({ type: 'edge', line: 3, edge: 'rising', timeUs: 100n, lineSeq: 1 });
    board.inject({ type: 'overflow', lost: 9, lines: [8], firstUs: 110n, lastUs: 120n });
    board.inject({ type: 'overflow', lost: 4, lines: [3, 8], firstUs: 130n, lastUs: 140n });
    board.inject({ type: 'edge', line: 9, edge: 'rising', timeUs: 150n, lineSeq: 1 });
    board.inject({ type: 'edge', line: 3, edge: 'rising', timeUs: 160n, lineSeq: 5 });
    board.inject({ type: 'edge', line: 5, edge: 'falling', timeUs: 170n, lineSeq: 3 });
    board.inject({ type: 'edge', line: 5, edge: 'rising', timeUs: 180n, lineSeq: 4 });
    board.inject({ type: 'edge', line: 5, edge: 'falling', timeUs: 190n, lineSeq: 5 });
    const summary = await m.finished;
    expect(m.records.slice(1, -1)).toEqual([
      { type: 'edge', timeUs: 100n, line: 3, name: 'GP3', edge: 'rising', level: 1, lineSeq: 1, lostBefore: 0 },
      { type: 'overflow', lost: 4, lines: [{ line: 3, name: 'GP3' }], firstUs: 130n, lastUs: 140n },
      { type: 'edge', timeUs: 160n, line: 3, name: 'GP3', edge: 'rising', level: 1, lineSeq: 5, lostBefore: 3 },
      // line 5's first edge is seq 3 while the board said the next would be 1: two were lost
      { type: 'edge', timeUs: 170n, line: 5, name: 'GP5', edge: 'falling', level: 0, lineSeq: 3, lostBefore: 2 },
      { type: 'edge', timeUs: 180n, line: 5, name: 'GP5', edge: 'rising', level: 1, lineSeq: 4, lostBefore: 0 },
    ]);
    expect(summary).toMatchObject({ edges: 4, overflowLost: 4, lines: [{ name: 'GP3', edges: 2, lost: 3 }, { name: 'GP5', edges: 2, lost: 2 }] });
  });

  it('drops edges from before the start sample: already counted in line_seq or stamped before it', async () => {
    const board = new FakeBoard();
    // the line has seen 4 edges before; the next will be seq 5
    for (let i = 0; i < 4; i++) {
      await board.configure([3], { direction: 'input', edge: 'both' });
      board.drive(3, (i % 2 === 0 ? 1 : 0) as 0 | 1);
    }
    board.drive(3, 0);
    const m = run(board, { lines: [gp(3)], edges: 'both', activeLow: false, count: 1 });
    await m.started();
    const t0 = (m.records[0] as Extract<MonitorRecord, { type: 'start' }>).timeUs;
    board.inject({ type: 'edge', line: 3, edge: 'rising', timeUs: t0 - 5n, lineSeq: 4 }); // behind the reference
    board.inject({ type: 'edge', line: 3, edge: 'falling', timeUs: t0 - 1n, lineSeq: 5 }); // before the sample
    board.inject({ type: 'edge', line: 3, edge: 'rising', timeUs: t0 + 7n, lineSeq: 6 });
    const summary = await m.finished;
    expect(m.records.filter((r) => r.type === 'edge')).toEqual([{ type: 'edge', timeUs: t0 + 7n, line: 3, name: 'GP3', edge: 'rising', level: 1, lineSeq: 6, lostBefore: 0 }]);
    expect(summary.lines[0]).toMatchObject({ edges: 1, lost: 0 });
  });

  it('stops on duration and on abort, naming why', async () => {
    const board = new FakeBoard();
    let summary = await run(board, { lines: [gp(3)], edges: 'both', activeLow: false, durationMs: 20 }).finished;
    expect(summary).toMatchObject({ stoppedBy: 'duration', edges: 0 });
    const stop = new AbortController();
    const m = run(board, { lines: [gp(3)], edges: 'both', activeLow: false, signal: stop.signal });
    await m.started();
    stop.abort('SIGTERM');
    summary = await m.finished;
    expect(summary.stoppedBy).toBe('SIGTERM');
    expect(m.records.map((r) => r.type)).toEqual(['start', 'summary']);
  });

  it('a board that goes away ends the monitor with an error that says what to do', async () => {
    const board = new FakeBoard();
    const m = run(board, { lines: [gp(3)], edges: 'both', activeLow: false });
    await m.started();
    await board.close();
    await expect(m.finished).rejects.toThrow(/the board went away while monitoring \(closed\); check the cable/);
  });

  it('a request the board refuses propagates, and the lines are still released', async () => {
    const board = new FakeBoard();
    board.gate = async (op) => {
      if (op === 'getValues') throw new Error('refused');
    };
    await expect(run(board, { lines: [gp(3)], edges: 'both', activeLow: false }).finished).rejects.toThrow('refused');
    expect(board.calls.at(-1)).toEqual({ op: 'configure', args: [[3], { direction: 'off', bias: 'pull-down' }] });
  });
});

describe('formatRecord', () => {
  it('prints one line per record, device times in microseconds', () => {
    expect(formatRecord({ type: 'start', timeUs: 10n, edges: 'both', activeLow: true, lines: [{ line: 3, name: 'GP3', level: 1 }, { line: 5, name: 'GP5', level: 0 }] }))
      .toBe('start 10 us: GP3=1 GP5=0 (both edges, active low)\n');
    expect(formatRecord({ type: 'edge', timeUs: 1234n, line: 3, name: 'GP3', edge: 'rising', level: 1, lineSeq: 7, lostBefore: 0 })).toBe('1234 us GP3 rising seq 7\n');
    expect(formatRecord({ type: 'edge', timeUs: 1234n, line: 3, name: 'GP3', edge: 'falling', level: 0, lineSeq: 9, lostBefore: 2 }))
      .toBe('1234 us GP3 LOST 2 edges before seq 9\n1234 us GP3 falling seq 9\n');
    expect(formatRecord({ type: 'overflow', lost: 5, lines: [{ line: 3, name: 'GP3' }, { line: 5, name: 'GP5' }], firstUs: 100n, lastUs: 200n }))
      .toBe('200 us OVERFLOW lost 5 edges on GP3 GP5 (from 100 us to 200 us)\n');
    expect(formatRecord({ type: 'summary', stoppedBy: 'count', startUs: 10n, endUs: 2010n, edges: 3, overflowLost: 5, lines: [{ line: 3, name: 'GP3', edges: 3, lost: 5 }], disconnects: 0, connectedUs: 2000n, awayUs: 0n, endedAway: false }))
      .toBe('summary: 3 edges in 2000 us (device time), stopped by count; the board reported 5 edges lost\n  GP3: 3 edges, 5 lost\n');
  });
});
