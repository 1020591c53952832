/**
 * What only the emulated board can show: USB enumeration of the vgpio image, pins driven from outside
 * the chip (an overflow burst, external edges), jig propagation, pacing, fault reporting and close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { openBoard, openEmulatedBoard, emulatorOf, type EmulatedBoard, LinkClosedError, startEmulator, EmulatorFaultError } from '../../../src/index.js';
import { EventLog, sleep } from './harness.js';

const UF2 = fileURLToPath(new URL('../../../firmware/dist/vgpio.uf2', import.meta.url));

describe('the emulated board (firmware/dist/vgpio.bin, loopback jig)', () => {
  let eb: EmulatedBoard;
  beforeAll(async () => {
    eb = await openEmulatedBoard({ jig: 'loopback' });
  });
  afterAll(async () => {
    await eb?.close();
  });

  it('enumerates like a Linux host sees it: descriptors and the string descriptors of the vgpio image', () => {
    const r = eb.emulator.enumeration;
    expect(r.deviceDescriptor).toMatchObject({ idVendor: 0x1209, idProduct: 0x0001, bcdUSB: 0x0200, bDeviceClass: 0xef, bMaxPacketSize0: 64, iManufacturer: 1, iProduct: 2, iSerialNumber: 3 });
    expect(r.langIds).toEqual([0x0409]);
    expect(r.manufacturer).toBe('vgpio project');
    expect(r.product).toBe('vgpio');
    expect(r.serial).toBe('454D554C41544544');
    expect(r.serial.toLowerCase()).toBe(eb.board.info.serial); // the same id as HELLO's serial
    expect([r.bulkOut, r.bulkIn, r.notification]).toEqual([0x02, 0x82, 0x81]);
    expect(r.wTotalLength).toBe(75);
    expect(r.enumeratedAtMicros).toBeLessThan(20_000);
  });

  it('a pin driven from outside produces edges; an undriven pin falls back to its pull', async () => {
    await eb.board.reset();
    const log = new EventLog(eb.board);
    await eb.board.configure([26], { direction: 'input', bias: 'pull-up', edge: 'both' });
    expect((await eb.board.getValues([26])).values.get(26)).toBe(1);
    await eb.pins.drive(26, 0);
    await eb.pins.drive(26, 0); // no change, no edge (rp2040js would latch one on every call)
    await eb.pins.drive(26, null); // released: the pull-up brings it back
    await log.until((ev) => ev.length >= 2);
    await sleep(10);
    log.stop();
    expect(log.of('edge').map((e) => [e.line, e.edge, e.lineSeq])).toEqual([[26, 'falling', 1], [26, 'rising', 2]]);
  });

  it('the jig partner follows an output in the same simulated instant; the edge is stamped ~0.4 us later', async () => {
    await eb.board.reset();
    const log = new EventLog(eb.board);
    const changes: Array<{ line: number; level: number; nanos: number }> = [];
    const off = eb.pins.onChange((c) => changes.push(c));
    await eb.board.configure([1], { direction: 'input', edge: 'rising' });
    await eb.board.configure([0], { direction: 'output', value: 0 });
    await eb.board.setValues({ 0: 1 });
    await log.until((ev) => ev.length >= 1);
    off();
    log.stop();
    const out = changes.find((c) => c.line === 0 && c.level === 1)!;
    const partner = changes.find((c) => c.line === 1 && c.level === 1)!;
    expect(partner.nanos - out.nanos).toBe(0);
    const stampUs = Number(log.of('edge')[0]!.timeUs);
    // TIMER is floor(nanos / 1000): the stamp is at most a microsecond or two after the change.
    expect(stampUs - Math.floor(out.nanos / 1000)).toBeGreaterThanOrEqual(0);
    expect(stampUs - Math.floor(out.nanos / 1000)).toBeLessThanOrEqual(2);
  });

  it('a burst larger than the event ring is reported as OVERFLOW: edges + lost = every edge, line_seq gaps = lost', async () => {
    await eb.board.reset();
    const lines = Array.from({ length: 22 }, (_, i) => i);
    await eb.board.configure(lines, { direction: 'input', edge: 'both' });
    const log = new EventLog(eb.board);
    const toggles = 100;
    // 11 outside drivers, one per loopback pair: every toggle is 22 edges in one ISR service, every 30 us.
    // The ISR keeps up (~20 us per service), the main loop does not (~70 us to send 22 records): the
    // 256-record ring overflows. (At 60 us the faster firmware of issue #8 nearly keeps up: flaky.)
    await eb.pins.wave(lines.filter((l) => l % 2 === 0), toggles, 30_000);
    const total = toggles * lines.length;
    const counted = (ev: typeof log.events) =>
      ev.reduce((n, e) => n + (e.type === 'edge' ? 1 : e.type === 'overflow' ? e.lost : 0), 0);
    await log.until((ev) => counted(ev) >= total, 5000, `${total} edges or lost`);
    await sleep(20);
    log.stop();
    const overflows = log.of('overflow');
    const lost = overflows.reduce((n, e) => n + e.lost, 0);
    expect(lost).toBeGreaterThan(0);
    expect(log.of('edge').length + lost).toBe(total);
    expect(eb.board.counters.lostEvents).toBeGreaterThanOrEqual(lost);
    let gaps = 0;
    for (const line of lines) {
      const seqs = log.of('edge').filter((e) => e.line === line).map((e) => e.lineSeq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
      gaps += (seqs[0]! - 1) + seqs.reduce((n, s, i) => n + (i ? s - seqs[i - 1]! - 1 : 0), 0) + (toggles - seqs[seqs.length - 1]!);
    }
    expect(gaps).toBe(lost);
    const lostLines = new Set(overflows.flatMap((e) => e.lines));
    for (const o of overflows) expect(o.lastUs).toBeGreaterThanOrEqual(o.firstUs);
    expect([...lostLines].every((l) => lines.includes(l))).toBe(true);
    const stats = await eb.board.stats();
    expect(stats.eventsLost).toBeGreaterThanOrEqual(lost);
    // Records after an OVERFLOW are newer than every lost one.
    const all = log.events;
    all.forEach((e, i) => {
      if (e.type !== 'overflow') return;
      const next = all.slice(i + 1).find((x) => x.type === 'edge');
      if (next?.type === 'edge') expect(next.timeUs).toBeGreaterThanOrEqual(e.lastUs);
    });
  });

  it('status(): simulated time keeps pace with wall time and stays within the lead', async () => {
    // The wall window opens before the first snapshot is asked for and closes after the second one
    // arrives, so it contains the simulated interval whatever the message latency to the worker.
    const wall = performance.now();
    const a = await eb.emulator.status();
    await sleep(200);
    const b = await eb.emulator.status();
    const wallMs = performance.now() - wall;
    const simMs = (b.simNanos - a.simNanos) / 1e6;
    // At most the lead (1 ms) plus lag still being recovered at the start (after the overflow burst).
    expect(simMs).toBeLessThanOrEqual(wallMs + 1.5 + Math.max(0, a.lagNanos) / 1e6);
    // The lower bound is loose on purpose: a loaded machine (CI runs test files in parallel on 2 cores)
    // may make the emulator fall behind and drop lag beyond 20 ms, which is the documented behaviour.
    expect(simMs).toBeGreaterThan(wallMs * 0.25);
    expect(b.lagNanos).toBeGreaterThanOrEqual(-1.1e6);
    expect(b.cycles).toBeGreaterThan(a.cycles);
    expect(b.cyclesByException[16 + 5]).toBeGreaterThan(0); // USB IRQ
    expect(b.contentions).toBe(0);
  });

  it('the worker holds no received bytes after a stream of requests (they are forwarded, not kept)', async () => {
    // Regression: the worker's chip model also kept every reply packet for a read() nobody calls, about
    // 200 bytes per request for the life of `vgpio serve --board emulator`.
    const before = await eb.emulator.status();
    for (let i = 0; i < 50; i++) await eb.board.ping(Buffer.alloc(100, i));
    const after = await eb.emulator.status();
    expect(after.usb.inBytes - before.usb.inBytes).toBeGreaterThan(50 * 100);
    expect(after.heldReceivedBytes).toBe(0);
  });

  it('pause() stops simulated time, resume() continues without a jump', async () => {
    const t0 = await eb.emulator.pause();
    await sleep(50);
    const s = await eb.emulator.status();
    expect(s.paused).toBe(true);
    expect(s.simNanos).toBe(t0);
    const wall = performance.now();
    await eb.emulator.resume();
    const p = await eb.board.ping();
    const wallMs = performance.now() - wall;
    // No jump: the device advanced by no more than the wall time since resume (plus the 1 ms lead),
    // not by the 50 ms it spent paused.
    expect((Number(p.deviceTimeUs) - t0 / 1000) / 1000).toBeLessThanOrEqual(wallMs + 1.5);
  });
});

describe('lifecycle and faults', () => {
  it('openBoard({ emulator: true }) boots the UF2 too; closing the board terminates the worker', async () => {
    const board = await openBoard({ emulator: true, image: UF2 });
    const emulator = emulatorOf(board)!;
    expect(board.info.serial).toBe('454d554c41544544');
    const exited = new Promise<void>((resolve) => emulator.once('exit', resolve));
    await board.close();
    await exited;
    expect(emulator.closed).toBe(true);
  });

  it('a firmware reset (REBOOT_TO_BOOTLOADER without a bootrom falls back to the watchdog) surfaces as a clear error, not a hang', async () => {
    const eb = await openEmulatedBoard();
    const closed = new Promise<string>((resolve) => eb.board.once('close', resolve));
    await eb.board.rebootToBootloader();
    const reason = await closed;
    expect(reason).toMatch(/emulated board stopped: watchdog reset/);
    expect(eb.emulator.fault?.message).toMatch(/watchdog/);
    await expect(eb.board.ping()).rejects.toBeInstanceOf(LinkClosedError);
    await eb.close();
    expect(eb.emulator.closed).toBe(true);
  });

  it('a missing image, an image that is not firmware and an unknown jig fail with their names, not a crash', async () => {
    await expect(openEmulatedBoard({ image: '/nonexistent/vgpio.bin' })).rejects.toThrow(/\/nonexistent\/vgpio\.bin not found; give a \.bin or \.uf2 file/);
    await expect(openEmulatedBoard({ jig: 'no-such-jig' })).rejects.toThrow(/no-such-jig/);
    // The worker dies on it before anyone holds the board's stream: the fault is the rejection, and no
    // 'error' event is left unhandled (vitest fails the run on one).
    const notFirmware = fileURLToPath(new URL('../../../README.md', import.meta.url));
    const error = await startEmulator({ image: notFirmware }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EmulatorFaultError);
    expect((error as EmulatorFaultError).kind).toBe('ImageFormatError');
    expect((error as Error).message).toMatch(/no vector table at 0x10000100/);
  });
});
