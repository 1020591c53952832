/**
 * A test frontend that plays QEMU (or UML) and the Linux gpio-virtio driver against a vhost-user socket:
 * guest RAM in a memfd shared with the backend, eventfd kicks and calls, feature negotiation, the rings,
 * and the driver's request patterns. Used by integration tests and benchmarks.
 */
import { connect } from 'node:net';
import {
  closeFd, dupFd, eventfdCreate, eventfdRead, eventfdWrite, memfdCreate, mmapFd, munmap, recvWithFds, RECV_AGAIN,
  sendWithFds, socketpair, watchFd, type FdWatcher,
} from '../../src/native/index.js';
import { FLAG_NEED_REPLY, FLAG_VERSION, HEADER_SIZE, Req } from '../../src/vhost/messages.js';
import { encodeGpioRequest, EVENT_QUEUE, IrqType, Msg, REQUEST_QUEUE } from '../../src/gpio/spec.js';
import { DriverQueue, GuestRam } from './virtio-driver.js';

export const GUEST_UVA = 0x7f12_3400_0000;

export interface FrontendOptions {
  /** Features to acknowledge; default everything offered except what `drop` removes. */
  drop?: bigint;
  queueSize?: number;
  ramSize?: number;
  /** UML style: call fds are socketpair ends, gpa == uva == mmap_offset. */
  uml?: boolean;
  /** Use indirect descriptors for requests when negotiated. */
  indirect?: boolean;
  /** QEMU style: an error eventfd per ring (SET_VRING_ERR), kept in `errFds`. */
  ringErrorFds?: boolean;
}

const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
const state = (index: number, num: number) => { const b = Buffer.alloc(8); b.writeUInt32LE(index); b.writeUInt32LE(num, 4); return b; };

/** Connects to the unix socket at `path` and returns the connection as a bare fd (for sendmsg with fds). */
export async function connectUnixFd(path: string): Promise<number> {
  const socket = connect(path);
  socket.pause();
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const fd = dupFd((socket as unknown as { _handle: { fd: number } })._handle.fd);
  socket.destroy();
  return fd;
}

export class TestFrontend {
  private readonly watcher: FdWatcher;
  private inbox = Buffer.alloc(0);
  private readonly waiters: Array<(reply: Buffer) => void> = [];
  closed = false;
  ram!: GuestRam;
  rq!: DriverQueue;
  eq!: DriverQueue;
  features = 0n;
  private memfd = -1;
  private mapping: ArrayBuffer | undefined;
  private readonly kickFds: number[] = [];
  private readonly callFds: number[] = [];
  /** The rings' error eventfds, with `ringErrorFds`. */
  readonly errFds: number[] = [];
  private readonly callPeers: number[] = [];
  private readonly callWatchers: FdWatcher[] = [];
  private readonly onCall: Array<() => void> = [];
  /** Completed requestq heads waiting to be collected. */
  private readonly requestDone = new Map<number, { len: number; output: Buffer }>();
  private readonly requestWaiters = new Map<number, (r: { len: number; output: Buffer }) => void>();
  readonly irqs: Array<{ line: number; status: number }> = [];
  private readonly irqHeads = new Map<number, number>();
  private irqWaiters: Array<() => void> = [];
  private backendReq: [number, number] | undefined;

  private constructor(readonly fd: number) {
    this.watcher = watchFd(fd, () => this.readable());
  }

  static async connect(path: string): Promise<TestFrontend> {
    return new TestFrontend(await connectUnixFd(path));
  }

  private readable(): void {
    const buf = Buffer.alloc(4096);
    for (;;) {
      const { bytes, fds } = recvWithFds(this.fd, buf, 4);
      for (const f of fds) closeFd(f);
      if (bytes === RECV_AGAIN) break;
      if (bytes === 0) {
        this.closed = true;
        this.watcher.stop();
        break;
      }
      this.inbox = Buffer.concat([this.inbox, buf.subarray(0, bytes)]);
    }
    while (this.inbox.length >= HEADER_SIZE) {
      const size = this.inbox.readUInt32LE(8);
      if (this.inbox.length < HEADER_SIZE + size) break;
      const reply = this.inbox.subarray(0, HEADER_SIZE + size);
      this.inbox = this.inbox.subarray(HEADER_SIZE + size);
      this.waiters.shift()?.(Buffer.from(reply));
    }
  }

  /** Sends a message; resolves with the reply payload when one is expected. */
  send(request: number, payload: Buffer = Buffer.alloc(0), fds: number[] = [], expectReply = false, flags = FLAG_VERSION): Promise<Buffer | undefined> {
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(request, 0);
    header.writeUInt32LE(flags, 4);
    header.writeUInt32LE(payload.length, 8);
    const reply = expectReply || flags & FLAG_NEED_REPLY ? new Promise<Buffer>((r) => this.waiters.push(r)) : undefined;
    sendWithFds(this.fd, Buffer.concat([header, payload]), fds);
    return reply ? reply.then((r) => r.subarray(HEADER_SIZE)) : Promise.resolve(undefined);
  }

  /** Raw bytes on the socket, for hostile-input tests. */
  raw(bytes: Buffer, fds: number[] = []): void {
    sendWithFds(this.fd, bytes, fds);
  }

  private async ack(request: number, payload: Buffer = Buffer.alloc(0), fds: number[] = []): Promise<void> {
    const reply = await this.send(request, payload, fds, false, FLAG_VERSION | FLAG_NEED_REPLY);
    if (!reply || reply.readBigUInt64LE(0) !== 0n) throw new Error(`frontend: request ${request} was refused`);
  }

  /** The whole start-up: negotiation, config, memory, both rings; returns the config space. */
  async setup(options: FrontendOptions = {}): Promise<Buffer> {
    const size = options.queueSize ?? 256;
    const offered = (await this.send(Req.GET_FEATURES, undefined, [], true))!.readBigUInt64LE(0);
    this.features = offered & ~(options.drop ?? 0n);
    const protocol = (await this.send(Req.GET_PROTOCOL_FEATURES, undefined, [], true))!.readBigUInt64LE(0);
    await this.send(Req.SET_PROTOCOL_FEATURES, u64(protocol & ~1n)); // like UML: everything but MQ
    await this.ack(Req.SET_OWNER);
    this.backendReq = socketpair();
    await this.ack(Req.SET_BACKEND_REQ_FD, Buffer.alloc(0), [this.backendReq[1]]);
    await this.ack(Req.SET_FEATURES, u64(this.features));
    const configRequest = Buffer.alloc(12 + 8);
    configRequest.writeUInt32LE(0, 0);
    configRequest.writeUInt32LE(8, 4);
    const config = (await this.send(Req.GET_CONFIG, configRequest, [], true))!.subarray(12);

    const ramSize = options.ramSize ?? 1 << 22;
    const offset = options.uml ? 0x10000 : 0;
    this.memfd = memfdCreate('guest-ram', offset + ramSize);
    this.mapping = mmapFd(this.memfd, offset, ramSize, true);
    const gpa = options.uml ? offset : 0;
    const uva = options.uml ? offset : GUEST_UVA;
    this.ram = new GuestRam(ramSize, gpa, uva, new Uint8Array(this.mapping));
    const table = Buffer.alloc(8 + 32);
    table.writeUInt32LE(1, 0);
    table.writeBigUInt64LE(BigInt(gpa), 8);
    table.writeBigUInt64LE(BigInt(ramSize), 16);
    table.writeBigUInt64LE(BigInt(uva), 24);
    table.writeBigUInt64LE(BigInt(offset), 32);
    await this.ack(Req.SET_MEM_TABLE, table, [this.memfd]);

    const irq = (this.features & 1n) !== 0n;
    const queues = irq ? 2 : 1;
    this.rq = new DriverQueue(this.ram, size);
    this.eq = new DriverQueue(this.ram, size);
    for (let i = 0; i < queues; i++) {
      const q = i === 0 ? this.rq : this.eq;
      const [call, peer] = options.uml ? socketpair() : [eventfdCreate(), -1];
      this.callFds.push(call!);
      if (peer !== -1) this.callPeers.push(peer!);
      await this.ack(Req.SET_VRING_CALL, u64(BigInt(i)), [options.uml ? peer! : call!]);
      if (options.ringErrorFds) {
        const err = eventfdCreate();
        this.errFds.push(err);
        await this.ack(Req.SET_VRING_ERR, u64(BigInt(i)), [err]);
      }
      await this.ack(Req.SET_VRING_NUM, state(i, size));
      await this.ack(Req.SET_VRING_BASE, state(i, 0));
      const addr = Buffer.alloc(40);
      addr.writeUInt32LE(i, 0);
      addr.writeBigUInt64LE(BigInt(this.ram.uva(q.descGpa)), 8);
      addr.writeBigUInt64LE(BigInt(this.ram.uva(q.usedGpa)), 16);
      addr.writeBigUInt64LE(BigInt(this.ram.uva(q.availGpa)), 24);
      await this.ack(Req.SET_VRING_ADDR, addr);
      this.callWatchers.push(watchFd(call!, () => this.called(i)));
    }
    for (let i = 0; i < queues; i++) {
      const kick = eventfdCreate();
      this.kickFds.push(kick);
      await this.ack(Req.SET_VRING_KICK, u64(BigInt(i)), [kick]);
      await this.ack(Req.SET_VRING_ENABLE, state(i, 1));
    }
    return config;
  }

  private called(index: number): void {
    const fd = this.callFds[index]!;
    const drain = Buffer.alloc(64);
    // eventfd: one read; socketpair: read until empty.
    try {
      if (this.callPeers.length) while (recvWithFds(fd, drain, 0).bytes > 0) { /* drain */ }
      else eventfdRead(fd);
    } catch { /* already drained */ }
    const q = index === REQUEST_QUEUE ? this.rq : this.eq;
    // Like virtqueue_enable_cb: collect, publish used_event, and collect again if more arrived meanwhile.
    const collected: Array<{ head: number; len: number; output: Buffer }> = [];
    do {
      collected.push(...q.completions());
      q.enableCallbacks();
    } while (q.hasCompletions());
    for (const c of collected) {
      if (index === REQUEST_QUEUE) {
        const waiter = this.requestWaiters.get(c.head);
        if (waiter) {
          this.requestWaiters.delete(c.head);
          waiter(c);
        } else this.requestDone.set(c.head, c);
      } else {
        this.irqs.push({ line: this.irqHeads.get(c.head) ?? -1, status: c.output[0] ?? -1 });
        this.irqHeads.delete(c.head);
      }
    }
    for (const w of this.irqWaiters.splice(0)) w();
    this.onCall[index]?.();
  }

  kick(index: number): void {
    eventfdWrite(this.kickFds[index]!, 1);
  }

  /** One requestq message, the way the driver sends it; resolves with the response bytes and used length. */
  request(type: number, gpio: number, value = 0, responseSize = 2): Promise<{ len: number; output: Buffer }> {
    const head = this.rq.add([{ data: encodeGpioRequest(type, gpio, value) }, { writable: responseSize }]);
    const done = new Promise<{ len: number; output: Buffer }>((resolve) => {
      const early = this.requestDone.get(head);
      if (early) {
        this.requestDone.delete(head);
        resolve(early);
      } else this.requestWaiters.set(head, resolve);
    });
    this.kick(REQUEST_QUEUE);
    return done;
  }

  /** Posts an eventq buffer for `line` (unmask). */
  postIrq(line: number): void {
    const req = Buffer.alloc(2);
    req.writeUInt16LE(line);
    const head = this.eq.add([{ data: req }, { writable: 1 }]);
    this.irqHeads.set(head, line);
    this.kick(EVENT_QUEUE);
  }

  /** Waits until `count` eventq buffers came back in total. */
  async waitIrqs(count: number, timeoutMs = 5000): Promise<Array<{ line: number; status: number }>> {
    const deadline = Date.now() + timeoutMs;
    while (this.irqs.length < count) {
      if (Date.now() > deadline) throw new Error(`frontend: ${this.irqs.length} of ${count} interrupts after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.irqWaiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.irqs.slice(0, count);
  }

  // Shorthands for the driver's operations (gpio-virtio.c).
  async directionOutput(line: number, value: number) {
    return [await this.request(Msg.SET_VALUE, line, value), await this.request(Msg.SET_DIRECTION, line, 1)];
  }

  async enableIrq(line: number, type: number = IrqType.EDGE_BOTH) {
    const r = await this.request(Msg.SET_IRQ_TYPE, line, type);
    this.postIrq(line);
    return r;
  }

  private disposed = false;

  close(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watcher.stop();
    for (const w of this.callWatchers) w.stop();
    for (const fd of [this.fd, ...this.kickFds, ...this.callFds, ...this.errFds, ...this.callPeers, ...(this.backendReq ?? [])]) {
      try { closeFd(fd); } catch { /* closed by the peer's handling already */ }
    }
    if (this.memfd >= 0) closeFd(this.memfd);
    if (this.mapping) munmap(this.mapping);
    this.closed = true;
  }
}
