/** Loads test/vectors/protocol.json, the byte-exact vectors shared with the firmware's host tests. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface FrameVector {
  name: string;
  direction: 'host_to_device' | 'device_to_host';
  type: number;
  typeName: string;
  seq: number;
  payload: string;
  fields: Record<string, unknown>;
  frame: string;
  slip: string;
  note?: string;
}

export interface VectorFile {
  protocolVersion: number;
  maxPayload: number;
  maxFrame: number;
  crc: { checkInput: string; check: string };
  frames: FrameVector[];
  invalid: Array<{ name: string; slip: string; expect: string }>;
  streams: Array<{ name: string; bytes: string; frames: string[] }>;
}

export const vectors: VectorFile = JSON.parse(
  readFileSync(fileURLToPath(new URL('../vectors/protocol.json', import.meta.url)), 'utf8'),
);

/** JSON form of a decoded body: bigint -> decimal string, bytes -> hex, as the vector file writes them. */
export function toJsonShape(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(toJsonShape);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonShape(v)]));
  }
  return value;
}

/** The reverse: vector fields -> codec input (hex -> Buffer for byte fields, decimal strings -> bigint). */
export function fromJsonShape(fields: Record<string, unknown>): Record<string, unknown> {
  const bytesFields = new Set(['data']);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (bytesFields.has(k)) out[k] = Buffer.from(String(v), 'hex');
    else if (typeof v === 'string' && /Us$/.test(k)) out[k] = BigInt(v);
    else if (k === 'edges') out[k] = (v as Array<Record<string, unknown>>).map((e) => ({ ...e, timeUs: BigInt(e['timeUs'] as string) }));
    else out[k] = v;
  }
  return out;
}
