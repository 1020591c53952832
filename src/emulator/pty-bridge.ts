/**
 * Bridges a byte stream (the emulated board's Duplex) to a pseudo-terminal, so any serial tool, and
 * vgpio's own serialport path, can open the emulated board like /dev/ttyACM0.
 *
 * Mechanism: openPty() from the native addon (raw-mode slave, non-blocking master), watchFd() on the
 * master (libuv uv_poll on the main loop) and plain fs.readSync / fs.writeSync on the master. Node's fs
 * streams are not used: they read in the libuv thread pool with blocking reads, which a non-blocking
 * master answers with EAGAIN, and a blocking master would pin a pool thread in read() until the next
 * byte, so the process could not shut down cleanly. The slave fd stays open in this process: with no
 * slave open Linux reports POLLHUP/EIO on the master, so the watcher would spin between two clients.
 *
 * Writes to the master that do not fit (EAGAIN: the pty buffer is full because nobody reads the slave)
 * are queued and retried; past MAX_QUEUED bytes the oldest are dropped and counted (a real board's
 * bytes are also gone when nobody reads the port).
 */
import { readSync, writeSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { closeFd, openPty, watchFd, type FdWatcher } from '../native/index.js';

const MAX_QUEUED = 1 << 20;
const RETRY_MS = 5;

export class PtyBridge {
  readonly path: string;
  /** Bytes dropped because the pty stayed full (nobody reading) for MAX_QUEUED bytes. */
  droppedBytes = 0;
  private readonly master: number;
  private readonly slave: number;
  private readonly watcher: FdWatcher;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly buffer = Buffer.alloc(4096);
  private readonly onData = (chunk: Buffer) => this.write(chunk);

  constructor(private readonly stream: Duplex) {
    const pty = openPty();
    this.master = pty.master;
    this.slave = pty.slave;
    this.path = pty.path;
    this.watcher = watchFd(this.master, (error) => {
      if (error) {
        this.stream.destroy(new Error(`pty ${this.path}: ${error.message}`));
        return;
      }
      this.readAvailable();
    });
    stream.on('data', this.onData);
  }

  private readAvailable(): void {
    for (;;) {
      let n: number;
      try {
        n = readSync(this.master, this.buffer, 0, this.buffer.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EIO') return; // EIO: no slave open (cannot happen while we hold one)
        throw e;
      }
      if (n <= 0) return;
      this.stream.write(Buffer.from(this.buffer.subarray(0, n)));
    }
  }

  private write(chunk: Buffer): void {
    if (this.closed) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    while (this.queued > MAX_QUEUED && this.queue.length > 1) {
      const old = this.queue.shift()!;
      this.queued -= old.length;
      this.droppedBytes += old.length;
    }
    this.flush();
  }

  private flush(): void {
    if (this.closed) return;
    while (this.queue.length) {
      const head = this.queue[0]!;
      let n: number;
      try {
        n = writeSync(this.master, head);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        n = 0;
      }
      this.queued -= n;
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        this.retry ??= setTimeout(() => {
          this.retry = null;
          this.flush();
        }, RETRY_MS);
        return;
      }
      this.queue.shift();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.off('data', this.onData);
    if (this.retry) clearTimeout(this.retry);
    this.watcher.stop();
    closeFd(this.master);
    closeFd(this.slave);
  }
}
