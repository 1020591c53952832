/**
 * `vgpio monitor LINE...`: configures the lines as inputs with edge detection and reports every edge with
 * the device's timestamp, the line, the direction and the line's sequence number; OVERFLOW events with
 * what was lost; and, when it stops (--count edges seen, --duration elapsed, SIGINT or SIGTERM), a
 * summary per line. Then it releases the lines. --json streams one object per line (ndjson); --vcd FILE
 * also writes the levels as a Value Change Dump for GTKWave or PulseView.
 *
 * The core, monitorLines() (monitor-lines.ts), takes any Board and reports records; monitor-output.ts
 * prints them and writes the VCD. This file is the command: options, opening the board, signals.
 *
 * A real board is opened as a ReconnectingBoard, so monitoring survives an unplug and goes on after the
 * replug (README "Hotplug").
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { LineBias } from '../board/types.js';
import { openReconnectingBoard } from '../board/hotplug.js';
import { findBoardPath, NoBoardError } from '../board/discovery.js';
import { openBoard } from '../board/open.js';
import {
  activeLowOption, BenchError, BenchExit, biasOption, debounceOption, findBenchBoardPath, jsonLine, lineLabel, openBenchBoard,
  portOpenFailure, resolveLines, runOnBoard, withBoardOptions, withProfile, type BenchBoard, type BoardChoiceOptions,
} from './common.js';
import { VcdWriter } from './vcd.js';
import { EDGE_FILTERS, monitorLines, type EdgeFilter, type MonitoredLine, type MonitorRecord, type MonitorSummary } from './monitor-lines.js';
import { formatRecord, vcdRecorder } from './monitor-output.js';

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

/**
 * A real board is opened as a ReconnectingBoard, so an unplug does not end monitoring; the emulated board
 * cannot be unplugged and is opened as by the other bench commands. Errors opening it the first time are
 * those of openBenchBoard (exit 3 with the same hints); later, a board that is away is waited for.
 */
async function openMonitorBoard(options: BoardChoiceOptions, log: (message: string) => void): Promise<BenchBoard> {
  if (options.board === 'emulator') return openBenchBoard(options);
  let first = true;
  const findPath = (choice: string) => (first ? findBenchBoardPath(choice) : findBoardPath(choice));
  const openPath = async (path: string) => {
    if (!first) return openBoard({ path });
    first = false;
    try {
      return await openBoard({ path });
    } catch (error) {
      throw portOpenFailure(error);
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
  return withProfile({ board, what, close: () => board.close() }, options.profile);
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
    // ReconnectingBoard's notes while the board is away (not back yet, and why); its "is gone" and "is back"
    // are monitor's disconnect and reconnect records. Notes from opening (no USB hotplug notices here, say)
    // are left out: without them a replugged board is still found, by retrying.
    let watching = false;
    const log = (message: string) => {
      if (watching && !/ is (gone|back) /.test(message)) process.stderr.write(`vgpio monitor: ${message}\n`);
    };
    const open = async (choice: BoardChoiceOptions) => {
      const bench = await openMonitorBoard(choice, log);
      watching = true;
      return bench;
    };
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
      { jsonLines: true, open },
    );
  });
}
