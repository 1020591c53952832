/**
 * The acceptance test of `vgpio monitor --vcd`: the monitor's core runs in-process on the emulated board
 * (loopback jig: GP2 drives GP3, GP4 drives GP5) while the test drives GP2 and GP4 with pulses timed on
 * the board; the VCD it writes is parsed back and must show exactly those pulses, at the device times
 * PULSE_DONE reports, within the few microseconds between the pin changing and the edge being stamped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmulatedBoard, type EmulatedBoard } from '../../../src/board/open.js';
import type { Bit, BoardEvent, PulseDoneEvent } from '../../../src/board/types.js';
import { monitorLines, type MonitoredLine, type MonitorRecord, type MonitorSettings } from '../../../src/cli/monitor-lines.js';
import { vcdRecorder } from '../../../src/cli/monitor-output.js';
import { VcdWriter } from '../../../src/cli/vcd.js';
import { parseVcd, waveform, type ParsedVcd } from '../../helpers/vcd.js';

/** Edge stamp vs PULSE_DONE's start/end: the IRQ handler runs a few cycles after the pin changes. */
const TOLERANCE_US = 3;

let emulated: EmulatedBoard;

beforeAll(async () => {
  emulated = await openEmulatedBoard({ jig: 'loopback' });
});

afterAll(async () => {
  await emulated?.close();
});

const monitored = (line: number, name: string): MonitoredLine => ({ line, name, bias: 'none', debounceUs: 0, idleBias: 'pull-down' });

/** Runs monitorLines into a VCD string; `started` resolves with the start record once lines are armed. */
function startMonitor(settings: MonitorSettings) {
  let text = '';
  const records: MonitorRecord[] = [];
  const toVcd = vcdRecorder(({ signals, comment }) => new VcdWriter({ date: new Date(), version: 'vgpio test', comment, scope: 'vgpio', signals }, (t) => (text += t)));
  let started!: (r: MonitorRecord) => void;
  const startedP = new Promise<MonitorRecord>((resolve) => (started = resolve));
  const finished = monitorLines(emulated.board, settings, (record) => {
    records.push(record);
    toVcd(record);
    if (record.type === 'start') started(record);
  });
  finished.catch(() => undefined);
  return { started: startedP, finished, records, vcd: (): ParsedVcd => parseVcd(text), text: () => text };
}

/** Drives a board-timed pulse and resolves with its PULSE_DONE. */
async function pulse(line: number, level: Bit, durationUs: number): Promise<PulseDoneEvent> {
  const board = emulated.board;
  const done = new Promise<PulseDoneEvent>((resolve) => {
    const on = (e: BoardEvent) => {
      if (e.type === 'pulse-done' && e.line === line) {
        board.off('event', on);
        resolve(e);
      }
    };
    board.on('event', on);
  });
  await board.pulse(line, { level, durationUs });
  const event = await done;
  expect(event.outcome).toBe('completed');
  return event;
}

describe('vgpio monitor --vcd on the loopback jig', () => {
  it('the VCD shows the pulses driven on the partner line: edge times and widths match the board-timed pulses', async () => {
    const board = emulated.board;
    await board.configure([2, 4], { direction: 'output', value: 0 });
    const widthsGp2 = [100, 250, 40, 1000];
    const widthsGp4 = [300, 60];
    const m = startMonitor({ lines: [monitored(3, 'GP3'), monitored(5, 'GP5')], edges: 'both', activeLow: false, count: 2 * (widthsGp2.length + widthsGp4.length) });
    const start = await m.started;
    expect(start).toMatchObject({ type: 'start', lines: [{ name: 'GP3', level: 0 }, { name: 'GP5', level: 0 }] });
    const t0 = (start as Extract<MonitorRecord, { type: 'start' }>).timeUs;

    const driven: Record<string, PulseDoneEvent[]> = { GP3: [], GP5: [] };
    for (const w of widthsGp2.slice(0, 2)) driven.GP3!.push(await pulse(2, 1, w));
    for (const w of widthsGp4) driven.GP5!.push(await pulse(4, 1, w));
    for (const w of widthsGp2.slice(2)) driven.GP3!.push(await pulse(2, 1, w));
    const summary = await m.finished;
    expect(summary).toMatchObject({ stoppedBy: 'count', edges: 12, overflowLost: 0, lines: [{ name: 'GP3', edges: 8, lost: 0 }, { name: 'GP5', edges: 4, lost: 0 }] });

    const vcd = m.vcd();
    expect(vcd.timescale).toBe('1 us');
    expect(vcd.signals.map((s) => s.name)).toEqual(['GP3', 'GP5']);
    expect(vcd.notes).toEqual([]);
    for (const [name, pulses] of Object.entries(driven)) {
      const wave = waveform(vcd, name);
      expect(wave.initial).toBe('0');
      expect(wave.changes.map((c) => c.value)).toEqual(pulses.flatMap(() => ['1', '0']));
      pulses.forEach((p, i) => {
        const rise = wave.changes[2 * i]!.time;
        const fall = wave.changes[2 * i + 1]!.time;
        expect(Math.abs(rise - Number(p.startUs - t0))).toBeLessThanOrEqual(TOLERANCE_US);
        expect(Math.abs(fall - Number(p.endUs - t0))).toBeLessThanOrEqual(TOLERANCE_US);
        expect(Math.abs(fall - rise - Number(p.endUs - p.startUs))).toBeLessThanOrEqual(TOLERANCE_US);
      });
    }
    const widths = (name: string) => {
      const c = waveform(vcd, name).changes;
      return c.filter((_, i) => i % 2 === 0).map((r, i) => c[2 * i + 1]!.time - r.time);
    };
    widths('GP3').forEach((w, i) => expect(Math.abs(w - widthsGp2[i]!)).toBeLessThanOrEqual(TOLERANCE_US));
    widths('GP5').forEach((w, i) => expect(Math.abs(w - widthsGp4[i]!)).toBeLessThanOrEqual(TOLERANCE_US));
    // the dump ends when monitoring stopped, after the last edge
    expect(vcd.endTime).toBeGreaterThanOrEqual(vcd.changes.at(-1)!.time);
    expect(vcd.endTime).toBe(Number(summary.endUs - t0));

    // monitoring released the lines
    expect((await board.lineState(3)).direction).toBe('off');
    expect((await board.lineState(5)).direction).toBe('off');
  });

  it('active-low inverts the initial level and every change, and the edge names', async () => {
    const board = emulated.board;
    await board.configure([2], { direction: 'output', value: 0 });
    const m = startMonitor({ lines: [monitored(3, 'GP3')], edges: 'both', activeLow: true, count: 2 });
    await m.started;
    const p = await pulse(2, 1, 200);
    await m.finished;
    const vcd = m.vcd();
    expect(waveform(vcd, 'GP3')).toMatchObject({ initial: '1', changes: [{ value: '0' }, { value: '1' }] });
    const edges = m.records.filter((r) => r.type === 'edge');
    expect(edges.map((e) => e.edge)).toEqual(['falling', 'rising']);
    expect(edges.map((e) => e.level)).toEqual([0, 1]);
    expect(edges[1]!.timeUs - edges[0]!.timeUs).toBeGreaterThanOrEqual(BigInt(200 - TOLERANCE_US));
    expect(Number(edges[0]!.timeUs - p.startUs)).toBeLessThanOrEqual(TOLERANCE_US);
    // line_seq is contiguous across the two edges
    expect(edges[1]!.lineSeq).toBe(edges[0]!.lineSeq + 1);
  });

  it('--edges rising with active-low reports the pin\'s falling edges only', async () => {
    const board = emulated.board;
    await board.configure([2], { direction: 'output', value: 1 });
    const m = startMonitor({ lines: [monitored(3, 'GP3')], edges: 'rising', activeLow: true, count: 2 });
    const start = await m.started;
    expect(start).toMatchObject({ lines: [{ level: 0 }] });
    await pulse(2, 0, 100);
    await pulse(2, 0, 100);
    const summary = await m.finished;
    const edges = m.records.filter((r) => r.type === 'edge');
    expect(edges.map((e) => [e.edge, e.level])).toEqual([['rising', 1], ['rising', 1]]);
    expect(summary.lines[0]).toMatchObject({ edges: 2, lost: 0 });
  });

  it('stops on the signal, with the reason it was given, and releases the lines', async () => {
    const stopper = new AbortController();
    const m = startMonitor({ lines: [monitored(7, 'GP7')], edges: 'both', activeLow: false, signal: stopper.signal });
    await m.started;
    await emulated.board.configure([6], { direction: 'output', value: 0 });
    await emulated.board.setValues({ 6: 1 });
    // wait for the edge to be reported before stopping
    while (!m.records.some((r) => r.type === 'edge')) await new Promise((r) => setTimeout(r, 5));
    stopper.abort('SIGINT');
    const summary = await m.finished;
    expect(summary).toMatchObject({ stoppedBy: 'SIGINT', edges: 1, lines: [{ name: 'GP7', edges: 1, lost: 0 }] });
    expect(waveform(m.vcd(), 'GP7')).toMatchObject({ initial: '0', changes: [{ value: '1' }] });
    expect((await emulated.board.lineState(7)).direction).toBe('off');
  });
});
