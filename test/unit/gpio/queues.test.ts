import { describe, expect, it } from 'vitest';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { GpioVirtqueues } from '../../../src/gpio/queues.js';
import { EVENT_QUEUE, IrqType, Msg, REQUEST_QUEUE, VirtioDirection } from '../../../src/gpio/spec.js';
import { encodeGpioRequest } from '../../../src/gpio/spec.js';
import { SplitQueue, DESC_F_NEXT } from '../../../src/virtio/queue.js';
import { DriverQueue, GuestRam } from '../../helpers/virtio-driver.js';
import { FakeBoard } from '../../helpers/fake-board.js';

const req = encodeGpioRequest;
const settle = () => new Promise((r) => setTimeout(r, 5));

function setup() {
  const ram = new GuestRam(1 << 20, 0x40000);
  const board = new FakeBoard();
  const device = new VirtioGpioDevice(board, { lines: [{ name: 'A' }, { name: 'B' }] });
  device.irqEnabled = true;
  const notified: number[] = [];
  const logs: string[] = [];
  const ringErrors: number[] = [];
  const queues = new GpioVirtqueues(device, (i) => notified.push(i), (m) => logs.push(m), (i) => ringErrors.push(i));
  const drivers = [new DriverQueue(ram, 64), new DriverQueue(ram, 64)] as const;
  drivers.forEach((d, i) => queues.setQueue(i, new SplitQueue({ size: 64, memory: ram.memory(), ...d.rings(), eventIdx: false, indirect: true })));
  return { ram, board, device, queues, drivers, notified, logs, ringErrors };
}

describe('GpioVirtqueues', () => {
  it('answers requests with exact used lengths and one notification per batch', async () => {
    const { queues, drivers, notified } = setup();
    const [rq] = drivers;
    rq.add([{ data: req(Msg.GET_DIRECTION, 4) }, { writable: 2 }]);
    rq.add([{ data: req(Msg.GET_LINE_NAMES, 0) }, { writable: 200 }]);
    rq.add([{ data: req(Msg.GET_VALUE, 1) }, { writable: 2 }], { indirect: true });
    queues.kick(REQUEST_QUEUE);
    await settle();
    // Completion order across lines is free (GET_LINE_NAMES needs no board): compare by head.
    const done = rq.completions().sort((a, b) => a.head - b.head);
    expect(done.map((c) => [c.len, c.output.toString('hex')])).toEqual([
      [2, '0002'],
      [1 + 2 + 2 + 28, '00' + Buffer.from('A\0B\0' + '\0'.repeat(28)).toString('hex')],
      [2, '0000'],
    ]);
    expect(notified.length).toBeGreaterThanOrEqual(1);
    expect(notified.length).toBeLessThanOrEqual(3);
    expect(new Set(notified)).toEqual(new Set([REQUEST_QUEUE]));
  });

  it('coalesces completions of one event-loop turn into one notification', async () => {
    const { queues, drivers, notified } = setup();
    const [rq] = drivers;
    for (let i = 0; i < 5; i++) rq.add([{ data: req(Msg.GET_LINE_NAMES, 0) }, { writable: 64 }]);
    queues.kick(REQUEST_QUEUE);
    await settle();
    expect(rq.completions()).toHaveLength(5);
    expect(notified).toEqual([REQUEST_QUEUE]);
  });

  it('answers malformed request chains instead of leaving them', async () => {
    const { queues, drivers, logs, ram } = setup();
    const [rq] = drivers;
    rq.add([{ data: Buffer.from([4, 0, 1]) }, { writable: 2 }]); // 3-byte request
    rq.add([{ data: req(Msg.GET_VALUE, 1) }]); // no response buffer
    rq.add([{ data: req(Msg.GET_LINE_NAMES, 0) }, { writable: 3 }]); // names do not fit
    const [loop] = rq.take(1);
    rq.writeDesc(rq.descGpa, loop!, ram.alloc(8), 8, DESC_F_NEXT, loop!);
    rq.publish(loop!);
    queues.kick(REQUEST_QUEUE);
    await settle();
    const done = rq.completions().sort((a, b) => a.head - b.head);
    expect(done.map((c) => [c.len, c.output.toString('hex')])).toEqual([[2, '0100'], [0, ''], [2, '0100'], [0, '']]);
    expect(queues.counters.badChains).toBe(3);
    expect(logs.join('\n')).toMatch(/loops/);
  });

  it('holds eventq buffers and completes them with one status byte', async () => {
    const { queues, drivers, device, notified } = setup();
    const [rq, eq] = drivers;
    for (const [t, g, v] of [[Msg.SET_DIRECTION, 2, VirtioDirection.OUT], [Msg.SET_DIRECTION, 3, VirtioDirection.IN], [Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_BOTH]] as const) {
      rq.add([{ data: req(t, g, v) }, { writable: 2 }]);
      queues.kick(REQUEST_QUEUE);
      await settle();
    }
    expect(rq.completions().map((c) => c.output.toString('hex'))).toEqual(['0000', '0000', '0000']);
    const irq = Buffer.alloc(2);
    irq.writeUInt16LE(3);
    eq.add([{ data: irq }, { writable: 1 }]);
    const bad = Buffer.alloc(2);
    bad.writeUInt16LE(17); // irq not enabled: back at once, INVALID
    eq.add([{ data: bad }, { writable: 1 }]);
    queues.kick(EVENT_QUEUE);
    await settle();
    expect(eq.completions().map((c) => [c.len, c.output.toString('hex')])).toEqual([[1, '00']]);
    rq.add([{ data: req(Msg.SET_VALUE, 2, 1) }, { writable: 2 }]);
    queues.kick(REQUEST_QUEUE);
    await settle();
    expect(eq.completions().map((c) => [c.len, c.output.toString('hex')])).toEqual([[1, '01']]);
    expect(notified.filter((i) => i === EVENT_QUEUE).length).toBe(2);
    expect(device.counters.irqValid).toBe(1);
  });

  it('drops completions for a ring that was torn down meanwhile', async () => {
    const { queues, drivers, board } = setup();
    const [rq] = drivers;
    let open!: () => void;
    board.gate = () => new Promise<void>((r) => (open = r));
    rq.add([{ data: req(Msg.GET_VALUE, 1) }, { writable: 2 }]);
    queues.kick(REQUEST_QUEUE);
    queues.setQueue(REQUEST_QUEUE, undefined);
    await settle();
    open();
    await settle();
    expect(rq.completions()).toEqual([]);
  });

  it('stops a queue whose ring is corrupt, without throwing, and says so through the ring error', () => {
    const { queues, drivers, logs, ringErrors } = setup();
    drivers[0].publish(500);
    expect(() => queues.kick(REQUEST_QUEUE)).not.toThrow();
    expect(queues.counters.brokenQueues).toBe(1);
    expect(queues.queue(REQUEST_QUEUE)).toBeUndefined();
    expect(logs.join('\n')).toMatch(/queue 0 stopped/);
    expect(ringErrors).toEqual([REQUEST_QUEUE]);
  });

  it('survives a ring error that cannot be delivered (the frontend has gone)', () => {
    const ram = new GuestRam(1 << 20, 0x40000);
    const device = new VirtioGpioDevice(new FakeBoard(), {});
    const logs: string[] = [];
    const queues = new GpioVirtqueues(device, () => {}, (m) => logs.push(m), () => {
      throw new Error('EPIPE: broken pipe');
    });
    const driver = new DriverQueue(ram, 64);
    queues.setQueue(REQUEST_QUEUE, new SplitQueue({ size: 64, memory: ram.memory(), ...driver.rings(), eventIdx: false, indirect: true }));
    driver.publish(500);
    expect(() => queues.kick(REQUEST_QUEUE)).not.toThrow();
    expect(logs.join('\n')).toMatch(/telling the frontend that queue 0 stopped failed \(EPIPE: broken pipe\)/);
  });
});
