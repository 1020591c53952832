/**
 * Fault: the board behind a running `vgpio serve` (the built CLI, a child process) goes away and comes
 * back, through the real serial-port path. The board is `vgpio emulate --pty` in a process of its own,
 * reached through a symlink as /dev/vgpio/<serial> reaches a real board: killing that process closes the
 * pty as an unplug closes a ttyACM; a new one behind the same link is the replugged board (power-on state).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { IrqStatus, IrqType, Msg, MsgStatus, VirtioDirection } from '../../src/gpio/spec.js';
import { TestFrontend } from '../helpers/frontend.js';
import { ReliabilityRecord } from './reliability.js';
import { GuestTally } from './helpers/daemon.js';
import { cleanUp, onCleanup, spawnPtyBoard, spawnServe, tempDir } from './daemon-helpers/daemon.js';

const record = new ReliabilityRecord('faults:board-serve-replug');
const tally = new GuestTally();
afterEach(cleanUp);
afterAll(() => {
  record.add({ requestsSent: tally.sent, requestsAnswered: tally.answered });
  record.write();
});

const OK = Buffer.from([MsgStatus.OK, 0]);

describe('vgpio serve with its board unplugged and plugged in again', () => {
  it('logs the loss, answers the guest with errors meanwhile, and on replug restores the lines and interrupts', async () => {
    const dir = tempDir('vgpio-replug-');
    const link = join(dir, 'board');
    const first = await spawnPtyBoard();
    symlinkSync(first.path, link);
    const serve = await spawnServe([], { board: link });
    onCleanup(async () => {
      serve.child.kill('SIGTERM');
      await serve.exited;
    });
    await serve.waitFor(/board: the board on .*serial 454d554c41544544/);
    const f = await TestFrontend.connect(serve.socket);
    onCleanup(() => f.close());
    await f.setup();
    expect((await tally.track(f.request(Msg.SET_VALUE, 2, 1))).output).toEqual(OK);
    expect((await tally.track(f.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT))).output).toEqual(OK);
    expect((await tally.track(f.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN))).output).toEqual(OK);
    expect((await tally.track(f.request(Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_BOTH))).output).toEqual(OK);
    f.postIrq(3);
    expect((await tally.track(f.request(Msg.GET_VALUE, 3))).output).toEqual(Buffer.from([MsgStatus.OK, 1]));

    // Unplug.
    first.child.kill('SIGTERM');
    record.add({ faultsInjected: 1 });
    await first.exited;
    await serve.waitFor(/board: the board with serial 454d554c41544544 is gone \(.*\); .*waiting for it/);
    const gone = await tally.track(f.request(Msg.GET_VALUE, 3));
    expect(gone.output[0]).toBe(MsgStatus.ERR);
    expect(serve.err()).toMatch(/454d554c41544544 is disconnected .*waiting for it to come back/);
    expect(f.irqs).toEqual([]);

    // Replug: a fresh board appears behind the same name.
    const second = await spawnPtyBoard();
    symlinkSync(second.path, `${link}.new`);
    renameSync(`${link}.new`, link);
    await serve.waitFor(/board: the board with serial 454d554c41544544 is back .*2 line\(s\) and the failsafe restored/, 30_000);
    await serve.waitFor(/board: guest requests reach the board again/);
    expect((await tally.track(f.request(Msg.GET_VALUE, 3))).output).toEqual(Buffer.from([MsgStatus.OK, 1])); // GP2 drives it again
    expect(f.irqs).toEqual([]);
    expect((await tally.track(f.request(Msg.SET_VALUE, 2, 0))).output).toEqual(OK);
    expect(await f.waitIrqs(1)).toEqual([{ line: 3, status: IrqStatus.VALID }]);
    record.add({ dataLost: f.irqs.length === 1 ? 0 : 1 });
    expect(serve.child.exitCode).toBeNull();
  });
});
