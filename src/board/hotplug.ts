/**
 * Opening a board for a long-running command (`vgpio serve`, `vgpio monitor`) so that it survives being
 * unplugged and plugged in again: a ReconnectingBoard over the `--board` choice, watching USB hotplug
 * for a real board. The emulated board cannot be unplugged; if its worker dies it is started afresh.
 */
import { openBoard } from './open.js';
import { findBoardPath } from './discovery.js';
import { ReconnectingBoard, type BoardOpener, type HotplugWatcher } from './reconnecting-board.js';
import { usbHotplugWatcher } from './usb-hotplug.js';

export interface OpenReconnectingOptions {
  /** `auto`, `emulator`, a serial port path, or `serial:SERIALNO` (as `--board` takes it). */
  choice: string;
  /** Jig of the emulated board. Default 'loopback'. */
  jig?: string;
  log?: (message: string) => void;
  /** Default: USB hotplug from the `usb` package for a real board, none for the emulator. */
  watcher?: HotplugWatcher | null;
  retryMs?: number;
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
  const path = choice === 'emulator' ? undefined : await findBoardPath(choice);
  if (path === undefined) {
    const open: BoardOpener = () => openBoard({ emulator: true, jig });
    const what = `the emulated board (firmware/dist in rp2040js, jig "${jig}")${choice === 'auto' ? '; no vgpio board is attached' : ''}`;
    const board = await ReconnectingBoard.open({ open, name: 'the emulated board', log, ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}), ...(options.watcher ? { watcher: options.watcher } : {}) });
    return { board, what, emulated: true };
  }
  const first = await openBoard({ path });
  const serial = first.info.serial;
  // After a replug the kernel may give the board another ttyACM number: find it by serial again, unless
  // the user named a port (a /dev/vgpio/<serial> link follows the board by itself).
  const reopen: BoardOpener = choice === 'auto' || choice.startsWith('serial:')
    ? async () => openBoard({ path: (await findBoardPath(`serial:${serial}`))! })
    : () => openBoard({ path });
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
