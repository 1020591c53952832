/** HostOs in memory: "fds" are numbers naming buffers and callbacks; double closes and leaks are caught. */
import type { HostOs } from '../../src/vhost/backend.js';

export class FakeOs implements HostOs {
  private nextFd = 100;
  readonly files = new Map<number, Uint8Array>();
  readonly open = new Set<number>();
  readonly signals: number[] = [];
  readonly watches = new Map<number, () => void>();
  readonly errors: string[] = [];
  mapped = 0;

  /** A memfd-like file of `size` bytes. */
  file(size: number, bytes = new Uint8Array(size)): number {
    const fd = this.nextFd++;
    this.files.set(fd, bytes);
    this.open.add(fd);
    return fd;
  }

  /** An eventfd-like fd. */
  eventfd(): number {
    const fd = this.nextFd++;
    this.open.add(fd);
    return fd;
  }

  mmap(fd: number, offset: number, length: number): Uint8Array {
    const file = this.files.get(fd);
    if (!file || !this.open.has(fd)) throw new Error(`mmap: EBADF (fd ${fd})`);
    if (offset + length > file.length) throw new Error(`mmap: mapping ${length} bytes at ${offset} runs past the ${file.length}-byte file`);
    this.mapped++;
    return file.subarray(offset, offset + length);
  }

  munmap(): void {
    this.mapped--;
  }

  close(fd: number): void {
    if (!this.open.delete(fd)) this.errors.push(`close: fd ${fd} is not open (double close?)`);
    this.watches.delete(fd);
  }

  signal(fd: number): void {
    if (!this.open.has(fd)) this.errors.push(`signal: fd ${fd} is not open`);
    this.signals.push(fd);
  }

  drain(): void {}

  watch(fd: number, onReadable: () => void): { stop(): void } {
    this.watches.set(fd, onReadable);
    return { stop: () => this.watches.delete(fd) };
  }

  /** The frontend kicks: the fd becomes readable. */
  kick(fd: number): void {
    const cb = this.watches.get(fd);
    if (!cb) throw new Error(`kick: nobody watches fd ${fd}`);
    cb();
  }
}
