/**
 * The daemon under fault: the built `vgpio serve` as a child process (on the in-process emulated board, or
 * on a `vgpio emulate --pty` board in another process so the board outlives the daemon and can be read
 * afterwards), the CLI for one-shot commands, and the same pieces assembled in-process when a test must
 * see the emulated pins while the daemon runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmulatedBoard, type EmulatedBoard } from '../../../src/board/open.js';
import { fitProfile, loadProfile, type BoardProfile } from '../../../src/board/profile.js';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { GpioVhostDevice } from '../../../src/gpio/vhost-device.js';
import type { FailsafeKeeper } from '../../../src/gpio/failsafe.js';
import { armFailsafe } from '../../../src/cli/serve.js';
import { VhostUserServer } from '../../../src/vhost/server.js';
import { TestFrontend } from '../../helpers/frontend.js';
import type { ReliabilityRecord } from '../reliability.js';

export const CLI = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const REGISTER_TS = fileURLToPath(new URL('./register-ts.mjs', import.meta.url));
export const CHILD_FRONTEND = fileURLToPath(new URL('./child-frontend.ts', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cleanups run in reverse order by `cleanUp()` (call it from afterEach). */
const cleanups: Array<() => void | Promise<void>> = [];
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}
export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

export function tempDir(prefix = 'vgpio-fault-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Proc {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  out(): string;
  err(): string;
  /** Resolves when stderr (or stdout) matches; rejects naming what was seen after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number, stream?: 'err' | 'out'): Promise<RegExpMatchArray>;
}

function track(child: ChildProcess): Proc {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    async waitFor(pattern, timeoutMs = 20_000, stream = 'err') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = (stream === 'err' ? stderr : stdout).match(pattern);
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${stderr}`);
        await sleep(20);
      }
    },
  };
}

export interface Daemon extends Proc {
  socket: string;
  dir: string;
}

/** Starts the built `vgpio serve` (default board: the emulator with the loopback jig); resolves once it listens. */
export async function spawnServe(args: string[] = [], options: { board?: string } = {}): Promise<Daemon> {
  const dir = tempDir('vgpio-serve-');
  const socket = join(dir, 'gpio.sock');
  const board = options.board ?? 'emulator';
  const child = spawn(process.execPath, [CLI, 'serve', '--board', board, '--jig', 'loopback', '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = track(child);
  await proc.waitFor(/vhost-user: listening/);
  return { ...proc, socket, dir };
}

/** `vgpio emulate --pty --jig loopback` in its own process: the board outlives any daemon using it. */
export async function spawnPtyBoard(): Promise<Proc & { path: string }> {
  const child = spawn(process.execPath, [CLI, 'emulate', '--pty', '--jig', 'loopback'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = track(child);
  const [, path] = (await proc.waitFor(/^(\/dev\/pts\/[0-9]+)\n/, 30_000, 'out')) as RegExpMatchArray & [string, string];
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([proc.exited, sleep(5000)]);
    }
  });
  return { ...proc, path };
}

/** A one-shot CLI command; resolves with its exit code and output. */
export async function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = track(spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const { code } = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.out(), stderr: proc.err() };
}

/** The child-process VMM (child-frontend.ts), connected to `socket`; resolves once its burst is in flight. */
export async function spawnChildFrontend(socket: string, outputs: number[], irqLines: number[]): Promise<Proc & { inFlight: number }> {
  const child = spawn(process.execPath, ['--import', REGISTER_TS, CHILD_FRONTEND, socket, outputs.join(','), irqLines.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = track(child);
  const [, n] = (await proc.waitFor(/in-flight ([0-9]+)/, 30_000, 'out')) as RegExpMatchArray & [string, string];
  return { ...proc, inFlight: Number(n) };
}

export interface InProcessDaemon {
  socket: string;
  emulated: EmulatedBoard;
  profile: BoardProfile;
  gpio: VirtioGpioDevice;
  device: GpioVhostDevice;
  server: VhostUserServer;
  keeper: FailsafeKeeper | undefined;
  logs: string[];
}

/**
 * What `vgpio serve` assembles, in-process on an emulated board with the loopback jig, so a test can watch
 * the pins. `profile` edits the Pico profile (e.g. safe states); `failsafeMs` arms the failsafe as serve does.
 */
export async function startInProcess(options: { profile?: (p: BoardProfile) => BoardProfile; failsafeMs?: number } = {}): Promise<InProcessDaemon> {
  const dir = tempDir('vgpio-inproc-');
  const socket = join(dir, 'gpio.sock');
  const emulated = await openEmulatedBoard({ jig: 'loopback' });
  onCleanup(() => emulated.close());
  const logs: string[] = [];
  const log = (m: string) => void logs.push(m);
  const base = fitProfile(loadProfile('pico'), emulated.board.info);
  const profile = options.profile ? options.profile(base) : base;
  const gpio = new VirtioGpioDevice(emulated.board, { lines: profile.lines, ngpio: profile.numLines, log });
  const device = new GpioVhostDevice(gpio, log);
  const server = new VhostUserServer({ socketPath: socket, device, log });
  onCleanup(() => server.close());
  const keeper = options.failsafeMs ? await armFailsafe(emulated.board, gpio, profile, options.failsafeMs, log) : undefined;
  if (keeper) onCleanup(() => keeper.stopHeartbeats());
  await server.listen();
  return { socket, emulated, profile, gpio, device, server, keeper, logs };
}

/** Waits until `predicate` holds, polling; throws naming `what` after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A guest (TestFrontend, UML flavour) on `socket`, closed by cleanUp. */
export async function connectGuest(socket: string): Promise<TestFrontend> {
  const f = await TestFrontend.connect(socket);
  onCleanup(() => f.close());
  await f.setup({ uml: true });
  return f;
}

/** A guest request counted in `record` as sent, and as answered once its answer is back. */
export function countedRequests(record: ReliabilityRecord) {
  return async (f: TestFrontend, type: number, gpio: number, value = 0) => {
    record.add({ requestsSent: 1 });
    const r = await f.request(type, gpio, value);
    record.add({ requestsAnswered: 1 });
    return r;
  };
}
