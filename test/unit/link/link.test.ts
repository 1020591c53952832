import { afterEach, describe, expect, it } from 'vitest';
import {
  crc32c,
  createSlipDecoder,
  decodeFrame,
  DeviceError,
  duplexPair,
  encodeFrame,
  Link,
  LinkClosedError,
  PacketLengthGuard,
  RequestTimeoutError,
  Status,
  VersionMismatchError,
  type LinkEvent,
} from '../../../src/link/index.js';
import { ScriptedPeer } from '../../helpers/peer.js';

const links: Link[] = [];
function setup(options: ConstructorParameters<typeof Link>[1] = {}) {
  const [host, device] = duplexPair();
  const link = new Link(host, options);
  links.push(link);
  return { link, peer: new ScriptedPeer(device), device };
}
afterEach(() => {
  for (const l of links.splice(0)) l.close('test over');
});

/** Deterministic PRNG (mulberry32) so random tests are reproducible. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Link requests', () => {
  it('matches pipelined replies answered out of order', async () => {
    const { link, peer } = setup({ window: 4 });
    const results = [1, 2, 3, 4].map((mask) => link.request('GET_VALUES', { mask }));
    const reqs = await peer.waitFor(4);
    for (const r of [...reqs].reverse()) {
      const mask = r.request.name === 'GET_VALUES' ? r.request.body.mask : -1;
      peer.reply(r, 'GET_VALUES', { values: mask * 10, timeUs: BigInt(mask) });
    }
    const replies = await Promise.all(results);
    expect(replies.map((r) => r.values)).toEqual([10, 20, 30, 40]);
    expect(replies.map((r) => r.timeUs)).toEqual([1n, 2n, 3n, 4n]);
    expect(new Set(reqs.map((r) => r.seq)).size).toBe(4);
    expect(link.counters.framesOut).toBe(4);
    expect(link.counters.framesIn).toBe(4);
  });

  it('never has more requests on the wire than the window', async () => {
    const { link, peer } = setup({ window: 2 });
    const results = Array.from({ length: 6 }, () => link.request('HEARTBEAT', {}));
    let answered = 0;
    while (answered < 6) {
      const got = await peer.waitFor(answered + 1);
      // Give the host a chance to (wrongly) send more than it may.
      await new Promise((r) => setImmediate(r));
      expect(peer.received.length - answered).toBeLessThanOrEqual(2);
      peer.reply(got[answered]!, 'HEARTBEAT', {});
      answered++;
    }
    await Promise.all(results);
    link.setWindow(8);
    const more = Array.from({ length: 8 }, () => link.request('HEARTBEAT', {}));
    await peer.waitFor(14);
    expect(peer.received.length).toBe(14);
    for (const r of peer.received.slice(6)) peer.reply(r, 'HEARTBEAT', {});
    await Promise.all(more);
  });

  it('rejects with a typed error naming the request when the device refuses it', async () => {
    const { link, peer } = setup();
    const p = link.request('SET_VALUES', { mask: 1 << 3, values: 0 });
    const [r] = await peer.waitFor(1);
    peer.replyError(r!, Status.WRONG_DIRECTION, 3);
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceError);
    expect((error as DeviceError).statusName).toBe('WRONG_DIRECTION');
    expect((error as DeviceError).detail).toBe(3);
    expect((error as Error).message).toMatch(/SET_VALUES request \(seq \d+\) refused by the device: WRONG_DIRECTION on line 3/);
  });

  it('times out a request the device never answers, and counts a late reply as unexpected', async () => {
    const { link, peer } = setup({ window: 1, timeoutMs: 50 });
    const first = link.request('PING', { data: Buffer.from('x') });
    const queued = link.request('HEARTBEAT', {}, { timeoutMs: 30 });
    const [e1, e2] = await Promise.all([first.catch((e: unknown) => e), queued.catch((e: unknown) => e)]);
    expect(e1).toBeInstanceOf(RequestTimeoutError);
    expect((e1 as Error).message).toMatch(/PING request \(seq \d+\) got no reply within 50 ms/);
    expect(e2).toBeInstanceOf(RequestTimeoutError);
    expect(link.counters.timeouts).toBe(2);
    // The queued request timed out before a window slot opened: it never reached the wire.
    expect(peer.received.length).toBe(1);
    peer.reply(peer.received[0]!, 'PING', { timeUs: 1n, data: Buffer.from('x') });
    await new Promise((r) => setTimeout(r, 20));
    expect(link.counters.unexpectedReplies).toBe(1);
    // The link is still usable.
    const again = link.request('HEARTBEAT', {});
    const reqs = await peer.waitFor(2);
    peer.reply(reqs[1]!, 'HEARTBEAT', {});
    await expect(again).resolves.toEqual({});
  });

  it('resynchronises after garbage and bad CRCs between frames, counting each', async () => {
    const { link, peer } = setup();
    const p = link.request('GET_VALUES', { mask: 0xff });
    const [r] = await peer.waitFor(1);
    peer.raw(Buffer.from([0x00, 0x13, 0x37, 0xdb])); // garbage ending in ESC
    const bad = encodeFrame(0x86, r!.seq, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    bad[bad.length - 1]! ^= 0xff;
    peer.rawFrame(bad); // correct seq, wrong CRC: must not be taken as the reply
    peer.raw(Buffer.from([0xc0, 0xc0, 0xc0])); // empty frames
    peer.rawFrame(Buffer.from([1, 2, 3])); // short
    peer.reply(r!, 'GET_VALUES', { values: 0x81, timeUs: 99n });
    await expect(p).resolves.toEqual({ values: 0x81, timeUs: 99n });
    expect(link.counters.crcErrors).toBe(1); // the frame with the right seq and a wrong CRC
    expect(link.counters.framingErrors).toBe(2); // the 3 garbage bytes and the 3-byte frame: too short
    expect(link.counters.framesIn).toBe(1);
  });

  it('fails every pending and queued request when the peer closes mid-request', async () => {
    const { link, peer, device } = setup({ window: 1 });
    const a = link.request('HEARTBEAT', {});
    const b = link.request('RESET', {});
    await peer.waitFor(1);
    device.destroy();
    const [ea, eb] = await Promise.all([a.catch((e: unknown) => e), b.catch((e: unknown) => e)]);
    expect(ea).toBeInstanceOf(LinkClosedError);
    expect(eb).toBeInstanceOf(LinkClosedError);
    expect((eb as Error).message).toMatch(/RESET request .* the link closed/);
    expect(link.closed).toBe(true);
    await expect(link.request('HEARTBEAT', {})).rejects.toBeInstanceOf(LinkClosedError);
    expect(link.inFlightCount).toBe(0);
  });

  it('close() settles everything and is idempotent', async () => {
    const { link } = setup({ window: 2 });
    const ps = Array.from({ length: 5 }, () => link.request('HEARTBEAT', {}).catch((e: unknown) => e));
    link.close('shutting down');
    link.close('again');
    for (const e of await Promise.all(ps)) {
      expect(e).toBeInstanceOf(LinkClosedError);
      expect((e as Error).message).toMatch(/shutting down/);
    }
  });

  it('refuses a peer that speaks another protocol version', async () => {
    const { link, peer } = setup();
    const p = link.request('HELLO', { minVersion: 1, maxVersion: 1 });
    const [r] = await peer.waitFor(1);
    peer.event('VERSION_MISMATCH', { minVersion: 2, maxVersion: 3 }, r!.seq);
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VersionMismatchError);
    expect((e as Error).message).toMatch(/speaks protocol v2\.\.v3, this vgpio speaks v1: upgrade vgpio/);

    const q = link.request('HELLO', { minVersion: 1, maxVersion: 1 });
    const [, r2] = await peer.waitFor(2);
    peer.rawFrame(encodeFrame(0x81, r2!.seq, Buffer.from([0]), 2));
    await expect(q).rejects.toBeInstanceOf(VersionMismatchError);
    expect(link.counters.badVersion).toBe(2);
  });
});

describe('Link events', () => {
  it('delivers events in order with counters, and notices missing event frames', async () => {
    const { link, peer } = setup();
    const events: LinkEvent[] = [];
    link.on('event', (e) => events.push(e));
    peer.event('EDGES', { baseUs: 100n, edges: [{ line: 3, kind: 1, lineSeq: 1, timeUs: 100n }, { line: 3, kind: 2, lineSeq: 2, timeUs: 150n }] }, 10);
    peer.event('OVERFLOW', { lost: 5, lines: 8, firstUs: 200n, lastUs: 210n }, 11);
    peer.event('LEVEL', { timeUs: 300n, lines: 4, values: 4 }, 14); // 12 and 13 never arrive
    await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => e.name)).toEqual(['EDGES', 'OVERFLOW', 'LEVEL']);
    expect(events[0]!.name === 'EDGES' && events[0]!.body.edges[1]!.timeUs).toBe(150n);
    expect(link.counters.events).toBe(3);
    expect(link.counters.edges).toBe(2);
    expect(link.counters.lostEvents).toBe(5);
    expect(link.counters.lostEventFrames).toBe(2);
  });

  it('counts malformed events and unknown types without emitting them', async () => {
    const { link, peer } = setup();
    const events: LinkEvent[] = [];
    link.on('event', (e) => events.push(e));
    peer.rawFrame(encodeFrame(0x40, 0, Buffer.alloc(12))); // EDGES with half a record
    peer.rawFrame(encodeFrame(0x7e, 1, Buffer.alloc(0))); // unknown event type
    peer.rawFrame(encodeFrame(0x05, 2, Buffer.alloc(8))); // a request type sent to the host
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual([]);
    expect(link.counters.malformed).toBe(1);
    expect(link.counters.unknownFrames).toBe(2);
  });
});

describe('random input', () => {
  it('the decoder never throws and never passes up a frame that fails its CRC (seeded, bounded)', async () => {
    const random = rng(0x5eed);
    const guard = new PacketLengthGuard();
    const decoder = createSlipDecoder();
    guard.pipe(decoder);
    let packets = 0;
    let accepted = 0;
    decoder.on('data', (p: Buffer) => {
      packets++;
      const d = decodeFrame(p);
      if (d.ok) {
        accepted++;
        const raw = Buffer.concat([Buffer.from([d.frame.version, d.frame.type]), Buffer.alloc(2), d.frame.payload]);
        raw.writeUInt16LE(d.frame.seq, 2);
        expect(crc32c(raw)).toBe(p.readUInt32LE(p.length - 4));
      }
    });
    for (let i = 0; i < 2000; i++) {
      // Bias toward SLIP specials so escapes and delimiters are exercised.
      const chunk = Buffer.alloc(1 + Math.floor(random() * 600));
      for (let j = 0; j < chunk.length; j++) {
        const r = random();
        chunk[j] = r < 0.05 ? 0xc0 : r < 0.1 ? 0xdb : r < 0.12 ? 0xdc : Math.floor(random() * 256);
      }
      guard.write(chunk);
    }
    await new Promise((r) => setImmediate(r));
    expect(packets).toBeGreaterThan(1000);
    expect(accepted).toBe(0); // a random 32-bit CRC match is ~1 in 4e9 per packet
  });

  it('a link fed random bytes stays up and still answers requests', async () => {
    const { link, peer } = setup({ window: 8 });
    const random = rng(42);
    for (let i = 0; i < 200; i++) {
      const chunk = Buffer.alloc(1 + Math.floor(random() * 300));
      for (let j = 0; j < chunk.length; j++) chunk[j] = Math.floor(random() * 256);
      peer.raw(chunk);
    }
    peer.raw(Buffer.from([0xc0]));
    const p = link.request('HEARTBEAT', {});
    const reqs = await peer.waitFor(1);
    peer.reply(reqs[0]!, 'HEARTBEAT', {});
    await expect(p).resolves.toEqual({});
    const c = link.counters;
    expect(c.crcErrors + c.framingErrors).toBeGreaterThan(0);
    expect(c.framesIn).toBe(1);
  });
});
