/**
 * Board profiles (hw/boards/*.json): line names and the per-line settings a guest cannot express through
 * virtio-gpio (bias, idle bias, drive, debounce), plus the lines that must never be driven. Validated on
 * load: every error names the file, the field and what is allowed.
 */
import type { BoardInfo, LineBias, LineDrive } from './types.js';
import { HwFileError, readHwJson } from './hw-files.js';

export interface LineProfile {
  line: number;
  /** Unique, 7-bit ASCII; what the guest's gpioinfo shows. */
  name: string;
  bias: LineBias;
  idleBias: LineBias;
  drive: LineDrive;
  debounceUs: number;
  /** Why the line is reserved, when it is: reserved lines are never driven, by guests or the CLI. */
  reserved: string | undefined;
  /** Physical pin on the board's header, where the profile says. */
  header: number | undefined;
  /** Where the line goes when its guest lets go, the daemon stops or the host goes silent (failsafe). */
  safe: SafeState;
}

export type SafeState = 'off' | 'low' | 'high';
const SAFE_STATES: readonly SafeState[] = ['off', 'low', 'high'];

export interface BoardProfile {
  id: string;
  name: string;
  description: string;
  numLines: number;
  lines: LineProfile[];
  reservedLines: number[];
  source: string;
}

const BIASES: readonly LineBias[] = ['none', 'pull-up', 'pull-down', 'bus-keeper'];
const DRIVES: readonly LineDrive[] = ['push-pull', 'open-drain', 'open-source'];
const LINE_KEYS = new Set(['name', 'bias', 'idleBias', 'drive', 'debounceUs', 'safe', 'reserved', 'header', 'note']);
const TOP_KEYS = new Set(['id', 'name', 'description', 'numLines', 'defaults', 'lines']);
const MAX_NAME = 31;

export class ProfileError extends HwFileError {
  override name = 'ProfileError';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseProfile(json: unknown, source: string): BoardProfile {
  const fail = (field: string, why: string): never => {
    throw new ProfileError(`${source}: ${field}: ${why}`);
  };
  if (!isObj(json)) return fail('(top level)', 'must be a JSON object');
  for (const key of Object.keys(json)) if (!TOP_KEYS.has(key)) fail(key, `unknown field; allowed: ${[...TOP_KEYS].join(', ')}`);
  const str = (v: unknown, field: string): string => (typeof v === 'string' && v.length > 0 ? v : fail(field, 'must be a non-empty string'));
  const id = str(json['id'], 'id');
  const name = str(json['name'], 'name');
  const description = typeof json['description'] === 'string' ? json['description'] : '';
  const numLines = json['numLines'];
  if (typeof numLines !== 'number' || !Number.isInteger(numLines) || numLines < 1 || numLines > 32) fail('numLines', 'must be an integer from 1 to 32');
  const n = numLines as number;

  const oneOf = <T extends string>(v: unknown, allowed: readonly T[], field: string): T =>
    allowed.includes(v as T) ? (v as T) : fail(field, `"${String(v)}" is not one of ${allowed.join(', ')}`);
  const debounce = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1_000_000 ? v : fail(field, 'must be an integer from 0 to 1000000 (microseconds)');

  const defaultsJson = json['defaults'] ?? {};
  if (!isObj(defaultsJson)) return fail('defaults', 'must be an object');
  const defaults = {
    bias: oneOf(defaultsJson['bias'] ?? 'none', BIASES, 'defaults.bias'),
    idleBias: oneOf(defaultsJson['idleBias'] ?? 'pull-down', BIASES, 'defaults.idleBias'),
    drive: oneOf(defaultsJson['drive'] ?? 'push-pull', DRIVES, 'defaults.drive'),
    debounceUs: debounce(defaultsJson['debounceUs'] ?? 0, 'defaults.debounceUs'),
    safe: oneOf(defaultsJson['safe'] ?? 'off', SAFE_STATES, 'defaults.safe'),
  };

  const linesJson = json['lines'] ?? {};
  if (!isObj(linesJson)) return fail('lines', 'must be an object keyed by line number');
  for (const key of Object.keys(linesJson)) {
    if (!/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= n) fail(`lines.${key}`, `is not a line number from 0 to ${n - 1}`);
  }
  const names = new Map<string, number>();
  const lines: LineProfile[] = [];
  for (let line = 0; line < n; line++) {
    const entry = linesJson[String(line)] ?? {};
    const at = `lines.${line}`;
    if (!isObj(entry)) return fail(at, 'must be an object');
    for (const key of Object.keys(entry)) if (!LINE_KEYS.has(key)) fail(`${at}.${key}`, `unknown field; allowed: ${[...LINE_KEYS].join(', ')}`);
    const lineName = entry['name'] === undefined ? '' : str(entry['name'], `${at}.name`);
    if (lineName.length > MAX_NAME || !/^[\x21-\x7e]*$/.test(lineName)) fail(`${at}.name`, `"${lineName}" must be printable 7-bit ASCII without spaces, at most ${MAX_NAME} characters`);
    if (lineName && names.has(lineName)) fail(`${at}.name`, `"${lineName}" is already the name of line ${names.get(lineName)}; names must be unique`);
    if (lineName) names.set(lineName, line);
    const header = entry['header'];
    if (header !== undefined && (typeof header !== 'number' || !Number.isInteger(header) || header < 1)) fail(`${at}.header`, 'must be a positive pin number');
    const reserved = entry['reserved'];
    if (reserved !== undefined && typeof reserved !== 'string') fail(`${at}.reserved`, 'must be a string saying why the line is reserved');
    lines.push({
      line,
      name: lineName,
      bias: oneOf(entry['bias'] ?? defaults.bias, BIASES, `${at}.bias`),
      idleBias: oneOf(entry['idleBias'] ?? defaults.idleBias, BIASES, `${at}.idleBias`),
      drive: oneOf(entry['drive'] ?? defaults.drive, DRIVES, `${at}.drive`),
      debounceUs: debounce(entry['debounceUs'] ?? defaults.debounceUs, `${at}.debounceUs`),
      reserved: reserved as string | undefined,
      header: header as number | undefined,
      safe: oneOf(entry['safe'] ?? defaults.safe, SAFE_STATES, `${at}.safe`),
    });
  }
  return { id, name, description, numLines: n, lines, reservedLines: lines.filter((l) => l.reserved !== undefined).map((l) => l.line), source };
}

/** Loads a built-in profile by name (`pico`, `rp2040`) or a profile file by path. */
export function loadProfile(nameOrPath: string): BoardProfile {
  const { json, source } = readHwJson('boards', nameOrPath);
  return parseProfile(json, source);
}

/** The built-in profile for a board that names none: `pico` for a Raspberry Pi Pico (HELLO board_id 2),
 *  else the generic `rp2040`. */
export const defaultProfileName = (info: BoardInfo): string => (info.boardId === 2 ? 'pico' : 'rp2040');

/**
 * Checks a profile against the board it will drive. The board's own reserved lines stay reserved
 * whatever the profile says; a profile with more lines than the board is an error.
 */
export function fitProfile(profile: BoardProfile, info: BoardInfo): BoardProfile {
  if (profile.numLines > info.numLines) {
    throw new ProfileError(`${profile.source}: the profile "${profile.id}" has ${profile.numLines} lines, the ${info.boardName} (serial ${info.serial}) has ${info.numLines}`);
  }
  const lines = profile.lines.map((l) =>
    l.reserved === undefined && info.reservedLines.includes(l.line) ? { ...l, reserved: 'reserved by the board firmware' } : l,
  );
  return { ...profile, lines, reservedLines: lines.filter((l) => l.reserved !== undefined).map((l) => l.line) };
}
