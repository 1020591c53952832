// Boots one real guest (QEMU or User-Mode Linux) against the e2e daemon (daemon.mjs, the vgpio
// vhost-user backend on the emulated board with the loopback jig) and runs the checks of one plan.
// The guest's /init (init) runs the steps this harness sends over the console and reports each one
// between "@@BEGIN id" and "@@END id rc=N"; pin levels are read from the emulated board through the
// daemon. Prints one line per check and ends with "<plan>: N passed, N failed"; exits 1 on a failure.
//
//   node harness.mjs --plan qemu|uml|cli --kernel IMAGE --initrd INITRD --work DIR
//
// Plans: qemu (requestq, reboot, backend restart), uml (requestq + interrupts), cli (UML against the
// real `vgpio serve` command, requestq only). VGPIO_E2E_FAULT in the environment reaches daemon.mjs
// (run.sh uses it to prove that a broken daemon fails the tier).
import { fork, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const { values: args } = parseArgs({
  options: { plan: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, work: { type: 'string' } },
});
for (const k of ['plan', 'kernel', 'initrd', 'work']) if (!args[k]) throw new Error(`harness.mjs: --${k} is required`);
const plan = args.plan;
const work = resolve(args.work, plan);
mkdirSync(work, { recursive: true });
const socketPath = join(work, 'vgpio.sock');
const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1);
const note = (message) => console.log(`  .. [${elapsed()} s] ${message}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Line names the guest must see: the pico profile (hw/boards/pico.json) through the product's loader. */
const { loadProfile } = await import(join(root, 'dist/board/profile.js'));
const expectedNames = loadProfile('pico').lines.map((l) => l.name ?? '');

class StepTimeout extends Error {}

// ---- the daemon --------------------------------------------------------------------------------

class Daemon {
  constructor(env = {}) {
    this.env = env;
    this.generation = 0;
  }
  async start() {
    this.generation++;
    const logFile = createWriteStream(join(work, `daemon-${this.generation}.log`));
    await new Promise((r) => logFile.once('open', r));
    const child = fork(join(here, 'daemon.mjs'), [socketPath, 'loopback'], {
      stdio: ['ignore', logFile, logFile, 'ipc'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    this.pending = new Map();
    this.nextId = 1;
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.on('message', (msg) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      msg.error ? p.reject(new Error(msg.error)) : p.resolve(msg.result);
    });
    await withTimeout(
      new Promise((resolve, reject) => {
        child.on('message', (msg) => msg.ready && resolve());
        this.exited.then(({ code }) => reject(new Error(`the daemon exited (code ${code}) before it was ready; see ${work}/daemon-${this.generation}.log`)));
      }),
      30_000,
      'the daemon did not start within 30 s',
    );
  }
  request(t, params = {}) {
    const id = this.nextId++;
    return withTimeout(
      new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.child.send({ t, id, ...params });
      }),
      10_000,
      `the daemon did not answer "${t}" within 10 s`,
    );
  }
  state() {
    return this.request('state');
  }
  /** The backend dies without any clean-up, as a crash would. */
  async kill() {
    this.child.kill('SIGKILL');
    await this.exited;
  }
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(5000).then(() => null)]);
    if (!done) await this.kill();
  }
}

/** `vgpio serve` itself (plan cli): no pin access, only its socket. */
class CliDaemon {
  async start() {
    const log = createWriteStream(join(work, 'vgpio-serve.log'));
    await new Promise((r) => log.once('open', r));
    // The bin itself, through its shebang and the Node flags on it, as systemd and a shell run it.
    this.child = spawn(join(root, 'dist/cli/main.js'), ['serve', '--board', 'emulator', '--jig', 'loopback', '--socket', socketPath], {
      stdio: ['ignore', 'pipe', log],
    });
    this.exited = new Promise((r) => this.child.once('exit', r));
    let out = '';
    await withTimeout(
      new Promise((resolve, reject) => {
        this.child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('vhost-user virtio-gpio on')) resolve();
        });
        this.exited.then((code) => reject(new Error(`vgpio serve exited (code ${code}); see ${work}/vgpio-serve.log`)));
      }),
      30_000,
      'vgpio serve did not start within 30 s',
    );
  }
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    if (!(await Promise.race([this.exited.then(() => true), sleep(5000)]))) this.child.kill('SIGKILL');
  }
}

// ---- the guest ---------------------------------------------------------------------------------

class Guest {
  constructor(kind) {
    this.kind = kind;
    this.lines = [];
    this.cursor = 0;
    this.waiters = new Set();
    this.boots = 0;
  }
  start() {
    const console = createWriteStream(join(work, `${this.kind}-console.log`));
    let command;
    let argv;
    if (this.kind === 'qemu') {
      command = 'qemu-system-x86_64';
      // reconnect=1: after a backend restart QEMU reconnects within a second (see README).
      argv = [
        '-accel', 'tcg', '-machine', 'q35', '-smp', '1', '-m', '256M', '-nodefaults', '-no-user-config',
        '-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-numa', 'node,memdev=mem',
        '-chardev', `socket,id=vgpio,path=${socketPath},reconnect=1`,
        '-device', 'vhost-user-gpio-pci,chardev=vgpio,id=gpio0',
        '-kernel', resolve(args.kernel), '-initrd', resolve(args.initrd),
        '-append', 'console=ttyS0 panic=-1 quiet',
        '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
      ];
    } else {
      command = resolve(args.kernel);
      mkdirSync(join(work, 'uml'), { recursive: true });
      argv = [
        'mem=128M', `initrd=${resolve(args.initrd)}`, 'rdinit=/init', 'con0=fd:0,fd:1', 'con=null', 'quiet',
        `virtio_uml.device=${socketPath}:41`, `uml_dir=${join(work, 'uml')}`, `umid=e2e-${process.pid}`,
      ];
    }
    // Own process group: UML is several processes, and a stuck guest is killed as a whole.
    this.child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    let partial = '';
    const onData = (data) => {
      console.write(data);
      partial += data.toString('latin1');
      const parts = partial.split('\n');
      partial = parts.pop();
      for (const raw of parts) {
        const line = raw.replace(/\r/g, '');
        this.lines.push(line);
        if (line.includes('@@BOOT')) this.boots++;
      }
      for (const w of this.waiters) w();
    };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', (d) => console.write(d));
    this.child.stdin.on('error', () => {});
    this.exited.then(() => {
      this.dead = true;
      for (const w of this.waiters) w();
    });
  }
  /** Waits for a console line matching `re` after the cursor; moves the cursor past it. */
  waitFor(re, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = this.cursor; i < this.lines.length; i++) {
          const m = this.lines[i].match(re);
          if (m) {
            this.cursor = i + 1;
            done();
            return resolve({ match: m, index: i });
          }
        }
        if (this.dead) {
          done();
          reject(new StepTimeout(`the guest exited while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new StepTimeout(`no ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
  send(line) {
    this.child.stdin.write(`${line}\n`);
  }
  /** Runs one step: a shell command under a `timeout` of `seconds` in the guest, and seconds + 10 here. */
  async run(id, command, seconds = 10) {
    await this.waitFor(/@@READY/, 10_000, 'prompt from the guest');
    this.send(`RUN ${id} ${seconds} . /e2e.sh; ${command}`);
    const begin = await this.waitFor(new RegExp(`@@BEGIN ${id}$`), 10_000, `start of step ${id}`);
    const end = await this.waitFor(new RegExp(`@@END ${id} rc=(\\d+)`), (seconds + 10) * 1000, `end of step ${id} (the guest is stuck)`);
    const output = this.lines.slice(begin.index + 1, end.index);
    // A kernel message may share the @@END line: keep what came before the marker.
    const tail = this.lines[end.index].split('@@END')[0];
    if (tail) output.push(tail);
    return { rc: Number(end.match[1]), output };
  }
  /** Runs a step that must succeed; returns its output lines. */
  async ok(id, command, seconds) {
    const { rc, output } = await this.run(id, command, seconds);
    if (rc !== 0) throw new Error(`step ${id} failed (rc ${rc}${rc === 143 || rc === 124 ? ', timed out in the guest' : ''}): ${output.join(' | ')}`);
    return output;
  }
  async boot(timeoutMs) {
    const boots = this.boots;
    await this.waitFor(/@@BOOT/, timeoutMs, 'boot of the guest');
    if (this.boots <= boots && boots > 0) throw new Error('no new boot');
  }
  async poweroff() {
    if (this.dead) return;
    try {
      await this.waitFor(/@@READY/, 5000, 'prompt');
      this.send('POWEROFF');
    } catch {}
    // UML powers off by itself; QEMU without ACPI halts, so it is ended here.
    const gone = await Promise.race([this.exited.then(() => true), sleep(this.kind === 'uml' ? 10_000 : 2000)]);
    if (!gone) this.kill();
    await this.exited;
  }
  kill() {
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {}
  }
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new StepTimeout(message)), ms)))]).finally(() => clearTimeout(timer));
}

// ---- checks ------------------------------------------------------------------------------------

const results = [];
let stuck;
async function check(name, fn) {
  const t0 = Date.now();
  if (stuck) {
    results.push(false);
    console.log(`FAIL ${plan}: ${name}: not run, the guest is stuck (${stuck})`);
    return;
  }
  try {
    await fn();
    results.push(true);
    console.log(`ok   ${plan}: ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (error) {
    results.push(false);
    if (error instanceof StepTimeout) stuck = error.message;
    console.log(`FAIL ${plan}: ${name}: ${error.message}`);
  }
}
function expect(condition, message) {
  if (!condition) throw new Error(message);
}
const sameLines = (output, expected, what) =>
  expect(JSON.stringify(output) === JSON.stringify(expected), `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(output)}`);

async function pinLevels(daemon) {
  return (await daemon.state()).levels;
}

/** Checks every guest runs on the requestq: the chip, its names, set/get on a loopback pair, release. */
async function requestqChecks(g, d, prefix = '') {
  await check(`${prefix}gpiodetect shows the virtio chip with 30 lines`, async () => {
    const out = await g.ok('detect', 'gpiodetect');
    expect(out.some((l) => /^gpiochip0 \[virtio\d+\] \(30 lines\)$/.test(l)), `gpiodetect printed ${JSON.stringify(out)}`);
  });
  await check(`${prefix}gpioinfo shows the pico profile's line names, all unused inputs`, async () => {
    const out = await g.ok('info', 'gpioinfo gpiochip0');
    const got = out.filter((l) => /^\s*line\s+\d+:/.test(l)).map((l) => l.match(/^\s*line\s+(\d+):\s+(?:"([^"]*)"|unnamed)\s+(\S+)\s+(\S+)/));
    expect(got.length === 30, `expected 30 lines, gpioinfo printed ${out.length} lines: ${out.slice(0, 3).join(' | ')}`);
    got.forEach((m, i) => {
      expect(m && Number(m[1]) === i, `unexpected gpioinfo line ${i}: ${out[i + 1]}`);
      expect((m[2] ?? '') === expectedNames[i], `line ${i} is named "${m[2] ?? ''}", the profile says "${expectedNames[i]}"`);
      expect(m[3] === 'unused' && m[4] === 'input', `line ${i} is "${m[3]} ${m[4]}", expected "unused input"`);
    });
  });
  await check(`${prefix}gpioset GP2=1 (held) drives the pin high and gpioget reads 1 on its partner GP3`, async () => {
    await g.ok('hold-1', 'hold 2 1');
    if (d) {
      const levels = await pinLevels(d);
      expect(levels[2] === 1 && levels[3] === 1, `emulated pins GP2/GP3 are ${levels[2]}/${levels[3]} while the guest holds GP2=1`);
    }
    sameLines(await g.ok('get-1', 'gpioget gpiochip0 3'), ['1'], 'gpioget gpiochip0 3');
    await g.ok('release-1', 'release 2');
  });
  await check(`${prefix}gpioset GP2=0 (held) drives the pin low and gpioget reads 0 on GP3`, async () => {
    await g.ok('hold-0', 'hold 2 0');
    if (d) {
      const before = await d.state();
      expect(before.levels[2] === 0 && before.levels[3] === 0, `emulated pins GP2/GP3 are ${before.levels[2]}/${before.levels[3]} while the guest holds GP2=0`);
      // Driven, not just pulled down: a high drive from outside meets the chip's output.
      await d.request('drive', { line: 2, level: 1 });
      const probed = await d.state();
      await d.request('drive', { line: 2, level: null });
      expect(probed.contentions > before.contentions, 'GP2 did not fight an outside high drive: the guest\'s 0 is not driven by the chip');
    }
    sameLines(await g.ok('get-0', 'gpioget gpiochip0 3'), ['0'], 'gpioget gpiochip0 3');
    await g.ok('release-0', 'release 2');
  });
  await check(`${prefix}gpioset GP21=1 is read as 1 on GP20 (the other direction, another pair)`, async () => {
    await g.ok('hold-21', 'hold 21 1');
    sameLines(await g.ok('get-20', 'gpioget gpiochip0 20'), ['1'], 'gpioget gpiochip0 20');
    await g.ok('release-21', 'release 21');
  });
  if (d) {
    await check(`${prefix}released lines return to the idle state on the emulated board (undriven, pulled down)`, async () => {
      await g.ok('hold-idle', 'hold 2 1');
      expect((await pinLevels(d))[2] === 1, 'GP2 is not high while held');
      await g.ok('release-idle', 'release 2');
      const s0 = await d.state();
      expect(s0.levels[2] === 0 && s0.levels[3] === 0, `after release GP2/GP3 read ${s0.levels[2]}/${s0.levels[3]}, expected 0/0 (pull-down)`);
      await d.request('drive', { line: 2, level: 1 });
      const s1 = await d.state();
      await d.request('drive', { line: 2, level: null });
      const s2 = await d.state();
      expect(s1.levels[2] === 1 && s1.contentions === s0.contentions, 'GP2 is still driven after release (an outside high drive met a contention)');
      expect(s2.levels[2] === 0, 'GP2 did not fall back to 0 when the outside drive let go: no pull-down');
    });
  }
}

/** Interrupt checks (UML: the only guest whose frontend passes VIRTIO_GPIO_F_IRQ on). */
async function irqChecks(g, d) {
  const counters = async () => (await d.state()).counters;
  await check('gpiomon -n 4 (both edges) on GP3 sees rising, falling, rising, falling when the guest pulses GP2 twice', async () => {
    await g.ok('mon-both', 'monitor both -n 4 gpiochip0 3');
    const out = await g.ok('pulses-both', 'pulse 2 && poll lines_at_least /tmp/both 2 && pulse 2 && poll lines_at_least /tmp/both 4 && poll irq_gone gpiomon && cat /tmp/both');
    sameLines(out, ['3 1', '3 0', '3 1', '3 0'], 'gpiomon output');
  });
  await check('gpiomon -r -n 2 (rising only) sees exactly one event per pulse, none for the falling edges', async () => {
    await g.ok('mon-rise', 'monitor rise -r -n 2 gpiochip0 3');
    const out = await g.ok('pulses-rise', 'pulse 2 && poll lines_at_least /tmp/rise 1 && settle && echo "after 1: $(wc -l </tmp/rise)" && pulse 2 && poll lines_at_least /tmp/rise 2 && settle && cat /tmp/rise');
    sameLines(out, ['after 1: 1', '3 1', '3 1'], 'gpiomon -r output');
  });
  await check('gpiomon -f -n 2 (falling only) sees nothing on the rising edge and one event per falling edge', async () => {
    await g.ok('mon-fall', 'monitor fall -f -n 2 gpiochip0 3');
    const out = await g.ok('pulses-fall', 'hold 2 1 && settle && echo "while high: $(wc -l </tmp/fall)" && release 2 && poll lines_at_least /tmp/fall 1 && pulse 2 && poll lines_at_least /tmp/fall 2 && settle && cat /tmp/fall');
    sameLines(out, ['while high: 0', '3 0', '3 0'], 'gpiomon -f output');
  });
  await check('an interrupt disabled while its buffer is held comes back INVALID, and the line works again after', async () => {
    await g.ok('mon-held', 'monitor held -n 1 gpiochip0 3');
    const before = await counters();
    await g.ok('stop-held', 'stop_monitor held');
    const after = await counters();
    expect(after.irqInvalid > before.irqInvalid, `the device returned no INVALID buffer (irqInvalid ${before.irqInvalid} -> ${after.irqInvalid})`);
    await g.ok('mon-again', 'monitor again -n 2 gpiochip0 3');
    sameLines(await g.ok('pulse-again', 'pulse 2 && poll lines_at_least /tmp/again 2 && cat /tmp/again'), ['3 1', '3 0'], 'gpiomon output after the disable');
  });
  await check('a burst of 10 edges while the interrupt is masked is latched, not lost (the guest gets a second event)', async () => {
    await g.ok('mon-burst', 'monitor burst -n 2 gpiochip0 3');
    const before = await counters();
    // 10 edges 20 us apart from outside the board: the first returns the buffer (masked from then on),
    // the other nine must leave one latched interrupt behind.
    await d.request('wave', { lines: [3], edges: 10, periodNanos: 20_000 });
    await d.request('drive', { line: 3, level: null });
    const out = await g.ok('burst-wait', 'poll lines_at_least /tmp/burst 2 && wc -l </tmp/burst');
    const after = await counters();
    sameLines(out, ['2'], 'events after the burst');
    expect(after.irqLatched > before.irqLatched, `no edge was latched (irqLatched ${before.irqLatched} -> ${after.irqLatched})`);
  });
  await check('no kernel warnings in the guest (dmesg)', async () => {
    const out = await g.ok('dmesg', 'dmesg | grep -E "WARNING|BUG|gpio_virtio|virtio_gpio" || true');
    expect(!out.some((l) => /WARNING|BUG|failed/.test(l)), `dmesg: ${out.join(' | ')}`);
  });
}

// ---- plans -------------------------------------------------------------------------------------

let liveGuest;
let liveDaemon;

async function main() {
  const daemon = plan === 'cli' ? new CliDaemon() : new Daemon();
  let guest;
  liveDaemon = daemon;
  try {
    await daemon.start();
    note(`daemon ready on ${socketPath}`);
    guest = new Guest(plan === 'qemu' ? 'qemu' : 'uml');
    liveGuest = guest;
    guest.start();
    await check(`${guest.kind} boots and reaches /init with the virtio-gpio chip`, async () => {
      await guest.boot(plan === 'qemu' ? 60_000 : 20_000);
      note(`guest booted: ${guest.lines.find((l) => l.includes('@@BOOT'))}`);
      await guest.ok('chip', 'poll test -e /dev/gpiochip0');
    });
    const d = daemon instanceof Daemon ? daemon : undefined;
    await requestqChecks(guest, d);
    if (plan === 'uml') {
      await check('the frontend negotiated interrupts (VIRTIO_GPIO_F_IRQ)', async () => {
        const { features } = await d.state();
        expect(features.length > 0 && (BigInt(features.at(-1)) & 1n) === 1n, `negotiated features ${features.join(', ') || 'none'}`);
      });
      await irqChecks(guest, d);
      await check('guest reboot: UML reconnects, the second boot finds the chip and set/get works again', async () => {
        const before = (await d.state()).connections;
        await guest.waitFor(/@@READY/, 10_000, 'prompt');
        guest.send('REBOOT'); // UML re-executes itself and connects again
        await guest.boot(30_000);
        await guest.ok('chip-2', 'poll test -e /dev/gpiochip0');
        await guest.ok('hold-r', 'hold 2 1');
        sameLines(await guest.ok('get-r', 'gpioget gpiochip0 3'), ['1'], 'gpioget after reboot');
        await guest.ok('release-r', 'release 2');
        const after = (await d.state()).connections;
        expect(after === before + 1, `vhost-user connections went from ${before} to ${after}, expected one more`);
      });
    }
    if (plan === 'qemu') {
      await check('QEMU 7.2 does not pass VIRTIO_GPIO_F_IRQ on: gpiomon fails at once with "No such device"', async () => {
        const { rc, output } = await guest.run('mon-qemu', 'gpiomon -n 1 gpiochip0 3', 5);
        expect(rc !== 0 && output.some((l) => /No such device/.test(l)), `gpiomon rc ${rc}: ${output.join(' | ')}`);
      });
      await check('guest reboot while holding a line: the line is released, the second boot finds the chip and set/get works again', async () => {
        const { connections } = await d.state();
        await guest.ok('hold-b', 'hold 2 1');
        expect((await pinLevels(d))[2] === 1, 'GP2 is not high while the guest holds it');
        await guest.waitFor(/@@READY/, 10_000, 'prompt');
        guest.send('REBOOT'); // reboot -f: nothing releases the line in the guest; QEMU keeps the socket
        await guest.boot(60_000);
        await guest.ok('chip-2', 'poll test -e /dev/gpiochip0');
        expect((await pinLevels(d))[2] === 0, 'GP2 is still driven after the guest rebooted: the old driver\'s lines were not released');
        await guest.ok('hold-r', 'hold 2 1');
        sameLines(await guest.ok('get-r', 'gpioget gpiochip0 3'), ['1'], 'gpioget after reboot');
        await guest.ok('release-r', 'release 2');
        note(`vhost-user connections: ${connections} before the reboot, ${(await d.state()).connections} after`);
      });
      await check('backend restart while the guest runs: QEMU reconnects and set/get works on the new daemon', async () => {
        await daemon.kill();
        note('daemon killed (SIGKILL)');
        await daemon.start();
        const t0 = Date.now();
        while (!(await daemon.state()).connected) {
          expect(Date.now() - t0 < 15_000, 'QEMU did not reconnect to the new daemon within 15 s');
          await sleep(100);
        }
        note(`QEMU reconnected after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        await guest.ok('hold-rs', 'hold 2 1', 15);
        const levels = await pinLevels(daemon);
        expect(levels[2] === 1 && levels[3] === 1, `GP2/GP3 on the new daemon's board are ${levels[2]}/${levels[3]}`);
        sameLines(await guest.ok('get-rs', 'gpioget gpiochip0 3'), ['1'], 'gpioget after the restart');
        await guest.ok('release-rs', 'release 2');
        expect((await pinLevels(daemon))[2] === 0, 'GP2 did not return to 0 after release');
      });
    }
  } finally {
    if (guest) {
      if (stuck) guest.kill();
      await guest.poweroff();
      note(`guest exited: ${JSON.stringify(await guest.exited)}; console in ${work}/${guest.kind}-console.log`);
    }
    await daemon.stop();
  }
}

// Killed from outside (run.sh's timeout, ^C): take the guest's process group and the daemon along.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    console.log(`FAIL ${plan}: harness stopped by ${signal}`);
    liveGuest?.kill();
    liveDaemon?.child?.kill('SIGKILL');
    process.exit(1);
  });
}
try {
  await main();
} catch (error) {
  results.push(false);
  console.log(`FAIL ${plan}: harness error: ${error.stack ?? error}`);
}
const passed = results.filter(Boolean).length;
console.log(`${plan}: ${passed} passed, ${results.length - passed} failed (${elapsed()} s)`);
process.exit(results.length > 0 && passed === results.length ? 0 : 1);
