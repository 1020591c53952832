/**
 * The vgpio native addon (`build/Release/vgpio_native.node`, C sources next to this file), typed.
 *
 * Node cannot pass file descriptors over a unix socket (SCM_RIGHTS), map a file (mmap), or make and
 * wait on eventfds; a vhost-user backend needs all three. This is the whole native surface: everything
 * else stays in TypeScript. See README.md in this folder for fd ownership rules.
 *
 * Errors from system calls are plain `Error`s shaped like Node's own system errors: message
 * `"<syscall>: <CODE> (<description>)"`, e.g. `recvmsg: EBADF (bad file descriptor)`, with `code`
 * (`'EBADF'`), `errno` (negative, libuv convention, as in Node's fs errors) and `syscall` (`'recvmsg'`).
 * Bad arguments throw `TypeError`/`RangeError` before any system call is made.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** An Error from a system call (see the module comment). */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall: string;
}

/** True when `e` is an Error thrown by this module for a failed system call. */
export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).code === 'string' && typeof (e as NativeError).syscall === 'string';
}

type Bytes = ArrayBufferView | ArrayBuffer;

interface Binding {
  recvWithFds(fd: number, buffer: Bytes, maxFds: number): { bytes: number; fds: number[] };
  sendWithFds(fd: number, buffer: Bytes, fds: readonly number[]): number;
  mmapFd(fd: number, offset: number | bigint, length: number, writable: boolean): ArrayBuffer;
  munmap(buffer: ArrayBuffer): void;
  eventfdCreate(initial: number, nonblock: boolean, cloexec: boolean, semaphore: boolean): number;
  eventfdRead(fd: number): bigint | null;
  eventfdWrite(fd: number, value: number | bigint): boolean;
  memfdCreate(name: string, size: number | bigint): number;
  closeFd(fd: number): void;
  dupFd(fd: number): number;
  setNonBlocking(fd: number, on: boolean): void;
  socketpair(nonblock: boolean): [number, number];
  watchFd(fd: number, callback: (error?: Error) => void): () => boolean;
  openPty(): PtyPair;
}

const addonPath = fileURLToPath(new URL('../../build/Release/vgpio_native.node', import.meta.url));

function load(): Binding {
  try {
    return createRequire(import.meta.url)(addonPath) as Binding;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `vgpio: cannot load the native addon ${addonPath} (${why}). It is built by \`npm ci\`/\`npm install\` ` +
        '(node-gyp; needs python3, make and a C compiler); rebuild it with `npm rebuild` in the repository.',
      { cause: e },
    );
  }
}

const native: Binding = load();

// ---- fd passing -------------------------------------------------------------------------------------

/** `recvWithFds` returns `bytes: RECV_AGAIN` when a non-blocking socket has nothing to read (EAGAIN). */
export const RECV_AGAIN = -1;

export interface RecvResult {
  /** Bytes read into the buffer; 0 = end of stream (peer closed); RECV_AGAIN (-1) = nothing to read now. */
  bytes: number;
  /** Descriptors that arrived with these bytes (close-on-exec). The caller owns them and must close them. */
  fds: number[];
}

/**
 * One `recvmsg(2)` on a unix stream socket, with room for `maxFds` SCM_RIGHTS descriptors (0..253).
 * Reads at most `buffer.byteLength` bytes. If the peer attached more descriptors than `maxFds`, the ones
 * that arrived are closed and an Error with code `'MSG_CTRUNC'` is thrown; the bytes of that message are
 * consumed, so the stream is out of step and the connection should be dropped.
 * The kernel never merges bytes that carry fds with bytes that came in another sendmsg with fds, so a
 * message and its fds arrive together; a short read can still split a message's bytes (loop for the rest).
 */
export function recvWithFds(fd: number, buffer: Bytes, maxFds: number): RecvResult {
  return native.recvWithFds(fd, buffer, maxFds);
}

/**
 * One `sendmsg(2)` with `fds` as SCM_RIGHTS (at most 253; `buffer` must not be empty when fds are sent)
 * and MSG_NOSIGNAL (a closed peer gives EPIPE, never SIGPIPE). Returns the bytes written, which on a
 * stream socket can be fewer than `buffer.byteLength`; the fds travel with the first byte. Throws on
 * every error, including EAGAIN (socket buffer full). The caller still owns `fds` afterwards.
 */
export function sendWithFds(fd: number, buffer: Bytes, fds: readonly number[] = []): number {
  return native.sendWithFds(fd, buffer, fds);
}

// ---- shared memory ----------------------------------------------------------------------------------

/**
 * Maps `length` bytes of `fd` from file offset `offset` and returns an ArrayBuffer showing exactly that
 * window. `writable: true` is a MAP_SHARED read-write mapping: writes reach the file and every other
 * mapping of it (guest memory). `writable: false` needs only a read-only fd and is a private
 * copy-on-write mapping: reads see the file, but a stray write from JS stays in this process instead of
 * crashing it with SIGSEGV (JavaScript has no read-only ArrayBuffer). `offset` need not be page aligned;
 * `length` is 1 .. 2^32 (4 GiB, the largest Buffer in Node 20: map bigger regions in windows). For
 * regular files (memfd, /dev/shm) a window past the end of the file is refused (EINVAL), since touching
 * it would kill the process with SIGBUS. The mapping does not keep `fd` open: close it whenever you like.
 * The pages are unmapped by `munmap(buffer)` or, failing that, after the ArrayBuffer is garbage collected.
 * Do not transfer the ArrayBuffer to a worker; views of it (Uint8Array, DataView) are fine.
 */
export function mmapFd(fd: number, offset: number | bigint, length: number, writable: boolean): ArrayBuffer {
  return native.mmapFd(fd, offset, length, writable);
}

/**
 * Unmaps an ArrayBuffer returned by `mmapFd` now. The ArrayBuffer is detached first, so every view of
 * it becomes zero-length and later JS access cannot reach the unmapped pages. Calling it again is a
 * no-op; any other ArrayBuffer is a TypeError.
 */
export function munmap(buffer: ArrayBuffer): void {
  native.munmap(buffer);
}

/** `memfd_create(2)` (close-on-exec) + `ftruncate(2)` to `size` bytes: anonymous shareable memory. */
export function memfdCreate(name: string, size: number | bigint): number {
  return native.memfdCreate(name, size);
}

// ---- eventfd ----------------------------------------------------------------------------------------

export interface EventfdFlags {
  /** EFD_NONBLOCK (default true): eventfdRead returns null instead of blocking the JS thread. */
  nonblock?: boolean;
  /** EFD_CLOEXEC (default true). */
  cloexec?: boolean;
  /** EFD_SEMAPHORE (default false): each read returns 1 and decrements, instead of returning and clearing the count. */
  semaphore?: boolean;
}

/** `eventfd(2)` with counter `initial` (0..2^32-1). Returns the fd. */
export function eventfdCreate(initial = 0, flags: EventfdFlags = {}): number {
  return native.eventfdCreate(initial, flags.nonblock ?? true, flags.cloexec ?? true, flags.semaphore ?? false);
}

/**
 * Reads an eventfd: the whole counter (which is reset), or 1n in semaphore mode (counter decremented).
 * Returns null when the counter is 0 and the fd is non-blocking.
 */
export function eventfdRead(fd: number): bigint | null {
  return native.eventfdRead(fd);
}

/**
 * Adds `value` (0..2^64-2, default 1) to an eventfd's counter; also signals a socketpair "call fd" (UML),
 * which takes the same 8-byte write. Returns false if the write would block (counter overflow, or a full
 * socket whose reader has notifications pending anyway).
 */
export function eventfdWrite(fd: number, value: number | bigint = 1): boolean {
  return native.eventfdWrite(fd, value);
}

// ---- plain fd utilities -----------------------------------------------------------------------------

/**
 * `close(2)`. Refuses (code `'EBUSY'`) to close an fd that an active `watchFd` watcher polls: stop the
 * watcher first. EINTR is treated as success (Linux has released the fd).
 */
export function closeFd(fd: number): void {
  native.closeFd(fd);
}

/** A close-on-exec duplicate of `fd` (`fcntl(F_DUPFD_CLOEXEC)`); the caller owns and closes it. */
export function dupFd(fd: number): number {
  return native.dupFd(fd);
}

/** Sets (default) or clears O_NONBLOCK. */
export function setNonBlocking(fd: number, on = true): void {
  native.setNonBlocking(fd, on);
}

/**
 * A connected pair of AF_UNIX stream sockets (close-on-exec; non-blocking unless `nonblock: false`):
 * for tests, and for the frontend side of UML-style call fds.
 */
export function socketpair(options: { nonblock?: boolean } = {}): [number, number] {
  return native.socketpair(options.nonblock ?? true);
}

// ---- readiness --------------------------------------------------------------------------------------

export interface FdWatcher {
  /** Stops watching. Idempotent. Once stopped the fd may be closed and the watcher no longer keeps the event loop alive. */
  stop(): void;
  /** False after stop(), or after an error was delivered. */
  readonly active: boolean;
}

/**
 * Calls `callback()` on the JS thread, from Node's event loop (libuv `uv_poll`), whenever `fd` is
 * readable (level-triggered: read until EAGAIN, or it fires again at once). On a poll error
 * `callback(error)` is called once and the watcher stops. An exception thrown by the callback is an
 * uncaught exception, as for any event-loop callback. An active watcher keeps the process alive.
 *
 * Rules: one watcher per fd (a second one, or an fd that libuv itself polls, e.g. a flowing net.Socket,
 * gives `uv_poll_init: EEXIST`); regular files give EPERM; uv_poll sets the fd non-blocking; stop the
 * watcher before closing the fd (closeFd enforces this with EBUSY).
 */
export function watchFd(fd: number, callback: (error?: Error) => void): FdWatcher {
  if (typeof callback !== 'function') throw new TypeError('callback must be a function');
  let active = true;
  const stop = native.watchFd(fd, (...args: [Error?]) => {
    if (args.length === 0) return callback();
    active = false;
    callback(args[0]);
  });
  return {
    stop() {
      active = false;
      stop();
    },
    get active() {
      return active;
    },
  };
}

// ---- pseudo-terminals -------------------------------------------------------------------------------

export interface PtyPair {
  /** The master side (non-blocking, close-on-exec): what the program behind the terminal reads and writes. */
  master: number;
  /** The slave side, already in raw mode (close-on-exec). Keep it open while the pty is in use (see openPty). */
  slave: number;
  /** The slave's path, e.g. /dev/pts/3: what a serial tool opens. */
  path: string;
}

/**
 * A pseudo-terminal pair (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname_r`) whose slave is in raw mode
 * (`cfmakeraw`: bytes pass unchanged, no echo). The caller owns both fds and closes them with `closeFd`.
 * Keep the slave fd open as long as the master is used: when no process has the slave open, Linux makes
 * the master report EIO and POLLHUP, so a `watchFd` watcher on the master would fire continuously.
 */
export function openPty(): PtyPair {
  return native.openPty();
}
