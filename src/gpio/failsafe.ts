/**
 * The host-silence failsafe as the daemon keeps it: arms the board's FAILSAFE with every line's safe state
 * from the profile, sends HEARTBEATs well inside the timeout, and when the board reports a trip
 * (FAILSAFE_TRIPPED: the daemon was stopped, starved or cut off for longer than the timeout) logs it,
 * re-arms, and hands the lines back to the device model to re-apply what the guest had set.
 *
 * The failsafe itself runs on the board (hw/PROTOCOL.md 3.8): it is what still works when the host dies.
 */
import type { Board, BoardEvent, FailsafeConfig, FailsafeEvent } from '../board/types.js';
import type { GpioLineProfile, SafeState } from './device.js';

export const DEFAULT_FAILSAFE_TIMEOUT_MS = 1000;
/** Heartbeats per timeout: one late or lost heartbeat (a busy event loop, a retry) must not trip it. */
const HEARTBEATS_PER_TIMEOUT = 5;

/**
 * The FAILSAFE configuration for a profile: lines whose safe state is 'low' or 'high' are driven, every
 * other line is released; reserved lines (profile or firmware) are left alone, as the protocol requires.
 */
export function failsafePlan(
  lines: readonly GpioLineProfile[],
  numLines: number,
  firmwareReserved: readonly number[],
  timeoutMs: number,
): FailsafeConfig {
  const drive: Record<number, 0 | 1> = {};
  const release: number[] = [];
  for (let line = 0; line < numLines; line++) {
    const profile = lines[line] ?? {};
    if (profile.reserved !== undefined || firmwareReserved.includes(line)) continue;
    const safe: SafeState = profile.safe ?? 'off';
    if (safe === 'off') release.push(line);
    else drive[line] = safe === 'high' ? 1 : 0;
  }
  return { timeoutMs, drive, release };
}

/** Words for a FAILSAFE_TRIPPED event. */
export function describeTrip(event: FailsafeEvent): string {
  const driven = event.driven.map((d) => `${d.line}=${d.value}`).join(' ') || 'none';
  const released = event.released.join(' ') || 'none';
  return `after ${event.silenceMs} ms of host silence: drove ${driven}; released ${released}`;
}

export interface FailsafeKeeperOptions {
  log?: (message: string) => void;
  /** Called after a trip, once the failsafe is armed again; re-applies the guest's lines. */
  onTrip?: (event: FailsafeEvent) => Promise<void> | void;
  /** Heartbeat period; default timeoutMs / 5. */
  heartbeatMs?: number;
}

export class FailsafeKeeper {
  /** Trips reported by the board since start(). */
  trips = 0;
  heartbeats = 0;
  private timer: NodeJS.Timeout | undefined;
  private heartbeatFailing = false;
  /** A trip whose re-arm has not succeeded yet. */
  private pendingTrip: FailsafeEvent | undefined;
  private rearming = false;
  private readonly log: (message: string) => void;
  private readonly onEvent = (event: BoardEvent) => {
    if (event.type === 'failsafe') void this.tripped(event);
  };

  constructor(
    private readonly board: Board,
    private readonly plan: FailsafeConfig,
    private readonly options: FailsafeKeeperOptions = {},
  ) {
    this.log = options.log ?? (() => {});
  }

  get heartbeatMs(): number {
    return this.options.heartbeatMs ?? Math.max(1, Math.floor(this.plan.timeoutMs / HEARTBEATS_PER_TIMEOUT));
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Arms the failsafe and starts the heartbeats. */
  async start(): Promise<void> {
    await this.board.failsafe(this.plan);
    this.board.off('event', this.onEvent);
    this.board.on('event', this.onEvent);
    this.startHeartbeats();
    const driven = Object.entries(this.plan.drive ?? {}).map(([line, value]) => `${line}=${value}`);
    this.log(
      `failsafe: armed, ${this.plan.timeoutMs} ms of host silence puts the lines in their safe states ` +
        `(drive ${driven.join(' ') || 'none'}; release the rest); heartbeat every ${this.heartbeatMs} ms`,
    );
  }

  private beat(): void {
    if (this.pendingTrip) {
      void this.rearm();
      return;
    }
    this.board.heartbeat().then(
      () => {
        this.heartbeats++;
        if (this.heartbeatFailing) this.log('failsafe: heartbeats reach the board again');
        this.heartbeatFailing = false;
      },
      (error: Error) => {
        // Said once per outage, not every period.
        if (!this.heartbeatFailing) this.log(`failsafe: heartbeat failed (${error.message}); the board trips its failsafe if this goes on for ${this.plan.timeoutMs} ms`);
        this.heartbeatFailing = true;
      },
    );
  }

  private async tripped(event: FailsafeEvent): Promise<void> {
    this.trips++;
    this.log(`failsafe: TRIPPED ${describeTrip(event)}; re-arming and re-applying the guest's lines`);
    this.pendingTrip = event;
    await this.rearm();
  }

  /** Arms the failsafe again after a trip, then lets the guest's lines be re-applied; retried by the heartbeat timer. */
  private async rearm(): Promise<void> {
    const event = this.pendingTrip;
    if (!event || this.rearming) return;
    this.rearming = true;
    try {
      await this.board.failsafe(this.plan);
    } catch (error) {
      this.log(`failsafe: re-arming after the trip failed (${(error as Error).message}); the lines stay in their safe states, retrying`);
      return;
    } finally {
      this.rearming = false;
    }
    this.pendingTrip = undefined;
    try {
      await this.options.onTrip?.(event);
    } catch (error) {
      this.log(`failsafe: re-applying the lines after the trip failed: ${(error as Error).message}`);
    }
  }

  /** (Re)starts the heartbeats. */
  startHeartbeats(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
  }

  /** Stops the heartbeats, the failsafe stays armed (the board trips once the timeout passes). */
  stopHeartbeats(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops the heartbeats and disarms the failsafe: a clean shutdown has put the lines in safe states itself,
   *  and the next program using the board must not see a trip it never asked for. */
  async stop(): Promise<void> {
    this.stopHeartbeats();
    this.board.off('event', this.onEvent);
    if (this.board.closed) return;
    try {
      await this.board.failsafe(null);
    } catch (error) {
      this.log(`failsafe: disarming failed (${(error as Error).message}); the board trips it after ${this.plan.timeoutMs} ms`);
    }
  }
}
