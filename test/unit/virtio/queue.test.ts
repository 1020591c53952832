import { describe, expect, it } from 'vitest';
import { GuestMemory, GuestMemoryError } from '../../../src/virtio/memory.js';
import {
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  QueueError,
  readChain,
  SplitQueue,
  writeChain,
  AVAIL_F_NO_INTERRUPT,
  USED_F_NO_NOTIFY,
  type ChainFault,
  type DescriptorChain,
} from '../../../src/virtio/queue.js';
import { DriverQueue, GuestRam } from '../../helpers/virtio-driver.js';

function setup(options: { size?: number; eventIdx?: boolean; indirect?: boolean; start?: number; gpaBase?: number } = {}) {
  const ram = new GuestRam(1 << 20, options.gpaBase ?? 0x10000);
  const size = options.size ?? 16;
  const driver = new DriverQueue(ram, size, options.start ?? 0);
  const device = new SplitQueue({
    size, memory: ram.memory(), ...driver.rings(),
    eventIdx: options.eventIdx ?? false, indirect: options.indirect ?? true, nextAvail: options.start ?? 0,
  });
  return { ram, driver, device };
}

const isFault = (x: DescriptorChain | ChainFault | null): x is ChainFault => x !== null && 'reason' in x;
const chainOf = (x: DescriptorChain | ChainFault | null): DescriptorChain => {
  if (x === null || isFault(x)) throw new Error(`expected a chain, got ${JSON.stringify(x)}`);
  return x;
};

describe('SplitQueue: chains', () => {
  it('takes a request/response chain and returns it with the exact length', () => {
    const { driver, device } = setup();
    const head = driver.add([{ data: Buffer.from([4, 0, 7, 0, 0, 0, 0, 0]) }, { writable: 2 }]);
    expect(device.pending()).toBe(1);
    const chain = chainOf(device.pop());
    expect(chain.head).toBe(head);
    expect(readChain(chain.readable, 8)).toEqual(Buffer.from([4, 0, 7, 0, 0, 0, 0, 0]));
    expect(chain.writableLength).toBe(2);
    expect(writeChain(chain.writable, Buffer.from([0, 1]))).toBe(2);
    device.push(chain.head, 2);
    expect(device.pop()).toBeNull();
    expect(driver.completions()).toEqual([{ head, len: 2, output: Buffer.from([0, 1]) }]);
  });

  it('accepts a message split over several readable descriptors', () => {
    const { driver, device } = setup();
    driver.add([{ data: Buffer.from([1, 2, 3]) }, { data: Buffer.from([4, 5]) }, { data: Buffer.from([6, 7, 8]) }, { writable: 1 }, { writable: 1 }]);
    const chain = chainOf(device.pop());
    expect(readChain(chain.readable, 100)).toEqual(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(chain.readableLength).toBe(8);
    expect(writeChain(chain.writable, Buffer.from([9, 10, 11]))).toBe(2); // never more than fits
  });

  it('follows an indirect table', () => {
    const { driver, device } = setup({ indirect: true });
    const head = driver.add([{ data: Buffer.from('ab') }, { writable: 4 }], { indirect: true });
    const chain = chainOf(device.pop());
    expect(chain.head).toBe(head);
    expect(readChain(chain.readable, 10).toString()).toBe('ab');
    expect(chain.writableLength).toBe(4);
  });

  it('joins a buffer that straddles two adjacent memory regions', () => {
    const a = new Uint8Array(0x1000);
    const b = new Uint8Array(0x1000);
    b.set([0xaa, 0xbb], 0);
    a.set([0x11, 0x22], 0xffe);
    const memory = new GuestMemory([
      { guestPhysAddr: 0x2000, userAddr: 0x900000, size: 0x1000, bytes: b },
      { guestPhysAddr: 0x1000, userAddr: 0x800000, size: 0x1000, bytes: a },
    ]);
    const views = memory.gpaViews(0x1ffe, 4);
    expect(views).toHaveLength(2);
    expect(readChain(views, 4)).toEqual(Buffer.from([0x11, 0x22, 0xaa, 0xbb]));
    expect(() => memory.gpaView(0x1ffe, 4)).toThrow(/straddles/);
    expect(() => memory.gpaViews(0x2ffe, 4)).toThrow(GuestMemoryError);
    expect(memory.uvaView(0x900010, 4).byteOffset).toBe(0x10);
    expect(() => memory.uvaView(0x800ffe, 4)).toThrow(/not inside one memory region/);
  });

  it('refuses overlapping regions and mappings of the wrong size', () => {
    expect(() => new GuestMemory([
      { guestPhysAddr: 0, userAddr: 0, size: 0x2000, bytes: new Uint8Array(0x2000) },
      { guestPhysAddr: 0x1000, userAddr: 0x10000, size: 0x1000, bytes: new Uint8Array(0x1000) },
    ])).toThrow(/overlap/);
    expect(() => new GuestMemory([{ guestPhysAddr: 0, userAddr: 0, size: 0x2000, bytes: new Uint8Array(0x1000) }])).toThrow(/mapping/);
  });
});

describe('SplitQueue: a hostile driver', () => {
  /** Writes raw descriptors and publishes `head`; returns what the device makes of it. */
  function craft(build: (d: DriverQueue, ram: GuestRam) => number, options: { indirect?: boolean } = {}) {
    const { driver, device, ram } = setup({ indirect: options.indirect ?? true });
    const head = build(driver, ram);
    driver.publish(head);
    return { result: device.pop(), head, device };
  }

  const cases: Array<[string, (d: DriverQueue, ram: GuestRam) => number, RegExp, { indirect?: boolean }?]> = [
    ['a descriptor loop', (d, ram) => { const b = ram.alloc(8); d.writeDesc(d.descGpa, 0, b, 8, DESC_F_NEXT, 1); d.writeDesc(d.descGpa, 1, b, 8, DESC_F_NEXT, 0); return 0; }, /loops/],
    ['a self loop', (d, ram) => { d.writeDesc(d.descGpa, 3, ram.alloc(8), 8, DESC_F_NEXT, 3); return 3; }, /loops/],
    ['next outside the table', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.alloc(8), 8, DESC_F_NEXT, 999); return 0; }, /outside a table of 16/],
    ['an address outside guest memory', (d) => { d.writeDesc(d.descGpa, 0, 0x4000_0000, 8, 0, 0); return 0; }, /outside guest memory/],
    ['an address above 2^53', (d) => { d.writeDesc(d.descGpa, 0, 0xffff_ffff_ffff_f000n, 8, 0, 0); return 0; }, /outside guest memory/],
    ['a length running off the end of memory', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.gpaBase + ram.size - 4, 0xffff_ffff, 0, 0); return 0; }, /outside guest memory/],
    ['readable after writable', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.alloc(2), 2, DESC_F_WRITE | DESC_F_NEXT, 1); d.writeDesc(d.descGpa, 1, ram.alloc(8), 8, 0, 0); return 0; }, /follows a writable/],
    ['indirect without the feature', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.alloc(32), 32, DESC_F_INDIRECT, 0); return 0; }, /not negotiated/, { indirect: false }],
    ['indirect and next together', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.alloc(32), 32, DESC_F_INDIRECT | DESC_F_NEXT, 1); return 0; }, /both INDIRECT and NEXT/],
    ['an indirect table of 17 bytes', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.alloc(32), 17, DESC_F_INDIRECT, 0); return 0; }, /whole number/],
    ['an empty indirect table', (d, ram) => { d.writeDesc(d.descGpa, 0, ram.alloc(32), 0, DESC_F_INDIRECT, 0); return 0; }, /whole number/],
    ['a nested indirect table', (d, ram) => {
      const inner = ram.alloc(16, 16);
      const outer = ram.alloc(16, 16);
      d.writeDesc(outer, 0, inner, 16, DESC_F_INDIRECT, 0);
      d.writeDesc(d.descGpa, 0, outer, 16, DESC_F_INDIRECT, 0);
      return 0;
    }, /contains an indirect/],
    ['a loop inside an indirect table', (d, ram) => {
      const table = ram.alloc(32, 16);
      const buf = ram.alloc(8);
      d.writeDesc(table, 0, buf, 8, DESC_F_NEXT, 1);
      d.writeDesc(table, 1, buf, 8, DESC_F_NEXT, 0);
      d.writeDesc(d.descGpa, 0, table, 32, DESC_F_INDIRECT, 0);
      return 0;
    }, /loops/],
    ['an indirect table outside memory', (d) => { d.writeDesc(d.descGpa, 0, 0x7000_0000, 32, DESC_F_INDIRECT, 0); return 0; }, /outside guest memory/],
  ];
  for (const [name, build, reason, options] of cases) {
    it(`${name}: a fault that still names the head`, () => {
      const { result, head, device } = craft(build, options);
      expect(isFault(result)).toBe(true);
      expect((result as ChainFault).head).toBe(head);
      expect((result as ChainFault).reason).toMatch(reason);
      // The queue stays usable: the fault is returned and the next pop finds an empty ring.
      device.push(head, 0);
      expect(device.pop()).toBeNull();
    });
  }

  it('a head index outside the table stops the queue with a QueueError', () => {
    const { driver, device } = setup();
    driver.publish(40);
    expect(() => device.pop()).toThrow(QueueError);
  });

  it('an avail index that jumps past the queue size is a QueueError', () => {
    const { driver, device, ram } = setup();
    ram.view.setUint16(driver.availGpa - ram.gpaBase + 2, 100, true);
    expect(() => device.pending()).toThrow(/moved 100 entries ahead/);
  });

  it('refuses ring areas too small for the queue size and sizes that are not powers of two', () => {
    const { ram, driver } = setup();
    const rings = driver.rings();
    expect(() => new SplitQueue({ size: 12, memory: ram.memory(), ...rings, eventIdx: false, indirect: false })).toThrow(/power of two/);
    expect(() => new SplitQueue({ size: 32, memory: ram.memory(), ...rings, eventIdx: false, indirect: false })).toThrow(/smaller/);
  });
});

describe('SplitQueue: indices and notifications', () => {
  it('wraps the 16-bit indices', () => {
    const { driver, device } = setup({ size: 4, start: 65534 });
    for (let round = 0; round < 5; round++) {
      const head = driver.add([{ data: Buffer.from([round]) }, { writable: 1 }]);
      const chain = chainOf(device.pop());
      expect(readChain(chain.readable, 1)[0]).toBe(round);
      device.push(chain.head, 1);
      expect(driver.completions().map((c) => c.head)).toEqual([head]);
    }
    expect(device.nextAvail).toBe(3);
    expect(device.nextUsed).toBe(3);
  });

  it('starts from SET_VRING_BASE and resynchronises its used index from the ring', () => {
    const { ram, driver } = setup({ start: 700 });
    driver.add([{ data: Buffer.from([1]) }]);
    const device = new SplitQueue({ size: 16, memory: ram.memory(), ...driver.rings(), eventIdx: false, indirect: false, nextAvail: 700 });
    expect(device.nextUsed).toBe(700);
    expect(chainOf(device.pop()).readableLength).toBe(1);
  });

  it('without EVENT_IDX: notifies unless the driver sets NO_INTERRUPT, and toggles NO_NOTIFY', () => {
    const { driver, device } = setup();
    driver.add([{ writable: 1 }]);
    device.push(chainOf(device.pop()).head, 1);
    expect(device.needsNotification()).toBe(true);
    expect(device.needsNotification()).toBe(false); // nothing new
    driver.setAvailFlags(AVAIL_F_NO_INTERRUPT);
    driver.add([{ writable: 1 }]);
    device.push(chainOf(device.pop()).head, 1);
    expect(device.needsNotification()).toBe(false);
    device.disableNotifications();
    expect(driver.usedFlags()).toBe(USED_F_NO_NOTIFY);
    expect(device.enableNotifications()).toBe(false);
    expect(driver.usedFlags()).toBe(0);
  });

  it('with EVENT_IDX: notifies only when used crosses used_event, and publishes avail_event', () => {
    const { driver, device } = setup({ eventIdx: true });
    const complete = () => device.push(chainOf(device.pop()).head, 1);
    driver.add([{ writable: 1 }]);
    complete();
    expect(device.needsNotification()).toBe(true); // first completion always signals
    driver.setUsedEvent(3); // driver wants a call once used passes index 3
    for (let i = 0; i < 2; i++) { driver.add([{ writable: 1 }]); complete(); }
    expect(device.nextUsed).toBe(3);
    expect(device.needsNotification()).toBe(false);
    driver.add([{ writable: 1 }]);
    complete();
    expect(device.needsNotification()).toBe(true);
    expect(device.enableNotifications()).toBe(false);
    expect(driver.availEvent()).toBe(4);
    driver.add([{ writable: 1 }]);
    expect(device.enableNotifications()).toBe(true); // arrived meanwhile: process again, do not sleep
  });
});
