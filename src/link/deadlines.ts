/**
 * Many deadlines on one timer: adding and removing a deadline is a Set insert and delete, and the one
 * timer is re-armed only when a deadline earlier than the one it waits for arrives, or when it fires.
 * It was written to save a setTimeout/clearTimeout pair per request; measured on Node 20 that pair costs
 * about the same (110 to 130 ns), so it is no faster (README "Performance"). It stays because the Link's
 * request timeouts and the device model's last-resort timeouts now share one implementation of "every
 * request expires, in order, never early", tested in one place (test/unit/link/deadlines.test.ts).
 *
 * Semantics are those of one setTimeout per deadline: every deadline that is not removed first expires,
 * never before its time (checked against performance.now(), so a timer that libuv fires a little early
 * by its millisecond clock is simply re-armed), in deadline order. While no deadline is waiting the timer
 * is unref'd, so an idle process can exit as it could with cleared timers.
 */

export interface Deadline {
  /** performance.now() value at which `expire` is due. */
  readonly deadline: number;
  expire(): void;
}

export class DeadlineTimer {
  private readonly waiting = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer was armed for (Infinity: not armed). */
  private armedFor = Infinity;

  get size(): number {
    return this.waiting.size;
  }

  /** Starts waiting for `entry.deadline`. */
  add(entry: Deadline): void {
    this.waiting.add(entry);
    if (entry.deadline < this.armedFor) this.arm(entry.deadline);
    else if (this.waiting.size === 1) this.timer?.ref();
  }

  /** Stops waiting for `entry` (answered in time). Returns false when it was not waiting (expired, or
   *  removed before). */
  delete(entry: Deadline): boolean {
    if (!this.waiting.delete(entry)) return false;
    if (this.waiting.size === 0) this.timer?.unref();
    return true;
  }

  /** Drops every deadline without expiring it and stops the timer. */
  clear(): void {
    this.waiting.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(this.sweep, Math.max(1, Math.ceil(at - performance.now())));
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = performance.now();
    let due: Deadline[] | undefined;
    let next = Infinity;
    for (const entry of this.waiting) {
      if (entry.deadline <= now) (due ??= []).push(entry);
      else if (entry.deadline < next) next = entry.deadline;
    }
    if (next !== Infinity) this.arm(next);
    if (!due) return;
    // Nothing left waiting means nothing was re-armed: no timer to unref.
    for (const entry of due) this.waiting.delete(entry);
    // Stable sort: equal deadlines expire in the order they were added, as equal setTimeouts do.
    due.sort((a, b) => a.deadline - b.deadline);
    for (const entry of due) entry.expire();
  };
}
