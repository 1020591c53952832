/**
 * The electrical side of the emulated board: what level each pin is at, given the chip's own drivers,
 * the jig's wires and what a test drives from outside. rp2040js has no such model: it does not feed an
 * output back into its own input (GPIO_IN of an output would read 0), does not model pulls (an undriven
 * pin with a pull-up reads 0) and latches an edge on every `setInputValue` call, changed or not.
 *
 * A *net* is one pin, or two pins joined by a jig wire. Its level is resolved in this order:
 *  1. drivers: the chip's output on any pin of the net (FUNCSEL's output enable set and PADS.OD clear;
 *     open-drain outputs only drive while they pull low, because the firmware turns OE off to release),
 *     and a test's `drive()` on any pin of the net. Drivers that agree set the level; drivers that
 *     disagree are a short circuit: the net reads low (the low-side transistor usually wins; nothing on
 *     silicon promises that) and the contention is counted, so a test can assert there was none.
 *  2. pulls (PADS.PUE / PADS.PDE) on any pin of the net: pull-up only -> 1, pull-down only -> 0. Both
 *     (the bus keeper) or a pull-up on one end fighting a pull-down on the other -> the last level.
 *  3. nothing at all: the net floats and keeps its last level (a charged trace), 0 after power-on.
 * The resolved level is fed to every pin of the net with `setInputValue`, but only when it differs from
 * what that pin's input already has, so no spurious edges are latched. PADS.IE is honoured by rp2040js
 * itself (an input with IE clear reads 0); the resolver does not need it.
 *
 * Propagation: the resolver runs synchronously inside the register store that changed a driver or a
 * pad (rp2040js pin listeners plus a hook on PADS_BANK0 stores), so a jig partner sees an output change
 * with zero simulated delay; a test's drive() lands at the simulated instant it is applied.
 */
import type { GPIOPin, RP2040 } from 'rp2040js';
import type { Jig } from '../board/jig.js';

export type Level = 0 | 1;
export const NUM_PINS = 30;

/** What one pin contributes to its net. */
export interface PinContribution {
  /** The chip drives the pad (output enable after overrides, and PADS.OD clear). */
  chipDrives: boolean;
  /** The chip's output level (after overrides); only meaningful when chipDrives. */
  chipLevel: Level;
  pullUp: boolean;
  pullDown: boolean;
  /** A test drives this pin from outside (null: not driven). */
  external: Level | null;
}

export type LevelSource = 'chip' | 'external' | 'pull' | 'keeper' | 'floating' | 'contention';

export interface Resolution {
  level: Level;
  source: LevelSource;
}

/** Resolves one net (see the module comment). Pure: unit-tested on its own. */
export function resolveNet(pins: readonly PinContribution[], last: Level): Resolution {
  let driven: Level | null = null;
  let conflict = false;
  let chip = false;
  for (const p of pins) {
    const levels: Level[] = [];
    if (p.chipDrives) levels.push(p.chipLevel);
    if (p.external !== null) levels.push(p.external);
    for (const l of levels) {
      if (driven === null) driven = l;
      else if (driven !== l) conflict = true;
    }
    if (p.chipDrives) chip = true;
  }
  if (conflict) return { level: 0, source: 'contention' };
  if (driven !== null) return { level: driven, source: chip ? 'chip' : 'external' };
  let up = false;
  let down = false;
  let keeper = false;
  for (const p of pins) {
    if (p.pullUp && p.pullDown) keeper = true;
    else if (p.pullUp) up = true;
    else if (p.pullDown) down = true;
  }
  if (keeper || (up && down)) return { level: last, source: 'keeper' };
  if (up) return { level: 1, source: 'pull' };
  if (down) return { level: 0, source: 'pull' };
  return { level: last, source: 'floating' };
}

// rp2040js GPIOPin internals we read (all public fields/getters in 1.4.1).
const PAD_PDE = 1 << 2;
const PAD_PUE = 1 << 3;
const PAD_OD = 1 << 7;
const PADS_BANK0_BASE = 0x4001c000;

export function contributionOf(pin: GPIOPin, external: Level | null): PinContribution {
  const pad = pin.padValue;
  return {
    chipDrives: pin.outputEnable && !(pad & PAD_OD),
    chipLevel: pin.outputValue ? 1 : 0,
    pullUp: (pad & PAD_PUE) !== 0,
    pullDown: (pad & PAD_PDE) !== 0,
    external,
  };
}

export interface PinChange {
  line: number;
  level: Level;
  /** Simulated time of the change, nanoseconds since boot. */
  nanos: number;
  source: LevelSource;
}

/** Resolves all pins of an RP2040 continuously; see the module comment. */
export class PinModel {
  /** Resolved level of every pin. */
  readonly levels = new Uint8Array(NUM_PINS);
  readonly sources: LevelSource[] = new Array<LevelSource>(NUM_PINS).fill('floating');
  /** Nets that were found shorted (drivers disagreeing), counted per resolution that found one. */
  contentions = 0;
  private readonly external: Array<Level | null> = new Array<Level | null>(NUM_PINS).fill(null);
  private readonly partner: Int8Array = new Int8Array(NUM_PINS).fill(-1);
  private readonly listeners: Array<(change: PinChange) => void> = [];
  private resolving = false;
  private again = false;

  constructor(readonly mcu: RP2040, jig?: Pick<Jig, 'wires'>) {
    for (const [a, b] of jig?.wires ?? []) {
      if (a >= NUM_PINS || b >= NUM_PINS) throw new RangeError(`jig wire ${a}-${b} names a pin the RP2040 does not have`);
      this.partner[a] = b;
      this.partner[b] = a;
    }
    for (const pin of mcu.gpio) pin.addListener(() => this.resolve(pin.index));
    // Pad stores that change only OD or IE do not change GPIOPin.value, so no listener fires: hook them.
    const pads = mcu.findPeripheral(PADS_BANK0_BASE) as unknown as { writeUint32(offset: number, value: number): void };
    const write = pads.writeUint32.bind(pads);
    pads.writeUint32 = (offset: number, value: number) => {
      write(offset, value);
      const line = (offset - 4) >> 2;
      if (line >= 0 && line < NUM_PINS) this.resolve(line);
    };
    for (let line = 0; line < NUM_PINS; line++) this.resolve(line);
  }

  partnerOf(line: number): number | undefined {
    const p = this.partner[line]!;
    return p >= 0 ? p : undefined;
  }

  /** Drive `line` from outside at `level`, or stop driving it (null). */
  drive(line: number, level: Level | null): void {
    this.checkLine(line);
    this.external[line] = level;
    this.resolve(line);
  }

  driven(line: number): Level | null {
    this.checkLine(line);
    return this.external[line]!;
  }

  level(line: number): Level {
    this.checkLine(line);
    return this.levels[line] as Level;
  }

  onChange(listener: (change: PinChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Re-resolves the net of `line` (and, if a resolution triggers another, repeats until stable). */
  resolve(line: number): void {
    if (this.resolving) {
      // setInputValue can run firmware synchronously (an IRQ entered while asleep) that changes pins:
      // finish the current net first, then resolve everything again.
      this.again = true;
      return;
    }
    this.resolving = true;
    try {
      this.resolveNetOf(line);
      for (let rounds = 0; this.again && rounds < 8; rounds++) {
        this.again = false;
        for (let l = 0; l < NUM_PINS; l++) this.resolveNetOf(l);
      }
    } finally {
      this.resolving = false;
      this.again = false;
    }
  }

  private checkLine(line: number): void {
    if (!Number.isInteger(line) || line < 0 || line >= NUM_PINS) throw new RangeError(`pin ${line} does not exist (0 to ${NUM_PINS - 1})`);
  }

  private resolveNetOf(line: number): void {
    const gpio = this.mcu.gpio;
    const p = this.partner[line]!;
    const net = p >= 0 ? [line, p] : [line];
    const r = resolveNet(net.map((l) => contributionOf(gpio[l]!, this.external[l]!)), this.levels[line] as Level);
    if (r.source === 'contention') this.contentions++;
    for (const l of net) {
      this.sources[l] = r.source;
      const pin = gpio[l]!;
      const changed = this.levels[l] !== r.level;
      this.levels[l] = r.level;
      // rp2040js latches an edge on every call: only call it for a real change of the pin's input.
      if ((pin as unknown as { rawInputValue: boolean }).rawInputValue !== (r.level === 1)) pin.setInputValue(r.level === 1);
      if (changed) {
        const change: PinChange = { line: l, level: r.level, nanos: this.mcu.clock.nanos, source: r.source };
        for (const cb of this.listeners) cb(change);
      }
    }
  }
}
