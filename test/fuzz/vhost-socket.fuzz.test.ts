/**
 * Fuzz target `vhost-socket`: the real VhostUserServer (server.ts: reading headers and payloads with their
 * fds from a unix socket) and the backend behind it, with real fds: eventfds and a memfd of guest RAM.
 *
 * The seeds are recorded sessions of the test frontend (test/helpers/frontend.ts, QEMU and UML
 * styles): the first test plays them against a recording server and keeps them in
 * test/fuzz/corpus/vhost-backend/recorded-*.json (rewritten with VGPIO_FUZZ_RECORD=1; the
 * vhost-backend target replays and mutates them in memory, many times faster). Here each run takes a
 * recorded session, mutates it (messages dropped, duplicated, inserted, flags and sizes changed,
 * headers cut, fds added or removed, bytes of a payload flipped), and sends it as one byte stream.
 *
 * Invariants: the daemon process survives (a crash kills the test worker, a SIGBUS from guest memory
 * included); the server either answers or closes the connection with a logged reason; every fd the
 * server received is closed once the connection is gone (counted through /proc/self/fd); a fresh
 * frontend is then served normally (setup + GET_DIRECTION).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserServer } from '../../src/vhost/server.js';
import { VhostUserBackend } from '../../src/vhost/backend.js';
import { FLAG_NEED_REPLY, HEADER_SIZE } from '../../src/vhost/messages.js';
import { VirtioGpioDevice } from '../../src/gpio/device.js';
import { GpioVhostDevice } from '../../src/gpio/vhost-device.js';
import { Msg } from '../../src/gpio/spec.js';
import { closeFd, eventfdCreate, memfdCreate, recvWithFds, RECV_AGAIN, sendWithFds } from '../../src/native/index.js';
import { FakeBoard } from '../helpers/fake-board.js';
import { connectUnixFd, TestFrontend } from '../helpers/frontend.js';
import { CORPUS_DIR, FuzzRecord, fuzzRuns, loadCorpus } from './support.js';
import type { Message, Session } from './vhost-backend.fuzz.test.js';

const record = new FuzzRecord('vhost-socket');
afterAll(() => record.write());

const RAM = 1 << 17;
let dir: string;
let socketPath: string;
let server: VhostUserServer;
const logs: string[] = [];
let gpio: VirtioGpioDevice;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vgpio-fuzz-'));
  socketPath = join(dir, 'gpio.sock');
  gpio = new VirtioGpioDevice(new FakeBoard(), { lines: [{ name: 'GP0' }, { name: 'GP1' }], requestTimeoutMs: 500 });
  server = new VhostUserServer({ socketPath, device: new GpioVhostDevice(gpio), log: (m) => logs.push(m) });
  await server.listen();
});
afterAll(async () => {
  await server.close();
  gpio.close();
  rmSync(dir, { recursive: true, force: true });
});

const openFds = (): number => readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) return false;
    await sleep(2);
  }
  return true;
}

/** A fresh frontend gets served: the server survived whatever came before. */
async function freshSession(uml = false): Promise<void> {
  await waitFor(() => server.backend === undefined);
  const f = await TestFrontend.connect(socketPath);
  try {
    await f.setup({ queueSize: 16, ramSize: RAM, uml });
    const r = await f.request(Msg.GET_DIRECTION, 1);
    expect({ len: r.len, output: r.output }).toEqual({ len: 2, output: Buffer.from([0, 2]) });
  } finally {
    f.close();
  }
  expect(await waitFor(() => server.backend === undefined), 'the server notices the frontend left').toBe(true);
}

describe('fuzz: the vhost-user server over a real socket', () => {
  it('records the test frontend\'s QEMU and UML sessions as seeds', async () => {
    for (const uml of [false, true]) {
      const file = join(CORPUS_DIR, 'vhost-backend', `recorded-${uml ? 'uml' : 'qemu'}-session.json`);
      const messages: Message[] = [];
      const original = VhostUserBackend.prototype.handle;
      VhostUserBackend.prototype.handle = function (header, payload, fds) {
        const kinds = fds.map((fd) => (isMemfd(fd) ? 'file' : 'event') as 'file' | 'event');
        messages.push({ request: header.request, flags: header.flags, payload: payload.toString('hex'), fds: kinds });
        return original.call(this, header, payload, fds);
      };
      try {
        await freshSession(uml);
      } finally {
        VhostUserBackend.prototype.handle = original;
      }
      expect(messages.length).toBeGreaterThan(10);
      const session: Session = { messages, kicks: true };
      if (process.env['VGPIO_FUZZ_RECORD'] === '1' || !existsSync(file)) writeFileSync(file, JSON.stringify(session, null, 1) + '\n');
    }
  });

  it('mutated sessions as byte streams', async () => {
    const seeds = loadCorpus<Session>('vhost-backend').filter((c) => c.name.startsWith('recorded-'));
    expect(seeds.length).toBeGreaterThan(0);
    const mutation = fc.record({
      seed: fc.nat(seeds.length - 1),
      edits: fc.array(
        fc.record({
          at: fc.nat(40),
          kind: fc.constantFrom('drop', 'dup', 'flags', 'size', 'cut', 'fds+', 'fds-', 'flip', 'junk', 'grow'),
          value: fc.nat(0xffffffff),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    await record.check(
      fc.asyncProperty(mutation, async ({ seed, edits }) => {
        record.counts.fuzzExecutions++;
        const messages = seeds[seed]!.input.messages.map((m) => ({ ...m, fds: [...m.fds] }));
        let cutAt: number | undefined;
        for (const e of edits) {
          const i = e.at % messages.length;
          const m = messages[i]!;
          switch (e.kind) {
            case 'drop': messages.splice(i, 1); break;
            case 'dup': messages.splice(i, 0, { ...m, fds: [...m.fds] }); break;
            case 'flags': m.flags = e.value & 1 ? m.flags ^ FLAG_NEED_REPLY : e.value; break;
            case 'size': m.size = e.value & 1 ? (e.value >>> 1) & 0x1fff : e.value; break;
            case 'cut': cutAt = i; break;
            case 'fds+': m.fds.push(e.value & 1 ? 'file' : 'event'); break;
            case 'fds-': m.fds.pop(); break;
            case 'flip': if (m.payload.length) { const b = Buffer.from(m.payload, 'hex'); b[e.value % b.length] = b[e.value % b.length]! ^ (1 << (e.value >>> 29)); m.payload = b.toString('hex'); } break;
            case 'grow': {
              // A memory table that claims more RAM than the file has (or moves it past the file's end).
              const t = messages.findIndex((x) => x.request === 5);
              if (t < 0) break;
              const b = Buffer.from(messages[t]!.payload, 'hex');
              if (b.length >= 40) b.writeBigUInt64LE(e.value & 1 ? BigInt(RAM) * 8n : BigInt((e.value & ~0xfff) >>> 0), e.value & 2 ? 16 : 32);
              messages[t]!.payload = b.toString('hex');
              break;
            }
            case 'junk': messages.splice(i, 0, { request: e.value & 0x3f, flags: 1 | (e.value & 8), payload: Buffer.alloc((e.value >>> 8) & 0x3f).toString('hex'), fds: [] }); break;
          }
          if (messages.length === 0) return;
        }
        await waitFor(() => server.backend === undefined);
        const before = openFds();
        await hostileStream(messages, cutAt);
        await freshSession(seed % 2 === 1);
        expect(openFds(), 'no fd leaked by the server').toBeLessThanOrEqual(before);
      }),
      { numRuns: fuzzRuns(120), timeout: 30_000 },
    );
  });
});

function isMemfd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:');
  } catch {
    return false;
  }
}

/** Sends the messages on a fresh connection, one at a time, reading replies; then hangs up. */
async function hostileStream(messages: Message[], cutAt: number | undefined): Promise<void> {
  const fd = await connectUnixFd(socketPath);
  const mine: number[] = [];
  const memfd = memfdCreate('fuzz-ram', RAM);
  mine.push(memfd);
  const drain = Buffer.alloc(4096);
  let closed = false;
  try {
    for (let i = 0; i < messages.length && !closed; i++) {
      const m = messages[i]!;
      const payload = Buffer.from(m.payload, 'hex');
      const header = Buffer.alloc(HEADER_SIZE);
      header.writeUInt32LE(m.request >>> 0, 0);
      header.writeUInt32LE(m.flags >>> 0, 4);
      header.writeUInt32LE((m.size ?? payload.length) >>> 0, 8);
      let bytes = Buffer.concat([header, payload]);
      if (i === cutAt) bytes = bytes.subarray(0, bytes.length >> 1); // a header or payload cut short
      const fds = m.fds.map((k) => (k === 'file' ? memfd : eventfdCreate()));
      for (const f of fds) if (f !== memfd) mine.push(f);
      try {
        sendWithFds(fd, bytes, fds);
      } catch {
        closed = true; // the server hung up (EPIPE)
        break;
      }
      if (i === cutAt) break;
      // Give the server its turn; read whatever it answered (or see it hang up).
      await sleep(1);
      for (;;) {
        let received;
        try {
          received = recvWithFds(fd, drain, 4);
        } catch {
          closed = true; // ECONNRESET: the server closed with our data unread
          break;
        }
        const { bytes: n, fds: got } = received;
        for (const g of got) closeFd(g);
        if (n === RECV_AGAIN) break;
        if (n === 0) {
          closed = true;
          break;
        }
      }
    }
  } finally {
    closeFd(fd);
    for (const f of mine) closeFd(f);
  }
  expect(await waitFor(() => server.backend === undefined), 'the server lets go of a frontend that hung up').toBe(true);
}
