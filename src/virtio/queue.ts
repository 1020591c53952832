/**
 * The device side of a split virtqueue (virtio 1.2 §2.7): take descriptor chains off the available ring,
 * give them back on the used ring with exact lengths, and decide when the driver must be notified
 * (EVENT_IDX or the NO_INTERRUPT flag). The guest is not trusted: every index, address, length and chain
 * shape is checked, and a bad chain becomes a ChainFault that still names its head, so the device can
 * return it instead of leaving the driver waiting forever.
 */
import { GuestMemory, GuestMemoryError, readAddr } from './memory.js';

export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
export const AVAIL_F_NO_INTERRUPT = 1;
export const USED_F_NO_NOTIFY = 1;
export const DESC_SIZE = 16;
export const MAX_QUEUE_SIZE = 32768;

export const descTableSize = (size: number): number => DESC_SIZE * size;
export const availRingSize = (size: number): number => 6 + 2 * size;
export const usedRingSize = (size: number): number => 6 + 8 * size;

export interface DescriptorChain {
  /** Head descriptor index: what goes back on the used ring. */
  head: number;
  /** Device-readable buffers in order (views into guest memory). */
  readable: Uint8Array[];
  /** Device-writable buffers in order. */
  writable: Uint8Array[];
  readableLength: number;
  writableLength: number;
}

/** A chain the device cannot use; `head` is set so the device can still return it. */
export interface ChainFault {
  head: number;
  reason: string;
}

/** The ring itself is unusable (bad avail index or head): the queue stops until it is set up again. */
export class QueueError extends Error {
  override name = 'QueueError';
}

export interface QueueSetup {
  size: number;
  memory: GuestMemory;
  /** Views of the three ring areas, already translated from frontend addresses. */
  desc: Uint8Array;
  avail: Uint8Array;
  used: Uint8Array;
  eventIdx: boolean;
  indirect: boolean;
  /** Next available index to process (SET_VRING_BASE). */
  nextAvail?: number;
}

const dataView = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export class SplitQueue {
  readonly size: number;
  private readonly memory: GuestMemory;
  private readonly desc: DataView;
  private readonly avail: DataView;
  private readonly used: DataView;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  /** Free-running (mod 2^16) index of the next avail entry to take. */
  nextAvail: number;
  /** Free-running index of the next used entry to write. */
  nextUsed: number;
  /** used.idx when the driver was last notified; undefined forces the first notification. */
  private signalledUsed: number | undefined;

  constructor(setup: QueueSetup) {
    const { size } = setup;
    if (!Number.isInteger(size) || size < 1 || size > MAX_QUEUE_SIZE || (size & (size - 1)) !== 0) {
      throw new QueueError(`queue size ${size} is not a power of two up to ${MAX_QUEUE_SIZE}`);
    }
    if (setup.desc.length < descTableSize(size) || setup.avail.length < availRingSize(size) || setup.used.length < usedRingSize(size)) {
      throw new QueueError(`ring areas are smaller than a queue of ${size} needs`);
    }
    this.size = size;
    this.memory = setup.memory;
    this.desc = dataView(setup.desc);
    this.avail = dataView(setup.avail);
    this.used = dataView(setup.used);
    this.eventIdx = setup.eventIdx;
    this.indirect = setup.indirect;
    this.nextAvail = (setup.nextAvail ?? 0) & 0xffff;
    // Resynchronise with what the driver already saw completed (e.g. after a backend restart).
    this.nextUsed = this.used.getUint16(2, true);
  }

  /** Entries the driver has made available and we have not taken yet. */
  pending(): number {
    const pending = (this.avail.getUint16(2, true) - this.nextAvail) & 0xffff;
    if (pending > this.size) {
      throw new QueueError(`avail index moved ${pending} entries ahead of the device on a queue of ${this.size}`);
    }
    return pending;
  }

  /**
   * Takes the next chain off the available ring: a DescriptorChain, a ChainFault (return it with
   * length 0), or null when the ring is empty. Throws QueueError when the ring itself is corrupt.
   */
  pop(): DescriptorChain | ChainFault | null {
    if (this.pending() === 0) return null;
    const slot = this.nextAvail % this.size;
    const head = this.avail.getUint16(4 + 2 * slot, true);
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (head >= this.size) throw new QueueError(`avail ring slot ${slot} names descriptor ${head} on a queue of ${this.size}`);
    try {
      return this.walk(head);
    } catch (error) {
      if (error instanceof GuestMemoryError || error instanceof ChainError) return { head, reason: error.message };
      throw error;
    }
  }

  private walk(head: number): DescriptorChain {
    const chain: DescriptorChain = { head, readable: [], writable: [], readableLength: 0, writableLength: 0 };
    let table = this.desc;
    let tableSize = this.size;
    let index = head;
    let inIndirect = false;
    // Each descriptor may be visited once: more steps than the table has entries means a loop.
    let budget = tableSize;
    for (;;) {
      if (budget-- <= 0) throw new ChainError(`descriptor chain from head ${head} loops`);
      if (index >= tableSize) throw new ChainError(`descriptor ${index} is outside a table of ${tableSize}`);
      const at = index * DESC_SIZE;
      const addr = readAddr(table, at);
      const len = table.getUint32(at + 8, true);
      const flags = table.getUint16(at + 12, true);
      const next = table.getUint16(at + 14, true);

      if (flags & DESC_F_INDIRECT) {
        if (!this.indirect) throw new ChainError(`descriptor ${index} is indirect but INDIRECT_DESC was not negotiated`);
        if (inIndirect) throw new ChainError('an indirect table contains an indirect descriptor');
        if (flags & DESC_F_NEXT) throw new ChainError(`descriptor ${index} sets both INDIRECT and NEXT`);
        if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > MAX_QUEUE_SIZE) {
          throw new ChainError(`indirect table of ${len} bytes is not a whole number of descriptors`);
        }
        if (addr < 0) throw new ChainError(`indirect table address of descriptor ${index} is outside guest memory`);
        table = dataView(this.memory.gpaView(addr, len));
        tableSize = len / DESC_SIZE;
        budget = tableSize;
        index = 0;
        inIndirect = true;
        continue;
      }

      if (addr < 0) throw new ChainError(`descriptor ${index} address is outside guest memory`);
      const views = this.memory.gpaViews(addr, len);
      if (flags & DESC_F_WRITE) {
        chain.writable.push(...views);
        chain.writableLength += len;
      } else {
        if (chain.writable.length > 0) throw new ChainError(`readable descriptor ${index} follows a writable one`);
        chain.readable.push(...views);
        chain.readableLength += len;
      }
      if (!(flags & DESC_F_NEXT)) return chain;
      index = next;
    }
  }

  /** Returns a chain to the driver: `written` bytes were written to its writable buffers. */
  push(head: number, written: number): void {
    const slot = this.nextUsed % this.size;
    this.used.setUint32(4 + 8 * slot, head, true);
    this.used.setUint32(8 + 8 * slot, written, true);
    // The element must be visible before the index: program order suffices on x86 (TSO).
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    this.used.setUint16(2, this.nextUsed, true);
  }

  /** Whether the driver wants a call for what was pushed since the last notification. */
  needsNotification(): boolean {
    const old = this.signalledUsed;
    const now = this.nextUsed;
    if (old === now) return false;
    this.signalledUsed = now;
    if (old === undefined) return true;
    if (this.eventIdx) {
      const usedEvent = this.avail.getUint16(4 + 2 * this.size, true);
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.avail.getUint16(0, true) & AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * Asks the driver for a kick when it adds buffers (EVENT_IDX: publish avail_event; otherwise clear
   * NO_NOTIFY). Returns true when buffers arrived meanwhile, so the caller must process again instead of
   * sleeping: the re-check closes the lost-kick race.
   */
  enableNotifications(): boolean {
    if (this.eventIdx) this.used.setUint16(4 + 8 * this.size, this.nextAvail, true);
    else this.used.setUint16(0, 0, true);
    return this.pending() > 0;
  }

  /** Tells the driver not to kick while the device is busy processing anyway. */
  disableNotifications(): void {
    if (!this.eventIdx) this.used.setUint16(0, USED_F_NO_NOTIFY, true);
  }
}

class ChainError extends Error {}

/** Copies up to `max` bytes out of a chain's readable buffers. */
export function readChain(views: readonly Uint8Array[], max: number): Buffer {
  let total = 0;
  for (const v of views) total += v.length;
  const out = Buffer.allocUnsafe(Math.min(total, max));
  let at = 0;
  for (const v of views) {
    if (at >= out.length) break;
    const take = Math.min(v.length, out.length - at);
    out.set(v.subarray(0, take), at);
    at += take;
  }
  return out;
}

/** Writes `data` across a chain's writable buffers; returns the bytes written (never more than fit). */
export function writeChain(views: readonly Uint8Array[], data: Uint8Array): number {
  let at = 0;
  for (const v of views) {
    if (at >= data.length) break;
    const take = Math.min(v.length, data.length - at);
    v.set(data.subarray(at, at + take));
    at += take;
  }
  return at;
}
