import { afterEach, describe, expect, it } from 'vitest';
import { describeTrip, failsafePlan, FailsafeKeeper } from '../../../src/gpio/failsafe.js';
import type { FailsafeEvent } from '../../../src/board/types.js';
import { FakeBoard } from '../../helpers/fake-board.js';

const trip: FailsafeEvent = { type: 'failsafe', timeUs: 5n, silenceMs: 412, driven: [{ line: 2, value: 0 }], released: [0, 1, 3] };
const keepers: FailsafeKeeper[] = [];
afterEach(() => keepers.splice(0).forEach((k) => k.stopHeartbeats()));

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('failsafePlan', () => {
  it('drives lines whose safe state is low or high, releases the rest, and leaves reserved lines out', () => {
    const lines = [{ safe: 'high' as const }, {}, { safe: 'low' as const }, { reserved: 'relay' }, { safe: 'off' as const }];
    expect(failsafePlan(lines, 6, [5], 250)).toEqual({ timeoutMs: 250, drive: { 0: 1, 2: 0 }, release: [1, 4] });
  });
});

describe('describeTrip', () => {
  it('says how long the host was silent and what the board did', () => {
    expect(describeTrip(trip)).toBe('after 412 ms of host silence: drove 2=0; released 0 1 3');
  });
});

describe('FailsafeKeeper', () => {
  it('arms, heartbeats at a fifth of the timeout, and disarms on stop', async () => {
    const board = new FakeBoard();
    const keeper = new FailsafeKeeper(board, { timeoutMs: 50, release: [1] });
    keepers.push(keeper);
    expect(keeper.heartbeatMs).toBe(10);
    await keeper.start();
    await until(() => keeper.heartbeats >= 3, 'three heartbeats');
    await keeper.stop();
    expect(keeper.running).toBe(false);
    const failsafes = board.calls.filter((c) => c.op === 'failsafe').map((c) => c.args[0]);
    expect(failsafes).toEqual([{ timeoutMs: 50, release: [1] }, null]);
  });

  it('after a trip re-arms, then hands the lines back; a failed re-arm is retried by the next beat', async () => {
    const board = new FakeBoard();
    const logs: string[] = [];
    const tripped: FailsafeEvent[] = [];
    const keeper = new FailsafeKeeper(board, { timeoutMs: 50, release: [0, 1, 3], drive: { 2: 0 } }, { log: (m) => logs.push(m), onTrip: (e) => void tripped.push(e) });
    keepers.push(keeper);
    await keeper.start();
    board.failWith = new Error('link timeout');
    board.inject(trip);
    await until(() => logs.some((l) => l.includes('re-arming after the trip failed')), 'the failed re-arm');
    expect(tripped).toEqual([]); // the lines are not re-applied while the failsafe is not armed again
    board.failWith = undefined;
    await until(() => tripped.length === 1, 'the re-apply after the retried re-arm');
    expect(keeper.trips).toBe(1);
    expect(logs[1]).toBe("failsafe: TRIPPED after 412 ms of host silence: drove 2=0; released 0 1 3; re-arming and re-applying the guest's lines");
    expect(board.calls.filter((c) => c.op === 'failsafe').length).toBeGreaterThanOrEqual(3);
  });

  it('says once that heartbeats fail, and once that they are back', async () => {
    const board = new FakeBoard();
    const logs: string[] = [];
    const keeper = new FailsafeKeeper(board, { timeoutMs: 50 }, { log: (m) => logs.push(m) });
    keepers.push(keeper);
    await keeper.start();
    board.failWith = new Error('the board is gone');
    const before = keeper.heartbeats;
    const failedCalls = () => board.calls.filter((c) => c.op === 'heartbeat').length;
    await until(() => logs.some((l) => l.includes('heartbeat failed')), 'a failed heartbeat');
    const first = failedCalls();
    await until(() => failedCalls() >= first + 2, 'two more failed heartbeats');
    board.failWith = undefined;
    await until(() => keeper.heartbeats > before, 'a heartbeat after the outage');
    expect(logs.filter((l) => l.includes('heartbeat failed'))).toHaveLength(1);
    expect(logs.filter((l) => l.includes('heartbeats reach the board again'))).toHaveLength(1);
  });
});
