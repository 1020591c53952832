/**
 * Messages between the emulated board's worker thread (worker.ts) and its owner on the main thread
 * (board.ts). Kept small: serial bytes both ways, pin drive and observation, run/pause, status (time,
 * cycle counters) and faults. Byte payloads and pin-change batches travel as transferred ArrayBuffers.
 */
import type { EnumerationResult } from './usb-host.js';

export type PinLevel = 0 | 1;

/** workerData of the emulator worker. */
export interface WorkerInit {
  /** Firmware image path (BIN or UF2). */
  image: string;
  /** Jig wires, already validated by loadJig. */
  wires: Array<[number, number]>;
  /** Simulated time may run ahead of wall time by at most this much (ns). */
  leadNanos?: number;
  /** Lag behind wall time that is recovered later (ns); more is dropped (see README). */
  maxLagNanos?: number;
}

export type ToWorker =
  | { t: 'serial'; data: ArrayBuffer }
  /** Drive a pin from outside at a level, or release it (null). Replies with the simulated time. */
  | { t: 'drive'; id: number; line: number; level: PinLevel | null }
  /**
   * Toggle `lines` together `edges` times, one toggle every `periodNanos` of simulated time, starting
   * one period from now, from each line's current level. The lines stay driven afterwards. Replies when
   * the last toggle was applied, with the simulated times of the first and last toggle.
   */
  | { t: 'wave'; id: number; lines: number[]; edges: number; periodNanos: number }
  | { t: 'status'; id: number }
  | { t: 'pause'; id: number }
  | { t: 'resume'; id: number }
  | { t: 'close' };

export interface EmulatorStatus {
  /** Simulated time since boot (ns). */
  simNanos: number;
  /** How far simulated time is behind its wall-clock target (ns, negative = ahead, at most the lead). */
  lagNanos: number;
  /** Lag that was dropped because the emulator was slower than real time for too long (ns, total). */
  droppedLagNanos: number;
  instructions: number;
  cycles: number;
  sleptNanos: number;
  /** Cycles per exception number (index = IPSR: 0 thread, 15 SysTick, 16 + n IRQ n). */
  cyclesByException: number[];
  /** Resolved level of every pin. */
  levels: PinLevel[];
  /** Nets found shorted (drivers disagreeing) since boot. */
  contentions: number;
  usb: { outPackets: number; outBytes: number; inPackets: number; inBytes: number; inZlps: number; outArms: number };
  /** Received bytes the emulated chip's host side still holds (kept for read(); 0 in the worker, which
   *  forwards everything as it arrives). */
  heldReceivedBytes: number;
  paused: boolean;
}

export interface WaveResult {
  firstNanos: number;
  lastNanos: number;
}

export type FromWorker =
  | { t: 'ready'; enumeration: EnumerationResult; simNanos: number }
  | { t: 'serial'; data: ArrayBuffer }
  /** Pin changes, packed as [line, level, nanos] triples. */
  | { t: 'pins'; changes: Float64Array }
  | { t: 'reply'; id: number; result?: unknown; error?: string }
  /** The emulated chip stopped (firmware break, watchdog reset, a bug in the emulator). Nothing runs after it. */
  | { t: 'fault'; name: string; message: string };
