/**
 * requestLines / LineRequest (src/board/line-request.ts) on the emulated board with the loopback jig
 * (GP2-GP3, GP4-GP5, GP6-GP7, GP8-GP9 wired), and on the FakeBoard for what the emulator cannot be made
 * to do on demand (an OVERFLOW).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmulatedBoard, type EmulatedBoard } from '../../src/board/open.js';
import { requestLines, type RequestEvent } from '../../src/board/line-request.js';
import { BoardUsageError } from '../../src/board/link-board.js';
import { boardEventIterator } from '../../src/board/event-iterator.js';
import { FakeBoard } from '../helpers/fake-board.js';

let emulated: EmulatedBoard;

beforeAll(async () => {
  emulated = await openEmulatedBoard({ jig: 'loopback' });
});

afterAll(async () => {
  await emulated?.close();
});

/** Collects events until `n` have arrived. */
async function take(events: AsyncIterable<RequestEvent>, n: number): Promise<RequestEvent[]> {
  const got: RequestEvent[] = [];
  for await (const e of events) {
    got.push(e);
    if (got.length === n) break;
  }
  return got;
}

describe('requestLines on the emulated board', () => {
  it('takes lines by name in any case or by number, configures them, and reads and writes them by name', async () => {
    const board = emulated.board;
    const req = await requestLines(board, {
      consumer: 'names',
      lines: { gp2: { direction: 'output', value: 1 }, 4: { direction: 'output' }, GP3: { direction: 'input' }, GP5: { direction: 'input', bias: 'pull-up' } },
    });
    try {
      expect(req.lines).toEqual([
        { line: 2, name: 'GP2', activeLow: false }, { line: 3, name: 'GP3', activeLow: false },
        { line: 4, name: 'GP4', activeLow: false }, { line: 5, name: 'GP5', activeLow: false },
      ]);
      expect(await board.lineState(5)).toMatchObject({ direction: 'input', bias: 'pull-up' });
      expect(await req.getValues()).toEqual({ GP2: 1, GP3: 1, GP4: 0, GP5: 0 });
      await req.setValues({ GP2: 0, gp4: 1 });
      expect(await req.getValues(['GP3', 5])).toEqual({ GP3: 0, GP5: 1 });
      await req.setValue(2, 1);
      expect(await req.getValue('gp3')).toBe(1);
    } finally {
      await req.release();
    }
    // released: off, with the profile's idle bias
    expect(await board.lineState(2)).toMatchObject({ direction: 'off', bias: 'pull-down' });
    expect(await board.lineState(5)).toMatchObject({ direction: 'off', bias: 'pull-down' });
  });

  it('active-low inverts values, the edge filter, edges and pulse levels', async () => {
    const req = await requestLines(emulated.board, {
      consumer: 'active low',
      lines: { GP6: { direction: 'output', value: 0, activeLow: true }, GP7: { direction: 'input', edge: 'rising', activeLow: true } },
    });
    try {
      // logical 0 on an active-low output is a high pin; the partner, also active-low, reads logical 0
      expect(await emulated.board.getValues([6])).toMatchObject({ values: new Map([[6, 1]]) });
      expect(await req.getValues()).toEqual({ GP6: 0, GP7: 0 });
      expect(await emulated.board.lineState(7)).toMatchObject({ edge: 'falling' });
      const events = req.events();
      const pulse = await req.pulse('GP6', { durationUs: 300 });
      // only the pin's falling edge (logical rising) at the pulse start is reported
      await req.setValue('GP6', 1);
      const [first, second] = await take(events, 2);
      expect(first).toMatchObject({ type: 'edge', name: 'GP7', edge: 'rising' });
      expect(Number((first as { timeUs: bigint }).timeUs - pulse.startUs)).toBeLessThanOrEqual(3);
      expect(second).toMatchObject({ type: 'edge', name: 'GP7', edge: 'rising' });
      expect(Number(pulse.endUs - pulse.startUs)).toBeGreaterThanOrEqual(300);
      expect(Number(pulse.endUs - pulse.startUs)).toBeLessThanOrEqual(303);
    } finally {
      await req.release();
    }
  });

  it('events() yields only its lines, from the call on, and ends on release', async () => {
    const mine = await requestLines(emulated.board, { lines: { GP8: { direction: 'output' }, GP9: { direction: 'input', edge: 'both' } } });
    const other = await requestLines(emulated.board, { lines: { GP4: { direction: 'output' }, GP5: { direction: 'input', edge: 'both' } } });
    try {
      await mine.setValue('GP8', 1); // before events(): not reported
      const events = mine.events();
      await other.setValue('GP4', 1); // another request's line: not reported
      await mine.setValue('GP8', 0);
      await mine.setValue('GP8', 1);
      const got = await take(events, 2);
      expect(got.map((e) => e.type === 'edge' && [e.name, e.edge])).toEqual([['GP9', 'falling'], ['GP9', 'rising']]);
      const [a, b] = got as Array<Extract<RequestEvent, { type: 'edge' }>>;
      expect(b!.lineSeq).toBe(a!.lineSeq + 1);
      expect(b!.timeUs).toBeGreaterThan(a!.timeUs);

      const waiting = mine.events();
      const ended = (async () => {
        const rest: RequestEvent[] = [];
        for await (const e of waiting) rest.push(e);
        return rest;
      })();
      await mine.release();
      expect(await ended).toEqual([]);
    } finally {
      await mine.release();
      await other.release();
    }
  });

  it('refuses unknown, reserved, repeated and already-held lines, and use after release, naming the line and the fix', async () => {
    const board = emulated.board;
    await expect(requestLines(board, { lines: { GP99: { direction: 'input' } } })).rejects.toThrow(/unknown line "GP99"; the pico profile has lines 0 to 29/);
    await expect(requestLines(board, { lines: { GP23: { direction: 'input' } } })).rejects.toThrow(/line GP23 \(23\) is reserved: .*; pick another line/);
    await expect(requestLines(board, { lines: { GP2: { direction: 'input' }, 2: { direction: 'input' } } })).rejects.toThrow(/line 2 is named twice/);
    await expect(requestLines(board, { lines: {} })).rejects.toThrow(BoardUsageError);
    const held = await requestLines(board, { consumer: 'first', lines: { GP10: { direction: 'output' } } });
    await expect(requestLines(board, { consumer: 'second', lines: { GP11: { direction: 'input' }, gp10: { direction: 'input' } } })).rejects.toThrow(/\(second\): line GP10 is held by "first"; release that request first/);
    await expect(held.setValue('GP11', 1)).rejects.toThrow(/line GP11 is not in this request \(it has GP10\); add it to requestLines/);
    await expect(held.setValues({ GP10: 2 as 0 })).rejects.toThrow(/value 2 for line GP10 is not a level/);
    await held.release();
    await expect(held.getValues()).rejects.toThrow(/request of "first" was released; request the lines again/);
    // released lines can be requested again
    const again = await requestLines(board, { consumer: 'second', lines: { GP10: { direction: 'input' } } });
    await again.release();
  });
});

describe('requestLines on the FakeBoard', () => {
  it('an OVERFLOW is passed on with only the request\'s lines, and not at all when none of them lost edges', async () => {
    class EventfulFake extends FakeBoard {
      override events(options: { signal?: AbortSignal } = {}) {
        return boardEventIterator(this, options);
      }
    }
    const board = new EventfulFake();
    const req = await requestLines(board, { lines: { GP3: { direction: 'input', edge: 'both' }, GP5: { direction: 'input', edge: 'both' } } });
    const events = req.events();
    board.inject({ type: 'overflow', lost: 3, lines: [8], firstUs: 1n, lastUs: 2n });
    board.inject({ type: 'overflow', lost: 4, lines: [5, 8], firstUs: 3n, lastUs: 4n });
    board.inject({ type: 'edge', line: 3, edge: 'rising', timeUs: 5n, lineSeq: 1 });
    expect(await take(events, 2)).toEqual([
      { type: 'overflow', lost: 4, lines: [{ line: 5, name: 'GP5' }], firstUs: 3n, lastUs: 4n },
      { type: 'edge', line: 3, name: 'GP3', edge: 'rising', timeUs: 5n, lineSeq: 1 },
    ]);
    await req.release();
    expect(board.calls.at(-1)).toEqual({ op: 'configure', args: [[3, 5], { direction: 'off', bias: 'pull-down' }] });
  });
});
