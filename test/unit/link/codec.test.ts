import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import {
  crc32c,
  decodeEvent,
  decodeFrame,
  decodeReply,
  decodeRequest,
  encodeErrorReply,
  encodeEvent,
  encodeFrame,
  encodeReply,
  encodeRequest,
  eventName,
  isEventType,
  isReplyType,
  isRequestType,
  MAX_FRAME,
  MAX_PAYLOAD,
  requestName,
  REPLY_BIT,
  Status,
  createSlipDecoder,
  createSlipEncoder,
  slipEncodeFrame,
  PacketLengthGuard,
  type EventName,
  type RequestName,
} from '../../../src/link/index.js';
import { fromJsonShape, toJsonShape, vectors } from '../../helpers/vectors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Runs bytes through the real SLIP transforms and collects the packets. */
async function slipDecode(bytes: Buffer): Promise<Buffer[]> {
  const guard = new PacketLengthGuard();
  const decoder = createSlipDecoder();
  const packets: Buffer[] = [];
  decoder.on('data', (p: Buffer) => { if (p.length > 0) packets.push(p); });
  const done = new Promise((r) => decoder.on('end', r));
  Readable.from([bytes]).pipe(guard).pipe(decoder);
  await done;
  return packets;
}

async function slipEncode(frame: Buffer): Promise<Buffer> {
  const encoder = createSlipEncoder();
  const chunks: Buffer[] = [];
  encoder.on('data', (c: Buffer) => chunks.push(c));
  encoder.end(frame);
  await new Promise((r) => encoder.on('end', r));
  return Buffer.concat(chunks);
}

describe('CRC-32C', () => {
  it('gives the check value named in the spec', () => {
    expect(crc32c(Buffer.from(vectors.crc.checkInput, 'hex')).toString(16)).toBe(vectors.crc.check);
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});

describe('every frame vector, both ways', () => {
  for (const v of vectors.frames) {
    it(v.name, async () => {
      const payloadFromFields = (() => {
        const fields = fromJsonShape(v.fields);
        if (v.direction === 'host_to_device') return encodeRequest(v.typeName as RequestName, fields as never);
        if (isReplyType(v.type)) {
          const status = fields['status'] as number;
          if (status !== Status.OK) return encodeErrorReply(status, fields['detail'] as number);
          return encodeReply(requestName(v.type & ~REPLY_BIT)!, fields as never);
        }
        return encodeEvent(v.typeName as EventName, fields as never);
      })();
      // encode: fields -> payload -> frame -> SLIP
      expect(hex(payloadFromFields)).toBe(v.payload);
      const frame = encodeFrame(v.type, v.seq, payloadFromFields);
      expect(hex(frame)).toBe(v.frame);
      expect(hex(await slipEncode(frame))).toBe(v.slip);
      expect(hex(slipEncodeFrame(frame))).toBe(v.slip); // the synchronous form the firmware tools use

      // decode: SLIP -> frame -> fields
      const packets = await slipDecode(Buffer.from(v.slip, 'hex'));
      expect(packets.map(hex)).toEqual([v.frame]);
      const decoded = decodeFrame(packets[0]!);
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      expect(decoded.frame.type).toBe(v.type);
      expect(decoded.frame.seq).toBe(v.seq);
      expect(hex(decoded.frame.payload)).toBe(v.payload);
      const payload = decoded.frame.payload;
      if (isRequestType(v.type)) {
        const request = decodeRequest(v.type, payload);
        expect(request.name).toBe(v.typeName);
        expect(toJsonShape(request.body)).toEqual(v.fields);
      } else if (isReplyType(v.type)) {
        const reply = decodeReply(v.type, payload);
        const shape = reply.status === Status.OK ? { status: reply.status, ...(reply.body ?? {}) } : { status: reply.status, detail: reply.detail };
        expect(toJsonShape(shape)).toEqual(v.fields);
      } else {
        expect(isEventType(v.type)).toBe(true);
        const event = decodeEvent(v.type, payload);
        expect(event.name).toBe(eventName(v.type));
        expect(toJsonShape(event.body)).toEqual(v.fields);
      }
    });
  }

  it('covers every request, reply and event type', () => {
    const types = new Set(vectors.frames.map((v) => v.type));
    for (let t = 0x01; t <= 0x0d; t++) {
      expect(types.has(t), `request 0x${t.toString(16)}`).toBe(true);
      expect(types.has(t | REPLY_BIT), `reply 0x${(t | REPLY_BIT).toString(16)}`).toBe(true);
    }
    for (const t of [0x40, 0x41, 0x42, 0x43, 0x44, 0xff]) expect(types.has(t)).toBe(true);
  });
});

describe('invalid vectors are rejected with the right fault', () => {
  for (const v of vectors.invalid) {
    it(v.name, async () => {
      const packets = await slipDecode(Buffer.from(v.slip, 'hex'));
      const faults = packets.map((p) => {
        const d = decodeFrame(p);
        if (!d.ok) return d.fault;
        return isReplyType(d.frame.type) || (isEventType(d.frame.type) && eventName(d.frame.type)) || isRequestType(d.frame.type) && requestName(d.frame.type) ? 'ok' : 'unknown_type';
      });
      const expected: Record<string, string[]> = {
        crc_error: ['crc'],
        framing_error: ['framing'],
        bad_version: ['version'],
        unknown_type: ['unknown_type'],
        crc_error_or_framing_error: ['crc', 'framing'],
      };
      expect(faults.length).toBeGreaterThan(0);
      for (const f of faults) expect(expected[v.expect]).toContain(f);
    });
  }
});

describe('streams with noise between frames', () => {
  for (const s of vectors.streams) {
    it(s.name, async () => {
      const packets = await slipDecode(Buffer.from(s.bytes, 'hex'));
      const good = packets.filter((p) => decodeFrame(p).ok).map(hex);
      expect(good).toEqual(s.frames);
    });
  }
});

describe('frame limits', () => {
  it('refuses to encode a payload over the maximum', () => {
    expect(() => encodeFrame(0x02, 1, Buffer.alloc(MAX_PAYLOAD + 1))).toThrow(/exceeds the protocol maximum/);
    expect(encodeFrame(0x02, 1, Buffer.alloc(MAX_PAYLOAD)).length).toBe(MAX_FRAME);
  });

  it('requests must have their exact length', () => {
    expect(() => decodeRequest(0x05, Buffer.alloc(7))).toThrow(/exactly 8/);
    expect(() => decodeRequest(0x05, Buffer.alloc(9))).toThrow(/exactly 8/);
    expect(() => decodeRequest(0x3e, Buffer.alloc(0))).toThrow(/unknown request/);
  });

  it('replies and events may carry trailing bytes from a later revision', () => {
    const body = Buffer.concat([encodeReply('PULSE', { startUs: 5n }), Buffer.from([1, 2, 3])]);
    expect(decodeReply(0x87, body).body).toEqual({ startUs: 5n });
  });

  it('rejects EDGES whose record area is not whole records', () => {
    const payload = Buffer.concat([encodeEvent('EDGES', { baseUs: 0n, edges: [{ line: 1, kind: 1, lineSeq: 1, timeUs: 0n }] }), Buffer.from([0])]);
    expect(() => decodeEvent(0x40, payload)).toThrow(/records/);
  });

  it('the length guard bounds a run of bytes without END', async () => {
    const guard = new PacketLengthGuard(100);
    const out: Buffer[] = [];
    guard.on('data', (c: Buffer) => out.push(c));
    guard.write(Buffer.alloc(1000, 0x41));
    guard.write(Buffer.from([0xc0, 0x42]));
    guard.end();
    await new Promise((r) => guard.on('end', r));
    const all = Buffer.concat(out);
    expect(all.length).toBe(102);
    expect(guard.dropped).toBe(900);
    expect(all.subarray(100)).toEqual(Buffer.from([0xc0, 0x42]));
  });
});

describe('length guard fast path', () => {
  /** One guard takes chunks through guardChunk (fast path where it can), the other through the full
   *  copying path only: outputs, drop counts and carried state must agree byte for byte. */
  it('passes an untouched chunk through as the same Buffer and matches the copying path on any chunking', async () => {
    const { default: fc } = await import('fast-check');
    const plain = Buffer.from([0xc0, 1, 2, 0xdb, 0xdc, 3, 0xc0]);
    expect(new PacketLengthGuard().guardChunk(plain)).toBe(plain);

    const byte = fc.oneof(fc.constantFrom(0xc0, 0xdb, 0xdc, 0xdd), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(fc.array(byte, { maxLength: 24 }), { maxLength: 12 }), fc.integer({ min: 2, max: 12 }), (chunks, limit) => {
        const guard = new PacketLengthGuard(limit);
        const reference = new PacketLengthGuard(limit);
        const filter = (reference as unknown as { keptCopy(c: Uint8Array): Buffer }).keptCopy.bind(reference);
        const got: Buffer[] = [];
        const want: Buffer[] = [];
        for (const c of chunks) {
          got.push(Buffer.from(guard.guardChunk(Uint8Array.from(c))));
          want.push(filter(Uint8Array.from(c)));
        }
        expect(Buffer.concat(got)).toEqual(Buffer.concat(want));
        expect(guard.dropped).toBe(reference.dropped);
        const state = (g: PacketLengthGuard) => {
          const { run, escPending } = g as unknown as { run: number; escPending: boolean };
          return { run, escPending };
        };
        expect(state(guard)).toEqual(state(reference));
      }),
      { seed: 0x5e1f, numRuns: 3000 },
    );
  });
});
