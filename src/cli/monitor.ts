/**
 * `vgpio monitor LINE...`: configures the lines as inputs with edge detection and reports every edge with
 * the device's timestamp, the line, the direction and the line's sequence number; OVERFLOW events with
 * what was lost; and, when it stops (--count edges seen, --duration elapsed, SIGINT or SIGTERM), a
 * summary per line. Then it releases the lines. --json streams one object per line (ndjson); --vcd FILE
 * also writes the levels as a Value Change Dump for GTKWave or PulseView.
 *
 * The core, monitorLines(), takes any Board and reports records to a callback, so the same code runs
 * in-process in tests (against the emulated board, while the test drives the partner line) and here.
 *
 * A real board is opened as a ReconnectingBoard: when it is unplugged, monitoring goes on waiting for it
 * (a `disconnect` record); when it is back (its lines configured again by ReconnectingBoard) the levels
 * are sampled again (a `reconnect` record) and edges are reported as before. The replugged board's clock
 * restarts at power-up, so the VCD's time is kept monotonic by an offset per connection: the time away
 * is measured with the host's clock.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Bit, Board, BoardEvent, LineBias } from '../board/types.js';
import { BoardDisconnectedError, ReconnectingBoard } from '../board/reconnecting-board.js';
import { openReconnectingBoard } from '../board/hotplug.js';
import { findBoardPath, NoBoardError } from '../board/discovery.js';
import { openBoard } from '../board/open.js';
import { fitProfile, loadProfile, type BoardProfile } from '../board/profile.js';
import {
  activeLowOption, BenchError, BenchExit, biasOption, debounceOption, describeBenchError, groupBy, jsonLine, lineLabel, openBenchBoard, resolveLines,
  withBoardOptions, type BoardChoiceOptions,
} from './common.js';
import { describeListError } from './list.js';
import { VcdWriter, type VcdValue } from './vcd.js';

export type EdgeFilter = 'rising' | 'falling' | 'both';
export const EDGE_FILTERS: readonly EdgeFilter[] = ['rising', 'falling', 'both'];

export interface MonitoredLine {
  line: number;
  name: string;
  bias: LineBias;
  debounceUs: number;
  /** Bias the line is left with when monitoring ends (it is switched off). */
  idleBias: LineBias;
}

export interface MonitorSettings {
  lines: readonly MonitoredLine[];
  /** Which edges to report; logical edges when activeLow. */
  edges: EdgeFilter;
  /** Levels and edges are reported inverted: a low pin is level 1, a falling pin edge is 'rising'. */
  activeLow: boolean;
  /** Stop after this many edges (all lines together). */
  count?: number;
  /** Stop after this long (host time, from the start record). */
  durationMs?: number;
  /** Stop when aborted; the abort reason (a string such as 'SIGINT') becomes the summary's `stoppedBy`. */
  signal?: AbortSignal;
  /** How disconnect and reconnect records name the board. Default "the board with serial SERIAL". */
  boardName?: string;
}

export interface MonitorStart {
  type: 'start';
  /** Device time of the initial sample; the VCD's #0. */
  timeUs: bigint;
  edges: EdgeFilter;
  activeLow: boolean;
  lines: Array<{ line: number; name: string; level: Bit }>;
}

export interface MonitorEdge {
  type: 'edge';
  timeUs: bigint;
  line: number;
  name: string;
  edge: 'rising' | 'falling';
  /** The level after the edge. */
  level: Bit;
  lineSeq: number;
  /** Edges on this line lost just before this one (a gap in lineSeq). */
  lostBefore: number;
}

export interface MonitorOverflow {
  type: 'overflow';
  /** Edge records the device dropped. */
  lost: number;
  lines: Array<{ line: number; name: string }>;
  firstUs: bigint;
  lastUs: bigint;
}

/** A ReconnectingBoard lost its board: edges are not seen until it is back. */
export interface MonitorDisconnect {
  type: 'disconnect';
  /**
   * Device time of the unplug on the board's clock, estimated: the last sample's device time plus the
   * host time since (never before the last device time seen).
   */
  timeUs: bigint;
  board: string;
  reason: string;
}

/** The board is back with its lines configured again, and the levels were sampled again. */
export interface MonitorReconnect {
  type: 'reconnect';
  /** Device time of the new sample, on the replugged board's clock (which restarts at power-up). */
  timeUs: bigint;
  board: string;
  /** Host time from the disconnect to the new sample. */
  awayUs: bigint;
  /** The device clock went back: the board was restarted (an unplug powers it off). */
  clockRestarted: boolean;
  lines: Array<{ line: number; name: string; level: Bit }>;
}

export interface MonitorSummary {
  type: 'summary';
  stoppedBy: string;
  startUs: bigint;
  /**
   * Device time when monitoring stopped, on the clock of the board as last connected; when it was away
   * then, the estimated time it went away (see MonitorDisconnect.timeUs).
   */
  endUs: bigint;
  edges: number;
  /** Edges the device reported as lost in OVERFLOW events. */
  overflowLost: number;
  lines: Array<{ line: number; name: string; edges: number; lost: number }>;
  /** Times the board went away. */
  disconnects: number;
  /** Device time spent connected, summed over connections (endUs - startUs without disconnects). */
  connectedUs: bigint;
  /** Host time spent waiting for the board, summed. connectedUs + awayUs is the VCD's end time. */
  awayUs: bigint;
  /** The board was away when monitoring stopped. */
  endedAway: boolean;
}

export type MonitorRecord = MonitorStart | MonitorEdge | MonitorOverflow | MonitorDisconnect | MonitorReconnect | MonitorSummary;

/** Queue items besides the board's events: the ReconnectingBoard's notices, with the host time they came. */
type BoardNotice = { type: 'gone'; reason: string; atMs: number } | { type: 'back'; atMs: number };

/** How often monitor pings a board that can come back, to notice a port that closed silently. */
const LIVENESS_MS = 1000;
const hostUsBetween = (fromMs: number, toMs: number): bigint => BigInt(Math.max(0, Math.round((toMs - fromMs) * 1000)));
const hostUsSince = (ms: number): bigint => hostUsBetween(ms, performance.now());
const maxOf = (a: bigint, b: bigint): bigint => (a > b ? a : b);

const opposite = { rising: 'falling', falling: 'rising' } as const;
const physicalFilter = (edges: EdgeFilter, activeLow: boolean): EdgeFilter => (activeLow && edges !== 'both' ? opposite[edges] : edges);

/** Signed difference of two 16-bit sequence numbers: how far `seq` is past `expected`. */
const seqAhead = (seq: number, expected: number): number => ((((seq - expected) & 0xffff) + 0x8000) & 0xffff) - 0x8000;

/**
 * Monitors `settings.lines` on `board` until a stop condition, reporting records in order: one start,
 * edges and overflows, one summary. The lines are released (off, idle bias) at the end, also on error.
 */
export async function monitorLines(board: Board, settings: MonitorSettings, report: (record: MonitorRecord) => void): Promise<MonitorSummary> {
  const { lines, activeLow } = settings;
  if (lines.length === 0) throw new BenchError(BenchExit.USAGE, 'monitor: name at least one line');
  const byLine = new Map(lines.map((l) => [l.line, l]));
  const boardName = settings.boardName ?? `the board with serial ${board.info.serial}`;
  const queue: Array<BoardEvent | BoardNotice> = [];
  let wake: (() => void) | undefined;
  let closedBy: string | undefined;
  let stopBy: string | undefined;
  const enqueue = (item: BoardEvent | BoardNotice) => {
    queue.push(item);
    wake?.();
  };
  const onEvent = (event: BoardEvent) => enqueue(event);
  const onClose = (reason: string) => {
    closedBy = reason;
    wake?.();
  };
  const stop = (reason: string) => {
    stopBy ??= reason;
    wake?.();
  };
  const onAbort = () => stop(typeof settings.signal?.reason === 'string' ? settings.signal.reason : 'stopped');
  const onGone = (reason: string) => enqueue({ type: 'gone', reason, atMs: performance.now() });
  const onBack = () => enqueue({ type: 'back', atMs: performance.now() });
  const replugs = board instanceof ReconnectingBoard ? board : undefined;
  let timer: NodeJS.Timeout | undefined;
  let liveness: NodeJS.Timeout | undefined;
  board.on('event', onEvent);
  board.on('close', onClose);
  replugs?.on('disconnected', onGone);
  replugs?.on('reconnected', onBack);
  try {
    // Listening starts before configuring, so no edge can slip between configuration and the first read.
    const edge = physicalFilter(settings.edges, activeLow);
    for (const { key, items } of groupBy(lines, (l) => ({ bias: l.bias, debounceUs: l.debounceUs }))) {
      await board.configure(items.map((l) => l.line), { direction: 'input', edge, ...key });
    }
    // Each line's next line_seq: the reference for counting lost edges (gaps) from the first event on.
    const expected = new Map<number, number>();
    for (const l of lines) expected.set(l.line, (await board.lineState(l.line)).nextLineSeq & 0xffff);
    const lastSeq = new Map<number, number>();
    const sample = await board.getValues(lines.map((l) => l.line));
    const startUs = sample.timeUs;
    const invert = activeLow ? 1 : 0;
    const levels = (values: Map<number, Bit>) => lines.map((l) => ({ line: l.line, name: l.name, level: (values.get(l.line)! ^ invert) as Bit }));
    report({ type: 'start', timeUs: startUs, edges: settings.edges, activeLow, lines: levels(sample.values) });

    // The current connection: its first sample (device and host time) and the latest device time seen.
    let segmentStartUs = startUs;
    let anchorMs = performance.now();
    let latestUs = startUs;
    let away: { timeUs: bigint; atMs: number } | undefined;
    let disconnects = 0;
    let connectedUs = 0n;
    let awayUs = 0n;
    const markGone = (notice: { reason: string; atMs: number }) => {
      if (away !== undefined) return; // lost again before its levels could be read: still the same absence
      const estimateUs = segmentStartUs + hostUsBetween(anchorMs, notice.atMs);
      away = { timeUs: maxOf(latestUs, estimateUs), atMs: notice.atMs };
      disconnects++;
      connectedUs += away.timeUs - segmentStartUs;
      report({ type: 'disconnect', timeUs: away.timeUs, board: boardName, reason: notice.reason });
    };
    // A port that closed without a word (a pty whose other end went away) shows only when written to:
    // a ping now and then notices it, and ReconnectingBoard takes the board for gone.
    if (replugs) {
      liveness = setInterval(() => {
        if (replugs.connected) replugs.ping().catch(() => undefined);
      }, LIVENESS_MS);
    }

    const perLine = new Map(lines.map((l) => [l.line, { edges: 0, lost: 0 }]));
    let total = 0;
    let overflowLost = 0;
    if (settings.count !== undefined && settings.count <= 0) stop('count');
    if (settings.durationMs !== undefined) timer = setTimeout(() => stop('duration'), settings.durationMs);
    if (settings.signal?.aborted) onAbort();
    settings.signal?.addEventListener('abort', onAbort, { once: true });

    while (stopBy === undefined) {
      const event = queue.shift();
      if (event === undefined) {
        if (closedBy !== undefined) throw new Error(`the board went away while monitoring (${closedBy}); check the cable, then run the command again`);
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      if (event.type === 'gone') {
        markGone(event);
        continue;
      }
      if (event.type === 'back') {
        if (away === undefined) continue;
        let resample: { values: Map<number, Bit>; timeUs: bigint };
        try {
          resample = await board.getValues(lines.map((l) => l.line));
        } catch (error) {
          if (error instanceof BoardDisconnectedError) continue; // gone again: a 'gone' notice follows, a 'back' later
          throw error;
        }
        const gapUs = hostUsSince(away.atMs);
        awayUs += gapUs;
        const clockRestarted = resample.timeUs < latestUs;
        segmentStartUs = resample.timeUs;
        latestUs = resample.timeUs;
        anchorMs = performance.now();
        away = undefined;
        // ReconnectingBoard continues each line's sequence numbers after the last one it passed on. A line
        // with no edge yet has no reference that holds on the new board: its first edge starts one afresh.
        for (const l of lines) if (!lastSeq.has(l.line)) expected.delete(l.line);
        report({ type: 'reconnect', timeUs: resample.timeUs, board: boardName, awayUs: gapUs, clockRestarted, lines: levels(resample.values) });
        continue;
      }
      if (event.type === 'edge') {
        const line = byLine.get(event.line);
        if (!line) continue;
        const previous = lastSeq.get(event.line);
        if (away !== undefined) {
          // From the board being restored: before the new sample, so its effect is in the sampled level.
          if (previous !== undefined) lastSeq.set(event.line, event.lineSeq);
          continue;
        }
        let lostBefore: number;
        if (previous === undefined) {
          const reference = expected.get(event.line);
          const ahead = reference === undefined ? 0 : seqAhead(event.lineSeq & 0xffff, reference);
          // Behind the reference: the edge came before the line_seq read, so before the initial sample.
          if (ahead < 0) continue;
          lostBefore = ahead;
        } else {
          lostBefore = Math.max(0, event.lineSeq - previous - 1);
        }
        lastSeq.set(event.line, event.lineSeq);
        const counts = perLine.get(event.line)!;
        counts.lost += lostBefore;
        // An edge stamped before the connection's sample is already in the sampled level.
        if (event.timeUs < segmentStartUs) continue;
        latestUs = maxOf(latestUs, event.timeUs);
        const logical = activeLow ? opposite[event.edge] : event.edge;
        counts.edges++;
        total++;
        report({ type: 'edge', timeUs: event.timeUs, line: event.line, name: line.name, edge: logical, level: logical === 'rising' ? 1 : 0, lineSeq: event.lineSeq, lostBefore });
        if (settings.count !== undefined && total >= settings.count) stop('count');
      } else if (event.type === 'overflow') {
        const affected = event.lines.filter((l) => byLine.has(l));
        if (affected.length === 0) continue;
        overflowLost += event.lost;
        if (away === undefined) latestUs = maxOf(latestUs, event.lastUs);
        report({ type: 'overflow', lost: event.lost, lines: affected.map((l) => ({ line: l, name: byLine.get(l)!.name })), firstUs: event.firstUs, lastUs: event.lastUs });
      }
    }
    if (away === undefined && closedBy === undefined) {
      try {
        latestUs = maxOf(latestUs, (await board.getValues(lines.map((l) => l.line))).timeUs);
      } catch (error) {
        if (!(error instanceof BoardDisconnectedError)) throw error;
        // Gone just now: its notice is queued, or (the request noticed first) about to be.
        const notice = queue.find((item): item is Extract<BoardNotice, { type: 'gone' }> => item.type === 'gone');
        markGone(notice ?? { reason: error.reason, atMs: performance.now() });
      }
    }
    let endUs: bigint;
    if (away !== undefined) {
      endUs = away.timeUs;
      awayUs += hostUsSince(away.atMs);
    } else {
      endUs = latestUs;
      connectedUs += endUs - segmentStartUs;
    }
    const summary: MonitorSummary = {
      type: 'summary', stoppedBy: stopBy, startUs, endUs, edges: total, overflowLost,
      lines: lines.map((l) => ({ line: l.line, name: l.name, ...perLine.get(l.line)! })),
      disconnects, connectedUs, awayUs, endedAway: away !== undefined,
    };
    report(summary);
    return summary;
  } finally {
    clearTimeout(timer);
    clearInterval(liveness);
    settings.signal?.removeEventListener('abort', onAbort);
    board.off('event', onEvent);
    board.off('close', onClose);
    replugs?.off('disconnected', onGone);
    replugs?.off('reconnected', onBack);
    if (!board.closed) {
      for (const { key, items } of groupBy(lines, (l) => l.idleBias)) {
        await board.configure(items.map((l) => l.line), { direction: 'off', bias: key }).catch(() => undefined);
      }
    }
  }
}

const formatSeconds = (us: bigint): string => `${(Number(us) / 1e6).toFixed(1)} s`;

/** Human-readable lines: device times in microseconds, names from the profile. */
export function formatRecord(record: MonitorRecord): string {
  switch (record.type) {
    case 'start':
      return `start ${record.timeUs} us: ${record.lines.map((l) => `${l.name}=${l.level}`).join(' ')} (${record.edges} edges${record.activeLow ? ', active low' : ''})\n`;
    case 'edge':
      return `${record.lostBefore ? `${record.timeUs} us ${record.name} LOST ${record.lostBefore} edges before seq ${record.lineSeq}\n` : ''}${record.timeUs} us ${record.name} ${record.edge} seq ${record.lineSeq}\n`;
    case 'overflow':
      return `${record.lastUs} us OVERFLOW lost ${record.lost} edges on ${record.lines.map((l) => l.name).join(' ')} (from ${record.firstUs} us to ${record.lastUs} us)\n`;
    case 'disconnect':
      return `board: ${record.board} is gone (${record.reason}); waiting for it (edges while it is away are not seen)\n`;
    case 'reconnect':
      return `board: ${record.board} is back at ${record.timeUs} us${record.clockRestarted ? ' (it restarted: device times count from its power-up)' : ''} after ${formatSeconds(record.awayUs)} away; levels ${record.lines.map((l) => `${l.name}=${l.level}`).join(' ')}\n`;
    case 'summary': {
      const span = record.disconnects === 0
        ? `${record.connectedUs} us (device time)`
        : `${record.connectedUs + record.awayUs} us (${record.connectedUs} us connected by the device clock, ${record.awayUs} us away by the host clock)`;
      const replugs = record.disconnects === 0 ? '' : `; the board went away ${record.disconnects} time${record.disconnects === 1 ? '' : 's'}${record.endedAway ? ' and was away when monitoring stopped' : ''}`;
      const head = `summary: ${record.edges} edges in ${span}, stopped by ${record.stoppedBy}${replugs}${record.overflowLost ? `; the board reported ${record.overflowLost} edges lost` : ''}\n`;
      return head + record.lines.map((l) => `  ${l.name}: ${l.edges} edges, ${l.lost} lost\n`).join('');
    }
  }
}

/**
 * Feeds monitor records into a VCD: #0 is the start sample, times are relative to it. Lost edges make the
 * affected lines 'x' (level unknown) from the first lost edge until their next edge, with a note in the
 * closing $comment. While the board is unplugged every line is 'x'. A replugged board's clock restarts at
 * power-up, so from each reconnect on, VCD time is the device time plus a new offset that puts the new
 * sample the host-measured time away after the disconnect; the notes give each offset.
 */
export function vcdRecorder(writer: (header: { signals: string[]; comment: string }) => VcdWriter): (record: MonitorRecord) => void {
  let vcd: VcdWriter | undefined;
  /** VCD time = device time + offset, for the current connection. */
  let offset = 0n;
  const index = new Map<number, number>();
  let last = 0n;
  let goneAt: bigint | undefined;
  const at = (timeUs: bigint) => {
    const t = timeUs + offset;
    if (t > last) last = t;
    return last;
  };
  return (record) => {
    switch (record.type) {
      case 'start':
        offset = -record.timeUs;
        record.lines.forEach((l, i) => index.set(l.line, i));
        vcd = writer({
          signals: record.lines.map((l) => l.name),
          comment: `#0 is device time ${record.timeUs} us; ${record.activeLow ? 'active-low lines, levels inverted' : 'levels as at the pins'}; x = level unknown after lost edges or while the board was unplugged (notes at the end)`,
        });
        vcd.begin(record.lines.map((l) => l.level));
        break;
      case 'edge': {
        const t = at(record.timeUs);
        const i = index.get(record.line)!;
        if (record.lostBefore) vcd!.note(t, `${record.lostBefore} edges lost on ${record.name} before this one (line_seq gap)`);
        vcd!.change(t, i, record.level);
        break;
      }
      case 'overflow': {
        if (goneAt !== undefined) {
          // From the board being restored: its times are on a clock not placed yet; the lines are x anyway.
          vcd!.note(last, `OVERFLOW while the board was being restored: ${record.lost} edges lost on ${record.lines.map((l) => l.name).join(' ')}`);
          break;
        }
        const t = at(record.firstUs);
        vcd!.note(t, `OVERFLOW: the board lost ${record.lost} edges from ${record.firstUs + offset} us to ${record.lastUs + offset} us on ${record.lines.map((l) => l.name).join(' ')}`);
        for (const l of record.lines) vcd!.change(t, index.get(l.line)!, 'x' satisfies VcdValue);
        break;
      }
      case 'disconnect': {
        const t = at(record.timeUs);
        goneAt = t;
        vcd!.note(t, `${record.board} went away (${record.reason}), at device time ${record.timeUs} us (estimated with the host clock); every line x until it is back`);
        for (const i of index.values()) vcd!.change(t, i, 'x');
        break;
      }
      case 'reconnect': {
        const back = maxOf(last, (goneAt ?? last) + record.awayUs);
        offset = back - record.timeUs;
        last = back;
        goneAt = undefined;
        vcd!.note(back, `${record.board} is back after ${record.awayUs} us away (host clock); levels sampled at device time ${record.timeUs} us; from here VCD time = device time ${offset < 0n ? '-' : '+'} ${offset < 0n ? -offset : offset} us${record.clockRestarted ? ' (its clock restarted when it was plugged in again)' : ''}`);
        for (const l of record.lines) vcd!.change(back, index.get(l.line)!, l.level);
        break;
      }
      case 'summary':
        vcd!.end(maxOf(last, record.connectedUs + record.awayUs));
        break;
    }
  };
}

export interface MonitorOptions extends BoardChoiceOptions {
  edges: EdgeFilter;
  count?: number;
  duration?: number;
  vcd?: string;
  json?: boolean;
  bias?: LineBias;
  debounceUs?: number;
  activeLow?: boolean;
}

function parseCount(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('give a whole number of edges, 1 or more');
  return Number(value);
}

const MAX_DURATION_S = 2_000_000; // below setTimeout's 2^31 ms limit
function parseSeconds(value: string): number {
  const s = Number(value);
  if (!/^[0-9]*\.?[0-9]+$/.test(value.trim()) || !(s > 0) || s > MAX_DURATION_S) throw new InvalidArgumentError(`give seconds, more than 0 and at most ${MAX_DURATION_S} (e.g. 2.5)`);
  return s;
}

const MONITOR_HELP = `
Output: one line per edge, "<device time> us <line> rising|falling seq <line_seq>", device time in
microseconds since the board booted; "OVERFLOW lost N edges on <lines>" when the board's buffer
overflowed; a summary (edges and lost edges per line) at the end. --json prints the same as one JSON
object per line: {"type":"start"|"edge"|"overflow"|"summary"|"error", ...}.
--vcd FILE writes the levels as a Value Change Dump (1 us timescale, #0 = the start sample) for
GTKWave (gtkwave FILE) or PulseView (import it as a Value Change Dump); lost edges show as x.
Stops after --count edges, after --duration seconds, or on Ctrl-C/SIGTERM (exit 0), then releases the
lines (off, idle bias from the profile). Lost edges do not change the exit code; the summary counts them.
Example: vgpio monitor GP3 GP5 --edges both --count 10 --vcd trace.vcd`;

/** What monitor runs on: the emulated board as the other bench commands open it, or a ReconnectingBoard. */
interface MonitorBoard {
  board: Board;
  profile: BoardProfile;
  what: string;
  close(): Promise<void>;
}

const NO_BOARD_HINT = 'use --board PATH|serial:SERIALNO, or --board emulator';

/**
 * A real board is opened as a ReconnectingBoard, so an unplug does not end monitoring; the emulated board
 * cannot be unplugged and is opened as by the other bench commands. Errors opening it the first time are
 * those of openBenchBoard (exit 3 with the same hints); later, a board that is away is waited for.
 */
export async function openMonitorBoard(options: BoardChoiceOptions, log: (message: string) => void): Promise<MonitorBoard> {
  if (options.board === 'emulator') return openBenchBoard(options);
  let first = true;
  const findPath = async (choice: string) => {
    if (!first) return findBoardPath(choice);
    try {
      return await findBoardPath(choice);
    } catch (error) {
      if (error instanceof NoBoardError) throw new BenchError(BenchExit.NO_BOARD, error.message);
      throw new BenchError(BenchExit.NO_BOARD, `cannot list serial ports: ${describeListError(error)}; ${NO_BOARD_HINT}`);
    }
  };
  const openPath = async (path: string) => {
    if (!first) return openBoard({ path });
    first = false;
    try {
      return await openBoard({ path });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const busy = /cannot lock port|resource temporarily unavailable|EBUSY|EAGAIN|busy/i.test(message);
      throw new BenchError(
        BenchExit.NO_BOARD,
        `${message}; ${busy ? 'another program holds the port (vgpio serve, the vgpio@ service, or a `vgpio set --hold`): stop it first' : `check the path (\`vgpio list\`), or ${NO_BOARD_HINT}`}`,
      );
    }
  };
  let opened;
  try {
    opened = await openReconnectingBoard({ choice: options.board, jig: options.jig, log, emulatorWhenNone: false, findPath, openPath });
  } catch (error) {
    if (error instanceof NoBoardError) throw new BenchError(BenchExit.NO_BOARD, error.message);
    throw error;
  }
  const { board, what } = opened;
  try {
    const profile = fitProfile(loadProfile(options.profile ?? (board.info.boardId === 2 ? 'pico' : 'rp2040')), board.info);
    return { board, profile, what, close: () => board.close() };
  } catch (error) {
    await board.close().catch(() => undefined);
    throw error;
  }
}

/** runOnBoard (common.ts) for monitor: the same error lines and exit codes, on a board from openMonitorBoard. */
async function runMonitor(options: MonitorOptions, body: (bench: MonitorBoard) => Promise<void>): Promise<void> {
  let bench: MonitorBoard | undefined;
  // ReconnectingBoard's notes while the board is away (not back yet, and why); its "is gone" and "is back"
  // are monitor's disconnect and reconnect records. Notes from opening (no USB hotplug notices here, say)
  // are left out: without them a replugged board is still found, by retrying.
  let watching = false;
  const log = (message: string) => {
    if (watching && !/ is (gone|back) /.test(message)) process.stderr.write(`vgpio monitor: ${message}\n`);
  };
  try {
    bench = await openMonitorBoard(options, log);
    watching = true;
    await body(bench);
    process.exitCode = BenchExit.OK;
  } catch (error) {
    const { exitCode, message } = describeBenchError(error);
    if (options.json) process.stdout.write(jsonLine({ type: 'error', ok: false, exitCode, error: message }));
    process.stderr.write(`vgpio monitor: ${message}\n`);
    process.exitCode = exitCode;
  } finally {
    await bench?.close().catch(() => undefined);
  }
}

export function monitorCommand(): Command {
  return withBoardOptions(
    new Command('monitor')
      .description('configure lines as inputs and print every edge with its device timestamp; a summary at the end (--vcd: a waveform file)')
      .argument('<lines...>', 'lines by profile name (GP2, LED; any case) or number')
      .addOption(new Option('--edges <edges>', 'which edges to report').choices(EDGE_FILTERS).default('both'))
      .addOption(new Option('--count <n>', 'stop after N edges (all lines together)').argParser(parseCount))
      .addOption(new Option('--duration <seconds>', 'stop after this many seconds').argParser(parseSeconds))
      .addOption(new Option('--vcd <file>', 'also write the levels to FILE as a Value Change Dump (needs --edges both)'))
      .addOption(biasOption())
      .addOption(debounceOption())
      .addOption(activeLowOption('levels and edges are reported inverted (a falling pin is a rising edge)'))
      .addOption(new Option('--json', 'one JSON object per line (ndjson)'))
      .addHelpText('after', MONITOR_HELP),
  ).action(async (specs: string[], options: MonitorOptions) => {
    if (options.vcd !== undefined && options.edges !== 'both') {
      process.stderr.write(`vgpio monitor: --vcd records levels, which needs both edges; drop --edges ${options.edges} or --vcd\n`);
      process.exitCode = BenchExit.USAGE;
      return;
    }
    await runMonitor(
      options,
      async ({ board, profile, what }) => {
        const resolved = resolveLines(specs, profile);
        const lines: MonitoredLine[] = resolved.map((l) => ({
          line: l.line, name: lineLabel(profile, l.line), bias: options.bias ?? l.bias, debounceUs: options.debounceUs ?? l.debounceUs, idleBias: l.idleBias,
        }));
        let vcdFd: number | undefined;
        if (options.vcd !== undefined) {
          try {
            vcdFd = openSync(options.vcd, 'w');
          } catch (error) {
            throw new BenchError(BenchExit.USAGE, `cannot write the VCD file ${options.vcd}: ${(error as Error).message}; give a path in a writable directory`);
          }
        }
        const sinks: Array<(record: MonitorRecord) => void> = [(record) => process.stdout.write(options.json ? jsonLine(record) : formatRecord(record))];
        if (vcdFd !== undefined) {
          const fd = vcdFd;
          const { pkg } = await import('./program.js'); // program.ts adds this command: a static import would be a cycle
          sinks.push(vcdRecorder(({ signals, comment }) => new VcdWriter({ date: new Date(), version: `vgpio ${pkg.version} monitor, firmware ${board.info.firmwareVersion}`, comment: `${what}; ${comment}`, scope: 'vgpio', signals }, (text) => writeSync(fd, text))));
        }
        let summary: MonitorSummary;
        const stopper = new AbortController();
        const onInt = () => stopper.abort('SIGINT');
        const onTerm = () => stopper.abort('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
        try {
          if (!options.json) process.stderr.write(`vgpio monitor: watching ${lines.map((l) => l.name).join(' ')} on ${what}; Ctrl-C stops\n`);
          summary = await monitorLines(
            board,
            { lines, edges: options.edges, activeLow: options.activeLow === true, count: options.count, durationMs: options.duration === undefined ? undefined : options.duration * 1000, signal: stopper.signal },
            (record) => sinks.forEach((sink) => sink(record)),
          );
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          if (vcdFd !== undefined) closeSync(vcdFd);
        }
        if (summary.endedAway) {
          throw new BenchError(
            BenchExit.UNEXPECTED,
            `the board went away while monitoring and was not back when monitoring stopped (${summary.stoppedBy}); the summary${options.vcd === undefined ? '' : ' and the VCD'} cover what was seen; check the cable, then run the command again`,
          );
        }
      },
    );
  });
}
