/**
 * vhost-user messages (QEMU docs/interop/vhost-user.rst): the 12-byte header, request codes, feature bits,
 * and strict parsers for the payloads a virtio-gpio backend handles. Fields are host byte order
 * (little-endian on every platform we run on). A payload that does not fit its request is a
 * VhostMessageError naming the request and what was wrong.
 */

export const HEADER_SIZE = 12;
/** Largest payload we accept; rust-vmm uses the same cap. A larger size means a broken stream. */
export const MAX_PAYLOAD = 0x1000;
/** Room for ancillary fds per message (QEMU sends at most 8). */
export const MAX_FDS = 8;
/** VHOST_MEMORY_BASELINE_NREGIONS: SET_MEM_TABLE carries at most this many regions. */
export const MAX_MEM_REGIONS = 8;

export const FLAG_VERSION = 0x1;
export const FLAG_VERSION_MASK = 0x3;
export const FLAG_REPLY = 0x4;
export const FLAG_NEED_REPLY = 0x8;

export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  RESET_DEVICE: 34,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
} as const;
export type ReqName = keyof typeof Req;
const REQ_NAMES = new Map<number, ReqName>(Object.entries(Req).map(([k, v]) => [v, k as ReqName]));
export const reqName = (code: number): string => REQ_NAMES.get(code) ?? `request ${code}`;

/** Virtio transport feature bits (virtio 1.2 §6). */
export const VirtioFeature = {
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  /** Borrowed by vhost-user: GET/SET_PROTOCOL_FEATURES are available. */
  PROTOCOL_FEATURES: 30,
  VERSION_1: 32,
} as const;

export const ProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  REPLY_ACK: 3,
  BACKEND_REQ: 5,
  CONFIG: 9,
} as const;

export const bit = (n: number): bigint => 1n << BigInt(n);

export class VhostMessageError extends Error {
  override name = 'VhostMessageError';
}

export interface Header {
  request: number;
  flags: number;
  size: number;
}

export function parseHeader(bytes: Buffer): Header {
  const header = { request: bytes.readUInt32LE(0), flags: bytes.readUInt32LE(4), size: bytes.readUInt32LE(8) };
  if ((header.flags & FLAG_VERSION_MASK) !== FLAG_VERSION) {
    throw new VhostMessageError(`${reqName(header.request)}: header version ${header.flags & FLAG_VERSION_MASK}, only version 1 exists`);
  }
  if (header.size > MAX_PAYLOAD) {
    throw new VhostMessageError(`${reqName(header.request)}: payload size ${header.size} exceeds ${MAX_PAYLOAD}`);
  }
  return header;
}

export function encodeReply(request: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + payload.length);
  out.writeUInt32LE(request, 0);
  out.writeUInt32LE(FLAG_VERSION | FLAG_REPLY, 4);
  out.writeUInt32LE(payload.length, 8);
  payload.copy(out, HEADER_SIZE);
  return out;
}

export const u64 = (value: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return b;
};

function need(request: number, payload: Buffer, size: number, exact = true): void {
  if (exact ? payload.length !== size : payload.length < size) {
    throw new VhostMessageError(`${reqName(request)}: payload of ${payload.length} bytes, expected ${exact ? '' : 'at least '}${size}`);
  }
}

export function parseU64(request: number, payload: Buffer): bigint {
  need(request, payload, 8);
  return payload.readBigUInt64LE(0);
}

/** struct vhost_vring_state { unsigned int index; unsigned int num; } */
export function parseVringState(request: number, payload: Buffer): { index: number; num: number } {
  need(request, payload, 8);
  return { index: payload.readUInt32LE(0), num: payload.readUInt32LE(4) };
}

export function encodeVringState(index: number, num: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(index, 0);
  b.writeUInt32LE(num, 4);
  return b;
}

export interface VringAddr {
  index: number;
  flags: number;
  desc: number;
  used: number;
  avail: number;
}

/** Reads a u64 address as a Number; addresses that do not fit in 53 bits cannot name guest memory. */
function addr(request: number, payload: Buffer, offset: number, what: string): number {
  const value = payload.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new VhostMessageError(`${reqName(request)}: ${what} address 0x${value.toString(16)} is out of range`);
  return Number(value);
}

/** struct vhost_vring_addr { u32 index; u32 flags; u64 desc, used, avail, log; } (40 bytes) */
export function parseVringAddr(request: number, payload: Buffer): VringAddr {
  need(request, payload, 40);
  return {
    index: payload.readUInt32LE(0),
    flags: payload.readUInt32LE(4),
    desc: addr(request, payload, 8, 'descriptor table'),
    used: addr(request, payload, 16, 'used ring'),
    avail: addr(request, payload, 24, 'available ring'),
  };
}

/** SET_VRING_KICK/CALL/ERR: u64 with the ring index in bits 0-7 and "no fd" in bit 8. */
export function parseVringFd(request: number, payload: Buffer): { index: number; noFd: boolean } {
  const value = parseU64(request, payload);
  if (value & ~0x1ffn) throw new VhostMessageError(`${reqName(request)}: reserved bits set in 0x${value.toString(16)}`);
  return { index: Number(value & 0xffn), noFd: (value & 0x100n) !== 0n };
}

export interface MemRegionDesc {
  guestPhysAddr: number;
  size: number;
  userAddr: number;
  mmapOffset: number;
}

/** VhostUserMemory { u32 nregions; u32 padding; region[nregions] } with 32-byte regions. UML sends room
 *  for more regions than it fills, so the payload may be longer than nregions needs. */
export function parseMemTable(request: number, payload: Buffer): MemRegionDesc[] {
  need(request, payload, 8, false);
  const count = payload.readUInt32LE(0);
  if (count < 1 || count > MAX_MEM_REGIONS) throw new VhostMessageError(`${reqName(request)}: ${count} regions, expected 1 to ${MAX_MEM_REGIONS}`);
  need(request, payload, 8 + 32 * count, false);
  const regions: MemRegionDesc[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + 32 * i;
    const region = {
      guestPhysAddr: addr(request, payload, at, `region ${i} guest physical`),
      size: addr(request, payload, at + 8, `region ${i} size`),
      userAddr: addr(request, payload, at + 16, `region ${i} user`),
      mmapOffset: addr(request, payload, at + 24, `region ${i} mmap offset`),
    };
    if (region.size === 0) throw new VhostMessageError(`${reqName(request)}: region ${i} is empty`);
    regions.push(region);
  }
  return regions;
}

/** VhostUserConfig { u32 offset; u32 size; u32 flags; u8 region[size]; } */
export function parseConfig(request: number, payload: Buffer): { offset: number; size: number; flags: number; data: Buffer } {
  need(request, payload, 12, false);
  const offset = payload.readUInt32LE(0);
  const size = payload.readUInt32LE(4);
  const flags = payload.readUInt32LE(8);
  need(request, payload, 12 + size);
  return { offset, size, flags, data: payload.subarray(12) };
}
