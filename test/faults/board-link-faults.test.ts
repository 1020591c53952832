/**
 * Fault: a noisy serial link. Bytes between the Link and the emulated board are corrupted, dropped and
 * truncated (seeded PRNG, both directions) while a guest reads lines through the daemon's real vhost-user
 * path. The oracle is the pin itself: the test drives GP26/GP27 from outside the chip (not over the noisy
 * link), so every GET_VALUE answer the guest gets can be compared with the true level. Errors and timeouts
 * are acceptable answers; a wrong value is not. Then the noise stops and the link must work again at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LinkBoard } from '../../src/board/link-board.js';
import { Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import { ReliabilityRecord } from './reliability.js';
import { NO_FAULTS, prng } from './helpers/cable.js';
import { EmulatedSocket, GuestTally, startDaemon } from './helpers/daemon.js';

const SEED = Number(process.env['VGPIO_FAULT_SEED'] ?? 0x5eed);
/** Short request timeouts: a request whose frame was damaged costs this much, not the default second. */
const LINK_TIMEOUT_MS = 250;
const ROUNDS = 40;
const READS_PER_ROUND = 6;
const INPUTS = [26, 27];
const EDGE_LINE = 28;

const record = new ReliabilityRecord('faults:board-link-noise');
const tally = new GuestTally();
const socket = new EmulatedSocket({ timeoutMs: LINK_TIMEOUT_MS });
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await socket.closeAll();
  record.add({ requestsSent: tally.sent, requestsAnswered: tally.answered });
  record.write();
});

describe('corrupted, truncated and dropped bytes on the serial link', () => {
  it('CRC rejects the damage, the link resynchronises, and no guest request is answered with a wrong level', async () => {
    console.log(`link noise: seed ${SEED} (VGPIO_FAULT_SEED repeats a run)`);
    await socket.plug(SEED);
    const cable = socket.cable!;
    const board: LinkBoard = await socket.open();
    cleanups.push(() => board.close());
    const daemon = await startDaemon(board);
    cleanups.push(() => daemon.close());
    const f = daemon.frontend;
    const pins = socket.emulator!.pins;
    for (const line of INPUTS) {
      expect((await tally.track(f.request(Msg.SET_DIRECTION, line, VirtioDirection.IN))).output).toEqual(Buffer.from([MsgStatus.OK, 0]));
    }

    // GP28 (unwired) watched for edges by the board itself, toggled once per round from outside.
    await board.configure([EDGE_LINE], { direction: 'input', edge: 'both' });
    const edges: number[] = [];
    board.on('event', (e) => {
      if (e.type === 'edge' && e.line === EDGE_LINE) edges.push(e.lineSeq);
    });
    let edgeLevel: 0 | 1 = 0;
    await pins.drive(EDGE_LINE, 0);
    await board.ping(); // any edge from settling the pin has arrived before this reply
    const baseline = edges[edges.length - 1] ?? 0; // line_seq counts from 1 after boot (PROTOCOL.md 4.2)
    edges.length = 0;

    cable.rates = { corrupt: 0.004, drop: 0.002, truncate: 0.01 };
    const random = prng(SEED ^ 0xa5a5);
    let ok = 0;
    let errors = 0;
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const levels = INPUTS.map(() => (random() < 0.5 ? 0 : 1) as 0 | 1);
      // Outside the chip, not over the link: when drive() resolves the pins have these levels.
      for (const [i, line] of INPUTS.entries()) await pins.drive(line, levels[i]!);
      edgeLevel = edgeLevel ? 0 : 1;
      await pins.drive(EDGE_LINE, edgeLevel);
      const reads = Array.from({ length: READS_PER_ROUND }, (_, i) => {
        const at = i % INPUTS.length;
        return tally.track(f.request(Msg.GET_VALUE, INPUTS[at]!)).then(({ len, output }) => ({ line: INPUTS[at]!, want: levels[at]!, len, output }));
      });
      for (const { line, want, len, output } of await Promise.all(reads)) {
        expect(len).toBe(2);
        if (output[0] === MsgStatus.ERR) errors++;
        else if (output[0] === MsgStatus.OK && output[1] === want) ok++;
        else wrong.push(`round ${round}: GP${line} is ${want}, the guest was told ${output.toString('hex')}`);
      }
    }
    cable.rates = NO_FAULTS;
    const faults = cable.faults;
    record.add({ faultsInjected: faults, dataLost: wrong.length });
    const c = { ...board.counters };
    const stats = await board.stats();
    console.log(
      `link noise: ${faults} faults injected (to device ${JSON.stringify(cable.toDevice.counts)}, to host ${JSON.stringify(cable.toHost.counts)}); ` +
        `guest reads: ${ok} right, ${errors} errors, ${wrong.length} wrong; host link: ${c.crcErrors} CRC, ${c.framingErrors} framing, ` +
        `${c.timeouts} timeouts, ${c.unexpectedReplies} unexpected replies; device: ${stats.rxCrcErrors} CRC, ${stats.rxFramingErrors} framing`,
    );
    expect(wrong).toEqual([]);
    expect(faults).toBeGreaterThan(20);
    // The damage was seen and counted on both sides, and cost some requests but not most of them.
    expect(c.crcErrors + c.framingErrors).toBeGreaterThan(0);
    expect(stats.rxCrcErrors + stats.rxFramingErrors).toBeGreaterThan(0);
    expect(c.timeouts).toBeGreaterThan(0);
    expect(errors).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(errors);

    // Resynchronised: with the noise gone every request succeeds, from the first one on.
    await pins.drive(26, 1);
    await pins.drive(27, 0);
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => tally.track(f.request(Msg.GET_VALUE, INPUTS[i % 2]!))));
    expect(after.map((r) => r.output.toString('hex'))).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? '0001' : '0000')));
    // (A damaged tail left in the decoder when the noise stopped may still count one CRC error: it is garbage
    // between two ENDs, not a frame, and costs no request.)
    expect(board.counters.timeouts).toBe(c.timeouts);

    // Edges: one more, noise-free, marks the end. Every edge driven was either delivered or shows as a
    // gap in line_seq (its event frame was damaged, and counted); none vanished without a trace.
    edgeLevel = edgeLevel ? 0 : 1;
    await pins.drive(EDGE_LINE, edgeLevel);
    const driven = ROUNDS + 1;
    const deadline = Date.now() + 5000;
    while ((edges[edges.length - 1] ?? 0) - baseline < driven && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const accounted = (edges[edges.length - 1] ?? baseline) - baseline;
    console.log(`link noise: GP${EDGE_LINE}: ${driven} edges driven, ${edges.length} delivered, ${accounted - edges.length} shown as line_seq gaps; ${board.counters.lostEventFrames} event frames lost`);
    expect(new Set(edges).size).toBe(edges.length);
    expect(edges.every((seq) => seq > baseline && seq <= baseline + driven)).toBe(true);
    expect(accounted).toBe(driven);
    if (edges.length < driven) expect(board.counters.lostEventFrames).toBeGreaterThan(0);
    record.add({ dataLost: driven - accounted });
  });
});
