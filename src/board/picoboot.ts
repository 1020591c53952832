/**
 * A small client for the RP2040 bootrom's PICOBOOT interface (RP2040 datasheet §2.8.5 "USB PICOBOOT
 * Interface"; §2.7.5 in early editions), over a narrow transport so it can be tested against a simulated
 * bootrom (test/helpers/fake-bootrom.ts). The real transport (the `usb` package) is in usb-boot.ts.
 *
 * Protocol, as the datasheet gives it ("PICOBOOT Commands" and "Control Requests"):
 * - every command is exactly 32 bytes, little endian, sent to the interface's bulk OUT endpoint:
 *   dMagic 0x431fd10b, dToken, bCmdId (top bit set = data IN), bCmdSize (valid bytes of args),
 *   2 reserved bytes, dTransferLength, 16 bytes of args padded with zeros;
 * - when dTransferLength is non-zero that many bytes follow on the bulk pipe in the command's direction,
 *   and the command completes with an empty packet in the opposite direction; with no data, success is an
 *   empty IN packet;
 * - an invalid or failing command stalls the bulk endpoints; GET_COMMAND_STATUS (vendor IN request 0x42 to
 *   the interface, 16 bytes: dToken, dStatusCode, bCmdId, bInProgress) says why, and INTERFACE_RESET (vendor
 *   OUT request 0x41) clears the halts, aborts transfers and drops exclusive access.
 */
import { FLASH_PAGE_SIZE, FLASH_SECTOR_SIZE, type FlashImage } from './flash-image.js';

export const PICOBOOT_MAGIC = 0x431f_d10b;

export enum PicobootCmd {
  EXCLUSIVE_ACCESS = 0x01,
  REBOOT = 0x02,
  FLASH_ERASE = 0x03,
  READ = 0x84,
  WRITE = 0x05,
  EXIT_XIP = 0x06,
  ENTER_CMD_XIP = 0x07,
  EXEC = 0x08,
  VECTORIZE_FLASH = 0x09,
}

export enum PicobootStatus {
  OK = 0,
  UNKNOWN_CMD = 1,
  INVALID_CMD_LENGTH = 2,
  INVALID_TRANSFER_LENGTH = 3,
  INVALID_ADDRESS = 4,
  BAD_ALIGNMENT = 5,
  INTERLEAVED_WRITE = 6,
  REBOOTING = 7,
  UNKNOWN_ERROR = 8,
}

export enum ExclusiveMode {
  NOT_EXCLUSIVE = 0,
  EXCLUSIVE = 1,
  /** Also marks the mass-storage drive as not present, so the desktop does not show stale contents. */
  EXCLUSIVE_AND_EJECT = 2,
}

/** Control requests to the PICOBOOT interface (bRequest), and their bmRequestType (vendor, interface). */
export const PICOBOOT_IF_RESET = 0x41;
export const PICOBOOT_IF_CMD_STATUS = 0x42;
export const REQUEST_TYPE_VENDOR_INTERFACE_OUT = 0x41;
export const REQUEST_TYPE_VENDOR_INTERFACE_IN = 0xc1;

/** A control request as on the wire; `index` is the PICOBOOT interface number. */
export interface ControlSetup {
  requestType: number;
  request: number;
  value: number;
  index: number;
}

/**
 * What the client needs from USB: control requests on endpoint 0 and the interface's two bulk endpoints.
 * Implementations throw TransportError; a STALL handshake is `kind: 'stall'`.
 */
export interface PicobootTransport {
  /** IN when bit 7 of requestType is set: returns up to `length` bytes. OUT: sends `data`, returns nothing. */
  controlTransfer(setup: ControlSetup, dataOrLength: Uint8Array | number): Promise<Uint8Array>;
  bulkOut(data: Uint8Array): Promise<void>;
  /** Reads one transfer of at most `length` bytes (a short or empty packet ends it). */
  bulkIn(length: number): Promise<Uint8Array>;
  /** Clears a halted bulk endpoint (standard CLEAR_FEATURE(ENDPOINT_HALT)). */
  clearHalt(direction: 'in' | 'out'): Promise<void>;
  /** The PICOBOOT interface number (wIndex of control requests). */
  readonly interfaceNumber: number;
}

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(readonly kind: 'stall' | 'disconnected' | 'timeout' | 'access' | 'other', message: string) {
    super(message);
  }
}

export interface CommandStatus {
  token: number;
  status: number;
  statusName: string;
  cmdId: number;
  inProgress: boolean;
}

export class PicobootError extends Error {
  override name = 'PicobootError';
  constructor(
    message: string,
    readonly command: string,
    readonly status: CommandStatus | undefined,
    readonly transport: TransportError | undefined,
  ) {
    super(message);
  }
}

export class VerifyError extends Error {
  override name = 'VerifyError';
  constructor(readonly address: number, readonly expected: number, readonly actual: number) {
    super(`verify failed at 0x${address.toString(16).padStart(8, '0')}: wrote 0x${expected.toString(16).padStart(2, '0')}, read back 0x${actual.toString(16).padStart(2, '0')}`);
  }
}

function commandName(id: number): string {
  return PicobootCmd[id] ?? `command 0x${id.toString(16)}`;
}

export function statusName(code: number): string {
  return PicobootStatus[code] ?? `status ${code}`;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** The 32-byte command block (datasheet table "PICOBOOT Command Definition"). */
export function encodeCommand(token: number, cmdId: number, args: Uint8Array, transferLength: number): Uint8Array {
  if (args.length > 16) throw new RangeError('PICOBOOT args are at most 16 bytes');
  const block = new Uint8Array(32);
  const view = new DataView(block.buffer);
  view.setUint32(0, PICOBOOT_MAGIC, true);
  view.setUint32(4, token >>> 0, true);
  view.setUint8(8, cmdId);
  view.setUint8(9, args.length);
  view.setUint16(10, 0, true);
  view.setUint32(12, transferLength, true);
  block.set(args, 16);
  return block;
}

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

function decodeStatus(bytes: Uint8Array): CommandStatus {
  if (bytes.length !== 16) throw new Error(`GET_COMMAND_STATUS returned ${bytes.length} bytes, not 16`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const status = view.getUint32(4, true);
  return { token: view.getUint32(0, true), status, statusName: statusName(status), cmdId: view.getUint8(8), inProgress: view.getUint8(9) !== 0 };
}

/** Largest READ/WRITE this client sends in one command (one flash sector). */
const MAX_TRANSFER = FLASH_SECTOR_SIZE;

export class PicobootClient {
  private nextToken = 1;

  constructor(readonly transport: PicobootTransport) {}

  /** GET_COMMAND_STATUS: the status of the last command (may be one still in progress). */
  async commandStatus(): Promise<CommandStatus> {
    const bytes = await this.transport.controlTransfer(
      { requestType: REQUEST_TYPE_VENDOR_INTERFACE_IN, request: PICOBOOT_IF_CMD_STATUS, value: 0, index: this.transport.interfaceNumber },
      16,
    );
    return decodeStatus(bytes);
  }

  /**
   * INTERFACE_RESET: clears halts on both bulk endpoints, aborts any transfer and flash write in progress,
   * clears the last status and drops exclusive access. Halts are cleared host-side first (as picotool
   * does), so the host's data toggles agree with the device's.
   */
  async resetInterface(): Promise<void> {
    for (const direction of ['in', 'out'] as const) {
      try {
        await this.transport.clearHalt(direction);
      } catch (error) {
        if (error instanceof TransportError && error.kind === 'disconnected') throw error;
      }
    }
    await this.transport.controlTransfer(
      { requestType: REQUEST_TYPE_VENDOR_INTERFACE_OUT, request: PICOBOOT_IF_RESET, value: 0, index: this.transport.interfaceNumber },
      new Uint8Array(0),
    );
  }

  /**
   * One command: the 32-byte block, the data phase (if any), then the empty packet in the opposite
   * direction. On a stall the device's status is fetched and the interface reset, and a PicobootError says
   * which command failed and why.
   */
  async command(cmdId: PicobootCmd, args: Uint8Array, data?: Uint8Array | number, what = ''): Promise<Uint8Array> {
    const dataIn = (cmdId & 0x80) !== 0;
    const transferLength = data === undefined ? 0 : typeof data === 'number' ? data : data.length;
    if (dataIn !== (typeof data === 'number') && transferLength > 0) throw new Error(`${commandName(cmdId)}: data direction does not match the command id`);
    const token = this.nextToken++;
    const label = `${commandName(cmdId)}${what ? ` ${what}` : ''}`;
    let received: Uint8Array = new Uint8Array(0);
    try {
      await this.transport.bulkOut(encodeCommand(token, cmdId, args, transferLength));
      if (transferLength > 0) {
        if (dataIn) {
          received = await this.transport.bulkIn(transferLength);
          if (received.length !== transferLength) {
            throw new PicobootError(`${label}: the device sent ${received.length} of ${transferLength} bytes`, label, undefined, undefined);
          }
        } else {
          await this.transport.bulkOut(data as Uint8Array);
        }
      }
      if (dataIn) {
        await this.transport.bulkOut(new Uint8Array(0));
      } else {
        const ack = await this.transport.bulkIn(64);
        if (ack.length !== 0) {
          throw new PicobootError(`${label}: expected an empty acknowledgement packet, got ${ack.length} bytes; is this an RP2040 bootrom?`, label, undefined, undefined);
        }
      }
    } catch (error) {
      if (error instanceof PicobootError) {
        await this.recover();
        throw error;
      }
      if (!(error instanceof TransportError)) throw error;
      if (error.kind === 'disconnected') {
        throw new PicobootError(`${label}: the device disappeared (${error.message}); was the cable pulled or the board reset?`, label, undefined, error);
      }
      if (error.kind !== 'stall') throw new PicobootError(`${label}: ${error.message}`, label, undefined, error);
      let status: CommandStatus | undefined;
      let why: string;
      try {
        status = await this.commandStatus();
        if (status.token !== token) why = `stalled; the status is for another command (token ${status.token}, expected ${token}: ${status.statusName})`;
        else if (status.status === PicobootStatus.OK) why = 'stalled, but the device reports OK';
        else why = `refused by the bootrom: ${status.statusName}`;
      } catch (statusError) {
        why = `stalled, and GET_COMMAND_STATUS failed too (${(statusError as Error).message})`;
      }
      await this.recover();
      throw new PicobootError(`${label}: ${why}`, label, status, error);
    }
    return received;
  }

  private async recover(): Promise<void> {
    try {
      await this.resetInterface();
    } catch {
      // the first error is the one to report
    }
  }

  async exclusiveAccess(mode: ExclusiveMode): Promise<void> {
    await this.command(PicobootCmd.EXCLUSIVE_ACCESS, Uint8Array.of(mode), undefined, ExclusiveMode[mode]);
  }

  async exitXip(): Promise<void> {
    await this.command(PicobootCmd.EXIT_XIP, new Uint8Array(0));
  }

  async flashErase(address: number, size: number): Promise<void> {
    if (address % FLASH_SECTOR_SIZE || size % FLASH_SECTOR_SIZE || size === 0) throw new RangeError(`FLASH_ERASE needs 4 KiB sectors (${hex(address)}+${size})`);
    await this.command(PicobootCmd.FLASH_ERASE, words(address, size), undefined, `${hex(address)}+${size}`);
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    if (address % FLASH_PAGE_SIZE || data.length % FLASH_PAGE_SIZE || data.length === 0 || data.length > MAX_TRANSFER) {
      throw new RangeError(`WRITE takes whole 256-byte pages, at most ${MAX_TRANSFER} bytes (${hex(address)}+${data.length})`);
    }
    await this.command(PicobootCmd.WRITE, words(address, data.length), data, `${hex(address)}+${data.length}`);
  }

  async read(address: number, size: number): Promise<Uint8Array> {
    if (size === 0 || size > MAX_TRANSFER) throw new RangeError(`READ of 1..${MAX_TRANSFER} bytes (${size})`);
    return this.command(PicobootCmd.READ, words(address, size), size, `${hex(address)}+${size}`);
  }

  /** REBOOT: pc 0 = boot from flash normally; sp is used only for RAM boots; the reboot waits delayMs. */
  async reboot(pc = 0, sp = 0x2004_2000, delayMs = 500): Promise<void> {
    await this.command(PicobootCmd.REBOOT, words(pc, sp, delayMs), undefined, pc === 0 ? '(flash)' : hex(pc));
  }
}

export interface FlashProgress {
  phase: 'erase+write' | 'verify';
  done: number;
  total: number;
}

export interface FlashResult {
  sectors: number;
  bytesWritten: number;
  bytesVerified: number;
  /** Bytes outside the image in partly covered sectors, read first and written back unchanged. */
  bytesPreserved: number;
}

export interface FlashOptions {
  verify?: boolean;
  reboot?: boolean;
  onProgress?: (progress: FlashProgress) => void;
}

/** The image grouped by 4 KiB sector: the sector's full contents to write, and which bytes the image sets. */
function sectorsOf(image: FlashImage): Array<{ address: number; pages: FlashImage['pages'] }> {
  const sectors = new Map<number, FlashImage['pages']>();
  for (const page of image.pages) {
    const sector = page.address - (page.address % FLASH_SECTOR_SIZE);
    let list = sectors.get(sector);
    if (!list) sectors.set(sector, (list = []));
    list.push(page);
  }
  return [...sectors].sort(([a], [b]) => a - b).map(([address, pages]) => ({ address, pages }));
}

/**
 * Writes an image the way the bootrom wants it: EXCLUSIVE_ACCESS (eject the drive, so a desktop cannot
 * write to it meanwhile), EXIT_XIP, then per 4 KiB sector: READ it first if the image covers it only in
 * part (so the rest survives the erase), FLASH_ERASE, WRITE the whole sector (256-byte pages); then READ
 * everything back and compare; then REBOOT into the new image.
 */
export async function flashImage(client: PicobootClient, image: FlashImage, options: FlashOptions = {}): Promise<FlashResult> {
  const { verify = true, reboot = true, onProgress } = options;
  const sectors = sectorsOf(image);
  const result: FlashResult = { sectors: sectors.length, bytesWritten: 0, bytesVerified: 0, bytesPreserved: 0 };
  const contents: Uint8Array[] = [];

  // A fresh start: earlier runs may have left a halt, a half-done command, or exclusivity behind.
  await client.resetInterface();
  await client.exclusiveAccess(ExclusiveMode.EXCLUSIVE_AND_EJECT);
  await client.exitXip();

  onProgress?.({ phase: 'erase+write', done: 0, total: image.size });
  let done = 0;
  for (const sector of sectors) {
    const full = sector.pages.length === FLASH_SECTOR_SIZE / FLASH_PAGE_SIZE;
    const bytes = full ? new Uint8Array(FLASH_SECTOR_SIZE) : await client.read(sector.address, FLASH_SECTOR_SIZE);
    if (!full) result.bytesPreserved += FLASH_SECTOR_SIZE - sector.pages.length * FLASH_PAGE_SIZE;
    for (const page of sector.pages) bytes.set(page.data, page.address - sector.address);
    contents.push(bytes);
    await client.flashErase(sector.address, FLASH_SECTOR_SIZE);
    await client.write(sector.address, bytes);
    result.bytesWritten += bytes.length;
    done += sector.pages.length * FLASH_PAGE_SIZE;
    onProgress?.({ phase: 'erase+write', done, total: image.size });
  }

  if (verify) {
    try {
      await verifySectors(client, image, sectors, contents, result, onProgress);
    } catch (error) {
      // Leave the board in BOOTSEL for another try, with its drive back (INTERFACE_RESET drops exclusivity).
      if (error instanceof VerifyError) await client.resetInterface().catch(() => undefined);
      throw error;
    }
  }

  if (reboot) await client.reboot();
  return result;
}

async function verifySectors(
  client: PicobootClient,
  image: FlashImage,
  sectors: ReturnType<typeof sectorsOf>,
  contents: Uint8Array[],
  result: FlashResult,
  onProgress: FlashOptions['onProgress'],
): Promise<void> {
  {
    onProgress?.({ phase: 'verify', done: 0, total: image.size });
    let done = 0;
    for (const [i, sector] of sectors.entries()) {
      const expected = contents[i]!;
      const actual = await client.read(sector.address, FLASH_SECTOR_SIZE);
      for (let j = 0; j < expected.length; j++) {
        if (actual[j] !== expected[j]) throw new VerifyError(sector.address + j, expected[j]!, actual[j]!);
      }
      result.bytesVerified += expected.length;
      done += sector.pages.length * FLASH_PAGE_SIZE;
      onProgress?.({ phase: 'verify', done, total: image.size });
    }
  }
}
