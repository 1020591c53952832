/**
 * `vgpio monitor` as a user runs it (the built CLI; npm test builds first) against its own
 * `vgpio emulate --pty --jig loopback`. The monitor holds the port while it runs, so nothing else can drive
 * the partner line meanwhile: the test starts a long pulse on the board first (through the library, on the
 * same pty), closes it, and the monitor then sees the pulse end, at a device time the test knows.
 * The pulses last seconds so a slow, shared machine still starts the monitor well before they end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBoard } from '../../../src/board/open.js';
import type { Bit } from '../../../src/board/types.js';
import { parseVcd, waveform } from '../../helpers/vcd.js';
import { CLI, runVgpio, startPtyBoard, type PtyBoard } from '../../helpers/cli.js';

const vgpio = (...args: string[]) => runVgpio(args, 30_000);

let board: PtyBoard | undefined;
let pty: string;
let dir: string;
const on = (...args: string[]) => vgpio(...args, '--board', pty);

/** Starts board-timed pulses through the library and lets go of the port; returns each pulse's start. */
async function startPulses(pulses: Array<{ line: number; level: Bit; durationUs: number }>): Promise<bigint[]> {
  const board = await openBoard({ path: pty });
  try {
    const starts: bigint[] = [];
    for (const p of pulses) {
      await board.configure([p.line], { direction: 'output', value: (p.level ^ 1) as Bit });
      starts.push((await board.pulse(p.line, { level: p.level, durationUs: p.durationUs })).startUs);
    }
    return starts;
  } finally {
    await board.close();
  }
}

const PULSE_US = 4_000_000;
/**
 * The edge at a pulse's end is stamped within this of the start PULSE reported plus the duration (the
 * pulse timer's alarm and the GPIO interrupt each take a few microseconds on the emulated board).
 */
const TOLERANCE_US = 10;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vgpio-monitor-'));
  board = await startPtyBoard('loopback');
  pty = board.path;
});

afterAll(async () => {
  await board?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('vgpio monitor on the emulated board (loopback jig)', () => {
  it('prints each edge with its device time, line, direction and line_seq, stops at --count with a summary, and writes the VCD', async () => {
    const [gp2, gp4] = await startPulses([{ line: 2, level: 1, durationUs: PULSE_US }, { line: 4, level: 1, durationUs: PULSE_US + 300_000 }]);
    const file = join(dir, 'count.vcd');
    // --duration only bounds a run that missed the pulses; --count is what must stop it
    const r = await on('monitor', 'GP3', 'gp5', '--count', '2', '--duration', '20', '--vcd', file);
    expect(r.stderr).toMatch(/^vgpio monitor: watching GP3 GP5 on the board on \/dev\/pts\/\d+; Ctrl-C stops\n$/);
    expect(r.code).toBe(0);
    const m = /^start (\d+) us: GP3=1 GP5=1 \(both edges\)\n(\d+) us GP3 falling seq (\d+)\n(\d+) us GP5 falling seq (\d+)\nsummary: 2 edges in (\d+) us \(device time\), stopped by count\n {2}GP3: 1 edges, 0 lost\n {2}GP5: 1 edges, 0 lost\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [t0, fall3, fall5] = [BigInt(m![1]!), BigInt(m![2]!), BigInt(m![4]!)];
    expect(Number(fall3 - gp2! - BigInt(PULSE_US))).toBeLessThanOrEqual(TOLERANCE_US);
    expect(Number(fall3 - gp2! - BigInt(PULSE_US))).toBeGreaterThanOrEqual(0);
    expect(Number(fall5 - gp4! - BigInt(PULSE_US + 300_000))).toBeLessThanOrEqual(TOLERANCE_US);
    expect(Number(fall5 - gp4! - BigInt(PULSE_US + 300_000))).toBeGreaterThanOrEqual(0);

    const vcd = parseVcd(readFileSync(file, 'utf8'));
    expect(vcd.timescale).toBe('1 us');
    expect(vcd.version).toMatch(/^vgpio \d+\.\d+\.\d+ monitor, firmware \d+\.\d+\.\d+$/);
    expect(vcd.comments[0]).toMatch(/^the board on \/dev\/pts\/\d+; #0 is device time \d+ us/);
    expect(vcd.signals.map((s) => `${s.scope}.${s.name}`)).toEqual(['vgpio.GP3', 'vgpio.GP5']);
    expect(waveform(vcd, 'GP3')).toEqual({ initial: '1', changes: [{ time: Number(fall3 - t0), value: '0' }] });
    expect(waveform(vcd, 'GP5')).toEqual({ initial: '1', changes: [{ time: Number(fall5 - t0), value: '0' }] });
    expect(vcd.endTime).toBe(Number(m![6]));
    expect(vcd.notes).toEqual([]);

    // the monitor released its lines
    const lines = JSON.parse((await on('info', '--json')).stdout).lines;
    expect(lines[3].state).toMatchObject({ direction: 'off', bias: 'pull-down', edge: 'none' });
    expect(lines[5].state).toMatchObject({ direction: 'off', bias: 'pull-down', edge: 'none' });
  }, 40_000);

  it('--json streams one object per line; --duration stops it; --active-low inverts levels and edges', async () => {
    const [gp6] = await startPulses([{ line: 6, level: 1, durationUs: PULSE_US }]);
    const r = await on('monitor', 'GP7', '--json', '--duration', '7', '--active-low', '--debounce-us', '10');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l));
    expect(records.map((x) => x.type)).toEqual(['start', 'edge', 'summary']);
    expect(records[0]).toEqual({ type: 'start', timeUs: expect.any(Number), edges: 'both', activeLow: true, lines: [{ line: 7, name: 'GP7', level: 0 }] });
    expect(records[1]).toEqual({ type: 'edge', timeUs: expect.any(Number), line: 7, name: 'GP7', edge: 'rising', level: 1, lineSeq: expect.any(Number), lostBefore: 0 });
    // debounce stamps the transition that started the stable period: still the pulse's end
    expect(records[1].timeUs - Number(gp6!) - PULSE_US).toBeGreaterThanOrEqual(0);
    expect(records[1].timeUs - Number(gp6!) - PULSE_US).toBeLessThanOrEqual(TOLERANCE_US);
    expect(records[2]).toMatchObject({ type: 'summary', stoppedBy: 'duration', edges: 1, overflowLost: 0, lines: [{ line: 7, name: 'GP7', edges: 1, lost: 0 }] });
    expect(records[2].endUs - records[2].startUs).toBeGreaterThanOrEqual(7_000_000 - 50_000);
  }, 40_000);

  it('Ctrl-C (SIGINT) ends it with a summary and exit 0, releases the lines, and closes the VCD', async () => {
    const file = join(dir, 'sigint.vcd');
    // GP22 has no partner in the loopback jig: its pull-up alone sets the level
    const child = spawn(process.execPath, [CLI, 'monitor', 'GP22', '--bias', 'pull-up', '--vcd', file, '--board', pty], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const started = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) resolve();
      });
      void exited.then((code) => reject(new Error(`vgpio monitor exited with ${code} before starting: ${stderr}`)));
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await started;
      expect(stdout).toMatch(/^start \d+ us: GP22=1 \(both edges\)\n$/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stderr).toMatch(/watching GP22/);
    expect(stdout).toMatch(/\nsummary: 0 edges in \d+ us \(device time\), stopped by SIGINT\n {2}GP22: 0 edges, 0 lost\n$/);
    const vcd = parseVcd(readFileSync(file, 'utf8'));
    expect(waveform(vcd, 'GP22')).toEqual({ initial: '1', changes: [] });
    expect(vcd.endTime).toBeGreaterThan(0);
    const info = JSON.parse((await on('info', '--json')).stdout).lines;
    expect(info[22].state).toMatchObject({ direction: 'off', bias: 'pull-down' });
  }, 30_000);

  it('bad input exits 2 with a message naming the line or option and the fix', async () => {
    let r = await on('monitor', 'GP99');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vgpio monitor: unknown line "GP99": the pico profile has lines 0 to 29, .*`vgpio info` lists them\)\n$/);
    r = await on('monitor', 'GP24');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vgpio monitor: line GP24 is line 24 \(VBUS_SENSE\), reserved: .*pick another line/);
    r = await on('monitor', 'GP3', 'gp3');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/named twice/);
    r = await on('monitor', 'GP3', '--vcd', join(dir, 'x.vcd'), '--edges', 'rising');
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'vgpio monitor: --vcd records levels, which needs both edges; drop --edges rising or --vcd\n' });
    r = await on('monitor', 'GP3', '--vcd', '/nonexistent-dir/x.vcd');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vgpio monitor: cannot write the VCD file \/nonexistent-dir\/x.vcd: .*ENOENT.*; give a path in a writable directory\n$/);
    for (const [option, value, message] of [
      ['--count', '0', /give a whole number of edges, 1 or more/],
      ['--duration', '0', /give seconds, more than 0/],
      ['--duration', 'soon', /give seconds/],
      ['--debounce-us', '2000000', /give whole microseconds, 0 to 1000000/],
      ['--edges', 'sideways', /Allowed choices are rising, falling, both/],
      ['--bias', 'sideways', /Allowed choices are none, pull-up, pull-down, bus-keeper/],
    ] as const) {
      r = await on('monitor', 'GP3', option, value);
      expect(r.code, `${option} ${value}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    r = await vgpio('monitor');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument/);
    // --json errors are one ndjson record
    r = await on('monitor', 'GP99', '--json');
    expect(r.code).toBe(2);
    expect(r.stdout.split('\n')).toHaveLength(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'error', ok: false, exitCode: 2, error: expect.stringMatching(/unknown line "GP99"/) });
    // nothing was configured by the refused commands
    expect(JSON.parse((await on('info', '--json')).stdout).lines[3].state).toMatchObject({ edge: 'none' });
  }, 60_000);

  it('board.close() frees the serial port at once: the same process can open the board again', async () => {
    for (let i = 0; i < 3; i++) {
      const board = await openBoard({ path: pty });
      expect(board.info.serial).toBe('454d554c41544544');
      await board.close();
    }
  });

  it('a missing board exits 3', async () => {
    const r = await vgpio('monitor', 'GP3', '--board', '/dev/vgpio-does-not-exist');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^vgpio monitor: cannot open serial port \/dev\/vgpio-does-not-exist: .*--board emulator\n$/);
  });

  it('--help documents the output, the VCD, and the exit codes', async () => {
    const r = await vgpio('monitor', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/--edges <edges> which edges to report \(choices: "rising", "falling", "both", default: "both"\)/);
    expect(r.stdout).toMatch(/GTKWave \(gtkwave FILE\) or PulseView \(import it as a Value Change Dump\)/);
    expect(r.stdout).toMatch(/Exit codes:\n  0  done\n  1  unexpected error\n  2  usage or bad input.*\n  3  no board.*\n  4  the board refused/);
  });
});

describe('line-setting flags are the same across get, set, pulse and monitor', () => {
  it('each command offers the flags that apply to it, described alike', async () => {
    // commander wraps descriptions to the terminal width: compare with whitespace collapsed
    const help = Object.fromEntries(await Promise.all(['get', 'set', 'pulse', 'monitor'].map(async (c) => [c, (await vgpio(c, '--help')).stdout.replace(/\s+/g, ' ')] as const)));
    const bias = /--bias <bias> bias \(default: the profile's, usually none\) \(choices: "none", "pull-up", "pull-down", "bus-keeper"\)/;
    const drive = /--drive <drive> output drive \(default: the profile's, usually push-pull\) \(choices: "push-pull", "open-drain", "open-source"\)/;
    for (const c of ['get', 'set', 'pulse', 'monitor']) {
      expect(help[c], c).toMatch(bias);
      expect(help[c], c).toMatch(/--active-low the line is active low: /);
    }
    for (const c of ['set', 'pulse']) expect(help[c], c).toMatch(drive);
    for (const c of ['get', 'monitor']) expect(help[c], c).not.toMatch(/--drive/);
    expect(help['monitor']).toMatch(/--debounce-us <microseconds>/);
  });

  it('pulse --active-low pulses the pin low from an inactive (high) line; --drive reconfigures the output', async () => {
    let r = await on('pulse', 'GP8', '--us', '300', '--active-low', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, name: 'GP8', level: 1, activeLow: true, outcome: 'completed' });
    // the line became an output at its inactive level, high at the pin, and went back there
    expect((await on('get', 'GP9')).stdout).toBe('GP9=1\n');
    expect(await on('get', 'GP9', '--active-low')).toEqual({ code: 0, stdout: 'GP9=0\n', stderr: '' });

    r = await on('pulse', 'GP8', '--us', '100', '--drive', 'open-drain', '--active-low');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^GP8: level 1 for 100 us: /);
    const state = JSON.parse((await on('info', '--json')).stdout).lines[8].state;
    // the output kept its level (high, released by the open drain) and took the new drive
    expect(state).toMatchObject({ direction: 'output', drive: 'open-drain', value: 1 });
  });
});
