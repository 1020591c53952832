import { describe, expect, it } from 'vitest';
import { RP2040 } from 'rp2040js';
import { PinModel, resolveNet, type PinContribution } from '../../../src/emulator/pins.js';

const pin = (p: Partial<PinContribution> = {}): PinContribution => ({
  chipDrives: false, chipLevel: 0, pullUp: false, pullDown: false, external: null, ...p,
});

describe('resolveNet', () => {
  it('a driving chip output sets the level, on its own pin and on a wired partner', () => {
    expect(resolveNet([pin({ chipDrives: true, chipLevel: 1 })], 0)).toEqual({ level: 1, source: 'chip' });
    expect(resolveNet([pin({ chipDrives: true, chipLevel: 0 }), pin({ pullUp: true })], 1)).toEqual({ level: 0, source: 'chip' });
  });

  it('an external drive sets the level; agreeing drivers are fine', () => {
    expect(resolveNet([pin({ external: 1, pullDown: true })], 0)).toEqual({ level: 1, source: 'external' });
    expect(resolveNet([pin({ chipDrives: true, chipLevel: 1 }), pin({ external: 1 })], 0).level).toBe(1);
  });

  it('disagreeing drivers are a contention and read low', () => {
    expect(resolveNet([pin({ chipDrives: true, chipLevel: 1 }), pin({ chipDrives: true, chipLevel: 0 })], 1)).toEqual({ level: 0, source: 'contention' });
    expect(resolveNet([pin({ chipDrives: true, chipLevel: 1, external: 0 })], 1).source).toBe('contention');
  });

  it('an undriven pin with a pull reads the pull, on either end of a wire', () => {
    expect(resolveNet([pin({ pullUp: true })], 0)).toEqual({ level: 1, source: 'pull' });
    expect(resolveNet([pin({ pullDown: true })], 1)).toEqual({ level: 0, source: 'pull' });
    expect(resolveNet([pin(), pin({ pullUp: true })], 0)).toEqual({ level: 1, source: 'pull' });
  });

  it('the bus keeper (both pulls) and opposing pulls keep the last level', () => {
    expect(resolveNet([pin({ pullUp: true, pullDown: true })], 1)).toEqual({ level: 1, source: 'keeper' });
    expect(resolveNet([pin({ pullUp: true, pullDown: true })], 0)).toEqual({ level: 0, source: 'keeper' });
    expect(resolveNet([pin({ pullUp: true }), pin({ pullDown: true })], 1)).toEqual({ level: 1, source: 'keeper' });
  });

  it('a floating net keeps its last level', () => {
    expect(resolveNet([pin(), pin()], 1)).toEqual({ level: 1, source: 'floating' });
    expect(resolveNet([pin()], 0)).toEqual({ level: 0, source: 'floating' });
  });

  it('an open-drain output that releases (chip not driving) leaves the net to the pull', () => {
    // Open drain level 1 = OE off: not a driver; the partner's pull-up makes the line high.
    expect(resolveNet([pin({ chipDrives: false, chipLevel: 0 }), pin({ pullUp: true })], 0)).toEqual({ level: 1, source: 'pull' });
  });
});

// Register addresses (RP2040 datasheet §2.3.1.7 SIO, §2.19.6.1 IO_BANK0, §2.19.6.3 PADS_BANK0).
const SIO_GPIO_OUT_SET = 0xd0000014;
const SIO_GPIO_OUT_CLR = 0xd0000018;
const SIO_GPIO_OE_SET = 0xd0000024;
const SIO_GPIO_OE_CLR = 0xd0000028;
const SIO_GPIO_IN = 0xd0000004;
const IO_CTRL = (n: number) => 0x40014004 + 8 * n;
const PAD = (n: number) => 0x4001c004 + 4 * n;
const PAD_IE = 0x40;
const PAD_PUE = 0x08;
const PAD_PDE = 0x04;
const PAD_OD = 0x80;
const FUNCSEL_SIO = 5;
const INTR0 = 0x400140f0;

function chip(wires: Array<[number, number]> = []) {
  const mcu = new RP2040();
  const model = new PinModel(mcu, { wires });
  for (let n = 0; n < 8; n++) {
    mcu.writeUint32(IO_CTRL(n), FUNCSEL_SIO);
    mcu.writeUint32(PAD(n), PAD_IE);
  }
  const gpioIn = () => mcu.readUint32(SIO_GPIO_IN);
  return { mcu, model, gpioIn };
}

describe('PinModel on a bare RP2040 (no firmware: registers written directly)', () => {
  it('pulls: a pad with PUE reads 1 through SIO GPIO_IN; PDE reads 0; changes follow the pad register', () => {
    const { mcu, model, gpioIn } = chip();
    mcu.writeUint32(PAD(2), PAD_IE | PAD_PUE);
    expect(model.level(2)).toBe(1);
    expect((gpioIn() >> 2) & 1).toBe(1);
    mcu.writeUint32(PAD(2), PAD_IE | PAD_PDE);
    expect((gpioIn() >> 2) & 1).toBe(0);
    mcu.writeUint32(PAD(2), PAD_IE | PAD_PUE | PAD_PDE); // bus keeper: stays 0
    expect(model.level(2)).toBe(0);
    expect(model.sources[2]).toBe('keeper');
  });

  it('an output reads back its own level, and a jig partner follows it in the same instant', () => {
    const { mcu, model, gpioIn } = chip([[2, 3]]);
    const changes: Array<[number, number, number]> = [];
    model.onChange((c) => changes.push([c.line, c.level, c.nanos]));
    mcu.writeUint32(SIO_GPIO_OE_SET, 1 << 2);
    mcu.writeUint32(SIO_GPIO_OUT_SET, 1 << 2);
    expect((gpioIn() >> 2) & 3).toBe(3); // GP2 reads its own output, GP3 its partner
    expect(changes).toEqual([[2, 1, 0], [3, 1, 0]]);
    mcu.writeUint32(SIO_GPIO_OUT_CLR, 1 << 2);
    expect((gpioIn() >> 2) & 3).toBe(0);
  });

  it('PADS.OD disables the driver even with OE set: the pull takes over', () => {
    const { mcu, model } = chip([[4, 5]]);
    mcu.writeUint32(PAD(5), PAD_IE | PAD_PUE);
    mcu.writeUint32(SIO_GPIO_OE_SET, 1 << 4);
    mcu.writeUint32(SIO_GPIO_OUT_CLR, 1 << 4);
    expect(model.level(5)).toBe(0);
    mcu.writeUint32(PAD(4), PAD_IE | PAD_OD);
    expect(model.level(5)).toBe(1);
    expect(model.sources[5]).toBe('pull');
  });

  it('open drain: OE on with OUT 0 pulls the wire low, OE off releases it to the partner pull-up', () => {
    const { mcu, model } = chip([[6, 7]]);
    mcu.writeUint32(PAD(7), PAD_IE | PAD_PUE);
    mcu.writeUint32(SIO_GPIO_OUT_CLR, 1 << 6);
    expect(model.level(6)).toBe(1);
    mcu.writeUint32(SIO_GPIO_OE_SET, 1 << 6);
    expect([model.level(6), model.level(7)]).toEqual([0, 0]);
    mcu.writeUint32(SIO_GPIO_OE_CLR, 1 << 6);
    expect([model.level(6), model.level(7)]).toEqual([1, 1]);
  });

  it('external drive wins over pulls, release returns to the pull; contention is counted', () => {
    const { mcu, model } = chip([[0, 1]]);
    mcu.writeUint32(PAD(1), PAD_IE | PAD_PDE);
    model.drive(0, 1);
    expect(model.level(1)).toBe(1);
    model.drive(0, null);
    expect(model.level(1)).toBe(0);
    mcu.writeUint32(SIO_GPIO_OE_SET, 1 << 1);
    mcu.writeUint32(SIO_GPIO_OUT_SET, 1 << 1);
    model.drive(0, 0);
    expect(model.contentions).toBeGreaterThan(0);
    expect(model.sources[0]).toBe('contention');
    expect(() => model.drive(30, 1)).toThrow(RangeError);
  });

  it('latches an edge only on real changes (no spurious EDGE bits from repeated resolution)', () => {
    const { mcu, model } = chip();
    mcu.writeUint32(PAD(3), PAD_IE | PAD_PDE);
    mcu.writeUint32(INTR0, 0xffffffff); // W1C everything latched so far
    model.drive(3, 0); // no change: still 0
    model.resolve(3);
    const EDGES = 0xcccccccc; // EDGE_LOW | EDGE_HIGH of GPIO0-7 (the LEVEL bits are not latched)
    expect((mcu.readUint32(INTR0) & EDGES) >>> 0).toBe(0);
    model.drive(3, 1);
    expect((mcu.readUint32(INTR0) >> 12) & 0xc).toBe(0x8); // GPIO3: EDGE_HIGH only, no EDGE_LOW
  });
});
