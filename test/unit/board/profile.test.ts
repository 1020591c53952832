import { describe, expect, it } from 'vitest';
import { fitProfile, loadJig, loadProfile, parseJig, parseProfile, partnerOf } from '../../../src/board/index.js';
import { FAKE_INFO } from '../../helpers/fake-board.js';

describe('board profiles', () => {
  it('loads the Pico profile with its names, reserved lines and header pins', () => {
    const pico = loadProfile('pico');
    expect(pico.numLines).toBe(30);
    expect(pico.reservedLines).toEqual([23, 24, 29]);
    expect(pico.lines[25]).toMatchObject({ name: 'LED', reserved: undefined, drive: 'push-pull', idleBias: 'pull-down' });
    expect(pico.lines[2]).toMatchObject({ name: 'GP2', header: 4 });
    expect(pico.lines[23]!.reserved).toMatch(/power-save/);
    expect(new Set(pico.lines.map((l) => l.name)).size).toBe(30);
  });

  it('loads the generic RP2040 profile with nothing reserved', () => {
    const generic = loadProfile('rp2040');
    expect(generic.reservedLines).toEqual([]);
    expect(generic.lines[29]!.name).toBe('GPIO29');
  });

  it('says which profile was not found and where to look', () => {
    expect(() => loadProfile('pico-extreme')).toThrow(/no board profile "pico-extreme" \(looked for .*hw\/boards\/pico-extreme\.json\)/);
  });

  const base = { id: 'x', name: 'X', numLines: 4 };
  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', [], /must be a JSON object/],
    ['unknown top-level field', { ...base, colour: 'red' }, /colour: unknown field/],
    ['numLines out of range', { ...base, numLines: 40 }, /numLines: must be an integer from 1 to 32/],
    ['a line past numLines', { ...base, lines: { 4: { name: 'A' } } }, /lines\.4: is not a line number from 0 to 3/],
    ['a bad bias', { ...base, lines: { 1: { bias: 'pull-sideways' } } }, /lines\.1\.bias: "pull-sideways" is not one of none, pull-up, pull-down, bus-keeper/],
    ['a bad default drive', { ...base, defaults: { drive: 'hard' } }, /defaults\.drive: "hard" is not one of push-pull/],
    ['a duplicate name', { ...base, lines: { 0: { name: 'A' }, 3: { name: 'A' } } }, /lines\.3\.name: "A" is already the name of line 0/],
    ['a name with a space', { ...base, lines: { 0: { name: 'RED LED' } } }, /without spaces/],
    ['a negative debounce', { ...base, lines: { 0: { debounceUs: -1 } } }, /lines\.0\.debounceUs: must be an integer from 0 to 1000000/],
    ['an unknown line field', { ...base, lines: { 0: { activeLow: true } } }, /lines\.0\.activeLow: unknown field/],
  ];
  for (const [what, json, error] of bad) {
    it(`refuses ${what}, naming the file and field`, () => {
      expect(() => parseProfile(json, 'my.json')).toThrow(error);
      expect(() => parseProfile(json, 'my.json')).toThrow(/^my\.json: /);
    });
  }

  it('keeps the board firmware\'s reserved lines reserved and refuses a profile larger than the board', () => {
    const generic = loadProfile('rp2040');
    const fitted = fitProfile(generic, FAKE_INFO);
    expect(fitted.reservedLines).toEqual([23, 24, 29]);
    expect(() => fitProfile(parseProfile({ id: 'big', name: 'Big', numLines: 32 }, 'big.json'), FAKE_INFO)).toThrow(/has 32 lines, the Raspberry Pi Pico .* has 30/);
  });
});

describe('jigs', () => {
  it('loads the loopback jig: neighbouring header pins, one wire per line', () => {
    const jig = loadJig('loopback');
    expect(jig.wires).toContainEqual([2, 3]);
    expect(partnerOf(jig, 3)).toBe(2);
    expect(partnerOf(jig, 25)).toBeUndefined();
    const pico = loadProfile('pico');
    for (const [a, b] of jig.wires) {
      expect(Math.abs(pico.lines[a]!.header! - pico.lines[b]!.header!)).toBe(1);
      expect(pico.reservedLines).not.toContain(a);
      expect(pico.reservedLines).not.toContain(b);
    }
    expect(jig.instructions[1]).toBe('GP2 (pin 4) to GP3 (pin 5)');
  });

  it('refuses wiring that cannot exist', () => {
    expect(() => parseJig({ id: 'j', name: 'J', wires: [[1, 1]] }, 'j.json')).toThrow(/connects line 1 to itself/);
    expect(() => parseJig({ id: 'j', name: 'J', wires: [[1, 2], [2, 3]] }, 'j.json')).toThrow(/line 2 is in wires\[0\] and wires\[1\]/);
    expect(() => parseJig({ id: 'j', name: 'J', wires: [[1, 30]] }, 'j.json')).toThrow(/wires\[0\] must be two line numbers from 0 to 29/);
    expect(() => loadJig('spaghetti')).toThrow(/no jig "spaghetti"/);
  });
});
