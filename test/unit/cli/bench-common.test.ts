/** The bench commands' shared pieces: naming lines, parsing values, mapping errors to exit codes. */
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../../src/board/profile.js';
import { BoardUsageError } from '../../../src/board/link-board.js';
import { BenchError, BenchExit, describeBenchError, groupBy, parseAssignment, parseValue, resolveLine, resolveLines } from '../../../src/cli/common.js';

const pico = loadProfile('pico');

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BenchError);
    expect((error as BenchError).exitCode).toBe(BenchExit.USAGE);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('resolveLine', () => {
  it('takes profile names in any case, numbers and GPn', () => {
    expect(resolveLine('GP2', pico).line).toBe(2);
    expect(resolveLine('gp2', pico).line).toBe(2);
    expect(resolveLine('led', pico).line).toBe(25);
    expect(resolveLine('LED', pico).line).toBe(25);
    expect(resolveLine('7', pico).line).toBe(7);
    expect(resolveLine('GPIO28', pico).line).toBe(28);
  });

  it('refuses unknown lines, naming the line and what exists', () => {
    expect(usageError(() => resolveLine('GP99', pico))).toMatch(/unknown line "GP99".*lines 0 to 29.*vgpio info/);
    expect(usageError(() => resolveLine('30', pico))).toMatch(/unknown line "30"/);
    expect(usageError(() => resolveLine('', pico))).toMatch(/unknown line ""/);
    expect(usageError(() => resolveLine('07', pico))).toMatch(/unknown line/);
    expect(usageError(() => resolveLine('foo', pico))).toMatch(/unknown line "foo"/);
  });

  it('refuses reserved lines, by number, GPn or name, saying why', () => {
    expect(usageError(() => resolveLine('GP23', pico))).toMatch(/line GP23 is line 23 \(SMPS_PS\), reserved: drives the SMPS.*pick another line/);
    expect(usageError(() => resolveLine('vbus_sense', pico))).toMatch(/reserved: senses VBUS/);
    expect(usageError(() => resolveLine('29', pico))).toMatch(/reserved/);
    expect(resolveLine('23', pico, { allowReserved: true }).name).toBe('SMPS_PS');
  });

  it('resolveLines refuses the same line twice', () => {
    expect(resolveLines(['GP2', 'gp3'], pico).map((l) => l.line)).toEqual([2, 3]);
    expect(usageError(() => resolveLines(['GP2', '2'], pico))).toMatch(/line 2 is named twice \(also as GP2\)/);
  });
});

describe('parseValue / parseAssignment', () => {
  it('accepts 0/1, low/high, off/on', () => {
    expect(parseValue('0', 'GP2')).toBe(0);
    expect(parseValue('1', 'GP2')).toBe(1);
    expect(parseValue('HIGH', 'GP2')).toBe(1);
    expect(parseValue('low', 'GP2')).toBe(0);
    expect(parseValue('on', 'GP2')).toBe(1);
  });

  it('refuses anything else, naming the line and an example', () => {
    expect(usageError(() => parseValue('2', 'GP2'))).toBe('bad value "2" for line GP2: give 0 or 1 (also low/high), e.g. GP2=1');
    expect(usageError(() => parseValue('', 'LED'))).toMatch(/bad value "" for line LED/);
  });

  it('parses LINE=VALUE', () => {
    expect(parseAssignment('GP2=1')).toEqual({ spec: 'GP2', value: 1 });
    expect(parseAssignment('led=low')).toEqual({ spec: 'led', value: 0 });
    expect(usageError(() => parseAssignment('GP2'))).toMatch(/"GP2" is not LINE=VALUE/);
    expect(usageError(() => parseAssignment('=1'))).toMatch(/not LINE=VALUE/);
    expect(usageError(() => parseAssignment('GP2=2'))).toMatch(/bad value "2" for line GP2/);
  });
});

describe('describeBenchError', () => {
  it('maps errors to exit codes', () => {
    expect(describeBenchError(new BenchError(BenchExit.NO_BOARD, 'x')).exitCode).toBe(3);
    expect(describeBenchError(new BoardUsageError('x')).exitCode).toBe(2);
    expect(describeBenchError(new Error('x')).exitCode).toBe(1);
  });
});

describe('groupBy', () => {
  it('groups by value, in first-seen order', () => {
    expect(groupBy([1, 2, 3, 4], (n) => ({ odd: n % 2 === 1 }))).toEqual([
      { key: { odd: true }, items: [1, 3] },
      { key: { odd: false }, items: [2, 4] },
    ]);
  });
});
