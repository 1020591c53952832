#!/usr/bin/env node
// Behaviour trace of a firmware image in rp2040js, for checking that a change (an optimisation) keeps
// the firmware's observable behaviour: a fixed, seeded script of requests (every type, valid and
// invalid, SLIP escapes, split and corrupt frames), outside pin drives and waits is run against the
// image, and the trace records, in order,
//   - every store to SIO GPIO_OUT/GPIO_OE (and their SET/CLR/XOR aliases), PADS_BANK0 and IO_BANK0
//     (address, value), from thread and interrupt context alike;
//   - every frame the firmware sends, decoded, with its timestamps (bigint fields) left out: they move
//     with the firmware's own speed.
// Two images with the same trace do the same register writes in the same order and send the same
// replies and events. Where the script races the firmware against its own timers, a faster image may
// legitimately interleave differently: a 10 us PULSE followed at once by another request (its PULSE_DONE
// before or after that request's reply), or a pulse ending (alarm ISR) in the middle of a LINE_CONFIG's
// writes. Such a diff is one line moved, nothing added or changed. Usage:
//   node firmware/tools/regtrace.mjs [--elf PATH | --bin PATH] [--seed N] [--steps N] [--out FILE]
//   diff <(node firmware/tools/regtrace.mjs --bin old.bin) <(node firmware/tools/regtrace.mjs)
// Needs `npm run build` (dist/).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const bin = opt('--bin', opt('--elf', join(root, 'firmware/build/vgpio.elf')).replace(/\.elf$/, '.bin'));
const SEED = Number(opt('--seed', '1'));
const STEPS = Number(opt('--steps', '600'));
const outFile = opt('--out', '');

const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { EmulatedRp2040, PinModel } = await dist('emulator/index.js');
const { encodeFrame, decodeFrame } = await dist('link/frame.js');
const { slipEncodeFrame: slip } = await dist('link/slip.js');
const { encodeRequest, RequestType, decodeReply, decodeEvent } = await dist('link/protocol.js');
const { loadJig } = await dist('index.js');

// ---- deterministic randomness ---------------------------------------------------------------------------
let rng = SEED >>> 0 || 1;
const rand = () => {
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return rng;
};
const pick = (a) => a[rand() % a.length];
const chance = (p) => rand() % 1000 < p * 1000;

// ---- the image and its trace ------------------------------------------------------------------------------
const trace = [];
const emu = EmulatedRp2040.fromFile(bin);
const pins = new PinModel(emu.mcu, loadJig('loopback'));
const mcu = emu.mcu;
const watched = (a) =>
  (a >= 0xd0000010 && a < 0xd0000040) || // SIO GPIO_OUT/OE and aliases
  (a >= 0x40014000 && a < 0x40018000) || // IO_BANK0 (+ atomic aliases)
  (a >= 0x4001c000 && a < 0x40020000); // PADS_BANK0 (+ atomic aliases)
const hex = (v) => (v >>> 0).toString(16);
for (const [name, bytes] of [
  ['writeUint32', 4],
  ['writeUint16', 2],
  ['writeUint8', 1],
]) {
  const orig = mcu[name].bind(mcu);
  mcu[name] = (address, value) => {
    const a = address >>> 0;
    if (watched(a)) trace.push(`w${bytes} ${hex(a)} ${hex(value)}`);
    orig(address, value);
  };
}
emu.start();

let rx = [];
emu.onData((d) => rx.push(...d));
const strip = (o) =>
  JSON.stringify(o, (k, v) => (typeof v === 'bigint' ? undefined : Buffer.isBuffer(v) ? v.toString('hex') : v));
// Every complete frame received so far goes into the trace; a partial one stays for later.
function drainFrames() {
  let start = -1;
  let consumed = 0;
  for (let i = 0; i < rx.length; i++) {
    if (rx[i] !== 0xc0) continue;
    if (start >= 0 && i > start + 1) {
      const raw = [];
      for (let j = start + 1; j < i; j++) {
        if (rx[j] === 0xdb) {
          j++;
          raw.push(rx[j] === 0xdc ? 0xc0 : rx[j] === 0xdd ? 0xdb : -1);
        } else raw.push(rx[j]);
      }
      const f = decodeFrame(Buffer.from(raw));
      if (!f.ok) trace.push(`frame ${f.fault} ${f.detail}`);
      else {
        const { type, seq, payload } = f.frame;
        let body;
        try {
          body = type & 0x80 && type !== 0xff ? decodeReply(type & 0x7f, payload) : decodeEvent(type, payload);
        } catch (e) {
          body = `undecodable ${payload.toString('hex')}: ${e.message}`;
        }
        trace.push(`frame type ${hex(type)} seq ${seq} ${strip(body)}`);
      }
      consumed = i;
    }
    start = i;
  }
  rx = rx.slice(consumed);
}

const idle = () => emu.mcu.core.waiting && emu.usb.bulkOutWaiting;
function settle(ns = 300_000) {
  emu.runUntil(idle, 50e6, 'idle');
  emu.run(ns);
  emu.runUntil(idle, 50e6, 'idle');
  drainFrames();
}
let seq = 1;
function send(bytes, note) {
  trace.push(`-- ${note}`);
  emu.write(bytes);
  settle();
}
const frame = (name, body, s = seq++ & 0xffff) => slip(encodeFrame(RequestType[name], s, encodeRequest(name, body)));

// ---- the script -------------------------------------------------------------------------------------------
const USABLE = 0x3fffffff & ~0x21800000;
// What the script last configured (a rough model, to aim drives at inputs and pulses at outputs).
const cfg = { in: 0, out: 0 };
const bitsOf = (m) => [...Array(30).keys()].filter((n) => m & (1 << n));
const oneOf = (m, dflt) => (m ? pick(bitsOf(m)) : dflt);
const someLines = () => {
  switch (rand() % 7) {
    case 5:
      return cfg.in ? 1 << oneOf(cfg.in) : 1 << (rand() % 23);
    case 6:
      return cfg.out ? 1 << oneOf(cfg.out) : 1 << (rand() % 23);
    case 0:
      return 1 << (rand() % 30);
    case 1:
      return USABLE;
    case 2:
      return (rand() & USABLE) | 1 << (rand() % 23);
    case 3:
      return rand() & 0x3fffffff; // reserved lines too: RESERVED_LINE
    default:
      return (1 << (rand() % 23)) | (1 << (rand() % 23));
  }
};
function lineConfig() {
  const dir = rand() % 3;
  const c = { lines: someLines(), direction: dir, value: 0, bias: rand() % 4, drive: 0, edge: 0, level: 0, debounceUs: 0 };
  if (dir === 1) {
    c.value = rand() & 1;
    c.drive = rand() % 3;
  }
  if (dir === 2) {
    c.edge = rand() % 4;
    c.level = rand() % 3;
    if (c.edge && chance(0.3)) c.debounceUs = pick([5, 50, 500]);
  }
  if (chance(0.05)) c.lines = 0; // BAD_REQUEST
  if (chance(0.05)) c.bias = 4;
  if (chance(0.03)) c.value = 1; // value on a non-output: BAD_REQUEST unless output
  const l = c.lines & USABLE;
  cfg.in &= ~l;
  cfg.out &= ~l;
  if (dir === 2) cfg.in |= l;
  if (dir === 1) cfg.out |= l;
  return c;
}
const requests = [
  () => ['LINE_CONFIG', lineConfig()],
  () => ['LINE_CONFIG', lineConfig()],
  () => ['LINE_CONFIG', lineConfig()],
  () => {
    cfg.in = cfg.out = 0;
    return ['RESET', {}];
  },
  () => ['GET_LINE_CONFIG', { line: rand() % 32 }],
  () => ['SET_VALUES', (() => { const mask = someLines(); return { mask, values: rand() & mask }; })()],
  () => ['GET_VALUES', { mask: chance(0.9) ? 0x3fffffff : rand() >>> 0 }],
  () => ['PULSE', { line: chance(0.8) ? oneOf(cfg.out, 2) : rand() % 31, level: rand() & 1, durationUs: pick([1, 10, 100, 2000]) }],
  () => ['LEVEL_REARM', { mask: someLines() }],
  () => ['FAILSAFE', (() => {
    const drive = chance(0.5) ? 1 << (rand() % 23) : 0;
    const release = chance(0.5) ? (1 << (rand() % 23)) & ~drive : 0;
    return { timeoutMs: pick([0, 0, 5, 10, 20]), driveMask: drive, driveValues: rand() & drive, releaseMask: release };
  })()],
  () => ['HEARTBEAT', {}],
  () => ['PING', { data: Buffer.from(Array.from({ length: rand() % 40 }, () => pick([0xc0, 0xdb, 0xdc, 0xdd, rand() & 0xff]))) }],
  () => ['GET_STATS', {}],
  () => ['HELLO', { minVersion: 1, maxVersion: 1 }],
];

settle();
for (let step = 0; step < STEPS; step++) {
  const r = rand() % 100;
  if (r < 70) {
    const [name, body] = pick(requests)();
    const bytes = frame(name, body);
    if (chance(0.1)) {
      // Split across two USB writes.
      const cut = 1 + (rand() % (bytes.length - 1));
      trace.push(`-- ${name} split at ${cut} ${strip(body)}`);
      emu.write(bytes.subarray(0, cut));
      emu.run(20_000);
      emu.write(bytes.subarray(cut));
      settle();
    } else if (chance(0.1)) {
      // Two requests back to back (a PULSE while one runs: BUSY; LINE_CONFIG cancelling a pulse).
      const [name2, body2] = pick(requests)();
      trace.push(`-- ${name} ${strip(body)} + ${name2} ${strip(body2)}`);
      emu.write(Buffer.concat([bytes, frame(name2, body2)]));
      settle();
    } else send(bytes, `${name} ${strip(body)}`);
    if (name === 'FAILSAFE' && body.timeoutMs && chance(0.6)) {
      trace.push('-- silence');
      settle(30e6);
    }
  } else if (r < 75) {
    // Corrupt: a flipped bit (CRC error), a bad escape, a short frame, an oversize frame, garbage.
    const bytes = Buffer.from(frame('HEARTBEAT', {}));
    const kind = rand() % 5;
    if (kind === 0) bytes[2 + (rand() % (bytes.length - 3))] ^= 1 << (rand() % 8);
    const variants = [
      bytes,
      Buffer.from([0xc0, 0x01, 0xdb, 0x05, 0x00, 0xc0]),
      Buffer.from([0xc0, 0x01, 0x09, 0xc0]),
      Buffer.concat([Buffer.from([0xc0]), Buffer.alloc(300, 0x11), Buffer.from([0xc0])]),
      Buffer.from(Array.from({ length: 1 + (rand() % 30) }, () => rand() & 0xff)),
    ];
    send(variants[kind], `corrupt ${kind}`);
    if (kind === 4) send(Buffer.from([0xc0]), 'END');
  } else if (r < 80) {
    // Another protocol version.
    send(slip(encodeFrame(RequestType.HEARTBEAT, seq++, Buffer.alloc(0), 2)), 'version 2');
  } else if (r < 95) {
    // The outside world drives a line (or lets go of it), maybe several times quickly.
    const line = chance(0.8) ? oneOf(cfg.in, rand() % 30) : rand() % 30;
    const n = 1 + (rand() % 3);
    trace.push(`-- drive ${line} x${n}`);
    for (let i = 0; i < n; i++) {
      pins.drive(line, chance(0.15) ? null : rand() & 1);
      emu.run(pick([1_000, 3_000, 20_000, 200_000]));
    }
    settle();
  } else {
    trace.push('-- wait');
    settle(pick([1e6, 5e6, 20e6]));
  }
}
settle();
trace.push('end');
// The image's name is left out, so traces of two images compare with a plain diff.
const text = `seed ${SEED} steps ${STEPS}\n` + trace.join('\n') + '\n';
if (outFile) writeFileSync(outFile, text);
else process.stdout.write(text);
