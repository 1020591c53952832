/**
 * An RP2040 running vgpio firmware in rp2040js, with our USB host attached: load, enumerate, then use
 * it as a byte pipe (write / onData) while driving GPIOs through `gpio[n]`. Everything is synchronous:
 * simulated time only advances inside run()/runUntil()/start()/control()/read().
 */
import type { GPIOPin, RP2040 } from 'rp2040js';
import { type LoadOptions, loadImage, loadImageFile } from './loader.js';
import { RunLoop } from './runloop.js';
import { type ControlResult, type EnumerationResult, type SetupPacket, UsbHost } from './usb-host.js';

export class EmulatorTimeoutError extends Error {
  override name = 'EmulatorTimeoutError';
}

export interface EmulatedRp2040Options extends LoadOptions {
  /** Keep every received byte for read() (default true). A long-running user that takes its data with
   *  onData() must say false: nothing would ever read the buffer, so it would grow with every reply. */
  keepReceived?: boolean;
}

export class EmulatedRp2040 {
  readonly loop: RunLoop;
  readonly usb: UsbHost;
  private rx: Uint8Array[] = [];
  private rxLength = 0;

  private readonly keepReceived: boolean;

  constructor(readonly mcu: RP2040, options: Pick<EmulatedRp2040Options, 'keepReceived'> = {}) {
    this.loop = new RunLoop(mcu);
    this.usb = new UsbHost(mcu);
    this.keepReceived = options.keepReceived ?? true;
    if (this.keepReceived) {
      this.usb.onData((d) => {
        this.rx.push(d);
        this.rxLength += d.length;
      });
    }
  }

  static fromImage(image: Uint8Array, options: EmulatedRp2040Options = {}): EmulatedRp2040 {
    return new EmulatedRp2040(loadImage(image, options), options);
  }

  static fromFile(path: string, options: EmulatedRp2040Options = {}): EmulatedRp2040 {
    return new EmulatedRp2040(loadImageFile(path, options), options);
  }

  get gpio(): GPIOPin[] {
    return this.mcu.gpio;
  }

  /** Simulated time in microseconds. */
  get micros(): number {
    return this.loop.nanos / 1000;
  }

  /** Boot and run until the host has configured the device (default limit: 100 ms simulated). */
  start(limitNanos = 100e6): EnumerationResult {
    this.loop.runUntil(() => this.usb.configured || this.usb.state === 'failed', limitNanos);
    if (this.usb.failure) throw this.usb.failure;
    if (!this.usb.enumeration) {
      throw new EmulatorTimeoutError(
        `device not configured after ${limitNanos / 1e6} ms simulated (host state ${this.usb.state})`,
      );
    }
    return this.usb.enumeration;
  }

  run(nanos: number): void {
    this.loop.runFor(nanos);
  }

  runUntil(predicate: () => boolean, limitNanos: number, what = 'condition'): void {
    if (!this.loop.runUntil(predicate, limitNanos)) {
      throw new EmulatorTimeoutError(`${what} not reached within ${limitNanos / 1e6} ms simulated`);
    }
  }

  /** Queue bytes for the firmware (lossless; delivered as the firmware accepts them). */
  write(bytes: Uint8Array | ArrayLike<number>): void {
    this.usb.write(Uint8Array.from(bytes));
  }

  /** Listen to received (non-empty) IN packets. Received data is also buffered for read(). */
  onData(cb: (data: Uint8Array) => void): void {
    this.usb.onData(cb);
  }

  /** Bytes received and not yet read() (always 0 with keepReceived: false). */
  get available(): number {
    return this.rxLength;
  }

  /** Run until `n` bytes have arrived and return exactly those (the rest stays buffered). */
  read(n: number, limitNanos = 50e6): Uint8Array {
    if (!this.keepReceived) throw new Error('read(): this emulator was created with keepReceived: false; take received data with onData()');
    this.runUntil(() => this.rxLength >= n, limitNanos, `${n} received bytes (have ${this.rxLength})`);
    const all = Buffer.concat(this.rx);
    const out = Uint8Array.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.rx = rest.length ? [Uint8Array.from(rest)] : [];
    this.rxLength = rest.length;
    return out;
  }

  /** Send a control request and run until it completes or stalls. */
  control(setup: SetupPacket, out?: Uint8Array, limitNanos = 10e6): ControlResult {
    const t = this.usb.control(setup, out);
    this.runUntil(() => t.done, limitNanos, `control request ${JSON.stringify(setup)}`);
    return t.result();
  }
}
