/**
 * `vgpio monitor LINE...`: configures the lines as inputs with edge detection and reports every edge with
 * the device's timestamp, the line, the direction and the line's sequence number; OVERFLOW events with
 * what was lost; and, when it stops (--count edges seen, --duration elapsed, SIGINT or SIGTERM), a
 * summary per line. Then it releases the lines. --json streams one object per line (ndjson); --vcd FILE
 * also writes the levels as a Value Change Dump for GTKWave or PulseView.
 *
 * The core, monitorLines(), takes any Board and reports records to a callback, so the same code runs
 * in-process in tests (against the emulated board, while the test drives the partner line) and here.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Bit, Board, BoardEvent, LineBias } from '../board/types.js';
import {
  activeLowOption, BenchError, BenchExit, biasOption, debounceOption, groupBy, jsonLine, lineLabel, resolveLines, runOnBoard, withBoardOptions,
  type BoardChoiceOptions,
} from './common.js';
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

export interface MonitorSummary {
  type: 'summary';
  stoppedBy: string;
  startUs: bigint;
  /** Device time when monitoring stopped. */
  endUs: bigint;
  edges: number;
  /** Edges the device reported as lost in OVERFLOW events. */
  overflowLost: number;
  lines: Array<{ line: number; name: string; edges: number; lost: number }>;
}

export type MonitorRecord = MonitorStart | MonitorEdge | MonitorOverflow | MonitorSummary;

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
  const queue: BoardEvent[] = [];
  let wake: (() => void) | undefined;
  let closedBy: string | undefined;
  let stopBy: string | undefined;
  const onEvent = (event: BoardEvent) => {
    queue.push(event);
    wake?.();
  };
  const onClose = (reason: string) => {
    closedBy = reason;
    wake?.();
  };
  const stop = (reason: string) => {
    stopBy ??= reason;
    wake?.();
  };
  const onAbort = () => stop(typeof settings.signal?.reason === 'string' ? settings.signal.reason : 'stopped');
  let timer: NodeJS.Timeout | undefined;
  board.on('event', onEvent);
  board.on('close', onClose);
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
    report({
      type: 'start', timeUs: startUs, edges: settings.edges, activeLow,
      lines: lines.map((l) => ({ line: l.line, name: l.name, level: (sample.values.get(l.line)! ^ invert) as Bit })),
    });

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
      if (event.type === 'edge') {
        const line = byLine.get(event.line);
        if (!line) continue;
        let lostBefore: number;
        const previous = lastSeq.get(event.line);
        if (previous === undefined) {
          const ahead = seqAhead(event.lineSeq & 0xffff, expected.get(event.line)!);
          // Behind the reference: the edge came before the line_seq read, so before the initial sample.
          if (ahead < 0) continue;
          lostBefore = ahead;
        } else {
          lostBefore = Math.max(0, event.lineSeq - previous - 1);
        }
        lastSeq.set(event.line, event.lineSeq);
        const counts = perLine.get(event.line)!;
        counts.lost += lostBefore;
        // An edge stamped before the initial sample is already in the initial level.
        if (event.timeUs < startUs) continue;
        const logical = activeLow ? opposite[event.edge] : event.edge;
        counts.edges++;
        total++;
        report({ type: 'edge', timeUs: event.timeUs, line: event.line, name: line.name, edge: logical, level: logical === 'rising' ? 1 : 0, lineSeq: event.lineSeq, lostBefore });
        if (settings.count !== undefined && total >= settings.count) stop('count');
      } else if (event.type === 'overflow') {
        const affected = event.lines.filter((l) => byLine.has(l));
        if (affected.length === 0) continue;
        overflowLost += event.lost;
        report({ type: 'overflow', lost: event.lost, lines: affected.map((l) => ({ line: l, name: byLine.get(l)!.name })), firstUs: event.firstUs, lastUs: event.lastUs });
      }
    }
    const endUs = closedBy === undefined ? (await board.getValues(lines.map((l) => l.line))).timeUs : startUs;
    const summary: MonitorSummary = {
      type: 'summary', stoppedBy: stopBy, startUs, endUs, edges: total, overflowLost,
      lines: lines.map((l) => ({ line: l.line, name: l.name, ...perLine.get(l.line)! })),
    };
    report(summary);
    return summary;
  } finally {
    clearTimeout(timer);
    settings.signal?.removeEventListener('abort', onAbort);
    board.off('event', onEvent);
    board.off('close', onClose);
    if (!board.closed) {
      for (const { key, items } of groupBy(lines, (l) => l.idleBias)) {
        await board.configure(items.map((l) => l.line), { direction: 'off', bias: key }).catch(() => undefined);
      }
    }
  }
}

/** Human-readable lines: device times in microseconds, names from the profile. */
export function formatRecord(record: MonitorRecord): string {
  switch (record.type) {
    case 'start':
      return `start ${record.timeUs} us: ${record.lines.map((l) => `${l.name}=${l.level}`).join(' ')} (${record.edges} edges${record.activeLow ? ', active low' : ''})\n`;
    case 'edge':
      return `${record.lostBefore ? `${record.timeUs} us ${record.name} LOST ${record.lostBefore} edges before seq ${record.lineSeq}\n` : ''}${record.timeUs} us ${record.name} ${record.edge} seq ${record.lineSeq}\n`;
    case 'overflow':
      return `${record.lastUs} us OVERFLOW lost ${record.lost} edges on ${record.lines.map((l) => l.name).join(' ')} (from ${record.firstUs} us to ${record.lastUs} us)\n`;
    case 'summary': {
      const head = `summary: ${record.edges} edges in ${record.endUs - record.startUs} us (device time), stopped by ${record.stoppedBy}${record.overflowLost ? `; the board reported ${record.overflowLost} edges lost` : ''}\n`;
      return head + record.lines.map((l) => `  ${l.name}: ${l.edges} edges, ${l.lost} lost\n`).join('');
    }
  }
}

/**
 * Feeds monitor records into a VCD: #0 is the start sample, times are relative to it. Lost edges make the
 * affected lines 'x' (level unknown) from the first lost edge until their next edge, with a note in the
 * closing $comment.
 */
export function vcdRecorder(writer: (header: { signals: string[]; comment: string }) => VcdWriter): (record: MonitorRecord) => void {
  let vcd: VcdWriter | undefined;
  let startUs = 0n;
  const index = new Map<number, number>();
  let last = 0n;
  const at = (timeUs: bigint) => {
    const t = timeUs - startUs;
    if (t > last) last = t;
    return last;
  };
  return (record) => {
    switch (record.type) {
      case 'start':
        startUs = record.timeUs;
        record.lines.forEach((l, i) => index.set(l.line, i));
        vcd = writer({
          signals: record.lines.map((l) => l.name),
          comment: `#0 is device time ${record.timeUs} us; ${record.activeLow ? 'active-low lines, levels inverted' : 'levels as at the pins'}; x = level unknown after lost edges (notes at the end)`,
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
        const t = at(record.firstUs);
        vcd!.note(t, `OVERFLOW: the board lost ${record.lost} edges from ${record.firstUs - startUs} us to ${record.lastUs - startUs} us on ${record.lines.map((l) => l.name).join(' ')}`);
        for (const l of record.lines) vcd!.change(t, index.get(l.line)!, 'x' satisfies VcdValue);
        break;
      }
      case 'summary':
        vcd!.end(at(record.endUs));
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
    await runOnBoard(
      'monitor',
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
        const stopper = new AbortController();
        const onInt = () => stopper.abort('SIGINT');
        const onTerm = () => stopper.abort('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
        try {
          if (!options.json) process.stderr.write(`vgpio monitor: watching ${lines.map((l) => l.name).join(' ')} on ${what}; Ctrl-C stops\n`);
          await monitorLines(
            board,
            { lines, edges: options.edges, activeLow: options.activeLow === true, count: options.count, durationMs: options.duration === undefined ? undefined : options.duration * 1000, signal: stopper.signal },
            (record) => sinks.forEach((sink) => sink(record)),
          );
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          if (vcdFd !== undefined) closeSync(vcdFd);
        }
      },
      { jsonLines: true },
    );
  });
}
