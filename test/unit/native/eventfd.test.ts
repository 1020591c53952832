import { describe, expect, it } from 'vitest';
import { fstatSync } from 'node:fs';
import {
  closeFd,
  dupFd,
  eventfdCreate,
  eventfdRead,
  eventfdWrite,
  memfdCreate,
  sendWithFds,
  setNonBlocking,
  socketpair,
} from '../../../src/native/index.js';
import { fdFlags, fdTarget, O_CLOEXEC, O_NONBLOCK, fdTracker } from './util.js';

const track = fdTracker();


describe('eventfd', () => {
  it('counter mode: writes add up, a read returns the sum and resets, an empty read is null', () => {
    const fd = track(eventfdCreate());
    expect(fdTarget(fd)).toBe('anon_inode:[eventfd]');
    expect(eventfdRead(fd)).toBeNull();
    expect(eventfdWrite(fd)).toBe(true); // default 1
    expect(eventfdWrite(fd, 2)).toBe(true);
    expect(eventfdWrite(fd, 4n)).toBe(true);
    expect(eventfdRead(fd)).toBe(7n);
    expect(eventfdRead(fd)).toBeNull();
  });

  it('starts from the initial value', () => {
    const fd = track(eventfdCreate(42));
    expect(eventfdRead(fd)).toBe(42n);
  });

  it('semaphore mode: each read returns 1 and decrements', () => {
    const fd = track(eventfdCreate(2, { semaphore: true }));
    eventfdWrite(fd, 1);
    expect([eventfdRead(fd), eventfdRead(fd), eventfdRead(fd), eventfdRead(fd)]).toEqual([1n, 1n, 1n, null]);
  });

  it('flags: non-blocking and close-on-exec by default, each can be turned off', () => {
    const def = track(eventfdCreate());
    expect(fdFlags(def) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(fdFlags(def) & O_CLOEXEC).toBe(O_CLOEXEC);
    const plain = track(eventfdCreate(1, { nonblock: false, cloexec: false }));
    expect(fdFlags(plain) & (O_NONBLOCK | O_CLOEXEC)).toBe(0);
    expect(eventfdRead(plain)).toBe(1n); // would block on the next read, so do not
  });

  it('the counter saturates at 2^64-2: a write that would overflow returns false', () => {
    const fd = track(eventfdCreate());
    const max = 2n ** 64n - 2n;
    expect(eventfdWrite(fd, max)).toBe(true);
    expect(eventfdWrite(fd, 1)).toBe(false);
    expect(eventfdRead(fd)).toBe(max);
  });

  it('signals a socketpair "call fd" (UML) with 8-byte writes, false when the socket is full', () => {
    const [a, b] = track(socketpair());
    expect(eventfdWrite(a, 1)).toBe(true);
    expect(eventfdRead(b)).toBe(1n);
    expect(eventfdRead(b)).toBeNull();
    let writes = 0;
    while (eventfdWrite(a, 1)) if (++writes > 1_000_000) break;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(1_000_000);
  });

  it('errors: bad values, bad fds, short reads', () => {
    const fd = track(eventfdCreate());
    expect(() => eventfdWrite(fd, 2n ** 64n - 1n)).toThrow(RangeError);
    expect(() => eventfdWrite(fd, -1)).toThrow(RangeError);
    expect(() => eventfdWrite(fd, 1.5)).toThrow(RangeError);
    expect(() => (eventfdWrite as unknown as (...a: unknown[]) => unknown)(fd, '1')).toThrow(TypeError);
    expect(() => eventfdCreate(2 ** 32)).toThrow(RangeError);
    expect(() => eventfdCreate(-1)).toThrow(RangeError);
    expect(() => eventfdRead(987654)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'read', message: 'read: EBADF (bad file descriptor)' }));
    expect(() => eventfdWrite(987654, 1)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'write' }));
    const [a, b] = track(socketpair());
    sendWithFds(a, Buffer.from([1, 2, 3]));
    expect(() => eventfdRead(b)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'read' }));
  });
});

describe('fd utilities', () => {
  it('memfdCreate makes a close-on-exec memfd of the given size', () => {
    const fd = track(memfdCreate('vgpio-size', 12345));
    expect(fdTarget(fd)).toMatch(/^\/memfd:vgpio-size/);
    expect(fstatSync(fd).size).toBe(12345);
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    const big = track(memfdCreate('vgpio-bigsize', 2n ** 40n));
    expect(fstatSync(big).size).toBe(2 ** 40);
    expect(() => memfdCreate('x', -1)).toThrow(RangeError);
    expect(() => (memfdCreate as unknown as (...a: unknown[]) => unknown)(1, 1)).toThrow(TypeError);
    expect(() => memfdCreate('x', 2n ** 63n)).toThrow(RangeError);
  });

  it('memfdCreate limits the name to what memfd_create takes', () => {
    expect(() => memfdCreate('x'.repeat(250), 1)).toThrow(RangeError);
    track(memfdCreate('x'.repeat(249), 1));
  });

  it('closeFd closes, and a second close is EBADF', () => {
    const fd = eventfdCreate();
    closeFd(fd);
    expect(() => closeFd(fd)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'close', errno: -9 }));
    expect(() => closeFd(-3)).toThrow(TypeError);
  });

  it('dupFd gives a close-on-exec duplicate sharing the same counter', () => {
    const fd = track(eventfdCreate(0, { cloexec: false }));
    const copy = track(dupFd(fd));
    expect(copy).not.toBe(fd);
    expect(fdFlags(copy) & O_CLOEXEC).toBe(O_CLOEXEC);
    eventfdWrite(fd, 3);
    expect(eventfdRead(copy)).toBe(3n);
    expect(() => dupFd(987654)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'fcntl' }));
  });

  it('setNonBlocking sets and clears O_NONBLOCK', () => {
    const fd = track(eventfdCreate(0, { nonblock: false }));
    expect(fdFlags(fd) & O_NONBLOCK).toBe(0);
    setNonBlocking(fd);
    expect(fdFlags(fd) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(eventfdRead(fd)).toBeNull();
    setNonBlocking(fd, false);
    expect(fdFlags(fd) & O_NONBLOCK).toBe(0);
    expect(() => setNonBlocking(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('socketpair is non-blocking by default and blocking on request', () => {
    const [a, b] = track(socketpair());
    expect(fdTarget(a)).toMatch(/^socket:/);
    expect(fdFlags(a) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(fdFlags(b) & O_CLOEXEC).toBe(O_CLOEXEC);
    const [c] = track(socketpair({ nonblock: false }));
    expect(fdFlags(c) & O_NONBLOCK).toBe(0);
  });
});
