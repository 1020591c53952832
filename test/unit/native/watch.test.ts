import { afterEach, describe, expect, it } from 'vitest';
import { closeFd, eventfdCreate, eventfdRead, eventfdWrite, memfdCreate, socketpair, watchFd, type FdWatcher } from '../../../src/native/index.js';
import { runChild, sleep, until } from './util.js';

const opened: number[] = [];
const watchers: FdWatcher[] = [];
const track = <T extends number | number[]>(x: T): T => {
  for (const fd of Array.isArray(x) ? x : [x]) opened.push(fd);
  return x;
};
afterEach(() => {
  for (const w of watchers.splice(0)) w.stop();
  for (const fd of opened.splice(0)) {
    try {
      closeFd(fd);
    } catch {
      // closed by the test
    }
  }
});

describe('watchFd', () => {
  it('fires on eventfd writes, on the JS thread, with no arguments', async () => {
    const fd = track(eventfdCreate());
    const seen: bigint[] = [];
    const args: unknown[][] = [];
    const w = watchFd(fd, (...a: unknown[]) => {
      args.push(a);
      const v = eventfdRead(fd);
      if (v !== null) seen.push(v);
    });
    watchers.push(w);
    expect(w.active).toBe(true);
    await sleep(20);
    expect(seen).toEqual([]); // nothing to read yet
    eventfdWrite(fd, 2);
    await until(() => seen.length === 1);
    eventfdWrite(fd, 5);
    await until(() => seen.length === 2);
    expect(seen).toEqual([2n, 5n]);
    expect(args.every((a) => a.length === 0)).toBe(true);
  });

  it('is level-triggered: fires again until the fd is drained', async () => {
    const fd = track(eventfdCreate(3, { semaphore: true }));
    let reads = 0;
    const w = watchFd(fd, () => {
      if (eventfdRead(fd) !== null) reads++;
    });
    watchers.push(w);
    await until(() => reads === 3);
    await sleep(20);
    expect(reads).toBe(3);
  });

  it('stop() stops the callbacks, is idempotent, and works from inside the callback', async () => {
    const fd = track(eventfdCreate());
    let calls = 0;
    const w = watchFd(fd, () => {
      calls++;
      w.stop(); // do not drain: a level-triggered watcher would fire forever if stop did not work
      w.stop();
    });
    eventfdWrite(fd, 1);
    await until(() => calls === 1);
    await sleep(30);
    expect(calls).toBe(1);
    expect(w.active).toBe(false);
    w.stop();
    eventfdWrite(fd, 1);
    await sleep(20);
    expect(calls).toBe(1);
  });

  it('microtasks queued by the callback run right after it', async () => {
    const fd = track(eventfdCreate(1));
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      const w = watchFd(fd, () => {
        w.stop();
        eventfdRead(fd);
        void Promise.resolve().then(() => order.push('microtask'));
        setImmediate(() => {
          order.push('immediate');
          resolve();
        });
        order.push('callback');
      });
    });
    await done;
    expect(order).toEqual(['callback', 'microtask', 'immediate']);
  });

  it('the fd may be closed right after stop(), and the number reused, without stray callbacks', async () => {
    const fd = eventfdCreate();
    let calls = 0;
    const w = watchFd(fd, () => calls++);
    w.stop();
    closeFd(fd);
    // a new fd very likely gets the same number; it must not wake the old watcher
    const again = track(eventfdCreate(1));
    const w2 = watchFd(again, () => {
      w2.stop();
    });
    await sleep(30);
    expect(calls).toBe(0);
    expect(w2.active).toBe(false);
  });

  it('closeFd refuses (EBUSY) to close a watched fd; one watcher per fd (EEXIST)', () => {
    const fd = track(eventfdCreate());
    const w = watchFd(fd, () => {});
    watchers.push(w);
    expect(() => closeFd(fd)).toThrow(expect.objectContaining({ code: 'EBUSY', syscall: 'close' }));
    expect(() => watchFd(fd, () => {})).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'uv_poll_init' }));
    w.stop();
    closeFd(fd);
  });

  it('errors: bad fd, regular file (epoll cannot poll it), bad callback', () => {
    expect(() => watchFd(987654, () => {})).toThrow(expect.objectContaining({ syscall: 'uv_poll_init' }));
    const mem = track(memfdCreate('vgpio-watch', 1));
    expect(() => watchFd(mem, () => {})).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'uv_poll_init' }));
    expect(() => (watchFd as unknown as (...a: unknown[]) => unknown)(mem, 'x')).toThrow(TypeError);
    expect(() => watchFd(-1, () => {})).toThrow(TypeError);
  });

  it('sees a socket peer closing as readable (then recv returns 0)', async () => {
    const [a, b] = track(socketpair());
    let fired = 0;
    const w = watchFd(b, () => {
      fired++;
      w.stop();
    });
    closeFd(a);
    await until(() => fired === 1);
  });

  it('many watchers start and stop cleanly', async () => {
    const fds = track(Array.from({ length: 50 }, () => eventfdCreate()));
    let calls = 0;
    const ws = fds.map((fd) =>
      watchFd(fd, () => {
        eventfdRead(fd);
        calls++;
      }),
    );
    for (const fd of fds) eventfdWrite(fd, 1);
    await until(() => calls === 50);
    for (const w of ws) w.stop();
  });
});

describe('watchFd and the process lifetime (child processes)', () => {
  it('an active watcher keeps the process alive; a stopped one does not', () => {
    const alive = runChild(`
      const fd = native.eventfdCreate(0, true, true, false);
      const stop = native.watchFd(fd, () => {});
      setTimeout(() => { console.log('still alive'); stop(); }, 100).unref();
    `);
    expect(alive.status).toBe(0);
    expect(alive.stdout).toBe('still alive\n');
    const stopped = runChild(`
      const fd = native.eventfdCreate(0, true, true, false);
      const stop = native.watchFd(fd, () => {});
      stop();
      native.closeFd(fd);
      setTimeout(() => console.log('should not print'), 1000).unref();
    `);
    expect(stopped.status).toBe(0);
    expect(stopped.stdout).toBe('');
  });

  it('an exception thrown by the callback is an uncaught exception', () => {
    const r = runChild(`
      const fd = native.eventfdCreate(1, true, true, false);
      process.on('uncaughtException', (e) => { console.log('caught: ' + e.message); process.exit(3); });
      native.watchFd(fd, () => { throw new Error('boom'); });
    `);
    expect(r.stdout).toBe('caught: boom\n');
    expect(r.status).toBe(3);
  });

  it('a worker that ends with live watchers and mappings shuts down cleanly (terminate, exit, crash)', () => {
    // CommonJS source of the worker: three live watchers (one firing) and a live mapping, then the ending.
    const worker = [
      'const native = require(process.env.VGPIO_ADDON);',
      "const { parentPort } = require('node:worker_threads');",
      'const fds = [1, 2, 3].map(() => native.eventfdCreate(0, true, true, false));',
      'for (const fd of fds) native.watchFd(fd, () => native.eventfdRead(fd));',
      "const ab = native.mmapFd(native.memfdCreate('w', 4096), 0, 4096, true);",
      'new Uint8Array(ab)[0] = 1;',
      'native.eventfdWrite(fds[0], 1);',
      "parentPort.postMessage('ready');",
    ].join('\n');
    const endings = ['', 'process.exit(0);', "setTimeout(() => { throw new Error('die'); }, 10);"];
    const r = runChild(`
      import { Worker } from 'node:worker_threads';
      for (const ending of ${JSON.stringify(endings)}) {
        const w = new Worker(${JSON.stringify(worker)} + '\\n' + ending, { eval: true, execArgv: [] });
        w.on('error', () => {});
        await new Promise((resolve) => w.once('message', resolve));
        if (ending === '') await w.terminate();
        else await new Promise((resolve) => w.once('exit', resolve));
      }
      console.log('workers done');
    `);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.stdout).toBe('workers done\n');
    expect(r.status).toBe(0);
  });
});
