/** `vgpio emulate --pty` as a user runs it (the built CLI), opened through the real serialport path. */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openBoard } from '../../../src/index.js';

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

describe('vgpio emulate --pty', () => {
  it('prints the pty path first, serves HELLO and the loopback jig over serialport, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [cli, 'emulate', '--pty', '--jig', 'loopback'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const path = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`vgpio emulate exited with ${code}: ${stderr}`)));
      });
      expect(path).toMatch(/^\/dev\/pts\/\d+$/);
      const board = await openBoard({ path });
      expect(board.info.serial).toBe('454d554c41544544');
      await board.configure([5], { direction: 'input' });
      await board.configure([4], { direction: 'output', value: 1 });
      expect((await board.getValues([4, 5])).values).toEqual(new Map([[4, 1], [5, 1]]));
      await board.setValues({ 4: 0 });
      expect((await board.getValues([5])).values.get(5)).toBe(0);
      await board.close();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM, stopping/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('without --pty it says what is missing', async () => {
    const child = spawn(process.execPath, [cli, 'emulate'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/needs --pty/);
  });
});
