/**
 * Fault: the daemon is told to stop (SIGTERM from systemd, SIGINT from Ctrl-C) while a guest is connected
 * and driving lines. The lines must end in their safe states, the failsafe must be disarmed (the next
 * program using the board must not see a trip it never asked for), the socket file removed, exit code 0
 * and a clean log line; a second signal during a slow shutdown must not hang.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { TestFrontend } from '../helpers/frontend.js';
import { IrqType, Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import type { BoardProfile, LineProfile } from '../../src/board/profile.js';
import type { PinChangeEvent } from '../../src/emulator/board.js';
import { shutdown } from '../../src/cli/serve.js';
import { ReliabilityRecord } from './reliability.js';
import { connectGuest, countedRequests, cleanUp, onCleanup, runCli, sleep, spawnPtyBoard, spawnServe, startInProcess } from './daemon-helpers/daemon.js';

const record = new ReliabilityRecord('faults:daemon-signals');
afterEach(cleanUp);
afterAll(() => record.write());

const OK = (value = 0) => Buffer.from([MsgStatus.OK, value]);

const ask = countedRequests(record);

/** A guest that drives GP2 and GP4 high and waits for edges on GP7 (GP6 idle). */
async function driveLines(f: TestFrontend): Promise<void> {
  for (const line of [2, 4]) {
    await ask(f, Msg.SET_VALUE, line, 1);
    expect((await ask(f, Msg.SET_DIRECTION, line, VirtioDirection.OUT)).output).toEqual(OK());
  }
  await ask(f, Msg.SET_DIRECTION, 7, VirtioDirection.IN);
  await ask(f, Msg.SET_IRQ_TYPE, 7, IrqType.EDGE_BOTH);
  f.postIrq(7);
  await ask(f, Msg.SET_DIRECTION, 3, VirtioDirection.IN);
  expect((await ask(f, Msg.GET_VALUE, 3)).output).toEqual(OK(1));
}

/** `vgpio info --json` on the board: each line's state as the firmware reports it. */
async function boardLines(path: string): Promise<Array<{ line: number; state: { direction: string; value: number; bias: string; pinLevel: number } }>> {
  const r = await runCli(['info', '--board', path, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).lines;
}

describe('SIGTERM and SIGINT to vgpio serve with a guest driving lines', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: lines released on the board, failsafe disarmed, socket removed, exit 0, a clean log line`, async () => {
      const pty = await spawnPtyBoard();
      const d = await spawnServe(['--failsafe-ms', '300'], { board: pty.path });
      const f = await connectGuest(d.socket);
      await driveLines(f);
      d.child.kill(signal);
      record.add({ faultsInjected: 1 });
      expect(await d.exited).toEqual({ code: 0, signal: null });
      expect(existsSync(d.socket)).toBe(false);
      expect(d.err()).toMatch(new RegExp(`${signal}: releasing lines and shutting down\\n.*${signal}: stopped; lines in their safe states, ${d.socket} removed\\n$`, 's'));
      expect(d.err()).not.toMatch(/failed|Error/);
      // The board (in its own process) has every line the guest used released: off, the Pico's pull-down.
      const lines = await boardLines(pty.path);
      for (const line of [2, 3, 4, 7]) expect(lines[line]!.state, `line ${line}`).toMatchObject({ direction: 'off', bias: 'pull-down' });
      // The failsafe is disarmed: a level set after vgpio stopped stays for many of its timeouts.
      expect((await runCli(['set', 'GP6=1', '--board', pty.path])).code).toBe(0);
      await sleep(1500);
      expect((await boardLines(pty.path))[6]!.state).toMatchObject({ direction: 'output', value: 1, pinLevel: 1 });
    });
  }

  it('a second SIGTERM while the shutdown waits for a board that stopped answering exits at once, with the socket removed', async () => {
    const pty = await spawnPtyBoard();
    const d = await spawnServe(['--failsafe-ms', '0'], { board: pty.path });
    const f = await connectGuest(d.socket);
    await driveLines(f);
    pty.child.kill('SIGSTOP'); // the board goes quiet: every release waits for the link's timeout
    onCleanup(() => void pty.child.kill('SIGCONT'));
    d.child.kill('SIGTERM');
    await d.waitFor(/SIGTERM: releasing lines and shutting down/);
    const second = performance.now();
    d.child.kill('SIGTERM');
    record.add({ faultsInjected: 2 });
    const exit = await Promise.race([d.exited, sleep(15_000).then(() => 'hung' as const)]);
    if (exit === 'hung') record.add({ hangs: 1 });
    expect(exit).toEqual({ code: 1, signal: null });
    // Far below the shutdown's own bound (10 s): the second signal did not wait for the board.
    expect(performance.now() - second).toBeLessThan(8000);
    expect(d.err()).toMatch(/SIGTERM during shutdown \(after SIGTERM\): exiting now without waiting for the board/);
    expect(existsSync(d.socket)).toBe(false);
    pty.child.kill('SIGCONT');
  });
});

describe('the shutdown path in-process (the emulated pins are watched)', () => {
  it('puts every guest line in its profile safe state, disarms the failsafe and removes the socket', async () => {
    const edit: Record<number, Partial<LineProfile>> = { 2: { safe: 'low' }, 5: { bias: 'pull-down' } };
    const d = await startInProcess({
      failsafeMs: 300,
      profile: (p: BoardProfile) => ({ ...p, lines: p.lines.map((l) => ({ ...l, ...edit[l.line] })) }),
    });
    const f = await connectGuest(d.socket);
    await driveLines(f);
    await ask(f, Msg.SET_DIRECTION, 5, VirtioDirection.IN);
    expect((await ask(f, Msg.GET_VALUE, 5)).output).toEqual(OK(1));
    const changes: PinChangeEvent[] = [];
    onCleanup(d.emulated.pins.onChange((c) => changes.push(c)));
    record.add({ faultsInjected: 1 });
    await shutdown({ server: d.server, keeper: d.keeper, gpio: d.gpio, board: d.emulated.board });
    const last = (line: number) => changes.filter((c) => c.line === line).at(-1)?.level;
    expect(last(2)).toBe(0); // safe 'low': driven low
    expect(last(3)).toBe(0);
    expect(last(4)).toBe(0); // safe 'off': released, GP5's pull-down takes the net low
    expect(last(5)).toBe(0);
    expect(d.keeper!.running).toBe(false);
    expect(d.logs.some((l) => l.startsWith('failsafe: TRIPPED'))).toBe(false);
    expect(d.emulated.board.closed).toBe(true);
    expect(existsSync(d.socket)).toBe(false);
  });
});
