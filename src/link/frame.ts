/**
 * The frame inside each SLIP packet (hw/PROTOCOL.md §1.1): version, type, le16 seq, payload, le32 CRC-32C.
 * This module knows bytes only; message meaning lives in protocol.ts.
 */
import { crc32c } from './crc32c.js';

export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 4;
export const CRC_SIZE = 4;
export const MIN_FRAME = HEADER_SIZE + CRC_SIZE;
export const MAX_PAYLOAD = 256;
export const MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE;
/** Worst case on the wire between two END bytes: every byte escaped. */
export const MAX_ENCODED_FRAME = 2 * MAX_FRAME;

export interface Frame {
  version: number;
  type: number;
  seq: number;
  payload: Buffer;
}

/** Why a received packet is not a usable frame; each maps to one counter. */
export type FrameFault = 'framing' | 'crc' | 'version';

export type DecodedFrame = { ok: true; frame: Frame } | { ok: false; fault: FrameFault; frame?: Frame; detail: string };

export function encodeFrame(type: number, seq: number, payload: Uint8Array = Buffer.alloc(0), version = PROTOCOL_VERSION): Buffer {
  if (payload.length > MAX_PAYLOAD) {
    throw new RangeError(`payload of ${payload.length} bytes exceeds the protocol maximum of ${MAX_PAYLOAD}`);
  }
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length + CRC_SIZE);
  out[0] = version;
  out[1] = type;
  out.writeUInt16LE(seq & 0xffff, 2);
  out.set(payload, HEADER_SIZE);
  out.writeUInt32LE(crc32c(out, 0, HEADER_SIZE + payload.length), HEADER_SIZE + payload.length);
  return out;
}

/** Checks size, CRC and version, in the order §1.3 of the spec gives. */
export function decodeFrame(packet: Buffer): DecodedFrame {
  if (packet.length > MAX_FRAME) {
    return { ok: false, fault: 'framing', detail: `frame of ${packet.length} bytes exceeds ${MAX_FRAME}` };
  }
  if (packet.length < MIN_FRAME) {
    return { ok: false, fault: 'framing', detail: `frame of ${packet.length} bytes is shorter than ${MIN_FRAME}` };
  }
  const body = packet.length - CRC_SIZE;
  const expected = packet.readUInt32LE(body);
  const actual = crc32c(packet, 0, body);
  if (expected !== actual) {
    return {
      ok: false,
      fault: 'crc',
      detail: `CRC mismatch: frame says 0x${expected.toString(16).padStart(8, '0')}, bytes give 0x${actual.toString(16).padStart(8, '0')}`,
    };
  }
  const frame: Frame = {
    version: packet[0]!,
    type: packet[1]!,
    seq: packet.readUInt16LE(2),
    payload: packet.subarray(HEADER_SIZE, body),
  };
  if (frame.version !== PROTOCOL_VERSION) {
    return { ok: false, fault: 'version', frame, detail: `frame has protocol version ${frame.version}, expected ${PROTOCOL_VERSION}` };
  }
  return { ok: true, frame };
}
