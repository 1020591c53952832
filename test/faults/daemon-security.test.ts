/**
 * Security checks at the daemon's edges (SECURITY.md): the socket's permissions, one frontend at a time,
 * and reserved lines that neither a guest nor the CLI can ever drive, whether the firmware reserves them
 * (GP23 on a Pico) or only the profile does (a custom profile reserving GP6, which the firmware would
 * happily drive: the daemon is the only guard).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestFrontend } from '../helpers/frontend.js';
import { IrqType, Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import type { PinChangeEvent } from '../../src/emulator/board.js';
import { ReliabilityRecord } from './reliability.js';
import { connectGuest, countedRequests, cleanUp, onCleanup, runCli, sleep, spawnPtyBoard, spawnServe, startInProcess, tempDir, until } from './daemon-helpers/daemon.js';

const record = new ReliabilityRecord('faults:daemon-security');
afterEach(cleanUp);
afterAll(() => record.write());

const OK = (value = 0) => Buffer.from([MsgStatus.OK, value]);
const ERR = Buffer.from([MsgStatus.ERR, 0]);

const ask = countedRequests(record);

/** The Pico profile with GP6 reserved as well (and GP4's safe state), as a file for --profile. */
function profileReservingGp6(safe = 'high'): string {
  const pico = JSON.parse(readFileSync(fileURLToPath(new URL('../../hw/boards/pico.json', import.meta.url)), 'utf8'));
  pico.id = 'pico-gp6-reserved';
  pico.lines['6'] = { ...pico.lines['6'], reserved: 'drives the test rig\'s relay; never from a guest' };
  pico.lines['4'] = { ...pico.lines['4'], safe };
  const path = join(tempDir(), 'pico-gp6.json');
  writeFileSync(path, JSON.stringify(pico));
  return path;
}

/** Every way a guest could drive `line`; each must be refused. */
async function tryToDrive(f: TestFrontend, line: number): Promise<void> {
  const attempts: Array<[string, number, number]> = [
    ['SET_VALUE 1', Msg.SET_VALUE, 1],
    ['SET_DIRECTION out', Msg.SET_DIRECTION, VirtioDirection.OUT],
    ['SET_DIRECTION in', Msg.SET_DIRECTION, VirtioDirection.IN],
    ['SET_IRQ_TYPE both', Msg.SET_IRQ_TYPE, IrqType.EDGE_BOTH],
  ];
  for (const [what, type, value] of attempts) {
    record.add({ faultsInjected: 1 });
    expect({ what, line, output: (await ask(f, type, line, value)).output }).toEqual({ what, line, output: ERR });
  }
  // Letting go of a line never taken is harmless, and the Linux driver does it on every free.
  expect((await ask(f, Msg.SET_DIRECTION, line, VirtioDirection.NONE)).output).toEqual(OK());
}

describe('the socket', () => {
  it('is 0600 by default, --socket-mode 660 gives the group access, and a second frontend is refused', async () => {
    const d = await spawnServe();
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    expect(d.err()).toMatch(/vhost-user: listening on .* \(mode 0600\)/);
    const f = await connectGuest(d.socket);
    const intruder = await TestFrontend.connect(d.socket);
    onCleanup(() => intruder.close());
    record.add({ faultsInjected: 1 });
    await d.waitFor(/refused a second frontend: one is already connected/);
    await sleep(50);
    expect(intruder.closed).toBe(true);
    expect((await ask(f, Msg.GET_DIRECTION, 2)).output).toEqual(OK(VirtioDirection.IN)); // the first one is unaffected

    const g = await spawnServe(['--socket-mode', '660']);
    expect(statSync(g.socket).mode & 0o777).toBe(0o660);
    expect(g.err()).toMatch(/\(mode 0660\)/);
  });
});

describe('reserved lines', () => {
  it('a guest of the real daemon cannot drive firmware-reserved GP23 nor profile-reserved GP6; the board stays untouched', async () => {
    const pty = await spawnPtyBoard();
    const d = await spawnServe(['--profile', profileReservingGp6()], { board: pty.path });
    expect(d.err()).toMatch(/reserved lines: 6, 23, 24, 29/);
    expect(d.err()).toMatch(/failsafe: armed, 1000 ms of host silence puts the lines in their safe states \(drive 4=1; release the rest\)/);
    const f = await connectGuest(d.socket);
    await tryToDrive(f, 23);
    await tryToDrive(f, 6);
    // GP6 drives GP7 through the jig: had anything reached the board, GP7 would read high.
    await ask(f, Msg.SET_DIRECTION, 7, VirtioDirection.IN);
    expect((await ask(f, Msg.GET_VALUE, 7)).output).toEqual(OK(0));
    expect(d.err()).toMatch(/request type 0x3 on line 6 refused: line 6 is reserved \(drives the test rig's relay; never from a guest\); pick another line/);
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
    // The firmware's own view, after the daemon is gone: GP6 still in its power-on state (GP23 the firmware
    // guards itself: it does not even report its configuration).
    const r = await runCli(['info', '--board', pty.path, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).lines[6].state).toMatchObject({ direction: 'off', bias: 'pull-down', value: 0 });
  });

  it('a profile with a bad safe state is refused at start, naming the field', async () => {
    const r = await runCli(['serve', '--board', 'emulator', '--socket', join(tempDir(), 'gpio.sock'), '--profile', profileReservingGp6('on')]);
    expect(r.code).toBe(2); // bad input, as for every vgpio command
    expect(r.stderr).toMatch(/lines\.4\.safe: "on" is not one of off, low, high/);
  });

  it('in-process: the pins of reserved lines never change whatever the guest sends, and the failsafe leaves them alone', async () => {
    const d = await startInProcess({
      failsafeMs: 300,
      profile: (p) => ({ ...p, lines: p.lines.map((l) => (l.line === 6 ? { ...l, reserved: 'test rig relay' } : l)), reservedLines: [...p.reservedLines, 6] }),
    });
    expect(d.logs.join('\n')).toMatch(/failsafe: armed/);
    const changes: PinChangeEvent[] = [];
    onCleanup(d.emulated.pins.onChange((c) => changes.push(c)));
    const f = await connectGuest(d.socket);
    await tryToDrive(f, 6);
    await tryToDrive(f, 23);
    await ask(f, Msg.SET_VALUE, 2, 1);
    await ask(f, Msg.SET_DIRECTION, 2, VirtioDirection.OUT); // a pin change that does reach the board, as a control
    await sleep(50);
    expect(changes.filter((c) => c.line === 2).map((c) => c.level)).toEqual([1]);
    expect(changes.filter((c) => c.line === 6 || c.line === 23)).toEqual([]);
    expect(await d.emulated.board.lineState(6)).toMatchObject({ direction: 'off', bias: 'pull-down' });
    expect(d.gpio.counters.errors).toBeGreaterThanOrEqual(8);
    // A failsafe trip touches every other line, never a reserved one.
    d.keeper!.stopHeartbeats();
    record.add({ faultsInjected: 1 });
    await until(() => d.keeper!.trips === 1, 'FAILSAFE_TRIPPED');
    const released = /released ([0-9 ]+);/.exec(d.logs.find((l) => l.startsWith('failsafe: TRIPPED'))!)![1]!.split(' ').map(Number);
    expect(released).toContain(2);
    expect(released.filter((l) => [6, 23, 24, 29].includes(l))).toEqual([]);
    d.keeper!.startHeartbeats();
    expect(changes.filter((c) => c.line === 6 || c.line === 23)).toEqual([]);
  });

  it('the CLI refuses them with exit 2 before touching the board: vgpio set GP23=1, and GP6 under the custom profile', async () => {
    const pty = await spawnPtyBoard();
    for (const args of [['set', 'GP23=1'], ['set', 'GP6=1', '--profile', profileReservingGp6()], ['set', '23=1', '--hold'], ['pulse', 'GP23', '--us', '100']]) {
      record.add({ faultsInjected: 1 });
      const r = await runCli([...args, '--board', pty.path]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(/reserved/);
    }
    const r = await runCli(['info', '--board', pty.path, '--json']);
    expect(JSON.parse(r.stdout).lines[6].state).toMatchObject({ direction: 'off', bias: 'pull-down', value: 0 });
  });
});
