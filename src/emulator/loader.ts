/**
 * Load a firmware image into a fresh rp2040js `RP2040`.
 *
 * Images: a flat binary whose byte 0 lands at 0x10000000 (what `make` writes to build/*.bin), or a UF2
 * file (https://github.com/microsoft/uf2) with the RP2040 family id. The emulator has no bootrom, so
 * boot2 is not executed: we enter the image the way boot2 would, by pointing VTOR at the vector table
 * at 0x10000100 and letting `core.reset()` load SP and PC from it. `mcu.reset()` must not be called
 * after loading (it would start from the missing bootrom).
 */
import { readFileSync } from 'node:fs';
import { ConsoleLogger, LogLevel, RP2040 } from 'rp2040js';
import { ImageFormatError } from './image-error.js';

export const FLASH_BASE = 0x10000000;
/** The emulated board's flash: the Pico's W25Q16JV holds 2 MiB (Pico datasheet). */
export const FLASH_SIZE = 2 * 1024 * 1024;
export const VECTOR_TABLE = 0x10000100;

export const UF2_MAGIC_START0 = 0x0a324655;
export const UF2_MAGIC_START1 = 0x9e5d5157;
export const UF2_MAGIC_END = 0x0ab16f30;
export const UF2_FLAG_NOT_MAIN_FLASH = 0x00000001;
export const UF2_FLAG_FAMILY_ID_PRESENT = 0x00002000;
export const UF2_FAMILY_RP2040 = 0xe48bff56;
const UF2_BLOCK_SIZE = 512;
const UF2_DATA_OFFSET = 32;
const UF2_DATA_MAX = 476;

// In its own module so that the CLI can recognise it without loading rp2040js.
export { ImageFormatError };

export interface Uf2Block {
  address: number;
  data: Uint8Array;
  blockNo: number;
  numBlocks: number;
}

/** Parse and validate UF2 blocks; only blocks for `family` that target main flash are returned. */
export function parseUf2(file: Uint8Array, family = UF2_FAMILY_RP2040): Uf2Block[] {
  if (file.length === 0 || file.length % UF2_BLOCK_SIZE !== 0) {
    throw new ImageFormatError(`UF2 size ${file.length} is not a multiple of ${UF2_BLOCK_SIZE}`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const blocks: Uf2Block[] = [];
  for (let off = 0; off < file.length; off += UF2_BLOCK_SIZE) {
    const at = `UF2 block at offset ${off}`;
    if (view.getUint32(off, true) !== UF2_MAGIC_START0 || view.getUint32(off + 4, true) !== UF2_MAGIC_START1) {
      throw new ImageFormatError(`${at}: bad start magic`);
    }
    if (view.getUint32(off + UF2_BLOCK_SIZE - 4, true) !== UF2_MAGIC_END) {
      throw new ImageFormatError(`${at}: bad end magic`);
    }
    const flags = view.getUint32(off + 8, true);
    const address = view.getUint32(off + 12, true);
    const size = view.getUint32(off + 16, true);
    const blockNo = view.getUint32(off + 20, true);
    const numBlocks = view.getUint32(off + 24, true);
    const fileFamily = view.getUint32(off + 28, true);
    if (flags & UF2_FLAG_NOT_MAIN_FLASH) continue;
    if (!(flags & UF2_FLAG_FAMILY_ID_PRESENT) || fileFamily !== family) {
      throw new ImageFormatError(
        `${at}: family id 0x${fileFamily.toString(16)} (flags 0x${flags.toString(16)}), expected 0x${family.toString(16)}`,
      );
    }
    if (size > UF2_DATA_MAX) throw new ImageFormatError(`${at}: payload size ${size} > ${UF2_DATA_MAX}`);
    if (address < FLASH_BASE || address + size > FLASH_BASE + FLASH_SIZE) {
      throw new ImageFormatError(`${at}: address 0x${address.toString(16)} outside the emulated Pico's ${FLASH_SIZE >> 20} MiB flash`);
    }
    blocks.push({
      address,
      data: file.subarray(off + UF2_DATA_OFFSET, off + UF2_DATA_OFFSET + size),
      blockNo,
      numBlocks,
    });
  }
  if (blocks.length === 0) throw new ImageFormatError('UF2 file has no blocks for main flash');
  const total = blocks[0]!.numBlocks;
  const seen = new Set(blocks.map((b) => b.blockNo));
  if (blocks.some((b) => b.numBlocks !== total) || seen.size !== total) {
    throw new ImageFormatError(`UF2 file is incomplete: ${seen.size} distinct blocks of ${total}`);
  }
  return blocks;
}

/** UF2 -> flat image starting at FLASH_BASE (gaps are 0xff, like erased flash). */
export function uf2ToFlat(file: Uint8Array): Uint8Array {
  const blocks = parseUf2(file);
  const end = Math.max(...blocks.map((b) => b.address + b.data.length));
  const flat = new Uint8Array(end - FLASH_BASE).fill(0xff);
  for (const b of blocks) flat.set(b.data, b.address - FLASH_BASE);
  return flat;
}

export function isUf2(file: Uint8Array): boolean {
  return (
    file.length >= UF2_BLOCK_SIZE &&
    new DataView(file.buffer, file.byteOffset, 4).getUint32(0, true) === UF2_MAGIC_START0
  );
}

/** Accepts a flat BIN or a UF2 (detected by its magic) and returns the flat flash image. */
export function toFlatImage(file: Uint8Array): Uint8Array {
  if (isUf2(file)) return uf2ToFlat(file);
  if (file.length < VECTOR_TABLE - FLASH_BASE + 8) {
    throw new ImageFormatError(`flat image of ${file.length} bytes cannot hold boot2 and a vector table`);
  }
  if (file.length > FLASH_SIZE) throw new ImageFormatError(`image of ${file.length} bytes is larger than the emulated Pico's ${FLASH_SIZE >> 20} MiB flash`);
  return file;
}

export interface LoadOptions {
  /** rp2040js log level; default Warn (Debug logs every USB buffer). */
  logLevel?: LogLevel;
}

/** A fresh RP2040 with `image` (BIN or UF2 bytes) in flash, reset into its vector table. */
export function loadImage(image: Uint8Array, options: LoadOptions = {}): RP2040 {
  const flat = toFlatImage(image);
  const mcu = new RP2040();
  mcu.logger = new ConsoleLogger(options.logLevel ?? LogLevel.Warn, true);
  fitFlash(mcu, FLASH_SIZE);
  mcu.flash.set(flat, 0);
  const view = new DataView(flat.buffer, flat.byteOffset, flat.byteLength);
  const sp = view.getUint32(VECTOR_TABLE - FLASH_BASE, true);
  const pc = view.getUint32(VECTOR_TABLE - FLASH_BASE + 4, true);
  if ((sp & 0xf0000000) !== 0x20000000 || (pc & 0xff000001) !== 0x10000001) {
    throw new ImageFormatError(
      `no vector table at 0x${VECTOR_TABLE.toString(16)} (SP 0x${sp.toString(16)}, reset 0x${pc.toString(16)})`,
    );
  }
  mcu.core.VTOR = VECTOR_TABLE;
  mcu.core.reset();
  return mcu;
}

/**
 * rp2040js allocates and erases flash for the whole 16 MiB XIP window, which stays resident: 14 MiB more
 * per emulated board than a Pico has. It reads and writes flash only through these three fields, each
 * access bounded by `flash.length`, so an erased array of the real size takes their place. The 16 MiB
 * one is garbage then and its memory goes back to the system.
 */
function fitFlash(mcu: RP2040, size: number): void {
  const flash = new Uint8Array(size).fill(0xff);
  const fields = mcu as unknown as { flash: Uint8Array; flash16: Uint16Array; flashView: DataView };
  fields.flash = flash;
  fields.flash16 = new Uint16Array(flash.buffer);
  fields.flashView = new DataView(flash.buffer);
}

export function loadImageFile(path: string, options: LoadOptions = {}): RP2040 {
  return loadImage(new Uint8Array(readFileSync(path)), options);
}
