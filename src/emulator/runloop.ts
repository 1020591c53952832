/**
 * Synchronous run loop for rp2040js (instead of the stock `Simulator`):
 *  - advances simulated time by the real clk_sys period (`mcu.clkSys`), not a hard-coded 125 MHz;
 *  - while the core sleeps (WFI/WFE) it jumps straight to the next clock alarm;
 *  - works around the rp2040js WFI wake bug: an IRQ that became pending while PRIMASK was set (the
 *    `cpsid; if (!work) wfi; cpsie` idle pattern) never wakes the core, silicon wakes at once;
 *  - surfaces `bkpt`/`udf` and watchdog resets as exceptions;
 *  - counts instructions and cycles (the base for cycles-per-request benchmarks).
 */
import type { RP2040 } from 'rp2040js';

/** Break codes used by the vgpio firmware (firmware/src/platform/irq_handlers.h). */
export const BKPT_DEFAULT_HANDLER = 0xfa;
export const BKPT_MAIN_RETURNED = 0xfb;

const WATCHDOG_BASE = 0x40058000;
const WATCHDOG_CTRL = 0x00;

export class FirmwareBreakError extends Error {
  override name = 'FirmwareBreakError';
  constructor(
    readonly code: number,
    readonly ipsr: number,
    readonly pc: number,
    readonly nanos: number,
  ) {
    super(describeBreak(code, ipsr, pc, nanos));
  }
}

export class WatchdogResetError extends Error {
  override name = 'WatchdogResetError';
}

function describeBreak(code: number, ipsr: number, pc: number, nanos: number): string {
  const where = `at ${(nanos / 1000).toFixed(1)} us, pc 0x${pc.toString(16)}`;
  if (code === BKPT_DEFAULT_HANDLER) {
    const what = ipsr >= 16 ? `unhandled IRQ ${ipsr - 16}` : `unhandled exception ${ipsr}`;
    return `firmware hit default_handler (${what}) ${where}`;
  }
  if (code === BKPT_MAIN_RETURNED) return `firmware main() returned ${where}`;
  return `firmware breakpoint 0x${code.toString(16)} ${where}`;
}

/** The parts of rp2040js' SimulationClock we use (the RP2040 is typed with the narrower IClock). */
interface SimClock {
  readonly nanos: number;
  tick(deltaNanos: number): void;
  nextAlarm: { nanos: number } | null;
}

export class RunLoop {
  /** Instructions executed so far. */
  instructions = 0;
  /** CPU cycles as counted by rp2040js (1 per instruction + bus extras; exception entry is free). */
  cycles = 0;
  /** Simulated nanoseconds spent asleep in WFI/WFE. */
  sleptNanos = 0;
  /**
   * Optional cycle attribution: when set, every instruction's cycles are also added at index IPSR
   * (0 = thread mode, 15 = SysTick, 16 + n = IRQ n). The counters above are live, so a hook that runs
   * inside an instruction (a peripheral store) can read `cycles` to mark a point in the firmware.
   */
  cyclesByException: Float64Array | null = null;
  private pendingError: Error | null = null;
  private readonly clock: SimClock;

  constructor(readonly mcu: RP2040) {
    this.clock = mcu.clock as unknown as SimClock;
    if (typeof this.clock.tick !== 'function' || !('nextAlarm' in this.clock)) {
      throw new Error('RunLoop needs the rp2040js SimulationClock');
    }
    mcu.onBreak = (code: number) => {
      this.pendingError ??= new FirmwareBreakError(code, mcu.core.IPSR, mcu.core.PC, this.clock.nanos);
    };
    const watchdog = mcu.findPeripheral(WATCHDOG_BASE) as unknown as {
      onWatchdogTrigger?: () => void;
      writeUint32(offset: number, value: number): void;
    };
    watchdog.onWatchdogTrigger = () => {
      this.pendingError ??= new WatchdogResetError(
        `watchdog reset at ${(this.clock.nanos / 1000).toFixed(1)} us (firmware stopped feeding it, or triggered it)`,
      );
      // Silicon would reset here. rp2040js keeps the expired watchdog running and re-fires it at the
      // same instant forever (inside clock.tick), so stop it: CTRL = 0 clears ENABLE.
      watchdog.writeUint32(WATCHDOG_CTRL, 0);
    };
  }

  /** Simulated time in nanoseconds. */
  get nanos(): number {
    return this.clock.nanos;
  }

  /** Run for `nanos` of simulated time. */
  runFor(nanos: number): void {
    this.run(this.clock.nanos + nanos, null);
  }

  /**
   * Run until `predicate()` is true (checked before every instruction and after every sleep jump) or
   * `limitNanos` of simulated time have passed. Returns whether the predicate became true.
   */
  runUntil(predicate: () => boolean, limitNanos: number): boolean {
    return this.run(this.clock.nanos + limitNanos, predicate);
  }

  private run(untilNanos: number, predicate: (() => boolean) | null): boolean {
    const { mcu, clock } = this;
    const core = mcu.core;
    const attribution = this.cyclesByException;
    for (;;) {
      if (this.pendingError) {
        const err = this.pendingError;
        this.pendingError = null;
        throw err;
      }
      if (predicate?.()) return true;
      if (clock.nanos >= untilNanos) return false;
      if (core.waiting) {
        if (core.pendingInterrupts & core.enabledInterrupts || core.pendingSystick || core.pendingPendSV) {
          core.waiting = false; // WFI fix: silicon wakes on any pending enabled interrupt
          continue;
        }
        const next = clock.nextAlarm ? clock.nextAlarm.nanos : untilNanos;
        const delta = Math.max(0, Math.min(next, untilNanos) - clock.nanos);
        this.sleptNanos += delta;
        clock.tick(delta);
      } else {
        const c = core.executeInstruction();
        this.instructions++;
        this.cycles += c;
        // IPSR after the instruction: exception entry happens at its start, so an ISR's first
        // instruction counts for the ISR (its exception-return instruction counts for the caller).
        if (attribution) attribution[core.IPSR]! += c;
        clock.tick((c * 1e9) / mcu.clkSys);
      }
    }
  }
}
