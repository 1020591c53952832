/**
 * Fault: the host goes silent (the daemon is stopped, starved or cut off). The board's failsafe, armed by
 * the daemon with every line's safe state from the profile, must put the lines there on its own and report
 * FAILSAFE_TRIPPED; once the daemon hears it, it logs the trip, re-arms and re-applies what the guest set.
 * While the daemon is alive and idle, its heartbeats must keep the failsafe quiet.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestFrontend } from '../helpers/frontend.js';
import { Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import type { BoardProfile, LineProfile } from '../../src/board/profile.js';
import type { PinChangeEvent } from '../../src/emulator/board.js';
import { ReliabilityRecord } from './reliability.js';
import { connectGuest, countedRequests, cleanUp, onCleanup, runCli, sleep, spawnPtyBoard, spawnServe, startInProcess, until } from './daemon-helpers/daemon.js';

const record = new ReliabilityRecord('faults:daemon-host-silence');
afterEach(cleanUp);
afterAll(() => record.write());

const ask = countedRequests(record);

const OK = (value = 0) => Buffer.from([MsgStatus.OK, value]);

function withLines(edit: Record<number, Partial<LineProfile>>) {
  return (p: BoardProfile): BoardProfile => ({ ...p, lines: p.lines.map((l) => ({ ...l, ...edit[l.line] })) });
}

describe('host silence, in-process (the emulated pins are watched)', () => {
  it('heartbeats keep it quiet; without them the board drives and releases lines to their safe states, and the daemon re-applies', async () => {
    const TIMEOUT_MS = 500;
    // GP2 safe low, GP6 safe high, GP8 safe off (released); GP9 (GP8's partner) has a pull-down, so the
    // released GP8 reads low instead of floating at its last level.
    const d = await startInProcess({
      failsafeMs: TIMEOUT_MS,
      profile: withLines({ 2: { safe: 'low' }, 6: { safe: 'high' }, 9: { bias: 'pull-down' } }),
    });
    const keeper = d.keeper!;
    expect(d.logs.join('\n')).toMatch(/failsafe: armed, 500 ms of host silence .*drive 2=0 6=1; release the rest\); heartbeat every 100 ms/);
    const f = await connectGuest(d.socket);
    for (const [line, value] of [[2, 1], [6, 0], [8, 1]] as const) {
      await ask(f, Msg.SET_VALUE, line, value);
      expect((await ask(f, Msg.SET_DIRECTION, line, VirtioDirection.OUT)).output).toEqual(OK());
    }
    for (const line of [3, 7, 9]) await ask(f, Msg.SET_DIRECTION, line, VirtioDirection.IN);
    expect([(await ask(f, Msg.GET_VALUE, 3)).output, (await ask(f, Msg.GET_VALUE, 7)).output, (await ask(f, Msg.GET_VALUE, 9)).output]).toEqual([OK(1), OK(0), OK(1)]);

    // Three timeouts of an idle guest: only heartbeats reach the board, and they are enough.
    const beats = keeper.heartbeats;
    await sleep(3 * TIMEOUT_MS);
    expect(keeper.trips).toBe(0);
    expect(keeper.heartbeats - beats).toBeGreaterThanOrEqual(3);

    const changes: PinChangeEvent[] = [];
    onCleanup(d.emulated.pins.onChange((c) => changes.push(c)));
    keeper.stopHeartbeats(); // the host falls silent
    record.add({ faultsInjected: 1 });
    await until(() => keeper.trips === 1, 'FAILSAFE_TRIPPED', 10 * TIMEOUT_MS);
    const trip = d.logs.find((l) => l.startsWith('failsafe: TRIPPED'))!;
    const silence = Number(/after ([0-9]+) ms of host silence/.exec(trip)![1]);
    expect(silence).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(trip).toMatch(/drove 2=0 6=1; released 0 1 3 4 5 7 8 9 .*22 25 26 27 28;/);
    // Back to the guest's state: the daemon heard the trip, so it is alive again.
    keeper.startHeartbeats();
    await until(() => d.logs.some((l) => /re-applied the guest's configuration of lines 2, 3, 6, 7, 8, 9$/.test(l)), `re-applied lines in:\n${d.logs.join('\n')}`);
    const seen = (line: number) => changes.filter((c) => c.line === line).map((c) => c.level);
    expect(seen(2)).toEqual([0, 1]); // safe low, then the guest's 1 again
    expect(seen(3)).toEqual([0, 1]);
    expect(seen(6)).toEqual([1, 0]); // safe high, then the guest's 0 again
    expect(seen(7)).toEqual([1, 0]);
    expect(seen(8)).toEqual([0, 1]); // released: GP9's pull-down takes the net low
    expect(seen(9)).toEqual([0, 1]);
    expect([(await ask(f, Msg.GET_VALUE, 3)).output, (await ask(f, Msg.GET_VALUE, 7)).output, (await ask(f, Msg.GET_VALUE, 9)).output]).toEqual([OK(1), OK(0), OK(1)]);
    expect(await d.emulated.board.lineState(2)).toMatchObject({ direction: 'output', value: 1 });
    // Re-armed: a second silence trips again.
    keeper.stopHeartbeats();
    record.add({ faultsInjected: 1 });
    await until(() => keeper.trips === 2, 'a second FAILSAFE_TRIPPED after re-arming', 10 * TIMEOUT_MS);
    keeper.startHeartbeats();
    await until(() => d.logs.filter((l) => l.startsWith('failsafe: re-applied')).length === 2, 'the second re-apply');
  });
});

describe('host silence, the real daemon stopped with SIGSTOP (its board in another process)', () => {
  it('the board trips while vgpio is stopped; after SIGCONT vgpio logs the trip, re-arms and the guest reads its levels again', async () => {
    const pty = await spawnPtyBoard();
    const d = await spawnServe(['--failsafe-ms', '300'], { board: pty.path });
    await d.waitFor(/failsafe: armed, 300 ms of host silence puts the lines in their safe states \(drive none; release the rest\); heartbeat every 60 ms/);
    const f = await connectGuest(d.socket);
    await ask(f, Msg.SET_VALUE, 2, 1);
    await ask(f, Msg.SET_DIRECTION, 2, VirtioDirection.OUT);
    await ask(f, Msg.SET_DIRECTION, 3, VirtioDirection.IN);
    expect((await ask(f, Msg.GET_VALUE, 3)).output).toEqual(OK(1));

    d.child.kill('SIGSTOP');
    record.add({ faultsInjected: 1 });
    // Over eight timeouts: the board (its own process, its own clock, paced to wall time) trips meanwhile,
    // even if a loaded machine lets the emulator fall well behind.
    await sleep(2500);
    d.child.kill('SIGCONT');
    const [, silence] = (await d.waitFor(/failsafe: TRIPPED after ([0-9]+) ms of host silence: drove none; released 0 1 2 3 /)) as RegExpMatchArray & [string, string];
    expect(Number(silence)).toBeGreaterThanOrEqual(300);
    await d.waitFor(/failsafe: re-applied the guest's configuration of lines 2, 3\n/);
    expect((await ask(f, Msg.GET_VALUE, 3)).output).toEqual(OK(1));
    expect(d.err().match(/failsafe: TRIPPED/g)).toHaveLength(1);
    expect(d.child.exitCode).toBeNull();
  });
});

describe('--failsafe-ms', () => {
  it('refuses a timeout the board would refuse, naming the range; 0 turns the failsafe off and says so', async () => {
    for (const value of ['5', '600001', 'soon']) {
      const r = await runCli(['serve', '--board', 'emulator', '--failsafe-ms', value]);
      expect({ value, code: r.code }).toEqual({ value, code: 2 }); // a usage error, as for every vgpio command
      expect(r.stderr).toMatch(/--failsafe-ms.*milliseconds from 10 to 600000, or 0 to turn the failsafe off/);
    }
    const d = await spawnServe(['--failsafe-ms', '0']);
    expect(d.err()).toMatch(/failsafe: off \(--failsafe-ms 0\): if vgpio stops, the lines keep their levels/);
  });
});
