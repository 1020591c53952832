/**
 * A Value Change Dump writer (IEEE 1364-2005 §18, the four-state VCD GTKWave and PulseView read) for
 * one-bit signals with a 1 us timescale. It only formats text; the caller decides where the text goes.
 * Times are microseconds from the start of the dump and must never decrease: the standard has no way to
 * go back, so an out-of-order change is an error naming both times rather than a silently wrong trace.
 *
 * Notes (e.g. where edges were lost) go into one $comment after the last time, not between value
 * changes: libsigrok 0.5.2 (PulseView on Debian 12) stops reading a dump at a $comment in its body,
 * while GTKWave reads both (verified with sigrok-cli 0.7.2 and GTKWave 3.3.118's vcd2fst).
 */

export type VcdValue = 0 | 1 | 'x';

export interface VcdHeader {
  /** When the dump started ($date). */
  date: Date;
  /** The program that wrote it ($version). */
  version: string;
  /** Free text for the header's $comment (board, device time of #0...). */
  comment?: string;
  /** Module name of the one $scope. */
  scope: string;
  /** Signal names, in order; a signal is later named by its index. */
  signals: readonly string[];
}

/** Identifier codes: printable ASCII 33 to 126 (§18.2.1), shortest first: !, ", ..., ~, !!, "!, ... */
export function vcdIdentifier(index: number): string {
  const FIRST = 33;
  const RADIX = 94;
  let code = '';
  let n = index;
  do {
    code += String.fromCharCode(FIRST + (n % RADIX));
    n = Math.floor(n / RADIX) - 1;
  } while (n >= 0);
  return code;
}

/**
 * A reference name a VCD reader accepts: letters, digits, _ and $, not starting with a digit or $
 * (Verilog identifier rules, which GTKWave and libsigrok apply to $var names).
 */
export function vcdReferenceName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

const comment = (text: string): string => text.replace(/\$end/g, '$ end');

export class VcdWriter {
  private readonly ids: string[];
  private readonly values: VcdValue[];
  /** The last #time written; begin() writes #0. */
  private lastTime = 0n;
  private started = false;
  private ended = false;
  private readonly notes: string[] = [];

  constructor(private readonly header: VcdHeader, private readonly write: (text: string) => void) {
    if (header.signals.length === 0) throw new Error('VCD: name at least one signal');
    this.ids = header.signals.map((_, i) => vcdIdentifier(i));
    this.values = header.signals.map(() => 'x');
  }

  /** The header, then #0 and $dumpvars with every signal's level at the start. */
  begin(initial: readonly VcdValue[]): void {
    if (this.started) throw new Error('VCD: begin() called twice');
    if (initial.length !== this.ids.length) throw new Error(`VCD: begin() needs ${this.ids.length} initial values, got ${initial.length}`);
    this.started = true;
    const h = this.header;
    const lines = [
      '$date', `   ${h.date.toISOString()}`, '$end',
      '$version', `   ${comment(h.version)}`, '$end',
      ...(h.comment ? ['$comment', ...h.comment.split('\n').map((l) => `   ${comment(l)}`), '$end'] : []),
      '$timescale 1 us $end',
      `$scope module ${vcdReferenceName(h.scope)} $end`,
      ...h.signals.map((name, i) => `$var wire 1 ${this.ids[i]} ${vcdReferenceName(name)} $end`),
      '$upscope $end',
      '$enddefinitions $end',
      '#0',
      '$dumpvars',
      ...initial.map((value, i) => `${value}${this.ids[i]}`),
      '$end',
    ];
    initial.forEach((value, i) => (this.values[i] = value));
    this.write(`${lines.join('\n')}\n`);
  }

  /** Signal `index` takes `value` at `timeUs`; nothing is written when it already has that value. */
  change(timeUs: bigint, index: number, value: VcdValue): void {
    if (index < 0 || index >= this.ids.length) throw new Error(`VCD: no signal ${index}; there are ${this.ids.length}`);
    if (this.values[index] === value) return;
    this.at(timeUs);
    this.values[index] = value;
    this.write(`${value}${this.ids[index]}\n`);
  }

  /** A note about `timeUs` (e.g. why a signal became x), written in the closing $comment by end(). */
  note(timeUs: bigint, text: string): void {
    if (this.ended) throw new Error('VCD: note() after end()');
    this.notes.push(`at ${timeUs} us: ${text}`);
  }

  /** Writes the final time, so viewers show the trace up to when monitoring stopped, then the notes. */
  end(timeUs: bigint): void {
    this.at(timeUs);
    this.ended = true;
    if (this.notes.length > 0) this.write(`${['$comment', ...this.notes.map((n) => `   ${comment(n)}`), '$end'].join('\n')}\n`);
  }

  value(index: number): VcdValue {
    return this.values[index]!;
  }

  private at(timeUs: bigint): void {
    if (!this.started) throw new Error('VCD: call begin() first');
    if (this.ended) throw new Error('VCD: the dump has ended');
    if (timeUs < this.lastTime) throw new Error(`VCD: time ${timeUs} us is before ${this.lastTime} us, already written; changes must come in time order`);
    if (timeUs === this.lastTime) return;
    this.lastTime = timeUs;
    this.write(`#${timeUs}\n`);
  }
}
