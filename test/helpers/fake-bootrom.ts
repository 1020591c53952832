/**
 * A simulated RP2040 bootrom at the USB interface boundary: implements PicobootTransport (the same
 * interface the `usb` package transport implements in src/board/usb-boot.ts) with a flash model, so the
 * PICOBOOT client and `vgpio flash` are tested byte for byte without a board.
 *
 * What it enforces, after the RP2040 datasheet §2.8.5 "USB PICOBOOT Interface":
 * - commands are exactly 32 bytes on bulk OUT with dMagic 0x431fd10b; bCmdSize must be the command's
 *   argument size (EXCLUSIVE_ACCESS 1, REBOOT 12, FLASH_ERASE/READ/WRITE 8, EXIT_XIP/ENTER_CMD_XIP 0)
 *   else INVALID_CMD_LENGTH; an unknown bCmdId is UNKNOWN_CMD; dTransferLength must equal dSize for READ
 *   and WRITE and be 0 for the others, else INVALID_TRANSFER_LENGTH;
 * - the data phase follows in the command's direction, then an empty packet in the opposite direction
 *   (an empty IN packet when there is no data);
 * - a failing command stalls both bulk endpoints and records its status for GET_COMMAND_STATUS (vendor IN
 *   0x42, wIndex = the interface, 16 bytes); INTERFACE_RESET (vendor OUT 0x41) clears the halts, the last
 *   status and exclusive access; CLEAR_FEATURE(ENDPOINT_HALT) clears one endpoint's halt;
 * - flash is `flashSize` bytes (2 MiB, a Pico's W25Q16) at 0x10000000; anything else is INVALID_ADDRESS
 *   (the real bootrom also reads/writes RAM and reads ROM: not modelled here, the client never does);
 * - FLASH_ERASE: address and size 4 KiB aligned, else BAD_ALIGNMENT; erased bytes read 0xFF;
 * - WRITE to flash: address 256-byte aligned, else BAD_ALIGNMENT; a size that is not whole pages has its
 *   last page zero-filled (datasheet). Programming behaves like NOR flash (new = old AND data): the
 *   datasheet only says the results are "undefined" unless the flash was erased first, so every attempt to
 *   turn a 0 bit into 1 is recorded in `violations` for tests to assert on;
 * - FLASH_ERASE and WRITE before EXIT_XIP fail with UNKNOWN_ERROR: a rule of this model (the datasheet says
 *   EXIT_XIP makes the flash respond to serial commands; picotool always sends it first);
 * - a mass-storage write (massStorageWrite()) without EXCLUSIVE_ACCESS makes the next flash command fail
 *   with INTERLEAVED_WRITE; with exclusive access it is refused (the host sees write protection);
 * - after REBOOT's acknowledgement the device is gone: every transfer throws `disconnected`;
 * - transfers out of sequence (a bulk IN with nothing to send, an OUT when an IN ack is due) time out, as a
 *   NAKing device would, and are recorded in `violations`.
 */
import {
  FLASH_BASE,
  FLASH_PAGE_SIZE,
  FLASH_SECTOR_SIZE,
} from '../../src/board/flash-image.js';
import {
  ExclusiveMode,
  PICOBOOT_IF_CMD_STATUS,
  PICOBOOT_IF_RESET,
  PICOBOOT_MAGIC,
  PicobootCmd,
  PicobootStatus,
  REQUEST_TYPE_VENDOR_INTERFACE_IN,
  REQUEST_TYPE_VENDOR_INTERFACE_OUT,
  TransportError,
  type ControlSetup,
  type PicobootTransport,
} from '../../src/board/picoboot.js';

export interface LoggedCommand {
  token: number;
  cmdId: number;
  name: string;
  cmdSize: number;
  transferLength: number;
  /** READ, WRITE, FLASH_ERASE: dAddr, dSize. */
  address?: number;
  size?: number;
  /** EXCLUSIVE_ACCESS: bExclusive. REBOOT: dPC, dSP, dDelayMS. */
  exclusive?: number;
  reboot?: { pc: number; sp: number; delayMs: number };
  status: PicobootStatus;
}

export interface FakeBootromOptions {
  flashSize?: number;
  interfaceNumber?: number;
  /** Flash contents before the test (default: an "old firmware" pattern, so a missing erase shows). */
  initialFlash?: (offset: number) => number;
  /** Fails a command that would otherwise succeed: the device stalls and reports this status. */
  failCommand?: (cmd: LoggedCommand) => PicobootStatus | undefined;
  /** The device vanishes (cable pulled, reset) when this returns true for a command's data phase. */
  disconnectDuringData?: (cmd: LoggedCommand) => boolean;
  /** A flash cell that does not hold what is written: this byte always reads back XOR 0x01. */
  weakByteAt?: number;
  /** Acknowledge with a non-empty packet (a device that is not speaking PICOBOOT properly). */
  badAck?: boolean;
  /** GET_COMMAND_STATUS answers with OK whatever happened (a confused device). */
  statusAlwaysOk?: boolean;
}

type Phase =
  | { kind: 'command' }
  | { kind: 'data-out'; cmd: LoggedCommand; received: Uint8Array[]; count: number }
  | { kind: 'data-in'; cmd: LoggedCommand; data: Uint8Array }
  | { kind: 'ack-in'; cmd: LoggedCommand }
  | { kind: 'ack-out'; cmd: LoggedCommand };

const ARG_SIZES: Record<number, number> = {
  [PicobootCmd.EXCLUSIVE_ACCESS]: 1,
  [PicobootCmd.REBOOT]: 12,
  [PicobootCmd.FLASH_ERASE]: 8,
  [PicobootCmd.READ]: 8,
  [PicobootCmd.WRITE]: 8,
  [PicobootCmd.EXIT_XIP]: 0,
  [PicobootCmd.ENTER_CMD_XIP]: 0,
  [PicobootCmd.EXEC]: 4,
  [PicobootCmd.VECTORIZE_FLASH]: 4,
};

export class FakeBootrom implements PicobootTransport {
  readonly flash: Uint8Array;
  readonly flashSize: number;
  readonly interfaceNumber: number;
  /** Every command block received, in order, with the status it ended with. */
  readonly commands: LoggedCommand[] = [];
  /** Every transfer, as 'out:32', 'in:0', 'ctrl-in:0x42', ... */
  readonly transfers: string[] = [];
  readonly violations: string[] = [];
  exclusive = ExclusiveMode.NOT_EXCLUSIVE;
  xipExited = false;
  connected = true;
  rebooted: { pc: number; sp: number; delayMs: number } | undefined;
  massStorageRefused = 0;
  private pendingMassStorageWrite = false;
  private halted = { in: false, out: false };
  private phase: Phase = { kind: 'command' };
  private last = { token: 0, status: PicobootStatus.OK as number, cmdId: 0 };

  constructor(private readonly options: FakeBootromOptions = {}) {
    this.flashSize = options.flashSize ?? 2 * 1024 * 1024;
    this.interfaceNumber = options.interfaceNumber ?? 1;
    const initial = options.initialFlash ?? ((i: number) => (i * 7 + 0x5a) & 0xff);
    this.flash = new Uint8Array(this.flashSize).map((_, i) => initial(i));
  }

  /** Flash contents at an absolute address. */
  flashAt(address: number, size: number): Uint8Array {
    return this.flash.slice(address - FLASH_BASE, address - FLASH_BASE + size);
  }

  /** The host OS writes to the RPI-RP2 drive now. */
  massStorageWrite(): void {
    if (this.exclusive >= ExclusiveMode.EXCLUSIVE) this.massStorageRefused++;
    else this.pendingMassStorageWrite = true;
  }

  /** Pulls the cable. */
  disconnect(): void {
    this.connected = false;
  }

  // ---- PicobootTransport ------------------------------------------------------------------------

  async controlTransfer(setup: ControlSetup, dataOrLength: Uint8Array | number): Promise<Uint8Array> {
    this.alive();
    this.transfers.push(`ctrl:0x${setup.requestType.toString(16)}:0x${setup.request.toString(16)}`);
    if (setup.index !== this.interfaceNumber || setup.value !== 0) throw new TransportError('stall', 'control request not for the PICOBOOT interface');
    if (setup.requestType === REQUEST_TYPE_VENDOR_INTERFACE_IN && setup.request === PICOBOOT_IF_CMD_STATUS) {
      if (dataOrLength !== 16) throw new TransportError('stall', 'GET_COMMAND_STATUS has wLength 16');
      const out = new Uint8Array(16);
      const view = new DataView(out.buffer);
      view.setUint32(0, this.last.token, true);
      view.setUint32(4, this.options.statusAlwaysOk ? PicobootStatus.OK : this.last.status, true);
      view.setUint8(8, this.last.cmdId);
      view.setUint8(9, 0);
      return out;
    }
    if (setup.requestType === REQUEST_TYPE_VENDOR_INTERFACE_OUT && setup.request === PICOBOOT_IF_RESET) {
      if (typeof dataOrLength === 'number' || dataOrLength.length !== 0) throw new TransportError('stall', 'INTERFACE_RESET has no data');
      this.halted = { in: false, out: false };
      this.phase = { kind: 'command' };
      this.last = { token: 0, status: PicobootStatus.OK, cmdId: 0 };
      this.exclusive = ExclusiveMode.NOT_EXCLUSIVE;
      return new Uint8Array(0);
    }
    throw new TransportError('stall', `unsupported control request 0x${setup.requestType.toString(16)}/0x${setup.request.toString(16)}`);
  }

  async clearHalt(direction: 'in' | 'out'): Promise<void> {
    this.alive();
    this.transfers.push(`clear-halt:${direction}`);
    this.halted[direction] = false;
  }

  async bulkOut(data: Uint8Array): Promise<void> {
    this.alive();
    this.transfers.push(`out:${data.length}`);
    if (this.halted.out) throw new TransportError('stall', 'bulk OUT endpoint halted');
    const phase = this.phase;
    switch (phase.kind) {
      case 'command':
        return this.onCommand(data);
      case 'data-out': {
        if (this.options.disconnectDuringData?.(phase.cmd)) {
          this.connected = false;
          throw new TransportError('disconnected', 'LIBUSB_ERROR_NO_DEVICE');
        }
        phase.received.push(data.slice());
        phase.count += data.length;
        if (phase.count > phase.cmd.transferLength) return this.fail(phase.cmd, PicobootStatus.INVALID_TRANSFER_LENGTH);
        if (phase.count === phase.cmd.transferLength) {
          const all = new Uint8Array(phase.count);
          let at = 0;
          for (const chunk of phase.received) {
            all.set(chunk, at);
            at += chunk.length;
          }
          const status = this.program(phase.cmd, all);
          if (status !== PicobootStatus.OK) return this.fail(phase.cmd, status);
          this.phase = { kind: 'ack-in', cmd: phase.cmd };
        }
        return;
      }
      case 'ack-out':
        if (data.length !== 0) {
          this.violations.push(`${phase.cmd.name}: expected an empty OUT packet as acknowledgement, got ${data.length} bytes`);
          throw new TransportError('timeout', 'bulk OUT not accepted');
        }
        return this.complete(phase.cmd);
      default:
        this.violations.push(`bulk OUT of ${data.length} bytes while the device expects ${phase.kind}`);
        throw new TransportError('timeout', 'bulk OUT timed out (device NAKs)');
    }
  }

  async bulkIn(length: number): Promise<Uint8Array> {
    this.alive();
    this.transfers.push(`in:${length}`);
    if (this.halted.in) throw new TransportError('stall', 'bulk IN endpoint halted');
    const phase = this.phase;
    if (phase.kind === 'data-in') {
      if (this.options.disconnectDuringData?.(phase.cmd)) {
        this.connected = false;
        throw new TransportError('disconnected', 'LIBUSB_ERROR_NO_DEVICE');
      }
      const chunk = phase.data.subarray(0, length);
      const rest = phase.data.subarray(chunk.length);
      this.phase = rest.length ? { kind: 'data-in', cmd: phase.cmd, data: rest } : { kind: 'ack-out', cmd: phase.cmd };
      return chunk.slice();
    }
    if (phase.kind === 'ack-in') {
      this.complete(phase.cmd);
      return this.options.badAck ? new Uint8Array(4) : new Uint8Array(0);
    }
    this.violations.push(`bulk IN while the device expects ${phase.kind}`);
    throw new TransportError('timeout', 'bulk IN timed out (device NAKs)');
  }

  // ---- the bootrom --------------------------------------------------------------------------------

  private alive(): void {
    if (!this.connected) throw new TransportError('disconnected', 'LIBUSB_ERROR_NO_DEVICE: the device has been disconnected');
  }

  private complete(cmd: LoggedCommand): void {
    this.phase = { kind: 'command' };
    this.last = { token: cmd.token, status: PicobootStatus.OK, cmdId: cmd.cmdId };
    if (cmd.cmdId === PicobootCmd.REBOOT) {
      this.rebooted = cmd.reboot;
      this.connected = false;
    }
  }

  private fail(cmd: LoggedCommand, status: PicobootStatus): void {
    cmd.status = status;
    this.last = { token: cmd.token, status, cmdId: cmd.cmdId };
    this.halted = { in: true, out: true };
    this.phase = { kind: 'command' };
  }

  private onCommand(block: Uint8Array): void {
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
    if (block.length !== 32) {
      this.last = { token: 0, status: PicobootStatus.INVALID_CMD_LENGTH, cmdId: 0 };
      this.halted = { in: true, out: true };
      return;
    }
    const cmdId = view.getUint8(8);
    const cmd: LoggedCommand = {
      token: view.getUint32(4, true),
      cmdId,
      name: PicobootCmd[cmdId] ?? `0x${cmdId.toString(16)}`,
      cmdSize: view.getUint8(9),
      transferLength: view.getUint32(12, true),
      status: PicobootStatus.OK,
    };
    this.commands.push(cmd);
    if (view.getUint32(0, true) !== PICOBOOT_MAGIC) return this.fail(cmd, PicobootStatus.UNKNOWN_CMD);
    const argSize = ARG_SIZES[cmdId];
    if (argSize === undefined) return this.fail(cmd, PicobootStatus.UNKNOWN_CMD);
    if (cmd.cmdSize !== argSize) return this.fail(cmd, PicobootStatus.INVALID_CMD_LENGTH);
    if (view.getUint16(10, true) !== 0) this.violations.push(`${cmd.name}: reserved bytes 0x0a..0x0b are not zero`);
    for (let i = 16 + argSize; i < 32; i++) {
      if (block[i] !== 0) this.violations.push(`${cmd.name}: args are not zero-padded (byte 0x${i.toString(16)})`);
    }
    const ranged = cmdId === PicobootCmd.READ || cmdId === PicobootCmd.WRITE || cmdId === PicobootCmd.FLASH_ERASE;
    if (ranged) {
      cmd.address = view.getUint32(16, true);
      cmd.size = view.getUint32(20, true);
    }
    if (cmdId === PicobootCmd.EXCLUSIVE_ACCESS) cmd.exclusive = view.getUint8(16);
    if (cmdId === PicobootCmd.REBOOT) cmd.reboot = { pc: view.getUint32(16, true), sp: view.getUint32(20, true), delayMs: view.getUint32(24, true) };
    const needsData = cmdId === PicobootCmd.READ || cmdId === PicobootCmd.WRITE;
    if (needsData ? cmd.transferLength !== cmd.size : cmd.transferLength !== 0) return this.fail(cmd, PicobootStatus.INVALID_TRANSFER_LENGTH);

    const injected = this.options.failCommand?.(cmd);
    if (injected !== undefined) return this.fail(cmd, injected);

    if (ranged) {
      const status = this.checkRange(cmd);
      if (status !== PicobootStatus.OK) return this.fail(cmd, status);
    }
    switch (cmdId) {
      case PicobootCmd.EXCLUSIVE_ACCESS:
        if (cmd.exclusive! > ExclusiveMode.EXCLUSIVE_AND_EJECT) return this.fail(cmd, PicobootStatus.UNKNOWN_ERROR);
        this.exclusive = cmd.exclusive!;
        break;
      case PicobootCmd.EXIT_XIP:
        this.xipExited = true;
        break;
      case PicobootCmd.ENTER_CMD_XIP:
        this.xipExited = false;
        break;
      case PicobootCmd.FLASH_ERASE: {
        const status = this.flashReady(cmd);
        if (status !== PicobootStatus.OK) return this.fail(cmd, status);
        this.flash.fill(0xff, cmd.address! - FLASH_BASE, cmd.address! - FLASH_BASE + cmd.size!);
        break;
      }
      case PicobootCmd.WRITE: {
        const status = this.flashReady(cmd);
        if (status !== PicobootStatus.OK) return this.fail(cmd, status);
        this.phase = { kind: 'data-out', cmd, received: [], count: 0 };
        return;
      }
      case PicobootCmd.READ: {
        const data = this.flashAt(cmd.address!, cmd.size!);
        const weak = this.options.weakByteAt;
        if (weak !== undefined && weak >= cmd.address! && weak < cmd.address! + cmd.size!) data[weak - cmd.address!]! ^= 0x01;
        this.phase = { kind: 'data-in', cmd, data };
        return;
      }
      case PicobootCmd.REBOOT:
        break;
      default:
        return this.fail(cmd, PicobootStatus.UNKNOWN_CMD); // EXEC, VECTORIZE_FLASH: RAM is not modelled
    }
    this.phase = { kind: 'ack-in', cmd };
  }

  private checkRange(cmd: LoggedCommand): PicobootStatus {
    const { address, size } = cmd as Required<LoggedCommand>;
    if (address < FLASH_BASE || address + size > FLASH_BASE + this.flashSize || size === 0) return PicobootStatus.INVALID_ADDRESS;
    if (cmd.cmdId === PicobootCmd.FLASH_ERASE && (address % FLASH_SECTOR_SIZE || size % FLASH_SECTOR_SIZE)) return PicobootStatus.BAD_ALIGNMENT;
    if (cmd.cmdId === PicobootCmd.WRITE && address % FLASH_PAGE_SIZE) return PicobootStatus.BAD_ALIGNMENT;
    return PicobootStatus.OK;
  }

  private flashReady(cmd: LoggedCommand): PicobootStatus {
    if (!this.xipExited) {
      this.violations.push(`${cmd.name} before EXIT_XIP`);
      return PicobootStatus.UNKNOWN_ERROR;
    }
    if (this.pendingMassStorageWrite) {
      this.pendingMassStorageWrite = false;
      return PicobootStatus.INTERLEAVED_WRITE;
    }
    return PicobootStatus.OK;
  }

  /** WRITE's data phase: NOR programming (bits only go 1 -> 0), the last partial page zero-filled. */
  private program(cmd: LoggedCommand, data: Uint8Array): PicobootStatus {
    const padded = new Uint8Array(Math.ceil(data.length / FLASH_PAGE_SIZE) * FLASH_PAGE_SIZE);
    padded.set(data);
    if (cmd.address! + padded.length > FLASH_BASE + this.flashSize) return PicobootStatus.INVALID_ADDRESS;
    const base = cmd.address! - FLASH_BASE;
    let unerased = 0;
    for (let i = 0; i < padded.length; i++) {
      const old = this.flash[base + i]!;
      if (~old & padded[i]! & 0xff) unerased++;
      this.flash[base + i] = old & padded[i]!;
    }
    if (unerased) this.violations.push(`WRITE 0x${cmd.address!.toString(16)}+${data.length}: ${unerased} bytes needed 0 -> 1 bit changes (not erased first)`);
    return PicobootStatus.OK;
  }
}
