/**
 * A scripted device on the other end of an in-memory duplex: decodes the host's requests and lets a test
 * answer them however it likes (in any order, late, corrupted, never).
 */
import type { Duplex } from 'node:stream';
import {
  createSlipDecoder,
  createSlipEncoder,
  decodeFrame,
  decodeRequest,
  encodeErrorReply,
  encodeEvent,
  encodeFrame,
  encodeReply,
  EventType,
  PacketLengthGuard,
  REPLY_BIT,
  RequestType,
  type DecodedRequest,
  type EventBodies,
  type EventName,
  type ReplyBodies,
  type RequestName,
} from '../../src/link/index.js';

export interface ReceivedRequest {
  seq: number;
  type: number;
  request: DecodedRequest;
}

export class ScriptedPeer {
  readonly received: ReceivedRequest[] = [];
  private readonly encoder = createSlipEncoder();
  private waiters: Array<() => void> = [];
  private eventSeq = 0;

  constructor(readonly stream: Duplex) {
    const decoder = createSlipDecoder();
    stream.pipe(new PacketLengthGuard()).pipe(decoder);
    decoder.on('data', (packet: Buffer) => {
      if (packet.length === 0) return;
      const decoded = decodeFrame(packet);
      if (!decoded.ok) throw new Error(`host sent a bad frame: ${decoded.detail}`);
      const { frame } = decoded;
      this.received.push({ seq: frame.seq, type: frame.type, request: decodeRequest(frame.type, frame.payload) });
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.encoder.on('data', (bytes: Buffer) => { if (!stream.destroyed) stream.write(bytes); });
  }

  /** Resolves once `count` requests have arrived in total. */
  async waitFor(count: number): Promise<ReceivedRequest[]> {
    while (this.received.length < count) await new Promise<void>((r) => this.waiters.push(r));
    return this.received.slice(0, count);
  }

  reply<K extends RequestName>(to: ReceivedRequest, name: K, body: ReplyBodies[K]): void {
    this.encoder.write(encodeFrame(RequestType[name] | REPLY_BIT, to.seq, encodeReply(name, body)));
  }

  replyError(to: ReceivedRequest, status: number, detail?: number): void {
    this.encoder.write(encodeFrame(to.type | REPLY_BIT, to.seq, encodeErrorReply(status, detail)));
  }

  event<K extends EventName>(name: K, body: EventBodies[K], seq = this.eventSeq++): void {
    this.encoder.write(encodeFrame(EventType[name], seq, encodeEvent(name, body)));
  }

  /** Raw bytes, no framing: garbage, hand-made frames. */
  raw(bytes: Uint8Array): void {
    this.stream.write(bytes);
  }

  /** A frame SLIP-encoded as-is (for frames with a wrong CRC or version). */
  rawFrame(frame: Uint8Array): void {
    this.encoder.write(frame);
  }
}
