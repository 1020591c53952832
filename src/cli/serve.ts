/**
 * `vgpio serve`: the vhost-user virtio-gpio backend. Opens a board (a real one if attached, else the
 * emulated one), listens on a unix socket, prints the QEMU and UML command lines to use, and logs
 * connections, negotiated features and errors in plain words.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { dirname, resolve } from 'node:path';
import { existsSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { openReconnectingBoard } from '../board/hotplug.js';
import { defaultProfileName, fitProfile, loadProfile, type BoardProfile } from '../board/profile.js';
import { VirtioGpioDevice } from '../gpio/device.js';
import { GpioVhostDevice } from '../gpio/vhost-device.js';
import { VhostUserServer } from '../vhost/server.js';
import { DEFAULT_FAILSAFE_TIMEOUT_MS, failsafePlan, FailsafeKeeper } from '../gpio/failsafe.js';
import type { Board } from '../board/types.js';
import { BenchError, BenchExit } from './common.js';

export interface ServeOptions {
  socket: string;
  board: string;
  jig: string;
  profile?: string;
  socketMode: number;
  socketGroup?: string;
  /** Host silence (ms) after which the board puts the lines in their safe states; 0: no failsafe. */
  failsafeMs?: number;
}

/** What a running daemon is made of, in the order shutdown takes it apart. */
export interface DaemonParts {
  server: VhostUserServer;
  keeper: FailsafeKeeper | undefined;
  gpio: VirtioGpioDevice;
  board: Board;
}

/** Bound on a clean shutdown: every step is already bounded by the link's request timeout, this is the backstop. */
export const SHUTDOWN_DEADLINE_MS = 10_000;

const logToStderr = (message: string) => void process.stderr.write(`${new Date().toISOString()} ${message}\n`);
const log = logToStderr;

export function qemuCommandLine(socket: string): string {
  return [
    'qemu-system-x86_64 -machine q35 -m 512M -nographic \\',
    '  -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \\',
    `  -chardev socket,id=vgpio,path=${socket},reconnect=1 -device vhost-user-gpio-pci,chardev=vgpio,id=gpio \\`,   // reconnect=1: the VM survives a daemon restart
    '  -kernel bzImage -append "console=ttyS0"   # a kernel with CONFIG_GPIO_VIRTIO=y',
  ].join('\n');
}

export function umlCommandLine(socket: string): string {
  return `linux mem=128M virtio_uml.device=${socket}:41   # a User-Mode Linux kernel with CONFIG_VIRTIO_UML and CONFIG_GPIO_VIRTIO`;
}

function groupId(group: string): number {
  if (/^[0-9]+$/.test(group)) return Number(group);
  try {
    return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    throw new BenchError(BenchExit.USAGE, `--socket-group: no group named "${group}"; give a group name or number (\`getent group\` lists them)`);
  }
}

/** Longest unix socket path: sun_path is 108 bytes with the terminating NUL (unix(7)). */
const MAX_SOCKET_PATH_BYTES = 107;

/** What makes listen() fail or, worse, bind a truncated path, said before any board is opened. */
function checkSocketPath(socket: string): void {
  const bytes = Buffer.byteLength(socket);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new BenchError(BenchExit.USAGE, `--socket ${socket} is ${bytes} bytes long; a unix socket path can have at most ${MAX_SOCKET_PATH_BYTES}: pick a shorter path`);
  }
  const dir = dirname(socket);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new BenchError(BenchExit.USAGE, `--socket ${socket}: the directory ${dir} does not exist; create it or pick another path`);
  }
}

export async function serve(options: ServeOptions): Promise<void> {
  const socket = resolve(options.socket);
  // Options are checked first: a typo fails before any board is opened.
  checkSocketPath(socket);
  const gid = options.socketGroup !== undefined ? groupId(options.socketGroup) : undefined;
  const chosenProfile = options.profile !== undefined ? loadProfile(options.profile) : undefined;
  // Survives unplug and replug: requests fail fast while the board is away, its lines come back on replug.
  const { board, what } = await openReconnectingBoard({ choice: options.board, jig: options.jig, log });
  const info = board.info;
  log(`board: ${what}: ${info.boardName}, serial ${info.serial}, firmware ${info.firmwareVersion}, ${info.numLines} lines`);
  let profile: BoardProfile;
  try {
    profile = fitProfile(chosenProfile ?? loadProfile(defaultProfileName(info)), info);
  } catch (error) {
    await board.close();
    throw error;
  }
  log(`profile: ${profile.name} (${profile.source}); reserved lines: ${profile.reservedLines.join(', ') || 'none'}`);

  const gpio = new VirtioGpioDevice(board, { lines: profile.lines, ngpio: profile.numLines, log });
  const device = new GpioVhostDevice(gpio, log);
  const server = new VhostUserServer({
    socketPath: socket,
    device,
    mode: options.socketMode,
    ...(gid !== undefined ? { gid } : {}),
    log,
  });
  board.on('disconnected', () => log('board: guest requests that need the board are answered with errors meanwhile; interrupts the guest queued stay queued'));
  board.on('reconnected', () => log('board: guest requests reach the board again'));
  let keeper: FailsafeKeeper | undefined;
  try {
    keeper = await armFailsafe(board, gpio, profile, options.failsafeMs ?? DEFAULT_FAILSAFE_TIMEOUT_MS);
    await server.listen();
  } catch (error) {
    // Nothing may keep the process alive after a failed start (the heartbeat timer, the emulator worker).
    await keeper?.stop();
    gpio.close();
    await board.close();
    throw error;
  }

  process.stdout.write(`vgpio serve: vhost-user virtio-gpio on ${socket}\n\nQEMU:\n${qemuCommandLine(socket)}\n\nUser-Mode Linux:\n${umlCommandLine(socket)}\n\n`);

  await untilSignal(
    async (signal) => {
      log(`${signal}: releasing lines and shutting down`);
      await shutdown({ server, keeper, gpio, board });
      log(`${signal}: stopped; lines in their safe states, ${socket} removed`);
    },
    () => rmSync(socket, { force: true }),
  );
}

/** Arms the board's host-silence failsafe with the profile's safe states, when the board has one. */
export async function armFailsafe(board: Board, gpio: VirtioGpioDevice, profile: BoardProfile, timeoutMs: number, log: (message: string) => void = logToStderr): Promise<FailsafeKeeper | undefined> {
  if (timeoutMs === 0) {
    log('failsafe: off (--failsafe-ms 0): if vgpio stops, the lines keep their levels');
    return undefined;
  }
  if (!board.info.capabilities.includes('failsafe')) {
    log('failsafe: this board has none: if vgpio stops, the lines keep their levels');
    return undefined;
  }
  const keeper = new FailsafeKeeper(board, failsafePlan(profile.lines, profile.numLines, board.info.reservedLines, timeoutMs), {
    log,
    onTrip: async (event) => {
      const lines = [...event.driven.map((d) => d.line), ...event.released].sort((a, b) => a - b);
      const reapplied = await gpio.reapply(lines);
      log(`failsafe: re-applied the guest's configuration of lines ${reapplied.join(', ') || '(none in use)'}`);
    },
  });
  await keeper.start();
  return keeper;
}

/**
 * Takes the daemon down: disconnects the frontend (the device model puts every line the guest used in its
 * safe state), stops the heartbeats and disarms the failsafe, closes the board; the socket file is removed.
 */
export async function shutdown({ server, keeper, gpio, board }: DaemonParts): Promise<void> {
  await server.close();
  await keeper?.stop();
  gpio.close();
  await board.close();
}

/**
 * Runs `stop` on the first SIGINT or SIGTERM and resolves when it is done. A second signal while it runs,
 * or a stop that overruns SHUTDOWN_DEADLINE_MS, exits at once with code 1 (the board's failsafe still
 * puts the lines in their safe states), so a stuck shutdown never hangs whoever is stopping vgpio.
 */
export function untilSignal(stop: (signal: string) => Promise<void>, beforeForcedExit: () => void = () => {}, deadlineMs = SHUTDOWN_DEADLINE_MS): Promise<void> {
  return new Promise<void>((done, fail) => {
    let stopping: string | undefined;
    const onSignal = (signal: string) => {
      if (stopping !== undefined) {
        log(`${signal} during shutdown (after ${stopping}): exiting now without waiting for the board`);
        beforeForcedExit();
        process.exit(1);
      }
      stopping = signal;
      const deadline = setTimeout(() => {
        log(`${signal}: shutdown did not finish within ${deadlineMs} ms; exiting now`);
        beforeForcedExit();
        process.exit(1);
      }, deadlineMs);
      deadline.unref();
      stop(signal).then(
        () => {
          clearTimeout(deadline);
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          done();
        },
        (error: unknown) => {
          clearTimeout(deadline);
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          fail(error);
        },
      );
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

function parseFailsafe(value: string): number {
  const ms = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (ms !== 0 && !(ms >= 10 && ms <= 600_000)) throw new InvalidArgumentError('give milliseconds from 10 to 600000, or 0 to turn the failsafe off');
  return ms;
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError('give an octal mode such as 600 or 660');
  return parseInt(value, 8);
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the board\'s lines to a VM as a vhost-user virtio-gpio device')
    .addOption(new Option('-s, --socket <path>', 'unix socket for QEMU or UML to connect to').default('vgpio.sock'))
    .addOption(new Option('-b, --board <board>', 'auto (a real board if one is attached, else the emulator), emulator, a serial port path, or serial:SERIALNO').default('auto'))
    .addOption(new Option('--jig <name>', 'wiring of the emulated board (hw/jigs)').default('loopback'))
    .addOption(new Option('-p, --profile <name|file>', 'board profile (hw/boards); default from the board: pico or rp2040'))
    .addOption(new Option('--socket-mode <octal>', 'permissions of the socket').default(0o600, '600').argParser(parseMode))
    .addOption(new Option('--socket-group <group>', 'group owning the socket (use with --socket-mode 660)'))
    .addOption(new Option('--failsafe-ms <ms>', 'host silence after which the board puts the lines in their profile\'s safe states (10 to 600000; 0: off)').default(DEFAULT_FAILSAFE_TIMEOUT_MS).argParser(parseFailsafe))
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}
