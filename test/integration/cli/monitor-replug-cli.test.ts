/**
 * The built `vgpio monitor` (npm test builds first) on a board that goes away and does not come back: its
 * own `vgpio emulate --pty` is stopped while monitoring, so the pty closes and the path is gone. Monitor
 * says so at once, keeps waiting until --duration ends, prints the summary and exits 1 ("the board went
 * away"). The replug itself is covered in-process by monitor-replug.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

describe('vgpio monitor on a board that goes away for good', () => {
  it('prints the disconnect, waits until --duration ends, then the summary, and exits 1 saying the board did not come back', async () => {
    const emulator = spawn(process.execPath, [cli, 'emulate', '--pty', '--jig', 'loopback'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const emulatorExited = new Promise((resolve) => emulator.once('exit', resolve));
    try {
      const pty = await new Promise<string>((resolve, reject) => {
        createInterface({ input: emulator.stdout! }).once('line', resolve);
        emulator.once('exit', (code) => reject(new Error(`vgpio emulate exited with ${code}`)));
      });
      const monitor = spawn(process.execPath, [cli, 'monitor', 'GP3', '--json', '--duration', '6', '--board', pty], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      monitor.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => monitor.once('exit', resolve));
      try {
        await new Promise<void>((resolve, reject) => {
          monitor.stdout!.on('data', (d: Buffer) => {
            stdout += d.toString();
            if (stdout.includes('\n')) resolve();
          });
          void exited.then((code) => reject(new Error(`vgpio monitor exited with ${code} before starting: ${stderr}`)));
        });
        emulator.kill('SIGTERM'); // the board goes away: its pty closes
        expect(await exited).toBe(1);
      } finally {
        if (monitor.exitCode === null) monitor.kill('SIGKILL');
      }
      const records = stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(records.map((r) => r.type)).toEqual(['start', 'disconnect', 'summary', 'error']);
      expect(records[1]).toMatchObject({ board: expect.stringMatching(/^the board with serial [0-9a-f]{16}$/), reason: expect.stringMatching(/^the link closed/) });
      expect(records[2]).toMatchObject({ stoppedBy: 'duration', edges: 0, disconnects: 1, endedAway: true });
      expect(records[3]).toMatchObject({ ok: false, exitCode: 1, error: expect.stringMatching(/the board went away while monitoring and was not back when monitoring stopped \(duration\)/) });
      expect(stderr).toMatch(/not back yet: cannot open serial port/);
      expect(stderr).toMatch(/vgpio monitor: the board went away while monitoring and was not back .*check the cable, then run the command again\n$/);
    } finally {
      if (emulator.exitCode === null) emulator.kill('SIGKILL');
      await emulatorExited;
    }
  }, 40_000);
});
