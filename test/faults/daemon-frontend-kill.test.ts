/**
 * Fault: the VMM dies. Its socket closes mid-request, with requests in flight and eventq buffers held,
 * either from this process (close without any vhost-user goodbye) or because a VMM process got SIGKILL.
 * The daemon must keep running, put every line the dead guest used in its safe state (the Pico profile:
 * released, pull-down), and serve the next frontend with correct GET/SET results through the loopback jig.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestFrontend } from '../helpers/frontend.js';
import { FakeBoard } from '../helpers/fake-board.js';
import { IrqType, Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import { VirtioGpioDevice } from '../../src/gpio/device.js';
import { GpioVhostDevice } from '../../src/gpio/vhost-device.js';
import { VhostUserServer } from '../../src/vhost/server.js';
import { join } from 'node:path';
import { ReliabilityRecord } from './reliability.js';
import { connectGuest, countedRequests, cleanUp, onCleanup, sleep, spawnChildFrontend, spawnServe, tempDir, until, type Daemon } from './daemon-helpers/daemon.js';

const record = new ReliabilityRecord('faults:daemon-frontend-kill');
afterEach(cleanUp);
afterAll(() => record.write());

/** Loopback pairs of the jig: GP0-GP1 ... GP20-GP21. */
const EVEN = Array.from({ length: 11 }, (_, i) => 2 * i);

const ask = countedRequests(record);

/**
 * The new guest's view after the old one died: every even line of the jig is idle and released, so each
 * odd partner read as an input sees the released line's pull-down; then it drives and reads like any guest.
 */
async function expectCleanSlateAndWorking(f: TestFrontend): Promise<void> {
  for (const even of EVEN) {
    expect((await ask(f, Msg.GET_DIRECTION, even)).output).toEqual(Buffer.from([MsgStatus.OK, VirtioDirection.IN]));
    expect((await ask(f, Msg.SET_DIRECTION, even + 1, VirtioDirection.IN)).output[0]).toBe(MsgStatus.OK);
    const level = (await ask(f, Msg.GET_VALUE, even + 1)).output;
    if (level[1] !== 0) record.add({ dataLost: 1 }); // a line the dead guest left driven
    expect({ line: even, partner: [...level] }).toEqual({ line: even, partner: [MsgStatus.OK, 0] });
  }
  // SET then GET through the jig, and an edge interrupt, for the new guest.
  await ask(f, Msg.SET_VALUE, 2, 1);
  await ask(f, Msg.SET_DIRECTION, 2, VirtioDirection.OUT);
  expect((await ask(f, Msg.GET_VALUE, 3)).output).toEqual(Buffer.from([MsgStatus.OK, 1]));
  expect((await ask(f, Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_FALLING)).output[0]).toBe(MsgStatus.OK);
  f.postIrq(3);
  await ask(f, Msg.SET_VALUE, 2, 0);
  expect(await f.waitIrqs(1, 10_000)).toEqual([{ line: 3, status: 1 }]);
  expect((await ask(f, Msg.GET_VALUE, 3)).output).toEqual(Buffer.from([MsgStatus.OK, 0]));
}

describe('the frontend dies mid-session', () => {
  it('socket closed mid-burst, eventq buffers held: the daemon releases the old lines and serves the next frontend', async () => {
    const d = await spawnServe();
    const f1 = await connectGuest(d.socket);
    for (const line of [0, 2, 4]) {
      await ask(f1, Msg.SET_VALUE, line, 1);
      await ask(f1, Msg.SET_DIRECTION, line, VirtioDirection.OUT);
    }
    for (const line of [7, 9]) {
      await ask(f1, Msg.SET_DIRECTION, line, VirtioDirection.IN);
      await ask(f1, Msg.SET_IRQ_TYPE, line, IrqType.EDGE_BOTH);
      f1.postIrq(line); // held by the daemon when the frontend dies
    }
    // The burst: lines becoming outputs driven high, none awaited but the first answer.
    const burst = EVEN.slice(3).flatMap((line) => [f1.request(Msg.SET_VALUE, line, 1), f1.request(Msg.SET_DIRECTION, line, VirtioDirection.OUT)]);
    await Promise.race(burst);
    f1.close(); // no GET_VRING_BASE, no goodbye: what a crashed QEMU looks like
    record.add({ faultsInjected: 1 });
    await d.waitFor(/frontend disconnected: the frontend closed the connection/);

    const f2 = await connectGuest(d.socket);
    await expectCleanSlateAndWorking(f2);
    expect(d.child.exitCode).toBeNull();
    expect(d.err()).not.toMatch(/Error:|TypeError|uncaught/i);
  });

  it('a VMM process killed with SIGKILL, three times over: each next frontend gets a clean, working device', async () => {
    const d = await spawnServe();
    for (let round = 1; round <= 3; round++) {
      const vmm = await spawnChildFrontend(d.socket, EVEN.slice(0, 10), [21]);
      // Its burst dies with it: nobody is left to receive the answers, so they are not counted as guest
      // requests owed an answer (the in-process test below checks the device still answers them).
      expect(vmm.inFlight).toBe(20);
      vmm.child.kill('SIGKILL');
      record.add({ faultsInjected: 1 });
      expect((await vmm.exited).signal).toBe('SIGKILL');
      await d.waitFor(new RegExp(`(frontend disconnected: [^\\n]*\\n[^]*){${round}}`));
    }
    const f = await connectGuest(d.socket);
    await expectCleanSlateAndWorking(f);
    expect(d.err().match(/vhost-user: frontend connected/g)).toHaveLength(4);
    expect(d.child.exitCode).toBeNull();
  });
});

describe('the device model when its guest vanishes with requests at the board', () => {
  it('a SET_DIRECTION(out) still at the board is released after it lands; queued requests never reach the board', async () => {
    const board = new FakeBoard();
    const device = new VirtioGpioDevice(board);
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    board.gate = (op, args) => (op === 'configure' && (args[1] as { direction: string }).direction === 'output' ? held : Promise.resolve());
    await device.request(Msg.SET_VALUE, 2, 1);
    const atBoard = device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT);
    const queued = device.request(Msg.SET_VALUE, 2, 0);
    await sleep(10);
    const reset = device.reset(); // the frontend disconnected
    record.add({ faultsInjected: 1, requestsSent: 3 });
    letGo();
    await reset;
    // The old guest's requests are answered (its rings are gone, but nothing waits forever) ...
    expect(await atBoard).toEqual(Buffer.from([MsgStatus.OK, 0]));
    expect(await queued).toEqual(Buffer.from([MsgStatus.ERR, 0]));
    record.add({ requestsAnswered: 3 });
    // ... the queued SET_VALUE never touched the board, and the line ends released, not driven.
    expect(board.calls.filter((c) => c.op === 'setValues')).toEqual([]);
    expect(board.lines[2]!.settings.direction).toBe('off');
    expect(board.lines[2]!.settings.bias).toBe('pull-down');
  });
});

describe('the daemon when the VMM\'s call fds die before its socket does', () => {
  it('answers that land after a UML frontend vanished fail to notify (EPIPE) and are counted, not thrown', async () => {
    const board = new FakeBoard();
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    board.gate = (op) => (op === 'getValues' ? held : Promise.resolve());
    const gpio = new VirtioGpioDevice(board);
    const device = new GpioVhostDevice(gpio);
    const server = new VhostUserServer({ socketPath: join(tempDir(), 'gpio.sock'), device });
    onCleanup(() => server.close());
    await server.listen();
    const f = await TestFrontend.connect((server as unknown as { options: { socketPath: string } }).options.socketPath);
    onCleanup(() => f.close());
    await f.setup({ uml: true }); // UML: call fds are socketpair ends, which fail with EPIPE once the peer is gone
    for (const line of [3, 5, 7]) void f.request(Msg.GET_VALUE, line); // answered into a dead VMM: not counted
    await until(() => board.calls.filter((c) => c.op === 'getValues').length === 3, 'three GET_VALUEs at the board');
    // In one turn of the event loop: the VMM dies (every fd closes) and the board answers. The answers are
    // completed and notified before the daemon's socket watcher can see the hang-up.
    f.close();
    letGo();
    record.add({ faultsInjected: 1 });
    await until(() => device.queues.counters.failedNotifications > 0, 'the failed notification to be counted');
    await until(() => server.backend === undefined, 'the disconnect');
    expect(device.queues.counters.failedNotifications).toBe(1); // one coalesced notification for the three answers
  });
});
