/**
 * Opening a board for a long-running command (`vgpio serve`, `vgpio monitor`) so that it survives being
 * unplugged and plugged in again: a ReconnectingBoard over the `--board` choice, watching USB hotplug
 * for a real board. The emulated board cannot be unplugged; if its worker dies it is started afresh.
 */
import { openBoard } from './open.js';
import { findBoardPath, NoBoardError } from './discovery.js';
import { ReconnectingBoard, type BoardOpener, type HotplugWatcher } from './reconnecting-board.js';
import { usbHotplugWatcher } from './usb-hotplug.js';
import type { Board } from './types.js';

export interface OpenReconnectingOptions {
  /** `auto`, `emulator`, a serial port path, or `serial:SERIALNO` (as `--board` takes it). */
  choice: string;
  /** Jig of the emulated board. Default 'loopback'. */
  jig?: string;
  log?: (message: string) => void;
  /** Default: USB hotplug from the `usb` package for a real board, none for the emulator. */
  watcher?: HotplugWatcher | null;
  retryMs?: number;
  /**
   * With `auto` and no vgpio board attached: run the emulated board (true, the default: `vgpio serve`
   * works without hardware) or throw NoBoardError (false: `vgpio monitor` watches real pins only).
   */
  emulatorWhenNone?: boolean;
  /** Finds the port of an `auto` or `serial:SERIALNO` choice. Default: findBoardPath (the OS's serial ports). */
  findPath?: (choice: string) => Promise<string | undefined>;
  /** Opens the board on a port path and says HELLO. Default: openBoard({ path }). */
  openPath?: (path: string) => Promise<Board>;
}

export interface OpenedReconnectingBoard {
  board: ReconnectingBoard;
  /** In words: "the board on /dev/ttyACM0", "the emulated board (...)". */
  what: string;
  emulated: boolean;
}

export async function openReconnectingBoard(options: OpenReconnectingOptions): Promise<OpenedReconnectingBoard> {
  const { choice, log = () => {} } = options;
  const jig = options.jig ?? 'loopback';
  const findPath = options.findPath ?? ((c: string) => findBoardPath(c));
  const openPath = options.openPath ?? ((p: string) => openBoard({ path: p }));
  const path = choice === 'emulator' ? undefined : await findPath(choice);
  if (path === undefined && choice !== 'emulator' && options.emulatorWhenNone === false) {
    throw new NoBoardError('no vgpio board attached; use --board PATH|serial:SERIALNO, or --board emulator');
  }
  if (path === undefined) {
    const open: BoardOpener = () => openBoard({ emulator: true, jig });
    const what = `the emulated board (firmware/dist in rp2040js, jig "${jig}")${choice === 'auto' ? '; no vgpio board is attached' : ''}`;
    const board = await ReconnectingBoard.open({ open, name: 'the emulated board', log, ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}), ...(options.watcher ? { watcher: options.watcher } : {}) });
    return { board, what, emulated: true };
  }
  const first = await openPath(path);
  const serial = first.info.serial;
  // After a replug the kernel may give the board another ttyACM number: find it by serial again, unless
  // the user named a port (a /dev/vgpio/<serial> link follows the board by itself).
  const reopen: BoardOpener = choice === 'auto' || choice.startsWith('serial:')
    ? async () => {
      // findBoardPath throws NoBoardError while the board is away: that attempt fails and the next one follows.
      const now = await findPath(`serial:${serial}`);
      if (now === undefined) throw new NoBoardError(`no vgpio board with serial number ${serial} is attached`);
      return openPath(now);
    }
    : () => openPath(path);
  let firstUsed = false;
  const open: BoardOpener = () => {
    if (firstUsed) return reopen();
    firstUsed = true;
    return Promise.resolve(first);
  };
  const watcher = options.watcher === undefined ? await usbHotplugWatcher(log) : options.watcher ?? undefined;
  const board = await ReconnectingBoard.open({
    open,
    name: `the board with serial ${serial}`,
    log,
    ...(watcher ? { watcher } : {}),
    ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
  });
  return { board, what: `the board on ${path}`, emulated: false };
}
