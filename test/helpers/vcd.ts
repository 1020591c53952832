/**
 * A strict reader for the one-bit Value Change Dumps `vgpio monitor --vcd` writes (IEEE 1364 §18): every
 * token must be one the standard defines, times must not decrease, every identifier must be declared.
 * Tests use it to turn a dump back into a waveform and compare it with what was driven.
 */

export type VcdLevel = '0' | '1' | 'x' | 'z';

export interface VcdSignal {
  id: string;
  name: string;
  scope: string;
}

export interface ParsedVcd {
  date: string;
  version: string;
  /** Header $comment text, if any. */
  comments: string[];
  timescale: string;
  signals: VcdSignal[];
  /** Level of each signal (by name) in $dumpvars at #0. */
  initial: Record<string, VcdLevel>;
  /** Value changes after $dumpvars, in file order. */
  changes: Array<{ time: number; name: string; value: VcdLevel }>;
  /** $comment blocks after the header, with the time they appear at (only after the last change). */
  notes: Array<{ time: number; text: string }>;
  /** The last #time in the file. */
  endTime: number;
}

const KEYWORDS = new Set(['$date', '$version', '$comment', '$timescale', '$scope', '$upscope', '$var', '$enddefinitions', '$dumpvars', '$dumpall', '$dumpon', '$dumpoff']);

export function parseVcd(text: string): ParsedVcd {
  const tokens = text.split(/\s+/).filter((t) => t !== '');
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`VCD token ${i} ("${tokens[i] ?? 'end of file'}"): ${why}`);
  };
  const untilEnd = (): string => {
    const words: string[] = [];
    while (i < tokens.length && tokens[i] !== '$end') {
      if (KEYWORDS.has(tokens[i]!)) fail('missing $end before this keyword');
      words.push(tokens[i++]!);
    }
    if (i >= tokens.length) fail('missing $end');
    i++;
    return words.join(' ');
  };
  const out: ParsedVcd = { date: '', version: '', comments: [], timescale: '', signals: [], initial: {}, changes: [], notes: [], endTime: 0 };
  const byId = new Map<string, VcdSignal>();
  const scopes: string[] = [];

  // header
  let defined = false;
  while (!defined) {
    const t = tokens[i++];
    switch (t) {
      case '$date': out.date = untilEnd(); break;
      case '$version': out.version = untilEnd(); break;
      case '$comment': out.comments.push(untilEnd()); break;
      case '$timescale':
        out.timescale = untilEnd();
        if (!/^(1|10|100) ?(s|ms|us|ns|ps|fs)$/.test(out.timescale)) fail(`bad $timescale "${out.timescale}"`);
        break;
      case '$scope': {
        const [kind, name, ...rest] = untilEnd().split(' ');
        if (!['module', 'task', 'function', 'begin', 'fork'].includes(kind ?? '') || !name || rest.length) fail('bad $scope');
        scopes.push(name!);
        break;
      }
      case '$upscope': untilEnd(); if (!scopes.pop()) fail('$upscope without $scope'); break;
      case '$var': {
        const [type, size, id, name, ...rest] = untilEnd().split(' ');
        if (type !== 'wire' || size !== '1' || !id || !name || rest.length) fail(`expected "$var wire 1 <id> <name> $end"`);
        if (!/^[\x21-\x7e]+$/.test(id!)) fail(`identifier "${id}" is not printable ASCII`);
        if (byId.has(id!)) fail(`identifier "${id}" declared twice`);
        if (scopes.length === 0) fail('$var outside a $scope');
        const signal = { id: id!, name: name!, scope: scopes.join('.') };
        byId.set(id!, signal);
        out.signals.push(signal);
        break;
      }
      case '$enddefinitions': untilEnd(); defined = true; break;
      default: fail('unexpected in the header');
    }
  }
  if (scopes.length) fail('$scope without $upscope');
  if (!out.timescale) fail('no $timescale');

  // body
  let time = -1;
  let inDumpvars = false;
  let dumped = false;
  let commented = false;
  while (i < tokens.length) {
    const t = tokens[i]!;
    // libsigrok 0.5.2 (PulseView on Debian 12) stops reading at a $comment in the body
    if (commented && t !== '$comment') fail('a $comment before value changes hides them from PulseView; put notes at the end');
    if (t.startsWith('#')) {
      if (!/^#[0-9]+$/.test(t)) fail('bad time');
      const next = Number(t.slice(1));
      if (next < time) fail(`time ${next} is before ${time}`);
      time = next;
      i++;
    } else if (t === '$dumpvars') {
      if (dumped || time !== 0) fail('$dumpvars must come once, at #0');
      inDumpvars = true;
      i++;
    } else if (t === '$end' && inDumpvars) {
      inDumpvars = false;
      dumped = true;
      i++;
    } else if (t === '$comment') {
      commented = true;
      i++;
      out.notes.push({ time, text: untilEnd() });
    } else if (/^[01xXzZ]/.test(t)) {
      const value = t[0]!.toLowerCase() as VcdLevel;
      const signal = byId.get(t.slice(1)) ?? fail(`undeclared identifier "${t.slice(1)}"`);
      if (time < 0) fail('value change before any #time');
      if (inDumpvars) out.initial[signal.name] = value;
      else out.changes.push({ time, name: signal.name, value });
      i++;
    } else {
      fail('unexpected in the body');
    }
  }
  if (inDumpvars) fail('$dumpvars without $end');
  out.endTime = time;
  return out;
}

/** One signal's waveform: its initial level and every change, with the level it changed to. */
export function waveform(vcd: ParsedVcd, name: string): { initial: VcdLevel | undefined; changes: Array<{ time: number; value: VcdLevel }> } {
  return { initial: vcd.initial[name], changes: vcd.changes.filter((c) => c.name === name).map(({ time, value }) => ({ time, value })) };
}
