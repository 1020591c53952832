#!/usr/bin/env node
// Per-function cycle profile of the firmware in rp2040js, over the same windows as bench/run.mjs:
//  - a request: from the USB OUT completion of the packet holding its last byte to the bulk IN arm of
//    the packet holding its reply's last byte;
//  - an edge: everything that runs at IPSR 16 + 13 (io_bank0_irq_handler and what it calls).
// Every executed instruction's cycles are charged to the ELF symbol containing its PC (sizes from
// `arm-none-eabi-nm -S`); exception entry (free in rp2040js) is charged to "(exception entry)".
//
// Usage: node firmware/tools/profile.mjs [--elf firmware/build/vgpio.elf] [--reps N] [--only NAME,...]
//                                        [--pcs SYMBOL]   (per-instruction counts inside SYMBOL)
// Needs `npm run build` (dist/) and `make -C firmware` (the ELF and its .bin next to it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const elf = opt('--elf', join(root, 'firmware/build/vgpio.elf'));
const bin = elf.replace(/\.elf$/, '.bin');
const REPS = Number(opt('--reps', '20'));
const only = opt('--only', '')
  .split(',')
  .filter(Boolean);
const pcsOf = opt('--pcs', '');
if (!existsSync(bin)) throw new Error(`${bin} missing: run make -C firmware`);

const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { EmulatedRp2040, PinModel } = await dist('emulator/index.js');
const { encodeFrame } = await dist('link/frame.js');
const { slipEncodeFrame: slip } = await dist('link/slip.js');
const { encodeRequest, RequestType } = await dist('link/protocol.js');
const { loadJig } = await dist('index.js');

// ---- symbols -------------------------------------------------------------------------------------------
const nm = spawnSync('arm-none-eabi-nm', ['-S', '--defined-only', elf], { encoding: 'utf8' });
if (nm.status !== 0) throw new Error(`arm-none-eabi-nm failed: ${nm.stderr}`);
const syms = [];
for (const line of nm.stdout.split('\n')) {
  const m = /^([0-9a-f]{8}) ([0-9a-f]{8}) [tTwW] (\S+)$/.exec(line);
  if (m) syms.push({ addr: parseInt(m[1], 16) & ~1, size: parseInt(m[2], 16), name: m[3] });
}
syms.sort((a, b) => a.addr - b.addr);
const symCache = new Map();
function symbolOf(pc) {
  let s = symCache.get(pc);
  if (s !== undefined) return s;
  let lo = 0;
  let hi = syms.length - 1;
  s = `?0x${pc.toString(16)}`;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = syms[mid];
    if (pc < e.addr) hi = mid - 1;
    else if (pc >= e.addr + e.size) lo = mid + 1;
    else {
      s = e.name;
      break;
    }
  }
  symCache.set(pc, s);
  return s;
}

// ---- instrumented emulator ------------------------------------------------------------------------------
const BULK_IN_BUF_CTRL = 0x80 + 2 * 8;
const IO_IRQ = 16 + 13;


function boot() {
  const emu = EmulatedRp2040.fromFile(bin);
  const pins = new PinModel(emu.mcu, loadJig('loopback'));
  const core = emu.mcu.core;
  const prof = { on: false, armOnOut: false, ends: 0, ioOnly: false, bySym: new Map(), byPc: new Map(), total: 0 };
  const exec = core.executeInstruction.bind(core);
  core.executeInstruction = () => {
    const pc = core.PC & ~1;
    const ipsr = core.IPSR;
    const c = exec();
    if (!prof.on) return c;
    const entered = core.IPSR !== ipsr && core.IPSR !== 0 && core.IPSR > ipsr;
    const inIo = core.IPSR === IO_IRQ || (entered && ipsr === IO_IRQ);
    if (prof.ioOnly && !inIo) return c;
    // On exception entry the instruction that ran is the handler's first one, not the one at `pc`.
    const name = entered ? '(exception entry + first ISR instruction)' : symbolOf(pc);
    prof.bySym.set(name, (prof.bySym.get(name) ?? 0) + c);
    if (!entered && name === pcsOf) prof.byPc.set(pc, (prof.byPc.get(pc) ?? 0) + c);
    prof.total += c;
    return c;
  };
  emu.start();
  const usb = emu.mcu.usbCtrl;
  const readDone = usb.endpointReadDone.bind(usb);
  usb.endpointReadDone = (ep, data, delay) => {
    readDone(ep, data, delay);
    if (prof.armOnOut && ep !== 0 && emu.usb.pendingOutBytes === 0) {
      prof.on = true;
      prof.ends = 0;
    }
  };
  // Stop at the IN arm whose packet carries the reply frame's closing END (the second END since the
  // window opened; the profiled requests send no event frame in between).
  const dpram = usb.DPRAMUpdated.bind(usb);
  const IN_BUF = 0x1c0;
  usb.DPRAMUpdated = (offset, value) => {
    if (prof.on && prof.armOnOut && offset === BULK_IN_BUF_CTRL && value & (1 << 10) && (value & 0x3ff) > 0) {
      const data = emu.mcu.usbDPRAM.subarray(IN_BUF, IN_BUF + (value & 0x3ff));
      for (const x of data) if (x === 0xc0) prof.ends++;
      if (prof.ends >= 2) prof.on = false;
    }
    dpram(offset, value);
  };
  let rx = [];
  emu.onData((d) => rx.push(...d));
  let seq = 1;
  const idle = () => emu.mcu.core.waiting && emu.usb.bulkOutWaiting;
  function request(name, body, profile) {
    emu.runUntil(idle, 50e6, 'idle before request');
    emu.run(50_000);
    rx = [];
    const s = seq++ & 0xffff;
    prof.armOnOut = profile;
    emu.write(slip(encodeFrame(RequestType[name], s, encodeRequest(name, body))));
    const replyType = 0x80 | RequestType[name];
    emu.runUntil(
      () => {
        let start = -1;
        for (let i = 0; i < rx.length; i++) {
          if (rx[i] !== 0xc0) continue;
          if (start >= 0 && i > start + 1 && rx[start + 2] === replyType) return true;
          start = i;
        }
        return false;
      },
      50e6,
      `${name} reply`,
    );
    prof.armOnOut = false;
    prof.on = false;
  }
  return { emu, pins, prof, request, idle };
}

const lineConfig = (lines, o) => ({ lines, direction: 0, value: 0, bias: 0, drive: 0, edge: 0, level: 0, debounceUs: 0, ...o });
function preconditions(b) {
  b.request('LINE_CONFIG', lineConfig(1 << 2, { direction: 1 }), false);
  b.request('LINE_CONFIG', lineConfig(1 << 5, { direction: 2, level: 1 }), false);
}
const cases = [
  ['HELLO', () => ({ minVersion: 1, maxVersion: 1 })],
  ['PING', () => ({ data: Buffer.alloc(0) })],
  ['GET_STATS', () => ({})],
  ['LINE_CONFIG', () => lineConfig(1 << 7, { direction: 2, edge: 3 })],
  ['GET_LINE_CONFIG', () => ({ line: 7 })],
  ['SET_VALUES', (i) => ({ mask: 1 << 2, values: (i & 1) << 2 })],
  ['GET_VALUES', () => ({ mask: 0x3fffffff & ~0x21800000 })],
  ['PULSE', () => ({ line: 2, level: 1, durationUs: 10 })],
  ['FAILSAFE', () => ({ timeoutMs: 0, driveMask: 0, driveValues: 0, releaseMask: 0 })],
  ['HEARTBEAT', () => ({})],
  ['LEVEL_REARM', () => ({ mask: 1 << 5 })],
  ['RESET', () => ({})],
  ['RESET (all lines configured)', () => ({}), 'RESET'],
];

function report(title, prof, runs) {
  const rows = [...prof.bySym.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`\n${title}: ${(prof.total / runs).toFixed(0)} cycles per run (${runs} runs)`);
  for (const [name, c] of rows) {
    if (c / runs < 2) continue;
    console.log(`  ${(c / runs).toFixed(1).padStart(8)}  ${name}`);
  }
  if (pcsOf && prof.byPc.size) {
    console.log(`  per instruction in ${pcsOf}:`);
    for (const [pc, c] of [...prof.byPc.entries()].sort((a, b) => a[0] - b[0]))
      console.log(`    ${pc.toString(16)}  ${(c / runs).toFixed(1).padStart(7)}`);
  }
  prof.bySym.clear();
  prof.byPc.clear();
  prof.total = 0;
}

const needsPre = new Set(['RESET', 'LEVEL_REARM', 'PULSE', 'SET_VALUES']);
const b = boot();
preconditions(b);
const USABLE = 0x3fffffff & ~0x21800000;
for (const [label, body, name = label] of cases) {
  if (only.length && !only.includes(label) && !only.includes(name)) continue;
  const totals = [];
  for (let i = 0; i < REPS; i++) {
    if (needsPre.has(name)) preconditions(b);
    if (label !== name) b.request('LINE_CONFIG', lineConfig(USABLE, { direction: 2, edge: 3 }), false);
    const before = b.prof.total;
    b.request(name, body(i), true);
    totals.push(b.prof.total - before);
    if (name === 'PULSE') b.emu.run(200_000); // PULSE_DONE goes out before the next pulse
  }
  totals.sort((x, y) => x - y);
  report(`${label} (median ${totals[totals.length >> 1]})`, b.prof, REPS);
}

if (!only.length || only.includes('EDGE')) {
  const e = boot();
  e.request('LINE_CONFIG', lineConfig(1 << 26, { direction: 2, edge: 3 }), false);
  e.emu.runUntil(e.idle, 50e6);
  e.prof.on = true;
  e.prof.ioOnly = true;
  let level = 0;
  const N = REPS * 5;
  for (let i = 0; i < N; i++) {
    level ^= 1;
    e.pins.drive(26, level);
    e.emu.run(1e6);
  }
  e.prof.on = false;
  report('single edge (IO_IRQ_BANK0, line 26)', e.prof, N);
}
