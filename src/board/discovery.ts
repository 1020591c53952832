/**
 * Finding vgpio boards attached over USB: their CDC-ACM serial ports, by VID:PID and product string, and
 * choosing one from a `--board` argument (`auto`, a path, or `serial:SERIALNO`).
 */
import { SerialPort } from 'serialport';

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

export async function listSerialBoards(list: PortLister = () => SerialPort.list()): Promise<AttachedBoard[]> {
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
