/**
 * The core of `vgpio monitor`: monitorLines() configures lines as inputs with edge detection on any Board
 * and reports records (start, edge, overflow, disconnect, reconnect, summary) to a callback, so the same
 * code runs in-process in tests (against the emulated board, while the test drives the partner line) and
 * in the command (src/cli/monitor.ts). Its output forms are in monitor-output.ts.
 *
 * On a ReconnectingBoard, an unplug is a `disconnect` record and monitoring goes on waiting; when the
 * board is back (its lines configured again by ReconnectingBoard) the levels are sampled again (a
 * `reconnect` record) and edges are reported as before.
 */
import { performance } from 'node:perf_hooks';
import type { Bit, Board, BoardEvent, LineBias } from '../board/types.js';
import { BoardDisconnectedError, ReconnectingBoard } from '../board/reconnecting-board.js';
import { BenchError, BenchExit, groupBy } from './common.js';

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
export const maxOf = (a: bigint, b: bigint): bigint => (a > b ? a : b);

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

