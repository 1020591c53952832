/**
 * The vgpio self-test: every protocol v1 message against the firmware image, through the loopback jig
 * (GP0-GP1, GP2-GP3, ... GP20-GP21 wired in pairs).
 *
 * Default: the exact firmware/dist image in the emulator. Hardware in the loop: with a real board with
 * the loopback jig wired, `VGPIO_HIL_PORT=/dev/ttyACM0 npx vitest run test/integration/emulated-board/self-test.test.ts`
 * runs the same file against it; the tests marked "[emulator only]" (they drive pins from outside the
 * chip or look inside the emulator) are skipped there.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeviceError, type Bit } from '../../../src/index.js';
import { encodeFrame } from '../../../src/link/frame.js';
import { createSlipEncoder } from '../../../src/link/slip.js';
import { EventLog, HIL, itEmulatorOnly, openTestBoard, sleep, type TestBoard } from './harness.js';

let t: TestBoard;
const PAIRS: Array<[number, number]> = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13], [14, 15], [16, 17], [18, 19], [20, 21]];

beforeAll(async () => {
  t = await openTestBoard();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  await t.board.reset();
});

async function deviceError(p: Promise<unknown>): Promise<DeviceError> {
  const e = await p.then(() => null, (error: unknown) => error);
  expect(e).toBeInstanceOf(DeviceError);
  return e as DeviceError;
}

/** One raw frame on the emulator's byte stream, bypassing the Link (for frames a Link never sends). */
async function sendRaw(bytes: Buffer): Promise<void> {
  const enc = createSlipEncoder();
  const out = new Promise<Buffer>((resolve) => enc.once('data', resolve));
  enc.write(bytes);
  t.emulator!.stream.write(await out);
}

describe('HELLO, PING, GET_STATS', () => {
  it('HELLO reports the firmware, the Pico lines and every capability', async () => {
    const info = t.board.info;
    expect(info).toMatchObject({
      protocolVersion: 1,
      firmwareVersion: '0.1.0',
      boardId: 2,
      boardName: 'Raspberry Pi Pico',
      numLines: 30,
      reservedLines: [23, 24, 29],
      window: 8,
      maxPayload: 256,
      eventCapacity: 256,
    });
    expect(info.capabilities).toHaveLength(12);
    if (HIL) expect(info.serial).toMatch(/^[0-9a-f]{16}$/);
    else expect(info.serial).toBe('454d554c41544544'); // "EMULATED": no flash unique id in the emulator
  });

  it('HELLO negotiates within a range and refuses a range without v1 (BAD_VERSION, detail = its version)', async () => {
    const r = await t.board.link.request('HELLO', { minVersion: 1, maxVersion: 9 });
    expect(r.protocolVersion).toBe(1);
    const e = await deviceError(t.board.link.request('HELLO', { minVersion: 2, maxVersion: 3 }));
    expect([e.statusName, e.detail]).toEqual(['BAD_VERSION', 1]);
  });

  it('PING echoes its data byte-exact (SLIP specials, the 247-byte maximum) and the device clock advances', async () => {
    const special = Buffer.from([0xc0, 0xdb, 0xdc, 0xdd, 0x00, 0xff]);
    const a = await t.board.ping(special);
    const max = Buffer.from(Array.from({ length: 247 }, (_, i) => (i * 37) & 0xff));
    const b = await t.board.ping(max);
    expect(b.deviceTimeUs).toBeGreaterThan(a.deviceTimeUs);
    const empty = await t.board.link.request('PING', { data: Buffer.alloc(0) });
    expect(empty.data).toHaveLength(0);
  });

  it('GET_STATS counts frames in and out', async () => {
    const s1 = await t.board.stats();
    await t.board.ping();
    const s2 = await t.board.stats();
    expect(s2.rxFrames - s1.rxFrames).toBe(2); // PING + GET_STATS
    expect(s2.txFrames - s1.txFrames).toBeGreaterThanOrEqual(2);
    expect(s2.rxCrcErrors).toBe(s1.rxCrcErrors);
  });

  itEmulatorOnly('[emulator only] GET_STATS counts a CRC error, a short frame and an unknown request type (UNSUPPORTED reply)', async () => {
    const s1 = await t.board.stats();
    const bad = Buffer.from(encodeFrame(0x02, 900, Buffer.alloc(0)));
    bad[bad.length - 1]! ^= 0xff;
    await sendRaw(bad);
    await sendRaw(Buffer.from([1, 2, 3]));
    await sendRaw(Buffer.from(encodeFrame(0x3f, 901, Buffer.alloc(0))));
    await sleep(20);
    const s2 = await t.board.stats();
    expect(s2.rxCrcErrors - s1.rxCrcErrors).toBe(1);
    expect(s2.rxFramingErrors - s1.rxFramingErrors).toBe(1);
    expect(s2.rxUnknownType - s1.rxUnknownType).toBe(1);
    expect(t.board.counters.unexpectedReplies).toBeGreaterThanOrEqual(1); // the UNSUPPORTED reply to seq 901
  });
});

describe('LINE_CONFIG, GET_LINE_CONFIG, SET_VALUES, GET_VALUES through the loopback jig', () => {
  it('every pair carries both levels in both directions', async () => {
    for (const flip of [false, true]) {
      const outs = PAIRS.map(([a, b]) => (flip ? b : a));
      const ins = PAIRS.map(([a, b]) => (flip ? a : b));
      await t.board.configure(ins, { direction: 'input' });
      await t.board.configure(outs, { direction: 'output', value: 0 });
      for (const pattern of [0b10101010101, 0b01010101010, 0b11111111111, 0]) {
        const values: Record<number, Bit> = {};
        outs.forEach((line, i) => (values[line] = ((pattern >> i) & 1) as Bit));
        await t.board.setValues(values);
        const { values: read } = await t.board.getValues(ins);
        expect(ins.map((line) => read.get(line))).toEqual(outs.map((line) => values[line]));
      }
    }
  });

  it('GET_LINE_CONFIG reports what LINE_CONFIG set, the pin level and the next line_seq', async () => {
    await t.board.configure([6], { direction: 'output', value: 1, drive: 'open-source' });
    await t.board.configure([7], { direction: 'input', bias: 'pull-down', edge: 'falling', level: 'high', debounceUs: 1234 });
    expect(await t.board.lineState(6)).toMatchObject({ direction: 'output', value: 1, drive: 'open-source', pinLevel: 1, pulseActive: false });
    expect(await t.board.lineState(7)).toMatchObject({
      direction: 'input', bias: 'pull-down', edge: 'falling', level: 'high', debounceUs: 1234, pinLevel: 1, levelArmed: false, nextLineSeq: 1,
    });
    await t.board.configure([8], { direction: 'off' });
    expect(await t.board.lineState(8)).toMatchObject({ direction: 'off', bias: 'pull-down', pinLevel: 0 });
  });

  it('pull-up and pull-down on an undriven pair read their pull; open-drain pulls a pulled-up wire low', async () => {
    await t.board.configure([10, 11], { direction: 'input', bias: 'pull-up' });
    expect([...(await t.board.getValues([10, 11])).values.values()]).toEqual([1, 1]);
    await t.board.configure([10, 11], { direction: 'input', bias: 'pull-down' });
    expect([...(await t.board.getValues([10, 11])).values.values()]).toEqual([0, 0]);
    await t.board.configure([11], { direction: 'input', bias: 'pull-up' });
    await t.board.configure([10], { direction: 'output', drive: 'open-drain', value: 1 });
    expect((await t.board.getValues([11])).values.get(11)).toBe(1); // released: the pull-up wins
    await t.board.setValues({ 10: 0 });
    expect((await t.board.getValues([10, 11])).values.get(11)).toBe(0);
  });

  it('refusals carry the status and the line: RESERVED_LINE, BAD_LINE, WRONG_DIRECTION, BAD_REQUEST', async () => {
    const link = t.board.link;
    let e = await deviceError(link.request('SET_VALUES', { mask: 1 << 23, values: 0 }));
    expect([e.statusName, e.detail]).toEqual(['RESERVED_LINE', 23]);
    e = await deviceError(link.request('GET_LINE_CONFIG', { line: 29 }));
    expect([e.statusName, e.detail]).toEqual(['RESERVED_LINE', 29]);
    e = await deviceError(link.request('GET_VALUES', { mask: 2 ** 30 }));
    expect([e.statusName, e.detail]).toEqual(['BAD_LINE', 30]);
    e = await deviceError(link.request('PULSE', { line: 31, level: 1, durationUs: 10 }));
    expect(e.statusName).toBe('BAD_LINE');
    await t.board.configure([3], { direction: 'input' });
    e = await deviceError(link.request('SET_VALUES', { mask: 1 << 3, values: 1 << 3 }));
    expect([e.statusName, e.detail]).toEqual(['WRONG_DIRECTION', 3]);
    await t.board.configure([2], { direction: 'output' });
    e = await deviceError(link.request('SET_VALUES', { mask: 1 << 2, values: 1 << 5 }));
    expect(e.statusName).toBe('BAD_REQUEST');
    e = await deviceError(link.request('LEVEL_REARM', { mask: 1 << 3 }));
    expect([e.statusName, e.detail]).toEqual(['BAD_REQUEST', 3]);
    // GET_VALUES may read reserved lines (reading touches nothing).
    const r = await link.request('GET_VALUES', { mask: 1 << 23 });
    expect(r.values & ~(1 << 23)).toBe(0);
  });
});

describe('edges through the loopback jig', () => {
  it('every toggle of an output is one edge on its partner: right kinds, increasing timestamps, contiguous line_seq', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([3, 5], { direction: 'input', edge: 'both' });
    await t.board.configure([2, 4], { direction: 'output', value: 0 });
    const N = 40;
    for (let i = 1; i <= N; i++) await t.board.setValues({ 2: (i & 1) as Bit, 4: (i & 1) as Bit });
    await log.until((ev) => ev.filter((e) => e.type === 'edge').length >= 2 * N, 3000, `${2 * N} edges`);
    log.stop();
    for (const line of [3, 5]) {
      const edges = log.of('edge').filter((e) => e.line === line);
      expect(edges.map((e) => e.lineSeq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(edges.map((e) => e.edge)).toEqual(Array.from({ length: N }, (_, i) => (i % 2 === 0 ? 'rising' : 'falling')));
      for (let i = 1; i < N; i++) expect(edges[i]!.timeUs).toBeGreaterThan(edges[i - 1]!.timeUs);
    }
    const all = log.of('edge');
    for (let i = 1; i < all.length; i++) expect(all[i]!.timeUs).toBeGreaterThanOrEqual(all[i - 1]!.timeUs);
    expect(log.of('overflow')).toEqual([]);
  });

  it('edge = rising reports only rising edges, and line_seq numbers the reported ones', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([13], { direction: 'input', edge: 'rising' });
    await t.board.configure([12], { direction: 'output', value: 0 });
    for (let i = 1; i <= 6; i++) await t.board.setValues({ 12: (i & 1) as Bit });
    await log.until((ev) => ev.length >= 3);
    await sleep(20);
    log.stop();
    const edges = log.of('edge');
    expect(edges.map((e) => [e.line, e.edge, e.lineSeq])).toEqual([[13, 'rising', 1], [13, 'rising', 2], [13, 'rising', 3]]);
  });

  it('debounce swallows a glitch shorter than debounce_us and reports a longer pulse once per edge', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([15], { direction: 'input', edge: 'both', debounceUs: 500 });
    await t.board.configure([14], { direction: 'output', value: 0 });
    await t.board.pulse(14, { level: 1, durationUs: 100 }); // glitch
    await log.until((ev) => ev.some((e) => e.type === 'pulse-done'));
    await sleep(20);
    expect(log.of('edge')).toEqual([]);
    const { startUs } = await t.board.pulse(14, { level: 1, durationUs: 2000 });
    await log.until((ev) => ev.filter((e) => e.type === 'edge').length >= 2);
    log.stop();
    const edges = log.of('edge');
    expect(edges.map((e) => [e.edge, e.lineSeq])).toEqual([['rising', 1], ['falling', 2]]);
    // Stamped with the transition that started the stable period (within ISR latency).
    expect(Number(edges[0]!.timeUs - startUs)).toBeGreaterThanOrEqual(0);
    expect(Number(edges[0]!.timeUs - startUs)).toBeLessThan(20);
    expect(Number(edges[1]!.timeUs - edges[0]!.timeUs)).toBeGreaterThan(1990);
  });

  it('level detection is one-shot and LEVEL_REARM re-arms it (at once if the level is present)', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([17], { direction: 'input', level: 'high' });
    await t.board.configure([16], { direction: 'output', value: 0 });
    await t.board.setValues({ 16: 1 });
    await log.until((ev) => ev.some((e) => e.type === 'level'));
    await sleep(20);
    expect(log.of('level').map((e) => e.levels)).toEqual([[{ line: 17, value: 1 }]]);
    expect((await t.board.lineState(17)).levelArmed).toBe(false);
    await t.board.rearmLevel([17]); // still high: fires again at once
    await log.until((ev) => ev.filter((e) => e.type === 'level').length >= 2);
    await t.board.setValues({ 16: 0 });
    await t.board.rearmLevel([17]);
    await sleep(20);
    expect(log.of('level')).toHaveLength(2);
    expect((await t.board.lineState(17)).levelArmed).toBe(true);
    await t.board.setValues({ 16: 1 });
    await log.until((ev) => ev.filter((e) => e.type === 'level').length >= 3);
    log.stop();
    const [a, b, c] = log.of('level');
    expect(b!.timeUs).toBeGreaterThan(a!.timeUs);
    expect(c!.timeUs).toBeGreaterThan(b!.timeUs);
  });
});

describe('PULSE', () => {
  // Pin to pin, the width is the duration plus the alarm ISR's latency to the pin write (up to about 2.1
  // us in rp2040js: ISR entry, the deadline scan, pulse_end) less up to 1 us of the start stamp's
  // microsecond rounding; so within 3 us. The stamps (PULSE_DONE, the partner's edges) are whole
  // microseconds taken at the pin writes, within 2 us.
  it('a 250 us pulse lasts 250 us within 2 us by its stamps and within 3 us pin to pin (PULSE_DONE, the partner edges, and [emulator] the pin timestamps)', async () => {
    const log = new EventLog(t.board);
    const changes: Array<{ line: number; level: number; nanos: number }> = [];
    const off = t.pins?.onChange((c) => changes.push(c));
    await t.board.configure([3], { direction: 'input', edge: 'both' });
    await t.board.configure([2], { direction: 'output', value: 0 });
    const { startUs } = await t.board.pulse(2, { level: 1, durationUs: 250 });
    await log.until((ev) => ev.some((e) => e.type === 'pulse-done') && ev.filter((e) => e.type === 'edge').length >= 2);
    await sleep(10);
    off?.();
    log.stop();
    const done = log.of('pulse-done')[0]!;
    expect(done).toMatchObject({ line: 2, level: 1, outcome: 'completed', startUs });
    expect(Math.abs(Number(done.endUs - done.startUs) - 250)).toBeLessThanOrEqual(2);
    const [rise, fall] = log.of('edge');
    expect([rise!.edge, fall!.edge]).toEqual(['rising', 'falling']);
    expect(Math.abs(Number(fall!.timeUs - rise!.timeUs) - 250)).toBeLessThanOrEqual(2);
    if (t.pins) {
      for (const line of [2, 3]) {
        const c = changes.filter((x) => x.line === line);
        expect(c.map((x) => x.level)).toEqual([1, 0]);
        const widthUs = (c[1]!.nanos - c[0]!.nanos) / 1000;
        expect(Math.abs(widthUs - 250)).toBeLessThanOrEqual(3);
      }
    }
  });

  it('a running pulse makes the line BUSY; LINE_CONFIG cancels it (outcome cancelled-by-config)', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([2], { direction: 'output', value: 0 });
    await t.board.pulse(2, { level: 1, durationUs: 1_000_000 });
    let e = await deviceError(t.board.link.request('PULSE', { line: 2, level: 1, durationUs: 10 }));
    expect([e.statusName, e.detail]).toEqual(['BUSY', 2]);
    e = await deviceError(t.board.link.request('SET_VALUES', { mask: 1 << 2, values: 0 }));
    expect(e.statusName).toBe('BUSY');
    expect((await t.board.lineState(2)).pulseActive).toBe(true);
    e = await deviceError(t.board.link.request('PULSE', { line: 3, level: 1, durationUs: 10 }));
    expect([e.statusName, e.detail]).toEqual(['WRONG_DIRECTION', 3]);
    await t.board.configure([2], { direction: 'output', value: 0 });
    await log.until((ev) => ev.some((x) => x.type === 'pulse-done'));
    log.stop();
    expect(log.of('pulse-done')[0]).toMatchObject({ line: 2, outcome: 'cancelled-by-config' });
  });
});

describe('FAILSAFE and HEARTBEAT', () => {
  it('heartbeats keep it quiet; after 400 ms of host silence it trips, drives and releases lines, and reports it', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([3, 5], { direction: 'input', bias: 'pull-down' });
    await t.board.configure([2, 4], { direction: 'output', value: 1 });
    expect([...(await t.board.getValues([3, 5])).values.values()]).toEqual([1, 1]);
    // 400 ms against heartbeats every ~30 ms: wide margin for a loaded CI machine's timer latency.
    await t.board.failsafe({ timeoutMs: 400, drive: { 2: 0 }, release: [4] });
    let silentFrom = 0;
    for (let i = 0; i < 8; i++) {
      await sleep(30);
      // Taken before the heartbeat is sent: the board's silence clock starts later than this, however
      // long its reply takes to come back.
      silentFrom = performance.now();
      await t.board.heartbeat();
    }
    expect(log.of('failsafe')).toEqual([]);
    await log.until((ev) => ev.some((e) => e.type === 'failsafe'), 3000, 'FAILSAFE_TRIPPED');
    const wallMs = performance.now() - silentFrom;
    log.stop();
    const trip = log.of('failsafe')[0]!;
    expect(trip.silenceMs).toBeGreaterThanOrEqual(400);
    expect(trip.driven).toEqual([{ line: 2, value: 0 }]);
    expect(trip.released).toEqual([4]);
    // Paced simulation: 400 ms of device time never takes much less wall time. The bound is the
    // emulator's lag allowance (20 ms, recovered while idle: src/emulator/README.md) plus its 1 ms lead.
    expect(wallMs).toBeGreaterThanOrEqual(400 - 20 - 1);
    expect([...(await t.board.getValues([3, 5])).values.values()]).toEqual([0, 0]);
    expect(await t.board.lineState(2)).toMatchObject({ direction: 'output', value: 0 });
    expect(await t.board.lineState(4)).toMatchObject({ direction: 'off' });
  });

  it('a trip cancels running pulses (outcome cancelled-by-failsafe) and disarms', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([6], { direction: 'output', value: 0 });
    await t.board.pulse(6, { level: 1, durationUs: 5_000_000 });
    await t.board.failsafe({ timeoutMs: 20, drive: { 6: 0 } });
    await log.until((ev) => ev.some((e) => e.type === 'failsafe') && ev.some((e) => e.type === 'pulse-done'));
    await sleep(100);
    log.stop();
    expect(log.of('pulse-done')[0]).toMatchObject({ line: 6, outcome: 'cancelled-by-failsafe' });
    expect(log.of('failsafe')).toHaveLength(1);
  });

  it('FAILSAFE refuses overlapping masks and reserved lines; timeout 0 disarms', async () => {
    let e = await deviceError(t.board.link.request('FAILSAFE', { timeoutMs: 100, driveMask: 1 << 2, driveValues: 0, releaseMask: 1 << 2 }));
    expect(e.statusName).toBe('BAD_REQUEST');
    e = await deviceError(t.board.link.request('FAILSAFE', { timeoutMs: 100, driveMask: 1 << 24, driveValues: 0, releaseMask: 0 }));
    expect([e.statusName, e.detail]).toEqual(['RESERVED_LINE', 24]);
    await t.board.failsafe({ timeoutMs: 10 });
    await t.board.failsafe(null);
    const log = new EventLog(t.board);
    await sleep(50);
    log.stop();
    expect(log.of('failsafe')).toEqual([]);
  });
});

describe('RESET', () => {
  it('puts every line back to OFF with pull-down and restarts line_seq', async () => {
    const log = new EventLog(t.board);
    await t.board.configure([19], { direction: 'input', edge: 'both' });
    await t.board.configure([18], { direction: 'output', value: 1 });
    await log.until((ev) => ev.length >= 1);
    await t.board.reset();
    expect(await t.board.lineState(18)).toMatchObject({ direction: 'off', bias: 'pull-down', pinLevel: 0 });
    expect(await t.board.lineState(19)).toMatchObject({ direction: 'off', nextLineSeq: 1 });
    log.stop();
  });
});
