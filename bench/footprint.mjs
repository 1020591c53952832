// Daemon footprint (the `footprint` section of bench/run.mjs): time from process start to a connectable
// socket, and resident memory (VmRSS from /proc, the whole process, worker threads included) idle and
// under load.
//  - `vgpio serve --board emulator` (dist/cli/main.js): the real command. Its start-up includes booting the
//    firmware image in the emulator worker and the HELLO exchange; serve has no instant-board option.
//  - bench/daemon.mjs: the same daemon wiring with the instant in-process board, which shows the
//    daemon's own start-up and memory without the emulator.
// Ready = spawn() called -> a connect() to the socket succeeds (polled every 2 ms). Load = a bench
// frontend connected, every usable line an output, one SET_VALUE in flight per line for the load period.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from './daemon-client.mjs';
import { BenchFrontend } from './frontend.mjs';
import { daemonNodeFlags, dist, num, pad, root, sleep, stats } from './lib.mjs';

const { Msg } = await dist('gpio/spec.js');

export const name = 'footprint';
export const BUDGETS = { rssMiB: 80, readyMs: 500 };

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

const canConnect = (path) => new Promise((resolve) => {
  const s = connect(path);
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

async function waitReady(path, started, child, timeoutMs = 20_000) {
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`footprint: the daemon exited (${child.exitCode ?? child.signalCode}) before ${path} was connectable`);
    if (await canConnect(path)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`footprint: ${path} not connectable after ${timeoutMs} ms`);
    await sleep(2);
  }
}

/** One SET_VALUE in flight per usable line for `ms`; returns requests done and the peak RSS seen. */
async function load(fe, pid, ms) {
  const lines = [];
  for (let line = 0; line < fe.ngpio; line++) if (![23, 24, 29].includes(line)) lines.push(line);
  for (const line of lines) {
    await fe.request(Msg.SET_VALUE, line, 0);
    await fe.request(Msg.SET_DIRECTION, line, 1);
  }
  let running = true;
  let done = 0;
  const issue = (line, i) => fe.submit([fe.queueRequest(Msg.SET_VALUE, line, i & 1, () => { done++; if (running) issue(line, i + 1); })]);
  for (const line of lines) issue(line, 0);
  let peak = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    peak = Math.max(peak, rssMiB(pid).rss);
    await sleep(50);
  }
  running = false;
  const until = performance.now() + 3000;
  while (fe.pending.some(Boolean) && performance.now() < until) await sleep(5);
  return { requests: done, peakRssMiB: peak, hwmMiB: rssMiB(pid).hwm };
}

async function serveEmulator({ idleMs, loadMs }) {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-fp-'));
  const socket = join(dir, 'vgpio.sock');
  const started = performance.now();
  const child = spawn(process.execPath, [...daemonNodeFlags(), join(root, 'dist/cli/main.js'), 'serve', '--board', 'emulator', '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const readyMs = await waitReady(socket, started, child);
    await sleep(idleMs);
    const idle = rssMiB(child.pid);
    const fe = await BenchFrontend.connect(socket);
    await fe.setup();
    const loaded = await load(fe, child.pid, loadMs);
    fe.close();
    return { daemon: 'vgpio serve --board emulator', readyMs, idleRssMiB: idle.rss, loadRssMiB: loaded.peakRssMiB, hwmMiB: loaded.hwmMiB, loadRequests: loaded.requests };
  } catch (error) {
    throw new Error(`${error.message}\nserve stderr:\n${stderr}`);
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function instantDaemon({ idleMs, loadMs }) {
  const started = performance.now();
  const daemon = await startDaemon();
  // startDaemon resolves once the daemon says it listens; a connect proves it.
  const readyMs = await waitReady(daemon.socketPath, started, undefined);
  try {
    await sleep(idleMs);
    const idle = rssMiB(daemon.pid);
    const fe = await BenchFrontend.connect(daemon.socketPath);
    await fe.setup();
    const loaded = await load(fe, daemon.pid, loadMs);
    fe.close();
    return { daemon: 'bench daemon, instant board', readyMs, idleRssMiB: idle.rss, loadRssMiB: loaded.peakRssMiB, hwmMiB: loaded.hwmMiB, loadRequests: loaded.requests };
  } finally {
    await daemon.stop();
  }
}

export async function run({ quick = false, smoke = false } = {}) {
  const starts = smoke ? 1 : quick ? 2 : 5;
  const scale = smoke ? { idleMs: 100, loadMs: 200 } : quick ? { idleMs: 300, loadMs: 1000 } : { idleMs: 1000, loadMs: 3000 };
  const rows = [];
  for (const fn of [serveEmulator, instantDaemon]) {
    const runs = [];
    for (let i = 0; i < starts; i++) runs.push(await fn(scale));
    const ready = stats(runs.map((r) => r.readyMs));
    rows.push({
      daemon: runs[0].daemon,
      starts,
      readyMs: { p50: ready.p50, max: ready.max, min: ready.min },
      idleRssMiB: Math.max(...runs.map((r) => r.idleRssMiB)),
      loadRssMiB: Math.max(...runs.map((r) => r.loadRssMiB)),
      hwmMiB: Math.max(...runs.map((r) => r.hwmMiB)),
      loadRequests: runs.reduce((n, r) => n + r.loadRequests, 0),
    });
  }
  const serve = rows[0];
  const result = { benchmark: 'daemon footprint', budgets: BUDGETS, rows };
  result.overBudget = [serve.readyMs.p50 > BUDGETS.readyMs, serve.hwmMiB > BUDGETS.rssMiB].filter(Boolean).length;
  print(result);
  return result;
}

function print(r) {
  console.log(`daemon footprint: ready = spawn -> socket connectable; RSS = VmRSS of the whole process (budget ready <= ${BUDGETS.readyMs} ms, RSS <= ${BUDGETS.rssMiB} MiB)`);
  console.log(`${pad('daemon', 32)}${'starts'.padStart(7)}${'ready p50'.padStart(10)}${'max'.padStart(7)}${'idle MiB'.padStart(9)}${'load MiB'.padStart(9)}${'peak MiB'.padStart(9)}${'load req'.padStart(9)}`);
  for (const x of r.rows) {
    console.log(`${pad(x.daemon, 32)}${String(x.starts).padStart(7)}${num(x.readyMs.p50, 0, 10)}${num(x.readyMs.max, 0, 7)}${num(x.idleRssMiB, 1, 9)}${num(x.loadRssMiB, 1, 9)}${num(x.hwmMiB, 1, 9)}${String(x.loadRequests).padStart(9)}`);
  }
}
