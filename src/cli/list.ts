/**
 * `vgpio list`: the boards attached to this machine. Running vgpio boards (their serial ports, each opened
 * briefly to read firmware and protocol version from HELLO; a port another program holds is reported as
 * busy) and RP2040s sitting in BOOTSEL mode (the bootrom's USB device, with their bus/port location).
 */
import { Command, Option } from 'commander';
import { isPortBusyMessage, openBoard, PortOpenError } from '../board/open.js';
import { listSerialBoards, type AttachedBoard } from '../board/discovery.js';
import { listBootselDevices, type BootselLister } from '../board/usb-boot.js';
import type { BoardInfo } from '../board/types.js';

export interface ListedBoard {
  /** running: answered HELLO. busy: another program has the port open. error: could not be read. bootsel: in the bootrom. */
  state: 'running' | 'busy' | 'error' | 'bootsel';
  serial: string | null;
  /** Serial port of a running board. */
  path: string | null;
  /** USB bus-port location of a board in BOOTSEL mode (use with `vgpio flash --board bootsel:LOCATION`). */
  location: string | null;
  firmwareVersion: string | null;
  protocolVersion: number | null;
  boardName: string | null;
  error?: string;
}

export interface ListResult {
  boards: ListedBoard[];
  /** Things the user should know, e.g. that BOOTSEL boards could not be looked for. */
  notes: string[];
}

export interface ListDeps {
  listSerialBoards(): Promise<AttachedBoard[]>;
  /** Opens the port, says HELLO, closes it. */
  probe(path: string): Promise<BoardInfo>;
  listBootsel: BootselLister;
}

export const realListDeps: ListDeps = {
  listSerialBoards: () => listSerialBoards(),
  async probe(path) {
    const board = await openBoard({ path });
    const info = board.info;
    await board.close();
    return info;
  },
  listBootsel: listBootselDevices,
};

/** A port held by another process: PortOpenError says so itself; other errors by their message. */
export function isBusyError(error: unknown): boolean {
  if (error instanceof PortOpenError) return error.busy;
  return isPortBusyMessage(error instanceof Error ? error.message : String(error));
}

/** serialport lists ports on Linux by running udevadm; say so when it is missing (minimal containers). */
export function describeListError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /udevadm ENOENT/.test(message) ? `${message} (serialport runs udevadm to list ports: install the udev package)` : message;
}

export async function collectBoards(deps: ListDeps): Promise<ListResult> {
  const notes: string[] = [];
  const boards: ListedBoard[] = [];
  let serialBoards: AttachedBoard[] = [];
  try {
    serialBoards = await deps.listSerialBoards();
  } catch (error) {
    notes.push(`serial ports could not be listed: ${describeListError(error)}`);
  }
  for (const attached of serialBoards) {
    const base = { serial: attached.serial ?? null, path: attached.path, location: null, firmwareVersion: null, protocolVersion: null, boardName: null };
    try {
      const info = await deps.probe(attached.path);
      boards.push({ ...base, state: 'running', serial: info.serial.toLowerCase(), firmwareVersion: info.firmwareVersion, protocolVersion: info.protocolVersion, boardName: info.boardName });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (isBusyError(error)) boards.push({ ...base, state: 'busy', error: 'in use by another program (vgpio serve or the vgpio@ service?)' });
      // A PortOpenError already carries the udev hint.
      else if (!(error instanceof PortOpenError) && /permission denied|EACCES/i.test(message)) boards.push({ ...base, state: 'error', error: `${message}; install hw/udev/99-vgpio.rules and join group plugdev` });
      else boards.push({ ...base, state: 'error', error: message });
    }
  }
  try {
    for (const device of await deps.listBootsel()) {
      boards.push({ state: 'bootsel', serial: device.serial ?? null, path: null, location: device.location, firmwareVersion: null, protocolVersion: null, boardName: null });
    }
  } catch (error) {
    notes.push(`boards in BOOTSEL mode could not be looked for: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { boards, notes };
}

export function formatBoards(result: ListResult): string {
  const lines: string[] = [];
  if (result.boards.length === 0) {
    lines.push('no boards attached (no vgpio board, USB 1209:0001; no RP2040 in BOOTSEL mode, USB 2e8a:0003)');
  } else {
    const rows = [
      ['STATE', 'SERIAL', 'WHERE', 'FIRMWARE', 'PROTOCOL', 'BOARD'],
      ...result.boards.map((b) => [
        b.state,
        b.serial ?? '-',
        b.path ?? (b.location ? `usb ${b.location}` : '-'),
        b.firmwareVersion ?? '-',
        b.protocolVersion === null ? '-' : String(b.protocolVersion),
        b.boardName ?? (b.error ? `- (${b.error})` : '-'),
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) lines.push(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

export function listCommand(deps: ListDeps = realListDeps): Command {
  return new Command('list')
    .description('list attached boards: running vgpio boards (serial port, firmware, protocol) and RP2040s in BOOTSEL mode')
    .addOption(new Option('--json', 'print the list as JSON'))
    .action(async (options: { json?: boolean }) => {
      const result = await collectBoards(deps);
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatBoards(result));
    });
}
