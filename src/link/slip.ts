/**
 * SLIP framing as stream transforms: @serialport/parser-slip-encoder does the RFC 1055 work; this file only
 * configures it for protocol v1 (§1: an END before and after every frame) and puts a length limit in front
 * of the decoder, which would otherwise buffer an endless run of bytes without an END.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { SlipDecoder, SlipEncoder } from '@serialport/parser-slip-encoder';
import { MAX_ENCODED_FRAME } from './frame.js';

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;

/** Encoder: each write() is one frame; output is END, escaped frame, END. */
export function createSlipEncoder(): SlipEncoder {
  return new SlipEncoder({ bluetoothQuirk: true });
}

/** One frame SLIP-encoded at once, by the same library encoder (for tools that write to an emulator). */
export function slipEncodeFrame(frame: Uint8Array): Buffer {
  const encoder = createSlipEncoder();
  encoder.write(frame); // a Transform encodes a write to an idle stream synchronously
  const encoded = encoder.read() as Buffer | null;
  if (encoded === null) throw new Error('the SLIP encoder did not encode synchronously');
  return encoded;
}

/** Decoder: emits one Buffer per packet between END bytes (empty packets included, callers skip them).
 *  Object mode keeps packets apart even when the consumer falls behind. */
export function createSlipDecoder(): SlipDecoder {
  return new SlipDecoder({ readableObjectMode: true });
}

/**
 * Sits in front of the decoder and keeps two promises the library's decoder does not:
 * - an END always ends a packet: the decoder treats the END after a stray ESC as data, so garbage that
 *   ends in ESC would swallow the next frame's leading END. An ESC directly before END is dropped;
 * - memory stays bounded: once a run without END grows past `limit`, bytes are dropped up to the next END.
 *   The decoder then sees an over-long packet, which the frame layer rejects and counts.
 */
export class PacketLengthGuard extends Transform {
  private run = 0;
  private escPending = false;
  /** Bytes dropped because a packet exceeded the limit or an ESC preceded END. */
  dropped = 0;

  constructor(private readonly limit = MAX_ENCODED_FRAME + 1) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(null, this.guardChunk(chunk));
  }

  /** The guard's work on one chunk, for callers that feed the decoder themselves (the Link does, to save
   *  a stream hop per chunk). Returns the bytes to pass on; keeps its state across calls. A chunk with
   *  nothing to drop or hold back, nearly every chunk, is returned as it is, not copied. */
  guardChunk(chunk: Uint8Array): Buffer {
    const run = this.runIfUnchanged(chunk);
    if (run < 0) return this.keptCopy(chunk);
    this.run = run;
    return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  }

  /** The run length after `chunk` when keptCopy() would pass it through byte for byte; -1 when it would
   *  drop a byte or hold back a trailing ESC. Same rules as keptCopy(), without writing anything. */
  private runIfUnchanged(chunk: Uint8Array): number {
    if (this.escPending) return -1;
    let run = this.run;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === SLIP_END) run = 0;
      else if (byte === SLIP_ESC) {
        if (i + 1 === chunk.length || chunk[i + 1] === SLIP_END || run + 2 > this.limit) return -1;
        run += 2;
        i++;
      } else if (run < this.limit) run++;
      else return -1;
    }
    return run;
  }

  /** The bytes of `chunk` that are kept, copied; for the chunks that lose or hold back a byte. */
  private keptCopy(chunk: Uint8Array): Buffer {
    const kept = Buffer.allocUnsafe(chunk.length + 1);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.escPending) {
        this.escPending = false;
        if (byte !== SLIP_END) {
          // The decoder takes the byte after an ESC as data whatever it is (escaped, or literal after an
          // invalid escape), so that byte never starts another escape: ESC ESC END must still end.
          // Kept or dropped as a pair: a lone ESC kept before the limit would pair with the next END.
          if (this.run + 2 <= this.limit) {
            this.run += 2;
            kept[n++] = SLIP_ESC;
            kept[n++] = byte;
          } else this.dropped += 2;
          continue;
        }
        this.dropped++;
      }
      if (byte === SLIP_END) {
        this.run = 0;
        kept[n++] = byte;
      } else if (byte === SLIP_ESC) {
        this.escPending = true;
      } else if (this.run < this.limit) {
        this.run++;
        kept[n++] = byte;
      } else this.dropped++;
    }
    return kept.subarray(0, n);
  }
}
