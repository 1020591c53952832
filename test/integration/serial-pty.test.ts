import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openBoard, DeviceError } from '../../src/index.js';

/** The real serialport path, against a protocol v1 device on a pseudo-terminal. */
describe('openBoard({ path }) over a pty', () => {
  it('says HELLO, pings, and surfaces device refusals', async () => {
    const device = spawn('python3', [fileURLToPath(new URL('../helpers/pty_device.py', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const path = await new Promise<string>((resolve, reject) => {
        createInterface({ input: device.stdout! }).once('line', resolve);
        device.once('exit', (code) => reject(new Error(`pty device exited with ${code}`)));
      });
      expect(path).toMatch(/^\/dev\/pts\//);
      const board = await openBoard({ path });
      expect(board.info.serial).toBe('0123456789abcdef');
      expect(board.info.reservedLines).toEqual([23, 24, 29]);
      const ping = await board.ping(Buffer.from([0xc0, 0xdb, 0x00]));
      expect(ping.roundTripUs).toBeGreaterThan(0);
      await expect(board.heartbeat()).rejects.toBeInstanceOf(DeviceError);
      await board.close();
      expect(board.closed).toBe(true);
    } finally {
      device.kill();
    }
  });

  it('names the path when the port cannot be opened', async () => {
    await expect(openBoard({ path: '/dev/does-not-exist' })).rejects.toThrow(/\/dev\/does-not-exist/);
  });
});
