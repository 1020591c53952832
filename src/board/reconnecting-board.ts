/**
 * A Board that survives unplugging. It wraps an opener (a function that opens the board and says HELLO)
 * and notices the board going away: the link closing (a real unplug closes the tty, the emulator's pipe
 * ends) or a USB detach of the board's serial number from a HotplugWatcher. While the board is gone every
 * request fails at once with BoardDisconnectedError; meanwhile it tries the opener again every `retryMs`,
 * and at once on a USB attach of the same serial. A board that answers gets back what was configured
 * through this object: every line's settings (direction, output value, bias, drive, edge, level, debounce;
 * active-low lives above the Board API, in physical levels), then the failsafe. Only then does it become
 * current again and 'reconnected' is emitted. Events from each board are passed on, with per-line
 * sequence numbers continuing where the previous board left off.
 *
 * Loss of a board is not an end: 'close' is emitted only by close().
 */
import { EventEmitter } from 'node:events';
import { zeroLinkCounters, type LinkCounters } from '../link/link.js';
import type { DeviceStats } from '../link/protocol.js';
import { DeviceError } from '../link/errors.js';
import { boardEventIterator } from './event-iterator.js';
import { BoardUsageError } from './link-board.js';
import { bitEntries, groupBySettings, withDefaults } from './line-settings.js';
import type {
  Bit,
  Board,
  BoardEvent,
  BoardInfo,
  FailsafeConfig,
  FailsafeEvent,
  LineSettings,
  LineState,
  PingResult,
} from './types.js';

/** A request made while the board is unplugged, or cut off by the unplug. */
export class BoardDisconnectedError extends Error {
  override name = 'BoardDisconnectedError';
  constructor(readonly request: string, readonly board: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`${request}: ${board} is disconnected (${reason}); waiting for it to come back: plug it in again or check the cable`, options);
  }
}

/** Opens the board and says HELLO; throws when it cannot (not attached yet, port busy...). */
export type BoardOpener = () => Promise<Board>;

/** USB hotplug notices for vgpio boards, by USB serial number (see usb-hotplug.ts for the real one). */
export interface HotplugWatcher {
  start(listener: (change: 'attach' | 'detach', serial: string) => void): void;
  stop(): void;
}

export interface ReconnectingBoardOptions {
  open: BoardOpener;
  /** How the board is named in messages, e.g. "the board on /dev/ttyACM0". Default "the board with serial SERIAL". */
  name?: string;
  watcher?: HotplugWatcher;
  /** Pause between attempts to open the board again while it is gone. Default 1000 ms. */
  retryMs?: number;
  log?: (message: string) => void;
}

export const DEFAULT_RETRY_MS = 1000;
/** After a USB attach the tty appears a little later (udev): try again this often for a while. */
const ATTACH_RETRY_MS = 200;
const ATTACH_RETRIES = 15;

interface ReconnectingBoardEvents {
  event: [BoardEvent];
  close: [string];
  /** The board went away; the reason in words. */
  disconnected: [string];
  /** The board is back and has its configuration again. */
  reconnected: [BoardInfo];
}

const ZERO_COUNTERS: Readonly<LinkCounters> = zeroLinkCounters();

/** Replay order: released lines, then outputs, then inputs, so an input never sees its wired partner's
 *  output come up (a spurious edge the guest would take for a real one). */
const REPLAY_ORDER: Record<LineSettings['direction'], number> = { off: 0, output: 1, input: 2 };

export class ReconnectingBoard extends EventEmitter<ReconnectingBoardEvents> implements Board {
  private current: Board | undefined;
  /** A board that answered again and is getting its configuration back. */
  private restoring: Board | undefined;
  private latestInfo: BoardInfo;
  private readonly name: string;
  private readonly opener: BoardOpener;
  private readonly watcher: HotplugWatcher | undefined;
  private readonly retryMs: number;
  private readonly log: (message: string) => void;
  private disconnectReason = '';
  private closedReason: string | undefined;
  /** What this object configured, per line; lines never configured are left as the board has them. */
  private readonly lineSettings = new Map<number, Required<LineSettings>>();
  private failsafeConfig: FailsafeConfig | null = null;
  /** Last lineSeq passed on per line, and the offset from the current board's numbers to ours. */
  private readonly lastSeq = new Map<number, number>();
  private readonly seqOffset = new Map<number, number>();
  private readonly retired: LinkCounters = zeroLinkCounters();
  private retryTimer: NodeJS.Timeout | undefined;
  private attempting = false;
  private attachRetries = 0;
  private lastFailure = '';
  private readonly detachers = new Map<Board, () => void>();

  private constructor(first: Board, options: ReconnectingBoardOptions) {
    super();
    this.opener = options.open;
    this.watcher = options.watcher;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.log = options.log ?? (() => {});
    this.latestInfo = first.info;
    this.name = options.name ?? `the board with serial ${first.info.serial}`;
    this.listen(first);
    this.current = first;
    this.watcher?.start((change, serial) => this.onHotplug(change, serial));
  }

  /** Opens the board the first time (which must succeed) and watches it from then on. */
  static async open(options: ReconnectingBoardOptions): Promise<ReconnectingBoard> {
    const first = await options.open();
    if (first.closed) throw new Error(`${options.name ?? 'the board'} closed while it was being opened`);
    return new ReconnectingBoard(first, options);
  }

  get info(): BoardInfo {
    return this.latestInfo;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** The board is attached and configured; requests go through. */
  get connected(): boolean {
    return this.current !== undefined;
  }

  /** Link counters summed over every connection so far. */
  get counters(): Readonly<LinkCounters> {
    const now = this.current?.counters ?? ZERO_COUNTERS;
    const sum = { ...this.retired };
    for (const key of Object.keys(sum) as Array<keyof LinkCounters>) sum[key] += now[key];
    return sum;
  }

  // ---- requests ----------------------------------------------------------------------------------

  /** Runs `work` on the current board; a request cut short by the board going away says so. */
  private async call<T>(what: string, work: (board: Board) => Promise<T>): Promise<T> {
    if (this.closedReason !== undefined) throw new Error(`${what}: ${this.name} was closed (${this.closedReason})`);
    const board = this.current;
    if (!board) throw new BoardDisconnectedError(what, this.name, this.disconnectReason);
    try {
      return await work(board);
    } catch (error) {
      if (board !== this.current && this.closedReason === undefined) {
        throw new BoardDisconnectedError(what, this.name, this.disconnectReason, { cause: error });
      }
      throw error;
    }
  }

  async configure(lines: readonly number[], settings: LineSettings): Promise<void> {
    try {
      await this.call('configure', (b) => b.configure(lines, settings));
    } catch (error) {
      // A release that could not reach the board is still what its owner wants there: the replay must not
      // drive a line that was let go (the device model releases every line when a guest goes away).
      if (error instanceof BoardDisconnectedError && settings.direction === 'off') {
        const usable = lines.filter((l) => Number.isInteger(l) && l >= 0 && l < this.info.numLines && !this.info.reservedLines.includes(l));
        for (const line of usable) this.lineSettings.set(line, withDefaults(settings));
      }
      throw error;
    }
    for (const line of lines) this.lineSettings.set(line, withDefaults(settings));
  }

  async lineState(line: number): Promise<LineState> {
    const state = await this.call('lineState', (b) => b.lineState(line));
    // In the numbering edges are passed on in (it continues across a replug), not the board's own.
    const offset = this.seqOffset.get(line);
    const last = this.lastSeq.get(line);
    if (offset !== undefined) return { ...state, nextLineSeq: state.nextLineSeq + offset };
    if (last !== undefined) return { ...state, nextLineSeq: last + 1 }; // no edge from this board yet
    return state;
  }

  async setValues(values: Readonly<Record<number, Bit>> | ReadonlyMap<number, Bit>): Promise<void> {
    await this.call('setValues', (b) => b.setValues(values));
    for (const [line, value] of bitEntries(values)) {
      const settings = this.lineSettings.get(line);
      if (settings?.direction === 'output') settings.value = value;
    }
  }

  getValues(lines: readonly number[]): Promise<{ values: Map<number, Bit>; timeUs: bigint }> {
    return this.call('getValues', (b) => b.getValues(lines));
  }

  pulse(line: number, options: { level: Bit; durationUs: number }): Promise<{ startUs: bigint }> {
    return this.call('pulse', (b) => b.pulse(line, options));
  }

  async failsafe(config: FailsafeConfig | null): Promise<void> {
    await this.call('failsafe', (b) => b.failsafe(config));
    this.failsafeConfig = config && { timeoutMs: config.timeoutMs, drive: Object.fromEntries(bitEntries(config.drive ?? {})), release: [...(config.release ?? [])] };
  }

  heartbeat(): Promise<void> {
    return this.call('heartbeat', (b) => b.heartbeat());
  }

  rearmLevel(lines: readonly number[]): Promise<void> {
    return this.call('rearmLevel', (b) => b.rearmLevel(lines));
  }

  async reset(): Promise<void> {
    await this.call('reset', (b) => b.reset());
    this.lineSettings.clear();
    this.failsafeConfig = null;
    this.lastSeq.clear();
    this.seqOffset.clear();
  }

  ping(data?: Uint8Array): Promise<PingResult> {
    return this.call('ping', (b) => b.ping(data));
  }

  stats(): Promise<DeviceStats> {
    return this.call('stats', (b) => b.stats());
  }

  rebootToBootloader(): Promise<void> {
    // The board leaves (BOOTSEL) and, once flashed, comes back: it is then reconfigured like any replug.
    return this.call('rebootToBootloader', (b) => b.rebootToBootloader());
  }

  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<BoardEvent> {
    return boardEventIterator(this, options);
  }

  async close(): Promise<void> {
    if (this.closedReason !== undefined) return;
    this.closedReason = 'closed by the host';
    clearTimeout(this.retryTimer);
    this.watcher?.stop();
    const board = this.current;
    this.current = undefined;
    if (board) {
      this.detachers.get(board)?.();
      await board.close();
    }
    this.emit('close', this.closedReason);
  }

  // ---- losing and finding the board --------------------------------------------------------------

  private listen(board: Board): void {
    const onEvent = (event: BoardEvent) => this.forward(board, event);
    const onClose = (reason: string) => this.lose(board, `the link closed: ${reason}`);
    board.on('event', onEvent);
    board.on('close', onClose);
    this.detachers.set(board, () => {
      board.off('event', onEvent);
      board.off('close', onClose);
      this.detachers.delete(board);
    });
  }

  private lose(board: Board, reason: string): void {
    if (board === this.restoring) {
      this.restoring = undefined; // the replay fails and the attempt ends; the next one is scheduled
      return;
    }
    if (board !== this.current || this.closedReason !== undefined) return;
    this.current = undefined;
    this.disconnectReason = reason;
    const counters = board.counters;
    for (const key of Object.keys(this.retired) as Array<keyof LinkCounters>) this.retired[key] += counters[key];
    this.detachers.get(board)?.();
    if (!board.closed) void board.close().catch(() => undefined);
    this.lastFailure = '';
    this.log(`board: ${this.name} is gone (${reason}); guest and bench requests fail until it is back; waiting for it`);
    this.emit('disconnected', reason);
    this.scheduleAttempt(Math.min(this.retryMs, ATTACH_RETRY_MS));
  }

  private onHotplug(change: 'attach' | 'detach', serial: string): void {
    if (serial.toLowerCase() !== this.latestInfo.serial.toLowerCase() || this.closedReason !== undefined) return;
    if (change === 'detach') {
      if (this.current) this.lose(this.current, 'USB detach: the board was unplugged');
      return;
    }
    this.attachRetries = ATTACH_RETRIES;
    this.scheduleAttempt(0);
  }

  private scheduleAttempt(delayMs: number): void {
    if (this.current || this.closedReason !== undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.attempt(), delayMs);
  }

  private async attempt(): Promise<void> {
    if (this.attempting || this.current || this.closedReason !== undefined) return;
    this.attempting = true;
    let board: Board | undefined;
    try {
      board = await this.opener();
      if (board.info.serial.toLowerCase() !== this.latestInfo.serial.toLowerCase()) {
        throw new Error(`a different board answered (serial ${board.info.serial}, not ${this.latestInfo.serial}); it is left alone`);
      }
      // Its events pass from now on (a level already present, say), but requests still fail fast until
      // the configuration is back: one arriving in between could be undone by the replay.
      this.restoring = board;
      this.listen(board);
      this.seqOffset.clear();
      await this.replay(board);
      if (this.restoring !== board) throw new Error('the link closed again while the configuration was being restored');
      this.restoring = undefined;
      if (this.closedReason !== undefined) throw new Error('closed by the host meanwhile');
      this.current = board;
      this.latestInfo = board.info;
      this.lastFailure = '';
      this.log(`board: ${this.name} is back (firmware ${board.info.firmwareVersion}); ${this.lineSettings.size} line(s) and the failsafe restored`);
      this.emit('reconnected', board.info);
    } catch (error) {
      if (board) {
        if (this.restoring === board) this.restoring = undefined;
        this.detachers.get(board)?.();
        await board.close().catch(() => undefined);
      }
      const message = (error as Error).message;
      // Once per distinct reason: a board that stays away would otherwise fill the log every second.
      if (message !== this.lastFailure && this.closedReason === undefined) this.log(`board: ${this.name} not back yet: ${message}`);
      this.lastFailure = message;
    } finally {
      this.attempting = false;
      if (!this.current && this.closedReason === undefined) {
        const fast = this.attachRetries > 0;
        if (fast) this.attachRetries--;
        this.scheduleAttempt(fast ? ATTACH_RETRY_MS : this.retryMs);
      }
    }
  }

  /** Gives a freshly opened board everything configured through this object, grouped into few requests. */
  private async replay(board: Board): Promise<void> {
    const groups = groupBySettings([...this.lineSettings.entries()].sort(([a], [b]) => a - b));
    const ordered = groups.sort((a, b) => REPLAY_ORDER[a.settings.direction] - REPLAY_ORDER[b.settings.direction]);
    // A refusal (firmware changed meanwhile, say) costs those lines, not the board: it is logged and the
    // rest goes on. A link error ends the attempt, and the next one starts over.
    const refused = (what: string, error: unknown) => {
      if (!(error instanceof DeviceError || error instanceof BoardUsageError)) throw error;
      this.log(`board: ${this.name}: could not restore ${what}: ${error.message}`);
    };
    for (const { lines, settings } of ordered) {
      await board.configure(lines, settings).catch((error: unknown) => refused(`lines ${lines.join(', ')}`, error));
    }
    if (!board.info.capabilities.includes('failsafe')) {
      if (this.failsafeConfig !== null) this.log(`board: ${this.name}: the firmware now has no failsafe; it stays unarmed`);
      return;
    }
    await board.failsafe(this.failsafeConfig).catch((error: unknown) => refused('the failsafe', error));
  }

  // ---- events ------------------------------------------------------------------------------------

  private forward(board: Board, event: BoardEvent): void {
    if (board !== this.current && board !== this.restoring) return;
    if (event.type === 'edge') {
      let offset = this.seqOffset.get(event.line);
      if (offset === undefined) {
        // First edge on this line from this board: continue after the last number passed on.
        const last = this.lastSeq.get(event.line);
        offset = last === undefined ? 0 : last + 1 - event.lineSeq;
        this.seqOffset.set(event.line, offset);
      }
      const lineSeq = event.lineSeq + offset;
      this.lastSeq.set(event.line, lineSeq);
      // Until a replug shifts the numbering the board's own event is passed on as it is: no copy per edge.
      this.emit('event', offset === 0 ? event : { ...event, lineSeq });
      return;
    }
    if (event.type === 'failsafe') this.failsafeTripped(event);
    this.emit('event', event);
  }

  /** The device applied the safe states and disarmed: a replug must not undo that. */
  private failsafeTripped(event: FailsafeEvent): void {
    this.failsafeConfig = null;
    for (const { line, value } of event.driven) this.lineSettings.set(line, withDefaults({ direction: 'output', value }));
    for (const line of event.released) {
      const bias = this.lineSettings.get(line)?.bias ?? 'pull-down';
      this.lineSettings.set(line, withDefaults({ direction: 'off', bias }));
    }
  }
}
