/**
 * Firmware images for `vgpio flash`: UF2 (the format the RP2040 bootrom's drive takes) and flat BIN (the
 * bytes at the start of flash, 0x10000000), turned into 256-byte flash pages at absolute addresses.
 *
 * UF2 (https://github.com/microsoft/uf2, RP2040 datasheet, bootrom chapter, "UF2 Format Details"): 512-byte blocks,
 * magic 0x0A324655 0x9E5D5157 ... 0x0AB16F30; flag 0x2000 means word 7 is a family id, and the RP2040's is
 * 0xE48BFF56; the bootrom only takes 256-byte payloads at 256-byte aligned addresses.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** firmware/dist/ beside src/ and dist/, whichever this module was loaded from (as hw-files.ts does for hw/). */
const FIRMWARE_DIST_DIR = fileURLToPath(new URL('../../firmware/dist/', import.meta.url));
export const DEFAULT_FIRMWARE_IMAGE = `${FIRMWARE_DIST_DIR}vgpio.uf2`;

export const FLASH_BASE = 0x1000_0000;
/** The XIP window the bootrom addresses flash through: up to 16 MiB of flash (datasheet, address map: XIP 0x10000000). */
const FLASH_WINDOW_SIZE = 16 * 1024 * 1024;
export const FLASH_PAGE_SIZE = 256;
export const FLASH_SECTOR_SIZE = 4096;

export const UF2_MAGIC_START0 = 0x0a32_4655;
export const UF2_MAGIC_START1 = 0x9e5d_5157;
export const UF2_MAGIC_END = 0x0ab1_6f30;
export const UF2_FLAG_NOT_MAIN_FLASH = 0x0000_0001;
const UF2_FLAG_FILE_CONTAINER = 0x0000_1000;
export const UF2_FLAG_FAMILY_ID_PRESENT = 0x0000_2000;
export const RP2040_FAMILY_ID = 0xe48b_ff56;

const KNOWN_FAMILIES: Record<number, string> = {
  0xe48bff56: 'RP2040',
  0xe48bff57: 'RP2XXX absolute',
  0xe48bff58: 'RP2XXX data',
  0xe48bff59: 'RP2350 ARM secure',
  0xe48bff5a: 'RP2350 RISC-V',
  0xe48bff5b: 'RP2350 ARM non-secure',
  0x68ed2b88: 'SAMD21',
  0x55114460: 'SAMD51',
  0xada52840: 'nRF52840',
  0x1c5f21b0: 'ESP32',
  0xbfdd4eee: 'ESP32-S2',
  0xc47e5767: 'ESP32-S3',
  0x57755a57: 'STM32F4',
};

function familyName(id: number): string {
  return KNOWN_FAMILIES[id] ?? `unknown family 0x${id.toString(16).padStart(8, '0')}`;
}

export class ImageError extends Error {
  override name = 'ImageError';
}

export interface FlashImage {
  format: 'uf2' | 'bin';
  /** Where it came from, for messages. */
  source: string;
  /** 256-byte pages by absolute flash address, ascending, no duplicates. */
  pages: Array<{ address: number; data: Uint8Array }>;
  /** Payload bytes (pages x 256). */
  size: number;
  /** Lowest and one past the highest address written. */
  start: number;
  end: number;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

function finish(format: FlashImage['format'], source: string, pages: FlashImage['pages']): FlashImage {
  pages.sort((a, b) => a.address - b.address);
  const first = pages[0];
  const last = pages[pages.length - 1];
  if (!first || !last) throw new ImageError(`${source}: the image is empty`);
  return { format, source, pages, size: pages.length * FLASH_PAGE_SIZE, start: first.address, end: last.address + FLASH_PAGE_SIZE };
}

function checkFlashRange(source: string, address: number, size: number, what: string): void {
  if (address < FLASH_BASE || address + size > FLASH_BASE + FLASH_WINDOW_SIZE) {
    throw new ImageError(
      `${source}: ${what} targets ${hex(address)}..${hex(address + size - 1)}, outside flash (${hex(FLASH_BASE)}..${hex(FLASH_BASE + FLASH_WINDOW_SIZE - 1)}); ` +
        'vgpio flash writes flash images only (RAM-only UF2s are not supported)',
    );
  }
}

/** Parses a UF2 file for the RP2040: every block checked, foreign families and out-of-range targets refused. */
export function parseUf2(bytes: Uint8Array, source = 'image'): FlashImage {
  if (bytes.length === 0 || bytes.length % 512 !== 0) {
    throw new ImageError(`${source}: a UF2 file is a whole number of 512-byte blocks; this one is ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pages = new Map<number, Uint8Array>();
  let numBlocks: number | undefined;
  const seenBlockNos = new Set<number>();
  let skipped = 0;
  for (let offset = 0; offset < bytes.length; offset += 512) {
    const index = offset / 512;
    const word = (i: number) => view.getUint32(offset + i * 4, true);
    if (word(0) !== UF2_MAGIC_START0 || word(1) !== UF2_MAGIC_START1 || view.getUint32(offset + 508, true) !== UF2_MAGIC_END) {
      throw new ImageError(`${source}: block ${index} (file offset ${offset}) has bad UF2 magic numbers; the file is damaged or not UF2`);
    }
    const flags = word(2);
    const target = word(3);
    const payloadSize = word(4);
    const blockNo = word(5);
    const blocks = word(6);
    const family = word(7);
    if (numBlocks === undefined) numBlocks = blocks;
    if (blocks !== numBlocks || blockNo >= blocks) {
      throw new ImageError(`${source}: block ${index} says it is block ${blockNo} of ${blocks}, inconsistent with the file (${numBlocks} blocks)`);
    }
    if (seenBlockNos.has(blockNo)) throw new ImageError(`${source}: block number ${blockNo} appears twice`);
    seenBlockNos.add(blockNo);
    if (flags & UF2_FLAG_NOT_MAIN_FLASH || flags & UF2_FLAG_FILE_CONTAINER) {
      skipped++;
      continue; // not for the device's flash (comments, file containers): the bootrom ignores these too
    }
    if (!(flags & UF2_FLAG_FAMILY_ID_PRESENT)) {
      throw new ImageError(`${source}: block ${index} carries no family id; refusing to guess that it is for an RP2040 (build the UF2 with family 0xe48bff56)`);
    }
    if (family !== RP2040_FAMILY_ID) {
      throw new ImageError(`${source}: block ${index} is for ${familyName(family)} (family id ${hex(family)}), not an RP2040 (0xe48bff56); this image is for another chip`);
    }
    if (payloadSize !== FLASH_PAGE_SIZE) {
      throw new ImageError(`${source}: block ${index} has a ${payloadSize}-byte payload; the RP2040 bootrom takes 256-byte payloads only`);
    }
    if (target % FLASH_PAGE_SIZE !== 0) {
      throw new ImageError(`${source}: block ${index} targets ${hex(target)}, not 256-byte aligned`);
    }
    checkFlashRange(source, target, payloadSize, `block ${index}`);
    if (pages.has(target)) throw new ImageError(`${source}: two blocks target ${hex(target)}`);
    pages.set(target, bytes.slice(offset + 32, offset + 32 + FLASH_PAGE_SIZE));
  }
  if (pages.size === 0) throw new ImageError(`${source}: no flash blocks (${skipped} blocks not for main flash)`);
  if (numBlocks !== undefined && seenBlockNos.size !== numBlocks) {
    throw new ImageError(`${source}: has ${seenBlockNos.size} of the ${numBlocks} blocks it announces; the file is truncated`);
  }
  return finish('uf2', source, [...pages].map(([address, data]) => ({ address, data })));
}

/** A flat image placed at the start of flash; the last page is padded with 0xFF (erased flash). */
export function parseBin(bytes: Uint8Array, source = 'image', base = FLASH_BASE): FlashImage {
  if (bytes.length === 0) throw new ImageError(`${source}: the file is empty`);
  checkFlashRange(source, base, bytes.length, 'the image');
  const pages: FlashImage['pages'] = [];
  for (let offset = 0; offset < bytes.length; offset += FLASH_PAGE_SIZE) {
    const data = new Uint8Array(FLASH_PAGE_SIZE).fill(0xff);
    data.set(bytes.subarray(offset, offset + FLASH_PAGE_SIZE));
    pages.push({ address: base + offset, data });
  }
  return finish('bin', source, pages);
}

/** UF2 when the content says so (magic numbers), BIN for `.bin`; anything else is refused with the reason. */
export function parseImage(bytes: Uint8Array, source: string): FlashImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const looksUf2 = bytes.length >= 8 && view.getUint32(0, true) === UF2_MAGIC_START0 && view.getUint32(4, true) === UF2_MAGIC_START1;
  if (looksUf2) return parseUf2(bytes, source);
  if (source.toLowerCase().endsWith('.uf2')) throw new ImageError(`${source}: named .uf2 but does not start with the UF2 magic numbers`);
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    throw new ImageError(`${source}: this is an ELF file; flash the .uf2 or .bin built from it (firmware/build/vgpio.uf2)`);
  }
  if (source.toLowerCase().endsWith('.bin')) return parseBin(bytes, source);
  throw new ImageError(`${source}: not a UF2 file, and not named .bin; give a .uf2, or a flat .bin to place at 0x10000000`);
}

export function readImage(path: string = DEFAULT_FIRMWARE_IMAGE): FlashImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ImageError(`cannot read firmware image ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseImage(bytes, path);
}
