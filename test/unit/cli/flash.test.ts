import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlashExit, ProgressReporter, runFlash, type FlashDeps, type FlashReport, type RunningBoard } from '../../../src/cli/flash.js';
import { readImage, FLASH_BASE } from '../../../src/board/flash-image.js';
import { PicobootClient, PicobootStatus, TransportError } from '../../../src/board/picoboot.js';
import type { BootselDevice } from '../../../src/board/usb-boot.js';
import type { BoardInfo } from '../../../src/board/types.js';
import { FakeBootrom, type FakeBootromOptions } from '../../helpers/fake-bootrom.js';

const SERIAL = 'e66038b7136b4f2a';
const info = (serial = SERIAL): BoardInfo => ({
  protocolVersion: 1, firmwareVersion: '0.1.0', serial, boardId: 2, boardName: 'Raspberry Pi Pico', numLines: 30,
  reservedLines: [23, 24, 29], capabilities: ['bootloader'], window: 8, maxPayload: 256, eventCapacity: 256,
});

/**
 * A little USB world: boards that are running vgpio firmware (a serial port) or sitting in BOOTSEL (a
 * FakeBootrom). REBOOT_TO_BOOTLOADER moves a board from the first list to the second; the bootrom's REBOOT
 * moves it back.
 */
class World implements FlashDeps {
  time = 0;
  running = new Map<string, { path: string; serial: string }>();
  bootsel = new Map<string, { fake: FakeBootrom; serial: string | undefined; location: string }>();
  opened: string[] = [];
  rebootRequests = 0;
  openError: Error | undefined;
  accessDenied = false;
  neverReachesBootsel = false;

  constructor(private readonly fakeOptions: FakeBootromOptions = {}) {}

  addRunning(path: string, serial = SERIAL) {
    this.running.set(path, { path, serial });
  }
  addBootsel(location: string, serial?: string) {
    this.bootsel.set(location, { fake: new FakeBootrom(this.fakeOptions), serial, location });
  }
  fakeAt(location: string) {
    return this.bootsel.get(location)!.fake;
  }

  async listSerialBoards() {
    // a board whose bootrom was told to REBOOT comes back running
    for (const [location, b] of this.bootsel) {
      if (b.fake.rebooted && b.serial) {
        this.bootsel.delete(location);
        this.running.set('/dev/ttyACM9', { path: '/dev/ttyACM9', serial: b.serial });
      }
    }
    return [...this.running.values()].map((b) => ({ path: b.path, serial: b.serial, manufacturer: 'vgpio project' }));
  }

  async openRunningBoard(path: string): Promise<RunningBoard> {
    this.opened.push(path);
    if (this.openError) throw this.openError;
    const board = this.running.get(path);
    if (!board) throw new Error(`cannot open serial port ${path}: No such file or directory`);
    return {
      info: info(board.serial),
      rebootToBootloader: async () => {
        this.rebootRequests++;
        this.running.delete(path);
        if (!this.neverReachesBootsel) this.addBootsel('1-4', board.serial);
      },
      close: async () => undefined,
    };
  }

  listBootsel = async (): Promise<BootselDevice[]> =>
    [...this.bootsel.values()].map((b) => ({
      location: b.location,
      serial: b.serial,
      open: async () => {
        if (this.accessDenied) throw new TransportError('access', 'opening the RP2040 boot device at USB 1-4 (2e8a:0003): Permission denied (os error 13)');
        return { client: new PicobootClient(b.fake), close: async () => undefined };
      },
    }));

  async sleep(ms: number) {
    this.time += ms;
  }
  now() {
    return this.time;
  }
}

function output(isTTY = false) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    streams: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { isTTY, write: (s: string) => (out.stderr += s) } },
  };
}

const opts = { board: 'auto', verify: true, timeout: 10 };
const image = readImage();

async function flash(world: World, file?: string, options: Partial<typeof opts & { json: boolean }> = {}, isTTY = false) {
  const { out, streams } = output(isTTY);
  const report = await runFlash(file, { ...opts, ...options }, world, streams);
  return { report, out };
}

function expectImageIn(fake: FakeBootrom) {
  for (const p of image.pages) expect(Buffer.from(fake.flashAt(p.address, 256)).equals(Buffer.from(p.data))).toBe(true);
}

describe('vgpio flash', () => {
  it('reboots a running board into BOOTSEL, flashes the bundled image, verifies, and sees it come back', async () => {
    const world = new World();
    world.addRunning('/dev/ttyACM0');
    const { report, out } = await flash(world);
    expect(report.error).toBeUndefined();
    expect(report.exitCode).toBe(FlashExit.OK);
    expect(world.rebootRequests).toBe(1);
    expect(report.board).toEqual({ serial: SERIAL, firmwareBefore: '0.1.0', path: '/dev/ttyACM0', bootsel: '1-4', enteredBootsel: 'rebooted' });
    expect(report.result).toMatchObject({ verified: true, bytesVerified: report.result!.bytesWritten });
    expect(report.runningAfter).toBe('/dev/ttyACM9');
    expect(out.stderr).toMatch(/board e66038b7136b4f2a on \/dev\/ttyACM0: firmware 0\.1\.0; asking it to reboot into BOOTSEL/);
    expect(out.stderr).toMatch(/^erase\+write: \d+\.\d KiB\.\.\.$/m); // plain lines when stderr is not a terminal
    expect(out.stderr).toMatch(/^verify: done$/m);
    expect(out.stderr).toMatch(/board e66038b7136b4f2a is back on \/dev\/ttyACM9/);
    expect(out.stdout).toBe('');
  });

  it('flashes a board already in BOOTSEL, and a BIN given as FILE', async () => {
    const world = new World();
    world.addBootsel('3-1.2');
    const fake = world.fakeAt('3-1.2');
    const bin = new URL('../../../firmware/dist/vgpio.bin', import.meta.url).pathname;
    const { report } = await flash(world, bin, { board: 'bootsel' });
    expect(report.exitCode).toBe(FlashExit.OK);
    expect(report.image?.format).toBe('bin');
    expect(report.board).toEqual({ bootsel: '3-1.2', enteredBootsel: 'already' });
    expect(report.runningAfter).toBeNull();
    const binBytes = readFileSync(bin);
    expect(Buffer.from(fake.flashAt(FLASH_BASE, binBytes.length)).equals(binBytes)).toBe(true);
    expect(fake.rebooted).toEqual({ pc: 0, sp: 0x20042000, delayMs: 500 });
  });

  it('--json: the report on stdout, for success and failure', async () => {
    const world = new World();
    world.addBootsel('1-1');
    const { out } = await flash(world, undefined, { json: true });
    const report = JSON.parse(out.stdout) as FlashReport;
    expectImageIn(world.fakeAt('1-1'));
    expect(report).toMatchObject({ ok: true, exitCode: 0, image: { format: 'uf2', start: '0x10000000' }, board: { bootsel: '1-1' }, result: { verified: true } });

    const none = await flash(new World(), undefined, { json: true });
    expect(JSON.parse(none.out.stdout)).toMatchObject({ ok: false, exitCode: FlashExit.NO_BOARD, error: expect.stringMatching(/^no board found/) });
  });

  it('a progress bar on a terminal', () => {
    let written = '';
    const bar = new ProgressReporter({ isTTY: true, write: (s: string) => (written += s) });
    bar.update({ phase: 'erase+write', done: 0, total: 8192 });
    bar.update({ phase: 'erase+write', done: 4096, total: 8192 });
    bar.end();
    expect(written).toContain('\rerase+write [###############---------------]  50%  4.0 KiB / 8.0 KiB');
    expect(written.endsWith('\n')).toBe(true);
  });

  it('exit codes: bad image 2, no board 3, several boards 3, no BOOTSEL 4, permissions 5, verify 6, USB 7', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-flash-'));
    const foreign = join(dir, 'samd.uf2');
    const block = new Uint8Array(512);
    const view = new DataView(block.buffer);
    [0x0a324655, 0x9e5d5157, 0x2000, 0x2000, 256, 0, 1, 0x68ed2b88].forEach((w, i) => view.setUint32(i * 4, w, true));
    view.setUint32(508, 0x0ab16f30, true);
    writeFileSync(foreign, block);
    const one = () => {
      const w = new World();
      w.addBootsel('1-1');
      return w;
    };

    let r = await flash(one(), foreign);
    expect(r.report.exitCode).toBe(FlashExit.BAD_IMAGE);
    expect(r.out.stderr).toMatch(/vgpio flash: .*samd\.uf2: block 0 is for SAMD21 \(family id 0x68ed2b88\), not an RP2040/);

    r = await flash(new World());
    expect(r.report.exitCode).toBe(FlashExit.NO_BOARD);

    const two = new World();
    two.addRunning('/dev/ttyACM0');
    two.addBootsel('1-1');
    r = await flash(two);
    expect(r.report.exitCode).toBe(FlashExit.NO_BOARD);
    expect(r.report.error).toMatch(/2 boards are attached \(e66038b7136b4f2a on \/dev\/ttyACM0, BOOTSEL at USB 1-1\); choose one with --board/);
    r = await flash(two, undefined, { board: 'serial:AAAA' });
    expect(r.report.exitCode).toBe(FlashExit.NO_BOARD);
    r = await flash(two, undefined, { board: 'bootsel:9-9' });
    expect(r.report.error).toMatch(/no RP2040 in BOOTSEL mode at USB 9-9 \(attached: 1-1\)/);

    const stuck = new World();
    stuck.addRunning('/dev/ttyACM0');
    stuck.neverReachesBootsel = true;
    r = await flash(stuck);
    expect(r.report.exitCode).toBe(FlashExit.NO_BOOTSEL);
    expect(r.report.error).toMatch(/board e66038b7136b4f2a on \/dev\/ttyACM0 accepted the reboot request but no RP2040 boot device \(2e8a:0003\) appeared within 10 s/);
    expect(stuck.time).toBeGreaterThanOrEqual(10_000);

    const busy = new World();
    busy.addRunning('/dev/ttyACM0');
    busy.openError = new Error('cannot open serial port /dev/ttyACM0: Error Resource temporarily unavailable Cannot lock port');
    r = await flash(busy, undefined, { board: 'serial:E66038B7136B4F2A' });
    expect(r.report.exitCode).toBe(FlashExit.NO_BOOTSEL);
    expect(r.report.error).toMatch(/Cannot lock port; if `vgpio serve` or the vgpio@ service holds the port, stop it first/);

    const denied = one();
    denied.accessDenied = true;
    r = await flash(denied);
    expect(r.report.exitCode).toBe(FlashExit.ACCESS);
    expect(r.report.error).toMatch(/permission denied opening the board in BOOTSEL at USB 1-1: .*Permission denied.*; install the udev rules \(sudo cp .*hw\/udev\/99-vgpio\.rules \/etc\/udev\/rules\.d\/.*group plugdev/);

    const weak = new World({ weakByteAt: FLASH_BASE + 0x100 });
    weak.addBootsel('1-1');
    r = await flash(weak);
    expect(r.report.exitCode).toBe(FlashExit.VERIFY);
    expect(r.report.error).toMatch(/^the board in BOOTSEL at USB 1-1: verify failed at 0x10000100: .*the board stays in BOOTSEL/);
    expect(weak.fakeAt('1-1').rebooted).toBeUndefined();

    const refusing = new World({ failCommand: (c) => (c.name === 'WRITE' ? PicobootStatus.UNKNOWN_ERROR : undefined) });
    refusing.addBootsel('1-1');
    r = await flash(refusing);
    expect(r.report.exitCode).toBe(FlashExit.USB);
    expect(r.report.error).toMatch(/WRITE 0x10000000\+4096: refused by the bootrom: UNKNOWN_ERROR/);

    const pulled = new World({ disconnectDuringData: (c) => c.name === 'WRITE' });
    pulled.addBootsel('1-1');
    r = await flash(pulled);
    expect(r.report.exitCode).toBe(FlashExit.USB);
    expect(r.report.error).toMatch(/the device disappeared/);
  });

  it('--no-verify skips the read-back', async () => {
    const world = new World();
    world.addBootsel('1-1');
    const { report } = await flash(world, undefined, { verify: false });
    expect(report.exitCode).toBe(0);
    expect(report.result).toMatchObject({ verified: false, bytesVerified: 0 });
    expect(world.fakeAt('1-1').commands.filter((c) => c.name === 'READ').length).toBe(image.size % 4096 ? 1 : 0);
  });
});
