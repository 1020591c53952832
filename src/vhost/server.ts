/**
 * The vhost-user server: a unix socket (mode 0600 unless told otherwise) that serves one frontend (QEMU,
 * UML) at a time and the next one after a disconnect, without a restart. Each message is read whole
 * with its file descriptors (header first, then exactly its payload), handed to a VhostUserBackend, and
 * answered. A frontend that breaks the protocol is disconnected with a log line; the daemon goes on.
 */
import { EventEmitter } from 'node:events';
import { chmodSync, chownSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { closeFd, dupFd, recvWithFds, RECV_AGAIN, sendWithFds, watchFd, type FdWatcher } from '../native/index.js';
import { VhostUserBackend, type HostOs, type VhostDevice } from './backend.js';
import { HEADER_SIZE, MAX_FDS, parseHeader, reqName, VhostMessageError, type Header } from './messages.js';
import { nativeHostOs } from './host-os.js';

/** True when a process accepts connections on the unix socket at `path`; false when it is stale. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false)); // ECONNREFUSED: nobody listens
  });
}

export interface VhostServerOptions {
  socketPath: string;
  /** File mode of the socket; default 0o600 (only the daemon's user may connect). */
  mode?: number;
  /** Group id to give the socket (with a mode such as 0o660 to let that group connect). */
  gid?: number;
  /** The device all connections are served by (reset between connections). */
  device: VhostDevice & { notifier: (index: number) => void; errorNotifier?: (index: number) => void };
  os?: HostOs;
  log?: (message: string) => void;
}

interface ServerEvents {
  connect: [];
  disconnect: [string];
}

/** One frontend's connection: reads messages with their fds from a descriptor libuv never touches. */
class Connection {
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private current: { header: Header; payload: Buffer; fill: number; fds: number[] } | undefined;
  private pendingFds: number[] = [];
  private readonly watcher: FdWatcher;
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly backend: VhostUserBackend,
    private readonly os: HostOs,
    private readonly onClose: (reason: string) => void,
  ) {
    this.watcher = watchFd(fd, (error) => (error ? this.close(`socket error: ${error.message}`) : this.readable()));
  }

  private readable(): void {
    try {
      while (!this.closed && this.readSome()) {
        /* keep reading until EAGAIN */
      }
    } catch (error) {
      this.close(error instanceof VhostMessageError ? `protocol error: ${error.message}` : `${(error as Error).message}`);
    }
  }

  /** Reads what is there for the current message; returns false when the socket is drained. */
  private readSome(): boolean {
    if (!this.current) {
      const { bytes, fds } = recvWithFds(this.fd, this.header.subarray(this.headerFill), MAX_FDS);
      this.pendingFds.push(...fds);
      if (bytes === RECV_AGAIN) return false;
      if (bytes === 0) {
        this.close('the frontend closed the connection');
        return false;
      }
      this.headerFill += bytes;
      if (this.headerFill < HEADER_SIZE) return true;
      this.headerFill = 0;
      const header = parseHeader(this.header);
      this.current = { header, payload: Buffer.alloc(header.size), fill: 0, fds: this.pendingFds };
      this.pendingFds = [];
    }
    const message = this.current;
    if (message.fill < message.payload.length) {
      const { bytes, fds } = recvWithFds(this.fd, message.payload.subarray(message.fill), MAX_FDS);
      message.fds.push(...fds);
      if (bytes === RECV_AGAIN) return false;
      if (bytes === 0) {
        this.close(`the frontend closed the connection in the middle of ${reqName(message.header.request)}`);
        return false;
      }
      message.fill += bytes;
      if (message.fill < message.payload.length) return true;
    }
    this.current = undefined;
    const reply = this.backend.handle(message.header, message.payload, message.fds);
    if (reply) this.send(reply);
    return true;
  }

  private send(reply: Buffer): void {
    let sent = 0;
    // Replies are small and the frontend waits for them, so a full socket buffer is a broken peer.
    while (sent < reply.length) sent += sendWithFds(this.fd, reply.subarray(sent));
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    for (const fd of [...this.pendingFds, ...(this.current?.fds ?? [])]) this.os.close(fd);
    closeFd(this.fd);
    this.onClose(reason);
  }
}

export class VhostUserServer extends EventEmitter<ServerEvents> {
  private server: Server | undefined;
  private active: { connection: Connection; backend: VhostUserBackend } | undefined;
  /** Set while the device is being reset after a disconnect; the next frontend waits for it. */
  private resetting: Promise<void> | undefined;
  /** A frontend accepted and waiting for that reset. */
  private waiting = false;
  private readonly os: HostOs;
  private readonly log: (message: string) => void;
  /** Frontends served so far. */
  connections = 0;

  constructor(private readonly options: VhostServerOptions) {
    super();
    this.os = options.os ?? nativeHostOs;
    this.log = options.log ?? (() => {});
  }

  /** The backend of the connected frontend, if one is connected. */
  get backend(): VhostUserBackend | undefined {
    return this.active?.backend;
  }

  async listen(): Promise<void> {
    const { socketPath } = this.options;
    if (existsSync(socketPath)) {
      if (!lstatSync(socketPath).isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
      // Only a stale socket (nobody listening: an earlier run that died) may be replaced; unlinking a live
      // one would cut a running daemon off from every VMM that connects later.
      if (await someoneListens(socketPath)) {
        throw new Error(`${socketPath}: another process is listening on it (a running vgpio serve?); stop it or pick another --socket`);
      }
      unlinkSync(socketPath);
    }
    const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    // The socket is created by bind() inside listen(): a tight umask there means it never exists with
    // looser permissions, not even between bind() and the chmod below.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(previous);
    }
    if (this.options.gid !== undefined) chownSync(socketPath, -1, this.options.gid);
    chmodSync(socketPath, this.options.mode ?? 0o600);
    this.log(`vhost-user: listening on ${socketPath} (mode ${(this.options.mode ?? 0o600).toString(8).padStart(4, '0')})`);
  }

  private accept(socket: Socket): void {
    const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
    if ((this.active && !this.resetting) || this.waiting || handle?.fd === undefined || handle.fd < 0) {
      this.log('vhost-user: refused a second frontend: one is already connected');
      socket.destroy();
      return;
    }
    // libuv must never read this socket (it would swallow the fds): take a private dup and drop Node's.
    const fd = dupFd(handle.fd);
    socket.destroy();
    // A frontend reconnecting at once waits for the old one's reset; the kernel queues its messages.
    this.waiting = true;
    void (this.resetting ?? Promise.resolve()).then(() => {
      this.waiting = false;
      this.serve(fd);
    });
  }

  private serve(fd: number): void {
    const { device } = this.options;
    const backend = new VhostUserBackend(device, this.os, this.log);
    device.notifier = (index) => backend.notify(index);
    device.errorNotifier = (index) => backend.notifyError(index);
    const connection = new Connection(fd, backend, this.os, (reason) => {
      this.log(`vhost-user: frontend disconnected: ${reason}`);
      this.resetting = backend.close().then(() => {
        this.resetting = undefined;
        if (this.active?.backend === backend) this.active = undefined;
        this.emit('disconnect', reason);
      });
    });
    this.active = { connection, backend };
    this.connections++;
    this.log('vhost-user: frontend connected');
    this.emit('connect');
  }

  /** Disconnects the frontend, stops listening and removes the socket file. */
  async close(): Promise<void> {
    const active = this.active;
    if (active) {
      const gone = new Promise<void>((resolve) => this.once('disconnect', () => resolve()));
      active.connection.close('the daemon is shutting down');
      await gone;
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}
