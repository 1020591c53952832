import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { VhostUserServer } from '../../../src/vhost/server.js';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { GpioVhostDevice } from '../../../src/gpio/vhost-device.js';
import { IrqType, Msg, VirtioDirection } from '../../../src/gpio/spec.js';
import { loadProfile } from '../../../src/board/index.js';
import { FLAG_VERSION, Req } from '../../../src/vhost/messages.js';
import { DESC_F_NEXT } from '../../../src/virtio/queue.js';
import { FakeBoard } from '../../helpers/fake-board.js';
import { TestFrontend } from '../../helpers/frontend.js';
import { eventfdRead } from '../../../src/native/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: { mode?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-vhost-'));
  const socketPath = join(dir, 'gpio.sock');
  const board = new FakeBoard();
  const profile = loadProfile('pico');
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const gpio = new VirtioGpioDevice(board, { lines: profile.lines, log, requestTimeoutMs: 300 });
  const device = new GpioVhostDevice(gpio, log);
  const server = new VhostUserServer({ socketPath, device, log, ...options });
  await server.listen();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  const frontends: TestFrontend[] = [];
  const frontend = async () => {
    const f = await TestFrontend.connect(socketPath);
    frontends.push(f);
    return f;
  };
  cleanups.push(() => frontends.forEach((f) => f.close()));
  return { socketPath, board, server, gpio, logs, frontend };
}

const waitFor = async (what: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('vhost-user server over a real unix socket', () => {
  it('creates the socket 0600 by default, or with the mode asked for, and removes it on close', async () => {
    const a = await start();
    expect(statSync(a.socketPath).mode & 0o777).toBe(0o600);
    const b = await start({ mode: 0o660 });
    expect(statSync(b.socketPath).mode & 0o777).toBe(0o660);
    await b.server.close();
    expect(existsSync(b.socketPath)).toBe(false);
  });

  it('replaces a stale socket, but refuses one a live process listens on and leaves it working', async () => {
    const a = await start();
    const second = new VhostUserServer({ socketPath: a.socketPath, device: new GpioVhostDevice(a.gpio, () => {}), log: () => {} });
    await expect(second.listen()).rejects.toThrow(/another process is listening on it \(a running vgpio serve\?\); stop it or pick another --socket/);
    expect(existsSync(a.socketPath)).toBe(true);
    // The probe was a connection like any VMM's: the running server saw it come and go.
    await waitFor(() => a.logs.some((l) => /frontend disconnected/.test(l)));
    const f = await a.frontend(); // the first one still serves, on the same path
    await f.setup();
    expect((await f.request(Msg.GET_DIRECTION, 2)).len).toBe(2);

    // A socket file nobody listens on (a daemon that was SIGKILLed): bound by a child process that dies.
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-stale-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const stale = join(dir, 'gpio.sock');
    const child = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(child.signal).toBe('SIGKILL');
    expect(statSync(stale).isSocket()).toBe(true);
    const third = new VhostUserServer({ socketPath: stale, device: new GpioVhostDevice(a.gpio, () => {}), log: () => {} });
    await third.listen();
    cleanups.push(() => third.close());
    expect(statSync(stale).mode & 0o777).toBe(0o600);
  });

  it('serves the driver QEMU-style: config, names, probe, set and get through the jig', async () => {
    const t = await start();
    const f = await t.frontend();
    const config = await f.setup();
    expect(config.readUInt16LE(0)).toBe(30);
    const namesSize = config.readUInt32LE(4);
    const names = await f.request(Msg.GET_LINE_NAMES, 0, 0, 1 + namesSize);
    expect(names.len).toBe(1 + namesSize);
    expect(names.output.subarray(1).toString('ascii').split('\0').slice(0, 30)).toEqual(t.gpio.names.toString('ascii').split('\0').slice(0, 30));
    expect(names.output.toString('ascii')).toContain('LED');
    // Probe: GET_DIRECTION of every line, all answered IN, concurrently.
    const probe = await Promise.all(Array.from({ length: 30 }, (_, i) => f.request(Msg.GET_DIRECTION, i)));
    expect(probe.every((r) => r.len === 2 && r.output[0] === 0 && r.output[1] === VirtioDirection.IN)).toBe(true);
    // gpioset 2=1 then gpioget 3 through the loopback wire of the fake board.
    const [v, d] = await f.directionOutput(2, 1);
    expect([v!.output, d!.output]).toEqual([Buffer.from([0, 0]), Buffer.from([0, 0])]);
    expect((await f.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN)).output).toEqual(Buffer.from([0, 0]));
    expect((await f.request(Msg.GET_VALUE, 3)).output).toEqual(Buffer.from([0, 1]));
    await f.request(Msg.SET_VALUE, 2, 0);
    expect((await f.request(Msg.GET_VALUE, 3)).output).toEqual(Buffer.from([0, 0]));
    // Reserved line and bad line: answered, with ERR.
    expect((await f.request(Msg.SET_DIRECTION, 23, VirtioDirection.OUT)).output[0]).toBe(1);
    expect((await f.request(Msg.GET_VALUE, 300)).output[0]).toBe(1);
    expect((await f.request(0x99, 1)).output[0]).toBe(1);
  });

  it('delivers interrupts UML-style (socketpair call fds, gpa == uva == mmap offset)', async () => {
    const t = await start();
    const f = await t.frontend();
    await f.setup({ uml: true });
    await f.directionOutput(4, 0);
    await f.request(Msg.SET_DIRECTION, 5, VirtioDirection.IN);
    await f.enableIrq(5, IrqType.EDGE_BOTH);
    await f.request(Msg.SET_VALUE, 4, 1);
    expect(await f.waitIrqs(1)).toEqual([{ line: 5, status: 1 }]);
    f.postIrq(5);
    await f.request(Msg.SET_VALUE, 4, 0);
    expect(await f.waitIrqs(2)).toEqual([{ line: 5, status: 1 }, { line: 5, status: 1 }]);
    f.postIrq(5);
    await f.request(Msg.SET_IRQ_TYPE, 5, IrqType.NONE);
    expect((await f.waitIrqs(3))[2]).toEqual({ line: 5, status: 0 });
  });

  it('without F_IRQ the guest gets lines but no eventq, and SET_IRQ_TYPE is refused', async () => {
    const t = await start();
    const f = await t.frontend();
    await f.setup({ drop: 1n });
    expect(t.gpio.irqEnabled).toBe(false);
    expect((await f.request(Msg.SET_IRQ_TYPE, 5, IrqType.EDGE_BOTH)).output[0]).toBe(1);
    expect((await f.request(Msg.GET_DIRECTION, 5)).output).toEqual(Buffer.from([0, 2]));
  });

  it('serves the next frontend after a disconnect, with the lines released in between', async () => {
    const t = await start();
    const first = await t.frontend();
    await first.setup();
    await first.directionOutput(6, 1);
    expect(t.board.lines[6]!.settings.direction).toBe('output');
    first.close();
    await waitFor(() => t.board.lines[6]!.settings.direction === 'off');
    const second = await t.frontend();
    await second.setup();
    expect((await second.request(Msg.GET_DIRECTION, 6)).output).toEqual(Buffer.from([0, 2]));
    expect(t.server.connections).toBe(2);
  });

  it('refuses a second frontend while one is connected, and keeps serving the first', async () => {
    const t = await start();
    const first = await t.frontend();
    await first.setup();
    const intruder = await t.frontend();
    await waitFor(() => intruder.closed || t.logs.some((l) => l.includes('refused a second frontend')));
    expect(t.logs.join('\n')).toMatch(/refused a second frontend/);
    expect((await first.request(Msg.GET_DIRECTION, 1)).output).toEqual(Buffer.from([0, 2]));
  });

  it('drops a frontend that breaks the protocol and serves the next one', async () => {
    const t = await start();
    const bad = await t.frontend();
    const header = Buffer.alloc(12);
    header.writeUInt32LE(Req.GET_FEATURES, 0);
    header.writeUInt32LE(0x2, 4); // header version 2
    bad.raw(header);
    await waitFor(() => t.logs.some((l) => /protocol error: .*version/.test(l)));
    const huge = await t.frontend();
    const big = Buffer.alloc(12);
    big.writeUInt32LE(Req.SET_MEM_TABLE, 0);
    big.writeUInt32LE(FLAG_VERSION, 4);
    big.writeUInt32LE(0x100000, 8);
    huge.raw(big);
    await waitFor(() => t.logs.some((l) => /exceeds/.test(l)));
    const good = await t.frontend();
    await good.setup();
    expect((await good.request(Msg.GET_DIRECTION, 0)).len).toBe(2);
  });

  it('answers every request with ERR when the board fails or vanishes with requests in flight', async () => {
    const t = await start();
    const f = await t.frontend();
    await f.setup();
    const gates: Array<() => void> = [];
    t.board.gate = () => new Promise<void>((r) => gates.push(r));
    const inFlight = [f.request(Msg.GET_VALUE, 1), f.request(Msg.GET_VALUE, 2), f.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN)];
    await new Promise((r) => setTimeout(r, 20));
    t.board.gate = undefined;
    t.board.failWith = new Error('USB cable pulled');
    expect(gates.length).toBe(3); // three lines, all at the board at once
    gates.forEach((open) => open());
    const started = Date.now();
    const answers = await Promise.all(inFlight);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answers.map((a) => a.len)).toEqual([2, 2, 2]);
    expect(answers.map((a) => a.output[0])).toEqual([1, 1, 1]);
    await t.board.close();
    const after = await Promise.all([f.request(Msg.GET_VALUE, 1), f.request(Msg.SET_VALUE, 2, 1), f.request(Msg.SET_DIRECTION, 2, 1)]);
    expect(after.map((a) => a.output[0])).toEqual([1, 0, 1]); // SET_VALUE on a non-output line is only remembered
  });

  it('tells the frontend through the ring error fd when it stops a corrupt ring, and only that ring', async () => {
    const t = await start();
    const f = await t.frontend();
    await f.setup({ ringErrorFds: true });
    expect(f.errFds).toHaveLength(2);
    expect((await f.request(Msg.GET_DIRECTION, 1)).len).toBe(2); // a healthy ring signals nothing
    expect(f.errFds.map((fd) => eventfdRead(fd))).toEqual([null, null]);
    f.rq.publish(500); // a head beyond the ring's 256 entries
    f.kick(0);
    let signalled: bigint | null = null;
    await waitFor(() => (signalled = eventfdRead(f.errFds[0]!)) !== null);
    expect(signalled).toBe(1n);
    expect(eventfdRead(f.errFds[1]!)).toBeNull();
    expect(t.server.backend?.counters.ringErrors).toBe(1);
    expect(t.logs.join('\n')).toMatch(/queue 0 stopped/);
  });

  it('returns a looping descriptor chain with length 0 instead of hanging the driver', async () => {
    const t = await start();
    const f = await t.frontend();
    await f.setup();
    const [id] = f.rq.take(1);
    f.rq.writeDesc(f.rq.descGpa, id!, f.ram.alloc(8), 8, DESC_F_NEXT, id!);
    f.rq.publish(id!);
    f.kick(0);
    const ok = await f.request(Msg.GET_DIRECTION, 1);
    expect(ok.len).toBe(2);
    await waitFor(() => t.logs.some((l) => /loops/.test(l)));
  });
});
