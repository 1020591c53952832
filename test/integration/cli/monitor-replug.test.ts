/**
 * `vgpio monitor` across an unplug and a replug: the monitor's core runs in-process on a ReconnectingBoard
 * over the emulated board (firmware/dist in rp2040js, loopback jig: GP2 drives GP3, GP4 drives GP5) behind
 * a Cable (test/faults/helpers/cable.ts). The unplug cuts the cable and powers the board off; the replug
 * starts a fresh emulated board, whose microsecond clock starts again from its power-up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Emulator } from '../../../src/emulator/board.js';
import { Link } from '../../../src/link/link.js';
import { LinkBoard } from '../../../src/board/link-board.js';
import { ReconnectingBoard } from '../../../src/board/reconnecting-board.js';
import { monitorLines, type MonitoredLine, type MonitorRecord, type MonitorSettings } from '../../../src/cli/monitor-lines.js';
import { formatRecord, vcdRecorder } from '../../../src/cli/monitor-output.js';
import { jsonLine } from '../../../src/cli/common.js';
import { VcdWriter } from '../../../src/cli/vcd.js';
import { Cable } from '../../faults/helpers/cable.js';
import { parseVcd, waveform } from '../../helpers/vcd.js';

/** A USB socket: plug() powers up a fresh emulated board behind a new cable; unplug() cuts it and powers it off. */
class Socket {
  emulator: Emulator | undefined;
  cable: Cable | undefined;
  private readonly all: Emulator[] = [];

  async plug(): Promise<void> {
    this.emulator = await Emulator.start({ jig: 'loopback' });
    this.all.push(this.emulator);
    this.cable = new Cable(this.emulator.stream);
  }

  readonly open = async (): Promise<LinkBoard> => {
    if (!this.cable || this.cable.isCut) throw new Error('cannot open serial port /dev/ttyACM0: No such file or directory');
    return LinkBoard.connect(new Link(this.cable.host));
  };

  async unplug(): Promise<void> {
    this.cable?.cut();
    await this.emulator?.close();
  }

  async closeAll(): Promise<void> {
    for (const e of this.all) await e.close();
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp() {
  const socket = new Socket();
  cleanups.push(() => socket.closeAll());
  await socket.plug();
  // retryMs short: the replugged board is found within a few tens of milliseconds
  const board = await ReconnectingBoard.open({ open: socket.open, retryMs: 20 });
  cleanups.push(() => board.close());
  return { socket, board };
}

const monitored = (line: number, name: string): MonitoredLine => ({ line, name, bias: 'none', debounceUs: 0, idleBias: 'pull-down' });

function startMonitor(board: ReconnectingBoard, settings: MonitorSettings) {
  let text = '';
  const records: MonitorRecord[] = [];
  const toVcd = vcdRecorder(({ signals, comment }) => new VcdWriter({ date: new Date(), version: 'vgpio test', comment, scope: 'vgpio', signals }, (t) => (text += t)));
  const finished = monitorLines(board, settings, (record) => {
    records.push(record);
    toVcd(record);
  });
  finished.catch(() => undefined);
  const until = async (what: (r: MonitorRecord[]) => boolean) => {
    while (!what(records)) await new Promise((r) => setTimeout(r, 5));
  };
  return { records, finished, until, text: () => text };
}

const edgesOf = (records: MonitorRecord[]) => records.filter((r): r is Extract<MonitorRecord, { type: 'edge' }> => r.type === 'edge');
const one = <T extends MonitorRecord['type']>(records: MonitorRecord[], type: T) => {
  const found = records.filter((r) => r.type === type);
  expect(found).toHaveLength(1);
  return found[0] as Extract<MonitorRecord, { type: T }>;
};

/** The old board's clock must be well past where the new one's will be when it is sampled (~ its boot time). */
const OLD_CLOCK_US = 2_000_000n;

describe('vgpio monitor when the board is unplugged and plugged in again', () => {
  it('reports the disconnect, waits, re-samples the levels on reconnect, goes on reporting edges with continuing seq numbers; the VCD is x while away and its time stays monotonic', async () => {
    const { socket, board } = await setUp();
    await board.configure([2], { direction: 'output', value: 0 });
    await board.configure([4], { direction: 'output', value: 1 });
    const stopper = new AbortController();
    const m = startMonitor(board, { lines: [monitored(3, 'GP3'), monitored(5, 'GP5')], edges: 'both', activeLow: false, signal: stopper.signal });
    await m.until((r) => r.length > 0);
    expect(m.records[0]).toMatchObject({ type: 'start', lines: [{ name: 'GP3', level: 0 }, { name: 'GP5', level: 1 }] });

    // Let the old board's clock run well past the replugged board's boot time, so the replug restarts it;
    // the edges come after that, so the monitor itself has seen the old clock that far (its notion of
    // "the clock went back" compares with the latest device time it saw, not with this test's reads).
    let oldUs = 0n;
    while (oldUs < OLD_CLOCK_US) {
      oldUs = (await board.getValues([3])).timeUs;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const value of [1, 0, 1] as const) {
      const want = edgesOf(m.records).length + 1;
      await board.setValues({ 2: value });
      await m.until((r) => edgesOf(r).length === want);
    }

    await socket.unplug();
    await m.until((r) => r.some((x) => x.type === 'disconnect'));
    await new Promise((r) => setTimeout(r, 100)); // away a while: the monitor keeps waiting
    expect(m.records.at(-1)!.type).toBe('disconnect');
    await socket.plug();
    await m.until((r) => r.some((x) => x.type === 'reconnect'));

    // After the replug (GP2 driven high again by the replay): a falling then a rising edge on GP3.
    for (const value of [0, 1] as const) {
      const want = edgesOf(m.records).length + 1;
      await board.setValues({ 2: value });
      await m.until((r) => edgesOf(r).length === want);
    }
    stopper.abort('SIGINT');
    const summary = await m.finished;

    const start = one(m.records, 'start');
    const gone = one(m.records, 'disconnect');
    const back = one(m.records, 'reconnect');
    expect(m.records.map((r) => r.type)).toEqual(['start', 'edge', 'edge', 'edge', 'disconnect', 'reconnect', 'edge', 'edge', 'summary']);
    expect(gone.board).toBe(`the board with serial ${board.info.serial}`);
    expect(gone.reason).toMatch(/^the link closed: /);
    expect(formatRecord(gone)).toBe(`board: the board with serial ${board.info.serial} is gone (${gone.reason}); waiting for it (edges while it is away are not seen)\n`);
    expect(JSON.parse(jsonLine(gone))).toEqual({ type: 'disconnect', timeUs: Number(gone.timeUs), board: gone.board, reason: gone.reason });

    // The fresh board's clock started again: the re-sample is before the old board's last time.
    expect(back.timeUs).toBeLessThan(oldUs);
    expect(back.clockRestarted).toBe(true);
    expect(back.awayUs).toBeGreaterThanOrEqual(100_000n); // at least the 100 ms the test waited
    expect(back.lines).toEqual([{ line: 3, name: 'GP3', level: 1 }, { line: 5, name: 'GP5', level: 1 }]);
    expect(formatRecord(back)).toMatch(new RegExp(`^board: the board with serial ${board.info.serial} is back at ${back.timeUs} us \\(it restarted: device times count from its power-up\\) after \\d+\\.\\d s away; levels GP3=1 GP5=1\\n$`));
    expect(JSON.parse(jsonLine(back))).toMatchObject({ type: 'reconnect', timeUs: Number(back.timeUs), clockRestarted: true, lines: back.lines });

    // Edges: levels follow the pin on both boards, and line_seq keeps counting across the replug.
    const edges = edgesOf(m.records);
    expect(edges.map((e) => [e.name, e.edge, e.level, e.lostBefore])).toEqual([
      ['GP3', 'rising', 1, 0], ['GP3', 'falling', 0, 0], ['GP3', 'rising', 1, 0], ['GP3', 'falling', 0, 0], ['GP3', 'rising', 1, 0],
    ]);
    const seq0 = edges[0]!.lineSeq;
    expect(edges.map((e) => e.lineSeq)).toEqual([seq0, seq0 + 1, seq0 + 2, seq0 + 3, seq0 + 4]);
    // device times: after the replug they are on the new clock, after the re-sample
    expect(edges[3]!.timeUs).toBeGreaterThanOrEqual(back.timeUs);
    expect(edges[2]!.timeUs).toBeLessThanOrEqual(gone.timeUs);

    expect(summary).toMatchObject({ stoppedBy: 'SIGINT', edges: 5, overflowLost: 0, disconnects: 1, endedAway: false, lines: [{ name: 'GP3', edges: 5, lost: 0 }, { name: 'GP5', edges: 0, lost: 0 }] });
    expect(summary.awayUs).toBe(back.awayUs);
    expect(summary.connectedUs).toBe(gone.timeUs - start.timeUs + (summary.endUs - back.timeUs));
    expect(formatRecord(summary)).toMatch(/^summary: 5 edges in (\d+) us \((\d+) us connected by the device clock, (\d+) us away by the host clock\), stopped by SIGINT; the board went away 1 time\n/);

    // The VCD: x on every line from the disconnect to the re-sample, then the re-sampled levels and the
    // edges, at device time + an offset that keeps time going forward.
    const vcd = parseVcd(m.text());
    const goneAt = Number(gone.timeUs - start.timeUs);
    const backAt = goneAt + Number(back.awayUs);
    const offset = BigInt(backAt) - back.timeUs;
    const at = (e: { timeUs: bigint }, after: boolean) => Number(e.timeUs + (after ? offset : -start.timeUs));
    expect(waveform(vcd, 'GP3')).toEqual({
      initial: '0',
      changes: [
        { time: at(edges[0]!, false), value: '1' }, { time: at(edges[1]!, false), value: '0' }, { time: at(edges[2]!, false), value: '1' },
        { time: goneAt, value: 'x' }, { time: backAt, value: '1' },
        { time: at(edges[3]!, true), value: '0' }, { time: at(edges[4]!, true), value: '1' },
      ],
    });
    expect(waveform(vcd, 'GP5')).toEqual({ initial: '1', changes: [{ time: goneAt, value: 'x' }, { time: backAt, value: '1' }] });
    const times = vcd.changes.map((c) => c.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(at(edges[3]!, true)).toBeGreaterThanOrEqual(backAt);
    expect(vcd.endTime).toBe(Number(summary.connectedUs + summary.awayUs));
    expect(vcd.endTime).toBeGreaterThanOrEqual(at(edges[4]!, true));
    expect(vcd.comments[0]).toMatch(/x = level unknown after lost edges or while the board was unplugged/);
    expect(vcd.notes).toHaveLength(1);
    expect(vcd.notes[0]!.text).toContain(`at ${goneAt} us: the board with serial ${board.info.serial} went away (the link closed: `);
    expect(vcd.notes[0]!.text).toContain(
      `at ${backAt} us: the board with serial ${board.info.serial} is back after ${back.awayUs} us away (host clock); levels sampled at device time ${back.timeUs} us; from here VCD time = device time + ${offset} us (its clock restarted when it was plugged in again)`,
    );

    // Monitoring released the lines on the replugged board.
    expect((await board.lineState(3)).direction).toBe('off');
    expect((await board.lineState(5)).direction).toBe('off');
  }, 60_000);

  it('a board that is not back when --duration ends: the summary says it was away, the VCD ends x', async () => {
    const { socket, board } = await setUp();
    await board.configure([2], { direction: 'output', value: 1 });
    const m = startMonitor(board, { lines: [monitored(3, 'GP3')], edges: 'both', activeLow: false, durationMs: 1500 });
    await m.until((r) => r.length > 0);
    await socket.unplug();
    const summary = await m.finished;
    const start = one(m.records, 'start');
    const gone = one(m.records, 'disconnect');
    expect(m.records.map((r) => r.type)).toEqual(['start', 'disconnect', 'summary']);
    expect(summary).toMatchObject({ stoppedBy: 'duration', edges: 0, disconnects: 1, endedAway: true, endUs: gone.timeUs });
    expect(summary.connectedUs).toBe(gone.timeUs - start.timeUs);
    expect(summary.awayUs).toBeGreaterThan(0n);
    expect(formatRecord(summary)).toMatch(/; the board went away 1 time and was away when monitoring stopped\n/);
    const vcd = parseVcd(m.text());
    expect(waveform(vcd, 'GP3')).toEqual({ initial: '1', changes: [{ time: Number(gone.timeUs - start.timeUs), value: 'x' }] });
    expect(vcd.endTime).toBe(Number(summary.connectedUs + summary.awayUs));
  }, 30_000);
});
