/**
 * How the vhost-user server gets a connection fd it can read with recvmsg: net.Server accepts, and the
 * fd comes from the accepted socket's `_handle.fd` (an undocumented but long-standing Node internal).
 * These tests pin down the facts the server relies on, including the trap: a paused net.Socket is
 * still read by libuv, which swallows the bytes and makes the kernel drop the fds that came with them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  closeFd,
  dupFd,
  eventfdCreate,
  eventfdRead,
  eventfdWrite,
  memfdCreate,
  mmapFd,
  munmap,
  RECV_AGAIN,
  recvWithFds,
  sendWithFds,
  watchFd,
} from '../../../src/native/index.js';
import { sleep, until } from './util.js';

const fdOf = (socket: net.Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A listening unix socket and one connection to it; the client side never lets libuv read. */
async function connect(serverOptions: net.ServerOpts) {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-net-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sock');
  const server = net.createServer(serverOptions);
  cleanups.push(() => server.close());
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = net.connect(path);
  client.pause(); // before 'connect': Node then never starts reading this socket
  cleanups.push(() => client.destroy());
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const socket = await accepted;
  cleanups.push(() => socket.destroy());
  return { client, socket };
}

describe('recvWithFds on sockets from net.Server / net.connect', () => {
  it('works on the fd of a socket accepted with pauseOnConnect, fds sent from the fd of a net.connect socket', async () => {
    const { client, socket } = await connect({ pauseOnConnect: true });
    const mem = memfdCreate('vgpio-net-mem', 4096);
    const kick = eventfdCreate();
    cleanups.push(() => [mem, kick].forEach(closeFd));
    const header = Buffer.from([5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]); // SET_MEM_TABLE-like header
    expect(sendWithFds(fdOf(client), header, [mem, kick])).toBe(12);

    const buf = Buffer.alloc(64);
    let r = recvWithFds(fdOf(socket), buf, 8);
    for (let i = 0; r.bytes === RECV_AGAIN && i < 100; i++) {
      await sleep(5);
      r = recvWithFds(fdOf(socket), buf, 8);
    }
    expect(r.bytes).toBe(12);
    expect(buf.subarray(0, 12)).toEqual(header);
    expect(r.fds).toHaveLength(2);
    const [mem2, kick2] = r.fds as [number, number];
    cleanups.push(() => [mem2, kick2].forEach(closeFd));
    const theirs = mmapFd(mem2, 0, 4096, true);
    new Uint8Array(mmapFd(mem, 0, 4096, true))[7] = 77;
    expect(new Uint8Array(theirs)[7]).toBe(77);
    munmap(theirs);
    eventfdWrite(kick, 1);
    expect(eventfdRead(kick2)).toBe(1n);
    expect(socket.readableLength).toBe(0); // libuv never read anything
  });

  it('the trap: socket.pause() does not stop libuv from reading, and the fds are lost', async () => {
    const { client, socket } = await connect({});
    socket.pause();
    const mem = memfdCreate('vgpio-net-lost', 4096);
    cleanups.push(() => closeFd(mem));
    sendWithFds(fdOf(client), Buffer.from('lost'), [mem]);
    await until(() => socket.readableLength === 4); // libuv read the bytes into the stream's buffer
    expect(recvWithFds(fdOf(socket), Buffer.alloc(8), 8)).toEqual({ bytes: RECV_AGAIN, fds: [] });
    expect(socket.isPaused()).toBe(true);
    // and such a socket's fd cannot be watched either: libuv already polls it
    expect(() => watchFd(fdOf(socket), () => {})).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  });

  it('recommended: dup the accepted fd and destroy the net.Socket; the dup is then ours alone', async () => {
    const { client, socket } = await connect({ pauseOnConnect: true });
    const fd = dupFd(fdOf(socket));
    socket.destroy(); // closes Node's fd only: no shutdown, the connection lives on in `fd`
    await sleep(10);

    const got: { text: string; fds: number }[] = [];
    let eof = false;
    const buf = Buffer.alloc(64);
    const watcher = watchFd(fd, () => {
      for (;;) {
        const r = recvWithFds(fd, buf, 8);
        if (r.bytes === RECV_AGAIN) return;
        if (r.bytes === 0) {
          eof = true;
          watcher.stop();
          closeFd(fd);
          return;
        }
        got.push({ text: buf.subarray(0, r.bytes).toString(), fds: r.fds.length });
        r.fds.forEach(closeFd);
      }
    });
    const e = eventfdCreate();
    cleanups.push(() => closeFd(e));
    sendWithFds(fdOf(client), Buffer.from('a'), [e]);
    await until(() => got.length === 1);
    sendWithFds(fdOf(client), Buffer.from('b'), [e, e]);
    await until(() => got.length === 2);
    expect(got).toEqual([
      { text: 'a', fds: 1 },
      { text: 'b', fds: 2 },
    ]);
    // replies go back on the same fd
    sendWithFds(fd, Buffer.from('ok'));
    const reply = Buffer.alloc(8);
    let r = recvWithFds(fdOf(client), reply, 0);
    for (let i = 0; r.bytes === RECV_AGAIN && i < 100; i++) {
      await sleep(5);
      r = recvWithFds(fdOf(client), reply, 0);
    }
    expect(reply.subarray(0, r.bytes).toString()).toBe('ok');
    client.destroy();
    await until(() => eof);
    expect(watcher.active).toBe(false);
  });
});
