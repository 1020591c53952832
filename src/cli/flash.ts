/**
 * `vgpio flash [FILE]`: writes firmware to a board through the RP2040 bootrom's PICOBOOT interface.
 * A running vgpio board is asked to reboot into BOOTSEL (protocol REBOOT_TO_BOOTLOADER); a board already
 * in BOOTSEL is used as it is. Then: erase, write, read back and compare, reboot into the new image.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { openBoard } from '../board/open.js';
import { listSerialBoards, type AttachedBoard } from '../board/discovery.js';
import { DEFAULT_FIRMWARE_IMAGE, ImageError, readImage, type FlashImage } from '../board/flash-image.js';
import { flashImage, PicobootError, TransportError, VerifyError, type FlashProgress, type FlashResult } from '../board/picoboot.js';
import { listBootselDevices, type BootselDevice, type BootselLister, type PicobootSession } from '../board/usb-boot.js';
import { HW_DIR } from '../board/hw-files.js';
import type { BoardInfo } from '../board/types.js';
import { describeListError } from './list.js';
import { BenchError } from './common.js';

/** Exit codes of `vgpio flash` (also in `vgpio flash --help` and README.md). */
export const FlashExit = {
  OK: 0,
  /** Anything not listed below (a bug, an unexpected system error). */
  UNEXPECTED: 1,
  /** The image cannot be used: missing, not UF2/BIN, another chip's family, outside flash. */
  BAD_IMAGE: 2,
  /** No board attached, or several and none chosen, or the chosen one is not there. */
  NO_BOARD: 3,
  /** The running board could not be put into BOOTSEL: it did not answer, or no boot device appeared. */
  NO_BOOTSEL: 4,
  /** The boot device cannot be opened: permissions (udev rules). */
  ACCESS: 5,
  /** Written, but the flash does not read back as the image. */
  VERIFY: 6,
  /** PICOBOOT failed: a refused command, a stall, a timeout, the device disappeared. */
  USB: 7,
} as const;

export const EXIT_CODE_HELP = `
Exit codes:
  0  flashed, verified and rebooted
  1  unexpected error
  2  unusable image (missing, not UF2/BIN, another chip's UF2 family, outside flash)
  3  no board (none attached, several and none chosen, or the chosen one is absent)
  4  the running board did not reach BOOTSEL mode (no reply to REBOOT_TO_BOOTLOADER, or no 2e8a:0003)
  5  permission denied on the USB boot device: install hw/udev/99-vgpio.rules
  6  verify failed: the flash does not read back as written (the board stays in BOOTSEL)
  7  PICOBOOT/USB failure (command refused, stall, timeout, device disappeared)
`;

/** A running board as `vgpio flash` needs it: its HELLO info and the reboot request. */
export interface RunningBoard {
  info: BoardInfo;
  rebootToBootloader(): Promise<void>;
  close(): Promise<void>;
}

export interface FlashDeps {
  listSerialBoards(): Promise<AttachedBoard[]>;
  openRunningBoard(path: string): Promise<RunningBoard>;
  listBootsel: BootselLister;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export const realFlashDeps: FlashDeps = {
  listSerialBoards: () => listSerialBoards(),
  openRunningBoard: (path) => openBoard({ path }),
  listBootsel: listBootselDevices,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => Date.now(),
};

export interface FlashCommandOptions {
  board: string;
  json?: boolean;
  verify: boolean;
  /** Seconds to wait for the boot device after the reboot request, and for the board after flashing. */
  timeout: number;
}

export interface FlashReport {
  ok: boolean;
  exitCode: number;
  error?: string;
  image?: { path: string; format: FlashImage['format']; bytes: number; start: string; end: string };
  board?: { serial?: string; firmwareBefore?: string; path?: string; bootsel?: string; enteredBootsel: 'rebooted' | 'already' };
  result?: FlashResult & { verified: boolean };
  /** The vgpio serial port the board came back on after the reboot, if it did within the timeout. */
  runningAfter?: string | null;
  durationMs?: number;
}

export interface FlashOutput {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** A progress bar on a terminal, one line per phase otherwise. */
export class ProgressReporter {
  private phase: string | undefined;
  private lastWidth = 0;
  constructor(private readonly stream: FlashOutput['stderr']) {}

  update(p: FlashProgress): void {
    const tty = this.stream.isTTY === true;
    if (p.phase !== this.phase) {
      this.end();
      this.phase = p.phase;
      if (!tty) this.stream.write(`${p.phase}: ${kib(p.total)}...\n`);
    }
    if (tty) {
      const width = 30;
      const filled = p.total ? Math.round((p.done / p.total) * width) : width;
      const line = `${p.phase.padEnd(11)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round((p.done / (p.total || 1)) * 100)).padStart(3)}%  ${kib(p.done)} / ${kib(p.total)}`;
      this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastWidth - line.length))}`);
      this.lastWidth = line.length;
    } else if (p.done === p.total && p.total > 0) {
      this.stream.write(`${p.phase}: done\n`);
      this.phase = undefined;
    }
  }

  end(): void {
    if (this.stream.isTTY && this.lastWidth) this.stream.write('\n');
    this.lastWidth = 0;
  }
}

const UDEV_HINT = `install the udev rules (sudo cp ${HW_DIR}udev/99-vgpio.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger), make sure you are in group plugdev (\`id\`; log in again after adding), then unplug and replug the board`;

interface Target {
  device: BootselDevice;
  report: NonNullable<FlashReport['board']>;
}

async function waitForBootsel(deps: FlashDeps, timeoutS: number, before: Set<string>, serial: string | undefined): Promise<BootselDevice | undefined> {
  const deadline = deps.now() + timeoutS * 1000;
  for (;;) {
    let devices: BootselDevice[] = [];
    try {
      devices = await deps.listBootsel();
    } catch {
      // enumeration can fail while devices come and go; try again
    }
    const bySerial = serial ? devices.find((d) => d.serial === serial.toLowerCase()) : undefined;
    const fresh = devices.filter((d) => !before.has(d.location));
    const found = bySerial ?? (fresh.length === 1 ? fresh[0] : undefined);
    if (found) return found;
    if (deps.now() >= deadline) return undefined;
    await deps.sleep(250);
  }
}

async function rebootIntoBootsel(deps: FlashDeps, path: string, timeoutS: number, log: (s: string) => void): Promise<Target> {
  const before = new Set((await listBootselOrExplain(deps)).map((d) => d.location));
  let board: RunningBoard;
  try {
    board = await deps.openRunningBoard(path);
  } catch (error) {
    throw new BenchError(
      FlashExit.NO_BOOTSEL,
      `${(error as Error).message}; if \`vgpio serve\` or the vgpio@ service holds the port, stop it first; or hold BOOTSEL while plugging the board in and run \`vgpio flash --board bootsel\``,
    );
  }
  const { serial, firmwareVersion } = board.info;
  const name = `board ${serial} on ${path}`;
  log(`${name}: firmware ${firmwareVersion}; asking it to reboot into BOOTSEL`);
  try {
    await board.rebootToBootloader();
  } catch (error) {
    await board.close().catch(() => undefined);
    throw new BenchError(FlashExit.NO_BOOTSEL, `${name}: REBOOT_TO_BOOTLOADER failed: ${(error as Error).message}; hold BOOTSEL while plugging the board in and run \`vgpio flash --board bootsel\``);
  }
  await board.close().catch(() => undefined);
  const device = await waitForBootsel(deps, timeoutS, before, serial);
  if (!device) {
    throw new BenchError(
      FlashExit.NO_BOOTSEL,
      `${name} accepted the reboot request but no RP2040 boot device (2e8a:0003) appeared within ${timeoutS} s; check \`lsusb\` and the cable, or hold BOOTSEL while plugging it in and run \`vgpio flash --board bootsel\``,
    );
  }
  log(`${name}: in BOOTSEL at USB ${device.location}`);
  return { device, report: { serial: serial.toLowerCase(), firmwareBefore: firmwareVersion, path, bootsel: device.location, enteredBootsel: 'rebooted' } };
}

async function listBootselOrExplain(deps: FlashDeps): Promise<BootselDevice[]> {
  try {
    return await deps.listBootsel();
  } catch (error) {
    throw new BenchError(FlashExit.UNEXPECTED, `${(error as Error).message}; BOOTSEL devices cannot be found on this machine`);
  }
}

const alreadyInBootsel = (device: BootselDevice): Target => ({
  device,
  report: { bootsel: device.location, enteredBootsel: 'already', ...(device.serial ? { serial: device.serial } : {}) },
});

async function chooseTarget(deps: FlashDeps, choice: string, timeoutS: number, log: (s: string) => void): Promise<Target> {
  if (choice === 'bootsel' || choice.startsWith('bootsel:')) {
    const devices = await listBootselOrExplain(deps);
    const wanted = choice.slice('bootsel:'.length);
    const matching = wanted ? devices.filter((d) => d.location === wanted) : devices;
    const seen = devices.map((d) => d.location).join(', ') || 'none';
    if (matching.length === 0) throw new BenchError(FlashExit.NO_BOARD, `no RP2040 in BOOTSEL mode${wanted ? ` at USB ${wanted}` : ''} (attached: ${seen}); hold BOOTSEL while plugging the board in`);
    if (matching.length > 1) throw new BenchError(FlashExit.NO_BOARD, `${matching.length} RP2040s are in BOOTSEL mode (USB ${seen}); choose one with --board bootsel:LOCATION`);
    return alreadyInBootsel(matching[0]!);
  }
  if (choice !== 'auto') {
    let path = choice;
    if (choice.startsWith('serial:')) {
      const wanted = choice.slice('serial:'.length).toLowerCase();
      const boards = await deps.listSerialBoards();
      const match = boards.find((b) => b.serial === wanted);
      if (!match) {
        const seen = boards.map((b) => `${b.serial ?? '?'} on ${b.path}`).join(', ') || 'none';
        throw new BenchError(FlashExit.NO_BOARD, `no running vgpio board with serial number ${wanted} (attached: ${seen}); a board in BOOTSEL mode is chosen with --board bootsel[:LOCATION]`);
      }
      path = match.path;
    }
    return rebootIntoBootsel(deps, path, timeoutS, log);
  }
  let running: AttachedBoard[];
  try {
    running = await deps.listSerialBoards();
  } catch (error) {
    throw new BenchError(FlashExit.UNEXPECTED, `cannot list serial ports: ${describeListError(error)}; name the board with --board PATH or --board bootsel`);
  }
  const bootsel = await listBootselOrExplain(deps);
  const all = [...running.map((b) => `${b.serial ?? '?'} on ${b.path}`), ...bootsel.map((d) => `BOOTSEL at USB ${d.location}`)];
  if (all.length === 0) {
    throw new BenchError(FlashExit.NO_BOARD, 'no board found: no vgpio board (1209:0001) and no RP2040 in BOOTSEL mode (2e8a:0003) is attached; plug one in, or hold BOOTSEL while plugging in a board without vgpio firmware');
  }
  if (all.length > 1) {
    throw new BenchError(FlashExit.NO_BOARD, `${all.length} boards are attached (${all.join(', ')}); choose one with --board serial:SERIALNO, --board PATH or --board bootsel:LOCATION`);
  }
  if (running[0]) return rebootIntoBootsel(deps, running[0].path, timeoutS, log);
  return alreadyInBootsel(bootsel[0]!);
}

async function waitForRunningBoard(deps: FlashDeps, serial: string | undefined, timeoutS: number): Promise<string | null> {
  if (!serial) return null;
  const deadline = deps.now() + timeoutS * 1000;
  for (;;) {
    const boards = await deps.listSerialBoards().catch(() => []);
    const match = boards.find((b) => b.serial === serial.toLowerCase());
    if (match) return match.path;
    if (deps.now() >= deadline) return null;
    await deps.sleep(250);
  }
}

/** Runs the whole flash; never throws: the report carries the exit code and the message. */
export async function runFlash(file: string | undefined, options: FlashCommandOptions, deps: FlashDeps, out: FlashOutput): Promise<FlashReport> {
  const started = deps.now();
  const report: FlashReport = { ok: false, exitCode: FlashExit.UNEXPECTED };
  const log = (s: string) => out.stderr.write(`${s}\n`);
  let session: PicobootSession | undefined;
  const progress = new ProgressReporter(out.stderr);
  try {
    let image: FlashImage;
    try {
      image = readImage(file ?? DEFAULT_FIRMWARE_IMAGE);
    } catch (error) {
      if (error instanceof ImageError) throw new BenchError(FlashExit.BAD_IMAGE, error.message);
      throw error;
    }
    report.image = { path: image.source, format: image.format, bytes: image.size, start: hex(image.start), end: hex(image.end) };
    log(`image: ${image.source} (${image.format.toUpperCase()}, ${kib(image.size)} at ${hex(image.start)}..${hex(image.end - 1)})`);

    const target = await chooseTarget(deps, options.board, options.timeout, log);
    report.board = target.report;
    const where = `the board in BOOTSEL at USB ${target.device.location}${target.report.serial ? ` (serial ${target.report.serial})` : ''}`;
    try {
      session = await target.device.open();
    } catch (error) {
      if (error instanceof TransportError && error.kind === 'access') {
        throw new BenchError(FlashExit.ACCESS, `permission denied opening ${where}: ${error.message}; ${UDEV_HINT}`);
      }
      throw new BenchError(FlashExit.USB, `cannot open ${where}: ${(error as Error).message}`);
    }
    let result: FlashResult;
    try {
      result = await flashImage(session.client, image, { verify: options.verify, onProgress: (p) => progress.update(p) });
    } catch (error) {
      progress.end();
      if (error instanceof VerifyError) {
        throw new BenchError(FlashExit.VERIFY, `${where}: ${error.message}; the board stays in BOOTSEL: run \`vgpio flash\` again, and if it fails the same way the flash chip may be worn or the wrong size`);
      }
      if (error instanceof PicobootError || error instanceof TransportError) {
        throw new BenchError(FlashExit.USB, `${where}: ${error.message}; the board is still in BOOTSEL (or unplugged): check the cable and run \`vgpio flash --board bootsel\` again`);
      }
      throw error;
    }
    progress.end();
    report.result = { ...result, verified: options.verify };
    await session.close().catch(() => undefined);
    session = undefined;
    log(`flashed ${kib(image.size)} in ${result.sectors} sectors${options.verify ? ', verified' : ' (not verified)'}; rebooting into the new firmware`);

    report.runningAfter = await waitForRunningBoard(deps, report.board.serial, options.timeout);
    if (report.runningAfter) log(`board ${report.board.serial} is back on ${report.runningAfter}`);
    else if (report.board.serial) log(`note: the board did not reappear as a vgpio serial port within ${options.timeout} s; if the image is not vgpio firmware that is expected`);
    report.ok = true;
    report.exitCode = FlashExit.OK;
  } catch (error) {
    progress.end();
    report.exitCode = error instanceof BenchError ? error.exitCode : FlashExit.UNEXPECTED;
    report.error = error instanceof Error ? error.message : String(error);
  } finally {
    await session?.close().catch(() => undefined);
  }
  report.durationMs = deps.now() - started;
  if (options.json) out.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (!report.ok) out.stderr.write(`vgpio flash: ${report.error}\n`);
  return report;
}

function parseTimeout(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new InvalidArgumentError('give seconds, 1 to 600');
  return n;
}

export function flashCommand(deps: FlashDeps = realFlashDeps): Command {
  return new Command('flash')
    .description('write firmware to a board over USB (PICOBOOT): a running vgpio board is rebooted into BOOTSEL first')
    .argument('[file]', `UF2 or BIN image (default: the bundled firmware, ${DEFAULT_FIRMWARE_IMAGE})`)
    .addOption(new Option('-b, --board <board>', 'auto, a serial port path, serial:SERIALNO, bootsel (the one board in BOOTSEL) or bootsel:LOCATION (as `vgpio list` shows)').default('auto'))
    .addOption(new Option('--json', 'print a machine-readable result on stdout'))
    .addOption(new Option('--no-verify', 'skip reading the flash back'))
    .addOption(new Option('--timeout <seconds>', 'wait this long for the board to enter BOOTSEL and to come back').default(10).argParser(parseTimeout))
    .addHelpText('after', EXIT_CODE_HELP)
    .action(async (file: string | undefined, options: FlashCommandOptions) => {
      const report = await runFlash(file, options, deps, { stdout: process.stdout, stderr: process.stderr });
      process.exitCode = report.exitCode;
    });
}
