import { describe, expect, it } from 'vitest';
import {
  closeFd,
  eventfdCreate,
  eventfdRead,
  eventfdWrite,
  memfdCreate,
  mmapFd,
  munmap,
  RECV_AGAIN,
  recvWithFds,
  sendWithFds,
  socketpair,
} from '../../../src/native/index.js';
import { fdFlags, fdTarget, O_CLOEXEC, fdTracker } from './util.js';

const track = fdTracker();


describe('sendWithFds / recvWithFds', () => {
  it('moves bytes without fds', () => {
    const [a, b] = track(socketpair());
    expect(sendWithFds(a, Buffer.from('hello'))).toBe(5);
    const buf = Buffer.alloc(16);
    const r = recvWithFds(b, buf, 8);
    expect(r).toEqual({ bytes: 5, fds: [] });
    expect(buf.subarray(0, 5).toString()).toBe('hello');
  });

  it('accepts any ArrayBufferView or ArrayBuffer and reads at most its length', () => {
    const [a, b] = track(socketpair());
    sendWithFds(a, new Uint32Array([1, 2]));
    sendWithFds(a, new DataView(new Uint8Array([3, 4, 5]).buffer));
    const small = new ArrayBuffer(3);
    expect(recvWithFds(b, small, 0).bytes).toBe(3);
    expect([...new Uint8Array(small)]).toEqual([1, 0, 0]);
    const rest = new Uint8Array(64);
    expect(recvWithFds(b, rest, 0).bytes).toBe(8);
    expect([...rest.subarray(0, 8)]).toEqual([0, 2, 0, 0, 0, 3, 4, 5]);
  });

  it('returns RECV_AGAIN (-1) when a non-blocking socket is empty, and 0 at end of stream', () => {
    const [a, b] = track(socketpair());
    expect(RECV_AGAIN).toBe(-1);
    expect(recvWithFds(b, Buffer.alloc(8), 8)).toEqual({ bytes: RECV_AGAIN, fds: [] });
    closeFd(a);
    expect(recvWithFds(b, Buffer.alloc(8), 8)).toEqual({ bytes: 0, fds: [] });
  });

  it('passes a memfd: a write through one mapping is read through the mapping of the received fd', () => {
    const [a, b] = track(socketpair());
    const mem = track(memfdCreate('vgpio-test-shared', 2 * 4096));
    expect(sendWithFds(a, Buffer.from([42]), [mem])).toBe(1);
    const r = recvWithFds(b, Buffer.alloc(4), 8);
    expect(r.bytes).toBe(1);
    expect(r.fds).toHaveLength(1);
    const received = track(r.fds[0]!);
    expect(received).not.toBe(mem);
    expect(fdTarget(received)).toMatch(/memfd:vgpio-test-shared/);
    expect(fdFlags(received) & O_CLOEXEC).toBe(O_CLOEXEC); // MSG_CMSG_CLOEXEC

    const sender = mmapFd(mem, 0, 2 * 4096, true);
    const receiver = mmapFd(received, 4096, 4096, true);
    new Uint8Array(sender).set([1, 2, 3], 4096);
    expect([...new Uint8Array(receiver, 0, 3)]).toEqual([1, 2, 3]);
    new Uint8Array(receiver)[100] = 0xee;
    expect(new Uint8Array(sender)[4096 + 100]).toBe(0xee);
    munmap(sender);
    munmap(receiver);
  });

  it('passes eventfds: a write on the sent fd is read on the received one', () => {
    const [a, b] = track(socketpair());
    const kick = track(eventfdCreate());
    const call = track(eventfdCreate());
    sendWithFds(a, Buffer.from('vu'), [kick, call]);
    const r = recvWithFds(b, Buffer.alloc(8), 8);
    expect(r.bytes).toBe(2);
    const [kick2, call2] = track(r.fds) as [number, number];
    expect(fdTarget(kick2)).toBe('anon_inode:[eventfd]');
    eventfdWrite(kick, 3);
    expect(eventfdRead(kick2)).toBe(3n);
    eventfdWrite(call2, 5n);
    expect(eventfdRead(call)).toBe(5n);
  });

  it('keeps each message with its own fds (no merging across sendmsg calls that carry fds)', () => {
    const [a, b] = track(socketpair());
    const e1 = track(eventfdCreate());
    const e2 = track(eventfdCreate());
    sendWithFds(a, Buffer.from('one'), [e1]);
    sendWithFds(a, Buffer.from('two'), [e2]);
    const buf = Buffer.alloc(64);
    const r1 = recvWithFds(b, buf, 8);
    expect(buf.subarray(0, r1.bytes).toString()).toBe('one');
    expect(track(r1.fds)).toHaveLength(1);
    const r2 = recvWithFds(b, buf, 8);
    expect(buf.subarray(0, r2.bytes).toString()).toBe('two');
    expect(track(r2.fds)).toHaveLength(1);
  });

  it('MSG_CTRUNC: more fds than maxFds closes the ones that arrived and throws', () => {
    const [a, b] = track(socketpair());
    const fds = track(Array.from({ length: 5 }, () => eventfdCreate()));
    sendWithFds(a, Buffer.from('x'), fds);
    let error: unknown;
    try {
      recvWithFds(b, Buffer.alloc(8), 2);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'MSG_CTRUNC', syscall: 'recvmsg' });
    expect((error as Error).message).toMatch(/^recvmsg: MSG_CTRUNC .*the 2 fds that arrived were closed/);
    // maxFds 0 and a message with fds: also truncated, nothing installed
    sendWithFds(a, Buffer.from('y'), [fds[0]!]);
    expect(() => recvWithFds(b, Buffer.alloc(8), 0)).toThrow(expect.objectContaining({ code: 'MSG_CTRUNC' }));
    // the stream goes on afterwards
    sendWithFds(a, Buffer.from('z'));
    expect(recvWithFds(b, Buffer.alloc(8), 0).bytes).toBe(1);
  });

  it('carries up to 253 fds in one message', () => {
    const [a, b] = track(socketpair());
    const mem = track(memfdCreate('many', 0));
    const fds = Array.from({ length: 253 }, () => mem);
    sendWithFds(a, Buffer.from('m'), fds);
    const r = recvWithFds(b, Buffer.alloc(1), 253);
    track(r.fds);
    expect(r.fds).toHaveLength(253);
    expect(new Set(r.fds).size).toBe(253);
  });

  it('throws system errors with code, errno and syscall', () => {
    const mem = track(memfdCreate('notsock', 16));
    expect(() => recvWithFds(mem, Buffer.alloc(8), 8)).toThrow(
      expect.objectContaining({ code: 'ENOTSOCK', syscall: 'recvmsg', errno: -88, message: 'recvmsg: ENOTSOCK (socket operation on non-socket)' }),
    );
    expect(() => recvWithFds(987654, Buffer.alloc(8), 8)).toThrow(/^recvmsg: EBADF/);
    expect(() => sendWithFds(987654, Buffer.alloc(8))).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'sendmsg' }));
    const [a, b] = track(socketpair());
    closeFd(b);
    expect(() => sendWithFds(a, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EPIPE' })); // no SIGPIPE
    const [c, d] = track(socketpair());
    expect(() => sendWithFds(c, Buffer.from('x'), [987654])).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'sendmsg' }));
    expect(recvWithFds(d, Buffer.alloc(8), 8).bytes).toBe(RECV_AGAIN); // nothing was sent
  });

  it('EAGAIN on a full socket is an error for sendWithFds', () => {
    const [a] = track(socketpair());
    const chunk = Buffer.alloc(65536);
    expect(() => {
      for (let i = 0; i < 10_000; i++) sendWithFds(a, chunk);
    }).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'sendmsg' }));
  });

  it('rejects bad arguments before any system call', () => {
    const [a, b] = track(socketpair());
    const anyFn = recvWithFds as unknown as (...args: unknown[]) => unknown;
    expect(() => anyFn(-1, Buffer.alloc(1), 1)).toThrow(TypeError);
    expect(() => anyFn(1.5, Buffer.alloc(1), 1)).toThrow(TypeError);
    expect(() => anyFn('3', Buffer.alloc(1), 1)).toThrow(TypeError);
    expect(() => anyFn(b, 'text', 1)).toThrow(TypeError);
    expect(() => anyFn(b, Buffer.alloc(1), 254)).toThrow(RangeError);
    expect(() => anyFn(b, Buffer.alloc(1))).toThrow(TypeError);
    expect(() => sendWithFds(a, Buffer.alloc(0), [a])).toThrow(RangeError);
    expect(() => sendWithFds(a, Buffer.alloc(1), Array.from({ length: 254 }, () => a))).toThrow(RangeError);
    expect(() => sendWithFds(a, Buffer.alloc(1), [-1])).toThrow(TypeError);
    expect(() => (sendWithFds as unknown as (...args: unknown[]) => unknown)(a, Buffer.alloc(1), 'x')).toThrow(TypeError);
  });
});
