/**
 * What the bench commands (`vgpio info`, `get`, `set`, `pulse`, `monitor`) share: the exit codes, the `--board`,
 * `--jig` and `--profile` options, opening the chosen board with its profile, naming lines (profile
 * names such as GP2 or LED, case-insensitive, or numbers), parsing values, and turning every error into
 * one message that names the line and the fix, plus a distinct exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { openBoard, openEmulatedBoard, PortOpenError } from '../board/open.js';
import { findBoardPath, NoBoardError } from '../board/discovery.js';
import { defaultProfileName, fitProfile, loadProfile, ProfileError, type BoardProfile, type LineProfile } from '../board/profile.js';
import { BoardUsageError, type LinkBoard } from '../board/link-board.js';
import { HwFileError } from '../board/hw-files.js';
import { DeviceError } from '../link/errors.js';
import type { Bit, Board, LineBias, LineDrive } from '../board/types.js';
import { describeListError } from './list.js';

/** Exit codes of the bench commands (also in their --help and README.md). */
export const BenchExit = {
  OK: 0,
  /** Anything not listed below (a bug, a lost link, an unexpected system error). */
  UNEXPECTED: 1,
  /** Usage or bad input: unknown or reserved line, bad value, bad option. */
  USAGE: 2,
  /** No board: none attached, several and none chosen, the chosen one absent or its port unusable. */
  NO_BOARD: 3,
  /** The board refused the request (protocol error status), or a pulse did not complete. */
  REFUSED: 4,
} as const;

export const BENCH_EXIT_HELP = `
Exit codes:
  0  done
  1  unexpected error
  2  usage or bad input: unknown line, reserved line, bad value, bad option
  3  no board: none attached (use --board PATH|serial:NO, or --board emulator), or it cannot be opened
  4  the board refused the request, or a pulse did not complete
`;

/** An error that ends a command with its exit code: a BenchExit, or a FlashExit for `vgpio flash`. */
export class BenchError extends Error {
  override name = 'BenchError';
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

export interface BoardChoiceOptions {
  board: string;
  jig: string;
  profile?: string;
}

export const BIASES: readonly LineBias[] = ['none', 'pull-up', 'pull-down', 'bus-keeper'];
export const DRIVES: readonly LineDrive[] = ['push-pull', 'open-drain', 'open-source'];

/*
 * The line-setting flags, one definition each so get, set, pulse and monitor spell and mean them alike:
 * --bias (all), --drive (outputs: set, pulse), --debounce-us (edge events: monitor), --active-low (all:
 * the values and edges a user gives or sees are logical, 1 = active, and the pin is inverted).
 * Without a flag the line's setting comes from the board profile (--profile).
 */
export const biasOption = () => new Option('--bias <bias>', "bias (default: the profile's, usually none)").choices(BIASES);
export const driveOption = () => new Option('--drive <drive>', "output drive (default: the profile's, usually push-pull)").choices(DRIVES);
export const activeLowOption = (what: string) => new Option('--active-low', `the line is active low: ${what}`);
export const debounceOption = () =>
  new Option('--debounce-us <microseconds>', "ignore transitions shorter than this, 0 to 1000000 (default: the profile's, usually 0)").argParser(parseDebounceUs);

export function parseDebounceUs(value: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(value.trim()) || Number(value) > 1_000_000) throw new InvalidArgumentError('give whole microseconds, 0 to 1000000');
  return Number(value);
}

/**
 * Adds --board, --jig and --profile, the exit code help, and makes commander's own usage errors
 * (unknown option, missing argument, a value an option refuses) exit 2 like ours.
 */
export function withBoardOptions(command: Command): Command {
  return command
    .addOption(
      new Option('-b, --board <board>', 'auto (the one attached vgpio board), a serial port path, serial:SERIALNO, or emulator (in-process; its state is gone when the command exits)').default('auto'),
    )
    .addOption(new Option('--jig <name>', 'wiring of the emulated board with --board emulator (hw/jigs)').default('loopback'))
    .addOption(new Option('-p, --profile <name|file>', 'board profile for line names (hw/boards); default from the board: pico or rp2040'))
    .addHelpText('after', BENCH_EXIT_HELP)
    .exitOverride((error: CommanderError) => {
      // help and version exit 0; every usage error exits 2 (commander uses 1)
      process.exit(error.exitCode === 0 ? 0 : BenchExit.USAGE);
    });
}

/**
 * An open board, its fitted profile, and how to close it (the emulator too, for --board emulator). Any
 * Board: monitor's is a ReconnectingBoard.
 */
export interface BenchBoard {
  board: Board;
  profile: BoardProfile;
  /** "the board on /dev/ttyACM0", "the emulated board (jig loopback)". */
  what: string;
  close(): Promise<void>;
}

export const NO_BOARD_HINT = 'use --board PATH|serial:SERIALNO, or --board emulator';

/** A port that would not open, as a bench command reports it (exit 3), with the alternatives. */
export function portOpenFailure(error: unknown): BenchError {
  if (error instanceof PortOpenError) return new BenchError(BenchExit.NO_BOARD, error.busy ? error.message : `${error.message}; or ${NO_BOARD_HINT}`);
  return new BenchError(BenchExit.NO_BOARD, `${error instanceof Error ? error.message : String(error)}; ${NO_BOARD_HINT}`);
}

/** findBoardPath as a bench command reports its failures: no such board, or no port list (exit 3). */
export async function findBenchBoardPath(choice: string): Promise<string | undefined> {
  try {
    return await findBoardPath(choice);
  } catch (error) {
    if (error instanceof NoBoardError) throw new BenchError(BenchExit.NO_BOARD, error.message);
    throw new BenchError(BenchExit.NO_BOARD, `cannot list serial ports: ${describeListError(error)}; ${NO_BOARD_HINT}`);
  }
}

/** An open board with its profile (--profile, else pico or rp2040 from the board); closed if the profile does not fit. */
export async function withProfile(opened: Omit<BenchBoard, 'profile'>, profileName: string | undefined): Promise<BenchBoard> {
  const { info } = opened.board;
  try {
    return { ...opened, profile: fitProfile(loadProfile(profileName ?? defaultProfileName(info)), info) };
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
}

export async function openBenchBoard(options: BoardChoiceOptions): Promise<BenchBoard> {
  if (options.board === 'emulator') {
    const emulated = await openEmulatedBoard({ jig: options.jig });
    return withProfile({ board: emulated.board, what: `the emulated board (jig ${options.jig})`, close: () => emulated.close() }, options.profile);
  }
  const path = await findBenchBoardPath(options.board);
  if (path === undefined) throw new BenchError(BenchExit.NO_BOARD, `no vgpio board attached; ${NO_BOARD_HINT}`);
  let board: LinkBoard;
  try {
    board = await openBoard({ path });
  } catch (error) {
    throw portOpenFailure(error);
  }
  return withProfile({ board, what: `the board on ${path}`, close: () => board.close() }, options.profile);
}

/** How a line is shown: its profile name, else its number. */
export function lineLabel(profile: BoardProfile, line: number): string {
  return profile.lines[line]?.name || String(line);
}

function knownNames(profile: BoardProfile): string {
  const named = profile.lines.filter((l) => l.name && l.reserved === undefined).map((l) => l.name);
  return named.length > 12 ? `${named.slice(0, 6).join(', ')}, ..., ${named.slice(-3).join(', ')}` : named.join(', ');
}

/**
 * A line given on the command line: a profile name (case-insensitive: GP2, gp2, LED), a line number
 * (0 to numLines-1), or GPn / GPIOn for GPIO n. Reserved lines are refused unless `allowReserved`.
 */
export function resolveLine(spec: string, profile: BoardProfile, options: { allowReserved?: boolean } = {}): LineProfile {
  const text = spec.trim();
  const byName = text ? profile.lines.find((l) => l.name !== '' && l.name.toLowerCase() === text.toLowerCase()) : undefined;
  const numbered = /^(?:gp|gpio)?(0|[1-9][0-9]*)$/i.exec(text);
  const line = byName ?? (numbered ? profile.lines[Number(numbered[1])] : undefined);
  if (!line) {
    throw new BenchError(
      BenchExit.USAGE,
      `unknown line "${spec}": the ${profile.id} profile has lines 0 to ${profile.numLines - 1}, named ${knownNames(profile)}; give a name or a number (\`vgpio info\` lists them)`,
    );
  }
  if (line.reserved !== undefined && !options.allowReserved) {
    const name = line.name && line.name.toLowerCase() !== text.toLowerCase() ? ` (${line.name})` : '';
    throw new BenchError(BenchExit.USAGE, `line ${spec} is line ${line.line}${name}, reserved: ${line.reserved}; pick another line (\`vgpio info\` lists the free ones)`);
  }
  return line;
}

/** Resolves several lines; the same line twice is an error. */
export function resolveLines(specs: readonly string[], profile: BoardProfile): LineProfile[] {
  const seen = new Map<number, string>();
  return specs.map((spec) => {
    const line = resolveLine(spec, profile);
    const before = seen.get(line.line);
    if (before !== undefined) throw new BenchError(BenchExit.USAGE, `line ${spec} is named twice (also as ${before}); give each line once`);
    seen.set(line.line, spec);
    return line;
  });
}

/** A line value: 0 or 1 (also low/high, off/on, case-insensitive). */
export function parseValue(text: string, line: string): Bit {
  const t = text.trim().toLowerCase();
  if (t === '0' || t === 'low' || t === 'off') return 0;
  if (t === '1' || t === 'high' || t === 'on') return 1;
  throw new BenchError(BenchExit.USAGE, `bad value "${text}" for line ${line}: give 0 or 1 (also low/high), e.g. ${line}=1`);
}

/** `LINE=VALUE`, e.g. GP2=1. */
export function parseAssignment(text: string): { spec: string; value: Bit } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new BenchError(BenchExit.USAGE, `"${text}" is not LINE=VALUE; write e.g. GP2=1 or 25=0`);
  const spec = text.slice(0, eq);
  return { spec, value: parseValue(text.slice(eq + 1), spec) };
}

export function parseMicroseconds(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value.trim()) || Number(value) > 60_000_000) throw new InvalidArgumentError('give whole microseconds, 1 to 60000000');
  return Number(value);
}

export function parseLevel(value: string): Bit {
  try {
    return parseValue(value, 'LINE');
  } catch {
    throw new InvalidArgumentError('give 0 or 1');
  }
}

/** Groups lines that share settings, so each group is configured in one request. */
export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Array<{ key: K; items: T[] }> {
  const groups = new Map<string, { key: K; items: T[] }>();
  for (const item of items) {
    const k = key(item);
    const id = JSON.stringify(k);
    const group = groups.get(id) ?? { key: k, items: [] };
    group.items.push(item);
    groups.set(id, group);
  }
  return [...groups.values()];
}

/** The exit code and message for any error a bench command meets. */
export function describeBenchError(error: unknown): { exitCode: number; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof BenchError) return { exitCode: error.exitCode, message };
  if (error instanceof BoardUsageError || error instanceof ProfileError || error instanceof HwFileError) return { exitCode: BenchExit.USAGE, message };
  if (error instanceof DeviceError) return { exitCode: BenchExit.REFUSED, message };
  return { exitCode: BenchExit.UNEXPECTED, message };
}

/**
 * Runs a bench command on the chosen board: opens it (openBenchBoard, or `format.open`), runs `body`,
 * closes it; errors become one line on stderr (`vgpio NAME: ...`) and the exit code, and with --json also
 * a JSON object on stdout (one ndjson record with `format.jsonLines`).
 */
export async function runOnBoard(
  name: string,
  options: BoardChoiceOptions & { json?: boolean },
  body: (bench: BenchBoard) => Promise<void>,
  format: { jsonLines?: boolean; open?: (options: BoardChoiceOptions) => Promise<BenchBoard> } = {},
): Promise<void> {
  let bench: BenchBoard | undefined;
  try {
    bench = await (format.open ?? openBenchBoard)(options);
    await body(bench);
    process.exitCode = BenchExit.OK;
  } catch (error) {
    const { exitCode, message } = describeBenchError(error);
    if (options.json && format.jsonLines) process.stdout.write(jsonLine({ type: 'error', ok: false, exitCode, error: message }));
    else if (options.json) process.stdout.write(`${JSON.stringify({ ok: false, exitCode, error: message }, null, 2)}\n`);
    process.stderr.write(`vgpio ${name}: ${message}\n`);
    process.exitCode = exitCode;
  } finally {
    await bench?.close().catch(() => undefined);
  }
}

const bigintAsNumber = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

export const json = (value: unknown): string => `${JSON.stringify(value, bigintAsNumber, 2)}\n`;

/** One JSON object on one line (ndjson), for commands that stream records. */
export const jsonLine = (value: unknown): string => `${JSON.stringify(value, bigintAsNumber)}\n`;
