/**
 * Fuzz target `vhost-backend`: hostile vhost-user message streams into the server's framing rules and the
 * VhostUserBackend state machine, with the virtio-gpio device behind it and an in-memory OS (FakeOs:
 * fds are numbers; double closes, leaks and maps past a file's end are caught).
 *
 * A session is a list of messages: any request code (known, unknown, huge), any flags (version bits,
 * REPLY, NEED_REPLY, junk), payloads that fit the request or not (short, long, oversized beyond
 * MAX_PAYLOAD), fds where none are expected and missing where required, messages before SET_OWNER or
 * features, memory tables with 0 to 9 regions that overlap, straddle, exceed the file or 2^53, rings
 * set up in any order, and kicks of whatever rings got started. Each message goes through parseHeader
 * first (what server.ts does with the 12 bytes it reads), then backend.handle.
 *
 * Invariants:
 *   - nothing but VhostMessageError comes out of parseHeader or handle; a VhostMessageError closes the
 *     connection (server.ts) and is logged;
 *   - every message that needs a reply (GET_*, and any message with NEED_REPLY once REPLY_ACK is
 *     negotiated) gets one, or the connection closes; replies are well-formed (request echoed, flags
 *     0x5, size matching) and bounded (at most MAX_PAYLOAD);
 *   - every fd handed to the backend is closed exactly once by the time the connection is closed, and
 *     every mapping is unmapped;
 *   - afterwards the same device serves a fresh, valid session (QEMU's message order) and answers a
 *     GET_DIRECTION request on its requestq.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VhostUserBackend } from '../../src/vhost/backend.js';
import {
  encodeVringState, FLAG_NEED_REPLY, FLAG_VERSION, HEADER_SIZE, MAX_PAYLOAD, parseHeader, ProtocolFeature, Req, VhostMessageError,
} from '../../src/vhost/messages.js';
import { VirtioGpioDevice } from '../../src/gpio/device.js';
import { GpioVhostDevice } from '../../src/gpio/vhost-device.js';
import { encodeGpioRequest, Msg } from '../../src/gpio/spec.js';
import { DriverQueue, GuestRam } from '../helpers/virtio-driver.js';
import { FakeBoard } from '../helpers/fake-board.js';
import { FakeOs } from '../helpers/fake-os.js';
import { FuzzRecord, fuzzRuns, loadCorpus, settle } from './support.js';

const record = new FuzzRecord('vhost-backend');
afterAll(() => record.write());

const ALWAYS_REPLY = new Set<number>([Req.GET_FEATURES, Req.GET_PROTOCOL_FEATURES, Req.GET_VRING_BASE, Req.GET_QUEUE_NUM, Req.GET_CONFIG, Req.GET_MAX_MEM_SLOTS]);
const FILE_SIZE = 0x40000; // covers the recorded sessions' RAM (128 KiB, at 64 KiB for UML)
const GPA = [0, 0x1000, 0x10000, 0x20000, 0xfa74000];
const SIZES = [0, 1, 0x1000, 0x10000, FILE_SIZE, FILE_SIZE + 1, 2 ** 40];
const UVA = 0x7f00_0000_0000;

/** A fd the frontend attaches: an eventfd-like fd or a guest-RAM file. */
type FdKind = 'event' | 'file';
export interface Message {
  request: number;
  flags: number;
  /** Hex payload; `size` overrides the header's size field (a lie about the payload length). */
  payload: string;
  size?: number;
  fds: FdKind[];
}
export interface Session {
  messages: Message[];
  /** After each message, kick every ring that has a kick fd (a guest with garbage rings). */
  kicks: boolean;
}

const hex = (b: Buffer): string => b.toString('hex');
const u64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, v)); return b; };
const u32s = (...values: number[]): Buffer => { const b = Buffer.alloc(4 * values.length); values.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 * i)); return b; };

const bigU64 = fc.oneof(fc.constantFrom(0n, 1n, 0x1_7000_0001n, 0x229n, 0x228n, 0x1ffn, 0x100n, 0x101n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const ringIndex = fc.oneof(fc.constantFrom(0, 1), fc.constantFrom(2, 255, 0xffffffff));
const vringNum = fc.oneof(fc.constantFrom(0, 1, 2, 3, 64, 256, 32768, 65535, 65536), fc.nat(0xffffffff));
const region = fc.record({
  gpa: fc.oneof(fc.constantFrom(...GPA), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  size: fc.constantFrom(...SIZES),
  uva: fc.oneof(fc.constantFrom(UVA, UVA + 0x1000, 0), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  offset: fc.constantFrom(0, 0x1000, FILE_SIZE, 2 ** 53),
});

/** A payload shaped for the request (or not). */
function payloadFor(request: number): fc.Arbitrary<{ payload: Buffer; fds: FdKind[] }> {
  const none = (payload: fc.Arbitrary<Buffer>) => payload.map((p) => ({ payload: p, fds: [] as FdKind[] }));
  switch (request) {
    case Req.SET_FEATURES:
    case Req.SET_PROTOCOL_FEATURES:
      return none(bigU64.map(u64));
    case Req.SET_VRING_NUM:
    case Req.SET_VRING_BASE:
    case Req.GET_VRING_BASE:
    case Req.SET_VRING_ENABLE:
      return none(fc.tuple(ringIndex, vringNum).map(([i, n]) => encodeVringState(i >>> 0, n >>> 0)));
    case Req.SET_VRING_ADDR:
      return none(
        fc.tuple(ringIndex, fc.nat(3), fc.constantFrom(0, 0x800, 0x1000, 0x1ff00, 0x20000), fc.constantFrom(0, 0x800, 0x1000, 0x2000, 0x1fff0), fc.constantFrom(0, 0x1000, 0x3000), fc.constantFrom(UVA, 0, 2 ** 53))
          .map(([i, flags, d, u, a, base]) => Buffer.concat([u32s(i, flags), u64(BigInt(base + d)), u64(BigInt(base + u)), u64(BigInt(base + a)), u64(2n ** 64n - 1n)])),
      );
    case Req.SET_VRING_KICK:
    case Req.SET_VRING_CALL:
    case Req.SET_VRING_ERR:
      return fc.record({
        payload: fc.oneof(fc.constantFrom(0n, 1n, 2n, 0x100n, 0x101n, 0x200n), bigU64).map(u64),
        fds: fc.array(fc.constantFrom<FdKind>('event'), { maxLength: 2 }),
      });
    case Req.SET_BACKEND_REQ_FD:
      return fc.record({ payload: fc.constant(Buffer.alloc(0)), fds: fc.array(fc.constantFrom<FdKind>('event'), { maxLength: 2 }) });
    case Req.SET_MEM_TABLE:
      return fc
        .record({ count: fc.oneof(fc.constantFrom(1, 2), fc.nat(9), fc.constant(0xffffffff)), regions: fc.array(region, { maxLength: 9 }), extra: fc.nat(2), fdDelta: fc.integer({ min: -1, max: 1 }) })
        .map(({ count, regions, extra, fdDelta }) => {
          const body = regions.map((r) => Buffer.concat([u64(BigInt(r.gpa)), u64(BigInt(r.size)), u64(BigInt(r.uva)), u64(BigInt(r.offset))]));
          const payload = Buffer.concat([u32s(count, 0), ...body, Buffer.alloc(32 * extra)]);
          const fds = Math.max(0, Math.min(9, (count > 9 ? regions.length : count) + fdDelta));
          return { payload, fds: Array.from({ length: fds }, () => 'file' as FdKind) };
        });
    case Req.GET_CONFIG:
    case Req.SET_CONFIG:
      return none(
        fc.tuple(fc.constantFrom(0, 2, 4, 7, 8, 0xffffffff), fc.constantFrom(0, 1, 2, 4, 8, 9, 0xffffffff), fc.nat(2), fc.nat(16))
          .map(([offset, size, flags, data]) => Buffer.concat([u32s(offset, size, flags), Buffer.alloc(data)])),
      );
    default:
      return none(fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)));
  }
}

const KNOWN = Object.values(Req);
const messageArb: fc.Arbitrary<Message> = fc
  .tuple(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...KNOWN) }, { weight: 1, arbitrary: fc.oneof(fc.nat(64), fc.nat(0xffffffff)) }),
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(FLAG_VERSION, FLAG_VERSION | FLAG_NEED_REPLY) }, { weight: 1, arbitrary: fc.nat(0xffffffff) }),
    fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(MAX_PAYLOAD + 1, 0xffffffff, 0) }),
    fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.array(fc.constantFrom<FdKind>('event', 'file'), { maxLength: 3 }) }),
  )
  .chain(([request, flags, size, strayFds]) =>
    payloadFor(request).map(({ payload, fds }) => ({ request, flags, payload: hex(payload), ...(size === undefined ? {} : { size }), fds: strayFds ?? fds })),
  );
const randomSessionArb: fc.Arbitrary<Session> = fc.record({ messages: fc.array(messageArb, { minLength: 1, maxLength: 30 }), kicks: fc.boolean() });

/** A recorded session (a real frontend's message order) with a few hostile edits: reaches deep states. */
function mutatedSessionArb(seeds: Session[]): fc.Arbitrary<Session> {
  const edit = fc.record({
    at: fc.nat(60),
    kind: fc.constantFrom('drop', 'dup', 'swap', 'insert', 'flags', 'size', 'fds+', 'fds-', 'flip'),
    value: fc.nat(0xffffffff),
    message: messageArb,
  });
  return fc.record({ seed: fc.nat(seeds.length - 1), edits: fc.array(edit, { minLength: 1, maxLength: 5 }), kicks: fc.boolean() }).map(({ seed, edits, kicks }) => {
    const messages = seeds[seed]!.messages.map((m) => ({ ...m, fds: [...m.fds] }));
    for (const e of edits) {
      const i = e.at % (messages.length + 1);
      const m = messages[Math.min(i, messages.length - 1)];
      switch (e.kind) {
        case 'drop': messages.splice(i, 1); break;
        case 'dup': if (m) messages.splice(i, 0, { ...m, fds: [...m.fds] }); break;
        case 'swap': if (i + 1 < messages.length) [messages[i], messages[i + 1]] = [messages[i + 1]!, messages[i]!]; break;
        case 'insert': messages.splice(i, 0, e.message); break;
        case 'flags': if (m) m.flags = e.value & 1 ? m.flags ^ FLAG_NEED_REPLY : e.value; break;
        case 'size': if (m) m.size = e.value & 1 ? (e.value >>> 1) & 0x1fff : e.value; break;
        case 'fds+': m?.fds.push(e.value & 1 ? 'file' : 'event'); break;
        case 'fds-': m?.fds.pop(); break;
        case 'flip':
          if (m && m.payload.length) {
            const b = Buffer.from(m.payload, 'hex');
            b[e.value % b.length] = b[e.value % b.length]! ^ (1 << (e.value >>> 29));
            m.payload = b.toString('hex');
          }
          break;
      }
    }
    return { messages: messages.length ? messages : [e0()], kicks };
  });
}
const e0 = (): Message => ({ request: Req.GET_FEATURES, flags: FLAG_VERSION, payload: '', fds: [] });

function device() {
  const board = new FakeBoard();
  const gpio = new VirtioGpioDevice(board, { lines: [{ name: 'GP0' }, { name: 'GP1' }] });
  return { gpio, vhost: new GpioVhostDevice(gpio) };
}

/** Plays one hostile connection; returns when the server would have closed it. */
async function hostileSession(session: Session, dev: ReturnType<typeof device>, os: FakeOs): Promise<void> {
  const logs: string[] = [];
  const backend = new VhostUserBackend(dev.vhost, os, (m) => logs.push(m));
  dev.vhost.notifier = (i) => backend.notify(i);
  const kickFds: number[] = [];
  for (const m of session.messages) {
    const payload = Buffer.from(m.payload, 'hex');
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(m.request >>> 0, 0);
    header.writeUInt32LE(m.flags >>> 0, 4);
    header.writeUInt32LE((m.size ?? payload.length) >>> 0, 8);
    const fds = m.fds.map((k) => (k === 'file' ? os.file(FILE_SIZE) : os.eventfd()));
    let parsed;
    try {
      parsed = parseHeader(header);
    } catch (error) {
      expect(error, 'only VhostMessageError from parseHeader').toBeInstanceOf(VhostMessageError);
      for (const fd of fds) os.close(fd); // server.ts closes the fds of a message it drops with the connection
      break;
    }
    // The server reads exactly `size` bytes: a lying size means a shorter or longer payload.
    const body = Buffer.alloc(parsed.size);
    payload.copy(body, 0, 0, Math.min(payload.length, parsed.size));
    const replyAck = (backend.protocolFeatures & (1n << BigInt(ProtocolFeature.REPLY_ACK))) !== 0n;
    let reply;
    try {
      reply = backend.handle(parsed, body, fds);
    } catch (error) {
      expect(error, 'only VhostMessageError closes a connection').toBeInstanceOf(VhostMessageError);
      expect(logs.length, 'a closed connection is logged').toBeGreaterThan(0);
      break;
    }
    // SET_PROTOCOL_FEATURES is acknowledged under the REPLY_ACK setting it establishes (as rust-vmm does):
    // a frontend that turns REPLY_ACK off in it does not wait for an ack.
    const acks = parsed.request === Req.SET_PROTOCOL_FEATURES ? (backend.protocolFeatures & (1n << BigInt(ProtocolFeature.REPLY_ACK))) !== 0n : replyAck;
    if (ALWAYS_REPLY.has(parsed.request) || (acks && parsed.flags & FLAG_NEED_REPLY)) {
      expect(reply, `request ${parsed.request} needs a reply`).toBeDefined();
    }
    if (reply) {
      const h = parseHeader(reply);
      expect(h.request).toBe(parsed.request);
      expect(h.flags).toBe(0x5);
      expect(h.size).toBe(reply.length - HEADER_SIZE);
      expect(h.size).toBeLessThanOrEqual(MAX_PAYLOAD);
    }
    if (parsed.request === Req.SET_VRING_KICK) kickFds.push(...fds);
    if (session.kicks) for (const fd of kickFds) if (os.watches.has(fd)) os.kick(fd);
    await settle(1);
  }
  await backend.close();
  await settle();
}

/** QEMU's order for a fresh connection; the device must answer a GET_DIRECTION afterwards. */
async function validSession(dev: ReturnType<typeof device>, os: FakeOs): Promise<void> {
  const backend = new VhostUserBackend(dev.vhost, os);
  dev.vhost.notifier = (i) => backend.notify(i);
  const send = (request: number, payload: Buffer = Buffer.alloc(0), fds: number[] = []) => {
    const reply = backend.handle({ request, flags: FLAG_VERSION | FLAG_NEED_REPLY, size: payload.length }, payload, fds);
    return reply?.subarray(HEADER_SIZE);
  };
  expect(send(Req.GET_FEATURES)!.readBigUInt64LE(0)).toBe(0x1_7000_0001n);
  send(Req.GET_PROTOCOL_FEATURES);
  send(Req.SET_PROTOCOL_FEATURES, u64(0x209n));
  send(Req.SET_OWNER);
  send(Req.SET_FEATURES, u64(0x1_7000_0001n));
  const bytes = new Uint8Array(1 << 16);
  const ram = new GuestRam(bytes.length, 0, UVA, bytes);
  const file = os.file(ram.size, bytes);
  const table = Buffer.concat([u32s(1, 0), u64(0n), u64(BigInt(ram.size)), u64(BigInt(UVA)), u64(0n)]);
  expect(send(Req.SET_MEM_TABLE, table, [file])!.readBigUInt64LE(0)).toBe(0n);
  const rq = new DriverQueue(ram, 16);
  expect(send(Req.SET_VRING_NUM, encodeVringState(0, 16))!.readBigUInt64LE(0)).toBe(0n);
  send(Req.SET_VRING_BASE, encodeVringState(0, 0));
  const addr = Buffer.concat([u32s(0, 0), u64(BigInt(ram.uva(rq.descGpa))), u64(BigInt(ram.uva(rq.usedGpa))), u64(BigInt(ram.uva(rq.availGpa))), u64(0n)]);
  expect(send(Req.SET_VRING_ADDR, addr)!.readBigUInt64LE(0)).toBe(0n);
  send(Req.SET_VRING_CALL, u64(0n), [os.eventfd()]);
  const kick = os.eventfd();
  expect(send(Req.SET_VRING_KICK, u64(0n), [kick])!.readBigUInt64LE(0)).toBe(0n);
  expect(send(Req.SET_VRING_ENABLE, encodeVringState(0, 1))!.readBigUInt64LE(0)).toBe(0n);
  const head = rq.add([{ data: encodeGpioRequest(Msg.GET_DIRECTION, 1) }, { writable: 2 }]);
  os.kick(kick);
  let done: Array<{ head: number; len: number; output: Buffer }> = [];
  for (let i = 0; i < 20 && done.length === 0; i++) {
    await settle();
    done = rq.completions();
  }
  expect(done, 'the fresh session is served').toEqual([{ head, len: 2, output: Buffer.from([0, 2]) }]);
  await backend.close();
}

async function runOne(session: Session): Promise<void> {
  record.counts.fuzzExecutions++;
  const os = new FakeOs();
  const dev = device();
  await hostileSession(session, dev, os);
  expect(os.errors, 'no double close, no signal on a closed fd').toEqual([]);
  expect([...os.open], 'every fd of the hostile connection closed').toEqual([]);
  expect(os.mapped, 'every mapping unmapped').toBe(0);
  await validSession(dev, os);
  expect(os.errors).toEqual([]);
  expect([...os.open]).toEqual([]);
  dev.gpio.close();
}

describe('fuzz: hostile vhost-user message streams', () => {
  const corpus = loadCorpus<Session>('vhost-backend');

  it.each(corpus)('corpus $name', async ({ input }) => {
    await record.replay(() => runOne(input));
  });

  it('random sessions', async () => {
    const recorded = corpus.filter((c) => c.name.startsWith('recorded-')).map((c) => c.input);
    expect(recorded.length, 'recorded sessions in the corpus (vhost-socket target records them)').toBeGreaterThan(0);
    const sessionArb = fc.oneof({ weight: 1, arbitrary: randomSessionArb }, { weight: 3, arbitrary: mutatedSessionArb(recorded) });
    await record.check(fc.asyncProperty(sessionArb, runOne), { numRuns: fuzzRuns(2000), timeout: 20_000, examples: corpus.map((c) => [c.input]) });
  });
});
