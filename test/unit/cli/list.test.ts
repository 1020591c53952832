import { describe, expect, it } from 'vitest';
import { collectBoards, formatBoards, isBusyError, type ListDeps } from '../../../src/cli/list.js';
import { PortOpenError } from '../../../src/board/open.js';
import { usbLocation } from '../../../src/board/usb-boot.js';
import type { BoardInfo } from '../../../src/board/types.js';

const info = (serial: string, firmwareVersion = '0.1.0'): BoardInfo => ({
  protocolVersion: 1, firmwareVersion, serial: serial.toUpperCase(), boardId: 2, boardName: 'Raspberry Pi Pico', numLines: 30,
  reservedLines: [], capabilities: [], window: 8, maxPayload: 256, eventCapacity: 256,
});

const noBootsel = async () => [];
const bootselAt = (...locations: string[]) => async () =>
  locations.map((location) => ({ location, serial: undefined, open: async () => { throw new Error('not in this test'); } }));

describe('vgpio list', () => {
  it('running boards with firmware and protocol from HELLO, a busy port, an unreadable one, and BOOTSEL boards', async () => {
    const probed: string[] = [];
    const deps: ListDeps = {
      listSerialBoards: async () => [
        { path: '/dev/ttyACM0', serial: 'e66038b7136b4f2a', manufacturer: 'vgpio project' },
        { path: '/dev/ttyACM1', serial: '0000000000000abc', manufacturer: 'vgpio project' },
        { path: '/dev/ttyACM2', serial: '0000000000000def', manufacturer: 'vgpio project' },
      ],
      probe: async (path) => {
        probed.push(path);
        if (path === '/dev/ttyACM1') throw new Error('cannot open serial port /dev/ttyACM1: Error Resource temporarily unavailable Cannot lock port');
        if (path === '/dev/ttyACM2') throw new Error('opening the board on /dev/ttyACM2 failed: HELLO request (seq 0) timed out after 1000 ms');
        return info('e66038b7136b4f2a');
      },
      listBootsel: bootselAt('1-2.3'),
    };
    const result = await collectBoards(deps);
    expect(probed).toEqual(['/dev/ttyACM0', '/dev/ttyACM1', '/dev/ttyACM2']);
    expect(result.boards.map((b) => [b.state, b.serial, b.path ?? b.location])).toEqual([
      ['running', 'e66038b7136b4f2a', '/dev/ttyACM0'],
      ['busy', '0000000000000abc', '/dev/ttyACM1'],
      ['error', '0000000000000def', '/dev/ttyACM2'],
      ['bootsel', null, '1-2.3'],
    ]);
    expect(result.boards[0]).toMatchObject({ firmwareVersion: '0.1.0', protocolVersion: 1, boardName: 'Raspberry Pi Pico' });
    expect(formatBoards(result)).toBe(
      [
        'STATE    SERIAL            WHERE         FIRMWARE  PROTOCOL  BOARD',
        'running  e66038b7136b4f2a  /dev/ttyACM0  0.1.0     1         Raspberry Pi Pico',
        'busy     0000000000000abc  /dev/ttyACM1  -         -         - (in use by another program (vgpio serve or the vgpio@ service?))',
        'error    0000000000000def  /dev/ttyACM2  -         -         - (opening the board on /dev/ttyACM2 failed: HELLO request (seq 0) timed out after 1000 ms)',
        'bootsel  -                 usb 1-2.3     -         -         -',
        '',
      ].join('\n'),
    );
  });

  it('no boards, and a machine where USB cannot be enumerated (a container without /sys/bus/usb)', async () => {
    expect(formatBoards(await collectBoards({ listSerialBoards: async () => [], probe: async () => info('x'), listBootsel: noBootsel }))).toBe(
      'no boards attached (no vgpio board, USB 1209:0001; no RP2040 in BOOTSEL mode, USB 2e8a:0003)\n',
    );
    const result = await collectBoards({
      listSerialBoards: async () => [],
      probe: async () => info('x'),
      listBootsel: async () => {
        throw new Error('cannot enumerate USB devices: getDevices error: /sys/bus/usb/devices/ not found (errno 2)');
      },
    });
    expect(result.notes).toEqual(['boards in BOOTSEL mode could not be looked for: cannot enumerate USB devices: getDevices error: /sys/bus/usb/devices/ not found (errno 2)']);
    expect(formatBoards(result)).toMatch(/\nnote: boards in BOOTSEL mode could not be looked for: /);
  });

  it('a permission problem on the serial port points to the udev rules', async () => {
    const result = await collectBoards({
      listSerialBoards: async () => [{ path: '/dev/ttyACM0', serial: 'ab', manufacturer: 'vgpio project' }],
      probe: async () => {
        throw new Error('cannot open serial port /dev/ttyACM0: Error: Permission denied, cannot open /dev/ttyACM0');
      },
      listBootsel: noBootsel,
    });
    expect(result.boards[0]).toMatchObject({ state: 'error', error: expect.stringMatching(/install hw\/udev\/99-vgpio\.rules and join group plugdev$/) });
  });

  it('a port that refuses to open says why once, with one hint; a locked one is busy', async () => {
    const result = await collectBoards({
      listSerialBoards: async () => [
        { path: '/dev/ttyACM0', serial: 'ab', manufacturer: 'vgpio project' },
        { path: '/dev/ttyACM1', serial: 'cd', manufacturer: 'vgpio project' },
      ],
      probe: async (path) => {
        const cause = path.endsWith('0') ? 'Error: Permission denied, cannot open /dev/ttyACM0' : 'Error Resource temporarily unavailable Cannot lock port';
        throw new PortOpenError(path, new Error(cause));
      },
      listBootsel: noBootsel,
    });
    expect(result.boards[0]!.state).toBe('error');
    expect(result.boards[0]!.error!.match(/install hw\/udev\/99-vgpio\.rules/g)).toHaveLength(1);
    expect(result.boards[1]).toMatchObject({ state: 'busy' });
  });

  it('JSON-friendly records and helpers', async () => {
    const result = await collectBoards({ listSerialBoards: async () => [], probe: async () => info('x'), listBootsel: bootselAt('3-1') });
    expect(JSON.parse(JSON.stringify(result))).toEqual({
      boards: [{ state: 'bootsel', serial: null, path: null, location: '3-1', firmwareVersion: null, protocolVersion: null, boardName: null }],
      notes: [],
    });
    expect(isBusyError(new Error('Error Resource temporarily unavailable Cannot lock port'))).toBe(true);
    expect(isBusyError(new Error('No such file or directory'))).toBe(false);
    expect(usbLocation('1', [2, 3])).toBe('1-2.3');
    expect(usbLocation('1-2.3', [2, 3])).toBe('1-2.3');
  });
});

describe('vgpio list without udevadm', () => {
  it('reports that serial ports could not be listed, and why', async () => {
    const result = await collectBoards({
      listSerialBoards: async () => {
        throw new Error('spawn udevadm ENOENT');
      },
      probe: async () => info('x'),
      listBootsel: noBootsel,
    });
    expect(result.notes).toEqual(['serial ports could not be listed: spawn udevadm ENOENT (serialport runs udevadm to list ports: install the udev package)']);
  });
});
