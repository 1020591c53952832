/**
 * One vhost-user connection's state machine: feature negotiation, the memory table, vring set-up and
 * the ring states (stopped, started, enabled), GET_CONFIG, REPLY_ACK. It owns every fd it is handed and
 * closes each one exactly once. Socket I/O lives in server.ts; the device behind it is a VhostDevice.
 */
import { GuestMemory, GuestMemoryError, type MemoryRegion } from '../virtio/memory.js';
import { availRingSize, descTableSize, MAX_QUEUE_SIZE, QueueError, SplitQueue, usedRingSize } from '../virtio/queue.js';
import {
  bit,
  encodeReply,
  encodeVringState,
  FLAG_NEED_REPLY,
  parseConfig,
  parseMemTable,
  parseU64,
  parseVringAddr,
  parseVringFd,
  parseVringState,
  ProtocolFeature,
  Req,
  reqName,
  u64,
  VhostMessageError,
  VirtioFeature,
  type Header,
  type VringAddr,
} from './messages.js';

/** What the backend needs from the operating system (the native addon in production, fakes in tests). */
export interface HostOs {
  /** Maps `length` bytes of `fd` from file offset `offset` (MAP_SHARED, read/write). */
  mmap(fd: number, offset: number, length: number): Uint8Array;
  munmap(bytes: Uint8Array): void;
  close(fd: number): void;
  /** Notifies the frontend through a call fd: writes a u64 1 (eventfd or UML's socketpair). */
  signal(fd: number): void;
  /** Consumes a kick eventfd's counter. */
  drain(fd: number): void;
  /** Calls `onReadable` whenever `fd` becomes readable until stopped. */
  watch(fd: number, onReadable: () => void): { stop(): void };
}

/** A virtio device served over vhost-user. */
export interface VhostDevice {
  /** Device-type feature bits (e.g. VIRTIO_GPIO_F_IRQ); the backend adds the transport bits. */
  readonly deviceFeatures: bigint;
  readonly queueCount: number;
  /** The device's config space, read-only. */
  config(): Buffer;
  /** Called with the driver's acknowledged features. */
  negotiate(features: bigint): void;
  /** A started and enabled ring, or undefined when it stops or is disabled. */
  setQueue(index: number, queue: SplitQueue | undefined): void;
  kick(index: number): void;
  /** The frontend went away or reset the device. */
  reset(): Promise<void>;
}

export const TRANSPORT_FEATURES =
  bit(VirtioFeature.VERSION_1) | bit(VirtioFeature.INDIRECT_DESC) | bit(VirtioFeature.EVENT_IDX) | bit(VirtioFeature.PROTOCOL_FEATURES);
/** MQ | REPLY_ACK | BACKEND_REQ | CONFIG: CONFIG is mandatory for QEMU, BACKEND_REQ for UML. */
export const PROTOCOL_FEATURES =
  bit(ProtocolFeature.MQ) | bit(ProtocolFeature.REPLY_ACK) | bit(ProtocolFeature.BACKEND_REQ) | bit(ProtocolFeature.CONFIG);

interface Vring {
  num: number | undefined;
  addr: VringAddr | undefined;
  base: number;
  /** Set by SET_VRING_KICK, dropped by GET_VRING_BASE: the ring is started exactly while it has one. */
  kickFd: number | undefined;
  callFd: number | undefined;
  errFd: number | undefined;
  enabled: boolean;
  /** The ring has been started at least once on this connection. */
  everStarted: boolean;
  queue: SplitQueue | undefined;
  /** What `queue` was built from: rebuilt only when this changes, so in-flight requests survive. */
  queueSource: { memory: GuestMemory; num: number; addr: VringAddr } | undefined;
  watch: { stop(): void } | undefined;
}

export interface BackendCounters {
  messages: number;
  /** Messages refused (bad payload, bad index, unsupported request). */
  errors: number;
  kicks: number;
  calls: number;
  /** Vring error fds written: a ring the device stopped using because it is corrupt. */
  ringErrors: number;
}

export type Reply = Buffer | undefined;

export class VhostUserBackend {
  readonly counters: BackendCounters = { messages: 0, errors: 0, kicks: 0, calls: 0, ringErrors: 0 };
  features = 0n;
  protocolFeatures = 0n;
  private featuresSet = false;
  private memory: GuestMemory | undefined;
  private mappings: Uint8Array[] = [];
  private backendReqFd: number | undefined;
  private readonly vrings: Vring[];
  private closed = false;

  constructor(
    private readonly device: VhostDevice,
    private readonly os: HostOs,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.vrings = Array.from({ length: device.queueCount }, () => VhostUserBackend.idleRing());
  }

  private static idleRing(): Vring {
    return { num: undefined, addr: undefined, base: 0, kickFd: undefined, callFd: undefined, errFd: undefined, enabled: false, everStarted: false, queue: undefined, queueSource: undefined, watch: undefined };
  }

  get offeredFeatures(): bigint {
    return this.device.deviceFeatures | TRANSPORT_FEATURES;
  }

  private get replyAck(): boolean {
    return (this.protocolFeatures & bit(ProtocolFeature.REPLY_ACK)) !== 0n;
  }

  /**
   * Handles one message and returns the reply to send, if any. Takes ownership of `fds`.
   * Throws VhostMessageError when the connection cannot go on (a request that needs a reply is malformed).
   */
  handle(header: Header, payload: Buffer, fds: number[]): Reply {
    this.counters.messages++;
    const owned = [...fds];
    const take = (count: number): number[] => {
      if (owned.length !== count) throw new VhostMessageError(`${reqName(header.request)}: carries ${owned.length} file descriptors, expected ${count}`);
      return owned.splice(0, count);
    };
    try {
      const reply = this.dispatch(header, payload, take);
      if (reply === undefined && this.replyAck && header.flags & FLAG_NEED_REPLY) return encodeReply(header.request, u64(0n));
      return reply;
    } catch (error) {
      if (!(error instanceof VhostMessageError || error instanceof GuestMemoryError || error instanceof QueueError)) throw error;
      this.counters.errors++;
      this.log(`vhost-user: ${error.message}`);
      if (ALWAYS_REPLY.has(header.request)) {
        // The frontend waits for this reply; a wrong one would be worse than none.
        if (header.request === Req.GET_CONFIG) return encodeReply(header.request, Buffer.alloc(0));
        throw error;
      }
      if (this.replyAck && header.flags & FLAG_NEED_REPLY) return encodeReply(header.request, u64(1n));
      return undefined;
    } finally {
      for (const fd of owned) this.os.close(fd); // fds nobody wanted
    }
  }

  private ring(request: number, index: number): Vring {
    const ring = this.vrings[index];
    if (!ring) throw new VhostMessageError(`${reqName(request)}: ring ${index} does not exist; this device has ${this.vrings.length}`);
    return ring;
  }

  private dispatch(header: Header, payload: Buffer, take: (count: number) => number[]): Reply {
    const { request } = header;
    switch (request) {
      case Req.GET_FEATURES:
        return encodeReply(request, u64(this.offeredFeatures));
      case Req.SET_FEATURES: {
        const features = parseU64(request, payload);
        const unknown = features & ~this.offeredFeatures;
        if (unknown) throw new VhostMessageError(`SET_FEATURES: bits 0x${unknown.toString(16)} were never offered`);
        this.features = features;
        const first = !this.featuresSet;
        this.featuresSet = true;
        // Without PROTOCOL_FEATURES rings are enabled from the start.
        if (first && !(features & bit(VirtioFeature.PROTOCOL_FEATURES))) for (const ring of this.vrings) ring.enabled = true;
        this.device.negotiate(features);
        this.log(`vhost-user: features negotiated 0x${features.toString(16)}`);
        return undefined;
      }
      case Req.GET_PROTOCOL_FEATURES:
        return encodeReply(request, u64(PROTOCOL_FEATURES));
      case Req.SET_PROTOCOL_FEATURES: {
        const features = parseU64(request, payload);
        const unknown = features & ~PROTOCOL_FEATURES;
        if (unknown) throw new VhostMessageError(`SET_PROTOCOL_FEATURES: bits 0x${unknown.toString(16)} were never offered`);
        this.protocolFeatures = features;
        return undefined;
      }
      case Req.GET_QUEUE_NUM:
        return encodeReply(request, u64(BigInt(this.vrings.length)));
      case Req.SET_OWNER:
        return undefined;
      case Req.RESET_OWNER:
      case Req.RESET_DEVICE:
        this.resetRings();
        void this.device.reset();
        return undefined;
      case Req.SET_MEM_TABLE:
        this.setMemTable(payload, take);
        return undefined;
      case Req.SET_VRING_NUM: {
        const { index, num } = parseVringState(request, payload);
        const ring = this.ring(request, index);
        if (num < 1 || num > MAX_QUEUE_SIZE || (num & (num - 1)) !== 0) throw new VhostMessageError(`SET_VRING_NUM: size ${num} of ring ${index} is not a power of two up to ${MAX_QUEUE_SIZE}`);
        ring.num = num;
        return undefined;
      }
      case Req.SET_VRING_ADDR: {
        const addr = parseVringAddr(request, payload);
        this.ring(request, addr.index).addr = addr;
        this.refreshQueue(addr.index);
        return undefined;
      }
      case Req.SET_VRING_BASE: {
        const { index, num } = parseVringState(request, payload);
        if (num > 0xffff) throw new VhostMessageError(`SET_VRING_BASE: index ${num} of ring ${index} exceeds 16 bits`);
        const ring = this.ring(request, index);
        // A requestq that ran before and now restarts from 0 belongs to a new driver: the guest rebooted on
        // the same connection (QEMU keeps the socket). Release what the old guest held. A VM paused and
        // resumed restarts its rings where they stopped, so its lines stay as they are.
        if (index === 0 && num === 0 && ring.everStarted && ring.kickFd === undefined) {
          this.log('vhost-user: the requestq restarts from 0 (guest reset): releasing every line the old driver used');
          void this.device.reset(); // its synchronous part forgets the negotiated features...
          this.device.negotiate(this.features); // ...which the new driver already sent
        }
        ring.base = num;
        return undefined;
      }
      case Req.GET_VRING_BASE: {
        const { index } = parseVringState(request, payload);
        const ring = this.ring(request, index);
        this.stopRing(index); // records where the ring stopped in ring.base
        return encodeReply(request, encodeVringState(index, ring.base));
      }
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR: {
        const { index, noFd } = parseVringFd(request, payload);
        const ring = this.ring(request, index);
        if (noFd && request === Req.SET_VRING_KICK) throw new VhostMessageError(`SET_VRING_KICK: ring ${index} without a kick fd (polling) is not supported`);
        const [fd] = noFd ? [undefined] : take(1);
        if (request === Req.SET_VRING_KICK) {
          this.stopWatch(ring);
          this.replaceFd(ring, 'kickFd', fd);
          ring.everStarted = true;
          ring.watch = this.os.watch(fd!, () => this.onKick(index));
          this.refreshQueue(index);
        } else if (request === Req.SET_VRING_CALL) this.replaceFd(ring, 'callFd', fd);
        else this.replaceFd(ring, 'errFd', fd);
        return undefined;
      }
      case Req.SET_VRING_ENABLE: {
        const { index, num } = parseVringState(request, payload);
        const ring = this.ring(request, index);
        if (num > 1) throw new VhostMessageError(`SET_VRING_ENABLE: ${num} is not 0 or 1`);
        ring.enabled = num === 1;
        this.refreshQueue(index);
        return undefined;
      }
      case Req.SET_BACKEND_REQ_FD: {
        // UML breaks the device if this fd is closed: keep it for the whole connection.
        const [fd] = take(1);
        if (this.backendReqFd !== undefined) this.os.close(this.backendReqFd);
        this.backendReqFd = fd;
        return undefined;
      }
      case Req.GET_CONFIG: {
        const { offset, size } = parseConfig(request, payload);
        const config = this.device.config();
        if (offset + size > config.length || size === 0) {
          throw new VhostMessageError(`GET_CONFIG: offset ${offset} size ${size} is outside the ${config.length}-byte config space`);
        }
        const reply = Buffer.alloc(12 + size);
        payload.copy(reply, 0, 0, 12);
        config.copy(reply, 12, offset, offset + size);
        return encodeReply(request, reply);
      }
      case Req.SET_CONFIG:
        parseConfig(request, payload);
        throw new VhostMessageError('SET_CONFIG: the virtio-gpio config space is read-only');
      default:
        throw new VhostMessageError(`${reqName(request)} is not supported by this backend`);
    }
  }

  private replaceFd(ring: Vring, key: 'kickFd' | 'callFd' | 'errFd', fd: number | undefined): void {
    const old = ring[key];
    if (old !== undefined && old !== fd) this.os.close(old);
    ring[key] = fd;
  }

  private setMemTable(payload: Buffer, take: (count: number) => number[]): void {
    const table = parseMemTable(Req.SET_MEM_TABLE, payload);
    const fds = take(table.length);
    const mapped: Uint8Array[] = [];
    try {
      const regions: MemoryRegion[] = table.map((r, i) => {
        // Map from file offset 0 and skip mmap_offset, as libvhost-user does: no alignment constraints.
        const whole = this.os.mmap(fds[i]!, 0, r.mmapOffset + r.size);
        mapped.push(whole);
        return { guestPhysAddr: r.guestPhysAddr, userAddr: r.userAddr, size: r.size, bytes: whole.subarray(r.mmapOffset) };
      });
      const memory = new GuestMemory(regions);
      const old = this.mappings;
      this.memory = memory;
      this.mappings = mapped;
      for (let i = 0; i < this.vrings.length; i++) this.refreshQueue(i);
      for (const m of old) this.os.munmap(m);
      this.log(`vhost-user: memory table with ${regions.length} region(s), ${regions.reduce((n, r) => n + r.size, 0)} bytes`);
    } catch (error) {
      for (const m of mapped) this.os.munmap(m);
      throw error instanceof Error && !(error instanceof VhostMessageError || error instanceof GuestMemoryError) ? new VhostMessageError(`SET_MEM_TABLE: ${error.message}`) : error;
    } finally {
      // The mappings keep the memory alive; the fds are no longer needed.
      for (const fd of fds) this.os.close(fd);
    }
  }

  /** (Re)builds a ring's queue from its state and tells the device whether it is live. */
  private refreshQueue(index: number): void {
    const ring = this.vrings[index]!;
    const { num, addr } = ring;
    const memory = this.memory;
    if (ring.kickFd === undefined || num === undefined || addr === undefined || memory === undefined) {
      // An enable for a ring that was never set up (QEMU 7.2 does this for the eventq) is ignored.
      this.dropQueue(index, ring);
      return;
    }
    const source = ring.queueSource;
    if (!ring.queue || !source || source.memory !== memory || source.num !== num || source.addr !== addr) {
      ring.queueSource = { memory, num, addr };
      ring.queue = new SplitQueue({
        size: num,
        memory,
        desc: memory.uvaView(addr.desc, descTableSize(num)),
        avail: memory.uvaView(addr.avail, availRingSize(num)),
        used: memory.uvaView(addr.used, usedRingSize(num)),
        eventIdx: (this.features & bit(VirtioFeature.EVENT_IDX)) !== 0n,
        indirect: (this.features & bit(VirtioFeature.INDIRECT_DESC)) !== 0n,
        nextAvail: ring.queue?.nextAvail ?? ring.base,
      });
    }
    this.device.setQueue(index, ring.enabled ? ring.queue : undefined);
    if (ring.enabled) this.device.kick(index); // buffers may already be waiting
  }

  private onKick(index: number): void {
    const ring = this.vrings[index];
    if (!ring || ring.kickFd === undefined) return;
    this.os.drain(ring.kickFd);
    this.counters.kicks++;
    if (ring.enabled && ring.queue) this.device.kick(index);
  }

  /** Signals the frontend that ring `index` has used buffers. */
  notify(index: number): void {
    const fd = this.vrings[index]?.callFd;
    if (fd === undefined || this.closed) return;
    this.counters.calls++;
    this.os.signal(fd);
  }

  /** The device stopped using ring `index` (it is corrupt): tells the frontend through the ring's error
   *  fd, if it gave one (SET_VRING_ERR; QEMU reports "vhost vring error in virtqueue N"). */
  notifyError(index: number): void {
    const fd = this.vrings[index]?.errFd;
    if (fd === undefined || this.closed) return;
    this.counters.ringErrors++;
    this.os.signal(fd);
  }

  private stopWatch(ring: Vring): void {
    ring.watch?.stop();
    ring.watch = undefined;
  }

  /** GET_VRING_BASE: the ring stops; its kick fd is dropped (rust-vmm does the same). */
  private stopRing(index: number): void {
    const ring = this.vrings[index]!;
    this.stopWatch(ring);
    this.replaceFd(ring, 'kickFd', undefined);
    ring.base = ring.queue?.nextAvail ?? ring.base;
    this.dropQueue(index, ring);
  }

  /** Forgets a ring's queue, taking it from the device first if it had one. */
  private dropQueue(index: number, ring: Vring): void {
    if (ring.queue) this.device.setQueue(index, undefined);
    ring.queue = undefined;
    ring.queueSource = undefined;
  }

  private resetRings(): void {
    for (let i = 0; i < this.vrings.length; i++) {
      this.stopRing(i);
      const ring = this.vrings[i]!;
      this.replaceFd(ring, 'callFd', undefined);
      this.replaceFd(ring, 'errFd', undefined);
      this.vrings[i] = VhostUserBackend.idleRing();
    }
  }

  /** The connection is gone: release fds and mappings, and reset the device for the next frontend. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.resetRings();
    if (this.backendReqFd !== undefined) this.os.close(this.backendReqFd);
    this.backendReqFd = undefined;
    for (const m of this.mappings) this.os.munmap(m);
    this.mappings = [];
    this.memory = undefined;
    await this.device.reset();
  }
}

/** Requests whose sender blocks for a reply whatever the flags say. */
const ALWAYS_REPLY = new Set<number>([Req.GET_FEATURES, Req.GET_PROTOCOL_FEATURES, Req.GET_VRING_BASE, Req.GET_QUEUE_NUM, Req.GET_CONFIG, Req.GET_MAX_MEM_SLOTS]);
