/**
 * An in-process Board that answers at once: lines with directions and levels, loopback wiring between
 * pairs (an output drives its partner input and raises edge events), one-shot level detection, and knobs
 * to make requests fail, hang or see the board vanish. For device-model tests and benchmarks.
 */
import { EventEmitter } from 'node:events';
import type { Bit, Board, BoardEvent, BoardInfo, FailsafeConfig, LineSettings, LineState, PingResult } from '../../src/board/types.js';
import { BoardUsageError } from '../../src/board/link-board.js';
import { LinkClosedError } from '../../src/link/errors.js';
import { zeroLinkCounters } from '../../src/link/link.js';
import { bitEntries, withDefaults } from '../../src/board/line-settings.js';
import type { DeviceStats } from '../../src/link/protocol.js';

export const FAKE_INFO: BoardInfo = {
  protocolVersion: 1, firmwareVersion: '0.1.0', serial: '00000000000000fa', boardId: 2, boardName: 'Raspberry Pi Pico',
  numLines: 30, reservedLines: [23, 24, 29],
  capabilities: ['pulse', 'failsafe', 'debounce', 'open-drain', 'open-source', 'pull-up', 'pull-down', 'bus-keeper', 'edge-events', 'level-events', 'bootloader', 'stats'],
  window: 8, maxPayload: 256, eventCapacity: 256,
};

interface FakeLine {
  settings: Required<LineSettings>;
  level: Bit;
  levelArmed: boolean;
}

export class FakeBoard extends EventEmitter implements Board {
  readonly info = FAKE_INFO;
  readonly counters = zeroLinkCounters();
  readonly lines: FakeLine[];
  readonly calls: Array<{ op: string; args: unknown[] }> = [];
  closed = false;
  /** Every request rejects with this error while set. */
  failWith: Error | undefined;
  /** Requests wait for this promise while set (a slow or stuck board). */
  stall: Promise<void> | undefined;
  /** Called at the start of every request; the request waits for the returned promise. */
  gate: ((op: string, args: unknown[]) => Promise<void>) | undefined;
  private time = 0n;
  private readonly seq = new Map<number, number>();

  /** @param wires pairs of lines connected together (loopback jig) */
  constructor(readonly wires: Array<[number, number]> = [[2, 3], [4, 5], [6, 7]]) {
    super();
    this.lines = Array.from({ length: FAKE_INFO.numLines }, () => ({
      settings: withDefaults({ direction: 'off' }),
      level: 0 as Bit,
      levelArmed: false,
    }));
  }

  private async enter(op: string, ...args: unknown[]): Promise<void> {
    this.calls.push({ op, args });
    if (this.closed) throw new LinkClosedError('HEARTBEAT', 0, 'the board is closed');
    if (this.stall) await this.stall;
    if (this.gate) await this.gate(op, args);
    if (this.failWith) throw this.failWith;
  }

  private check(line: number, what: string): void {
    if (!Number.isInteger(line) || line < 0 || line >= this.info.numLines) throw new BoardUsageError(`${what}: line ${line} does not exist`);
    if (this.info.reservedLines.includes(line)) throw new BoardUsageError(`${what}: line ${line} is reserved`);
  }

  private partner(line: number): number | undefined {
    for (const [a, b] of this.wires) {
      if (a === line) return b;
      if (b === line) return a;
    }
    return undefined;
  }

  /** Drives an input from outside (a test's finger on the pin). */
  drive(line: number, level: Bit): void {
    const l = this.lines[line]!;
    if (l.settings.direction === 'output') return;
    this.setLevel(line, level);
  }

  private setLevel(line: number, level: Bit): void {
    const l = this.lines[line]!;
    if (l.level === level) return;
    l.level = level;
    this.time += 10n;
    if (l.settings.direction === 'input') {
      const rising = level === 1;
      const edge = l.settings.edge;
      if (edge === 'both' || (edge === 'rising' && rising) || (edge === 'falling' && !rising)) {
        const seq = (this.seq.get(line) ?? 0) + 1;
        this.seq.set(line, seq);
        this.emit('event', { type: 'edge', line, edge: rising ? 'rising' : 'falling', timeUs: this.time, lineSeq: seq } satisfies BoardEvent);
      }
      this.checkLevel(line);
    }
    const partner = this.partner(line);
    if (partner !== undefined && l.settings.direction === 'output') this.setLevel(partner, level);
  }

  private checkLevel(line: number): void {
    const l = this.lines[line]!;
    if (!l.levelArmed || l.settings.level === 'none') return;
    if ((l.settings.level === 'high') === (l.level === 1)) {
      l.levelArmed = false;
      this.emit('event', { type: 'level', timeUs: this.time, levels: [{ line, value: l.level }] } satisfies BoardEvent);
    }
  }

  async configure(lines: readonly number[], settings: LineSettings): Promise<void> {
    await this.enter('configure', [...lines], settings);
    for (const line of lines) this.check(line, 'configure');
    for (const line of lines) {
      const l = this.lines[line]!;
      l.settings = withDefaults(settings);
      l.levelArmed = l.settings.level !== 'none';
      if (settings.direction === 'output') this.setLevel(line, settings.value ?? 0);
      else {
        // A released or input line follows its partner if that one drives, else its pull.
        const partner = this.partner(line);
        const driven = partner !== undefined && this.lines[partner]!.settings.direction === 'output';
        const pulled: Bit = l.settings.bias === 'pull-up' ? 1 : l.settings.bias === 'pull-down' ? 0 : l.level;
        l.level = driven ? this.lines[partner!]!.level : pulled;
        this.checkLevel(line);
      }
    }
  }

  async lineState(line: number): Promise<LineState> {
    await this.enter('lineState', line);
    const l = this.lines[line]!;
    return { line, ...l.settings, pinLevel: l.level, pulseActive: false, levelArmed: l.levelArmed, nextLineSeq: (this.seq.get(line) ?? 0) + 1 };
  }

  async setValues(values: Readonly<Record<number, Bit>> | ReadonlyMap<number, Bit>): Promise<void> {
    const entries = bitEntries(values);
    await this.enter('setValues', entries);
    for (const [line] of entries) {
      this.check(line, 'setValues');
      if (this.lines[line]!.settings.direction !== 'output') throw new BoardUsageError(`setValues: line ${line} is not an output`);
    }
    for (const [line, value] of entries) this.setLevel(line, value);
  }

  async getValues(lines: readonly number[]): Promise<{ values: Map<number, Bit>; timeUs: bigint }> {
    await this.enter('getValues', [...lines]);
    for (const line of lines) this.check(line, 'getValues');
    return { values: new Map(lines.map((l) => [l, this.lines[l]!.level])), timeUs: this.time };
  }

  async pulse(line: number, options: { level: Bit; durationUs: number }): Promise<{ startUs: bigint }> {
    await this.enter('pulse', line, options);
    return { startUs: this.time };
  }

  async failsafe(config: FailsafeConfig | null): Promise<void> { await this.enter('failsafe', config); }
  async heartbeat(): Promise<void> { await this.enter('heartbeat'); }

  async rearmLevel(lines: readonly number[]): Promise<void> {
    await this.enter('rearmLevel', [...lines]);
    for (const line of lines) {
      this.lines[line]!.levelArmed = true;
      this.checkLevel(line);
    }
  }

  async reset(): Promise<void> { await this.enter('reset'); }
  async ping(): Promise<PingResult> { await this.enter('ping'); return { roundTripUs: 1, deviceTimeUs: this.time }; }
  async stats(): Promise<DeviceStats> {
    await this.enter('stats');
    return { rxFrames: 0, rxCrcErrors: 0, rxFramingErrors: 0, rxBadVersion: 0, rxUnknownType: 0, txFrames: 0, eventsSent: 0, eventsLost: 0, txStalls: 0 };
  }
  async rebootToBootloader(): Promise<void> { await this.enter('rebootToBootloader'); }

  events(): AsyncIterableIterator<BoardEvent> {
    throw new Error('FakeBoard.events() is not used by these tests; listen to "event"');
  }

  /** Emits an event as if it came from the device. */
  inject(event: BoardEvent): void {
    this.emit('event', event);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.emit('close', 'closed');
  }
}
