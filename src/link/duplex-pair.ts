/**
 * Two Duplex streams wired back to back: what one writes the other reads. The in-memory stand-in for a
 * serial port in tests and for the emulator's byte pipe (Node 20 has no stream.duplexPair).
 */
import { Duplex } from 'node:stream';

class Side extends Duplex {
  peer!: Side;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    // Copy: the writer may reuse its buffer after the callback.
    this.peer.push(Buffer.from(chunk));
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.peer.push(null);
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy();
    done(error);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new Side();
  const b = new Side();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
