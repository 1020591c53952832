/** No descriptor or mapping survives an operation that does not hand it to the caller, errors included. */
import { describe, expect, it } from 'vitest';
import {
  closeFd,
  dupFd,
  eventfdCreate,
  eventfdRead,
  eventfdWrite,
  memfdCreate,
  mmapFd,
  munmap,
  recvWithFds,
  sendWithFds,
  socketpair,
  watchFd,
} from '../../../src/native/index.js';
import { mapsWith, openFds, sleep } from './util.js';

const attempt = (f: () => unknown) => {
  try {
    f();
  } catch {
    // error paths are exercised on purpose
  }
};

describe('fd and mapping leaks', () => {
  it('many operations, success and error paths, leave the fd table as it was', async () => {
    const before = openFds();
    for (let round = 0; round < 200; round++) {
      const [a, b] = socketpair();
      const mem = memfdCreate('vgpio-leak', 8192);
      const ev = eventfdCreate(round % 3, { semaphore: round % 2 === 0 });

      // fds across the socket, received and closed
      sendWithFds(a, Buffer.from('m'), [mem, ev]);
      recvWithFds(b, Buffer.alloc(4), 8).fds.forEach(closeFd);
      // MSG_CTRUNC: 6 fds sent, room for 2 (and for none): the 2 that arrive are closed by recvWithFds
      sendWithFds(a, Buffer.from('t'), [mem, ev, a, b, mem, ev]);
      attempt(() => recvWithFds(b, Buffer.alloc(4), 2));
      sendWithFds(a, Buffer.from('u'), [mem]);
      attempt(() => recvWithFds(b, Buffer.alloc(4), 0));
      // more error paths
      attempt(() => recvWithFds(mem, Buffer.alloc(4), 8)); // ENOTSOCK
      attempt(() => sendWithFds(a, Buffer.from('x'), [mem, 987654])); // EBADF in the fd list
      attempt(() => sendWithFds(a, Buffer.alloc(0), [mem])); // RangeError
      attempt(() => mmapFd(mem, 0, 8193, true)); // past the end
      attempt(() => mmapFd(ev, 0, 4096, true)); // ENODEV: an eventfd cannot be mapped
      attempt(() => memfdCreate('x'.repeat(300), 1));
      attempt(() => watchFd(mem, () => {})); // EPERM
      attempt(() => eventfdRead(a)); // EAGAIN -> null, no fd involved
      eventfdWrite(ev, 1);
      eventfdRead(ev);

      // mappings: explicit munmap, and an odd offset
      const m = mmapFd(mem, 100, 4000, round % 2 === 0);
      new Uint8Array(m)[0] = round & 0xff;
      munmap(m);

      // watchers, including a failing second watcher on the same fd
      const w = watchFd(ev, () => {});
      attempt(() => watchFd(ev, () => {})); // EEXIST
      attempt(() => closeFd(ev)); // EBUSY: still open afterwards
      w.stop();

      const copy = dupFd(ev);
      for (const fd of [a, b, mem, ev, copy]) closeFd(fd);
    }
    await sleep(20); // let the uv handles finish closing
    const after = openFds();
    const leaked = [...after].filter(([fd, target]) => before.get(fd) !== target);
    expect(leaked).toEqual([]);
    expect(after.size).toBe(before.size);
    expect(mapsWith('vgpio-leak')).toEqual([]);
  });
});
