/**
 * openReconnectingBoard (src/board/hotplug.ts) with in-memory boards: which port a replugged board is
 * opened on again (found by serial number for `auto` and `serial:`, the same path for a path given), and
 * `auto` with no board attached (the emulator for serve, an error when the emulator fallback is off).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openReconnectingBoard } from '../../../src/board/hotplug.js';
import { NoBoardError } from '../../../src/board/discovery.js';
import type { ReconnectingBoard } from '../../../src/board/reconnecting-board.js';
import { FakeBoard, FAKE_INFO } from '../../helpers/fake-board.js';

/** Serial ports as the OS lists them: path -> a board (a fresh FakeBoard per open), and the finder's calls. */
class Ports {
  readonly attached = new Map<string, string>(); // path -> serial
  readonly finds: string[] = [];
  readonly opens: string[] = [];
  readonly boards: FakeBoard[] = [];

  readonly findPath = async (choice: string): Promise<string | undefined> => {
    this.finds.push(choice);
    if (!choice.startsWith('serial:') && choice !== 'auto') return choice;
    const entries = [...this.attached.entries()];
    if (choice === 'auto') return entries[0]?.[0];
    const match = entries.find(([, serial]) => serial === choice.slice('serial:'.length).toLowerCase());
    if (!match) throw new NoBoardError(`no vgpio board with serial number ${choice.slice(7)} is attached`);
    return match[0];
  };

  readonly openPath = async (path: string) => {
    this.opens.push(path);
    const serial = this.attached.get(path);
    if (serial === undefined) throw new Error(`cannot open serial port ${path}: No such file or directory`);
    const board = Object.assign(new FakeBoard(), { info: { ...FAKE_INFO, serial } });
    this.boards.push(board);
    return board;
  };

  get latest(): FakeBoard {
    return this.boards[this.boards.length - 1]!;
  }
}

const SERIAL = FAKE_INFO.serial.toLowerCase();
const opened: ReconnectingBoard[] = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
});

async function open(choice: string, ports: Ports) {
  const result = await openReconnectingBoard({ choice, watcher: null, retryMs: 10, findPath: ports.findPath, openPath: ports.openPath, emulatorWhenNone: false });
  opened.push(result.board);
  return result;
}

const reconnected = (board: ReconnectingBoard) => new Promise<void>((resolve) => board.once('reconnected', () => resolve()));

describe('openReconnectingBoard', () => {
  it.each(['auto', `serial:${SERIAL}`])('with --board %s, a board that comes back on another port is found by its serial number and gets its lines back', async (choice) => {
    const ports = new Ports();
    ports.attached.set('/dev/ttyACM0', SERIAL);
    const { board, what, emulated } = await open(choice, ports);
    expect(what).toBe('the board on /dev/ttyACM0');
    expect(emulated).toBe(false);
    await board.configure([2], { direction: 'output', value: 1 });

    // Unplugged: the port goes away; then the board comes back as ttyACM1 (someone else's board is on ttyACM0).
    ports.attached.clear();
    const back = reconnected(board);
    await ports.latest.close();
    while (!ports.finds.slice(1).length) await new Promise((r) => setTimeout(r, 5)); // at least one attempt while away
    ports.attached.set('/dev/ttyACM0', '1111111111111111');
    ports.attached.set('/dev/ttyACM1', SERIAL);
    await back;

    // Every reopen looked the board up by its serial number, never by the first choice, and opened ttyACM1.
    expect(ports.finds[0]).toBe(choice);
    expect(ports.finds.slice(1).every((f) => f === `serial:${SERIAL}`)).toBe(true);
    expect(ports.opens[0]).toBe('/dev/ttyACM0');
    expect(ports.opens.at(-1)).toBe('/dev/ttyACM1');
    expect(ports.opens.slice(1).includes('/dev/ttyACM0')).toBe(false);
    expect(board.connected).toBe(true);
    expect(ports.latest.lines[2]!.settings).toMatchObject({ direction: 'output', value: 1 });
    expect((await board.getValues([3])).values.get(3)).toBe(1); // requests go to the board on ttyACM1
  });

  it('with --board PATH, the same path is opened again (a /dev/vgpio/<serial> link follows the board by itself)', async () => {
    const ports = new Ports();
    ports.attached.set('/dev/vgpio/abc', SERIAL);
    const { board, what } = await open('/dev/vgpio/abc', ports);
    expect(what).toBe('the board on /dev/vgpio/abc');
    ports.attached.clear();
    const back = reconnected(board);
    await ports.latest.close();
    while (ports.opens.length < 2) await new Promise((r) => setTimeout(r, 5));
    ports.attached.set('/dev/ttyACM1', SERIAL); // also elsewhere: not looked for
    ports.attached.set('/dev/vgpio/abc', SERIAL);
    await back;
    expect(ports.finds).toEqual(['/dev/vgpio/abc']);
    expect(new Set(ports.opens)).toEqual(new Set(['/dev/vgpio/abc']));
  });

  it('with --board auto and no board attached: NoBoardError when the emulator fallback is off', async () => {
    const ports = new Ports();
    await expect(open('auto', ports)).rejects.toThrow(NoBoardError);
    await expect(open('auto', ports)).rejects.toThrow(/no vgpio board attached; use --board PATH\|serial:SERIALNO, or --board emulator/);
    expect(ports.opens).toEqual([]);
  });
});
