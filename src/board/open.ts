/**
 * Opening a board: over a serial port (a real RP2040 on USB, or a pty) or over any Duplex stream.
 * The emulated board (src/emulator) plugs in here too once it exists.
 */
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { Link, type LinkOptions } from '../link/link.js';
import { LinkBoard } from './link-board.js';

export type OpenBoardOptions =
  | { path: string; baudRate?: number; link?: LinkOptions }
  | { stream: Duplex; link?: LinkOptions };

/** Opens the serial port at `path` and says HELLO. The baud rate is ignored by USB CDC devices. */
async function openSerial(path: string, baudRate: number): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) => (error ? reject(new Error(`cannot open serial port ${path}: ${error.message}`)) : resolve())),
  );
  return port;
}

export async function openBoard(options: OpenBoardOptions): Promise<LinkBoard> {
  const stream = 'stream' in options ? options.stream : await openSerial(options.path, options.baudRate ?? 115200);
  const link = new Link(stream, options.link);
  try {
    return await LinkBoard.connect(link);
  } catch (error) {
    link.close('open failed');
    const where = 'path' in options ? ` on ${options.path}` : '';
    if (error instanceof Error) error.message = `opening the board${where} failed: ${error.message}`;
    throw error;
  }
}
