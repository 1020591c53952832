/**
 * Finding vgpio boards attached over USB: their CDC-ACM serial ports, by VID:PID and product string, and
 * choosing one from a `--board` argument (`auto`, a path, or `serial:SERIALNO`).
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SerialPort } from 'serialport';

/** pid.codes test VID:PID used by the firmware during development (firmware/README.md). */
export const VGPIO_USB_VID = '1209';
export const VGPIO_USB_PID = '0001';

export interface AttachedBoard {
  path: string;
  /** USB serial number: the board's unique id in hex. */
  serial: string | undefined;
  manufacturer: string | undefined;
}

type PortInfo = Awaited<ReturnType<typeof SerialPort.list>>[number];
export type PortLister = () => Promise<PortInfo[]>;

/**
 * The pid.codes test PID is shared by many hobby projects, so a port must also look like ours:
 * manufacturer "vgpio project", or the product name in its udev id.
 */
export function isVgpioPort(port: PortInfo): boolean {
  const idMatches = port.vendorId?.toLowerCase() === VGPIO_USB_VID && port.productId?.toLowerCase() === VGPIO_USB_PID;
  const named = port.manufacturer === 'vgpio project' || /vgpio/i.test(port.pnpId ?? '');
  return idMatches && named;
}

/**
 * USB serial ports read straight from sysfs: each /sys/class/tty/ttyACM* links to its USB interface,
 * whose parent device directory holds idVendor, idProduct, manufacturer, product and serial. Used when
 * serialport's lister fails, which it does on Linux without `udevadm` (containers, minimal systems).
 */
export async function sysfsPorts(root = '/sys/class/tty'): Promise<PortInfo[]> {
  if (!existsSync(root)) return [];
  const read = (dir: string, name: string): string | undefined => {
    try {
      return readFileSync(join(dir, name), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const ports: PortInfo[] = [];
  for (const tty of readdirSync(root).filter((n) => /^ttyACM[0-9]+$/.test(n))) {
    let usbDevice: string;
    try {
      usbDevice = dirname(realpathSync(join(root, tty, 'device'))); // interface -> its USB device
    } catch {
      continue;
    }
    const manufacturer = read(usbDevice, 'manufacturer');
    const product = read(usbDevice, 'product');
    const serialNumber = read(usbDevice, 'serial');
    ports.push({
      path: `/dev/${tty}`,
      manufacturer,
      serialNumber,
      vendorId: read(usbDevice, 'idVendor'),
      productId: read(usbDevice, 'idProduct'),
      pnpId: [manufacturer, product, serialNumber].filter(Boolean).join('_').replace(/\s+/g, '_'),
      locationId: undefined,
    });
  }
  return ports;
}

/** serialport's lister, or sysfs when it cannot run. serialport is loaded here, on first use, so that
 *  commands that never list ports (an emulated board) do not pay for loading it. */
export async function listPorts(): Promise<PortInfo[]> {
  try {
    const { SerialPort: Port } = await import('serialport');
    return await Port.list();
  } catch {
    return sysfsPorts();
  }
}

export async function listSerialBoards(list: PortLister = listPorts): Promise<AttachedBoard[]> {
  const ports = await list();
  return ports
    .filter(isVgpioPort)
    .map((p) => ({ path: p.path, serial: p.serialNumber?.toLowerCase(), manufacturer: p.manufacturer }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

export class NoBoardError extends Error {
  override name = 'NoBoardError';
}

/**
 * Resolves a serial board choice to a port path: `serial:SERIALNO` (case-insensitive), a path as given,
 * or `auto`: the one attached board (undefined when there is none; an error when there are several).
 */
export async function findBoardPath(choice: string, list?: PortLister): Promise<string | undefined> {
  if (choice !== 'auto' && !choice.startsWith('serial:')) return choice;
  const boards = await listSerialBoards(list);
  if (choice.startsWith('serial:')) {
    const wanted = choice.slice('serial:'.length).toLowerCase();
    const match = boards.find((b) => b.serial === wanted);
    if (!match) {
      const seen = boards.length ? boards.map((b) => `${b.serial ?? '?'} on ${b.path}`).join(', ') : 'none';
      throw new NoBoardError(`no vgpio board with serial number ${wanted} is attached (attached: ${seen}); check the cable or run \`vgpio list\``);
    }
    return match.path;
  }
  if (boards.length > 1) {
    throw new NoBoardError(`${boards.length} vgpio boards are attached (${boards.map((b) => `${b.serial ?? '?'} on ${b.path}`).join(', ')}); choose one with --board serial:SERIALNO`);
  }
  return boards[0]?.path;
}
