/**
 * A protocol v1 link over any byte stream (serial port, pty, the emulated board's pipe): SLIP framing,
 * request/reply correlation by sequence number within the device's window, per-request timeouts,
 * an event stream, counters, and a close that settles every pending request.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION } from './frame.js';
import {
  decodeEvent,
  decodeReply,
  encodeRequest,
  isEventType,
  isReplyType,
  MalformedMessageError,
  REPLY_BIT,
  RequestType,
  Status,
  type DecodedEvent,
  type ReplyBodies,
  type RequestBodies,
  type RequestName,
} from './protocol.js';
import { createSlipDecoder, createSlipEncoder, PacketLengthGuard } from './slip.js';
import { DeadlineTimer } from './deadlines.js';
import { DeviceError, LinkClosedError, RequestTimeoutError, VersionMismatchError } from './errors.js';

export interface LinkOptions {
  /** Requests in flight before HELLO tells us the device's window. */
  window?: number;
  /** Default per-request timeout. */
  timeoutMs?: number;
  /** Close the stream when the link closes (default true). */
  ownsStream?: boolean;
}

export interface LinkCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  crcErrors: number;
  /** Oversized, short, or cut by an over-long run of bytes. */
  framingErrors: number;
  badVersion: number;
  /** Good CRC but a type we do not know, or a request type arriving at the host. */
  unknownFrames: number;
  /** Known type whose payload does not fit its layout. */
  malformed: number;
  unexpectedReplies: number;
  timeouts: number;
  /** Event frames received. */
  events: number;
  /** Edge records received. */
  edges: number;
  /** Edge records the device reported lost (sum of OVERFLOW counts). */
  lostEvents: number;
  /** Event frames missing from the device's event sequence. */
  lostEventFrames: number;
}

/** A fresh set of counters, all zero (a new link's, or a sum to add others into). */
export function zeroLinkCounters(): LinkCounters {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, crcErrors: 0, framingErrors: 0, badVersion: 0,
    unknownFrames: 0, malformed: 0, unexpectedReplies: 0, timeouts: 0, events: 0, edges: 0, lostEvents: 0,
    lostEventFrames: 0,
  };
}

export type LinkEvent = DecodedEvent & { seq: number };

interface Pending {
  name: RequestName;
  seq: number;
  payload: Buffer;
  timeoutMs: number;
  /** performance.now() at which the request times out. */
  deadline: number;
  expire(): void;
  sent: boolean;
  resolve: (body: unknown) => void;
  reject: (error: Error) => void;
}

export const DEFAULT_TIMEOUT_MS = 1000;

export interface LinkEvents {
  event: [LinkEvent];
  /** A received frame was dropped; `kind` names the counter it went to. */
  fault: [{ kind: keyof LinkCounters; detail: string }];
  close: [string];
}

export class Link extends EventEmitter<LinkEvents> {
  readonly counters: LinkCounters = zeroLinkCounters();
  private readonly inFlight = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private readonly encoder = createSlipEncoder();
  private readonly guard = new PacketLengthGuard();
  private readonly decoder = createSlipDecoder();
  /** One timer for every pending request's timeout (requests are usually answered long before it). */
  private readonly deadlines = new DeadlineTimer();
  private window: number;
  private readonly timeoutMs: number;
  private nextSeq = 1;
  private expectedEventSeq: number | undefined;
  private closedReason: string | undefined;

  constructor(private readonly stream: Duplex, options: LinkOptions = {}) {
    super();
    this.window = options.window ?? 1;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const ownsStream = options.ownsStream ?? true;

    this.encoder.on('data', (bytes: Buffer) => {
      this.counters.bytesOut += bytes.length;
      if (!stream.destroyed && stream.writable) stream.write(bytes);
    });
    stream.on('data', (bytes: Buffer) => {
      this.counters.bytesIn += bytes.length;
      // The guard is called directly rather than piped as a stream: one Transform hop less per
      // chunk received. The decoder stays the library's stream.
      if (this.closedReason !== undefined) return;
      const kept = this.guard.guardChunk(bytes);
      if (kept.length > 0) this.decoder.write(kept);
    });
    this.decoder.on('data', (packet: Buffer) => this.onPacket(packet));

    const onGone = (why: string) => () => this.close(why);
    stream.once('end', onGone('the stream ended'));
    stream.once('close', onGone('the stream closed'));
    stream.once('error', (error: Error) => this.close(`stream error: ${error.message}`));
    this.once('close', () => {
      if (ownsStream && !stream.destroyed) stream.destroy();
    });
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** The device's window, from HELLO. Requests beyond it wait in a queue on the host. */
  setWindow(window: number): void {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
    this.window = window;
    this.pump();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Sends a request and resolves with the reply body. Rejects with DeviceError for a non-OK status,
   * RequestTimeoutError when no reply comes within the timeout (counted from this call, so time spent
   * waiting for a window slot counts too), LinkClosedError when the link closes first.
   */
  request<K extends RequestName>(name: K, body: RequestBodies[K], options: { timeoutMs?: number } = {}): Promise<ReplyBodies[K]> {
    const payload = encodeRequest(name, body);
    return new Promise<ReplyBodies[K]>((resolve, reject) => {
      const seq = this.allocateSeq();
      if (this.closedReason !== undefined) {
        reject(new LinkClosedError(name, seq, this.closedReason));
        return;
      }
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      const pending: Pending = {
        name, seq, payload, timeoutMs, sent: false,
        resolve: resolve as (body: unknown) => void,
        reject,
        deadline: performance.now() + timeoutMs,
        expire: () => this.expire(pending),
      };
      this.deadlines.add(pending);
      this.inFlight.set(seq, pending);
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Fails every pending request with LinkClosedError and stops reading. Idempotent. */
  close(reason = 'closed by the host'): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.deadlines.clear();
    for (const pending of this.inFlight.values()) {
      pending.reject(new LinkClosedError(pending.name, pending.seq, reason));
    }
    this.inFlight.clear();
    this.queue.length = 0;
    this.emit('close', reason);
  }

  private allocateSeq(): number {
    // Never reuse a number still in flight: a late reply would be matched to the wrong request.
    for (;;) {
      const seq = this.nextSeq;
      this.nextSeq = (this.nextSeq + 1) & 0xffff;
      if (!this.inFlight.has(seq)) return seq;
    }
  }

  private sentCount(): number {
    return this.inFlight.size - this.queue.length;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.sentCount() < this.window && this.closedReason === undefined) {
      const pending = this.queue.shift()!;
      pending.sent = true;
      this.counters.framesOut++;
      this.encoder.write(encodeFrame(RequestType[pending.name], pending.seq, pending.payload));
    }
  }

  private expire(pending: Pending): void {
    if (this.inFlight.get(pending.seq) !== pending) return;
    this.inFlight.delete(pending.seq);
    if (!pending.sent) this.queue.splice(this.queue.indexOf(pending), 1);
    this.counters.timeouts++;
    pending.reject(new RequestTimeoutError(pending.name, pending.seq, pending.timeoutMs));
    this.pump();
  }

  private fault(kind: keyof LinkCounters, detail: string): void {
    this.counters[kind]++;
    this.emit('fault', { kind, detail });
  }

  private onPacket(packet: Buffer): void {
    if (packet.length === 0 || this.closedReason !== undefined) return;
    const decoded = decodeFrame(packet);
    if (!decoded.ok) {
      if (decoded.fault === 'crc') this.fault('crcErrors', decoded.detail);
      else if (decoded.fault === 'framing') this.fault('framingErrors', decoded.detail);
      else {
        this.fault('badVersion', decoded.detail);
        // A reply in a version we do not speak: the request it answers cannot succeed.
        const pending = decoded.frame && this.inFlight.get(decoded.frame.seq);
        if (pending) this.settle(pending, new VersionMismatchError(decoded.frame!.version, decoded.frame!.version, PROTOCOL_VERSION));
      }
      return;
    }
    const { frame } = decoded;
    this.counters.framesIn++;
    if (isReplyType(frame.type)) this.onReply(frame.type, frame.seq, frame.payload);
    else if (isEventType(frame.type)) this.onEvent(frame.type, frame.seq, frame.payload);
    else this.fault('unknownFrames', `frame type 0x${frame.type.toString(16)} is not a reply or an event`);
  }

  private onReply(type: number, seq: number, payload: Buffer): void {
    const pending = this.inFlight.get(seq);
    if (!pending || !pending.sent || RequestType[pending.name] !== (type & ~REPLY_BIT)) {
      this.fault('unexpectedReplies', `reply type 0x${type.toString(16)} seq ${seq} matches no request in flight`);
      return;
    }
    let reply;
    try {
      reply = decodeReply(type, payload);
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      this.fault('malformed', error.message);
      this.settle(pending, error);
      return;
    }
    if (reply.status !== Status.OK) this.settle(pending, new DeviceError(pending.name, seq, reply.status, reply.detail));
    else this.settle(pending, undefined, reply.body);
  }

  private settle(pending: Pending, error: Error | undefined, body?: unknown): void {
    this.deadlines.delete(pending);
    this.inFlight.delete(pending.seq);
    if (error) pending.reject(error);
    else pending.resolve(body);
    this.pump();
  }

  private onEvent(type: number, seq: number, payload: Buffer): void {
    let event: DecodedEvent;
    try {
      event = decodeEvent(type, payload);
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      this.fault(error.message.startsWith('unknown') ? 'unknownFrames' : 'malformed', error.message);
      return;
    }
    if (event.name === 'VERSION_MISMATCH') {
      // The device could not read our frame's version; its seq echoes the request's.
      this.counters.badVersion++;
      const pending = this.inFlight.get(seq);
      if (pending) this.settle(pending, new VersionMismatchError(event.body.minVersion, event.body.maxVersion, PROTOCOL_VERSION));
      return;
    }
    this.counters.events++;
    if (this.expectedEventSeq !== undefined && seq !== this.expectedEventSeq) {
      this.counters.lostEventFrames += (seq - this.expectedEventSeq) & 0xffff;
    }
    this.expectedEventSeq = (seq + 1) & 0xffff;
    if (event.name === 'EDGES') this.counters.edges += event.body.edges.length;
    if (event.name === 'OVERFLOW') this.counters.lostEvents += event.body.lost;
    this.emit('event', { ...event, seq } as LinkEvent);
  }
}
