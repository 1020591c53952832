// The e2e tier's daemon: the vhost-user virtio-gpio backend assembled exactly as `vgpio serve` does
// (src/cli/serve.ts: emulated board with a jig, the board's profile, VirtioGpioDevice, GpioVhostDevice,
// VhostUserServer), run as a child of harness.mjs so that it can be killed and restarted while a guest
// runs. Over the IPC channel it answers what only an emulated board can show: pin levels, contentions,
// drives from outside, plus the device's counters and how many frontends connected.
//
// Test-only fault injection (never in product code): VGPIO_E2E_FAULT=no-get-value makes the device
// stop answering GET_VALUE requests, so the tier can prove that it notices a broken daemon.
//
// Usage (forked by harness.mjs): node daemon.mjs SOCKET [JIG]
import { openEmulatedBoard } from '../../dist/board/open.js';
import { fitProfile, loadProfile } from '../../dist/board/profile.js';
import { VirtioGpioDevice } from '../../dist/gpio/device.js';
import { GpioVhostDevice } from '../../dist/gpio/vhost-device.js';
import { VhostUserServer } from '../../dist/vhost/server.js';
import { Msg } from '../../dist/gpio/spec.js';

const [socketPath, jig = 'loopback'] = process.argv.slice(2);
if (!socketPath || !process.send) {
  console.error('daemon.mjs: run by harness.mjs (needs an IPC channel): node daemon.mjs SOCKET [JIG]');
  process.exit(2);
}
const log = (message) => process.stderr.write(`${new Date().toISOString()} daemon[${process.pid}] ${message}\n`);

const emulated = await openEmulatedBoard({ jig });
const { board, pins, emulator } = emulated;
const profile = fitProfile(loadProfile(board.info.boardId === 2 ? 'pico' : 'rp2040'), board.info);
const gpio = new VirtioGpioDevice(board, { lines: profile.lines, ngpio: profile.numLines, log });

const fault = process.env.VGPIO_E2E_FAULT ?? '';
if (fault === 'no-get-value') {
  const request = gpio.request.bind(gpio);
  gpio.request = (type, line, value) => {
    if (type !== Msg.GET_VALUE) return request(type, line, value);
    log(`FAULT INJECTED: GET_VALUE on line ${line} is never answered`);
    return new Promise(() => {});
  };
} else if (fault !== '') {
  log(`unknown VGPIO_E2E_FAULT "${fault}"`);
  process.exit(2);
}

const device = new GpioVhostDevice(gpio, log);
const server = new VhostUserServer({ socketPath, device, log });
const negotiated = [];
server.on('connect', () => {
  const backend = server.backend;
  const poll = setInterval(() => {
    if (server.backend !== backend) return clearInterval(poll);
    if (backend.features) {
      negotiated.push(backend.features);
      clearInterval(poll);
    }
  }, 20);
});
await server.listen();

const handlers = {
  async state() {
    const status = await emulator.status();
    return {
      levels: status.levels,
      contentions: status.contentions,
      counters: { ...gpio.counters },
      queues: { ...device.queues.counters },
      connections: server.connections,
      connected: server.backend !== undefined,
      features: negotiated.map((f) => `0x${f.toString(16)}`),
      ringsLive: server.backend?.counters.kicks ?? 0,
    };
  },
  drive: ({ line, level }) => pins.drive(line, level),
  wave: ({ lines, edges, periodNanos }) => pins.wave(lines, edges, periodNanos),
};
process.on('message', (msg) => {
  const handler = handlers[msg.t];
  if (!handler) return process.send({ id: msg.id, error: `unknown request ${msg.t}` });
  Promise.resolve(handler(msg))
    .then((result) => process.send({ id: msg.id, result }))
    .catch((error) => process.send({ id: msg.id, error: String(error?.message ?? error) }));
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  gpio.close();
  await emulated.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
emulator.on('fault', (error) => log(`emulator fault: ${error.message}`));
log(`serving ${profile.name} (${profile.numLines} lines, jig ${jig}) on ${socketPath}`);
process.send({ ready: true, pid: process.pid });
