/**
 * The Board API: what every consumer (CLI, vhost-user device model, HIL tests) uses to drive pins, whether
 * the board is a real RP2040 on USB or the emulated one. Settings are plain objects, in the manner of
 * libgpiod v2; levels are physical (active-low is applied by line requests above this layer).
 */
import type { DeviceStats } from '../link/protocol.js';
import type { LinkCounters } from '../link/link.js';

export type LineDirection = 'off' | 'input' | 'output';
export type LineBias = 'none' | 'pull-up' | 'pull-down' | 'bus-keeper';
export type LineDrive = 'push-pull' | 'open-drain' | 'open-source';
export type LineEdge = 'none' | 'rising' | 'falling' | 'both';
export type LineLevel = 'none' | 'high' | 'low';
export type Bit = 0 | 1;

export interface LineSettings {
  direction: LineDirection;
  /** Output level applied before the driver is enabled (outputs only). Default 0. */
  value?: Bit;
  /** Default: 'pull-down' for 'off' (the RP2040 power-on state), otherwise 'none'. */
  bias?: LineBias;
  /** Outputs only. Default 'push-pull'. */
  drive?: LineDrive;
  /** Inputs only: which edges produce events. Default 'none'. */
  edge?: LineEdge;
  /** Inputs only: one-shot level detection (re-arm with rearmLevel). Default 'none'. */
  level?: LineLevel;
  /** Inputs only: 0 to 1,000,000 microseconds. Default 0. */
  debounceUs?: number;
}

/** A line's configuration and state as the device reports it. */
export interface LineState extends Required<LineSettings> {
  line: number;
  /** The level at the pin now. */
  pinLevel: Bit;
  pulseActive: boolean;
  levelArmed: boolean;
  /** line_seq the next edge on this line will carry (low 16 bits). */
  nextLineSeq: number;
}

export type Capability =
  | 'pulse' | 'failsafe' | 'debounce' | 'open-drain' | 'open-source' | 'pull-up' | 'pull-down' | 'bus-keeper'
  | 'edge-events' | 'level-events' | 'bootloader' | 'stats';

export interface BoardInfo {
  protocolVersion: number;
  firmwareVersion: string;
  /** 16 hex digits: the board's unique id, also its USB serial number. */
  serial: string;
  boardId: number;
  boardName: string;
  numLines: number;
  reservedLines: number[];
  capabilities: Capability[];
  /** Requests the device accepts in flight. */
  window: number;
  maxPayload: number;
  /** Edge records the device buffers before it reports an overflow. */
  eventCapacity: number;
}

export interface EdgeEvent {
  type: 'edge';
  line: number;
  edge: 'rising' | 'falling';
  /** Device TIMER, microseconds since the board booted. */
  timeUs: bigint;
  /** Per-line edge counter, extended past the wire's 16 bits; gaps are lost edges. */
  lineSeq: number;
}

export interface OverflowEvent {
  type: 'overflow';
  /** Edge records the device dropped because its buffer was full. */
  lost: number;
  lines: number[];
  firstUs: bigint;
  lastUs: bigint;
}

export interface LevelEvent {
  type: 'level';
  timeUs: bigint;
  /** Lines whose configured level is present; their detection is now disarmed. */
  levels: Array<{ line: number; value: Bit }>;
}

export interface PulseDoneEvent {
  type: 'pulse-done';
  line: number;
  level: Bit;
  outcome: 'completed' | 'cancelled-by-config' | 'cancelled-by-failsafe';
  startUs: bigint;
  endUs: bigint;
}

export interface FailsafeEvent {
  type: 'failsafe';
  timeUs: bigint;
  silenceMs: number;
  driven: Array<{ line: number; value: Bit }>;
  released: number[];
}

export type BoardEvent = EdgeEvent | OverflowEvent | LevelEvent | PulseDoneEvent | FailsafeEvent;

export interface FailsafeConfig {
  /** Host silence that trips the failsafe: 10 to 600,000 ms. */
  timeoutMs: number;
  /** Lines driven to a level (as push-pull outputs) on trip. */
  drive?: Record<number, Bit> | ReadonlyMap<number, Bit>;
  /** Lines switched off (high impedance, bias kept) on trip. */
  release?: readonly number[];
}

export interface PingResult {
  roundTripUs: number;
  deviceTimeUs: bigint;
}

export interface Board {
  readonly info: BoardInfo;
  readonly closed: boolean;
  /** Host-side link counters (frames, CRC errors, timeouts, lost events...). */
  readonly counters: Readonly<LinkCounters>;

  /** Applies the same settings to every line given; all or nothing. */
  configure(lines: readonly number[], settings: LineSettings): Promise<void>;
  lineState(line: number): Promise<LineState>;
  /** Sets output levels; all lines change together on the device. */
  setValues(values: Readonly<Record<number, Bit>> | ReadonlyMap<number, Bit>): Promise<void>;
  /** Reads pin levels in one sample. */
  getValues(lines: readonly number[]): Promise<{ values: Map<number, Bit>; timeUs: bigint }>;
  /** Drives `level` for `durationUs`, timed on the device; resolves when it started. */
  pulse(line: number, options: { level: Bit; durationUs: number }): Promise<{ startUs: bigint }>;
  /** Arms the host-silence failsafe, or disarms it with null. */
  failsafe(config: FailsafeConfig | null): Promise<void>;
  heartbeat(): Promise<void>;
  rearmLevel(lines: readonly number[]): Promise<void>;
  /** Every line to its power-on state; failsafe off; events and line counters cleared. */
  reset(): Promise<void>;
  ping(data?: Uint8Array): Promise<PingResult>;
  stats(): Promise<DeviceStats>;
  rebootToBootloader(): Promise<void>;

  /** Events as they arrive; the iteration ends when the board closes. */
  events(options?: { signal?: AbortSignal }): AsyncIterableIterator<BoardEvent>;
  on(event: 'event', listener: (event: BoardEvent) => void): this;
  on(event: 'close', listener: (reason: string) => void): this;
  off(event: 'event', listener: (event: BoardEvent) => void): this;
  off(event: 'close', listener: (reason: string) => void): this;

  close(): Promise<void>;
}
