import { describe, expect, it } from 'vitest';
import { DeadlineTimer, type Deadline } from '../../../src/link/deadlines.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A deadline that records when (performance.now()) and in which order it expired. */
function entry(name: string, inMs: number, log: Array<{ name: string; at: number; deadline: number }>): Deadline {
  const deadline = performance.now() + inMs;
  return { deadline, expire: () => log.push({ name, at: performance.now(), deadline }) };
}

/** Whether a ref'd Timeout keeps the event loop alive (getActiveResourcesInfo lists only ref'd handles). */
const refTimeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('DeadlineTimer', () => {
  it('expires every deadline not removed, never before its time, in deadline order', async () => {
    const timer = new DeadlineTimer();
    const log: Array<{ name: string; at: number; deadline: number }> = [];
    const late = entry('late', 40, log);
    const removed = entry('removed', 5, log);
    const early = entry('early', 10, log);
    const sameAsEarly = { deadline: early.deadline, expire: () => log.push({ name: 'sameAsEarly', at: performance.now(), deadline: early.deadline }) };
    timer.add(late);
    timer.add(removed);
    timer.add(early);
    timer.add(sameAsEarly);
    expect(timer.size).toBe(4);
    expect(timer.delete(removed)).toBe(true);
    expect(timer.delete(removed)).toBe(false);
    // Generous wait: the machine is shared, only the order and the lower bound are asserted.
    for (let i = 0; i < 200 && log.length < 3; i++) await sleep(10);
    expect(log.map((e) => e.name)).toEqual(['early', 'sameAsEarly', 'late']);
    for (const e of log) expect(e.at).toBeGreaterThanOrEqual(e.deadline);
    expect(timer.size).toBe(0);
    // An expired deadline is no longer waiting: removing it reports that.
    expect(timer.delete(late)).toBe(false);
  });

  it('re-arms for a deadline earlier than the one it waits for, and for one added while expiring', async () => {
    const timer = new DeadlineTimer();
    const log: Array<{ name: string; at: number; deadline: number }> = [];
    timer.add(entry('far', 5_000, log));
    timer.add(entry('near', 5, log));
    const chained = entry('chained', 0, log);
    timer.add({
      deadline: performance.now() + 15,
      expire: () => {
        log.push({ name: 'first', at: performance.now(), deadline: 0 });
        timer.add({ ...chained, deadline: performance.now() + 5 });
      },
    });
    for (let i = 0; i < 200 && log.length < 3; i++) await sleep(10);
    expect(log.map((e) => e.name)).toEqual(['near', 'first', 'chained']);
    expect(timer.size).toBe(1); // 'far' still waits
    timer.clear();
    expect(timer.size).toBe(0);
  });

  it('keeps the event loop alive only while a deadline waits', async () => {
    const before = refTimeouts();
    const timer = new DeadlineTimer();
    const log: Array<{ name: string; at: number; deadline: number }> = [];
    const a = entry('a', 60_000, log);
    timer.add(a);
    expect(refTimeouts()).toBe(before + 1);
    timer.delete(a);
    expect(refTimeouts()).toBe(before);
    const b = entry('b', 60_000, log);
    timer.add(b); // the armed timer is ref'd again, not replaced
    expect(refTimeouts()).toBe(before + 1);
    timer.clear();
    expect(refTimeouts()).toBe(before);
    expect(log).toEqual([]);
  });
});
