import { describe, expect, it } from 'vitest';
import { VhostUserBackend, PROTOCOL_FEATURES } from '../../../src/vhost/backend.js';
import { encodeVringState, FLAG_NEED_REPLY, FLAG_VERSION, HEADER_SIZE, parseHeader, Req, VhostMessageError } from '../../../src/vhost/messages.js';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { GpioVhostDevice } from '../../../src/gpio/vhost-device.js';
import { IrqType, Msg, VirtioDirection } from '../../../src/gpio/spec.js';
import { encodeGpioRequest } from '../../../src/gpio/spec.js';
import { DriverQueue, GuestRam } from '../../helpers/virtio-driver.js';
import { FakeBoard } from '../../helpers/fake-board.js';
import { FakeOs } from '../../helpers/fake-os.js';

const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
const settle = () => new Promise((r) => setTimeout(r, 5));

/** Plays the frontend (UML's message order) against a backend with a fake OS and a fake board. */
function setup() {
  const os = new FakeOs();
  const board = new FakeBoard();
  const logs: string[] = [];
  const gpio = new VirtioGpioDevice(board, { lines: [{ name: 'GP0' }, { name: 'GP1' }] });
  const device = new GpioVhostDevice(gpio);
  const backend = new VhostUserBackend(device, os, (m) => logs.push(m));
  device.notifier = (i) => backend.notify(i);
  const send = (request: number, payload: Buffer = Buffer.alloc(0), fds: number[] = [], flags = FLAG_VERSION | FLAG_NEED_REPLY) => {
    const reply = backend.handle({ request, flags, size: payload.length }, payload, fds);
    if (!reply) return undefined;
    const header = parseHeader(reply);
    expect(header.request).toBe(request);
    expect(header.flags).toBe(0x5);
    expect(header.size).toBe(reply.length - HEADER_SIZE);
    return reply.subarray(HEADER_SIZE);
  };
  return { os, board, gpio, device, backend, logs, send };
}

/** Guest RAM as UML shares it: gpa == uva == mmap_offset. */
function memTable(os: FakeOs, ram: GuestRam, offset: number) {
  const file = new Uint8Array(offset + ram.size);
  const fd = os.file(file.length, file);
  const guest = new GuestRam(ram.size, offset, offset, file.subarray(offset));
  const payload = Buffer.alloc(8 + 32 * 2); // room for two regions, like UML
  payload.writeUInt32LE(1, 0);
  payload.writeBigUInt64LE(BigInt(offset), 8);
  payload.writeBigUInt64LE(BigInt(ram.size), 16);
  payload.writeBigUInt64LE(BigInt(offset), 24);
  payload.writeBigUInt64LE(BigInt(offset), 32);
  return { fd, payload, guest };
}

function vringAddr(index: number, q: DriverQueue) {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(index, 0);
  b.writeBigUInt64LE(BigInt(q.ram.uva(q.descGpa)), 8);
  b.writeBigUInt64LE(BigInt(q.ram.uva(q.usedGpa)), 16);
  b.writeBigUInt64LE(BigInt(q.ram.uva(q.availGpa)), 24);
  b.writeBigUInt64LE(0xffffffffffffffffn, 32);
  return b;
}

function negotiate(t: ReturnType<typeof setup>, features = 0x1_7000_0001n) {
  t.send(Req.SET_OWNER);
  expect(t.send(Req.GET_FEATURES)!.readBigUInt64LE(0)).toBe(0x1_7000_0001n);
  expect(t.send(Req.GET_PROTOCOL_FEATURES)!.readBigUInt64LE(0)).toBe(0x229n);
  t.send(Req.SET_PROTOCOL_FEATURES, u64(0x228n), [], FLAG_VERSION);
  expect(t.send(Req.SET_BACKEND_REQ_FD, Buffer.alloc(0), [t.os.eventfd()])!.readBigUInt64LE(0)).toBe(0n);
  expect(t.send(Req.SET_FEATURES, u64(features))!.readBigUInt64LE(0)).toBe(0n);
}

function startRings(t: ReturnType<typeof setup>) {
  const { guest, fd, payload } = memTable(t.os, new GuestRam(1 << 20), 0xfa74000);
  t.send(Req.SET_MEM_TABLE, payload, [fd]);
  const queues = [new DriverQueue(guest, 256), new DriverQueue(guest, 256)];
  const calls: number[] = [];
  const kicks: number[] = [];
  queues.forEach((q, i) => {
    const call = t.os.eventfd();
    calls.push(call);
    t.send(Req.SET_VRING_CALL, u64(BigInt(i)), [call]);
    t.send(Req.SET_VRING_NUM, encodeVringState(i, 256));
    t.send(Req.SET_VRING_BASE, encodeVringState(i, 0));
    t.send(Req.SET_VRING_ADDR, vringAddr(i, q));
  });
  queues.forEach((_, i) => {
    const kick = t.os.eventfd();
    kicks.push(kick);
    t.send(Req.SET_VRING_KICK, u64(BigInt(i)), [kick]);
    t.send(Req.SET_VRING_ENABLE, encodeVringState(i, 1));
  });
  return { queues, calls, kicks, guest };
}

const req = encodeGpioRequest;

describe('vhost-user backend', () => {
  it('negotiates features, reads config slices, and serves requests end to end', async () => {
    const t = setup();
    negotiate(t);
    expect(t.gpio.irqEnabled).toBe(true);
    expect(t.backend.protocolFeatures).toBe(0x228n);
    const cfg = (offset: number, size: number) => {
      const p = Buffer.alloc(12 + size);
      p.writeUInt32LE(offset, 0);
      p.writeUInt32LE(size, 4);
      return t.send(Req.GET_CONFIG, p, [], FLAG_VERSION)!;
    };
    const whole = cfg(0, 8);
    expect(whole.length).toBe(20);
    expect(whole.readUInt16LE(12)).toBe(30);
    expect(whole.readUInt32LE(16)).toBe(t.gpio.names.length);
    expect(cfg(0, 2).subarray(12)).toEqual(whole.subarray(12, 14));
    expect(cfg(4, 4).subarray(12)).toEqual(whole.subarray(16, 20));
    expect(cfg(6, 4).length).toBe(0); // outside the config space: an empty payload is QEMU's error
    // Every slice a driver may read (bytewise on old kernels, 16/32-bit on newer ones) is served.
    for (let offset = 0; offset < 8; offset++) {
      for (let size = 1; offset + size <= 8; size++) {
        const slice = cfg(offset, size);
        expect(slice.readUInt32LE(0)).toBe(offset);
        expect(slice.readUInt32LE(4)).toBe(size);
        expect(slice.subarray(12)).toEqual(whole.subarray(12 + offset, 12 + offset + size));
      }
    }
    expect(cfg(0, 0).length).toBe(0);
    const { queues, calls, kicks } = startRings(t);
    const [rq] = queues;
    rq!.add([{ data: req(Msg.GET_LINE_NAMES, 0) }, { writable: 1 + t.gpio.names.length }]);
    for (let i = 0; i < 8; i++) rq!.add([{ data: req(Msg.GET_DIRECTION, i) }, { writable: 2 }]);
    t.os.kick(kicks[0]!);
    await settle();
    const done = rq!.completions();
    expect(done).toHaveLength(9);
    expect(done.filter((c) => c.len === 2).every((c) => c.output.equals(Buffer.from([0, 2])))).toBe(true);
    expect(t.os.signals.every((fd) => fd === calls[0])).toBe(true);
    expect(t.os.signals.length).toBeGreaterThanOrEqual(1);
  });

  it('delivers interrupts on the eventq through the call fd', async () => {
    const t = setup();
    negotiate(t);
    const { queues, calls, kicks } = startRings(t);
    const [rq, eq] = queues;
    for (const [type, gpio, value] of [[Msg.SET_DIRECTION, 2, VirtioDirection.OUT], [Msg.SET_DIRECTION, 3, VirtioDirection.IN], [Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_BOTH]] as const) {
      rq!.add([{ data: req(type, gpio, value) }, { writable: 2 }]);
      t.os.kick(kicks[0]!);
      await settle();
    }
    const line = Buffer.alloc(2);
    line.writeUInt16LE(3);
    eq!.add([{ data: line }, { writable: 1 }]);
    t.os.kick(kicks[1]!);
    rq!.add([{ data: req(Msg.SET_VALUE, 2, 1) }, { writable: 2 }]);
    t.os.kick(kicks[0]!);
    await settle();
    expect(eq!.completions().map((c) => [c.len, c.output[0]])).toEqual([[1, 1]]);
    expect(t.os.signals).toContain(calls[1]);
  });

  it('GET_VRING_BASE stops the ring and reports the next avail index', async () => {
    const t = setup();
    negotiate(t);
    const { queues, kicks } = startRings(t);
    queues[0]!.add([{ data: req(Msg.GET_DIRECTION, 1) }, { writable: 2 }]);
    t.os.kick(kicks[0]!);
    await settle();
    const state = t.send(Req.GET_VRING_BASE, encodeVringState(0, 0), [], FLAG_VERSION)!;
    expect(state.readUInt32LE(0)).toBe(0);
    expect(state.readUInt32LE(4)).toBe(1);
    expect(t.os.watches.has(kicks[0]!)).toBe(false);
    expect(t.os.open.has(kicks[0]!)).toBe(false);
  });

  it('without PROTOCOL_FEATURES rings start enabled', async () => {
    const t = setup();
    t.send(Req.SET_FEATURES, u64(0x1_0000_0001n), [], FLAG_VERSION);
    const { guest, fd, payload } = memTable(t.os, new GuestRam(1 << 16), 0x10000);
    t.send(Req.SET_MEM_TABLE, payload, [fd], FLAG_VERSION);
    const q = new DriverQueue(guest, 16);
    t.send(Req.SET_VRING_NUM, encodeVringState(0, 16), [], FLAG_VERSION);
    t.send(Req.SET_VRING_ADDR, vringAddr(0, q), [], FLAG_VERSION);
    q.add([{ data: req(Msg.GET_DIRECTION, 0) }, { writable: 2 }]);
    t.send(Req.SET_VRING_KICK, u64(0n), [t.os.eventfd()], FLAG_VERSION); // starting processes what waits
    await settle();
    expect(q.completions()).toHaveLength(1);
  });

  it('refuses malformed messages with a failure ack and closes every fd it was handed', () => {
    const t = setup();
    negotiate(t);
    const nack = (request: number, payload: Buffer, fds: number[] = []) => t.send(request, payload, fds)!.readBigUInt64LE(0);
    expect(nack(Req.SET_FEATURES, u64(1n << 40n))).toBe(1n);
    expect(nack(Req.SET_PROTOCOL_FEATURES, u64(1n << 1n))).toBe(1n);
    expect(nack(Req.SET_VRING_NUM, encodeVringState(0, 100))).toBe(1n);
    expect(nack(Req.SET_VRING_NUM, encodeVringState(5, 64))).toBe(1n);
    expect(nack(Req.SET_VRING_NUM, Buffer.alloc(3))).toBe(1n);
    expect(nack(Req.SET_VRING_CALL, u64(7n), [t.os.eventfd()])).toBe(1n); // no ring 7
    expect(nack(Req.SET_VRING_CALL, u64(0n), [])).toBe(1n); // fd missing
    expect(nack(Req.SET_OWNER, Buffer.alloc(0), [t.os.eventfd(), t.os.eventfd()])).toBe(0n); // stray fds closed
    const table = Buffer.alloc(8 + 32);
    table.writeUInt32LE(9, 0);
    expect(nack(Req.SET_MEM_TABLE, table, [t.os.eventfd()])).toBe(1n);
    table.writeUInt32LE(1, 0);
    table.writeBigUInt64LE(0x1000n, 16);
    expect(nack(Req.SET_MEM_TABLE, table, [t.os.file(0x100)])).toBe(1n); // mapping past the file
    expect(nack(Req.SET_CONFIG, Buffer.alloc(12 + 8))).toBe(1n);
    expect(nack(99, Buffer.alloc(4))).toBe(1n);
    expect(t.backend.counters.errors).toBe(11);
    // Only the backend request fd is still open.
    expect(t.os.open.size).toBe(1);
    expect(t.os.errors).toEqual([]);
  });

  it('treats a malformed request that must be answered as fatal for the connection', () => {
    const t = setup();
    expect(() => t.send(Req.GET_VRING_BASE, encodeVringState(9, 0), [], FLAG_VERSION)).toThrow(VhostMessageError);
  });

  it('ignores an enable for a ring that was never set up (QEMU 7.2 eventq)', () => {
    const t = setup();
    negotiate(t);
    expect(t.send(Req.SET_VRING_ENABLE, encodeVringState(1, 1))!.readBigUInt64LE(0)).toBe(0n);
  });

  it('a guest reboot on the same connection (rings restart from 0) releases the old guest\'s lines', async () => {
    const t = setup();
    negotiate(t);
    const { queues, kicks } = startRings(t);
    queues[0]!.add([{ data: req(Msg.SET_VALUE, 2, 1) }, { writable: 2 }]);
    queues[0]!.add([{ data: req(Msg.SET_DIRECTION, 2, VirtioDirection.OUT) }, { writable: 2 }]);
    t.os.kick(kicks[0]!);
    await settle();
    expect(t.board.lines[2]!.settings.direction).toBe('output');
    // QEMU 7.2 on a guest reset: stop both rings, then set everything up again from index 0.
    for (const i of [0, 1]) t.send(Req.GET_VRING_BASE, encodeVringState(i, 0), [], FLAG_VERSION);
    expect(t.send(Req.SET_FEATURES, u64(0x1_7000_0001n))!.readBigUInt64LE(0)).toBe(0n);
    const again = startRings(t);
    await settle();
    expect(t.board.lines[2]!.settings.direction).toBe('off');
    expect(t.gpio.irqEnabled).toBe(true);
    again.queues[0]!.add([{ data: req(Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_BOTH) }, { writable: 2 }]);
    t.os.kick(again.kicks[0]!);
    await settle();
    expect(again.queues[0]!.completions().map((c) => c.output.toString('hex'))).toEqual(['0000']);
  });

  it('a VM paused and resumed (rings restart where they stopped) keeps its lines', async () => {
    const t = setup();
    negotiate(t);
    const { queues, kicks } = startRings(t);
    queues[0]!.add([{ data: req(Msg.SET_DIRECTION, 2, VirtioDirection.OUT) }, { writable: 2 }]);
    t.os.kick(kicks[0]!);
    await settle();
    const base = t.send(Req.GET_VRING_BASE, encodeVringState(0, 0), [], FLAG_VERSION)!.readUInt32LE(4);
    expect(base).toBe(1);
    t.send(Req.SET_VRING_BASE, encodeVringState(0, base));
    t.send(Req.SET_VRING_KICK, u64(0n), [t.os.eventfd()]);
    await settle();
    expect(t.board.lines[2]!.settings.direction).toBe('output');
  });

  it('close() releases every fd and mapping and resets the device', async () => {
    const t = setup();
    negotiate(t);
    const { queues, kicks } = startRings(t);
    queues[0]!.add([{ data: req(Msg.SET_DIRECTION, 2, VirtioDirection.OUT) }, { writable: 2 }]);
    t.os.kick(kicks[0]!);
    await settle();
    expect(t.board.lines[2]!.settings.direction).toBe('output');
    await t.backend.close();
    expect(t.os.open.size).toBe(0);
    expect(t.os.mapped).toBe(0);
    expect(t.os.errors).toEqual([]);
    expect(t.board.lines[2]!.settings.direction).toBe('off');
    expect(PROTOCOL_FEATURES).toBe(0x229n);
  });
});
