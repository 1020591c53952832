// Starts bench/daemon.mjs in a child process and talks to it over the IPC channel.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonNodeFlags, root } from './lib.mjs';

/** Node flags added to the daemon's own for a profiling run, e.g. VGPIO_BENCH_DAEMON_ARGS='--cpu-prof'. */
const extraArgs = process.env.VGPIO_BENCH_DAEMON_ARGS?.split(' ').filter(Boolean) ?? [];

/** Forks the daemon under test with the Node flags `vgpio` itself runs with; resolves once its socket is
 *  listening. */
export async function startDaemon({ execArgv = [...daemonNodeFlags(), ...extraArgs] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-'));
  const socketPath = join(dir, 'vgpio.sock');
  const child = fork(join(root, 'bench/daemon.mjs'), ['--socket', socketPath], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let nextId = 1;
  let exited;
  const gone = new Promise((resolve) => child.once('exit', (code, signal) => { exited = `exited with ${code ?? signal}`; resolve(); }));
  child.on('message', ({ id, ok, body, error }) => {
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    if (ok) w.resolve(body);
    else w.reject(new Error(`bench daemon: ${error}`));
  });
  child.once('exit', () => {
    for (const w of waiting.values()) w.reject(new Error(`bench daemon ${exited} before answering`));
    waiting.clear();
  });
  const ready = new Promise((resolve, reject) => waiting.set(0, { resolve, reject }));
  await ready;
  const call = (op, body) => new Promise((resolve, reject) => {
    if (exited) return reject(new Error(`bench daemon ${exited}`));
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    child.send({ id, op, body });
  });
  return {
    pid: child.pid,
    socketPath,
    call,
    async stop() {
      if (!exited) {
        await call('close').catch(() => {});
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
