import { describe, expect, it } from 'vitest';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { IrqStatus, IrqType, Msg, MsgStatus, VirtioDirection } from '../../../src/gpio/spec.js';
import { FakeBoard } from '../../helpers/fake-board.js';

const OK = (value = 0) => Buffer.from([MsgStatus.OK, value]);
const ERR = Buffer.from([MsgStatus.ERR, 0]);

function make(options: ConstructorParameters<typeof VirtioGpioDevice>[1] = {}) {
  const board = new FakeBoard();
  const logs: string[] = [];
  const device = new VirtioGpioDevice(board, { log: (m) => logs.push(m), ...options });
  device.irqEnabled = true;
  return { board, device, logs };
}

/** Posts an eventq buffer and records how it came back. */
function post(device: VirtioGpioDevice, gpio: number) {
  const result: { status?: number } = {};
  device.postIrqBuffer(gpio, (status) => { result.status = status; });
  return result;
}

const flush = () => new Promise((r) => setImmediate(r));

describe('config space and names', () => {
  it('reports ngpio and the names block size, and serves the names', async () => {
    const { device } = make({ lines: [{ name: 'GP0' }, {}, { name: 'LOOP_A' }] });
    const config = device.config();
    expect(config.length).toBe(8);
    expect(config.readUInt16LE(0)).toBe(30);
    expect(config.readUInt16LE(2)).toBe(0);
    const names = 'GP0\0\0LOOP_A\0' + '\0'.repeat(27);
    expect(config.readUInt32LE(4)).toBe(names.length);
    expect(await device.request(Msg.GET_LINE_NAMES, 0, 0)).toEqual(Buffer.concat([Buffer.from([0]), Buffer.from(names, 'ascii')]));
  });

  it('a device without names reports size 0 and answers GET_LINE_NAMES with ERR', async () => {
    const { device } = make();
    expect(device.config().readUInt32LE(4)).toBe(0);
    expect(await device.request(Msg.GET_LINE_NAMES, 0, 0)).toEqual(ERR);
  });

  it('refuses duplicate and non-ASCII names', () => {
    expect(() => make({ lines: [{ name: 'A' }, { name: 'A' }] })).toThrow(/used twice/);
    expect(() => make({ lines: [{ name: 'Ä' }] })).toThrow(/7-bit ASCII/);
  });
});

describe('requestq', () => {
  it('reports IN for idle lines', async () => {
    const { device } = make();
    expect(await device.request(Msg.GET_DIRECTION, 5, 0)).toEqual(OK(VirtioDirection.IN));
  });

  it('applies a SET_VALUE sent before SET_DIRECTION(out) together with the direction', async () => {
    const { device, board } = make({ lines: [] });
    expect(await device.request(Msg.SET_VALUE, 2, 1)).toEqual(OK());
    expect(board.calls).toEqual([]); // remembered, nothing touched yet
    expect(await device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT)).toEqual(OK());
    expect(board.calls).toEqual([{ op: 'configure', args: [[2], { direction: 'output', value: 1, drive: 'push-pull' }] }]);
    expect(await device.request(Msg.GET_DIRECTION, 2, 0)).toEqual(OK(VirtioDirection.OUT));
    expect(await device.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN)).toEqual(OK());
    expect(await device.request(Msg.GET_VALUE, 3, 0)).toEqual(OK(1)); // loopback partner sees it
    expect(await device.request(Msg.SET_VALUE, 2, 0)).toEqual(OK());
    expect(await device.request(Msg.GET_VALUE, 3, 0)).toEqual(OK(0));
  });

  it('uses the profile for bias, drive, debounce and the idle state', async () => {
    const { device, board } = make({ lines: [{}, {}, { drive: 'open-drain' }, { bias: 'pull-up', debounceUs: 250, idleBias: 'none' }] });
    await device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT);
    await device.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN);
    await device.request(Msg.SET_DIRECTION, 3, VirtioDirection.NONE);
    expect(board.calls.map((c) => c.args)).toEqual([
      [[2], { direction: 'output', value: 0, drive: 'open-drain' }],
      [[3], { direction: 'input', bias: 'pull-up', debounceUs: 250, edge: 'none', level: 'none' }],
      [[3], { direction: 'off', bias: 'none' }],
    ]);
  });

  it('SET_DIRECTION(none) releases the line and forgets its state', async () => {
    const { device, board } = make();
    await device.request(Msg.SET_VALUE, 4, 1);
    await device.request(Msg.SET_DIRECTION, 4, VirtioDirection.OUT);
    expect(await device.request(Msg.SET_DIRECTION, 4, VirtioDirection.NONE)).toEqual(OK());
    expect(board.lines[4]!.settings.direction).toBe('off');
    expect(board.lines[4]!.settings.bias).toBe('pull-down');
    await device.request(Msg.SET_DIRECTION, 4, VirtioDirection.OUT);
    expect(board.lines[4]!.level).toBe(0); // the old SET_VALUE(1) was discarded
  });

  it('answers bad requests with ERR and says why', async () => {
    const { device, logs } = make();
    expect(await device.request(Msg.GET_VALUE, 30, 0)).toEqual(ERR);
    expect(await device.request(Msg.GET_VALUE, 0xffff, 0)).toEqual(ERR);
    expect(await device.request(0x77, 1, 0)).toEqual(ERR);
    expect(await device.request(Msg.SET_VALUE, 1, 2)).toEqual(ERR);
    expect(await device.request(Msg.SET_DIRECTION, 1, 3)).toEqual(ERR);
    expect(await device.request(Msg.SET_DIRECTION, 23, VirtioDirection.OUT)).toEqual(ERR); // reserved on the board
    expect(device.counters.errors).toBe(6);
    expect(logs.join('\n')).toMatch(/line 30: the device has lines 0 to 29/);
    expect(logs.join('\n')).toMatch(/SET_VALUE 2 on line 1: the value must be 0 or 1/);
    expect(logs.join('\n')).toMatch(/line 23 is reserved/);
  });

  it('answers ERR when the board fails, is closed, or hangs past the timeout', async () => {
    const { device, board } = make({ requestTimeoutMs: 30 });
    board.failWith = new Error('USB cable pulled');
    expect(await device.request(Msg.GET_VALUE, 1, 0)).toEqual(ERR);
    board.failWith = undefined;
    board.stall = new Promise(() => {}); // never finishes
    const started = Date.now();
    expect(await device.request(Msg.GET_VALUE, 1, 0)).toEqual(ERR);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    // The line is not wedged behind the stuck request.
    board.stall = undefined;
    expect(await device.request(Msg.GET_VALUE, 1, 0)).toEqual(OK(0));
    await board.close();
    expect(await device.request(Msg.GET_VALUE, 1, 0)).toEqual(ERR);
  });

  it('runs requests for one line in order and different lines concurrently', async () => {
    const { device, board } = make();
    const gates: Array<{ op: string; line: unknown; open: () => void }> = [];
    board.gate = (op, args) => new Promise<void>((open) => gates.push({ op, line: (args[0] as number[])[0], open }));
    const settled: string[] = [];
    const a = device.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN).then((r) => (settled.push('a'), r));
    const b = device.request(Msg.GET_VALUE, 3, 0).then((r) => (settled.push('b'), r));
    const c = device.request(Msg.GET_VALUE, 5, 0).then((r) => (settled.push('c'), r));
    await flush();
    // b waits behind a on line 3; c on line 5 is already at the board.
    expect(gates.map((g) => [g.op, g.line])).toEqual([['configure', 3], ['getValues', 5]]);
    gates[1]!.open();
    expect(await c).toEqual(OK(0));
    expect(settled).toEqual(['c']);
    gates[0]!.open();
    expect(await a).toEqual(OK());
    await flush();
    expect(gates.map((g) => [g.op, g.line])).toEqual([['configure', 3], ['getValues', 5], ['getValues', 3]]);
    gates[2]!.open();
    expect(await b).toEqual(OK(0));
    expect(settled).toEqual(['c', 'a', 'b']);
  });
});

describe('eventq', () => {
  async function inputWithIrq(device: VirtioGpioDevice, board: FakeBoard, type: number) {
    await device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT); // drives line 3 through the jig
    expect(await device.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN)).toEqual(OK());
    expect(await device.request(Msg.SET_IRQ_TYPE, 3, type)).toEqual(OK());
    return (v: 0 | 1) => device.request(Msg.SET_VALUE, 2, v);
  }

  it('returns a buffer at once, INVALID, when the interrupt is not enabled', () => {
    const { device } = make();
    expect(post(device, 3).status).toBe(IrqStatus.INVALID);
    expect(post(device, 99).status).toBe(IrqStatus.INVALID);
  });

  it('refuses SET_IRQ_TYPE without F_IRQ, with bad types, and on outputs', async () => {
    const { device } = make();
    device.irqEnabled = false;
    expect(await device.request(Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_BOTH)).toEqual(ERR);
    device.irqEnabled = true;
    expect(await device.request(Msg.SET_IRQ_TYPE, 3, 0x05)).toEqual(ERR);
    expect(await device.request(Msg.SET_IRQ_TYPE, 3, 0x10)).toEqual(ERR);
    await device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT);
    expect(await device.request(Msg.SET_IRQ_TYPE, 2, IrqType.EDGE_RISING)).toEqual(ERR);
  });

  it('delivers an edge to the held buffer, VALID, and configures the board for it', async () => {
    const { device, board } = make();
    const set = await inputWithIrq(device, board, IrqType.EDGE_BOTH);
    expect(board.lines[3]!.settings.edge).toBe('both');
    const held = post(device, 3);
    expect(held.status).toBeUndefined();
    await set(1);
    expect(held.status).toBe(IrqStatus.VALID);
  });

  it('latches edges while masked (one latch, not a count) and delivers on re-post', async () => {
    const { device, board } = make();
    const set = await inputWithIrq(device, board, IrqType.EDGE_BOTH);
    await set(1);
    await set(0);
    await set(1);
    expect(device.counters.irqLatched).toBe(1);
    expect(device.counters.irqMerged).toBe(2); // the two later edges are counted, not silently dropped
    expect(post(device, 3).status).toBe(IrqStatus.VALID);
    expect(post(device, 3).status).toBeUndefined(); // nothing more latched: held
  });

  it('filters by edge kind', async () => {
    const { device, board } = make();
    const set = await inputWithIrq(device, board, IrqType.EDGE_RISING);
    await set(1);
    const held = post(device, 3); // the rising edge was latched
    expect(held.status).toBe(IrqStatus.VALID);
    const next = post(device, 3);
    await set(0);
    expect(next.status).toBeUndefined(); // falling edges do not count
    await set(1);
    expect(next.status).toBe(IrqStatus.VALID);
  });

  it('SET_IRQ_TYPE(none) returns the held buffer INVALID at once and drops the latch', async () => {
    const { device, board } = make();
    const set = await inputWithIrq(device, board, IrqType.EDGE_BOTH);
    const held = post(device, 3);
    expect(await device.request(Msg.SET_IRQ_TYPE, 3, IrqType.NONE)).toEqual(OK());
    expect(held.status).toBe(IrqStatus.INVALID);
    await set(1); // disabled: not latched
    await device.request(Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_BOTH);
    expect(post(device, 3).status).toBeUndefined();
  });

  it('SET_DIRECTION(none) returns the held buffer INVALID', async () => {
    const { device, board } = make();
    await inputWithIrq(device, board, IrqType.EDGE_FALLING);
    const held = post(device, 3);
    await device.request(Msg.SET_DIRECTION, 3, VirtioDirection.NONE);
    expect(held.status).toBe(IrqStatus.INVALID);
    expect(post(device, 3).status).toBe(IrqStatus.INVALID); // and the interrupt is gone
  });

  it('a second buffer for the same line goes back INVALID', async () => {
    const { device, board } = make();
    await inputWithIrq(device, board, IrqType.EDGE_BOTH);
    const first = post(device, 3);
    expect(post(device, 3).status).toBe(IrqStatus.INVALID);
    expect(first.status).toBeUndefined();
  });

  it('level interrupts: not latched while masked, re-checked when the buffer is posted', async () => {
    const { device, board } = make();
    const set = await inputWithIrq(device, board, IrqType.LEVEL_HIGH);
    expect(board.lines[3]!.settings.level).toBe('high');
    await set(1);
    await set(0); // the level came and went while masked: nothing owed
    const held = post(device, 3);
    await flush();
    expect(held.status).toBeUndefined();
    await set(1);
    expect(held.status).toBe(IrqStatus.VALID);
    const again = post(device, 3); // still high: fires again at once
    await flush();
    expect(again.status).toBe(IrqStatus.VALID);
    await set(0);
    const low = post(device, 3);
    await flush();
    expect(low.status).toBeUndefined();
  });

  it('an overflow raises the interrupt of every edge line that lost events', async () => {
    const { device, board } = make();
    await inputWithIrq(device, board, IrqType.EDGE_BOTH);
    const held = post(device, 3);
    board.inject({ type: 'overflow', lost: 12, lines: [3, 9], firstUs: 1n, lastUs: 2n });
    expect(held.status).toBe(IrqStatus.VALID);
  });

  it('reset() releases every line the guest used and forgets held buffers', async () => {
    const { device, board } = make();
    await inputWithIrq(device, board, IrqType.EDGE_BOTH);
    const held = post(device, 3);
    await device.reset();
    expect(held.status).toBeUndefined(); // belonged to the old rings: dropped, not completed
    expect(board.lines[2]!.settings.direction).toBe('off');
    expect(board.lines[3]!.settings.direction).toBe('off');
    expect(device.irqEnabled).toBe(false);
  });
});
