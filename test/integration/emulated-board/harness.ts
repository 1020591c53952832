/**
 * Opens the board the self-test runs against: the emulated board with the loopback jig (default), or a
 * real board with the loopback jig wired when VGPIO_HIL_PORT names its serial port (hardware in the loop).
 */
import { it } from 'vitest';
import { openBoard, openEmulatedBoard, type Board, type BoardEvent, type LinkBoard } from '../../../src/index.js';
import type { EmulatedPins, Emulator } from '../../../src/emulator/board.js';

export const HIL_PORT = process.env['VGPIO_HIL_PORT'] || undefined;
export const HIL = HIL_PORT !== undefined;

/** Tests that drive pins from outside the chip or look inside the emulator: skipped on real hardware. */
export const itEmulatorOnly = HIL ? it.skip : it;

export interface TestBoard {
  board: LinkBoard;
  /** Null on real hardware. */
  pins: EmulatedPins | null;
  emulator: Emulator | null;
  close(): Promise<void>;
}

export async function openTestBoard(): Promise<TestBoard> {
  if (HIL_PORT) {
    const board = await openBoard({ path: HIL_PORT });
    return { board, pins: null, emulator: null, close: () => board.close() };
  }
  const eb = await openEmulatedBoard({ jig: 'loopback' });
  return { board: eb.board, pins: eb.pins, emulator: eb.emulator, close: () => eb.close() };
}

/** Collects board events from now on. */
export class EventLog {
  readonly events: BoardEvent[] = [];
  private waiters: Array<() => void> = [];
  private readonly listener = (e: BoardEvent) => {
    this.events.push(e);
    for (const w of this.waiters.splice(0)) w();
  };

  constructor(private readonly board: Board) {
    board.on('event', this.listener);
  }

  of<T extends BoardEvent['type']>(type: T): Array<Extract<BoardEvent, { type: T }>> {
    return this.events.filter((e): e is Extract<BoardEvent, { type: T }> => e.type === type);
  }

  /** Waits until `predicate(events)` holds (wall-clock timeout). */
  async until(predicate: (events: BoardEvent[]) => boolean, timeoutMs = 3000, what = 'events'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.board.off('event', this.listener);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
