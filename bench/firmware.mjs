// Firmware cost in the emulator (the `firmware` section of bench/run.mjs).
//  1. CPU cycles per request type, from the USB OUT completion of the packet holding the request's last
//     byte to the arming of the bulk IN buffer that completes its reply (the exact firmware/dist image,
//     synchronous in-process emulator, so nothing else runs in between), split by exception (thread / USB
//     IRQ / others).
//  2. GPIO edge ISR cycles per edge (io_bank0_irq_handler, attributed by IPSR = 16 + 13): single edges,
//     simultaneous bursts on several lines, and back-to-back edges on one line.
//  3. Wall time per request round trip through the worker-backed emulated board (openEmulatedBoard).
import { join } from 'node:path';
import { dist, root } from './lib.mjs';

export const name = 'firmware';

export async function run({ quick = false } = {}) {
  const { EmulatedRp2040, PinModel } = await dist('emulator/index.js');
  const { encodeFrame } = await dist('link/frame.js');
  const { slipEncodeFrame: slip } = await dist('link/slip.js');
  const { encodeRequest, RequestType } = await dist('link/protocol.js');
  const { openEmulatedBoard, loadJig } = await dist('index.js');

  const IMAGE = join(root, 'firmware/dist/vgpio.bin');
  const USB_IRQ = 16 + 5;
  const IO_IRQ = 16 + 13;
  const BULK_IN_BUF_CTRL = 0x80 + 2 * 8; // EP2 IN buffer control in DPRAM
  const REQUEST_BUDGET = 2000;
  const EDGE_BUDGET = 300;

  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { n: s.length, min: s[0], median: q(0.5), p95: q(0.95), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
  };


  // ---- 1. cycles per request ---------------------------------------------------------------------------
  function bootInstrumented() {
    const emu = EmulatedRp2040.fromFile(IMAGE);
    const pins = new PinModel(emu.mcu, loadJig('loopback'));
    const byEx = new Float64Array(48);
    emu.loop.cyclesByException = byEx;
    emu.start();
    const marks = { outDone: -1, inArms: [] };
    const usb = emu.mcu.usbCtrl;
    const readDone = usb.endpointReadDone.bind(usb);
    usb.endpointReadDone = (ep, data, delay) => {
      readDone(ep, data, delay);
      if (ep !== 0 && emu.usb.pendingOutBytes === 0) marks.outDone = { cycles: emu.loop.cycles, byEx: Float64Array.from(byEx) };
    };
    const dpram = usb.DPRAMUpdated.bind(usb);
    usb.DPRAMUpdated = (offset, value) => {
      if (offset === BULK_IN_BUF_CTRL && value & (1 << 10) && (value & 0x3ff) > 0) {
        const len = value & 0x3ff;
        marks.inArms.push({ cycles: emu.loop.cycles, byEx: Float64Array.from(byEx), len });
      }
      dpram(offset, value);
    };
    let rx = [];
    emu.onData((d) => rx.push(...d));
    let seq = 1;
    const idle = () => emu.mcu.core.waiting && emu.usb.bulkOutWaiting;
    /** Sends one request, runs until its reply frame is complete and the firmware is idle again. */
    function request(name, body) {
      emu.runUntil(idle, 50e6, 'idle before request');
      emu.run(50_000); // let any trailing event go out
      rx = [];
      marks.outDone = -1;
      marks.inArms = [];
      const s = seq++ & 0xffff;
      emu.write(slip(encodeFrame(RequestType[name], s, encodeRequest(name, body))));
      // Reply complete: a frame of type 0x80 | request with our seq has been received.
      const replyType = 0x80 | RequestType[name];
      let replyEnd = -1;
      emu.runUntil(() => {
        // Decode the SLIP frames received so far; stop at the reply (version 1, type, seq).
        let start = -1;
        for (let i = 0; i < rx.length; i++) {
          if (rx[i] !== 0xc0) continue;
          if (start >= 0 && i > start + 1) {
            const f = [];
            for (let j = start + 1; j < i; j++) {
              if (rx[j] === 0xdb) f.push(rx[++j] === 0xdc ? 0xc0 : 0xdb);
              else f.push(rx[j]);
            }
            if (f[0] === 1 && f[1] === replyType && (f[2] | (f[3] << 8)) === s) {
              replyEnd = i + 1;
              return true;
            }
          }
          start = i;
        }
        return false;
      }, 50e6, `${name} reply`);
      // The IN arm that carried the reply's last byte: arms deliver in order, so count bytes.
      let bytes = 0;
      const arm = marks.inArms.find((a) => (bytes += a.len) >= replyEnd);
      if (!arm || marks.outDone === -1) throw new Error(`${name}: could not place the hook marks`);
      const a = marks.outDone;
      return {
        cycles: arm.cycles - a.cycles,
        thread: arm.byEx[0] - a.byEx[0],
        usbIrq: arm.byEx[USB_IRQ] - a.byEx[USB_IRQ],
        other: arm.cycles - a.cycles - (arm.byEx[0] - a.byEx[0]) - (arm.byEx[USB_IRQ] - a.byEx[USB_IRQ]),
      };
    }
    return { emu, pins, byEx, request, idle };
  }

  const REPS = quick ? 10 : 60;
  const b = bootInstrumented();
  const lineConfig = (lines, o) => ({ lines, direction: 0, value: 0, bias: 0, drive: 0, edge: 0, level: 0, debounceUs: 0, ...o });
  b.request('LINE_CONFIG', lineConfig(1 << 2, { direction: 1 }));
  b.request('LINE_CONFIG', lineConfig(1 << 5, { direction: 2, level: 1 }));
  const cases = [
    ['HELLO', () => ({ minVersion: 1, maxVersion: 1 })],
    ['PING (empty)', () => ({ data: Buffer.alloc(0) }), 'PING'],
    ['PING (247 B)', () => ({ data: Buffer.alloc(247, 0x55) }), 'PING'],
    ['GET_STATS', () => ({})],
    ['LINE_CONFIG (1 input)', () => lineConfig(1 << 7, { direction: 2, edge: 3 }), 'LINE_CONFIG'],
    ['LINE_CONFIG (22 lines)', () => lineConfig(0x3fffff & ~(1 << 2) & ~(1 << 5), { direction: 2, edge: 3 }), 'LINE_CONFIG'],
    ['GET_LINE_CONFIG', () => ({ line: 7 })],
    ['SET_VALUES', (i) => ({ mask: 1 << 2, values: (i & 1) << 2 })],
    ['GET_VALUES', () => ({ mask: 0x3fffffff & ~0x21800000 })],
    ['PULSE (10 us)', () => ({ line: 2, level: 1, durationUs: 10 }), 'PULSE'],
    ['FAILSAFE (disarm)', () => ({ timeoutMs: 0, driveMask: 0, driveValues: 0, releaseMask: 0 }), 'FAILSAFE'],
    ['HEARTBEAT', () => ({})],
    ['LEVEL_REARM', () => ({ mask: 1 << 5 })],
    ['RESET', () => ({})],
    ['RESET (27 lines configured)', () => ({}), 'RESET'],
  ];
  // Every line RESET can touch: GP0..GP29 but the Pico's reserved GP23, GP24, GP29.
  const ALL_USABLE = 0x3fffffff & ~0x21800000;
  const requestRows = [];
  for (const [label, body, name = label] of cases) {
    const runs = [];
    for (let i = 0; i < REPS; i++) {
      if (name === 'RESET' || name === 'LEVEL_REARM' || name === 'PULSE' || name === 'SET_VALUES') {
        // keep the preconditions (RESET undoes them)
        if (label === 'RESET (27 lines configured)') b.request('LINE_CONFIG', lineConfig(ALL_USABLE, { direction: 2, edge: 3 }));
        b.request('LINE_CONFIG', lineConfig(1 << 2, { direction: 1 }));
        b.request('LINE_CONFIG', lineConfig(1 << 5, { direction: 2, level: 1 }));
        // GP3 is GP2's loopback partner: an edge input there (left by the 22-line case) would put its
        // interrupt inside the SET_VALUES and PULSE windows, which measure the request alone.
        if (name === 'PULSE' || name === 'SET_VALUES') b.request('LINE_CONFIG', lineConfig(1 << 3, { direction: 0 }));
      }
      runs.push(b.request(name, body(i)));
      if (name === 'PULSE') b.emu.run(200_000); // PULSE_DONE goes out before the next pulse
    }
    const c = stats(runs.map((r) => r.cycles));
    requestRows.push({
      request: label,
      median: c.median, min: c.min, max: c.max,
      thread: stats(runs.map((r) => r.thread)).median,
      usbIrq: stats(runs.map((r) => r.usbIrq)).median,
      other: stats(runs.map((r) => r.other)).median,
      withinBudget: c.median <= REQUEST_BUDGET,
    });
  }

  // ---- 2. edge ISR cycles ------------------------------------------------------------------------------
  function edgeRun(label, lines, { edges, periodNs, simultaneous }) {
    const e = bootInstrumented();
    e.request('LINE_CONFIG', lineConfig(lines.reduce((m, l) => m | (1 << l), 0) >>> 0, { direction: 2, edge: 3 }));
    e.emu.runUntil(e.idle, 50e6);
    const io0 = e.byEx[IO_IRQ];
    const all0 = e.emu.loop.cycles;
    const drivers = simultaneous ? lines.filter((l) => l % 2 === 0) : lines; // loopback: one driver per pair
    let level = 0;
    for (let i = 0; i < edges; i++) {
      level ^= 1;
      for (const l of drivers) e.pins.drive(l, level);
      e.emu.run(periodNs);
    }
    e.emu.run(20e6); // drain the events to USB
    const total = edges * lines.length;
    const isr = e.byEx[IO_IRQ] - io0;
    return {
      case: label, edges: total,
      isrPerEdge: isr / total,
      allPerEdge: (e.emu.loop.cycles - all0) / total, // ISR + main loop + USB: the full cost of delivering it
      withinBudget: isr / total <= EDGE_BUDGET,
    };
  }
  const EDGES = quick ? 50 : 400;
  const edgeRows = [
    edgeRun('single edges, 1 line, 1 ms apart', [26], { edges: EDGES, periodNs: 1e6 }),
    edgeRun('back-to-back, 1 line, 10 us apart', [26], { edges: EDGES, periodNs: 10_000 }),
    edgeRun('burst: 2 lines at once (1 pair)', [0, 1], { edges: EDGES, periodNs: 1e6, simultaneous: true }),
    edgeRun('burst: 8 lines at once (4 pairs)', [0, 1, 2, 3, 4, 5, 6, 7], { edges: EDGES / 2, periodNs: 1e6, simultaneous: true }),
    edgeRun('burst: 22 lines at once (11 pairs)', Array.from({ length: 22 }, (_, i) => i), { edges: EDGES / 4, periodNs: 2e6, simultaneous: true }),
  ];

  // ---- 3. wall time per round trip through the worker ---------------------------------------------------
  const eb = await openEmulatedBoard({ jig: 'loopback' });
  const board = eb.board;
  await board.configure([2], { direction: 'output', value: 0 });
  const WALL_REPS = quick ? 50 : 300;
  const wallRows = [];
  for (const [label, fn] of [
    ['PING', () => board.ping()],
    ['GET_VALUES', () => board.getValues([3])],
    ['SET_VALUES', (i) => board.setValues({ 2: i & 1 })],
    ['GET_STATS', () => board.stats()],
  ]) {
    for (let i = 0; i < 20; i++) await fn(i); // warm-up
    const times = [];
    for (let i = 0; i < WALL_REPS; i++) {
      const t = process.hrtime.bigint();
      await fn(i);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const s = stats(times);
    wallRows.push({ request: label, medianMs: s.median, p95Ms: s.p95, maxMs: s.max });
  }
  // Pipelined: a full window of 8 requests in flight.
  {
    const t = process.hrtime.bigint();
    const N = WALL_REPS;
    const pending = [];
    for (let i = 0; i < N; i++) pending.push(board.ping());
    await Promise.all(pending);
    wallRows.push({ request: 'PING x8 in flight (per request)', medianMs: Number(process.hrtime.bigint() - t) / 1e6 / N, p95Ms: NaN, maxMs: NaN });
  }
  const status = await eb.emulator.status();
  await eb.close();

  // ---- report ------------------------------------------------------------------------------------------
  const pad = (s, n) => String(s).padEnd(n);
  const num = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-').padStart(8);
  console.log(`\nfirmware cost in the emulator (firmware/dist/vgpio.bin, rp2040js cycle counts: exception entry/exit free, XIP 0 wait)`);
  console.log(`\nCPU cycles per request, USB OUT of the last byte -> bulk IN arm of the reply's last byte (${REPS} runs; budget <= ${REQUEST_BUDGET})`);
  console.log(`${pad('request', 26)}${'median'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}${'thread'.padStart(8)}${'USB IRQ'.padStart(8)}${'other'.padStart(8)}  budget`);
  for (const r of requestRows) console.log(`${pad(r.request, 26)}${num(r.median)}${num(r.min)}${num(r.max)}${num(r.thread)}${num(r.usbIrq)}${num(r.other)}  ${r.withinBudget ? 'ok' : 'OVER'}`);
  console.log(`\nGPIO edge cycles (io_bank0 ISR per edge; budget <= ${EDGE_BUDGET}) and everything per edge (ISR + main loop + USB)`);
  console.log(`${pad('case', 38)}${'edges'.padStart(8)}${'ISR/edge'.padStart(10)}${'all/edge'.padStart(10)}  budget`);
  for (const r of edgeRows) console.log(`${pad(r.case, 38)}${num(r.edges)}${num(r.isrPerEdge, 1).padStart(10)}${num(r.allPerEdge, 1).padStart(10)}  ${r.withinBudget ? 'ok' : 'OVER'}`);
  console.log(`\nwall time per request round trip, openEmulatedBoard (worker thread, paced; ${WALL_REPS} runs)`);
  console.log(`${pad('request', 34)}${'median ms'.padStart(10)}${'p95 ms'.padStart(10)}${'max ms'.padStart(10)}`);
  for (const r of wallRows) console.log(`${pad(r.request, 34)}${num(r.medianMs, 3).padStart(10)}${num(r.p95Ms, 3).padStart(10)}${num(r.maxMs, 3).padStart(10)}`);
  console.log(`\nemulator: lag ${(status.lagNanos / 1e6).toFixed(2)} ms, dropped lag ${(status.droppedLagNanos / 1e6).toFixed(2)} ms over ${(status.simNanos / 1e9).toFixed(2)} s simulated`);

  const over = requestRows.filter((r) => !r.withinBudget).length + edgeRows.filter((r) => !r.withinBudget).length;
  return {
    benchmark: 'firmware cost in the emulator',
    image: 'firmware/dist/vgpio.bin',
    budgets: { cyclesPerRequest: REQUEST_BUDGET, isrCyclesPerEdge: EDGE_BUDGET },
    requests: requestRows,
    edges: edgeRows,
    wall: wallRows,
    emulator: { lagNanos: status.lagNanos, droppedLagNanos: status.droppedLagNanos, simNanos: status.simNanos },
    overBudget: over,
  };
}
