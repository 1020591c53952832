// Codec and link throughput (the `codec` section of bench/run.mjs), all in this process, src/link only:
//  - encode: encodeRequest/encodeEvent + encodeFrame (CRC-32C) + the library SLIP encoder stream, as the
//    Link sends frames;
//  - decode: the Link's receive chain (PacketLengthGuard -> library SLIP decoder -> decodeFrame ->
//    decodeReply/decodeEvent), fed SLIP bytes in 4 KiB chunks as a serial port delivers them;
//  - Link events: SLIP bytes of EDGES frames written into a Link's stream, counted as emitted events;
//  - Link round trips: request -> instant board -> reply, one in flight, and a full window in flight.
// Frames/s and bytes/s (wire bytes, SLIP included) are per second of wall time in a loop that does
// nothing else; CPU time is shown too.
import { dist, num, pad, stats } from './lib.mjs';
import { InstantBoard } from './instant-board.mjs';

const L = await dist('link/index.js');

export const name = 'codec';

function timed(fn, { warmupMs, durationMs }) {
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) fn();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let rounds = 0;
  let units = 0;
  let bytes = 0;
  while (performance.now() - t0 < durationMs) {
    const r = fn();
    units += r.units;
    bytes += r.bytes;
    rounds++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { units, bytes, seconds, perSecond: units / seconds, bytesPerSecond: bytes / seconds, cpuUsPerUnit: (cpu.user + cpu.system) / units };
}

const edgesBody = (n) => ({ baseUs: 1_000_000n, edges: Array.from({ length: n }, (_, i) => ({ line: i % 22, kind: 1 + (i & 1), lineSeq: i, timeUs: 1_000_000n + BigInt(i) })) });

async function encodeCase(label, makeFrame, scale) {
  // The encoder stream may hand its output over on a later tick: each batch is awaited until all of it
  // came out, so nothing piles up in the stream's buffer.
  const encoder = L.createSlipEncoder();
  let out = 0;
  let packets = 0;
  encoder.on('data', (b) => { out += b.length; packets++; });
  const BATCH = 256;
  const batch = async () => {
    const p0 = packets;
    for (let i = 0; i < BATCH; i++) encoder.write(makeFrame(i));
    while (packets - p0 < BATCH) await new Promise(setImmediate);
  };
  const warmEnd = performance.now() + scale.warmupMs;
  while (performance.now() < warmEnd) await batch();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const p0 = packets;
  const o0 = out;
  while (performance.now() - t0 < scale.durationMs) await batch();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const units = packets - p0;
  return { case: label, units, bytes: out - o0, seconds, perSecond: units / seconds, bytesPerSecond: (out - o0) / seconds, cpuUsPerUnit: (cpu.user + cpu.system) / units };
}

function decodeCase(label, frames, decodeBody, scale) {
  // One chunk of SLIP bytes holding many frames, as a serial read returns them.
  const encoded = [];
  const enc = L.createSlipEncoder();
  enc.on('data', (b) => encoded.push(b));
  for (const f of frames) enc.write(f);
  const wire = Buffer.concat(encoded);
  const guard = new L.PacketLengthGuard();
  const decoder = L.createSlipDecoder();
  guard.pipe(decoder);
  let decoded = 0;
  let bad = 0;
  decoder.on('data', (packet) => {
    if (packet.length === 0) return;
    const d = L.decodeFrame(packet);
    if (!d.ok) { bad++; return; }
    decodeBody(d.frame);
    decoded++;
  });
  const CHUNK = 4096;
  const r = timed(() => {
    const before = decoded;
    for (let at = 0; at < wire.length; at += CHUNK) guard.write(wire.subarray(at, at + CHUNK));
    return { units: decoded - before, bytes: wire.length };
  }, scale);
  return { case: label, ...r, badFrames: bad };
}

async function linkEvents(scale) {
  const [host, dev] = L.duplexPair();
  const link = new L.Link(host);
  let events = 0;
  let edges = 0;
  link.on('event', (e) => { events++; if (e.name === 'EDGES') edges += e.body.edges.length; });
  const FRAMES = 256;
  const body = L.encodeEvent('EDGES', edgesBody(L.MAX_EDGES_PER_FRAME));
  // Event sequence numbers must run on across batches (a gap counts as lost frames): 256 batches of 256
  // frames cover the 16-bit space; all are encoded up front, outside the timed part.
  const wires = new Map();
  let batchNo = 0;
  const wireFor = (n) => {
    if (!wires.has(n)) {
      const chunks = [];
      const enc = L.createSlipEncoder();
      enc.on('data', (b) => chunks.push(b));
      for (let i = 0; i < FRAMES; i++) enc.write(L.encodeFrame(L.EventType.EDGES, n * FRAMES + i, body));
      wires.set(n, Buffer.concat(chunks));
    }
    return wires.get(n);
  };
  for (let n = 0; n < 256; n++) wireFor(n);
  let wire = wireFor(0);
  // The duplex delivers on a later tick: write one batch, let it drain, count.
  const batch = async () => {
    const before = events;
    wire = wireFor(batchNo);
    batchNo = (batchNo + 1) % 256;
    dev.write(wire);
    while (events - before < FRAMES) await new Promise(setImmediate);
  };
  const warmEnd = performance.now() + scale.warmupMs;
  while (performance.now() < warmEnd) await batch();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const e0 = events;
  let bytes = 0;
  while (performance.now() - t0 < scale.durationMs) {
    await batch();
    bytes += wire.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const units = events - e0;
  const r = { units, bytes, seconds, perSecond: units / seconds, bytesPerSecond: bytes / seconds, cpuUsPerUnit: (cpu.user + cpu.system) / units };
  link.close();
  return { case: `Link: EDGES frames of ${L.MAX_EDGES_PER_FRAME} in -> events out`, ...r, edgesPerSecond: (r.perSecond * L.MAX_EDGES_PER_FRAME), lostEventFrames: link.counters.lostEventFrames };
}

async function linkRoundTrips(scale, inFlight) {
  const board = new InstantBoard();
  const link = new L.Link(board.hostStream, { window: 8 });
  const body = { mask: 4, values: 0 };
  const one = () => link.request('SET_VALUES', body);
  for (let i = 0; i < 2000; i++) await one();
  const latencies = [];
  const c0 = process.cpuUsage();
  const b0 = board.counters.responderMs;
  const t0 = performance.now();
  let n = 0;
  if (inFlight === 1) {
    while (performance.now() - t0 < scale.durationMs) {
      const s = performance.now();
      await one();
      latencies.push((performance.now() - s) * 1000);
      n++;
    }
  } else {
    const worker = async () => { while (performance.now() - t0 < scale.durationMs) { await one(); n++; } };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const boardUs = ((board.counters.responderMs - b0) * 1000) / n;
  link.close();
  const s = stats(latencies);
  return {
    case: `Link: SET_VALUES round trips, ${inFlight} in flight`, units: n, seconds, perSecond: n / seconds,
    cpuUsPerUnit: (cpu.user + cpu.system) / n, boardUsPerUnit: boardUs, p50Us: s.p50, p99Us: s.p99,
  };
}

export async function run({ quick = false, smoke = false } = {}) {
  const scale = smoke ? { warmupMs: 5, durationMs: 20 } : quick ? { warmupMs: 50, durationMs: 200 } : { warmupMs: 300, durationMs: 1000 };
  const setValues = L.encodeRequest('SET_VALUES', { mask: 4, values: 4 });
  const edges31 = L.encodeEvent('EDGES', edgesBody(L.MAX_EDGES_PER_FRAME));
  const rows = [
    await encodeCase('encode SET_VALUES request (16 B frame)', (i) => L.encodeFrame(L.RequestType.SET_VALUES, i, L.encodeRequest('SET_VALUES', { mask: 4, values: (i & 1) << 2 })), scale),
    await encodeCase('encode EDGES event, 31 records (264 B)', (i) => L.encodeFrame(L.EventType.EDGES, i, L.encodeEvent('EDGES', edgesBody(L.MAX_EDGES_PER_FRAME))), scale),
    decodeCase('decode SET_VALUES reply (9 B frame)', Array.from({ length: 256 }, (_, i) => L.encodeFrame(L.RequestType.SET_VALUES | L.REPLY_BIT, i, Buffer.from([0]))), (f) => L.decodeReply(f.type, f.payload), scale),
    decodeCase('decode EDGES event, 31 records', Array.from({ length: 64 }, (_, i) => L.encodeFrame(L.EventType.EDGES, i, edges31)), (f) => L.decodeEvent(f.type, f.payload), scale),
    decodeCase('decode SET_VALUES request (board side)', Array.from({ length: 256 }, (_, i) => L.encodeFrame(L.RequestType.SET_VALUES, i, setValues)), (f) => L.decodeRequest(f.type, f.payload), scale),
    await linkEvents(scale),
    await linkRoundTrips(scale, 1),
    await linkRoundTrips(scale, 8),
  ];
  const result = { benchmark: 'codec and link throughput (src/link)', rows };
  result.overBudget = 0;
  print(result);
  return result;
}

function print(r) {
  console.log('codec and link throughput, src/link in this process (library SLIP encoder/decoder streams, CRC-32C, layouts)');
  console.log(`${pad('case', 50)}${'frames/s'.padStart(11)}${'MB/s'.padStart(8)}${'cpu us'.padStart(8)}${'p50 us'.padStart(8)}${'p99 us'.padStart(8)}`);
  for (const x of r.rows) {
    console.log(`${pad(x.case, 50)}${num(x.perSecond, 0, 11)}${num(x.bytesPerSecond / 1e6, 2)}${num(x.cpuUsPerUnit, 2)}${num(x.p50Us, 1)}${num(x.p99Us, 1)}`);
  }
  const ev = r.rows.find((x) => x.edgesPerSecond);
  console.log(`Link event path: ${num(ev.edgesPerSecond, 0, 0).trim()} edges/s decoded, in EDGES frames of 31 records`);
}
