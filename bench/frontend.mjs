// A lean vhost-user frontend for benchmarks: plays QEMU (memfd guest RAM, eventfd kicks and calls,
// negotiation, ring set-up) and the Linux gpio-virtio driver (per-line request/response buffers reused
// for every request, one request in flight per line, one eventq buffer per line, EVENT_IDX kick
// suppression and used_event re-arming as virtio_ring.c does). It allocates nothing per request, so
// what it costs is small and constant; it runs in a different process from the daemon it measures.
// The full-featured test frontend is test/helpers/frontend.ts (TypeScript, for vitest).
import { connect } from 'node:net';
import { dist } from './lib.mjs';

const native = await dist('native/index.js');
const { FLAG_NEED_REPLY, FLAG_VERSION, HEADER_SIZE, Req } = await dist('vhost/messages.js');
const { EVENT_QUEUE, REQUEST_QUEUE } = await dist('gpio/spec.js');

const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
const GUEST_UVA = 0x7f12_3400_0000;
const EVENT_IDX_BIT = 29n;
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const state = (index, num) => { const b = Buffer.alloc(8); b.writeUInt32LE(index); b.writeUInt32LE(num, 4); return b; };

/** One split ring, driver side, with a fixed two-descriptor chain per slot (slot = line). */
class Ring {
  constructor(view, base, size) {
    this.view = view;
    this.size = size;
    this.desc = base;
    this.avail = base + 16 * size;
    this.used = Math.ceil((this.avail + 6 + 2 * size) / 4) * 4;
    this.end = this.used + 6 + 8 * size;
    this.availIdx = 0;
    this.lastUsed = 0;
    this.eventIdx = false;
  }

  writeDesc(i, addr, len, flags, next) {
    const at = this.desc + 16 * i;
    this.view.setBigUint64(at, BigInt(addr), true);
    this.view.setUint32(at + 8, len, true);
    this.view.setUint16(at + 12, flags, true);
    this.view.setUint16(at + 14, next, true);
  }

  /** Chain `slot`: descriptors 2*slot (readable) -> 2*slot+1 (writable). */
  setupChain(slot, inAddr, inLen, outAddr, outLen) {
    this.writeDesc(2 * slot, inAddr, inLen, DESC_F_NEXT, 2 * slot + 1);
    this.writeDesc(2 * slot + 1, outAddr, outLen, DESC_F_WRITE, 0);
  }

  /** Makes `count` heads available; returns whether the device asked for a kick (vring_need_event). */
  publish(heads) {
    const old = this.availIdx;
    for (const head of heads) {
      this.view.setUint16(this.avail + 4 + 2 * (this.availIdx % this.size), head, true);
      this.availIdx = (this.availIdx + 1) & 0xffff;
    }
    this.view.setUint16(this.avail + 2, this.availIdx, true);
    if (!this.eventIdx) return (this.view.getUint16(this.used, true) & 1) === 0;
    const event = this.view.getUint16(this.used + 4 + 8 * this.size, true);
    return ((this.availIdx - event - 1) & 0xffff) < ((this.availIdx - old) & 0xffff);
  }

  /** Collects used entries: calls fn(head, len) for each. */
  collect(fn) {
    const usedIdx = this.view.getUint16(this.used + 2, true);
    let n = 0;
    while (this.lastUsed !== usedIdx) {
      const at = this.used + 4 + 8 * (this.lastUsed % this.size);
      fn(this.view.getUint32(at, true), this.view.getUint32(at + 4, true));
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
      n++;
    }
    return n;
  }

  /** virtqueue_enable_cb: ask for a call after what we have seen; true when more arrived meanwhile. */
  enableCallbacks() {
    this.view.setUint16(this.avail + 4 + 2 * this.size, this.lastUsed, true);
    return this.view.getUint16(this.used + 2, true) !== this.lastUsed;
  }
}

export class BenchFrontend {
  constructor(fd) {
    this.fd = fd;
    this.inbox = Buffer.alloc(0);
    this.waiters = [];
    this.kickFds = [];
    this.callFds = [];
    this.watchers = [];
    this.kicks = 0;
    this.calls = 0;
    this.watchers.push(native.watchFd(fd, () => this.readable()));
    /** Per-line request completion callbacks (one request in flight per line, as the driver does). */
    this.pending = [];
    /** Called with (line, status) for each returned eventq buffer. */
    this.onIrq = () => {};
  }

  static async connect(path) {
    const socket = connect(path);
    socket.pause();
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const fd = native.dupFd(socket._handle.fd);
    socket.destroy();
    return new BenchFrontend(fd);
  }

  readable() {
    const buf = Buffer.alloc(4096);
    for (;;) {
      const { bytes, fds } = native.recvWithFds(this.fd, buf, 4);
      for (const f of fds) native.closeFd(f);
      if (bytes === native.RECV_AGAIN || bytes === 0) break;
      this.inbox = Buffer.concat([this.inbox, buf.subarray(0, bytes)]);
    }
    while (this.inbox.length >= HEADER_SIZE) {
      const size = this.inbox.readUInt32LE(8);
      if (this.inbox.length < HEADER_SIZE + size) break;
      const reply = Buffer.from(this.inbox.subarray(HEADER_SIZE, HEADER_SIZE + size));
      this.inbox = this.inbox.subarray(HEADER_SIZE + size);
      this.waiters.shift()?.(reply);
    }
  }

  send(request, payload = Buffer.alloc(0), fds = [], expectReply = false, flags = FLAG_VERSION) {
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(request, 0);
    header.writeUInt32LE(flags, 4);
    header.writeUInt32LE(payload.length, 8);
    const reply = expectReply || flags & FLAG_NEED_REPLY ? new Promise((r) => this.waiters.push(r)) : Promise.resolve(undefined);
    native.sendWithFds(this.fd, Buffer.concat([header, payload]), fds);
    return reply;
  }

  async ack(request, payload = Buffer.alloc(0), fds = []) {
    const reply = await this.send(request, payload, fds, false, FLAG_VERSION | FLAG_NEED_REPLY);
    if (!reply || reply.readBigUInt64LE(0) !== 0n) throw new Error(`bench frontend: vhost-user request ${request} was refused`);
  }

  /** Negotiation, memory, both rings, per-line buffers. Returns ngpio. */
  async setup({ queueSize = 256 } = {}) {
    const offered = (await this.send(Req.GET_FEATURES, undefined, [], true)).readBigUInt64LE(0);
    this.features = offered;
    const protocol = (await this.send(Req.GET_PROTOCOL_FEATURES, undefined, [], true)).readBigUInt64LE(0);
    await this.send(Req.SET_PROTOCOL_FEATURES, u64(protocol & ~1n));
    await this.ack(Req.SET_OWNER);
    this.backendReq = native.socketpair();
    await this.ack(Req.SET_BACKEND_REQ_FD, Buffer.alloc(0), [this.backendReq[1]]);
    await this.ack(Req.SET_FEATURES, u64(this.features));
    const cfgReq = Buffer.alloc(20);
    cfgReq.writeUInt32LE(8, 4);
    const config = (await this.send(Req.GET_CONFIG, cfgReq, [], true)).subarray(12);
    this.ngpio = config.readUInt16LE(0);

    const ramSize = 1 << 20;
    this.memfd = native.memfdCreate('bench-guest-ram', ramSize);
    this.mapping = native.mmapFd(this.memfd, 0, ramSize, true);
    this.view = new DataView(this.mapping);
    this.bytes = new Uint8Array(this.mapping);
    const table = Buffer.alloc(40);
    table.writeUInt32LE(1, 0);
    table.writeBigUInt64LE(0n, 8);
    table.writeBigUInt64LE(BigInt(ramSize), 16);
    table.writeBigUInt64LE(BigInt(GUEST_UVA), 24);
    table.writeBigUInt64LE(0n, 32);
    await this.ack(Req.SET_MEM_TABLE, table, [this.memfd]);

    const eventIdx = (this.features & (1n << EVENT_IDX_BIT)) !== 0n;
    this.rq = new Ring(this.view, 0x1000, queueSize);
    this.eq = new Ring(this.view, Math.ceil(this.rq.end / 4096) * 4096, queueSize);
    this.rq.eventIdx = this.eq.eventIdx = eventIdx;
    // Per-line buffers: request (8) + response (2) for the requestq, irq request (2) + response (1).
    const buffers = Math.ceil(this.eq.end / 4096) * 4096;
    this.reqAt = (line) => buffers + 16 * line;
    this.respAt = (line) => buffers + 16 * line + 8;
    this.irqAt = (line) => buffers + 0x4000 + 8 * line;
    this.irqRespAt = (line) => buffers + 0x4000 + 8 * line + 4;
    if (2 * this.ngpio > queueSize) throw new Error(`bench frontend: ${this.ngpio} lines need a queue of ${2 * this.ngpio}`);
    for (let line = 0; line < this.ngpio; line++) {
      this.rq.setupChain(line, this.reqAt(line), 8, this.respAt(line), 2);
      this.view.setUint16(this.irqAt(line), line, true);
      this.eq.setupChain(line, this.irqAt(line), 2, this.irqRespAt(line), 1);
    }
    for (let i = 0; i < 2; i++) {
      const ring = i === 0 ? this.rq : this.eq;
      const call = native.eventfdCreate();
      this.callFds.push(call);
      await this.ack(Req.SET_VRING_CALL, u64(i), [call]);
      await this.ack(Req.SET_VRING_NUM, state(i, queueSize));
      await this.ack(Req.SET_VRING_BASE, state(i, 0));
      const addr = Buffer.alloc(40);
      addr.writeUInt32LE(i, 0);
      addr.writeBigUInt64LE(BigInt(GUEST_UVA + ring.desc), 8);
      addr.writeBigUInt64LE(BigInt(GUEST_UVA + ring.used), 16);
      addr.writeBigUInt64LE(BigInt(GUEST_UVA + ring.avail), 24);
      await this.ack(Req.SET_VRING_ADDR, addr);
      this.watchers.push(native.watchFd(call, () => this.called(i)));
    }
    for (let i = 0; i < 2; i++) {
      const kick = native.eventfdCreate();
      this.kickFds.push(kick);
      await this.ack(Req.SET_VRING_KICK, u64(i), [kick]);
      await this.ack(Req.SET_VRING_ENABLE, state(i, 1));
    }
    this.rq.enableCallbacks();
    this.eq.enableCallbacks();
    return this.ngpio;
  }

  called(index) {
    this.calls++;
    native.eventfdRead(this.callFds[index]);
    const ring = index === REQUEST_QUEUE ? this.rq : this.eq;
    const done = [];
    do ring.collect((head, len) => done.push(head, len));
    while (ring.enableCallbacks());
    for (let i = 0; i < done.length; i += 2) {
      const line = done[i] >> 1;
      if (index === REQUEST_QUEUE) {
        const cb = this.pending[line];
        this.pending[line] = undefined;
        cb?.(this.bytes[this.respAt(line)], this.bytes[this.respAt(line) + 1], done[i + 1]);
      } else this.onIrq(line, done[i + 1] === 1 ? this.bytes[this.irqRespAt(line)] : -1);
    }
  }

  kick(index) {
    this.kicks++;
    native.eventfdWrite(this.kickFds[index], 1);
  }

  /** Writes line's request and makes it available without kicking; `cb(status, value, len)`. */
  queueRequest(type, line, value, cb) {
    if (this.pending[line]) throw new Error(`bench frontend: line ${line} already has a request in flight`);
    this.pending[line] = cb;
    const at = this.reqAt(line);
    this.view.setUint16(at, type, true);
    this.view.setUint16(at + 2, line, true);
    this.view.setUint32(at + 4, value, true);
    this.bytes[this.respAt(line)] = 0xee;
    return 2 * line;
  }

  /** Publishes heads on the requestq and kicks when the device asked for it. */
  submit(heads) {
    if (this.rq.publish(heads)) this.kick(REQUEST_QUEUE);
  }

  /** One request, the way the driver sends it; resolves with { status, value, len }. */
  request(type, line, value = 0) {
    return new Promise((resolve) => {
      this.submit([this.queueRequest(type, line, value, (status, v, len) => resolve({ status, value: v, len }))]);
    });
  }

  /** Posts (re-posts) the eventq buffers of `lines`. */
  postIrqs(lines) {
    const heads = [];
    for (const line of lines) {
      this.bytes[this.irqRespAt(line)] = 0xee;
      heads.push(2 * line);
    }
    if (this.eq.publish(heads)) this.kick(EVENT_QUEUE);
  }

  close() {
    for (const w of this.watchers) w.stop();
    for (const fd of [this.fd, ...this.kickFds, ...this.callFds, ...(this.backendReq ?? [])]) {
      try { native.closeFd(fd); } catch { /* already closed */ }
    }
    if (this.memfd !== undefined) native.closeFd(this.memfd);
    if (this.mapping) native.munmap(this.mapping);
  }
}
