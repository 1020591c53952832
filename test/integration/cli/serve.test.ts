import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestFrontend } from '../../helpers/frontend.js';
import { IrqType, Msg, VirtioDirection } from '../../../src/gpio/spec.js';

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).reverse().forEach((c) => c()));

/** Starts the built `vgpio serve` on the emulated board; resolves once it listens. */
async function serve(...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-serve-'));
  const socket = join(dir, 'gpio.sock');
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', '--board', 'emulator', '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 20_000;
  // Ready once it logged listening (stderr) and printed the command lines (stdout): two pipes, so either
  // can arrive first.
  while (!stderr.includes('vhost-user: listening') || !stdout.includes('User-Mode Linux:')) {
    if (child.exitCode !== null) throw new Error(`vgpio serve exited early:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`vgpio serve did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { socket, child, exited, out: () => stdout, err: () => stderr };
}

describe('vgpio serve on the emulated board', () => {
  it('prints the QEMU command line, serves a guest through the real firmware, and exits cleanly on SIGTERM', async () => {
    const s = await serve();
    expect(statSync(s.socket).mode & 0o777).toBe(0o600);
    expect(s.out()).toContain(`-chardev socket,id=vgpio,path=${s.socket},reconnect=1 -device vhost-user-gpio-pci,chardev=vgpio,id=gpio`);
    expect(s.out()).toContain('memory-backend-memfd,id=mem,size=512M,share=on');
    expect(s.out()).toContain(`virtio_uml.device=${s.socket}:41`);
    expect(s.err()).toMatch(/board: the emulated board .* serial 454d554c41544544, firmware 0\.1\.0, 30 lines/);

    const f = await TestFrontend.connect(s.socket);
    cleanups.push(() => f.close());
    const config = await f.setup({ uml: true });
    expect(config.readUInt16LE(0)).toBe(30);
    const names = await f.request(Msg.GET_LINE_NAMES, 0, 0, 1 + config.readUInt32LE(4));
    expect(names.output.subarray(1).toString('ascii').split('\0')[25]).toBe('LED');
    // GP2 drives GP3 through the loopback jig, inside the emulated RP2040 running firmware/dist.
    await f.directionOutput(2, 1);
    await f.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN);
    expect((await f.request(Msg.GET_VALUE, 3)).output).toEqual(Buffer.from([0, 1]));
    await f.enableIrq(3, IrqType.EDGE_FALLING);
    await f.request(Msg.SET_VALUE, 2, 0);
    expect(await f.waitIrqs(1, 10_000)).toEqual([{ line: 3, status: 1 }]);
    expect((await f.request(Msg.GET_VALUE, 3)).output).toEqual(Buffer.from([0, 0]));
    expect((await f.request(Msg.SET_DIRECTION, 23, VirtioDirection.OUT)).output[0]).toBe(1); // reserved
    await new Promise((r) => setTimeout(r, 100));
    expect(s.err()).toMatch(/frontend negotiated: interrupts \(VIRTIO_GPIO_F_IRQ\), VERSION_1/);

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(existsSync(s.socket)).toBe(false);
    expect(s.err()).toMatch(/SIGTERM: releasing lines and shutting down/);
  }, 60_000);

  /** Runs the built CLI to its exit; for commands that must fail before serving anything. */
  async function run(...args: string[]) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const code = await new Promise((r) => child.once('exit', r));
    return { code, stdout, stderr };
  }

  it('bad input exits 2 and an unusable board 3, with the problem and the fix, before anything is served', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-serve-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'gpio.sock');
    const mode = await run('serve', '--socket-mode', 'rw-', '--socket', socket);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/--socket-mode.*octal mode such as 600/);
    const profile = await run('serve', '--board', 'emulator', '--profile', 'no-such-board', '--socket', socket);
    expect(profile.code).toBe(2);
    expect(profile.stderr).toMatch(/no board profile "no-such-board" \(looked for .*hw\/boards\/no-such-board\.json\); built-in ones are in/);
    expect(profile.stderr).not.toMatch(/board: the emulated board/); // failed before opening any board
    const jig = await run('serve', '--board', 'emulator', '--jig', 'no-such-jig', '--socket', socket);
    expect(jig.code).toBe(2);
    expect(jig.stderr).toMatch(/no jig "no-such-jig"/);
    const port = await run('serve', '--board', join(dir, 'ttyACM9'), '--socket', socket);
    expect(port.code).toBe(3);
    expect(port.stderr).toMatch(/cannot open serial port .*ttyACM9: .*; check the path \(`vgpio list` shows the attached boards\)/);
    const serial = await run('serve', '--board', 'serial:0123456789ABCDEF', '--socket', socket);
    expect(serial.code).toBe(3);
    expect(serial.stderr).toMatch(/no vgpio board with serial number 0123456789abcdef is attached \(attached: none\); check the cable/i);
    const noDir = await run('serve', '--board', 'emulator', '--socket', join(dir, 'missing', 'gpio.sock'));
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/the directory .*missing does not exist; create it or pick another path/);
    const long = await run('serve', '--board', 'emulator', '--socket', join(dir, `${'a'.repeat(120)}.sock`));
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/is \d+ bytes long; a unix socket path can have at most 107: pick a shorter path/);
    const group = await run('serve', '--board', 'emulator', '--socket-group', 'no-such-group', '--socket', socket);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/--socket-group: no group named "no-such-group"/);
    for (const r of [noDir, long, group]) expect(r.stderr).not.toMatch(/board: the emulated board/); // before any board
    expect(existsSync(socket)).toBe(false);
    const emulate = await run('emulate', '--pty', '--jig', 'no-such-jig');
    expect(emulate.code).toBe(2);
    expect(emulate.stderr).toMatch(/no jig "no-such-jig"/);
    for (const command of ['serve', 'emulate']) {
      const help = await run(command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Exit codes:\n {2}0 +.*\n {2}1 +unexpected error\n {2}2 +bad input.*\n {2}3 +no board/);
    }
    const noPty = await run('emulate');
    expect(noPty.code).toBe(2);
    expect(noPty.stderr).toMatch(/needs --pty/);
  }, 60_000);
});
