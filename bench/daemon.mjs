#!/usr/bin/env node
// The daemon under test, in its own process: the same wiring as `vgpio serve` (VirtioGpioDevice on a
// LinkBoard over a Link, GpioVhostDevice, VhostUserServer, the pico profile) with the instantly answering
// in-process board in place of the serial port. Started by the host, edges and footprint sections with
// child_process.fork; takes commands over the IPC channel.
//
// Opt-in timing hook: the server gets the native HostOs wrapped, so the daemon itself notes the time its
// kick watcher callback starts (the kick eventfd became readable and libuv dispatched it) and the time
// it writes the call eventfd (stamped just before the write syscall; the write's own duration is kept
// apart). One sample per kick that leads to a call: with one request in flight that
// is exactly the daemon's path for that request. Nothing in src/ changes for this.
// Usage: node bench/daemon.mjs --socket PATH
import { dist } from './lib.mjs';
import { InstantBoard } from './instant-board.mjs';

const args = process.argv.slice(2);
const socketPath = args[args.indexOf('--socket') + 1];
const samplesMax = 1 << 20;

const { openBoard } = await dist('board/open.js');
const { fitProfile, loadProfile } = await dist('board/profile.js');
const { VirtioGpioDevice } = await dist('gpio/device.js');
const { GpioVhostDevice } = await dist('gpio/vhost-device.js');
const { VhostUserServer } = await dist('vhost/server.js');
const { nativeHostOs } = await dist('vhost/host-os.js');

const instant = new InstantBoard();
const board = await openBoard({ stream: instant.hostStream });
const profile = fitProfile(loadProfile('pico'), board.info);
const gpio = new VirtioGpioDevice(board, { lines: profile.lines, ngpio: profile.numLines });
const device = new GpioVhostDevice(gpio);

const samples = new Float64Array(samplesMax);
/** The same intervals less the instant board's own work inside them (it runs in this event loop only
 *  because it stands in for the RP2040; on real hardware that work is the firmware's, not the host's). */
const netSamples = new Float64Array(samplesMax);
/** Time spent in the call eventfd write itself (includes any wake-up preemption). */
const writeSamples = new Float64Array(samplesMax);
let sampleCount = 0;
let kickAt = NaN;
let boardMsAtKick = 0;
let recording = false;
const timedOs = {
  ...nativeHostOs,
  watch(fd, onReadable) {
    return nativeHostOs.watch(fd, () => {
      kickAt = performance.now();
      boardMsAtKick = instant.counters.responderMs;
      onReadable();
    });
  },
  signal(fd) {
    // Stamped before the write: once the eventfd is written the kernel may run the woken frontend on this
    // CPU first (wake-up preemption), and that time is not the daemon's.
    const issued = performance.now();
    nativeHostOs.signal(fd);
    if (recording && kickAt === kickAt && sampleCount < samplesMax) {
      samples[sampleCount] = (issued - kickAt) * 1000;
      netSamples[sampleCount] = samples[sampleCount] - (instant.counters.responderMs - boardMsAtKick) * 1000;
      writeSamples[sampleCount++] = (performance.now() - issued) * 1000;
    }
    kickAt = NaN;
  },
};
const server = new VhostUserServer({ socketPath, device, os: timedOs });
await server.listen();

function counters() {
  return {
    board: { ...instant.counters },
    link: { ...board.link.counters },
    device: { ...gpio.counters },
    queues: { ...device.queues.counters },
    backend: server.backend ? { ...server.backend.counters } : undefined,
  };
}

const handlers = {
  /** Starts (and clears) or stops the kick -> call samples; `take` returns them in µs. */
  record({ on }) {
    recording = on;
    if (on) sampleCount = 0;
    return { count: sampleCount };
  },
  take() {
    return { samples: Array.from(samples.subarray(0, sampleCount)), netSamples: Array.from(netSamples.subarray(0, sampleCount)), writeSamples: Array.from(writeSamples.subarray(0, sampleCount)) };
  },
  counters,
  usage() {
    return { cpu: process.cpuUsage(), memory: process.memoryUsage(), elu: performance.eventLoopUtilization() };
  },
  async edges({ lines, rate, durationMs }) {
    return instant.generateEdges({ lines, rate, durationMs });
  },
  async close() {
    await server.close();
    gpio.close();
    await board.close();
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', async ({ id, op, body }) => {
  try {
    process.send({ id, ok: true, body: await handlers[op](body ?? {}) });
  } catch (error) {
    process.send({ id, ok: false, error: error.stack ?? String(error) });
  }
});
process.send({ id: 0, ok: true, body: { ready: true, pid: process.pid } });
