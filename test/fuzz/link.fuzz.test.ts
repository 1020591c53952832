/**
 * Fuzz target `link`: what a hostile or broken USB device sends, through the host's receive path (the
 * PacketLengthGuard, the SLIP decoder, frame checks, message decoding) into Link's dispatch (reply
 * matching, events, counters), while the host has requests in flight.
 *
 * The device's output is a script of chunks: garbage bytes, frames with a good CRC (replies to what is
 * in flight or to nothing, with any status and payload; events of every type with any payload;
 * unknown types; other protocol versions), the same frames with a flipped bit, cut frames, long runs
 * without END, lone ESC bytes, all split at arbitrary points, as USB packets split a stream.
 * Seeds: every device-to-host frame, invalid frame and stream of test/vectors/protocol.json.
 *
 * Invariants:
 *   - no exception escapes into the stream (an uncaught error would kill the daemon);
 *   - every request settles: resolved, or rejected with one of the link's typed errors (a malformed or
 *     refused reply, a version mismatch, the link closing) - never left pending once the link closes;
 *   - memory stays bounded: the guard never lets a run longer than the maximum encoded frame through;
 *   - every received packet is accounted for: a good frame or one fault kind (a device's VERSION_MISMATCH
 *     event counts as both a frame and a version fault).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { duplexPair } from '../../src/link/duplex-pair.js';
import { encodeFrame, MAX_ENCODED_FRAME } from '../../src/link/frame.js';
import { Link } from '../../src/link/link.js';
import { LinkError } from '../../src/link/errors.js';
import { MalformedMessageError, RequestType, type RequestName } from '../../src/link/protocol.js';
import { SLIP_END, SLIP_ESC } from '../../src/link/slip.js';
import { FuzzRecord, fuzzRuns, loadCorpus, settle } from './support.js';

const record = new FuzzRecord('link');
afterAll(() => record.write());

type Chunk =
  | { kind: 'raw'; hex: string }
  | { kind: 'frame'; version: number; type: number; seq: number; payload: string; flip?: number; cut?: number };
interface Script {
  /** Requests the host sends first (names of RequestType). */
  requests: RequestName[];
  chunks: Chunk[];
  /** Split points for the concatenated stream (modulo its length). */
  splits: number[];
}

const slip = (frame: Buffer): Buffer => {
  const out: number[] = [SLIP_END];
  for (const b of frame) {
    if (b === SLIP_END) out.push(SLIP_ESC, 0xdc);
    else if (b === SLIP_ESC) out.push(SLIP_ESC, 0xdd);
    else out.push(b);
  }
  out.push(SLIP_END);
  return Buffer.from(out);
};

function chunkBytes(c: Chunk): Buffer {
  if (c.kind === 'raw') return Buffer.from(c.hex, 'hex');
  const frame = Buffer.from(encodeFrame(c.type, c.seq, Buffer.from(c.payload, 'hex').subarray(0, 256), c.version));
  if (c.flip !== undefined) frame[c.flip % frame.length] = frame[c.flip % frame.length]! ^ (1 << (c.flip & 7));
  const bytes = slip(frame);
  return c.cut === undefined ? bytes : bytes.subarray(0, c.cut % bytes.length);
}

const NAMES = Object.keys(RequestType) as RequestName[];
const BODIES: Record<RequestName, unknown> = {
  HELLO: { minVersion: 1, maxVersion: 1 }, PING: { data: Buffer.from([1, 2, 3]) }, GET_STATS: {},
  LINE_CONFIG: { lines: 4, direction: 1, value: 0, bias: 0, drive: 0, edge: 0, level: 0, debounceUs: 0 },
  SET_VALUES: { mask: 4, values: 4 }, GET_VALUES: { mask: 8 }, PULSE: { line: 2, level: 1, durationUs: 100 },
  FAILSAFE: { timeoutMs: 0, driveMask: 0, driveValues: 0, releaseMask: 0 }, HEARTBEAT: {}, RESET: {},
  REBOOT_TO_BOOTLOADER: { activityLedMask: 0, disableInterfaceMask: 0 }, GET_LINE_CONFIG: { line: 2 }, LEVEL_REARM: { mask: 4 },
};

const hexBytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b).toString('hex'));
const chunkArb: fc.Arbitrary<Chunk> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('raw' as const), hex: fc.oneof(hexBytes(40), fc.constantFrom('c0', 'db', 'dbc0', 'dbdb', 'c0c0', 'dbdc', 'ff'.repeat(700))) }) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        kind: fc.constant('frame' as const),
        version: fc.oneof({ weight: 9, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.nat(255) }),
        type: fc.oneof(fc.integer({ min: 0x81, max: 0x8d }), fc.integer({ min: 0x40, max: 0x45 }), fc.constant(0xff), fc.nat(255)),
        seq: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.nat(0xffff)),
        payload: fc.oneof(hexBytes(64), fc.constantFrom('00', '01ff', '0102', '00'.repeat(37), '00'.repeat(256))),
        flip: fc.option(fc.nat(0xffff), { nil: undefined }),
        cut: fc.option(fc.nat(600), { nil: undefined }),
      },
      { requiredKeys: ['kind', 'version', 'type', 'seq', 'payload'] },
    ),
  },
);
const scriptArb: fc.Arbitrary<Script> = fc.record({
  requests: fc.array(fc.constantFrom(...NAMES), { maxLength: 6 }),
  chunks: fc.array(chunkArb, { minLength: 1, maxLength: 12 }),
  splits: fc.array(fc.nat(4000), { maxLength: 6 }),
});

async function runOne(script: Script): Promise<void> {
  record.counts.fuzzExecutions++;
  const [host, device] = duplexPair();
  const link = new Link(host, { window: 8, timeoutMs: 60_000 });
  let packets = 0;
  const guard = (link as unknown as { guard: { run: number } }).guard;
  const decoder = (link as unknown as { decoder: NodeJS.EventEmitter }).decoder;
  decoder.on('data', (p: Buffer) => {
    if (p.length > 0) packets++;
    expect(p.length, 'a packet never exceeds the guard limit').toBeLessThanOrEqual(MAX_ENCODED_FRAME + 1);
  });
  const outcomes: Array<'pending' | 'ok' | 'error'> = [];
  const settled = script.requests.map((name, i) => {
    outcomes[i] = 'pending';
    return link.request(name, BODIES[name] as never).then(
      () => { outcomes[i] = 'ok'; },
      (error: unknown) => {
        outcomes[i] = 'error';
        expect(error instanceof LinkError || error instanceof MalformedMessageError, `request ${name} failed with ${String(error)}`).toBe(true);
      },
    );
  });
  await settle(1);
  const stream = Buffer.concat(script.chunks.map(chunkBytes));
  const cuts = [...new Set(script.splits.map((s) => s % (stream.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    if (cut > at) device.write(stream.subarray(at, cut));
    at = Math.max(at, cut);
    await settle(1);
    expect(guard.run).toBeLessThanOrEqual(MAX_ENCODED_FRAME + 1);
  }
  device.write(Buffer.from([SLIP_END])); // ends whatever the script left open
  await settle(2);
  const c = link.counters;
  // A good VERSION_MISMATCH event counts as a frame and as a version fault, so bounds, not equality.
  expect(c.framesIn + c.crcErrors + c.framingErrors + c.badVersion, 'every packet is counted').toBeGreaterThanOrEqual(packets);
  expect(c.framesIn + c.crcErrors + c.framingErrors, 'no packet counted twice').toBeLessThanOrEqual(packets);
  link.close('fuzz run over');
  await Promise.all(settled);
  expect(outcomes.filter((o) => o === 'pending'), 'every request settles').toEqual([]);
}

/** Seeds from the shared vectors: every frame the device may send, the invalid ones, the streams. */
function vectorSeeds(): Script[] {
  const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '../vectors/protocol.json'), 'utf8')) as {
    frames: Array<{ direction: string; slip: string }>;
    invalid: Array<{ slip: string }>;
    streams: Array<{ bytes: string }>;
  };
  const all = [...vectors.frames.filter((f) => f.direction !== 'host_to_device').map((f) => f.slip), ...vectors.invalid.map((f) => f.slip), ...vectors.streams.map((s) => s.bytes)];
  return [
    { requests: [...NAMES], chunks: all.map((hex) => ({ kind: 'raw' as const, hex })), splits: [] },
    { requests: ['HELLO', 'PING', 'GET_VALUES'], chunks: all.map((hex) => ({ kind: 'raw' as const, hex })), splits: [1, 7, 100, 333] },
  ];
}

describe('fuzz: what a device sends, into the host link', () => {
  const corpus = loadCorpus<Script>('link');
  const seeds = vectorSeeds();

  it.each(corpus)('corpus $name', async ({ input }) => {
    await record.replay(() => runOne(input));
  });

  it('the protocol vectors, whole and split', async () => {
    for (const s of seeds) await record.replay(() => runOne(s));
  });

  it('random device output', async () => {
    await record.check(fc.asyncProperty(scriptArb, runOne), { numRuns: fuzzRuns(2000), timeout: 20_000, examples: [...corpus.map((c) => [c.input] as [Script]), ...seeds.map((s) => [s] as [Script])] });
  });
});
