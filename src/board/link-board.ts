/**
 * The Board API over a protocol v1 Link: translates plain settings objects into wire messages, checks
 * lines on the host first (so errors name the line and the fix without a round trip), turns wire events
 * into board events and extends per-line sequence numbers past 16 bits.
 */
import { EventEmitter } from 'node:events';
import { Link, type LinkEvent } from '../link/link.js';
import { PROTOCOL_VERSION } from '../link/frame.js';
import {
  Bias,
  Capability as CapabilityBit,
  Direction,
  Drive,
  Edge,
  EdgeKind,
  Level,
  namesByCode,
  PulseOutcome,
  Status,
  type DeviceStats,
  type HelloInfo,
  type WireLineConfig,
} from '../link/protocol.js';
import { DeviceError, VersionMismatchError } from '../link/errors.js';
import { boardEventIterator } from './event-iterator.js';
import { bitEntries, withDefaults } from './line-settings.js';
import type {
  Bit,
  Board,
  BoardEvent,
  BoardInfo,
  Capability,
  FailsafeConfig,
  LineSettings,
  LineState,
  PingResult,
} from './types.js';

/** A request the host refuses before sending it; the message names the line and the fix. */
export class BoardUsageError extends Error {
  override name = 'BoardUsageError';
}

export const BOARD_NAMES: Record<number, string> = { 1: 'generic RP2040', 2: 'Raspberry Pi Pico' };
export const HELLO_TIMEOUT_MS = 2000;
const MAX_DEBOUNCE_US = 1_000_000;
const MAX_PULSE_US = 60_000_000;

const DIRECTION = { off: Direction.OFF, output: Direction.OUTPUT, input: Direction.INPUT } as const;
const BIAS = { none: Bias.NONE, 'pull-up': Bias.PULL_UP, 'pull-down': Bias.PULL_DOWN, 'bus-keeper': Bias.BUS_KEEPER } as const;
const DRIVE = { 'push-pull': Drive.PUSH_PULL, 'open-drain': Drive.OPEN_DRAIN, 'open-source': Drive.OPEN_SOURCE } as const;
const EDGE = { none: Edge.NONE, rising: Edge.RISING, falling: Edge.FALLING, both: Edge.BOTH } as const;
const LEVEL = { none: Level.NONE, high: Level.HIGH, low: Level.LOW } as const;
const CAPABILITIES: Record<Capability, number> = {
  pulse: CapabilityBit.PULSE,
  failsafe: CapabilityBit.FAILSAFE,
  debounce: CapabilityBit.DEBOUNCE,
  'open-drain': CapabilityBit.OPEN_DRAIN,
  'open-source': CapabilityBit.OPEN_SOURCE,
  'pull-up': CapabilityBit.PULL_UP,
  'pull-down': CapabilityBit.PULL_DOWN,
  'bus-keeper': CapabilityBit.BUS_KEEPER,
  'edge-events': CapabilityBit.EDGE_EVENTS,
  'level-events': CapabilityBit.LEVEL_EVENTS,
  bootloader: CapabilityBit.BOOTLOADER,
  stats: CapabilityBit.STATS,
};

const DIRECTION_NAMES = namesByCode(DIRECTION);
const BIAS_NAMES = namesByCode(BIAS);
const DRIVE_NAMES = namesByCode(DRIVE);
const EDGE_NAMES = namesByCode(EDGE);
const LEVEL_NAMES = namesByCode(LEVEL);

function maskToLines(mask: number): number[] {
  const lines: number[] = [];
  for (let line = 0; line < 32; line++) if ((mask >>> line) & 1) lines.push(line);
  return lines;
}

export function boardInfoFromHello(hello: HelloInfo): BoardInfo {
  return {
    protocolVersion: hello.protocolVersion,
    firmwareVersion: `${hello.fwMajor}.${hello.fwMinor}.${hello.fwPatch}`,
    serial: hello.serial,
    boardId: hello.boardId,
    boardName: BOARD_NAMES[hello.boardId] ?? `unknown board ${hello.boardId}`,
    numLines: hello.numLines,
    reservedLines: maskToLines(hello.reservedLines),
    capabilities: (Object.keys(CAPABILITIES) as Capability[]).filter((c) => hello.capabilities & CAPABILITIES[c]),
    window: hello.window,
    maxPayload: hello.maxPayload,
    eventCapacity: hello.eventCapacity,
  };
}

interface BoardEmitterEvents {
  event: [BoardEvent];
  close: [string];
}

export class LinkBoard extends EventEmitter<BoardEmitterEvents> implements Board {
  /** Last full line_seq seen per line, to extend the wire's 16 bits. */
  private readonly lineSeq = new Map<number, number>();
  private closeReason: string | undefined;

  private constructor(readonly link: Link, readonly info: BoardInfo) {
    super();
    link.on('event', (event) => this.onLinkEvent(event));
    link.once('close', (reason) => {
      this.closeReason = reason;
      this.emit('close', reason);
    });
  }

  /** Says HELLO over the link and returns the board, or throws naming the version problem. */
  static async connect(link: Link): Promise<LinkBoard> {
    let hello: HelloInfo;
    try {
      hello = await link.request('HELLO', { minVersion: PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION }, { timeoutMs: HELLO_TIMEOUT_MS });
    } catch (error) {
      link.close('HELLO failed');
      if (error instanceof DeviceError && error.status === Status.BAD_VERSION) {
        // An error reply always carries a detail byte (decodeReply fills in NO_DETAIL): here the device's version.
        const detail = error.detail!;
        throw new VersionMismatchError(detail, detail, PROTOCOL_VERSION);
      }
      throw error;
    }
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      link.close('protocol version mismatch');
      throw new VersionMismatchError(hello.protocolVersion, hello.protocolVersion, PROTOCOL_VERSION);
    }
    link.setWindow(Math.max(1, hello.window));
    return new LinkBoard(link, boardInfoFromHello(hello));
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  get counters() {
    return this.link.counters;
  }

  // ---- line checks -------------------------------------------------------------------------------

  private checkExists(line: number, what: string): void {
    if (!Number.isInteger(line) || line < 0 || line >= this.info.numLines) {
      throw new BoardUsageError(`${what}: line ${line} does not exist; this ${this.info.boardName} has lines 0 to ${this.info.numLines - 1}`);
    }
  }

  private checkLine(line: number, what: string): void {
    this.checkExists(line, what);
    if (this.info.reservedLines.includes(line)) {
      throw new BoardUsageError(`${what}: line ${line} is reserved on the ${this.info.boardName} (reserved: ${this.info.reservedLines.join(', ')}); pick another line`);
    }
  }

  private maskOf(lines: Iterable<number>, what: string): number {
    let mask = 0;
    for (const line of lines) {
      this.checkLine(line, what);
      mask |= 1 << line;
    }
    return mask >>> 0;
  }

  private static bit(value: unknown, what: string): Bit {
    if (value === 0 || value === 1) return value;
    throw new BoardUsageError(`${what}: value ${String(value)} is not a level; use 0 or 1`);
  }

  // ---- requests ----------------------------------------------------------------------------------

  async configure(lines: readonly number[], settings: LineSettings): Promise<void> {
    const what = 'configure';
    if (lines.length === 0) throw new BoardUsageError(`${what}: name at least one line`);
    const mask = this.maskOf(lines, what);
    const direction = DIRECTION[settings.direction];
    if (direction === undefined) throw new BoardUsageError(`${what}: direction "${settings.direction}" is not one of off, input, output`);
    const full = withDefaults(settings);
    const pick = <T extends Record<string, number>>(table: T, value: string, field: string): number => {
      const code = table[value as keyof T];
      if (code === undefined) throw new BoardUsageError(`${what}: ${field} "${value}" is not one of ${Object.keys(table).join(', ')}`);
      return code;
    };
    const input = settings.direction === 'input';
    const output = settings.direction === 'output';
    const edge = pick(EDGE, full.edge, 'edge');
    const level = pick(LEVEL, full.level, 'level');
    const drive = pick(DRIVE, full.drive, 'drive');
    const { debounceUs } = full;
    if (!input && (edge !== Edge.NONE || level !== Level.NONE || debounceUs !== 0)) {
      throw new BoardUsageError(`${what}: edge, level and debounce apply to inputs only, and lines ${lines.join(', ')} are being set to ${settings.direction}`);
    }
    if (!output && (drive !== Drive.PUSH_PULL || full.value !== 0)) {
      throw new BoardUsageError(`${what}: drive and value apply to outputs only, and lines ${lines.join(', ')} are being set to ${settings.direction}`);
    }
    if (!Number.isInteger(debounceUs) || debounceUs < 0 || debounceUs > MAX_DEBOUNCE_US) {
      throw new BoardUsageError(`${what}: debounce of ${debounceUs} us is outside 0 to ${MAX_DEBOUNCE_US}`);
    }
    const config: WireLineConfig = {
      lines: mask,
      direction,
      value: output ? LinkBoard.bit(full.value, what) : 0,
      bias: pick(BIAS, full.bias, 'bias'),
      drive,
      edge,
      level,
      debounceUs,
    };
    await this.link.request('LINE_CONFIG', config);
  }

  async lineState(line: number): Promise<LineState> {
    this.checkExists(line, 'lineState');
    const r = await this.link.request('GET_LINE_CONFIG', { line });
    return {
      line,
      direction: DIRECTION_NAMES.get(r.direction) ?? 'off',
      value: (r.value & 1) as Bit,
      bias: BIAS_NAMES.get(r.bias) ?? 'none',
      drive: DRIVE_NAMES.get(r.drive) ?? 'push-pull',
      edge: EDGE_NAMES.get(r.edge) ?? 'none',
      level: LEVEL_NAMES.get(r.level) ?? 'none',
      debounceUs: r.debounceUs,
      pinLevel: (r.pinLevel & 1) as Bit,
      pulseActive: (r.flags & 1) !== 0,
      levelArmed: (r.flags & 2) !== 0,
      nextLineSeq: r.nextLineSeq,
    };
  }

  async setValues(values: Readonly<Record<number, Bit>> | ReadonlyMap<number, Bit>): Promise<void> {
    // Walked in place rather than through bitEntries(): this is on the path of every guest SET_VALUE.
    let named = false;
    let mask = 0;
    let bits = 0;
    const add = (line: number, value: unknown): void => {
      named = true;
      this.checkLine(line, 'setValues');
      mask |= 1 << line;
      if (value === 1) bits |= 1 << line;
      else if (value !== 0) LinkBoard.bit(value, `setValues line ${line}`);
    };
    if (values instanceof Map) for (const [line, value] of values) add(line, value);
    else {
      const keys = Object.keys(values);
      for (let i = 0; i < keys.length; i++) add(Number(keys[i]), (values as Record<string, unknown>)[keys[i]!]);
    }
    if (!named) throw new BoardUsageError('setValues: name at least one line');
    await this.link.request('SET_VALUES', { mask: mask >>> 0, values: bits >>> 0 });
  }

  async getValues(lines: readonly number[]): Promise<{ values: Map<number, Bit>; timeUs: bigint }> {
    if (lines.length === 0) throw new BoardUsageError('getValues: name at least one line');
    const mask = this.maskOf(lines, 'getValues');
    const r = await this.link.request('GET_VALUES', { mask });
    const values = new Map<number, Bit>();
    for (const line of lines) values.set(line, ((r.values >>> line) & 1) as Bit);
    return { values, timeUs: r.timeUs };
  }

  async pulse(line: number, options: { level: Bit; durationUs: number }): Promise<{ startUs: bigint }> {
    this.checkLine(line, 'pulse');
    const level = LinkBoard.bit(options.level, 'pulse');
    if (!Number.isInteger(options.durationUs) || options.durationUs < 1 || options.durationUs > MAX_PULSE_US) {
      throw new BoardUsageError(`pulse: duration of ${options.durationUs} us on line ${line} is outside 1 to ${MAX_PULSE_US}`);
    }
    return this.link.request('PULSE', { line, level, durationUs: options.durationUs });
  }

  async failsafe(config: FailsafeConfig | null): Promise<void> {
    if (config === null) {
      await this.link.request('FAILSAFE', { timeoutMs: 0, driveMask: 0, driveValues: 0, releaseMask: 0 });
      return;
    }
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs < 10 || config.timeoutMs > 600_000) {
      throw new BoardUsageError(`failsafe: timeout of ${config.timeoutMs} ms is outside 10 to 600000 (use null to disarm)`);
    }
    let driveMask = 0;
    let driveValues = 0;
    for (const [line, value] of bitEntries(config.drive ?? {})) {
      this.checkLine(line, 'failsafe');
      driveMask |= 1 << line;
      if (LinkBoard.bit(value, `failsafe line ${line}`)) driveValues |= 1 << line;
    }
    const releaseMask = this.maskOf(config.release ?? [], 'failsafe');
    const both = driveMask & releaseMask;
    if (both) throw new BoardUsageError(`failsafe: lines ${maskToLines(both).join(', ')} are both driven and released; pick one`);
    await this.link.request('FAILSAFE', { timeoutMs: config.timeoutMs, driveMask: driveMask >>> 0, driveValues: driveValues >>> 0, releaseMask });
  }

  async heartbeat(): Promise<void> {
    await this.link.request('HEARTBEAT', {});
  }

  async rearmLevel(lines: readonly number[]): Promise<void> {
    await this.link.request('LEVEL_REARM', { mask: this.maskOf(lines, 'rearmLevel') });
  }

  async reset(): Promise<void> {
    await this.link.request('RESET', {});
    this.lineSeq.clear();
  }

  async ping(data: Uint8Array = Buffer.alloc(0)): Promise<PingResult> {
    const started = process.hrtime.bigint();
    const r = await this.link.request('PING', { data: Buffer.from(data) });
    const roundTripUs = Number(process.hrtime.bigint() - started) / 1000;
    if (!r.data.equals(Buffer.from(data))) throw new Error('ping: the device echoed different bytes than it was sent');
    return { roundTripUs, deviceTimeUs: r.timeUs };
  }

  stats(): Promise<DeviceStats> {
    return this.link.request('GET_STATS', {});
  }

  async rebootToBootloader(): Promise<void> {
    await this.link.request('REBOOT_TO_BOOTLOADER', { activityLedMask: 0, disableInterfaceMask: 0 });
  }

  async close(): Promise<void> {
    this.link.close('board closed by the host');
  }

  // ---- events ------------------------------------------------------------------------------------

  private extendSeq(line: number, seq16: number): number {
    const last = this.lineSeq.get(line) ?? 0;
    const full = last + ((seq16 - last) & 0xffff);
    this.lineSeq.set(line, full);
    return full;
  }

  private onLinkEvent(event: LinkEvent): void {
    switch (event.name) {
      case 'EDGES':
        for (const e of event.body.edges) {
          this.emit('event', {
            type: 'edge',
            line: e.line,
            edge: e.kind === EdgeKind.RISING ? 'rising' : 'falling',
            timeUs: e.timeUs,
            lineSeq: this.extendSeq(e.line, e.lineSeq),
          });
        }
        break;
      case 'OVERFLOW':
        this.emit('event', { type: 'overflow', lost: event.body.lost, lines: maskToLines(event.body.lines), firstUs: event.body.firstUs, lastUs: event.body.lastUs });
        break;
      case 'LEVEL':
        this.emit('event', {
          type: 'level',
          timeUs: event.body.timeUs,
          levels: maskToLines(event.body.lines).map((line) => ({ line, value: ((event.body.values >>> line) & 1) as Bit })),
        });
        break;
      case 'PULSE_DONE': {
        const outcome = event.body.outcome === PulseOutcome.COMPLETED ? 'completed' : event.body.outcome === PulseOutcome.CANCELLED_BY_CONFIG ? 'cancelled-by-config' : 'cancelled-by-failsafe';
        this.emit('event', { type: 'pulse-done', line: event.body.line, level: (event.body.level & 1) as Bit, outcome, startUs: event.body.startUs, endUs: event.body.endUs });
        break;
      }
      case 'FAILSAFE_TRIPPED':
        this.emit('event', {
          type: 'failsafe',
          timeUs: event.body.timeUs,
          silenceMs: event.body.silenceMs,
          driven: maskToLines(event.body.driveMask).map((line) => ({ line, value: ((event.body.driveValues >>> line) & 1) as Bit })),
          released: maskToLines(event.body.releaseMask),
        });
        break;
      case 'VERSION_MISMATCH':
        break;
    }
  }

  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<BoardEvent> {
    return boardEventIterator(this, options);
  }
}
