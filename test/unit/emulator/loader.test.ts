/**
 * The emulated board's flash is the Pico's 2 MiB, not rp2040js's 16 MiB XIP window: the image is there,
 * the rest reads erased, and an image that would not fit a Pico is refused with the size in the message.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLASH_BASE, FLASH_SIZE, ImageFormatError, loadImage, parseUf2, UF2_FAMILY_RP2040, UF2_FLAG_FAMILY_ID_PRESENT, UF2_MAGIC_END, UF2_MAGIC_START0, UF2_MAGIC_START1 } from '../../../src/emulator/loader.js';

const image = new Uint8Array(readFileSync(new URL('../../../firmware/dist/vgpio.bin', import.meta.url)));

/** One 512-byte UF2 block carrying `size` bytes for `address`. */
function uf2Block(address: number, size = 256): Uint8Array {
  const block = new Uint8Array(512);
  const view = new DataView(block.buffer);
  view.setUint32(0, UF2_MAGIC_START0, true);
  view.setUint32(4, UF2_MAGIC_START1, true);
  view.setUint32(8, UF2_FLAG_FAMILY_ID_PRESENT, true);
  view.setUint32(12, address, true);
  view.setUint32(16, size, true);
  view.setUint32(20, 0, true);
  view.setUint32(24, 1, true);
  view.setUint32(28, UF2_FAMILY_RP2040, true);
  view.setUint32(508, UF2_MAGIC_END, true);
  return block;
}

describe('emulated flash', () => {
  it('is the Pico 2 MiB, holds the image and reads erased after it', () => {
    expect(FLASH_SIZE).toBe(2 * 1024 * 1024);
    const mcu = loadImage(image);
    expect(mcu.flash.length).toBe(FLASH_SIZE);
    expect(Buffer.from(mcu.flash.subarray(0, image.length)).equals(Buffer.from(image))).toBe(true);
    expect(mcu.flash.subarray(image.length).every((b) => b === 0xff)).toBe(true);
    // Through the emulator's own bus accessors, as the core reads it.
    expect(mcu.readUint32(FLASH_BASE + 0x100)).toBe(new DataView(image.buffer, image.byteOffset).getUint32(0x100, true));
    expect(mcu.readUint32(FLASH_BASE + FLASH_SIZE - 4)).toBe(0xffffffff);
    expect(mcu.readUint16(FLASH_BASE + FLASH_SIZE - 2)).toBe(0xffff);
    expect(mcu.readUint8(FLASH_BASE + FLASH_SIZE - 1)).toBe(0xff);
  });

  it('boots the release image and runs it from the smaller flash', async () => {
    const { EmulatedRp2040 } = await import('../../../src/emulator/emulated-mcu.js');
    const emu = EmulatedRp2040.fromImage(image);
    expect(emu.mcu.flash.length).toBe(FLASH_SIZE);
    expect(emu.start().product).toBe('vgpio');
  });

  it('refuses an image or a UF2 block beyond 2 MiB, naming the size', () => {
    const tooBig = new Uint8Array(FLASH_SIZE + 1);
    tooBig.set(image);
    expect(() => loadImage(tooBig)).toThrow(ImageFormatError);
    expect(() => loadImage(tooBig)).toThrow(/2097153 bytes is larger than the emulated Pico's 2 MiB flash/);
    expect(parseUf2(uf2Block(FLASH_BASE + FLASH_SIZE - 256))).toHaveLength(1);
    expect(() => parseUf2(uf2Block(FLASH_BASE + FLASH_SIZE - 128))).toThrow(/address 0x101fff80 outside the emulated Pico's 2 MiB flash/);
  });
});

describe('received data', () => {
  it('is kept for read() by default, and not at all with keepReceived: false', async () => {
    const { EmulatedRp2040 } = await import('../../../src/emulator/emulated-mcu.js');
    const { encodeFrame } = await import('../../../src/link/frame.js');
    const { slipEncodeFrame } = await import('../../../src/link/slip.js');
    const { encodeRequest, RequestType } = await import('../../../src/link/protocol.js');
    const ping = slipEncodeFrame(encodeFrame(RequestType.PING, 1, encodeRequest('PING', { data: Buffer.alloc(40, 7) })));
    for (const keepReceived of [true, false]) {
      const emu = EmulatedRp2040.fromImage(image, { keepReceived });
      emu.start();
      let seen = 0;
      emu.onData((d) => (seen += d.length));
      emu.write(ping);
      emu.runUntil(() => seen >= 2 + 8 + 1 + 8 + 40, 20e6, 'the PING reply');
      if (keepReceived) {
        expect(emu.available).toBe(seen);
        expect(emu.read(seen)).toHaveLength(seen);
      } else {
        expect(emu.available).toBe(0);
        expect(() => emu.read(1)).toThrow(/keepReceived: false; take received data with onData/);
      }
    }
  });
});
