/**
 * The emulated board's worker thread: the firmware image in rp2040js with our USB host and the pin
 * model, run in slices paced against the wall clock (see README.md, "Time"). The main thread talks to
 * it with the messages of worker-protocol.ts only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { EmulatedRp2040 } from './emulated-mcu.js';
import { PinModel, type Level } from './pins.js';
import type { EmulatorStatus, FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

/** Simulated time may run ahead of wall time by at most this (ns). */
export const DEFAULT_LEAD_NANOS = 1_000_000;
/** Lag carried over and recovered while the firmware sleeps (ns); beyond it lag is dropped. */
export const DEFAULT_MAX_LAG_NANOS = 20_000_000;
/** Wall time one synchronous slice may take before messages are handled (ms). */
const SLICE_MS = 4;
/** Simulated time run between wall-clock checks (ns). */
const CHUNK_NANOS = 50_000;

if (!parentPort) throw new Error('src/emulator/worker.ts runs as a worker thread (use startEmulator or openBoard({ emulator: true }))');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

// The worker forwards received bytes as they arrive (onData below) and never read()s them back.
const emu = EmulatedRp2040.fromFile(init.image, { keepReceived: false });
const cyclesByException = new Float64Array(48);
emu.loop.cyclesByException = cyclesByException;
const pins = new PinModel(emu.mcu, { wires: init.wires });
const leadNanos = init.leadNanos ?? DEFAULT_LEAD_NANOS;
const maxLagNanos = init.maxLagNanos ?? DEFAULT_MAX_LAG_NANOS;

let rx: Uint8Array[] = [];
let changes: number[] = [];
emu.usb.onData((d) => rx.push(d));
pins.onChange((c) => changes.push(c.line, c.level, c.nanos));

let stopped = false;
let paused = false;
let timer: NodeJS.Timeout | null = null;
let immediate: NodeJS.Immediate | null = null;
// Wall-clock anchor: simulated time `simAnchor` corresponds to wall time `wallAnchor` (ms).
let wallAnchor = 0;
let simAnchor = 0;
let droppedLag = 0;

const targetNanos = () => simAnchor + (performance.now() - wallAnchor) * 1e6;

function flush(): void {
  // Pin changes first: a test that sees an edge event has already seen the pin change behind it.
  if (changes.length) {
    const packed = Float64Array.from(changes);
    changes = [];
    post({ t: 'pins', changes: packed }, [packed.buffer]);
  }
  if (rx.length) {
    const total = rx.reduce((n, c) => n + c.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const c of rx) {
      data.set(c, off);
      off += c.length;
    }
    rx = [];
    post({ t: 'serial', data: data.buffer }, [data.buffer]);
  }
}

function fault(error: unknown): void {
  stopped = true;
  // rp2040js reports an IN packet as sent (BUFF_STATUS) 10 us before the host receives it; on silicon the
  // host has it by then. So when the chip stops (e.g. the watchdog reset that follows the reply to
  // REBOOT_TO_BOOTLOADER), let the host side take what was already on the wire: advance the clock without
  // running the CPU, which fires only the pending host-side alarms.
  try {
    (emu.mcu.clock as unknown as { tick(deltaNanos: number): void }).tick(50_000);
  } catch {
    // nothing more to deliver
  }
  flush();
  const e = error instanceof Error ? error : new Error(String(error));
  post({ t: 'fault', name: e.name, message: e.message });
}

function schedule(delayMs: number): void {
  if (stopped || paused || immediate) return;
  if (delayMs <= 0) {
    if (timer) clearTimeout(timer);
    timer = null;
    immediate = setImmediate(slice);
  } else if (!timer) {
    timer = setTimeout(() => {
      timer = null;
      slice();
    }, delayMs);
  }
}

/** Runs the firmware until simulated time reaches `limit` or SLICE_MS of wall time have passed. */
function runTo(limit: number): boolean {
  const sliceEnd = performance.now() + SLICE_MS;
  try {
    while (emu.loop.nanos < limit) {
      emu.loop.runFor(Math.min(CHUNK_NANOS, limit - emu.loop.nanos));
      if (performance.now() >= sliceEnd) break;
    }
    return true;
  } catch (error) {
    fault(error);
    return false;
  }
}

/**
 * Input from outside (bytes, pin drives) lands at "now": while the worker slept, simulated time stood
 * still, so first bring it up to the wall clock (cheap: the firmware is asleep). Otherwise a frame would
 * arrive at the simulated time of the last slice, up to a whole sleep early (the failsafe's silence timer
 * would start early). If simulated time is ahead (at most the lead), the input lands then.
 */
function advanceToNow(): boolean {
  if (stopped) return false;
  if (paused) return true;
  return runTo(targetNanos());
}

/** Run the firmware up to wall time + lead, at most SLICE_MS of wall time, then yield to messages. */
function slice(): void {
  immediate = null;
  if (stopped || paused) return;
  // The limit is fixed for the slice: chasing the moving wall clock would spin in tiny steps.
  const limit = targetNanos() + leadNanos;
  if (!runTo(limit)) return;
  const lag = targetNanos() - emu.loop.nanos;
  if (lag > maxLagNanos) {
    // Slower than real time for too long: give up the excess rather than compressing it later.
    simAnchor -= lag - maxLagNanos;
    droppedLag += lag - maxLagNanos;
  }
  flush();
  const sim = emu.loop.nanos;
  if (sim < limit) return schedule(0); // behind: keep going after handling messages
  // Ahead of the wall clock: sleep until the next thing the firmware waits for is within the lead.
  const core = emu.mcu.core;
  const clock = emu.mcu.clock as unknown as { nextAlarm: { nanos: number } | null };
  const next = core.waiting ? (clock.nextAlarm?.nanos ?? sim + 100e6) : sim;
  schedule(Math.max(1, (next - leadNanos - targetNanos()) / 1e6));
}

/** Run a slice now (instead of at the scheduled wake-up). */
function catchUp(): void {
  if (stopped || paused) return;
  if (timer) clearTimeout(timer);
  if (immediate) clearImmediate(immediate);
  timer = null;
  immediate = null;
  slice();
}

function wake(): void {
  schedule(0);
}

function status(): EmulatorStatus {
  return {
    simNanos: emu.loop.nanos,
    lagNanos: targetNanos() - emu.loop.nanos,
    droppedLagNanos: droppedLag,
    instructions: emu.loop.instructions,
    cycles: emu.loop.cycles,
    sleptNanos: emu.loop.sleptNanos,
    cyclesByException: Array.from(cyclesByException),
    levels: Array.from(pins.levels) as Level[],
    contentions: pins.contentions,
    usb: { ...emu.usb.stats },
    heldReceivedBytes: emu.available,
    paused,
  };
}

function wave(id: number, lines: number[], edges: number, periodNanos: number): void {
  const levels = lines.map((l) => pins.level(l));
  let done = 0;
  let first = 0;
  const alarm = emu.mcu.clock.createAlarm(() => {
    for (let i = 0; i < lines.length; i++) {
      levels[i] = (levels[i]! ^ 1) as Level;
      pins.drive(lines[i]!, levels[i]!);
    }
    if (done === 0) first = emu.loop.nanos;
    done++;
    if (done < edges) alarm.schedule(periodNanos);
    else post({ t: 'reply', id, result: { firstNanos: first, lastNanos: emu.loop.nanos } });
  });
  alarm.schedule(periodNanos);
}

function handle(msg: ToWorker): void {
  if (stopped && msg.t !== 'close' && msg.t !== 'status') {
    if ('id' in msg) post({ t: 'reply', id: msg.id, error: 'the emulated board has stopped' });
    return;
  }
  switch (msg.t) {
    case 'serial':
      if (!advanceToNow()) return;
      emu.usb.write(new Uint8Array(msg.data));
      return wake();
    case 'drive':
      if (!advanceToNow()) {
        post({ t: 'reply', id: msg.id, error: 'the emulated board has stopped' });
        return;
      }
      try {
        pins.drive(msg.line, msg.level);
        post({ t: 'reply', id: msg.id, result: emu.loop.nanos });
      } catch (error) {
        post({ t: 'reply', id: msg.id, error: (error as Error).message });
      }
      return wake();
    case 'wave':
      if (!msg.lines.every((l) => Number.isInteger(l) && l >= 0 && l < 30) || !(msg.edges >= 1) || !(msg.periodNanos > 0)) {
        post({ t: 'reply', id: msg.id, error: `wave: bad arguments ${JSON.stringify(msg)}` });
        return;
      }
      if (!advanceToNow()) {
        post({ t: 'reply', id: msg.id, error: 'the emulated board has stopped' });
        return;
      }
      wave(msg.id, msg.lines, msg.edges, msg.periodNanos);
      return wake();
    case 'status':
      catchUp(); // bring simulated time up to the wall clock first, so the answer is current
      post({ t: 'reply', id: msg.id, result: status() });
      return;
    case 'pause':
      paused = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      timer = null;
      immediate = null;
      post({ t: 'reply', id: msg.id, result: emu.loop.nanos });
      return;
    case 'resume':
      if (paused) {
        paused = false;
        // Simulated time does not jump over the pause: re-anchor at the current simulated time.
        wallAnchor = performance.now();
        simAnchor = emu.loop.nanos;
      }
      post({ t: 'reply', id: msg.id, result: emu.loop.nanos });
      return wake();
    case 'close':
      stopped = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      port.close();
      return;
  }
}

port.on('message', handle);

try {
  // Boot and enumeration run unpaced (about 10 ms simulated, a few ms of wall time); pacing starts after.
  const enumeration = emu.start();
  flush();
  wallAnchor = performance.now();
  simAnchor = emu.loop.nanos;
  post({ t: 'ready', enumeration, simNanos: emu.loop.nanos });
  wake();
} catch (error) {
  fault(error);
}
