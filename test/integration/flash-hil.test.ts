/**
 * `vgpio flash` on a real board. Opt-in: it rewrites the attached board's flash.
 *
 *   npm run build && VGPIO_HIL_FLASH=1 npx vitest run test/integration/flash-hil.test.ts
 *
 * With one board attached (running vgpio firmware, or in BOOTSEL mode), hw/udev/99-vgpio.rules installed
 * and you in group plugdev. VGPIO_HIL_BOARD picks a board as `--board` would (serial:..., bootsel:...).
 * Flashes the bundled firmware/dist/vgpio.uf2 twice: the second run exercises the protocol's
 * REBOOT_TO_BOOTLOADER path even when the first started from BOOTSEL.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });

describe.skipIf(process.env.VGPIO_HIL_FLASH !== '1')('vgpio flash on a real board (VGPIO_HIL_FLASH=1)', () => {
  it('flashes, verifies, reboots, and the board comes back running the bundled firmware', { timeout: 180_000 }, () => {
    let board = process.env.VGPIO_HIL_BOARD ?? 'auto';
    for (const pass of [1, 2]) {
      const r = run('flash', '--json', '--board', board);
      expect(r.status, `pass ${pass}: ${r.stdout}${r.stderr}`).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ ok: true, exitCode: 0, image: { format: 'uf2' }, result: { verified: true } });
      // a board that started in BOOTSEL may not tell its serial number; one rebooted by vgpio always does
      if (pass === 2) expect(report.board.enteredBootsel).toBe('rebooted');
      if (report.board.serial) expect(report.runningAfter, 'the board reappears as a vgpio serial port').toMatch(/^\/dev\//);
      board = report.board.serial ? `serial:${report.board.serial}` : 'auto';
    }
    const list = JSON.parse(run('list', '--json').stdout);
    const serial = board.slice('serial:'.length);
    expect(list.boards).toContainEqual(expect.objectContaining({ state: 'running', serial, firmwareVersion: '0.1.0', protocolVersion: 1 }));
  });
});
