import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_FIRMWARE_IMAGE,
  FLASH_BASE,
  ImageError,
  RP2040_FAMILY_ID,
  parseBin,
  parseImage,
  parseUf2,
  readImage,
  type FlashImage,
} from '../../../src/board/flash-image.js';
import {
  ExclusiveMode,
  PICOBOOT_MAGIC,
  PicobootClient,
  PicobootCmd,
  PicobootError,
  PicobootStatus,
  VerifyError,
  encodeCommand,
  flashImage,
  type FlashProgress,
} from '../../../src/board/picoboot.js';
import { FakeBootrom } from '../../helpers/fake-bootrom.js';

const uf2Bytes = readFileSync(DEFAULT_FIRMWARE_IMAGE);
const binBytes = readFileSync(new URL('../../../firmware/dist/vgpio.bin', import.meta.url));

/** A UF2 block as the spec lays it out. */
function uf2Block(target: number, payload: Uint8Array, blockNo: number, numBlocks: number, family = RP2040_FAMILY_ID, flags = 0x2000): Uint8Array {
  const block = new Uint8Array(512);
  const view = new DataView(block.buffer);
  [0x0a324655, 0x9e5d5157, flags, target, 256, blockNo, numBlocks, family].forEach((w, i) => view.setUint32(i * 4, w, true));
  block.set(payload.subarray(0, 256), 32);
  view.setUint32(508, 0x0ab16f30, true);
  return block;
}
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const page = (fill: number) => new Uint8Array(256).fill(fill);

/** What the flash should hold after writing `image` over `before`. */
function expectedFlash(before: Uint8Array, image: FlashImage): Uint8Array {
  const after = before.slice();
  for (const p of image.pages) after.set(p.data, p.address - FLASH_BASE);
  return after;
}

describe('firmware images', () => {
  it('parses the bundled UF2: RP2040 family, 256-byte pages from 0x10000000, the same bytes as the BIN', () => {
    const image = parseUf2(uf2Bytes, 'vgpio.uf2');
    expect(image.format).toBe('uf2');
    expect(image.start).toBe(FLASH_BASE);
    expect(image.pages).toHaveLength(uf2Bytes.length / 512);
    expect(image.pages.every((p, i) => p.address === FLASH_BASE + i * 256 && p.data.length === 256)).toBe(true);
    const flat = concat(...image.pages.map((p) => p.data));
    expect(Buffer.from(flat.subarray(0, binBytes.length)).equals(binBytes)).toBe(true);
    expect(readImage().pages).toHaveLength(image.pages.length); // the default image is the bundled UF2
  });

  it('places a BIN at 0x10000000 and pads its last page with 0xFF', () => {
    const image = parseBin(binBytes, 'vgpio.bin');
    expect(image.start).toBe(FLASH_BASE);
    expect(image.pages).toHaveLength(Math.ceil(binBytes.length / 256));
    const last = image.pages[image.pages.length - 1]!.data;
    expect(last[binBytes.length % 256]).toBe(0xff);
    expect(parseImage(binBytes, 'x.bin').size).toBe(image.size);
  });

  it('refuses foreign families, missing families, out-of-range and misaligned targets, damage and truncation', () => {
    const bad = (bytes: Uint8Array) => () => parseUf2(bytes, 'f.uf2');
    expect(bad(uf2Block(FLASH_BASE, page(1), 0, 1, 0x68ed2b88))).toThrow(/block 0 is for SAMD21 \(family id 0x68ed2b88\), not an RP2040/);
    expect(bad(uf2Block(FLASH_BASE, page(1), 0, 1, 0xe48bff59))).toThrow(/RP2350 ARM secure/);
    expect(bad(uf2Block(FLASH_BASE, page(1), 0, 1, RP2040_FAMILY_ID, 0))).toThrow(/carries no family id/);
    expect(bad(uf2Block(0x20000000, page(1), 0, 1))).toThrow(/0x20000000\.\.0x200000ff, outside flash .*RAM-only UF2s are not supported/);
    expect(bad(uf2Block(0x11000000, page(1), 0, 1))).toThrow(/outside flash/);
    expect(bad(uf2Block(FLASH_BASE + 0x80, page(1), 0, 1))).toThrow(/not 256-byte aligned/);
    const damaged = uf2Block(FLASH_BASE, page(1), 0, 1);
    damaged[508] = 0;
    expect(bad(damaged)).toThrow(/bad UF2 magic numbers/);
    expect(bad(uf2Block(FLASH_BASE, page(1), 0, 2))).toThrow(/has 1 of the 2 blocks it announces; the file is truncated/);
    expect(bad(concat(uf2Block(FLASH_BASE, page(1), 0, 2), uf2Block(FLASH_BASE, page(2), 1, 2)))).toThrow(/two blocks target 0x10000000/);
    expect(bad(uf2Bytes.subarray(0, 700))).toThrow(/whole number of 512-byte blocks/);
    // blocks not meant for main flash are skipped, as the bootrom does
    const withComment = concat(uf2Block(FLASH_BASE, page(1), 0, 2), uf2Block(0, page(0), 1, 2, 0, 0x1));
    expect(parseUf2(withComment).pages).toHaveLength(1);
  });

  it('tells ELF and unknown files apart from BIN', () => {
    expect(() => parseImage(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 1, 1), 'vgpio.elf')).toThrow(/ELF file; flash the \.uf2 or \.bin/);
    expect(() => parseImage(page(0), 'firmware.hex')).toThrow(/not a UF2 file, and not named \.bin/);
    expect(() => parseImage(page(0), 'x.uf2')).toThrow(/named \.uf2 but does not start with the UF2 magic/);
    expect(() => parseBin(new Uint8Array(0), 'e.bin')).toThrow(ImageError);
    expect(() => readImage('/nonexistent/vgpio.uf2')).toThrow(/cannot read firmware image \/nonexistent\/vgpio\.uf2: no such file/);
  });
});

describe('PICOBOOT client against the simulated bootrom', () => {
  it('encodes the 32-byte command block of the datasheet', () => {
    const block = encodeCommand(7, PicobootCmd.READ, Uint8Array.of(0, 1, 0, 0x10, 0, 0x10, 0, 0), 4096);
    const view = new DataView(block.buffer);
    expect(block).toHaveLength(32);
    expect(view.getUint32(0, true)).toBe(PICOBOOT_MAGIC);
    expect(view.getUint32(4, true)).toBe(7);
    expect(block[8]).toBe(0x84);
    expect(block[9]).toBe(8);
    expect(view.getUint16(10, true)).toBe(0);
    expect(view.getUint32(12, true)).toBe(4096);
    expect(view.getUint32(16, true)).toBe(0x10000100);
    expect(view.getUint32(20, true)).toBe(4096);
    expect([...block.subarray(24)]).toEqual(new Array(8).fill(0));
  });

  it('flashes the bundled UF2: the command sequence, addresses and sizes, and the flashed bytes', async () => {
    const fake = new FakeBootrom();
    const before = fake.flash.slice();
    const image = readImage();
    const progress: FlashProgress[] = [];
    const result = await flashImage(new PicobootClient(fake), image, { onProgress: (p) => progress.push({ ...p }) });

    const sectors = Math.ceil(image.end / 4096 - FLASH_BASE / 4096);
    const partial = image.size % 4096 !== 0;
    const names = fake.commands.map((c) => c.name);
    expect(names).toEqual([
      'EXCLUSIVE_ACCESS',
      'EXIT_XIP',
      ...Array.from({ length: sectors }, (_, i) => (partial && i === sectors - 1 ? ['READ', 'FLASH_ERASE', 'WRITE'] : ['FLASH_ERASE', 'WRITE'])).flat(),
      ...new Array(sectors).fill('READ'),
      'REBOOT',
    ]);
    expect(fake.commands.every((c) => c.status === PicobootStatus.OK)).toBe(true);
    expect(fake.commands[0]!.exclusive).toBe(ExclusiveMode.EXCLUSIVE_AND_EJECT);
    // tokens are unique and increasing
    expect(fake.commands.map((c) => c.token)).toEqual(fake.commands.map((_, i) => i + 1));
    for (const c of fake.commands.filter((c) => c.name === 'FLASH_ERASE')) {
      expect(c.address! % 4096).toBe(0);
      expect(c.size).toBe(4096);
    }
    const writes = fake.commands.filter((c) => c.name === 'WRITE');
    expect(writes.map((c) => c.address)).toEqual(Array.from({ length: sectors }, (_, i) => FLASH_BASE + i * 4096));
    expect(writes.every((c) => c.size! % 256 === 0 && c.address! % 256 === 0 && c.transferLength === c.size)).toBe(true);
    expect(fake.commands.at(-1)!.reboot).toEqual({ pc: 0, sp: 0x20042000, delayMs: 500 });

    // the interface is reset first: host-side halts cleared, then INTERFACE_RESET
    expect(fake.transfers.slice(0, 3)).toEqual(['clear-halt:in', 'clear-halt:out', 'ctrl:0x41:0x41']);
    // every command: 32-byte block, data, empty packet the other way
    expect(fake.transfers.filter((t) => t === 'out:32').length).toBeGreaterThanOrEqual(fake.commands.length);
    expect(fake.violations).toEqual([]);
    expect(fake.rebooted).toEqual({ pc: 0, sp: 0x20042000, delayMs: 500 });
    expect(fake.connected).toBe(false);

    // the flash holds the image, and the rest of the last sector kept its old contents
    expect(Buffer.from(fake.flash).equals(Buffer.from(expectedFlash(before, image)))).toBe(true);
    expect(result).toEqual({ sectors, bytesWritten: sectors * 4096, bytesVerified: sectors * 4096, bytesPreserved: sectors * 4096 - image.size });
    expect(progress[0]).toEqual({ phase: 'erase+write', done: 0, total: image.size });
    expect(progress.at(-1)).toEqual({ phase: 'verify', done: image.size, total: image.size });
  });

  it('flashes a BIN to the same bytes as the UF2', async () => {
    const a = new FakeBootrom({ initialFlash: () => 0 });
    const b = new FakeBootrom({ initialFlash: () => 0 });
    await flashImage(new PicobootClient(a), parseBin(binBytes, 'vgpio.bin'));
    await flashImage(new PicobootClient(b), parseUf2(uf2Bytes, 'vgpio.uf2'));
    expect(Buffer.from(a.flashAt(FLASH_BASE, binBytes.length)).equals(binBytes)).toBe(true);
    expect(Buffer.from(b.flashAt(FLASH_BASE, binBytes.length)).equals(binBytes)).toBe(true);
  });

  it('keeps other data in a sector the image only partly covers, and skips sectors it does not touch', async () => {
    const fake = new FakeBootrom();
    const before = fake.flash.slice();
    const image = parseUf2(concat(uf2Block(FLASH_BASE + 0x1200, page(0x11), 0, 2), uf2Block(FLASH_BASE + 0x5000, page(0x22), 1, 2)));
    await flashImage(new PicobootClient(fake), image);
    expect(fake.commands.filter((c) => c.name === 'FLASH_ERASE').map((c) => c.address)).toEqual([FLASH_BASE + 0x1000, FLASH_BASE + 0x5000]);
    expect(Buffer.from(fake.flash).equals(Buffer.from(expectedFlash(before, image)))).toBe(true);
    expect(fake.violations).toEqual([]);
  });

  it('reports a verify mismatch with its address, does not reboot, and gives the drive back', async () => {
    const fake = new FakeBootrom({ weakByteAt: FLASH_BASE + 0x1234 });
    const error = await flashImage(new PicobootClient(fake), readImage()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerifyError);
    expect((error as VerifyError).address).toBe(FLASH_BASE + 0x1234);
    expect((error as Error).message).toMatch(/verify failed at 0x10001234: wrote 0x[0-9a-f]{2}, read back 0x[0-9a-f]{2}/);
    expect(fake.commands.some((c) => c.name === 'REBOOT')).toBe(false);
    expect(fake.transfers.at(-1)).toBe('ctrl:0x41:0x41');
    expect(fake.exclusive).toBe(ExclusiveMode.NOT_EXCLUSIVE);
  });

  it('a stalled command: reads GET_COMMAND_STATUS, resets the interface, names the command and the status', async () => {
    const fake = new FakeBootrom({ failCommand: (c) => (c.name === 'FLASH_ERASE' && c.address === FLASH_BASE + 0x2000 ? PicobootStatus.INVALID_ADDRESS : undefined) });
    const error = await flashImage(new PicobootClient(fake), readImage()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PicobootError);
    expect((error as Error).message).toBe('FLASH_ERASE 0x10002000+4096: refused by the bootrom: INVALID_ADDRESS');
    expect((error as PicobootError).status).toMatchObject({ statusName: 'INVALID_ADDRESS', cmdId: PicobootCmd.FLASH_ERASE });
    const tail = fake.transfers.slice(-6);
    expect(tail).toEqual(['out:32', 'in:64', 'ctrl:0xc1:0x42', 'clear-halt:in', 'clear-halt:out', 'ctrl:0x41:0x41']);
    // the client can carry on after the reset
    const client = new PicobootClient(fake);
    await client.exitXip();
    expect((await client.read(FLASH_BASE, 256)).length).toBe(256);
  });

  it('a device that stalls but reports OK, one that reports another token, and a non-empty acknowledgement', async () => {
    const liar = new FakeBootrom({ statusAlwaysOk: true, failCommand: (c) => (c.name === 'EXIT_XIP' ? PicobootStatus.UNKNOWN_ERROR : undefined) });
    await expect(flashImage(new PicobootClient(liar), readImage())).rejects.toThrow('EXIT_XIP: stalled, but the device reports OK');

    const fake = new FakeBootrom();
    const client = new PicobootClient(fake);
    await client.resetInterface();
    // a command block with the wrong size: the device stalls without taking a token
    await fake.bulkOut(new Uint8Array(31));
    await expect(client.exitXip()).rejects.toThrow(/EXIT_XIP: stalled; the status is for another command \(token 0, expected \d+: INVALID_CMD_LENGTH\)/);

    const odd = new FakeBootrom({ badAck: true });
    await expect(new PicobootClient(odd).exitXip()).rejects.toThrow('EXIT_XIP: expected an empty acknowledgement packet, got 4 bytes; is this an RP2040 bootrom?');
  });

  it('the device disappears mid-write', async () => {
    const fake = new FakeBootrom({ disconnectDuringData: (c) => c.name === 'WRITE' && c.address === FLASH_BASE + 0x3000 });
    const error = await flashImage(new PicobootClient(fake), readImage()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PicobootError);
    expect((error as Error).message).toMatch(/^WRITE 0x10003000\+4096: the device disappeared \(LIBUSB_ERROR_NO_DEVICE\); was the cable pulled or the board reset\?$/);
    expect((error as PicobootError).transport?.kind).toBe('disconnected');
  });

  it('exclusive access keeps a mass-storage write out; without it the bootrom reports INTERLEAVED_WRITE', async () => {
    const fake = new FakeBootrom();
    await flashImage(new PicobootClient(fake), readImage(), { onProgress: () => fake.massStorageWrite() });
    expect(fake.massStorageRefused).toBeGreaterThan(0);
    expect(fake.violations).toEqual([]);

    const open = new FakeBootrom();
    const client = new PicobootClient(open);
    await client.exitXip();
    open.massStorageWrite();
    await expect(client.flashErase(FLASH_BASE, 4096)).rejects.toThrow('FLASH_ERASE 0x10000000+4096: refused by the bootrom: INTERLEAVED_WRITE');
  });

  it('the simulated bootrom enforces its rules: alignment, range, erase before write, EXIT_XIP, transfer length', async () => {
    const fake = new FakeBootrom();
    const client = new PicobootClient(fake);
    await expect(client.flashErase(FLASH_BASE, 4096)).rejects.toThrow(/UNKNOWN_ERROR/); // before EXIT_XIP
    expect(fake.violations).toEqual(['FLASH_ERASE before EXIT_XIP']);
    fake.violations.length = 0;
    await client.exitXip();
    await expect(client.read(FLASH_BASE + 2 * 1024 * 1024, 256)).rejects.toThrow(/READ 0x10200000\+256: refused by the bootrom: INVALID_ADDRESS/);
    await expect(client.command(PicobootCmd.FLASH_ERASE, new Uint8Array(new Uint32Array([FLASH_BASE + 256, 4096]).buffer))).rejects.toThrow(/BAD_ALIGNMENT/);
    await expect(client.command(PicobootCmd.WRITE, new Uint8Array(new Uint32Array([FLASH_BASE + 16, 256]).buffer), page(0))).rejects.toThrow(/BAD_ALIGNMENT/);
    await expect(client.command(PicobootCmd.WRITE, new Uint8Array(new Uint32Array([FLASH_BASE, 512]).buffer), page(0))).rejects.toThrow(/INVALID_TRANSFER_LENGTH/);
    await expect(client.command(PicobootCmd.EXIT_XIP, Uint8Array.of(1))).rejects.toThrow(/INVALID_CMD_LENGTH/);
    await expect(client.command(0x0e as PicobootCmd, new Uint8Array(0))).rejects.toThrow(/UNKNOWN_CMD/);
    // writing over data that was not erased: NOR semantics, recorded as a violation
    await client.write(FLASH_BASE, page(0xff));
    expect(fake.violations).toHaveLength(1);
    expect(fake.violations[0]).toMatch(/not erased first/);
    await client.flashErase(FLASH_BASE, 4096);
    expect([...fake.flashAt(FLASH_BASE, 4096)].every((b) => b === 0xff)).toBe(true);
    await client.write(FLASH_BASE, page(0x0f));
    expect(fake.violations).toHaveLength(1);
    // client-side guards stop bad requests before they reach the device
    await expect(client.write(FLASH_BASE + 1, page(0))).rejects.toThrow(RangeError);
    await expect(client.flashErase(FLASH_BASE, 100)).rejects.toThrow(RangeError);
  });
});
