import { afterEach, describe, expect, it } from 'vitest';
import { openSync, closeSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeFd, memfdCreate, mmapFd, munmap } from '../../../src/native/index.js';
import { mapsWith, runChild } from './util.js';

const opened: number[] = [];
const memfd = (name: string, size: number | bigint) => {
  const fd = memfdCreate(name, size);
  opened.push(fd);
  return fd;
};
afterEach(() => {
  for (const fd of opened.splice(0)) closeFd(fd);
});

describe('mmapFd / munmap', () => {
  it('maps a window of exactly the requested length, shared between two mappings', () => {
    const fd = memfd('vgpio-map-a', 3 * 4096);
    const whole = mmapFd(fd, 0, 3 * 4096, true);
    const window = mmapFd(fd, 4096, 8192, true);
    expect(whole.byteLength).toBe(3 * 4096);
    expect(window.byteLength).toBe(8192);
    new DataView(whole).setUint32(4096 + 8, 0xdeadbeef, true);
    expect(new DataView(window).getUint32(8, true)).toBe(0xdeadbeef);
    munmap(whole);
    munmap(window);
  });

  it('handles offsets that are not page aligned (mapping the aligned range, exposing the exact window)', () => {
    const fd = memfd('vgpio-map-b', 3 * 4096);
    const whole = new Uint8Array(mmapFd(fd, 0, 3 * 4096, true));
    for (let i = 0; i < whole.length; i++) whole[i] = i & 0xff;
    const odd = mmapFd(fd, 4096 + 13, 100, true);
    expect(odd.byteLength).toBe(100);
    expect(new Uint8Array(odd)[0]).toBe((4096 + 13) & 0xff);
    expect(new Uint8Array(odd)[99]).toBe((4096 + 13 + 99) & 0xff);
    const straddle = mmapFd(fd, 4000n, 200, false); // bigint offset, crosses a page boundary
    expect([...new Uint8Array(straddle, 95, 2)]).toEqual([4095 & 0xff, 4096 & 0xff]);
    new Uint8Array(odd)[0] = 7;
    expect(whole[4096 + 13]).toBe(7);
    munmap(odd);
    munmap(straddle);
  });

  it('writable=false: reads follow the file, a stray JS write stays private (no crash, no change to the file)', () => {
    const fd = memfd('vgpio-map-ro', 4096);
    const rw = new Uint8Array(mmapFd(fd, 0, 4096, true));
    const ro = new Uint8Array(mmapFd(fd, 0, 4096, false));
    rw[1] = 11;
    expect(ro[1]).toBe(11);
    ro[2] = 99; // would be SIGSEGV with PROT_READ
    expect(rw[2]).toBe(0);
    // a read-only fd can be mapped read-only but not writable
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-ro-'));
    try {
      writeFileSync(join(dir, 'f'), Buffer.alloc(4096, 5));
      const rdonly = openSync(join(dir, 'f'), 'r');
      try {
        expect(new Uint8Array(mmapFd(rdonly, 0, 4096, false))[10]).toBe(5);
        expect(() => mmapFd(rdonly, 0, 4096, true)).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mmap' }));
      } finally {
        closeSync(rdonly);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the mapping outlives the fd', () => {
    const fd = memfdCreate('vgpio-map-c', 4096);
    const ab = mmapFd(fd, 0, 4096, true);
    closeFd(fd);
    new Uint8Array(ab)[0] = 1;
    expect(new Uint8Array(ab)[0]).toBe(1);
    munmap(ab);
  });

  it('munmap detaches the ArrayBuffer and its views, unmaps at once, and is idempotent', () => {
    const fd = memfd('vgpio-map-detach', 8192);
    const ab = mmapFd(fd, 0, 8192, true);
    const view = new Uint8Array(ab);
    const dv = new DataView(ab, 16);
    view[0] = 1;
    expect(mapsWith('vgpio-map-detach')).toHaveLength(1);
    munmap(ab);
    expect(mapsWith('vgpio-map-detach')).toHaveLength(0);
    expect(ab.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined();
    view[0] = 5; // ignored: no memory behind it any more
    expect(() => dv.getUint8(0)).toThrow(TypeError);
    expect(() => new Uint8Array(ab)).toThrow(TypeError); // detached
    expect(() => munmap(ab)).not.toThrow();
  });

  it('munmap refuses anything that is not an mmapFd ArrayBuffer', () => {
    const anyMunmap = munmap as unknown as (x: unknown) => void;
    expect(() => anyMunmap(new ArrayBuffer(8))).toThrow(TypeError);
    expect(() => anyMunmap(new Uint8Array(8))).toThrow(TypeError);
    expect(() => anyMunmap({})).toThrow(TypeError);
    expect(() => anyMunmap(undefined)).toThrow(TypeError);
  });

  it('refuses windows past the end of a regular file (SIGBUS otherwise), zero length and bad fds', () => {
    const fd = memfd('vgpio-map-d', 4096);
    expect(() => mmapFd(fd, 0, 4097, true)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap' }));
    expect(() => mmapFd(fd, 4096, 1, true)).toThrow(/past the end of the file/);
    expect(() => mmapFd(fd, 0, 0, true)).toThrow(RangeError);
    expect(() => mmapFd(fd, -1, 1, true)).toThrow(RangeError);
    expect(() => mmapFd(fd, 0.5, 1, true)).toThrow(RangeError);
    expect(() => mmapFd(fd, 2n ** 64n, 1, true)).toThrow(RangeError);
    expect(() => (mmapFd as unknown as (...a: unknown[]) => unknown)(fd, 0, 1, 'yes')).toThrow(TypeError);
    expect(() => mmapFd(987654, 0, 4096, true)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'fstat' }));
    expect(() => mmapFd(memfd('vgpio-map-e', 0), 0, 1, true)).toThrow(/past the end/);
  });

  it('maps up to 4 GiB as one ArrayBuffer (sparse memfd) and refuses more with a RangeError', () => {
    const size = 2 ** 32;
    const fd = memfd('vgpio-map-big', size + 4096);
    const ab = mmapFd(fd, 4096, size, true);
    expect(ab.byteLength).toBe(size);
    const tail = new Uint8Array(ab, size - 4096, 4096);
    tail[4095] = 9;
    expect(new Uint8Array(mmapFd(fd, size + 4095, 1, false))[0]).toBe(9);
    munmap(ab);
    expect(() => mmapFd(fd, 0, size + 1, true)).toThrow(RangeError);
  });

  it('the finalizer unmaps a mapping that was dropped without munmap (after GC)', () => {
    const r = runChild(
      `
      import { readFileSync } from 'node:fs';
      const count = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('vgpio-gc')).length;
      const fd = native.memfdCreate('vgpio-gc', 4096);
      (() => { for (let i = 0; i < 20; i++) new Uint8Array(native.mmapFd(fd, 0, 4096, true))[0] = i; })();
      const before = count();
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 50)); // finalizers run from the event loop
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 50));
      console.log(JSON.stringify({ before, after: count() }));
      `,
      ['--expose-gc'],
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: 20, after: 0 });
  });
});
