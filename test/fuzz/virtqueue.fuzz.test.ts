/**
 * Fuzz target `virtqueue`: a hostile guest's descriptor chains and rings against src/virtio/queue.ts and
 * the virtio-gpio queues and device model (src/gpio), with a fake board.
 *
 * Guest memory has three regions: R0 (gpa 0, 64 KiB: the rings, indirect tables, request buffers),
 * R1 right after it (adjacent: a buffer may straddle R0/R1) and R2 after a hole. The guest writes any
 * descriptor table (addresses inside, outside, straddling, 2^52 and beyond; any length, flags and next),
 * any indirect tables (nested, misplaced, empty, huge), then publishes heads (valid, out of range,
 * repeated) and jumps the avail index, kicking in between. It can also keep adding buffers while the
 * device is processing (a vCPU racing the daemon), which must not keep one kick going forever.
 *
 * Invariants, decided and documented in SECURITY.md ("Guest memory"):
 *   - nothing thrown out of kick() (or out of a completion);
 *   - a ring whose avail index or head is corrupt is marked broken: that queue stops (counter, log line)
 *     until the frontend sets it up again, the vhost-user equivalent of DEVICE_NEEDS_RESET;
 *   - otherwise every head taken off the avail ring gets a used entry (a bad chain with length 0 and, on
 *     the requestq, an ERR status when it has room), except eventq buffers held for a line with an
 *     enabled interrupt (at most one per line), which come back INVALID once the interrupt is disabled;
 *   - used lengths never exceed the writable bytes of a well-formed chain (2, 1 + names, 1);
 *   - bounded work per kick: one kick() call takes at most queue-size chains off the ring.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GuestMemory } from '../../src/virtio/memory.js';
import { availRingSize, descTableSize, SplitQueue, usedRingSize } from '../../src/virtio/queue.js';
import { VirtioGpioDevice } from '../../src/gpio/device.js';
import { GpioVirtqueues } from '../../src/gpio/queues.js';
import { encodeGpioRequest, EVENT_QUEUE, IrqType, Msg, REQUEST_QUEUE, VirtioDirection } from '../../src/gpio/spec.js';
import { FakeBoard } from '../helpers/fake-board.js';
import { FuzzRecord, fuzzRuns, loadCorpus, settle } from './support.js';

const record = new FuzzRecord('virtqueue');
afterAll(() => record.write());

const R0 = { gpa: 0, size: 0x10000 };
const R1 = { gpa: 0x10000, size: 0x4000 };
const R2 = { gpa: 0x40000, size: 0x1000 };
const UVA = 0x7f00_0000_0000;
const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;
const TABLES = 0x4000; // indirect tables, 0x400 apart
const REQUESTS = 0x8000; // prefilled request buffers, 16 bytes apart
const WRITABLE = 0xa000; // response buffers, 16 bytes apart

/** Addresses a hostile guest likes: good buffers, region edges, holes, the rings themselves, huge. */
const ADDRESSES: Array<number | string> = [
  REQUESTS, REQUESTS + 16, REQUESTS + 32, REQUESTS + 48, WRITABLE, WRITABLE + 16, WRITABLE + 32,
  TABLES, TABLES + 0x400, TABLES + 0x800, DESC, AVAIL, USED,
  R0.size - 4, R0.size - 1, R1.gpa + R1.size - 2, R1.gpa + R1.size, R2.gpa, R2.gpa + R2.size - 1, 0x20000,
  '0x1fffffffffffff', '0x20000000000000', '0xffffffffffffffff', '0x8000000000000000',
];
const LENGTHS = [0, 1, 2, 3, 7, 8, 9, 16, 32, 0x400, 0x4000, 0x10000, 0x7fffffff, 0xffffffff];

interface Desc { addr: number | string; len: number; flags: number; next: number }
type Step =
  | { op: 'publish'; heads: number[] }
  | { op: 'jump'; by: number }
  | { op: 'kick' }
  | { op: 'storm'; head: number; times: number }
  | { op: 'settle' };
interface Input {
  queue: 0 | 1;
  size: number;
  eventIdx: boolean;
  indirect: boolean;
  descs: Desc[];
  tables: Desc[][];
  requests: Array<{ type: number; gpio: number; value: number }>;
  steps: Step[];
}

const descArb = (size: number): fc.Arbitrary<Desc> =>
  fc.record({
    addr: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ADDRESSES) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x50000 }) }),
    len: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...LENGTHS) }, { weight: 1, arbitrary: fc.nat(0xffffffff) }),
    flags: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 7 }) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
    next: fc.oneof({ weight: 4, arbitrary: fc.nat(size - 1) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  });

const inputArb: fc.Arbitrary<Input> = fc
  .record({ queue: fc.constantFrom<0 | 1>(0, 1), size: fc.constantFrom(1, 2, 4, 8, 16, 64), eventIdx: fc.boolean(), indirect: fc.boolean() })
  .chain((base) =>
    fc.record({
      queue: fc.constant(base.queue),
      size: fc.constant(base.size),
      eventIdx: fc.constant(base.eventIdx),
      indirect: fc.constant(base.indirect),
      descs: fc.array(descArb(base.size), { minLength: base.size, maxLength: base.size }),
      tables: fc.array(fc.array(descArb(8), { maxLength: 8 }), { maxLength: 3 }),
      requests: fc.array(fc.record({ type: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.nat(0xffff)), gpio: fc.oneof(fc.nat(31), fc.nat(0xffff)), value: fc.oneof(fc.nat(16), fc.nat(0xffffffff)) }), { minLength: 4, maxLength: 4 }),
      steps: fc.array(
        fc.oneof(
          { weight: 4, arbitrary: fc.record({ op: fc.constant('publish' as const), heads: fc.array(fc.oneof(fc.nat(base.size - 1), fc.nat(0xffff)), { minLength: 1, maxLength: 8 }) }) },
          { weight: 1, arbitrary: fc.record({ op: fc.constant('jump' as const), by: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.nat(0xffff)) }) },
          { weight: 3, arbitrary: fc.constant({ op: 'kick' as const }) },
          { weight: 1, arbitrary: fc.record({ op: fc.constant('storm' as const), head: fc.nat(base.size - 1), times: fc.integer({ min: 1, max: 200 }) }) },
          { weight: 2, arbitrary: fc.constant({ op: 'settle' as const }) },
        ) as fc.Arbitrary<Step>,
        { minLength: 1, maxLength: 12 },
      ),
    }),
  );

class Guest {
  readonly bytes = new Uint8Array(R0.size + R1.size);
  readonly r2 = new Uint8Array(R2.size);
  readonly view = new DataView(this.bytes.buffer);
  availIdx = 0;

  constructor(readonly size: number) {}

  memory(): GuestMemory {
    return new GuestMemory([
      { guestPhysAddr: R0.gpa, userAddr: UVA, size: R0.size, bytes: this.bytes.subarray(0, R0.size) },
      { guestPhysAddr: R1.gpa, userAddr: UVA + R1.gpa, size: R1.size, bytes: this.bytes.subarray(R0.size) },
      { guestPhysAddr: R2.gpa, userAddr: UVA + R2.gpa, size: R2.size, bytes: this.r2 },
    ]);
  }

  writeDesc(at: number, d: Desc): void {
    this.view.setBigUint64(at, BigInt(d.addr), true);
    this.view.setUint32(at + 8, d.len >>> 0, true);
    this.view.setUint16(at + 12, d.flags & 0xffff, true);
    this.view.setUint16(at + 14, d.next & 0xffff, true);
  }

  publish(head: number): void {
    this.view.setUint16(AVAIL + 4 + 2 * (this.availIdx % this.size), head & 0xffff, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.view.setUint16(AVAIL + 2, this.availIdx, true);
  }

  jump(by: number): void {
    this.availIdx = (this.availIdx + by) & 0xffff;
    this.view.setUint16(AVAIL + 2, this.availIdx, true);
  }

  usedIdx(): number {
    return this.view.getUint16(USED + 2, true);
  }

  usedLen(slot: number): number {
    return this.view.getUint32(USED + 8 + 8 * (slot % this.size), true);
  }
}

const IRQ_LINES = [0, 1, 2, 3];

async function runOne(input: Input): Promise<void> {
  record.counts.fuzzExecutions++;
  const guest = new Guest(input.size);
  input.descs.forEach((d, i) => guest.writeDesc(DESC + 16 * i, d));
  input.tables.forEach((table, t) => table.forEach((d, i) => guest.writeDesc(TABLES + 0x400 * t + 16 * i, d)));
  input.requests.forEach((r, i) => guest.bytes.set(encodeGpioRequest(r.type, r.gpio, r.value >>> 0), REQUESTS + 16 * i));
  // eventq requests are a le16 line: the first bytes of each request slot double as one.

  const board = new FakeBoard();
  const gpio = new VirtioGpioDevice(board, { lines: [{ name: 'GP0' }, { name: 'GP1' }], requestTimeoutMs: 10_000 });
  let storm: { head: number; left: number } | undefined;
  const logs: string[] = [];
  const queues = new GpioVirtqueues(gpio, () => {}, (m) => {
    logs.push(m);
    // A vCPU adding buffers while the device works: every bad chain the device logs is re-published.
    if (storm && storm.left > 0) {
      storm.left--;
      guest.publish(storm.head);
    }
  });
  if (input.queue === EVENT_QUEUE) {
    gpio.irqEnabled = true;
    for (const line of IRQ_LINES) {
      expect((await gpio.request(Msg.SET_DIRECTION, line, VirtioDirection.IN))[0]).toBe(0);
      expect((await gpio.request(Msg.SET_IRQ_TYPE, line, IrqType.EDGE_BOTH))[0]).toBe(0);
    }
  }
  const memory = guest.memory();
  const queue = new SplitQueue({
    size: input.size,
    memory,
    desc: memory.uvaView(UVA + DESC, descTableSize(input.size)),
    avail: memory.uvaView(UVA + AVAIL, availRingSize(input.size)),
    used: memory.uvaView(UVA + USED, usedRingSize(input.size)),
    eventIdx: input.eventIdx,
    indirect: input.indirect,
  });
  queues.setQueue(input.queue, queue);

  const kick = () => {
    const before = queue.nextAvail;
    queues.kick(input.queue); // must not throw
    const taken = (queue.nextAvail - before) & 0xffff;
    expect(taken, 'one kick takes at most one ring of chains').toBeLessThanOrEqual(input.size);
  };
  for (const step of input.steps) {
    switch (step.op) {
      case 'publish':
        for (const head of step.heads) guest.publish(head);
        break;
      case 'jump':
        guest.jump(step.by);
        break;
      case 'kick':
        kick();
        break;
      case 'storm':
        storm = { head: step.head, left: step.times };
        guest.publish(step.head);
        kick();
        break;
      case 'settle':
        await settle();
        break;
    }
  }
  kick();
  // Let deferred work (completions, a kick continued later) finish; the storm has a finite budget.
  for (let i = 0; i < 1000 && (storm?.left ?? 0) > 0; i++) await settle();
  await settle(5);

  const broken = queues.counters.brokenQueues > 0;
  if (broken) {
    expect(queues.queue(input.queue), 'a broken ring is no longer served').toBeUndefined();
    expect(logs.some((m) => m.includes('stopped'))).toBe(true);
  }
  if (input.queue === EVENT_QUEUE) {
    // Disabling the interrupts returns every held buffer (INVALID).
    for (const line of IRQ_LINES) await gpio.request(Msg.SET_IRQ_TYPE, line, IrqType.NONE);
    await settle();
  }
  const taken = queue.nextAvail; // started at 0
  const used = guest.usedIdx();
  if (!broken) {
    const made = guest.availIdx;
    expect(taken, 'the device took everything the guest made available').toBe(made);
    expect(used, 'every head taken got a used entry').toBe(taken);
  } else {
    expect((taken - used) & 0xffff, 'never more used entries than heads taken').toBeLessThanOrEqual(input.size);
  }
  const maxLen = 1 + gpio.names.length;
  for (let slot = 0; slot < Math.min(used, input.size); slot++) {
    expect(guest.usedLen(slot)).toBeLessThanOrEqual(Math.max(maxLen, 2));
  }
  gpio.close();
}

describe('fuzz: hostile descriptor chains and rings', () => {
  const corpus = loadCorpus<Input>('virtqueue');

  it.each(corpus)('corpus $name', async ({ input }) => {
    await record.replay(() => runOne(input));
  });

  it('random guests', async () => {
    await record.check(fc.asyncProperty(inputArb, runOne), { numRuns: fuzzRuns(2000), timeout: 20_000, examples: corpus.map((c) => [c.input]) });
  });
});
