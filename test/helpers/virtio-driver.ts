/**
 * The driver side of split virtqueues, for tests and benchmarks: guest RAM in an ArrayBuffer (or any
 * mapping), ring allocation, adding direct or indirect chains, and reading the used ring back, the way
 * Linux's virtio_ring does it.
 */
import { GuestMemory } from '../../src/virtio/memory.js';
import { availRingSize, descTableSize, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, usedRingSize } from '../../src/virtio/queue.js';

export class GuestRam {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  private top = 0x1000;

  constructor(readonly size: number, readonly gpaBase = 0, readonly uvaBase = 0x7f00_0000_0000, bytes?: Uint8Array) {
    this.bytes = bytes ?? new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /** Allocates guest memory; returns its guest-physical address. */
  alloc(length: number, align = 16): number {
    this.top = Math.ceil(this.top / align) * align;
    const gpa = this.gpaBase + this.top;
    this.top += length;
    if (this.top > this.size) throw new Error('guest RAM exhausted');
    return gpa;
  }

  at(gpa: number, length: number): Uint8Array {
    return this.bytes.subarray(gpa - this.gpaBase, gpa - this.gpaBase + length);
  }

  uva(gpa: number): number {
    return gpa - this.gpaBase + this.uvaBase;
  }

  memory(): GuestMemory {
    return new GuestMemory([{ guestPhysAddr: this.gpaBase, userAddr: this.uvaBase, size: this.size, bytes: this.bytes }]);
  }
}

export interface BufferSpec {
  /** Bytes for a device-readable buffer. */
  data?: Uint8Array;
  /** Length of a device-writable buffer. */
  writable?: number;
}

export class DriverQueue {
  readonly descGpa: number;
  readonly availGpa: number;
  readonly usedGpa: number;
  private readonly free: number[];
  private availIdx: number;
  private lastUsed: number;
  /** Writable buffers per head, to read completions back. */
  private readonly outputs = new Map<number, { gpa: number; length: number }[]>();
  private readonly chainIds = new Map<number, number[]>();

  constructor(readonly ram: GuestRam, readonly size: number, start = 0) {
    this.descGpa = ram.alloc(descTableSize(size), 16);
    this.availGpa = ram.alloc(availRingSize(size), 2);
    this.usedGpa = ram.alloc(usedRingSize(size), 4);
    this.free = Array.from({ length: size }, (_, i) => i);
    this.availIdx = start & 0xffff;
    this.lastUsed = start & 0xffff;
    ram.view.setUint16(this.availGpa - ram.gpaBase + 2, this.availIdx, true);
    ram.view.setUint16(this.usedGpa - ram.gpaBase + 2, this.lastUsed, true);
  }

  /** Views for SplitQueue's setup. */
  rings() {
    return {
      desc: this.ram.at(this.descGpa, descTableSize(this.size)),
      avail: this.ram.at(this.availGpa, availRingSize(this.size)),
      used: this.ram.at(this.usedGpa, usedRingSize(this.size)),
    };
  }

  writeDesc(tableGpa: number, index: number, addr: number | bigint, len: number, flags: number, next: number): void {
    const at = tableGpa - this.ram.gpaBase + index * 16;
    this.ram.view.setBigUint64(at, BigInt(addr), true);
    this.ram.view.setUint32(at + 8, len, true);
    this.ram.view.setUint16(at + 12, flags, true);
    this.ram.view.setUint16(at + 14, next, true);
  }

  /** Places buffers as a chain (or one indirect table) and makes it available; returns the head. */
  add(buffers: BufferSpec[], options: { indirect?: boolean } = {}): number {
    const outputs: { gpa: number; length: number }[] = [];
    const placed = buffers.map((b) => {
      const length = b.data ? b.data.length : b.writable!;
      const gpa = this.ram.alloc(Math.max(1, length), 8);
      if (b.data) this.ram.at(gpa, length).set(b.data);
      else outputs.push({ gpa, length });
      return { gpa, length, write: !b.data };
    });
    let head: number;
    if (options.indirect) {
      const table = this.ram.alloc(16 * placed.length, 16);
      placed.forEach((p, i) => this.writeDesc(table, i, p.gpa, p.length, (p.write ? DESC_F_WRITE : 0) | (i < placed.length - 1 ? DESC_F_NEXT : 0), i + 1));
      head = this.take(1)[0]!;
      this.writeDesc(this.descGpa, head, table, 16 * placed.length, DESC_F_INDIRECT, 0);
      this.chainIds.set(head, [head]);
    } else {
      const ids = this.take(placed.length);
      placed.forEach((p, i) => this.writeDesc(this.descGpa, ids[i]!, p.gpa, p.length, (p.write ? DESC_F_WRITE : 0) | (i < placed.length - 1 ? DESC_F_NEXT : 0), ids[i + 1] ?? 0));
      head = ids[0]!;
      this.chainIds.set(head, ids);
    }
    this.outputs.set(head, outputs);
    this.publish(head);
    return head;
  }

  /** Puts an already written head on the avail ring. */
  publish(head: number): void {
    const slot = this.availIdx % this.size;
    this.ram.view.setUint16(this.availGpa - this.ram.gpaBase + 4 + 2 * slot, head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.ram.view.setUint16(this.availGpa - this.ram.gpaBase + 2, this.availIdx, true);
  }

  take(count: number): number[] {
    if (this.free.length < count) throw new Error('descriptor table full');
    return this.free.splice(0, count);
  }

  setAvailFlags(flags: number): void {
    this.ram.view.setUint16(this.availGpa - this.ram.gpaBase, flags, true);
  }

  setUsedEvent(index: number): void {
    this.ram.view.setUint16(this.availGpa - this.ram.gpaBase + 4 + 2 * this.size, index, true);
  }

  /** virtqueue_enable_cb with EVENT_IDX: ask for a call when the device passes what we have seen. */
  enableCallbacks(): void {
    this.setUsedEvent(this.lastUsed);
  }

  /** Whether the device has used buffers we have not collected. */
  hasCompletions(): boolean {
    return this.ram.view.getUint16(this.usedGpa - this.ram.gpaBase + 2, true) !== this.lastUsed;
  }

  availEvent(): number {
    return this.ram.view.getUint16(this.usedGpa - this.ram.gpaBase + 4 + 8 * this.size, true);
  }

  usedFlags(): number {
    return this.ram.view.getUint16(this.usedGpa - this.ram.gpaBase, true);
  }

  /** Completions since the last call, with the bytes the device wrote. */
  completions(): Array<{ head: number; len: number; output: Buffer }> {
    const usedIdx = this.ram.view.getUint16(this.usedGpa - this.ram.gpaBase + 2, true);
    const out: Array<{ head: number; len: number; output: Buffer }> = [];
    while (this.lastUsed !== usedIdx) {
      const slot = this.lastUsed % this.size;
      const base = this.usedGpa - this.ram.gpaBase + 4 + 8 * slot;
      const head = this.ram.view.getUint32(base, true);
      const len = this.ram.view.getUint32(base + 4, true);
      const parts = (this.outputs.get(head) ?? []).map((o) => Buffer.from(this.ram.at(o.gpa, o.length)));
      out.push({ head, len, output: Buffer.concat(parts).subarray(0, len) });
      this.free.push(...(this.chainIds.get(head) ?? [head]));
      this.chainIds.delete(head);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }
}
