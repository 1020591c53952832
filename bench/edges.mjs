// Edge stream (the `edges` section of bench/run.mjs): sustained edges/s from the board to eventq
// completions, and proof that every edge is accounted for.
//
// The daemon (bench/daemon.mjs, its own process) runs the instant board's edge generator: EDGES frames
// at a set rate, round robin over LINES lines, through Link -> LinkBoard -> device model -> eventq. The
// frontend (this process) enables EDGE_BOTH interrupts on those lines as the Linux driver does and
// re-posts each line's eventq buffer the moment it comes back (all buffers returned by one call are
// re-posted with one publish). Per rate:
//   generated  edges the board generated
//   lost       edges the board dropped because its event buffer (event_capacity = 256) was full, reported
//              to the host in OVERFLOW frames (Link counter lostEvents)
//   delivered  VALID eventq completions the frontend received
//   merged     edges that arrived while their line's interrupt was already latched (virtio-gpio keeps one
//              pending flag per line, §5.18.6.3; the device counts them: irqMerged)
//   overflow interrupts: the device raises an interrupt on every line named in an OVERFLOW, so those
//              deliveries are not edges; they are subtracted
//   unaccounted = generated - lost - (delivered + merged - overflow interrupts), must be 0.
// Sustained rate: the highest generated rate with no OVERFLOW loss and nothing unaccounted (every edge
// delivered as an interrupt or merged into a pending one, and counted). "Loss starts" at the first rate
// with OVERFLOW; "merging starts" where two edges of one line arrive before the guest re-posted its buffer
// (the generator emits a tick's edges together, as USB delivers a frame's worth at once). The board's event buffer drains every ~1 ms tick, so a burst bigger than the buffer means
// the daemon's event loop was held up for longer than 256 edges take at that rate. A real board also has
// the kernel's tty buffer behind it, which this model does not have: loss here starts no later than there.
import { startDaemon } from './daemon-client.mjs';
import { BenchFrontend } from './frontend.mjs';
import { dist, num, pad, sleep } from './lib.mjs';

const { Msg, IrqType } = await dist('gpio/spec.js');

export const name = 'edges';
export const BUDGETS = { edgesPerSecond: 50_000 };
export const LINES = Array.from({ length: 16 }, (_, i) => i);

export async function run({ quick = false, smoke = false } = {}) {
  const rates = smoke ? [2000, 20000] : quick ? [10_000, 50_000, 200_000] : [10_000, 25_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 400_000];
  const durationMs = smoke ? 100 : quick ? 300 : 1500;
  const daemon = await startDaemon();
  const fe = await BenchFrontend.connect(daemon.socketPath);
  const got = { valid: 0, invalid: 0 };
  let repost = [];
  let repostQueued = false;
  fe.onIrq = (line, status) => {
    if (status === 1) got.valid++;
    else got.invalid++;
    repost.push(line);
    if (!repostQueued) {
      repostQueued = true;
      queueMicrotask(() => {
        repostQueued = false;
        const lines = repost;
        repost = [];
        fe.postIrqs(lines);
      });
    }
  };
  try {
    await fe.setup();
    for (const line of LINES) {
      const a = await fe.request(Msg.SET_DIRECTION, line, 2);
      const b = await fe.request(Msg.SET_IRQ_TYPE, line, IrqType.EDGE_BOTH);
      if (a.status !== 0 || b.status !== 0) throw new Error(`edges bench: enabling the interrupt of line ${line} failed`);
    }
    fe.postIrqs(LINES);
    await sleep(50);
    const rows = [];
    for (const rate of rates) rows.push(await sweepPoint(daemon, got, rate, durationMs));
    const clean = rows.filter((r) => r.unaccounted === 0 && r.lost === 0);
    const sustained = clean.length ? Math.max(...clean.map((r) => r.generatedPerSecond)) : 0;
    const firstLoss = rows.find((r) => r.lost > 0);
    const firstMerge = rows.find((r) => r.merged > 0);
    const result = {
      benchmark: 'edge stream, board -> eventq completions',
      lines: LINES.length,
      durationMs,
      budgets: BUDGETS,
      rows,
      sustainedEdgesPerSecond: sustained,
      lossStartsAtRate: firstLoss?.rate ?? null,
      mergingStartsAtRate: firstMerge?.rate ?? null,
      peakInterruptsPerSecond: Math.max(...rows.map((r) => r.deliveredPerSecond)),
      unaccountedTotal: rows.reduce((n, r) => n + r.unaccounted, 0),
      invalidCompletions: got.invalid,
    };
    result.overBudget = (sustained < BUDGETS.edgesPerSecond ? 1 : 0) + (result.unaccountedTotal !== 0 ? 1 : 0);
    print(result);
    return result;
  } finally {
    fe.close();
    await daemon.stop();
  }
}

async function sweepPoint(daemon, got, rate, durationMs) {
  const before = await daemon.call('counters');
  const usage0 = await daemon.call('usage');
  const v0 = got.valid;
  const gen = await daemon.call('edges', { lines: LINES, rate, durationMs });
  // Wait until everything generated has become a completion, a merge or a reported loss (or 3 s pass).
  let after;
  const deadline = performance.now() + 3000;
  for (;;) {
    after = await daemon.call('counters');
    const d = diff(before, after, got.valid - v0);
    if (d.unaccounted === 0 && d.deviceDelivered === d.delivered) break;
    if (performance.now() > deadline) break;
    await sleep(20);
  }
  const usage1 = await daemon.call('usage');
  const d = diff(before, after, got.valid - v0);
  const cpuUs = usage1.cpu.user + usage1.cpu.system - usage0.cpu.user - usage0.cpu.system;
  return {
    rate,
    seconds: gen.seconds,
    ...d,
    generatedPerSecond: d.generated / gen.seconds,
    deliveredPerSecond: d.delivered / gen.seconds,
    daemonCpuUsPerEdge: cpuUs / Math.max(1, d.received),
  };
}

function diff(before, after, delivered) {
  const b = (k) => after.board[k] - before.board[k];
  const generated = b('edgesGenerated');
  const lost = after.link.lostEvents - before.link.lostEvents;
  const received = after.link.edges - before.link.edges;
  const merged = after.device.irqMerged - before.device.irqMerged;
  const overflowInterrupts = b('overflowLineEvents');
  const deviceDelivered = after.device.irqValid - before.device.irqValid;
  return {
    generated,
    boardLost: b('edgesLost'),
    lost,
    received,
    delivered,
    deviceDelivered,
    merged,
    overflowInterrupts,
    unaccounted: generated - lost - (delivered + merged - overflowInterrupts),
  };
}

function print(r) {
  console.log(`edge stream: instant board in the daemon process -> Link -> device model -> eventq -> frontend process; ${r.lines} lines, EDGE_BOTH, ${r.durationMs} ms per rate`);
  console.log(`${pad('rate/s', 9)}${'generated'.padStart(10)}${'lost(OVF)'.padStart(10)}${'delivered'.padStart(10)}${'merged'.padStart(8)}${'ovf irq'.padStart(8)}${'unacc.'.padStart(7)}${'deliv/s'.padStart(10)}${'cpu/edge'.padStart(9)}`);
  for (const x of r.rows) {
    console.log(`${pad(x.rate, 9)}${String(x.generated).padStart(10)}${String(x.lost).padStart(10)}${String(x.delivered).padStart(10)}${String(x.merged).padStart(8)}${String(x.overflowInterrupts).padStart(8)}${String(x.unaccounted).padStart(7)}${num(x.deliveredPerSecond, 0, 10)}${num(x.daemonCpuUsPerEdge, 2, 9)}`);
  }
  console.log(`sustained without OVERFLOW loss, every edge accounted: ${num(r.sustainedEdgesPerSecond, 0, 0).trim()} edges/s (budget >= ${BUDGETS.edgesPerSecond})`);
  console.log(`OVERFLOW loss starts at ${r.lossStartsAtRate ?? 'none of the rates tried'}${r.lossStartsAtRate ? '/s' : ''}; merging starts at ${r.mergingStartsAtRate ?? 'none'}${r.mergingStartsAtRate ? '/s' : ''}; peak ${num(r.peakInterruptsPerSecond, 0, 0).trim()} interrupts/s delivered; unaccounted in total: ${r.unaccountedTotal}`);
}
