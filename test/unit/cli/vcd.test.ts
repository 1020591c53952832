/** The VCD writer (src/cli/vcd.ts), checked by the strict reader in test/helpers/vcd.ts, and the reader itself. */
import { describe, expect, it } from 'vitest';
import { VcdWriter, vcdIdentifier, vcdReferenceName, type VcdHeader } from '../../../src/cli/vcd.js';
import { type MonitorRecord } from '../../../src/cli/monitor-lines.js';
import { vcdRecorder } from '../../../src/cli/monitor-output.js';
import { parseVcd, waveform } from '../../helpers/vcd.js';

const header = (signals: string[], comment?: string): VcdHeader => ({ date: new Date('2026-11-23T12:00:00Z'), version: 'vgpio test', comment, scope: 'vgpio', signals });

function dump(signals: string[], fill: (w: VcdWriter) => void): string {
  let text = '';
  const w = new VcdWriter(header(signals, 'board X'), (t) => (text += t));
  fill(w);
  return text;
}

describe('VcdWriter', () => {
  it('writes the IEEE 1364 §18 sections in order: header, definitions, #0 $dumpvars, then timed changes', () => {
    const text = dump(['GP3', 'GP5'], (w) => {
      w.begin([0, 1]);
      w.change(10n, 0, 1);
      w.change(10n, 1, 0);
      w.change(25n, 0, 0);
      w.end(40n);
    });
    expect(text).toBe(
      [
        '$date', '   2026-11-23T12:00:00.000Z', '$end',
        '$version', '   vgpio test', '$end',
        '$comment', '   board X', '$end',
        '$timescale 1 us $end',
        '$scope module vgpio $end',
        '$var wire 1 ! GP3 $end',
        '$var wire 1 " GP5 $end',
        '$upscope $end',
        '$enddefinitions $end',
        '#0', '$dumpvars', '0!', '1"', '$end',
        '#10', '1!', '0"',
        '#25', '0!',
        '#40', '',
      ].join('\n'),
    );
    const vcd = parseVcd(text);
    expect(vcd).toMatchObject({ timescale: '1 us', version: 'vgpio test', comments: ['board X'], initial: { GP3: '0', GP5: '1' }, endTime: 40 });
    expect(vcd.changes).toEqual([{ time: 10, name: 'GP3', value: '1' }, { time: 10, name: 'GP5', value: '0' }, { time: 25, name: 'GP3', value: '0' }]);
  });

  it('skips changes to the value a signal already has, writes x, and puts notes in one $comment after the last time', () => {
    const text = dump(['A'], (w) => {
      w.begin([1]);
      w.change(5n, 0, 1);
      w.note(7n, 'lost 3 edges $end here');
      w.change(7n, 0, 'x');
      w.change(9n, 0, 0);
      w.note(9n, 'and more');
      w.end(12n);
    });
    expect(text.endsWith('#9\n0!\n#12\n$comment\n   at 7 us: lost 3 edges $ end here\n   at 9 us: and more\n$end\n')).toBe(true);
    const vcd = parseVcd(text);
    expect(waveform(vcd, 'A')).toEqual({ initial: '1', changes: [{ time: 7, value: 'x' }, { time: 9, value: '0' }] });
    // a $end inside comment text would end the comment early; it is defused
    expect(vcd.notes).toEqual([{ time: 12, text: 'at 7 us: lost 3 edges $ end here at 9 us: and more' }]);
  });

  it('without notes, end() writes just the final time; nothing may follow it', () => {
    let text = '';
    const w = new VcdWriter(header(['A']), (t) => (text += t));
    w.begin([0]);
    w.end(5n);
    expect(text.endsWith('$end\n#5\n')).toBe(true);
    expect(() => w.change(6n, 0, 1)).toThrow(/ended/);
    expect(() => w.note(6n, 'late')).toThrow(/after end/);
  });

  it('refuses time going backwards, unknown signals, and changes before begin()', () => {
    let w = new VcdWriter(header(['A']), () => undefined);
    expect(() => w.change(1n, 0, 1)).toThrow(/begin\(\) first/);
    w.begin([0]);
    w.change(10n, 0, 1);
    expect(() => w.change(9n, 0, 0)).toThrow(/time 9 us is before 10 us/);
    expect(() => w.change(11n, 1, 0)).toThrow(/no signal 1; there are 1/);
    expect(() => w.begin([0])).toThrow(/twice/);
    w = new VcdWriter(header(['A', 'B']), () => undefined);
    expect(() => w.begin([0])).toThrow(/needs 2 initial values/);
    expect(() => new VcdWriter(header([]), () => undefined)).toThrow(/at least one signal/);
  });

  it('identifiers are unique printable ASCII codes, shortest first', () => {
    const ids = Array.from({ length: 94 * 95 + 5 }, (_, i) => vcdIdentifier(i));
    expect(ids.slice(0, 3)).toEqual(['!', '"', '#']);
    expect(ids[93]).toBe('~');
    expect(ids[94]).toBe('!!');
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[\x21-\x7e]+$/);
    // a dump with more signals than one-character codes still parses, every signal distinct
    const names = Array.from({ length: 100 }, (_, i) => `L${i}`);
    const vcd = parseVcd(dump(names, (w) => w.begin(names.map((_, i) => (i % 2) as 0 | 1))));
    expect(vcd.signals).toHaveLength(100);
    expect(vcd.initial['L99']).toBe('1');
  });

  it('reference names follow the identifier rules viewers expect', () => {
    expect(vcdReferenceName('GP3')).toBe('GP3');
    expect(vcdReferenceName('7')).toBe('_7');
    expect(vcdReferenceName('SMPS PS-1')).toBe('SMPS_PS_1');
  });
});

describe('parseVcd (the test reader) is strict', () => {
  const good = dump(['A'], (w) => {
    w.begin([0]);
    w.change(3n, 0, 1);
  });
  it('reads its writer\'s output', () => {
    expect(waveform(parseVcd(good), 'A')).toEqual({ initial: '0', changes: [{ time: 3, value: '1' }] });
  });
  it.each([
    ['an undeclared identifier', good.replace(/1!\n$/, '1?\n'), /undeclared identifier "\?"/],
    ['time going backwards', `${good}#2\n0!\n`, /time 2 is before 3/],
    ['a missing $end', good.replace('$timescale 1 us $end', '$timescale 1 us'), /unexpected in the header|missing \$end/],
    ['no $timescale', good.replace('$timescale 1 us $end\n', ''), /no \$timescale/],
    ['a vector $var', good.replace('$var wire 1 !', '$var wire 8 !'), /\$var wire 1/],
    ['garbage in the body', `${good}hello\n`, /unexpected in the body/],
    ['a $comment between value changes (PulseView stops reading there)', good.replace('#3\n', '$comment x $end\n#3\n'), /hides them from PulseView/],
  ])('refuses %s', (_, text, error) => {
    expect(() => parseVcd(text)).toThrow(error);
  });
});

describe('vcdRecorder: monitor records to a VCD', () => {
  const start: MonitorRecord = { type: 'start', timeUs: 1000n, edges: 'both', activeLow: false, lines: [{ line: 3, name: 'GP3', level: 0 }, { line: 5, name: 'GP5', level: 1 }] };
  const edge = (timeUs: bigint, line: number, name: string, level: 0 | 1, lineSeq: number, lostBefore = 0): MonitorRecord =>
    ({ type: 'edge', timeUs, line, name, edge: level ? 'rising' : 'falling', level, lineSeq, lostBefore });

  function record(records: MonitorRecord[]) {
    let text = '';
    const rec = vcdRecorder(({ signals, comment }) => new VcdWriter({ ...header(signals), comment }, (t) => (text += t)));
    records.forEach(rec);
    return parseVcd(text);
  }

  it('times are relative to the start sample, which is #0', () => {
    const vcd = record([start, edge(1010n, 3, 'GP3', 1, 1), edge(1250n, 5, 'GP5', 0, 1), { type: 'summary', stoppedBy: 'count', startUs: 1000n, endUs: 1300n, edges: 2, overflowLost: 0, lines: [], disconnects: 0, connectedUs: 300n, awayUs: 0n, endedAway: false }]);
    expect(vcd.initial).toEqual({ GP3: '0', GP5: '1' });
    expect(vcd.changes).toEqual([{ time: 10, name: 'GP3', value: '1' }, { time: 250, name: 'GP5', value: '0' }]);
    expect(vcd.endTime).toBe(300);
    expect(vcd.comments[0]).toMatch(/#0 is device time 1000 us/);
  });

  it('an overflow makes the affected lines x from the first lost edge, with a comment, until their next edge', () => {
    const vcd = record([
      start,
      edge(1010n, 3, 'GP3', 1, 1),
      { type: 'overflow', lost: 5, lines: [{ line: 3, name: 'GP3' }], firstUs: 1020n, lastUs: 1040n },
      edge(1050n, 3, 'GP3', 0, 7, 5),
      { type: 'summary', stoppedBy: 'count', startUs: 1000n, endUs: 1060n, edges: 2, overflowLost: 5, lines: [], disconnects: 0, connectedUs: 60n, awayUs: 0n, endedAway: false },
    ]);
    expect(waveform(vcd, 'GP3').changes).toEqual([{ time: 10, value: '1' }, { time: 20, value: 'x' }, { time: 50, value: '0' }]);
    expect(waveform(vcd, 'GP5').changes).toEqual([]);
    expect(vcd.endTime).toBe(60);
    expect(vcd.notes).toHaveLength(1);
    expect(vcd.notes[0]!.text).toMatch(/^at 20 us: OVERFLOW: the board lost 5 edges from 20 us to 40 us on GP3 at 50 us: 5 edges lost on GP3 before this one/);
  });

  it('never writes time backwards, even if an overflow claims an earlier first edge', () => {
    const vcd = record([start, edge(1100n, 3, 'GP3', 1, 1), { type: 'overflow', lost: 1, lines: [{ line: 5, name: 'GP5' }], firstUs: 1050n, lastUs: 1050n }]);
    expect(vcd.changes.at(-1)).toEqual({ time: 100, name: 'GP5', value: 'x' });
  });
});
