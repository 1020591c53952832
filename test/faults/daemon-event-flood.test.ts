/**
 * Fault: edges on many lines faster than the event path can carry them. The emulated board's event ring
 * overflows; the loss must be counted (board stats, link counters, the daemon's log) and delivered (every
 * line that lost edges still gets an interrupt after the loss), and the daemon must stay responsive: guest
 * requests during the flood are answered, and answered right.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestFrontend } from '../helpers/frontend.js';
import { IrqType, Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import type { BoardEvent } from '../../src/board/types.js';
import { ReliabilityRecord } from './reliability.js';
import { cleanUp, onCleanup, sleep, startInProcess, until } from './daemon-helpers/daemon.js';

const record = new ReliabilityRecord('faults:daemon-event-flood');
afterEach(cleanUp);
afterAll(() => record.write());

const OK = (value = 0) => Buffer.from([MsgStatus.OK, value]);
/** The loopback jig's wired lines, GP0..GP21: the flood drives the even ones from outside. */
const WIRED = Array.from({ length: 22 }, (_, i) => i);
/** An output no wire touches, for checking the daemon's answers during the flood. */
const PROBE = 26;

describe('an edge flood beyond the event ring', () => {
  it('counts the loss, interrupts every line that lost edges, and answers guest requests correctly throughout', async () => {
    const d = await startInProcess();
    const f = await TestFrontend.connect(d.socket);
    onCleanup(() => f.close());
    await f.setup({ uml: true });
    let sent = 0;
    let answered = 0;
    const ask = async (type: number, gpio: number, value = 0) => {
      sent++;
      const r = await f.request(type, gpio, value);
      answered++;
      return r;
    };
    for (const line of WIRED) {
      expect((await ask(Msg.SET_DIRECTION, line, VirtioDirection.IN)).output).toEqual(OK());
      expect((await ask(Msg.SET_IRQ_TYPE, line, IrqType.EDGE_BOTH)).output).toEqual(OK());
      f.postIrq(line);
    }
    await ask(Msg.SET_VALUE, PROBE, 0);
    await ask(Msg.SET_DIRECTION, PROBE, VirtioDirection.OUT);

    // The guest as a gpiomon-like consumer on the Linux driver: on each line's interrupt it reads the line,
    // then re-posts the line's eventq buffer. Its last reading of a line is what it believes the level is;
    // if lost edges raised no interrupt, that belief would be stale once the flood ends on lost edges.
    const believed = new Map<number, number>();
    let handled = 0;
    let flooding = true;
    const busy = new Set<Promise<void>>();
    const driver = (async () => {
      while (flooding || handled < f.irqs.length || busy.size > 0) {
        for (; handled < f.irqs.length; handled++) {
          const irq = f.irqs[handled]!;
          if (irq.status !== 1) continue;
          const work = ask(Msg.GET_VALUE, irq.line).then((r) => {
            believed.set(irq.line, r.output[1]!);
            f.postIrq(irq.line);
          });
          busy.add(work);
          void work.finally(() => busy.delete(work));
        }
        await sleep(1);
      }
    })();
    const overflows: Array<{ lines: number[]; lost: number }> = [];
    const onEvent = (event: BoardEvent) => {
      if (event.type === 'overflow') overflows.push({ lines: event.lines, lost: event.lost });
    };
    d.emulated.board.on('event', onEvent);
    onCleanup(() => void d.emulated.board.off('event', onEvent));

    // 11 outside drivers, one per pair: every toggle is 22 edges at once, every 40 us of device time: the
    // edge ISR keeps up (each edge is recorded or counted lost), the USB path to the host does not.
    const TOGGLES = 1000;
    record.add({ faultsInjected: 1 });
    const flood = d.emulated.pins.wave(WIRED.filter((l) => l % 2 === 0), TOGGLES, 40_000);
    let probes = 0;
    let wrong = 0;
    let floodDone = false;
    void flood.then(() => (floodDone = true));
    for (let value = 1; !floodDone || probes < 4; value ^= 1) {
      await ask(Msg.SET_VALUE, PROBE, value);
      const r = await ask(Msg.GET_VALUE, PROBE);
      if (!r.output.equals(OK(value))) wrong++;
      probes++;
    }
    await flood;
    // The flood is over once every edge is accounted for, as an event or as lost.
    const linkCounters = d.emulated.board.counters;
    await until(() => linkCounters.edges + linkCounters.lostEvents >= TOGGLES * WIRED.length, `every edge delivered or counted lost (${TOGGLES * WIRED.length})`, 20_000);
    expect(linkCounters.edges + linkCounters.lostEvents).toBe(TOGGLES * WIRED.length);
    await sleep(200);
    flooding = false;
    await driver;

    const lost = overflows.reduce((n, o) => n + o.lost, 0);
    expect(wrong).toBe(0);
    expect(probes).toBeGreaterThanOrEqual(4);
    expect(answered).toBe(sent);
    record.add({ requestsSent: sent, requestsAnswered: answered, dataLost: wrong });

    // Counted: by the board, by the link, and in the daemon's log.
    expect(lost).toBeGreaterThan(0);
    expect(linkCounters.lostEvents).toBe(lost);
    expect((await d.emulated.board.stats()).eventsLost).toBeGreaterThanOrEqual(lost);
    expect(d.gpio.counters.lostEdges).toBe(lost);
    // Every overflow raised (or latched) an interrupt on each line it named: all are edge lines here.
    expect(d.gpio.counters.irqForLostEdges).toBe(overflows.reduce((n, o) => n + o.lines.length, 0));
    expect(d.logs.join('\n')).toMatch(/virtio-gpio: the board lost [0-9]+ edges on lines [0-9, ]+; interrupts were raised for them/);

    // Delivered: the guest's last reading of every line, taken on its last interrupt, is the real level,
    // although the flood's last edges were lost (the last overflow names the lines).
    const levels = await d.emulated.board.getValues(WIRED);
    let stale = 0;
    for (const line of WIRED) {
      if (believed.get(line) === levels.values.get(line)) continue;
      stale++;
      expect.soft({ line, believed: believed.get(line) }).toEqual({ line, believed: levels.values.get(line) });
    }
    record.add({ dataLost: stale });
    expect(stale).toBe(0);
    expect(overflows.at(-1)!.lines.length).toBeGreaterThan(0);
    expect(f.irqs.every((irq) => irq.status === 1)).toBe(true);
    expect(d.gpio.counters.irqValid).toBe(f.irqs.length);

    // And the guest still reads its lines right afterwards: the jig pairs agree with the outside drivers.
    for (const line of WIRED) expect((await ask(Msg.GET_VALUE, line)).output).toEqual(OK(levels.values.get(line)));
  });
});
