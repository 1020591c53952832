/**
 * Message layer of protocol v1 (hw/PROTOCOL.md §2-§4): type codes, status codes, and one table of field
 * layouts from which every request, reply and event is encoded and decoded, in both directions (the host
 * encodes requests; tests, fakes and benchmarks play the device and encode replies and events).
 */
import { MAX_PAYLOAD } from './frame.js';

export const Status = {
  OK: 0,
  BAD_REQUEST: 1,
  BAD_LINE: 2,
  RESERVED_LINE: 3,
  UNSUPPORTED: 4,
  BUSY: 5,
  WRONG_DIRECTION: 6,
  BAD_VERSION: 7,
  INTERNAL: 8,
} as const;
export type StatusName = keyof typeof Status;
export const STATUS_NAMES: Record<number, StatusName> = Object.fromEntries(
  Object.entries(Status).map(([name, code]) => [code, name as StatusName]),
);
/** `detail` value meaning "nothing to name" (§2.1). */
export const NO_DETAIL = 0xff;

export const RequestType = {
  HELLO: 0x01,
  PING: 0x02,
  GET_STATS: 0x03,
  LINE_CONFIG: 0x04,
  SET_VALUES: 0x05,
  GET_VALUES: 0x06,
  PULSE: 0x07,
  FAILSAFE: 0x08,
  HEARTBEAT: 0x09,
  RESET: 0x0a,
  REBOOT_TO_BOOTLOADER: 0x0b,
  GET_LINE_CONFIG: 0x0c,
  LEVEL_REARM: 0x0d,
} as const;
export type RequestName = keyof typeof RequestType;
export const REPLY_BIT = 0x80;

export const EventType = {
  EDGES: 0x40,
  OVERFLOW: 0x41,
  LEVEL: 0x42,
  PULSE_DONE: 0x43,
  FAILSAFE_TRIPPED: 0x44,
  VERSION_MISMATCH: 0xff,
} as const;
export type EventName = keyof typeof EventType;

export const isRequestType = (type: number): boolean => type >= 0x01 && type <= 0x3f;
export const isReplyType = (type: number): boolean => type >= 0x81 && type <= 0xbf;
export const isEventType = (type: number): boolean => (type >= 0x40 && type <= 0x7f) || type === EventType.VERSION_MISMATCH;

/** Wire enums (§3.4). The numbers for direction are virtio-gpio's. */
export const Direction = { OFF: 0, OUTPUT: 1, INPUT: 2 } as const;
export const Bias = { NONE: 0, PULL_UP: 1, PULL_DOWN: 2, BUS_KEEPER: 3 } as const;
export const Drive = { PUSH_PULL: 0, OPEN_DRAIN: 1, OPEN_SOURCE: 2 } as const;
export const Edge = { NONE: 0, RISING: 1, FALLING: 2, BOTH: 3 } as const;
export const Level = { NONE: 0, HIGH: 1, LOW: 2 } as const;
export const EdgeKind = { RISING: 1, FALLING: 2 } as const;
export const PulseOutcome = { COMPLETED: 0, CANCELLED_BY_CONFIG: 1, CANCELLED_BY_FAILSAFE: 2 } as const;
export const Capability = {
  PULSE: 1 << 0,
  FAILSAFE: 1 << 1,
  DEBOUNCE: 1 << 2,
  OPEN_DRAIN: 1 << 3,
  OPEN_SOURCE: 1 << 4,
  PULL_UP: 1 << 5,
  PULL_DOWN: 1 << 6,
  BUS_KEEPER: 1 << 7,
  EDGE_EVENTS: 1 << 8,
  LEVEL_EVENTS: 1 << 9,
  BOOTLOADER: 1 << 10,
  STATS: 1 << 11,
} as const;
export const MAX_PING_DATA = MAX_PAYLOAD - 1 - 8;
export const MAX_EDGES_PER_FRAME = 31;

// ---- bodies -----------------------------------------------------------------------------------------

export interface WireLineConfig {
  lines: number;
  direction: number;
  value: number;
  bias: number;
  drive: number;
  edge: number;
  level: number;
  debounceUs: number;
}

export interface RequestBodies {
  HELLO: { minVersion: number; maxVersion: number };
  PING: { data: Buffer };
  GET_STATS: Record<string, never>;
  LINE_CONFIG: WireLineConfig;
  SET_VALUES: { mask: number; values: number };
  GET_VALUES: { mask: number };
  PULSE: { line: number; level: number; durationUs: number };
  FAILSAFE: { timeoutMs: number; driveMask: number; driveValues: number; releaseMask: number };
  HEARTBEAT: Record<string, never>;
  RESET: Record<string, never>;
  REBOOT_TO_BOOTLOADER: { activityLedMask: number; disableInterfaceMask: number };
  GET_LINE_CONFIG: { line: number };
  LEVEL_REARM: { mask: number };
}

export interface HelloInfo {
  protocolVersion: number;
  fwMajor: number;
  fwMinor: number;
  fwPatch: number;
  maxPayload: number;
  window: number;
  numLines: number;
  capabilities: number;
  reservedLines: number;
  boardId: number;
  eventCapacity: number;
  /** 16 lowercase hex digits, as in the USB serial string. */
  serial: string;
  timeUs: bigint;
}

export interface DeviceStats {
  rxFrames: number;
  rxCrcErrors: number;
  rxFramingErrors: number;
  rxBadVersion: number;
  rxUnknownType: number;
  txFrames: number;
  eventsSent: number;
  eventsLost: number;
  txStalls: number;
}

export type Empty = Record<string, never>;

export interface ReplyBodies {
  HELLO: HelloInfo;
  PING: { timeUs: bigint; data: Buffer };
  GET_STATS: DeviceStats;
  LINE_CONFIG: Empty;
  SET_VALUES: Empty;
  GET_VALUES: { values: number; timeUs: bigint };
  PULSE: { startUs: bigint };
  FAILSAFE: Empty;
  HEARTBEAT: Empty;
  RESET: Empty;
  REBOOT_TO_BOOTLOADER: Empty;
  GET_LINE_CONFIG: WireLineConfig & { pinLevel: number; flags: number; nextLineSeq: number };
  LEVEL_REARM: Empty;
}

export interface WireEdge {
  line: number;
  kind: number;
  /** Low 16 bits of the line's edge counter. */
  lineSeq: number;
  timeUs: bigint;
}

export interface EventBodies {
  EDGES: { baseUs: bigint; edges: WireEdge[] };
  OVERFLOW: { lost: number; lines: number; firstUs: bigint; lastUs: bigint };
  LEVEL: { timeUs: bigint; lines: number; values: number };
  PULSE_DONE: { line: number; level: number; outcome: number; startUs: bigint; endUs: bigint };
  FAILSAFE_TRIPPED: { timeUs: bigint; driveMask: number; driveValues: number; releaseMask: number; silenceMs: number };
  VERSION_MISMATCH: { minVersion: number; maxVersion: number };
}

// ---- layouts ----------------------------------------------------------------------------------------

/** u8/u16/u32 are numbers, u64 a bigint, `zero*` reserved bytes (written 0, not decoded),
 *  `hex8` 8 bytes shown as hex, `rest` every remaining byte, `edges` the EDGES records. */
type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 'zero8' | 'zero16' | 'hex8' | 'rest' | 'edges';
type Layout = ReadonlyArray<readonly [string, Kind]>;

const SIZE: Record<Kind, number> = { u8: 1, u16: 2, u32: 4, u64: 8, zero8: 1, zero16: 2, hex8: 8, rest: 0, edges: 0 };
const EDGE_RECORD_SIZE = 8;

const LINE_CONFIG_LAYOUT: Layout = [
  ['lines', 'u32'],
  ['direction', 'u8'],
  ['value', 'u8'],
  ['bias', 'u8'],
  ['drive', 'u8'],
  ['edge', 'u8'],
  ['level', 'u8'],
  ['reserved', 'zero16'],
  ['debounceUs', 'u32'],
];

const REQUEST_LAYOUTS: { [K in RequestName]: Layout } = {
  HELLO: [['minVersion', 'u8'], ['maxVersion', 'u8']],
  PING: [['data', 'rest']],
  GET_STATS: [],
  LINE_CONFIG: LINE_CONFIG_LAYOUT,
  SET_VALUES: [['mask', 'u32'], ['values', 'u32']],
  GET_VALUES: [['mask', 'u32']],
  PULSE: [['line', 'u8'], ['level', 'u8'], ['reserved', 'zero16'], ['durationUs', 'u32']],
  FAILSAFE: [['timeoutMs', 'u32'], ['driveMask', 'u32'], ['driveValues', 'u32'], ['releaseMask', 'u32']],
  HEARTBEAT: [],
  RESET: [],
  REBOOT_TO_BOOTLOADER: [['activityLedMask', 'u32'], ['disableInterfaceMask', 'u32']],
  GET_LINE_CONFIG: [['line', 'u8']],
  LEVEL_REARM: [['mask', 'u32']],
};

const REPLY_LAYOUTS: { [K in RequestName]: Layout } = {
  HELLO: [
    ['protocolVersion', 'u8'],
    ['fwMajor', 'u8'],
    ['fwMinor', 'u8'],
    ['fwPatch', 'u8'],
    ['maxPayload', 'u16'],
    ['window', 'u8'],
    ['numLines', 'u8'],
    ['capabilities', 'u32'],
    ['reservedLines', 'u32'],
    ['boardId', 'u16'],
    ['eventCapacity', 'u16'],
    ['serial', 'hex8'],
    ['timeUs', 'u64'],
  ],
  PING: [['timeUs', 'u64'], ['data', 'rest']],
  GET_STATS: [
    ['rxFrames', 'u32'],
    ['rxCrcErrors', 'u32'],
    ['rxFramingErrors', 'u32'],
    ['rxBadVersion', 'u32'],
    ['rxUnknownType', 'u32'],
    ['txFrames', 'u32'],
    ['eventsSent', 'u32'],
    ['eventsLost', 'u32'],
    ['txStalls', 'u32'],
  ],
  LINE_CONFIG: [],
  SET_VALUES: [],
  GET_VALUES: [['values', 'u32'], ['timeUs', 'u64']],
  PULSE: [['startUs', 'u64']],
  FAILSAFE: [],
  HEARTBEAT: [],
  RESET: [],
  REBOOT_TO_BOOTLOADER: [],
  GET_LINE_CONFIG: [...LINE_CONFIG_LAYOUT, ['pinLevel', 'u8'], ['flags', 'u8'], ['nextLineSeq', 'u16']],
  LEVEL_REARM: [],
};

const EVENT_LAYOUTS: { [K in EventName]: Layout } = {
  EDGES: [['baseUs', 'u64'], ['edges', 'edges']],
  OVERFLOW: [['lost', 'u32'], ['lines', 'u32'], ['firstUs', 'u64'], ['lastUs', 'u64']],
  LEVEL: [['timeUs', 'u64'], ['lines', 'u32'], ['values', 'u32']],
  PULSE_DONE: [['line', 'u8'], ['level', 'u8'], ['outcome', 'u8'], ['reserved', 'zero8'], ['startUs', 'u64'], ['endUs', 'u64']],
  FAILSAFE_TRIPPED: [['timeUs', 'u64'], ['driveMask', 'u32'], ['driveValues', 'u32'], ['releaseMask', 'u32'], ['silenceMs', 'u32']],
  VERSION_MISMATCH: [['minVersion', 'u8'], ['maxVersion', 'u8']],
};

/** The reverse of a name -> code table: code -> name. */
export const namesByCode = <T extends Record<string, number>>(table: T): Map<number, keyof T & string> =>
  new Map(Object.entries(table).map(([name, code]) => [code, name as keyof T & string]));

const REQUEST_NAMES = namesByCode(RequestType);
const EVENT_NAMES = namesByCode(EventType);
export const requestName = (type: number): RequestName | undefined => REQUEST_NAMES.get(type);
export const eventName = (type: number): EventName | undefined => EVENT_NAMES.get(type);

/** A payload that does not fit its type's layout. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/** Sizes of a layout, worked out once per layout: every request and reply is encoded or decoded by one. */
interface LayoutShape {
  fixed: number;
  tail: boolean;
}
const shapes = new WeakMap<Layout, LayoutShape>();
function shapeOf(layout: Layout): LayoutShape {
  let shape = shapes.get(layout);
  if (shape === undefined) {
    shape = {
      fixed: layout.reduce((n, [, kind]) => n + SIZE[kind], 0),
      tail: layout.some(([, kind]) => kind === 'rest' || kind === 'edges'),
    };
    shapes.set(layout, shape);
  }
  return shape;
}

function integer(value: unknown, what: string, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${what}: field ${name} must be an integer, got ${String(value)}`);
  return value;
}

function encodeLayout(layout: Layout, body: Record<string, unknown>, what: string, prefix?: number): Buffer {
  const shape = shapeOf(layout);
  let size = shape.fixed + (prefix === undefined ? 0 : 1);
  if (shape.tail) {
    for (const [name, kind] of layout) {
      if (kind === 'rest') size += (body[name] as Uint8Array).length;
      if (kind === 'edges') size += (body[name] as WireEdge[]).length * EDGE_RECORD_SIZE;
    }
  }
  if (size > MAX_PAYLOAD) throw new RangeError(`${what}: payload of ${size} bytes exceeds ${MAX_PAYLOAD}`);
  // Unpooled zero-filled allocation is the slow path of Buffer; every byte is written below instead
  // (reserved fields explicitly as zeros).
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (prefix !== undefined) out[at++] = prefix;
  for (const [name, kind] of layout) {
    const value = body[name];
    switch (kind) {
      case 'u8': out.writeUInt8(integer(value, what, name), at); break;
      case 'u16': out.writeUInt16LE(integer(value, what, name), at); break;
      case 'u32': out.writeUInt32LE(integer(value, what, name) >>> 0, at); break;
      case 'u64': out.writeBigUInt64LE(BigInt(value as bigint), at); break;
      case 'zero8': out[at] = 0; break;
      case 'zero16': out[at] = 0; out[at + 1] = 0; break;
      case 'hex8': {
        const bytes = Buffer.from(String(value), 'hex');
        if (bytes.length !== 8) throw new TypeError(`${what}: field ${name} must be 16 hex digits`);
        out.set(bytes, at);
        break;
      }
      case 'rest': out.set(value as Uint8Array, at); at += (value as Uint8Array).length; break;
      case 'edges': {
        const base = BigInt(body['baseUs'] as bigint);
        for (const edge of value as WireEdge[]) {
          const delta = edge.timeUs - base;
          if (delta < 0n || delta > 0xffffffffn) throw new RangeError(`${what}: edge at ${edge.timeUs} us is not within 2^32 us after base ${base}`);
          out.writeUInt8(edge.line, at);
          out.writeUInt8(edge.kind, at + 1);
          out.writeUInt16LE(edge.lineSeq & 0xffff, at + 2);
          out.writeUInt32LE(Number(delta), at + 4);
          at += EDGE_RECORD_SIZE;
        }
        break;
      }
    }
    at += SIZE[kind];
  }
  return out;
}

/**
 * @param exact requests must have exactly their size; reply bodies and events may carry trailing bytes
 *   from a later protocol revision, which are ignored (§5).
 */
function decodeLayout(layout: Layout, payload: Buffer, start: number, exact: boolean, what: string): Record<string, unknown> {
  const { fixed, tail } = shapeOf(layout);
  const available = payload.length - start;
  if (available < fixed || (exact && !tail && available !== fixed)) {
    throw new MalformedMessageError(`${what}: payload has ${available} bytes, the layout needs ${exact ? 'exactly ' : ''}${fixed}`);
  }
  const body: Record<string, unknown> = {};
  let at = start;
  for (const [name, kind] of layout) {
    switch (kind) {
      case 'u8': body[name] = payload.readUInt8(at); break;
      case 'u16': body[name] = payload.readUInt16LE(at); break;
      case 'u32': body[name] = payload.readUInt32LE(at); break;
      case 'u64': body[name] = payload.readBigUInt64LE(at); break;
      case 'zero8': case 'zero16': break;
      case 'hex8': body[name] = payload.toString('hex', at, at + 8); break;
      case 'rest': body[name] = Buffer.from(payload.subarray(at)); at = payload.length; break;
      case 'edges': {
        const count = (payload.length - at) / EDGE_RECORD_SIZE;
        if (!Number.isInteger(count) || count < 1 || count > MAX_EDGES_PER_FRAME) {
          throw new MalformedMessageError(`${what}: ${payload.length - at} bytes of records is not 1 to ${MAX_EDGES_PER_FRAME} records of ${EDGE_RECORD_SIZE} bytes`);
        }
        const base = body['baseUs'] as bigint;
        const edges: WireEdge[] = [];
        for (let i = 0; i < count; i++, at += EDGE_RECORD_SIZE) {
          edges.push({
            line: payload.readUInt8(at),
            kind: payload.readUInt8(at + 1),
            lineSeq: payload.readUInt16LE(at + 2),
            timeUs: base + BigInt(payload.readUInt32LE(at + 4)),
          });
        }
        body[name] = edges;
        break;
      }
    }
    at += SIZE[kind];
  }
  return body;
}

// ---- public encode --------------------------------------------------------------------------------

export function encodeRequest<K extends RequestName>(name: K, body: RequestBodies[K]): Buffer {
  if (name === 'PING' && (body as RequestBodies['PING']).data.length > MAX_PING_DATA) {
    throw new RangeError(`PING: at most ${MAX_PING_DATA} bytes of data, got ${(body as RequestBodies['PING']).data.length}`);
  }
  return encodeLayout(REQUEST_LAYOUTS[name], body as Record<string, unknown>, name);
}

export function encodeReply<K extends RequestName>(name: K, body: ReplyBodies[K]): Buffer {
  return encodeLayout(REPLY_LAYOUTS[name], body as Record<string, unknown>, `${name} reply`, Status.OK);
}

export function encodeErrorReply(status: number, detail: number = NO_DETAIL): Buffer {
  if (status === Status.OK) throw new RangeError('an error reply needs a status other than OK');
  return Buffer.from([status, detail]);
}

export function encodeEvent<K extends EventName>(name: K, body: EventBodies[K]): Buffer {
  return encodeLayout(EVENT_LAYOUTS[name], body as Record<string, unknown>, name);
}

// ---- public decode --------------------------------------------------------------------------------

export type DecodedRequest = { [K in RequestName]: { name: K; body: RequestBodies[K] } }[RequestName];
export type DecodedEvent = { [K in EventName]: { name: K; body: EventBodies[K] } }[EventName];
export interface DecodedReply {
  /** The request this answers, if its type is known. */
  name: RequestName | undefined;
  status: number;
  /** Line, version or NO_DETAIL for error replies; undefined for OK. */
  detail: number | undefined;
  /** Body for OK replies to known requests. */
  body: Record<string, unknown> | undefined;
}

export function decodeRequest(type: number, payload: Buffer): DecodedRequest {
  const name = requestName(type);
  if (name === undefined) throw new MalformedMessageError(`unknown request type 0x${type.toString(16)}`);
  if (name === 'PING' && payload.length > MAX_PING_DATA) {
    throw new MalformedMessageError(`PING: ${payload.length} bytes of data exceeds ${MAX_PING_DATA}`);
  }
  return { name, body: decodeLayout(REQUEST_LAYOUTS[name], payload, 0, true, name) } as DecodedRequest;
}

export function decodeReply(type: number, payload: Buffer): DecodedReply {
  const name = requestName(type & ~REPLY_BIT);
  if (payload.length < 1) throw new MalformedMessageError(`reply 0x${type.toString(16)} has no status byte`);
  const status = payload[0]!;
  if (status !== Status.OK) {
    return { name, status, detail: payload.length >= 2 ? payload[1]! : NO_DETAIL, body: undefined };
  }
  const body = name === undefined ? {} : decodeLayout(REPLY_LAYOUTS[name], payload, 1, false, `${name} reply`);
  return { name, status, detail: undefined, body };
}

export function decodeEvent(type: number, payload: Buffer): DecodedEvent {
  const name = eventName(type);
  if (name === undefined) throw new MalformedMessageError(`unknown event type 0x${type.toString(16)}`);
  return { name, body: decodeLayout(EVENT_LAYOUTS[name], payload, 0, false, name) } as DecodedEvent;
}
