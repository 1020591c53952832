// Host overhead per virtio request (the `host` section of bench/run.mjs).
//
// Path: bench frontend (this process) -> kick eventfd -> daemon (bench/daemon.mjs, a child process: the
// same vhost-user server, virtio queue, device model, LinkBoard and Link as `vgpio serve`) -> protocol
// frame over an in-memory duplex -> instantly answering in-process board -> reply frame -> Link ->
// device model -> used ring -> call eventfd -> frontend.
//
// Figures:
//  - daemon path, kick -> call (the budgeted figure): timestamps taken inside the daemon by its opt-in
//    HostOs hook, from the start of the kick watcher callback to the call eventfd write. One request in
//    flight, so each sample is one request. The instant board's work runs in the daemon's event loop
//    (SLIP, CRC and layout decode of the request, encode of the reply) because it stands in for the
//    RP2040; with a real board that work is the firmware's. The budgeted figure (`daemonUs`) is each
//    interval less the board's own timed work inside it; the interval as measured is `grossUs`. Excludes the kernel's eventfd wake-up and libuv's dispatch before the callback,
//    and the call eventfd write syscall itself (stamped just before it: the write wakes the frontend, and
//    on a busy machine the kernel may run it first on this CPU); the write's duration is shown apart.
//  - round trip seen by the frontend: publish + kick -> call callback in the frontend process, so it adds
//    two process wake-ups and the frontend's own event loop; context, not the budget.
//  - daemon CPU per request: the daemon process's user + system CPU time divided by requests served.
//  - requests/s: one line, sequential (the Linux driver allows one request per line in flight); and
//    pipelined: every usable line with a request in flight, each re-queued the moment it completes,
//    completions collected and re-submitted in batches (one kick per batch when the device asks for one).
import { startDaemon } from './daemon-client.mjs';
import { BenchFrontend } from './frontend.mjs';
import { dist, num, pad, sleep, stats } from './lib.mjs';

const { Msg } = await dist('gpio/spec.js');

export const name = 'host';
export const BUDGETS = { p50Us: 10, p99Us: 50, pipelinedPerSecond: 100_000 };

const OUT_LINE = 2;

async function sequential(fe, daemon, label, makeRequest, { warmup, iterations }) {
  for (let i = 0; i < warmup; i++) await makeRequest(i);
  const before = await daemon.call('counters');
  const usage0 = await daemon.call('usage');
  await daemon.call('record', { on: true });
  const rtt = new Float64Array(iterations);
  const t0 = performance.now();
  let bad = 0;
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    const r = await makeRequest(i);
    rtt[i] = (performance.now() - s) * 1000;
    if (r.status !== 0 || r.len !== 2) bad++;
  }
  const seconds = (performance.now() - t0) / 1000;
  await daemon.call('record', { on: false });
  const { samples, netSamples, writeSamples } = await daemon.call('take');
  const usage1 = await daemon.call('usage');
  const after = await daemon.call('counters');
  const cpuUs = usage1.cpu.user + usage1.cpu.system - usage0.cpu.user - usage0.cpu.system;
  const boardRequests = after.board.requests - before.board.requests;
  const responderUs = ((after.board.responderMs - before.board.responderMs) * 1000) / iterations;
  const d = stats(netSamples);
  const g = stats(samples);
  const f = stats(rtt);
  const w = stats(writeSamples);
  return {
    request: label,
    iterations,
    errors: bad,
    boardRequestsPerRequest: boardRequests / iterations,
    daemonSamples: d.n,
    daemonUs: { p50: d.p50, p90: d.p90, p99: d.p99, p999: d.p999, max: d.max, mean: d.mean },
    grossUs: { p50: g.p50, p99: g.p99, p999: g.p999, max: g.max, mean: g.mean },
    boardResponderUs: responderUs,
    callWriteUs: { p50: w.p50, p99: w.p99, max: w.max },
    roundTripUs: { p50: f.p50, p90: f.p90, p99: f.p99, p999: f.p999, max: f.max, mean: f.mean },
    daemonCpuUsPerRequest: cpuUs / iterations,
    requestsPerSecond: iterations / seconds,
  };
}

async function pipelined(fe, daemon, lines, { warmupMs, durationMs }) {
  let completed = 0;
  let errors = 0;
  let running = true;
  let batch = [];
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    if (batch.length) fe.submit(batch);
    batch = [];
  };
  const issue = (line, i) => {
    batch.push(fe.queueRequest(Msg.SET_VALUE, line, i & 1, (status, _v, len) => {
      completed++;
      if (status !== 0 || len !== 2) errors++;
      if (running) issue(line, i + 1);
    }));
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush); // every completion of one call is re-submitted with one publish (and kick)
    }
  };
  for (const line of lines) issue(line, 0);
  await sleep(warmupMs);
  const before = await daemon.call('counters');
  const usage0 = await daemon.call('usage');
  const c0 = completed;
  const t0 = performance.now();
  await sleep(durationMs);
  const n = completed - c0;
  const seconds = (performance.now() - t0) / 1000;
  const usage1 = await daemon.call('usage');
  const after = await daemon.call('counters');
  running = false;
  const drainUntil = performance.now() + 2000;
  while (fe.pending.some(Boolean) && performance.now() < drainUntil) await sleep(5);
  const cpuUs = usage1.cpu.user + usage1.cpu.system - usage0.cpu.user - usage0.cpu.system;
  const kicks = after.backend.kicks - before.backend.kicks;
  const calls = after.backend.calls - before.backend.calls;
  const elu = (usage1.elu.active - usage0.elu.active) / (usage1.elu.idle + usage1.elu.active - usage0.elu.idle - usage0.elu.active);
  return {
    lines: lines.length,
    requests: n,
    errors,
    seconds,
    requestsPerSecond: n / seconds,
    daemonCpuUsPerRequest: cpuUs / n,
    daemonEventLoopUtilization: elu,
    kicksPerRequest: kicks / n,
    callsPerRequest: calls / n,
    boardRequestsPerRequest: (after.board.requests - before.board.requests) / n,
    unanswered: fe.pending.filter(Boolean).length,
  };
}

export async function run({ quick = false, smoke = false } = {}) {
  const scale = smoke ? { warmup: 20, iterations: 50, warmupMs: 50, durationMs: 100 } : quick ? { warmup: 300, iterations: 2000, warmupMs: 200, durationMs: 500 } : { warmup: 3000, iterations: 30000, warmupMs: 500, durationMs: 3000 };
  const daemon = await startDaemon();
  const fe = await BenchFrontend.connect(daemon.socketPath);
  try {
    const ngpio = await fe.setup();
    const usable = [];
    for (let line = 0; line < ngpio; line++) if (![23, 24, 29].includes(line)) usable.push(line);
    // The driver's direction_output: SET_VALUE, then SET_DIRECTION(OUT); every usable line an output.
    for (const line of usable) {
      await fe.request(Msg.SET_VALUE, line, 0);
      const r = await fe.request(Msg.SET_DIRECTION, line, 1);
      if (r.status !== 0) throw new Error(`host bench: SET_DIRECTION OUT on line ${line} failed`);
    }
    const rows = [];
    rows.push(await sequential(fe, daemon, 'SET_VALUE (board SET_VALUES)', (i) => fe.request(Msg.SET_VALUE, OUT_LINE, i & 1), scale));
    rows.push(await sequential(fe, daemon, 'GET_VALUE (board GET_VALUES)', () => fe.request(Msg.GET_VALUE, OUT_LINE), scale));
    rows.push(await sequential(fe, daemon, 'GET_DIRECTION (no board I/O)', () => fe.request(Msg.GET_DIRECTION, OUT_LINE), scale));
    const pipe = await pipelined(fe, daemon, usable, scale);
    const head = rows[0];
    const result = {
      benchmark: 'host overhead per virtio request',
      budgets: BUDGETS,
      sequential: rows,
      pipelined: pipe,
      headline: {
        p50Us: head.daemonUs.p50,
        p99Us: head.daemonUs.p99,
        p999Us: head.daemonUs.p999,
        singleLinePerSecond: head.requestsPerSecond,
        pipelinedPerSecond: pipe.requestsPerSecond,
      },
    };
    result.overBudget = [head.daemonUs.p50 > BUDGETS.p50Us, head.daemonUs.p99 > BUDGETS.p99Us, pipe.requestsPerSecond < BUDGETS.pipelinedPerSecond].filter(Boolean).length;
    print(result);
    return result;
  } finally {
    fe.close();
    await daemon.stop();
  }
}

function print(r) {
  console.log('host overhead per virtio request: frontend process -> vhost-user -> daemon process (device model, link) -> instant in-process board -> used ring + call');
  console.log(`\none request in flight on one line; daemon kick -> call in us less the stand-in board's own work (budget p50 <= ${BUDGETS.p50Us}, p99 <= ${BUDGETS.p99Us}); as measured (gross, board included); board responder mean; frontend round trip`);
  console.log(`${pad('request', 30)}${'n'.padStart(7)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'p99.9'.padStart(8)}${'max'.padStart(8)}${'gr p50'.padStart(8)}${'gr p99'.padStart(8)}${'board'.padStart(8)}${'write'.padStart(7)}${'cpu/req'.padStart(9)}${'rt p50'.padStart(8)}${'rt p99'.padStart(8)}${'req/s'.padStart(9)}`);
  for (const s of r.sequential) {
    console.log(`${pad(s.request, 30)}${String(s.iterations).padStart(7)}${num(s.daemonUs.p50, 1)}${num(s.daemonUs.p99, 1)}${num(s.daemonUs.p999, 1)}${num(s.daemonUs.max, 0)}${num(s.grossUs.p50, 1)}${num(s.grossUs.p99, 1)}${num(s.boardResponderUs, 2)}${num(s.callWriteUs.p50, 1, 7)}${num(s.daemonCpuUsPerRequest, 1, 9)}${num(s.roundTripUs.p50, 1)}${num(s.roundTripUs.p99, 1)}${num(s.requestsPerSecond, 0, 9)}`);
  }
  const p = r.pipelined;
  console.log(`\npipelined: ${p.lines} lines, one SET_VALUE in flight on each, ${p.requests} requests in ${p.seconds.toFixed(2)} s (budget >= ${BUDGETS.pipelinedPerSecond}/s)`);
  console.log(`  ${num(p.requestsPerSecond, 0, 0)} requests/s, daemon CPU ${p.daemonCpuUsPerRequest.toFixed(2)} us/request, event loop busy ${(100 * p.daemonEventLoopUtilization).toFixed(0)}%, ${p.kicksPerRequest.toFixed(3)} kicks and ${p.callsPerRequest.toFixed(3)} calls per request, errors ${p.errors}, unanswered ${p.unanswered}`);
}
