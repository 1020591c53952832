/**
 * The emulated board on the main thread: starts the worker (worker.ts) that runs firmware/dist in
 * rp2040js, and exposes it like a real board: a Duplex byte stream (what src/link runs on), plus the
 * pins for tests (drive, observe with simulated timestamps) and status queries.
 */
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { loadJig, type Jig } from '../board/jig.js';
import { ImageFormatError } from './image-error.js';
import type { EnumerationResult } from './usb-host.js';
import type { EmulatorStatus, FromWorker, PinLevel, ToWorker, WaveResult, WorkerInit } from './worker-protocol.js';

export type { EmulatorStatus, PinLevel, WaveResult } from './worker-protocol.js';

/** The image every board gets: firmware/dist/vgpio.bin. */
export const DEFAULT_IMAGE = fileURLToPath(new URL('../../firmware/dist/vgpio.bin', import.meta.url));

export interface EmulatorOptions {
  /** Jig name from hw/jigs (e.g. 'loopback'), a path to a jig file, or a parsed Jig. Default: no wiring. */
  jig?: string | Jig;
  /** Firmware image (BIN or UF2). Default firmware/dist/vgpio.bin. */
  image?: string;
  /** Pacing bounds (ns); see src/emulator/README.md. */
  leadNanos?: number;
  maxLagNanos?: number;
}

/** The emulated chip stopped: a firmware breakpoint, a watchdog reset, or the worker died. */
export class EmulatorFaultError extends Error {
  override name = 'EmulatorFaultError';
  constructor(readonly kind: string, detail: string) {
    super(`emulated board stopped: ${detail}${kind && kind !== 'Error' ? ` (${kind})` : ''}`);
  }
}

export interface PinChangeEvent {
  line: number;
  level: PinLevel;
  /** Simulated time of the change, ns since boot (the device TIMER is nanos / 1000). */
  nanos: number;
}

/** Where the compiled worker is: next to this module in dist/, or dist/ when running from src/ (tests). */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/emulator/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`the emulator worker ${fileURLToPath(built)} is not built; run \`npm run build\``);
}

/** The pins of the emulated board, as seen from outside the chip. */
export class EmulatedPins {
  private readonly levels = new Uint8Array(30);
  private readonly emitter = new EventEmitter<{ change: [PinChangeEvent] }>();

  constructor(private readonly emulator: Emulator) {}

  /** @internal */
  applyChanges(packed: Float64Array): void {
    for (let i = 0; i + 2 < packed.length; i += 3) {
      const change: PinChangeEvent = { line: packed[i]!, level: packed[i + 1] as PinLevel, nanos: packed[i + 2]! };
      this.levels[change.line] = change.level;
      this.emitter.emit('change', change);
    }
  }

  /** @internal */
  setAll(levels: readonly number[]): void {
    levels.forEach((l, i) => (this.levels[i] = l));
  }

  /** Drive `line` from outside at `level` (like a jumper to 3V3 or GND), or release it with null. Resolves with the simulated time (ns). */
  drive(line: number, level: PinLevel | null): Promise<number> {
    return this.emulator.request({ t: 'drive', line, level }) as Promise<number>;
  }

  /** Toggle `lines` together `edges` times, every `periodNanos` of simulated time; see worker-protocol.ts. */
  wave(lines: number[], edges: number, periodNanos: number): Promise<WaveResult> {
    return this.emulator.request({ t: 'wave', lines, edges, periodNanos }) as Promise<WaveResult>;
  }

  /** The last level reported for `line` (pin changes arrive with the serial data, after each slice). */
  level(line: number): PinLevel {
    return this.levels[line] as PinLevel;
  }

  /** Every change of a resolved pin level, with its simulated timestamp. Returns an unsubscribe function. */
  onChange(listener: (change: PinChangeEvent) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }
}

interface EmulatorEvents {
  fault: [EmulatorFaultError];
  exit: [];
}

/** A running emulated board (one worker thread). */
export class Emulator extends EventEmitter<EmulatorEvents> {
  readonly stream: Duplex;
  readonly pins: EmulatedPins;
  readonly jig: Jig | null;
  enumeration!: EnumerationResult;
  fault: EmulatorFaultError | null = null;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited = false;
  private closing = false;

  private constructor(private readonly worker: Worker, jig: Jig | null) {
    super();
    this.jig = jig;
    this.pins = new EmulatedPins(this);
    const self = this;
    this.stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        if (self.exited || self.fault) return done(self.fault ?? new Error('the emulated board has been closed'));
        // Copy into an ArrayBuffer of its own (chunks may be views of a shared pool) and transfer it.
        const data = new Uint8Array(chunk.length);
        data.set(chunk);
        self.post({ t: 'serial', data: data.buffer }, [data.buffer]);
        done();
      },
      final(done) {
        done();
      },
      destroy(error, done) {
        void self.close().then(() => done(error), done);
      },
    });
  }

  /** Starts the worker, boots the image and waits for USB enumeration. */
  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const jig = options.jig === undefined ? null : typeof options.jig === 'string' ? loadJig(options.jig) : options.jig;
    const image = options.image ?? DEFAULT_IMAGE;
    if (!existsSync(image)) throw new ImageFormatError(`firmware image ${image} not found; give a .bin or .uf2 file, or leave --image out for firmware/dist/vgpio.bin`);
    const init: WorkerInit = {
      image,
      wires: jig?.wires ?? [],
      ...(options.leadNanos !== undefined ? { leadNanos: options.leadNanos } : {}),
      ...(options.maxLagNanos !== undefined ? { maxLagNanos: options.maxLagNanos } : {}),
    };
    const worker = new Worker(workerUrl(), { workerData: init });
    const emulator = new Emulator(worker, jig);
    await emulator.attach();
    return emulator;
  }

  private attach(): Promise<void> {
    const { worker } = this;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const failed = (error: EmulatorFaultError) => {
        if (this.fault) return;
        this.fault = error;
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
        if (!ready) reject(error);
        this.emit('fault', error);
        // The error goes to the stream only when someone listens (a Link does): before start() resolved
        // nobody has the stream yet, and the fault reaches the caller through the rejected start().
        if (!this.stream.destroyed) this.stream.destroy(this.stream.listenerCount('error') > 0 ? error : undefined);
      };
      worker.on('message', (msg: FromWorker) => {
        switch (msg.t) {
          case 'ready':
            ready = true;
            this.enumeration = msg.enumeration;
            resolve();
            return;
          case 'serial':
            if (!this.stream.destroyed) this.stream.push(Buffer.from(msg.data));
            return;
          case 'pins':
            this.pins.applyChanges(msg.changes);
            return;
          case 'reply': {
            const p = this.pending.get(msg.id);
            if (!p) return;
            this.pending.delete(msg.id);
            if (msg.error !== undefined) p.reject(new Error(msg.error));
            else p.resolve(msg.result);
            return;
          }
          case 'fault':
            failed(new EmulatorFaultError(msg.name, msg.message));
            void this.worker.terminate();
            return;
        }
      });
      worker.on('error', (error) => failed(new EmulatorFaultError(error.name, `the emulator worker crashed: ${error.message}`)));
      worker.on('exit', (code) => {
        this.exited = true;
        if (!this.closing) failed(new EmulatorFaultError('exit', `the emulator worker exited with code ${code}`));
        for (const p of this.pending.values()) p.reject(new Error('the emulated board has been closed'));
        this.pending.clear();
        if (!this.stream.destroyed) this.stream.push(null);
        this.emit('exit');
      });
    });
  }

  private post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.exited) this.worker.postMessage(msg, transfer);
  }

  /** @internal */
  request(msg: ToWorker extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never): Promise<unknown> {
    if (this.fault) return Promise.reject(this.fault);
    if (this.exited || this.closing) return Promise.reject(new Error('the emulated board has been closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ ...msg, id } as ToWorker);
    });
  }

  /** Simulated time, lag behind wall time, cycle counters, pin levels. */
  async status(): Promise<EmulatorStatus> {
    const s = (await this.request({ t: 'status' })) as EmulatorStatus;
    return s;
  }

  /** Stops simulated time (the firmware sees no time pass); resolves with the simulated time (ns). */
  pause(): Promise<number> {
    return this.request({ t: 'pause' }) as Promise<number>;
  }

  resume(): Promise<number> {
    return this.request({ t: 'resume' }) as Promise<number>;
  }

  get closed(): boolean {
    return this.exited;
  }

  /** Terminates the worker. Idempotent. */
  async close(): Promise<void> {
    if (this.exited) return;
    if (!this.closing) {
      this.closing = true;
      this.worker.postMessage({ t: 'close' } satisfies ToWorker);
    }
    // The worker closes its port and exits by itself; terminate() is the backstop.
    const exited = new Promise<void>((resolve) => this.once('exit', resolve));
    const timer = setTimeout(() => void this.worker.terminate(), 500);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts an emulated board; see Emulator. */
export function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return Emulator.start(options);
}
