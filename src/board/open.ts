/**
 * Opening a board: over a serial port (a real RP2040 on USB, or a pty), over any Duplex stream, or the
 * emulated board (firmware/dist running in rp2040js in a worker thread, src/emulator).
 */
import type { Duplex } from 'node:stream';
import type { SerialPort } from 'serialport';
import { Link, type LinkOptions } from '../link/link.js';
import { LinkBoard } from './link-board.js';
import type { Jig } from './jig.js';
import { Emulator, type EmulatedPins, type EmulatorOptions } from '../emulator/board.js';

export type OpenBoardOptions =
  | { path: string; baudRate?: number; link?: LinkOptions }
  | { stream: Duplex; link?: LinkOptions }
  | {
      emulator: true;
      /** Jig applied to the emulated pins: a name from hw/jigs ('loopback'), a file path, or a parsed Jig. */
      jig?: string | Jig;
      /** Firmware image (BIN or UF2); default firmware/dist/vgpio.bin, the bytes a real board gets. */
      image?: string;
      link?: LinkOptions;
    };

/** The emulated board: the Board itself plus what only an emulator has (pins seen from outside, time). */
export interface EmulatedBoard {
  board: LinkBoard;
  pins: EmulatedPins;
  emulator: Emulator;
  /** Closes the board and waits for the emulator worker to exit. */
  close(): Promise<void>;
}

const emulators = new WeakMap<LinkBoard, Emulator>();

/** The emulator behind a board opened with `{ emulator: true }`, if it is one. */
export function emulatorOf(board: LinkBoard): Emulator | undefined {
  return emulators.get(board);
}

/**
 * serialport 13's stream does not close the port when it is destroyed, which is how a Link lets go of its
 * stream: without this the port and its lock stay held until the process exits, and opening the same
 * board again fails with "Cannot lock port". Made on first use: serialport is loaded only when a serial
 * port is opened (about 30 ms of start-up an emulated board does not need).
 */
type SerialPortClass = new (options: ConstructorParameters<typeof SerialPort>[0]) => SerialPort;
let closingSerialPort: Promise<SerialPortClass> | undefined;
const loadClosingSerialPort = (): Promise<SerialPortClass> =>
  (closingSerialPort ??= import('serialport').then(
    ({ SerialPort: Base }) =>
      class ClosingSerialPort extends Base {
        override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
          if (!this.isOpen) return callback(error);
          this.close(() => callback(error));
        }
      },
  ));

/** serialport's messages for a port held by another process (it locks ports with flock/TIOCEXCL). */
export const isPortBusyMessage = (message: string): boolean =>
  /cannot lock port|resource temporarily unavailable|EBUSY|EAGAIN|device or resource busy/i.test(message);

/** A serial port that could not be opened: absent, not a tty, no permission, or held by another program. */
export class PortOpenError extends Error {
  override name = 'PortOpenError';
  /** Another program holds the port: pointing at another board would not help. */
  readonly busy: boolean;
  constructor(readonly path: string, cause: Error) {
    const why = cause.message.replace(/^Error: /, '');
    const busy = isPortBusyMessage(why);
    const hint = busy
      ? 'another program holds the port (vgpio serve, the vgpio@ service, or a `vgpio set --hold`): stop it first'
      : /permission denied|EACCES/i.test(why)
        ? 'install hw/udev/99-vgpio.rules and be in group plugdev (README "udev rules")'
        : /inappropriate ioctl|ENOTTY/i.test(why)
          ? `${path} is not a serial port`
          : 'check the path (`vgpio list` shows the attached boards)';
    super(`cannot open serial port ${path}: ${why}; ${hint}`, { cause });
    this.busy = busy;
  }
}

/** Opens the serial port at `path`. The baud rate is ignored by USB CDC devices. */
async function openSerial(path: string, baudRate: number): Promise<SerialPort> {
  const ClosingSerialPort = await loadClosingSerialPort();
  const port = new ClosingSerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) => (error ? reject(new PortOpenError(path, error)) : resolve())),
  );
  return port;
}

export async function openBoard(options: OpenBoardOptions): Promise<LinkBoard> {
  if ('emulator' in options) return (await openEmulatedBoard(options)).board;
  if ('stream' in options) return connect(options.stream, options.link, '');
  const port = await openSerial(options.path, options.baudRate ?? 115200);
  // 'close' comes once the port is closed and its lock released (the first of two: close(), then destroy)
  const released = new Promise<void>((resolve) => port.once('close', () => resolve()));
  const board = await connect(port, options.link, ` on ${options.path}`);
  // close() resolves when the port is free again, so the board can be opened again at once
  const closeLink = board.close.bind(board);
  board.close = async () => {
    await closeLink();
    await released;
  };
  return board;
}

async function connect(stream: Duplex, linkOptions: LinkOptions | undefined, where: string): Promise<LinkBoard> {
  const link = new Link(stream, linkOptions);
  try {
    return await LinkBoard.connect(link);
  } catch (error) {
    link.close('open failed');
    if (error instanceof Error) error.message = `opening the board${where} failed: ${error.message}`;
    throw error;
  }
}

/** Starts the emulated board and says HELLO; closing the board terminates the emulator. */
export async function openEmulatedBoard(options: { jig?: string | Jig; image?: string; link?: LinkOptions } & EmulatorOptions = {}): Promise<EmulatedBoard> {
  const { link, ...emulatorOptions } = options;
  const emulator = await Emulator.start(emulatorOptions);
  let board: LinkBoard;
  try {
    board = await connect(emulator.stream, link, ' (emulated)');
  } catch (error) {
    await emulator.close();
    throw error;
  }
  emulators.set(board, emulator);
  return {
    board,
    pins: emulator.pins,
    emulator,
    async close() {
      await board.close();
      await emulator.close();
    },
  };
}
