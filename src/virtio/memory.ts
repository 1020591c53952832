/**
 * Guest memory as the vhost-user frontend shares it: regions, each mapped from a file descriptor, known by
 * two addresses. Ring addresses (SET_VRING_ADDR) are frontend virtual addresses (uva); addresses inside
 * descriptors are guest-physical (gpa). Everything here is bounds-checked: a guest that names memory
 * outside every region gets a GuestMemoryError, never an out-of-range access.
 */

export interface MemoryRegion {
  guestPhysAddr: number;
  userAddr: number;
  size: number;
  /** The region's bytes (a view of the mapping, exactly `size` long). */
  bytes: Uint8Array;
}

export class GuestMemoryError extends Error {
  override name = 'GuestMemoryError';
}

/** Largest address we can represent exactly; anything above is outside every region by definition. */
const MAX_ADDR = Number.MAX_SAFE_INTEGER;

/** Reads a little-endian u64 as a Number, or returns -1 when it does not fit in 53 bits. */
export function readAddr(view: DataView, offset: number): number {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  return hi >= 0x200000 ? -1 : hi * 0x100000000 + lo;
}

export class GuestMemory {
  readonly regions: readonly MemoryRegion[];

  constructor(regions: MemoryRegion[]) {
    for (const r of regions) {
      if (r.bytes.length !== r.size) throw new GuestMemoryError(`region at gpa 0x${r.guestPhysAddr.toString(16)}: mapping is ${r.bytes.length} bytes, table says ${r.size}`);
      if (r.size <= 0 || r.guestPhysAddr < 0 || r.userAddr < 0 || r.guestPhysAddr + r.size > MAX_ADDR || r.userAddr + r.size > MAX_ADDR) {
        throw new GuestMemoryError(`region at gpa 0x${r.guestPhysAddr.toString(16)} of ${r.size} bytes is out of the addressable range`);
      }
    }
    const sorted = [...regions].sort((a, b) => a.guestPhysAddr - b.guestPhysAddr);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.guestPhysAddr + prev.size > sorted[i]!.guestPhysAddr) {
        throw new GuestMemoryError(`regions at gpa 0x${prev.guestPhysAddr.toString(16)} and 0x${sorted[i]!.guestPhysAddr.toString(16)} overlap`);
      }
    }
    this.regions = sorted;
  }

  /**
   * Views of `length` bytes at guest-physical `addr`: one view, or several when the range straddles
   * adjacent regions. Throws when any byte is outside guest memory.
   */
  gpaViews(addr: number, length: number): Uint8Array[] {
    if (addr < 0 || length < 0 || addr + length > MAX_ADDR) throw new GuestMemoryError(`gpa range 0x${addr.toString(16)}+${length} is out of range`);
    const views: Uint8Array[] = [];
    let at = addr;
    let left = length;
    while (left > 0) {
      const region = this.regions.find((r) => at >= r.guestPhysAddr && at < r.guestPhysAddr + r.size);
      if (!region) throw new GuestMemoryError(`gpa 0x${at.toString(16)} is outside guest memory`);
      const offset = at - region.guestPhysAddr;
      const take = Math.min(left, region.size - offset);
      views.push(region.bytes.subarray(offset, offset + take));
      at += take;
      left -= take;
    }
    return views;
  }

  /** One contiguous view at guest-physical `addr` (descriptor tables must not straddle regions). */
  gpaView(addr: number, length: number): Uint8Array {
    const views = this.gpaViews(addr, length);
    if (views.length > 1) throw new GuestMemoryError(`gpa range 0x${addr.toString(16)}+${length} straddles memory regions`);
    return views[0] ?? new Uint8Array(0);
  }

  /** One contiguous view at frontend-virtual `addr` (for ring addresses from SET_VRING_ADDR). */
  uvaView(addr: number, length: number): Uint8Array {
    if (addr < 0 || length < 0 || addr + length > MAX_ADDR) throw new GuestMemoryError(`uva range 0x${addr.toString(16)}+${length} is out of range`);
    const region = this.regions.find((r) => addr >= r.userAddr && addr + length <= r.userAddr + r.size);
    if (!region) throw new GuestMemoryError(`uva range 0x${addr.toString(16)}+${length} is not inside one memory region`);
    const offset = addr - region.userAddr;
    return region.bytes.subarray(offset, offset + length);
  }
}
