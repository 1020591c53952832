/**
 * Line requests in the manner of libgpiod v2, for HIL tests and bench scripts: ask for a set of lines by
 * profile name (GP2, LED; any case) or number, each with its settings, and get one object that reads and
 * writes them by name, pulses them, yields their edges, and releases them.
 *
 *   const req = await requestLines(board, { consumer: 'my test', lines: {
 *     GP2: { direction: 'output', value: 0 },
 *     GP3: { direction: 'input', edge: 'both' },
 *   } });
 *
 * Active-low lives here, not in the Board API (which speaks pin levels): with `activeLow: true` the
 * values given and read, the edge filter, reported edges and pulse levels are all logical (1 = active).
 * A line can be in one unreleased request per board at a time, so two parts of a test suite cannot
 * silently fight over a pin.
 */
import { BoardUsageError } from './link-board.js';
import { groupBySettings } from './line-settings.js';
import { defaultProfileName, fitProfile, loadProfile, type BoardProfile, type LineProfile } from './profile.js';
import type { Bit, Board, BoardEvent, LineSettings, PulseDoneEvent } from './types.js';

/** A line's settings in a request: the Board API's, plus active-low. */
export interface RequestedLineSettings extends LineSettings {
  /** Values, edges and pulse levels are inverted: 1 means the pin is low. Default false. */
  activeLow?: boolean;
}

export interface LineRequestConfig {
  /** Who holds the lines; named in errors when another request wants them. Default 'vgpio'. */
  consumer?: string;
  /** Line names come from this profile: a built-in name, a file, or a parsed profile. Default: from the board (pico or rp2040). */
  profile?: string | BoardProfile;
  /** Lines by profile name or number, each with its settings. */
  lines: Readonly<Record<string, RequestedLineSettings>>;
}

/** A line given by name (any case) or number. */
export type LineKey = string | number;

export interface RequestEdgeEvent {
  type: 'edge';
  line: number;
  name: string;
  /** Logical: with active-low a falling pin is a rising edge. */
  edge: 'rising' | 'falling';
  /** Device time, microseconds since the board booted. */
  timeUs: bigint;
  /** Per-line counter; a gap means edges were lost. */
  lineSeq: number;
}

export interface RequestOverflowEvent {
  type: 'overflow';
  /** Edges the board dropped (on all lines) because its buffer was full. */
  lost: number;
  /** This request's lines among those that lost edges. */
  lines: Array<{ line: number; name: string }>;
  firstUs: bigint;
  lastUs: bigint;
}

export type RequestEvent = RequestEdgeEvent | RequestOverflowEvent;

interface Held {
  line: number;
  name: string;
  activeLow: boolean;
  settings: LineSettings;
}

/** Who holds a line: one object per request, so two requests with the same consumer name stay apart. */
interface Owner {
  consumer: string;
}

/** Lines held by unreleased requests, per board. */
const holders = new WeakMap<Board, Map<number, Owner>>();

const opposite = { rising: 'falling', falling: 'rising' } as const;

function defaultProfile(board: Board): BoardProfile {
  return fitProfile(loadProfile(defaultProfileName(board.info)), board.info);
}

function findLine(profile: BoardProfile, key: LineKey): LineProfile | undefined {
  const text = String(key).trim();
  const byName = profile.lines.find((l) => l.name !== '' && l.name.toLowerCase() === text.toLowerCase());
  const numbered = /^(?:gp|gpio)?(0|[1-9][0-9]*)$/i.exec(text);
  return byName ?? (numbered ? profile.lines[Number(numbered[1])] : undefined);
}

export class LineRequest {
  readonly consumer: string;
  private readonly held: Held[];
  private readonly byLine: Map<number, Held>;
  private readonly released = new AbortController();
  /** Open events() sources, ended by release() even if nobody iterates them. */
  private readonly sources = new Set<AsyncIterableIterator<unknown>>();

  private constructor(readonly board: Board, private readonly profile: BoardProfile, private readonly owner: Owner, held: Held[]) {
    this.consumer = owner.consumer;
    this.held = held;
    this.byLine = new Map(held.map((h) => [h.line, h]));
  }

  /** Configures every line (one request per distinct setting) and holds them until release(). */
  static async create(board: Board, config: LineRequestConfig): Promise<LineRequest> {
    const consumer = config.consumer ?? 'vgpio';
    const profile = config.profile === undefined ? defaultProfile(board) : fitProfile(typeof config.profile === 'string' ? loadProfile(config.profile) : config.profile, board.info);
    const entries = Object.entries(config.lines);
    if (entries.length === 0) throw new BoardUsageError(`requestLines (${consumer}): name at least one line in \`lines\``);
    const taken = holders.get(board) ?? new Map<number, Owner>();
    const held: Held[] = [];
    for (const [key, settings] of entries) {
      const line = findLine(profile, key);
      if (!line) throw new BoardUsageError(`requestLines (${consumer}): unknown line "${key}"; the ${profile.id} profile has lines 0 to ${profile.numLines - 1} (names such as GP2, LED)`);
      if (line.reserved !== undefined) throw new BoardUsageError(`requestLines (${consumer}): line ${key} (${line.line}) is reserved: ${line.reserved}; pick another line`);
      const twice = held.find((h) => h.line === line.line);
      if (twice) throw new BoardUsageError(`requestLines (${consumer}): line ${line.line} is named twice (${twice.name} and ${key}); give each line once`);
      const holder = taken.get(line.line);
      if (holder !== undefined) throw new BoardUsageError(`requestLines (${consumer}): line ${line.name || line.line} is held by "${holder.consumer}"; release that request first`);
      const { activeLow = false, ...pin } = settings;
      const invert = (v: Bit | undefined): Bit | undefined => (v === undefined || !activeLow ? v : ((v ^ 1) as Bit));
      const edge = pin.edge === 'rising' || pin.edge === 'falling' ? (activeLow ? opposite[pin.edge] : pin.edge) : pin.edge;
      const level = pin.level === 'high' || pin.level === 'low' ? (activeLow ? (pin.level === 'high' ? 'low' : 'high') : pin.level) : pin.level;
      const physical: LineSettings = { ...pin, bias: pin.bias ?? line.bias };
      if (pin.direction === 'output') {
        physical.value = invert(pin.value ?? 0);
        physical.drive = pin.drive ?? line.drive;
      }
      if (pin.direction === 'input') physical.debounceUs = pin.debounceUs ?? line.debounceUs;
      if (edge !== undefined) physical.edge = edge;
      if (level !== undefined) physical.level = level;
      held.push({ line: line.line, name: line.name || String(line.line), activeLow, settings: physical });
    }
    held.sort((a, b) => a.line - b.line);
    for (const { settings, lines } of groupBySettings(held.map((h) => [h.line, h.settings] as const))) await board.configure(lines, settings);
    const owner: Owner = { consumer };
    for (const h of held) taken.set(h.line, owner);
    holders.set(board, taken);
    return new LineRequest(board, profile, owner, held);
  }

  /** The requested lines, by line number (an object's number keys come first anyway, so the order given is lost). */
  get lines(): ReadonlyArray<{ line: number; name: string; activeLow: boolean }> {
    return this.held.map(({ line, name, activeLow }) => ({ line, name, activeLow }));
  }

  get isReleased(): boolean {
    return this.released.signal.aborted;
  }

  private checkHeld(what: string): void {
    if (this.isReleased) throw new BoardUsageError(`${what}: the request of "${this.consumer}" was released; request the lines again`);
  }

  private lineOf(key: LineKey, what: string): Held {
    this.checkHeld(what);
    const line = findLine(this.profile, key);
    const held = line ? this.byLine.get(line.line) : undefined;
    if (!held) throw new BoardUsageError(`${what}: line ${key} is not in this request (it has ${this.held.map((h) => h.name).join(', ')}); add it to requestLines`);
    return held;
  }

  /** Reads lines (default: all of this request's) in one sample; keys are the profile names. */
  async getValues(keys?: readonly LineKey[]): Promise<Record<string, Bit>> {
    this.checkHeld('getValues');
    const lines = keys === undefined ? this.held : keys.map((k) => this.lineOf(k, 'getValues'));
    const { values } = await this.board.getValues(lines.map((h) => h.line));
    return Object.fromEntries(lines.map((h) => [h.name, ((values.get(h.line)! ^ (h.activeLow ? 1 : 0)) as Bit)]));
  }

  async getValue(key: LineKey): Promise<Bit> {
    const h = this.lineOf(key, 'getValue');
    return (await this.getValues([h.line]))[h.name]!;
  }

  /** Sets outputs together, in one request: `{ GP2: 1, LED: 0 }`. */
  async setValues(values: Readonly<Record<string, Bit>>): Promise<void> {
    const out = new Map<number, Bit>();
    for (const [key, value] of Object.entries(values)) {
      const h = this.lineOf(key, 'setValues');
      if (value !== 0 && value !== 1) throw new BoardUsageError(`setValues: value ${String(value)} for line ${h.name} is not a level; use 0 or 1`);
      out.set(h.line, (value ^ (h.activeLow ? 1 : 0)) as Bit);
    }
    await this.board.setValues(out);
  }

  async setValue(key: LineKey, value: Bit): Promise<void> {
    await this.setValues({ [this.lineOf(key, 'setValue').name]: value });
  }

  /**
   * Drives `level` (default 1, logical) for `durationUs`, timed on the board, and resolves when the pulse
   * is over with its device start and end times. Rejects if it was cancelled or no end came in time.
   */
  async pulse(key: LineKey, options: { durationUs: number; level?: Bit; timeoutMs?: number }): Promise<{ startUs: bigint; endUs: bigint }> {
    const h = this.lineOf(key, 'pulse');
    const level = ((options.level ?? 1) ^ (h.activeLow ? 1 : 0)) as Bit;
    const timeoutMs = options.timeoutMs ?? options.durationUs / 1000 + 2000;
    let timer: NodeJS.Timeout | undefined;
    let onEvent = (_: BoardEvent): void => undefined;
    const done = new Promise<PulseDoneEvent>((resolve, reject) => {
      onEvent = (e) => {
        if (e.type === 'pulse-done' && e.line === h.line) resolve(e);
      };
      this.board.on('event', onEvent);
      timer = setTimeout(() => reject(new Error(`pulse on ${h.name}: no end reported within ${timeoutMs} ms of a ${options.durationUs} us pulse`)), timeoutMs);
    });
    try {
      await this.board.pulse(h.line, { level, durationUs: options.durationUs });
      const event = await done;
      if (event.outcome !== 'completed') throw new Error(`pulse on ${h.name}: ${event.outcome.replace(/-/g, ' ')} after ${event.endUs - event.startUs} us of ${options.durationUs} us`);
      return { startUs: event.startUs, endUs: event.endUs };
    } finally {
      clearTimeout(timer);
      this.board.off('event', onEvent);
      done.catch(() => undefined);
    }
  }

  /**
   * Edge and overflow events for this request's lines (edges logical, with names), from the moment of
   * this call: call it before whatever makes the edges. The iteration ends on release(), when the board
   * closes, or when `signal` aborts; breaking out of a for-await loop stops it too.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncGenerator<RequestEvent, void, undefined> {
    const stop = new AbortController();
    const abort = () => stop.abort();
    this.released.signal.addEventListener('abort', abort);
    options.signal?.addEventListener('abort', abort);
    if (this.isReleased || options.signal?.aborted) abort();
    // subscribed now, not at the first next(): nothing between this call and the loop is missed
    const source = this.board.events({ signal: stop.signal });
    this.sources.add(source);
    const cleanup = () => {
      this.released.signal.removeEventListener('abort', abort);
      options.signal?.removeEventListener('abort', abort);
      this.sources.delete(source);
      void source.return?.();
    };
    const byLine = this.byLine;
    async function* filtered(): AsyncGenerator<RequestEvent, void, undefined> {
      try {
        for await (const event of source) {
          if (event.type === 'edge') {
            const h = byLine.get(event.line);
            if (!h) continue;
            yield { type: 'edge', line: h.line, name: h.name, edge: h.activeLow ? opposite[event.edge] : event.edge, timeUs: event.timeUs, lineSeq: event.lineSeq };
          } else if (event.type === 'overflow') {
            const mine = event.lines.flatMap((l) => (byLine.has(l) ? [{ line: l, name: byLine.get(l)!.name }] : []));
            if (mine.length) yield { type: 'overflow', lost: event.lost, lines: mine, firstUs: event.firstUs, lastUs: event.lastUs };
          }
        }
      } finally {
        cleanup();
      }
    }
    return filtered();
  }

  /** Switches the lines off (high impedance, the profile's idle bias) and lets other requests have them. */
  async release(): Promise<void> {
    if (this.isReleased) return;
    this.released.abort();
    for (const source of this.sources) void source.return?.();
    this.sources.clear();
    const taken = holders.get(this.board);
    for (const h of this.held) if (taken?.get(h.line) === this.owner) taken.delete(h.line);
    if (this.board.closed) return;
    const byBias = new Map<string, number[]>();
    for (const h of this.held) {
      const bias = this.profile.lines[h.line]!.idleBias;
      byBias.set(bias, [...(byBias.get(bias) ?? []), h.line]);
    }
    for (const [bias, lines] of byBias) await this.board.configure(lines, { direction: 'off', bias: bias as LineSettings['bias'] });
  }
}

/** Requests lines on a board; see LineRequest. */
export function requestLines(board: Board, config: LineRequestConfig): Promise<LineRequest> {
  return LineRequest.create(board, config);
}
