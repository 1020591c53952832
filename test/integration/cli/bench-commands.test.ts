/**
 * `vgpio info`, `get`, `set`, `pulse` as a user runs them (the built CLI, npm test builds first), against
 * `vgpio emulate --pty --jig loopback`: GP2-GP3, GP4-GP5, GP6-GP7 are wired together. Each command opens
 * the pty, does its work and closes it; the emulated board keeps what was set, as a real board does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, runVgpio, startPtyBoard, type PtyBoard } from '../../helpers/cli.js';

const vgpio = (...args: string[]) => runVgpio(args);

let board: PtyBoard;
let pty: string;
const on = (...args: string[]) => vgpio(...args, '--board', pty);

beforeAll(async () => {
  board = await startPtyBoard('loopback');
  pty = board.path;
});

afterAll(() => board?.stop());

describe('vgpio bench commands on the emulated board (loopback jig)', () => {
  it('info lists every line with its name, reserved flag, configuration and level', async () => {
    const r = await on('info');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^the board on \/dev\/pts\/\d+: Raspberry Pi Pico, serial 454d554c41544544, firmware \d+\.\d+\.\d+, protocol v1, 30 lines, profile pico\n/);
    expect(r.stdout).toMatch(/^LINE +NAME +PIN +DIRECTION +BIAS +DRIVE +EDGE +DEBOUNCE +LEVEL +NOTE$/m);
    expect(r.stdout).toMatch(/^2 +GP2 +4 +\S+/m);
    expect(r.stdout).toMatch(/^23 +SMPS_PS .*reserved: drives the SMPS power-save pin/m);
    expect(r.stdout).toMatch(/^25 +LED +- /m);

    const j = await on('info', '--json');
    expect(j.code).toBe(0);
    const info = JSON.parse(j.stdout);
    expect(info.ok).toBe(true);
    expect(info.board.serial).toBe('454d554c41544544');
    expect(info.lines).toHaveLength(30);
    expect(info.lines[23]).toMatchObject({ line: 23, name: 'SMPS_PS', reserved: expect.stringMatching(/SMPS/) });
    expect(info.lines[2]).toMatchObject({ name: 'GP2', header: 4, reserved: null, state: { pinLevel: expect.any(Number), direction: expect.any(String) } });
  });

  it('set drives a line and exits; the board keeps the level, so get reads it through the jig', async () => {
    let r = await on('set', 'GP2=1');
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    r = await on('get', 'GP3');
    expect(r).toEqual({ code: 0, stdout: 'GP3=1\n', stderr: '' });
    r = await on('get', 'gp3', '--active-low');
    expect(r.stdout).toBe('GP3=0\n');
    const state = JSON.parse((await on('info', '--json')).stdout).lines;
    expect(state[2].state).toMatchObject({ direction: 'output', drive: 'push-pull', pinLevel: 1 });
    expect(state[3].state).toMatchObject({ direction: 'input', pinLevel: 1 });

    r = await on('set', '2=low');
    expect(r.code).toBe(0);
    expect((await on('get', 'GP3')).stdout).toBe('GP3=0\n');
    r = await on('set', 'GP2=1', '--active-low');
    expect(r.code).toBe(0);
    expect((await on('get', 'GP3')).stdout).toBe('GP3=0\n');
  });

  it('set changes several lines in one request; get reads several in one sample, with the device time in --json', async () => {
    expect((await on('set', 'GP2=1', 'GP4=0', 'LED=1')).code).toBe(0);
    const r = await on('get', 'GP3', 'GP5', '--json');
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got).toMatchObject({ ok: true, activeLow: false, lines: [{ line: 3, name: 'GP3', value: 1 }, { line: 5, name: 'GP5', value: 0 }] });
    expect(got.timeUs).toBeGreaterThan(0);
    expect((await on('get', 'GP3', 'GP5')).stdout).toBe('GP3=1\nGP5=0\n');
  });

  it('pulse is timed on the board: prints start, end and the measured width, and the line returns', async () => {
    expect((await on('set', 'GP4=0')).code).toBe(0);
    const r = await on('pulse', 'GP4', '--us', '2000');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^GP4: level 1 for 2000 us: start (\d+) us, end (\d+) us, width (\d+) us \(device time\)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2]) - Number(m![1])).toBe(Number(m![3]));
    expect(Number(m![3])).toBeGreaterThanOrEqual(2000);
    expect(Number(m![3])).toBeLessThan(2100);
    expect((await on('get', 'GP5')).stdout).toBe('GP5=0\n');

    const j = await on('pulse', 'gp6', '--us', '500', '--level', '1', '--json');
    expect(j.code).toBe(0);
    const p = JSON.parse(j.stdout);
    expect(p).toMatchObject({ ok: true, line: 6, name: 'GP6', level: 1, requestedUs: 500, outcome: 'completed' });
    expect(p.endUs - p.startUs).toBe(p.widthUs);
    expect(p.widthUs).toBeGreaterThanOrEqual(500);
  });

  it('set --hold keeps the port and the lines until SIGTERM, then releases them', async () => {
    const held = spawn(process.execPath, [CLI, 'set', 'GP6=1', '--hold', '--board', pty], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const holding = new Promise<void>((resolve) =>
      held.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/holding/.test(stderr)) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => held.once('exit', resolve));
    try {
      await holding;
      expect(stderr).toMatch(/^vgpio set: holding GP6=1 on the board on \/dev\/pts\/\d+; Ctrl-C or SIGTERM releases the lines\n/);
      // the held set owns the port: a second command is told so
      const busy = await on('get', 'GP7');
      expect(busy.code).toBe(3);
      expect(busy.stderr).toMatch(/another program holds the port/);
      held.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM: released GP6\n$/);
    } finally {
      if (held.exitCode === null) held.kill('SIGKILL');
    }
    const state = JSON.parse((await on('info', '--json')).stdout).lines;
    expect(state[6].state).toMatchObject({ direction: 'off', bias: 'pull-down', pinLevel: 0 });
    expect((await on('get', 'GP7')).stdout).toBe('GP7=0\n');
  });

  it('bad input exits 2 with a message naming the line and the fix, before touching the board', async () => {
    let r = await on('get', 'GP99');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vgpio get: unknown line "GP99": the pico profile has lines 0 to 29, named GP0, .*`vgpio info` lists them\)\n$/);
    r = await on('set', 'GP23=1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vgpio set: line GP23 is line 23 \(SMPS_PS\), reserved: .*pick another line/);
    r = await on('pulse', 'VBUS_SENSE', '--us', '10');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reserved: senses VBUS/);
    r = await on('set', 'GP2=2');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('vgpio set: bad value "2" for line GP2: give 0 or 1 (also low/high), e.g. GP2=1\n');
    r = await on('set', 'GP2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"GP2" is not LINE=VALUE; write e.g. GP2=1/);
    r = await on('get', 'GP2', 'gp2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/named twice/);
    r = await on('pulse', 'GP4', '--us', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--us .*give whole microseconds, 1 to 60000000/);
    r = await on('pulse', 'GP4');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--us/);
    r = await on('get', 'GP2', '--bias', 'sideways');
    expect(r.code).toBe(2);
    r = await vgpio('get');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument/);
    r = await on('pulse', 'GP4', '--us', '10', '--level', '2');
    expect(r.code).toBe(2);
    // bad input changed nothing the others rely on
    expect((await on('get', 'GP7')).code).toBe(0);
  });

  it('--json errors carry the exit code and message on stdout', async () => {
    const r = await on('get', 'GP99', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2, error: expect.stringMatching(/unknown line "GP99"/) });
  });
});

describe('vgpio bench commands without a board', () => {
  it('a missing port exits 3 and says what to do', async () => {
    const r = await vgpio('get', 'GP2', '--board', '/dev/vgpio-does-not-exist');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^vgpio get: cannot open serial port \/dev\/vgpio-does-not-exist: .*; check the path \(`vgpio list` shows the attached boards\); or use --board PATH\|serial:SERIALNO, or --board emulator\n$/);
  });

  it('a path that is not a serial port exits 3 and says so, once', async () => {
    const r = await vgpio('info', '--board', '/dev/null');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^vgpio info: cannot open serial port \/dev\/null: .*; \/dev\/null is not a serial port; or use --board PATH\|serial:SERIALNO, or --board emulator\n$/);
  });

  it('--board auto with no board attached exits 3 and points at --board emulator', async () => {
    const r = await vgpio('info');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/(no vgpio board attached|cannot list serial ports).*use --board PATH\|serial:SERIALNO, or --board emulator\n$/);
  });

  it('serial:NO that is not attached exits 3', async () => {
    const r = await vgpio('set', 'GP2=1', '--board', 'serial:0123456789abcdef');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/0123456789abcdef|cannot list serial ports/);
  });

  it('--board emulator runs the emulated board in-process', async () => {
    const r = await vgpio('pulse', 'GP2', '--us', '100', '--board', 'emulator');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^GP2: level 1 for 100 us: start \d+ us/);
  });

  it('--help documents the exit codes', async () => {
    for (const command of ['info', 'get', 'set', 'pulse']) {
      const r = await vgpio(command, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Exit codes:\n  0  done\n  1  unexpected error\n  2  usage or bad input.*\n  3  no board.*\n  4  the board refused/);
    }
  });
});
