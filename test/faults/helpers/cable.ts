/**
 * The "USB cable" between the daemon's Link and a board's byte stream (the emulated board's pipe), for
 * fault injection: it can be cut (what a real unplug looks like to the host: the tty closes) and it can
 * corrupt, drop and truncate bytes in either direction with a seeded PRNG, counting every fault.
 */
import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { duplexPair } from '../../../src/link/duplex-pair.js';

/** mulberry32: small, fast, good enough to spread faults. The seed fixes the pattern; where it lands
 *  still depends on how the streams chunk the bytes (per-chunk truncation), so reruns are close, not equal. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultRates {
  /** Per byte: flip one to three random bits. */
  corrupt: number;
  /** Per byte: the byte is lost. */
  drop: number;
  /** Per chunk: the chunk is cut short at a random point (a USB packet lost halfway). */
  truncate: number;
}

export interface FaultCounts {
  corrupted: number;
  dropped: number;
  truncated: number;
}

export const NO_FAULTS: FaultRates = { corrupt: 0, drop: 0, truncate: 0 };

/** A Transform that damages bytes at `rates` (changeable at any time; NO_FAULTS passes them through). */
export class FaultInjector extends Transform {
  readonly counts: FaultCounts = { corrupted: 0, dropped: 0, truncated: 0 };
  rates: FaultRates = NO_FAULTS;

  constructor(private readonly random: () => number) {
    super();
  }

  get total(): number {
    return this.counts.corrupted + this.counts.dropped + this.counts.truncated;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const { corrupt, drop, truncate } = this.rates;
    if (corrupt === 0 && drop === 0 && truncate === 0) return done(null, chunk);
    let bytes = Buffer.from(chunk);
    if (bytes.length > 1 && this.random() < truncate) {
      bytes = bytes.subarray(0, Math.floor(this.random() * bytes.length));
      this.counts.truncated++;
    }
    const out: number[] = [];
    for (const byte of bytes) {
      if (this.random() < drop) {
        this.counts.dropped++;
        continue;
      }
      if (this.random() < corrupt) {
        let flipped = byte;
        const flips = 1 + Math.floor(this.random() * 3);
        for (let i = 0; i < flips; i++) flipped ^= 1 << Math.floor(this.random() * 8);
        if (flipped === byte) flipped ^= 0x01;
        this.counts.corrupted++;
        out.push(flipped);
        continue;
      }
      out.push(byte);
    }
    done(null, Buffer.from(out));
  }
}

export class Cable {
  /** The end the host's Link runs on. */
  readonly host: Duplex;
  private readonly boardEnd: Duplex;
  readonly toHost: FaultInjector;
  readonly toDevice: FaultInjector;
  isCut = false;

  constructor(private readonly device: Duplex, seed = 1) {
    [this.host, this.boardEnd] = duplexPair();
    // One generator per direction, so the two streams' interleaving does not shift each other's faults.
    this.toHost = new FaultInjector(prng(seed));
    this.toDevice = new FaultInjector(prng(seed ^ 0x9e3779b9));
    device.pipe(this.toHost).on('data', (bytes: Buffer) => {
      if (!this.boardEnd.destroyed) this.boardEnd.write(bytes);
    });
    this.boardEnd.pipe(this.toDevice).on('data', (bytes: Buffer) => {
      if (!device.destroyed && device.writable) device.write(bytes);
    });
  }

  /** Every fault injected so far, both directions. */
  get faults(): number {
    return this.toHost.total + this.toDevice.total;
  }

  set rates(rates: FaultRates) {
    this.toHost.rates = rates;
    this.toDevice.rates = rates;
  }

  /** Unplugs: the host's end closes as a tty does when its USB device disappears. */
  cut(): void {
    this.isCut = true;
    this.device.unpipe(this.toHost);
    this.boardEnd.destroy();
  }
}
