/** Helpers shared by the native addon tests. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { closeFd } from '../../../src/native/index.js';

/** The built addon, for child processes that load it without vitest. */
export const addonPath = fileURLToPath(new URL('../../../build/Release/vgpio_native.node', import.meta.url));

/** Open fds of this process (from /proc/self/fd, minus the one readdir itself used). */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      fds.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the directory fd of readdir itself, already closed
    }
  }
  return fds;
}

/** The fd's open-file flags (octal "flags:" line of /proc/self/fdinfo). */
export function fdFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'));
  return parseInt(line!.split(/\s+/)[1]!, 8);
}
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

/** What /proc/self/fd says an fd is (e.g. "anon_inode:[eventfd]", "/memfd:x (deleted)"). */
export function fdTarget(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

/** Lines of /proc/self/maps that mention `name` (a memfd name). */
export function mapsWith(name: string): string[] {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(name));
}

/**
 * Runs an ES module snippet in a fresh node process with `native` (the raw addon) in scope; returns
 * status, stdout and stderr. The addon's path is also in the environment as VGPIO_ADDON (for workers). Used for what must not happen inside the test worker (process exit, GC).
 */
export function runChild(code: string, nodeArgs: string[] = [], timeoutMs = 10_000) {
  const prelude = `import { createRequire } from 'node:module'; const native = createRequire(import.meta.url)(${JSON.stringify(addonPath)});\n`;
  return spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', prelude + code], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, VGPIO_ADDON: addonPath },
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves when `predicate()` holds, polling every few ms; rejects after `ms`. */
export async function until(predicate: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Returns `track(fd | fds)`, which closes what it was given after each test (fds a test closed itself
 *  are skipped). Call once per test file, at the top level. */
export function fdTracker(): <T extends number | number[]>(x: T) => T {
  const opened: number[] = [];
  afterEach(() => {
    for (const fd of opened.splice(0)) {
      try {
        closeFd(fd);
      } catch {
        // already closed by the test
      }
    }
  });
  return (x) => {
    for (const fd of Array.isArray(x) ? x : [x]) opened.push(fd);
    return x;
  };
}
