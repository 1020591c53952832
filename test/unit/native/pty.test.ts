import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { closeFd, openPty, watchFd } from '../../../src/native/index.js';
import { fdFlags, O_CLOEXEC, O_NONBLOCK, openFds } from './util.js';

describe('openPty', () => {
  it('returns a non-blocking master, a raw slave and its /dev/pts path; bytes pass unchanged both ways', async () => {
    const before = openFds().size;
    const pty = openPty();
    try {
      expect(pty.path).toMatch(/^\/dev\/pts\/\d+$/);
      expect(fdFlags(pty.master) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(fdFlags(pty.master) & O_CLOEXEC).toBe(O_CLOEXEC);
      expect(fdFlags(pty.slave) & O_CLOEXEC).toBe(O_CLOEXEC);
      const client = openSync(pty.path, 'r+');
      try {
        // Raw mode: CR, LF, ^C, ^D, 0xff and 0x00 arrive as they are, and nothing is echoed back.
        const bytes = Buffer.from([0x0d, 0x0a, 0x03, 0x04, 0xff, 0x00, 0xc0, 0xdb, 0x7f]);
        writeSync(client, bytes);
        const got = await new Promise<Buffer>((resolve) => {
          const w = watchFd(pty.master, () => {
            const buf = Buffer.alloc(64);
            const n = readSync(pty.master, buf, 0, 64, null);
            w.stop();
            resolve(buf.subarray(0, n));
          });
        });
        expect([...got]).toEqual([...bytes]);
        writeSync(pty.master, bytes);
        const back = Buffer.alloc(64);
        const n = readSync(client, back, 0, 64, null);
        expect([...back.subarray(0, n)]).toEqual([...bytes]);
        expect(() => readSync(pty.master, Buffer.alloc(8), 0, 8, null)).toThrow(/EAGAIN/); // no echo
      } finally {
        closeSync(client);
      }
    } finally {
      closeFd(pty.master);
      closeFd(pty.slave);
    }
    expect(openFds().size).toBe(before);
  });

  it('each call gives a new pair', () => {
    const a = openPty();
    const b = openPty();
    expect(a.path).not.toBe(b.path);
    for (const fd of [a.master, a.slave, b.master, b.slave]) closeFd(fd);
  });
});
