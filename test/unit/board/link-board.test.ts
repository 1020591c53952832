import { afterEach, describe, expect, it } from 'vitest';
import { BoardUsageError, LinkBoard, type BoardEvent } from '../../../src/board/index.js';
import { duplexPair, Link, Status, VersionMismatchError, DeviceError, type RequestBodies } from '../../../src/link/index.js';
import { ScriptedPeer } from '../../helpers/peer.js';
import { connectScripted, PICO_HELLO } from '../../helpers/device.js';

const boards: LinkBoard[] = [];
afterEach(async () => {
  for (const b of boards.splice(0)) await b.close();
});

/** A board whose device acknowledges everything and records what it was asked. */
async function recordingBoard() {
  const asked: Array<{ name: string; body: unknown }> = [];
  const { board, peer } = await connectScripted((peer, r) => {
    asked.push({ name: r.request.name, body: r.request.body });
    switch (r.request.name) {
      case 'GET_VALUES': peer.reply(r, 'GET_VALUES', { values: 0b1010 & r.request.body.mask, timeUs: 77n }); break;
      case 'PULSE': peer.reply(r, 'PULSE', { startUs: 500n }); break;
      case 'PING': peer.reply(r, 'PING', { timeUs: 9n, data: r.request.body.data }); break;
      case 'GET_LINE_CONFIG':
        peer.reply(r, 'GET_LINE_CONFIG', { lines: 1 << r.request.body.line, direction: 2, value: 0, bias: 1, drive: 0, edge: 3, level: 0, debounceUs: 200, pinLevel: 1, flags: 2, nextLineSeq: 42 });
        break;
      case 'GET_STATS':
        peer.reply(r, 'GET_STATS', { rxFrames: 1, rxCrcErrors: 0, rxFramingErrors: 0, rxBadVersion: 0, rxUnknownType: 0, txFrames: 1, eventsSent: 0, eventsLost: 0, txStalls: 0 });
        break;
      default: peer.reply(r, r.request.name as 'HEARTBEAT', {});
    }
  });
  boards.push(board);
  return { board, peer, asked };
}

describe('connecting', () => {
  it('turns HELLO into board info', async () => {
    const { board } = await recordingBoard();
    expect(board.info).toEqual({
      protocolVersion: 1, firmwareVersion: '0.1.0', serial: 'e66038b7136b4f2a', boardId: 2, boardName: 'Raspberry Pi Pico',
      numLines: 30, reservedLines: [23, 24, 29],
      capabilities: ['pulse', 'failsafe', 'debounce', 'open-drain', 'open-source', 'pull-up', 'pull-down', 'bus-keeper', 'edge-events', 'level-events', 'bootloader', 'stats'],
      window: 8, maxPayload: 256, eventCapacity: 256,
    });
  });

  it('refuses a device that answers HELLO with BAD_VERSION, naming both versions', async () => {
    const [host, device] = duplexPair();
    const peer = new ScriptedPeer(device);
    const connecting = LinkBoard.connect(new Link(host));
    const [r] = await peer.waitFor(1);
    peer.replyError(r!, Status.BAD_VERSION, 3);
    const e = await connecting.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VersionMismatchError);
    expect((e as Error).message).toMatch(/speaks protocol v3, this vgpio speaks v1: upgrade vgpio/);
  });

  it('refuses a device whose HELLO names another protocol version', async () => {
    await expect(connectScripted(() => {}, { ...PICO_HELLO, protocolVersion: 2 })).rejects.toThrow(/protocol v2/);
  });
});

describe('requests', () => {
  it('configure maps plain settings to the wire and defaults sensibly', async () => {
    const { board, asked } = await recordingBoard();
    await board.configure([3], { direction: 'input', edge: 'both', bias: 'pull-up', debounceUs: 1500 });
    await board.configure([2, 4], { direction: 'output', value: 1, drive: 'open-drain' });
    await board.configure([0], { direction: 'off' });
    expect(asked.map((a) => a.body)).toEqual<RequestBodies['LINE_CONFIG'][]>([
      { lines: 8, direction: 2, value: 0, bias: 1, drive: 0, edge: 3, level: 0, debounceUs: 1500 },
      { lines: 0b10100, direction: 1, value: 1, bias: 0, drive: 1, edge: 0, level: 0, debounceUs: 0 },
      { lines: 1, direction: 0, value: 0, bias: 2, drive: 0, edge: 0, level: 0, debounceUs: 0 },
    ]);
  });

  it('refuses bad lines and settings on the host, naming the line and the fix, without sending anything', async () => {
    const { board, asked } = await recordingBoard();
    await expect(board.configure([23], { direction: 'output' })).rejects.toThrow(/line 23 is reserved on the Raspberry Pi Pico .* pick another line/);
    await expect(board.configure([30], { direction: 'input' })).rejects.toThrow(/line 30 does not exist; this Raspberry Pi Pico has lines 0 to 29/);
    await expect(board.configure([1], { direction: 'output', edge: 'rising' })).rejects.toThrow(/inputs only/);
    await expect(board.configure([1], { direction: 'input', drive: 'open-drain' })).rejects.toThrow(/outputs only/);
    await expect(board.configure([1], { direction: 'input', debounceUs: 2_000_000 })).rejects.toThrow(/debounce/);
    await expect(board.configure([1], { direction: 'sideways' as never })).rejects.toThrow(/direction "sideways"/);
    await expect(board.configure([1], { direction: 'input', bias: 'pull-sideways' as never })).rejects.toThrow(/bias "pull-sideways"/);
    await expect(board.setValues({ 5: 2 as never })).rejects.toThrow(/value 2 is not a level/);
    await expect(board.setValues({})).rejects.toThrow(/at least one line/);
    await expect(board.pulse(2, { level: 1, durationUs: 0 })).rejects.toThrow(/duration of 0 us on line 2/);
    await expect(board.failsafe({ timeoutMs: 100, drive: { 3: 0 }, release: [3] })).rejects.toThrow(/lines 3 are both driven and released/);
    await expect(board.failsafe({ timeoutMs: 5 })).rejects.toThrow(/timeout of 5 ms/);
    await expect(board.getValues([24])).rejects.toBeInstanceOf(BoardUsageError);
    expect(asked).toEqual([]);
  });

  it('sets, gets, pulses, arms the failsafe and reads line state', async () => {
    const { board, asked } = await recordingBoard();
    await board.setValues(new Map([[2, 1], [3, 0]]));
    const got = await board.getValues([1, 3, 4]);
    expect([...got.values]).toEqual([[1, 1], [3, 1], [4, 0]]);
    expect(got.timeUs).toBe(77n);
    expect(await board.pulse(2, { level: 1, durationUs: 250 })).toEqual({ startUs: 500n });
    await board.failsafe({ timeoutMs: 500, drive: { 2: 0, 5: 1 }, release: [3] });
    await board.failsafe(null);
    await board.rearmLevel([21]);
    const state = await board.lineState(7);
    expect(state).toEqual({ line: 7, direction: 'input', value: 0, bias: 'pull-up', drive: 'push-pull', edge: 'both', level: 'none', debounceUs: 200, pinLevel: 1, pulseActive: false, levelArmed: true, nextLineSeq: 42 });
    const ping = await board.ping(Buffer.from('abc'));
    expect(ping.deviceTimeUs).toBe(9n);
    expect(ping.roundTripUs).toBeGreaterThan(0);
    expect((await board.stats()).rxFrames).toBe(1);
    expect(asked.map((a) => [a.name, a.body])).toEqual([
      ['SET_VALUES', { mask: 0b1100, values: 0b0100 }],
      ['GET_VALUES', { mask: 0b11010 }],
      ['PULSE', { line: 2, level: 1, durationUs: 250 }],
      ['FAILSAFE', { timeoutMs: 500, driveMask: 0b100100, driveValues: 0b100000, releaseMask: 0b1000 }],
      ['FAILSAFE', { timeoutMs: 0, driveMask: 0, driveValues: 0, releaseMask: 0 }],
      ['LEVEL_REARM', { mask: 1 << 21 }],
      ['GET_LINE_CONFIG', { line: 7 }],
      ['PING', { data: Buffer.from('abc') }],
      ['GET_STATS', {}],
    ]);
  });

  it('passes device refusals through as DeviceError', async () => {
    const { board } = await connectScripted((peer, r) => peer.replyError(r, Status.BUSY, 2));
    boards.push(board);
    const e = await board.pulse(2, { level: 1, durationUs: 10 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as Error).message).toMatch(/PULSE request .* BUSY on line 2: a pulse is still running/);
  });
});

describe('events', () => {
  it('turns wire events into board events and extends line_seq past 16 bits', async () => {
    const { board, peer } = await recordingBoard();
    const seen: BoardEvent[] = [];
    board.on('event', (e) => seen.push(e));
    peer.event('EDGES', { baseUs: 10n, edges: [{ line: 3, kind: 1, lineSeq: 65534, timeUs: 10n }, { line: 3, kind: 2, lineSeq: 65535, timeUs: 11n }] });
    peer.event('EDGES', { baseUs: 12n, edges: [{ line: 3, kind: 1, lineSeq: 0, timeUs: 12n }, { line: 4, kind: 2, lineSeq: 1, timeUs: 13n }, { line: 3, kind: 2, lineSeq: 3, timeUs: 14n }] });
    peer.event('OVERFLOW', { lost: 4, lines: 0b11000, firstUs: 15n, lastUs: 16n });
    peer.event('LEVEL', { timeUs: 20n, lines: (1 << 21) | (1 << 22), values: 1 << 22 });
    peer.event('PULSE_DONE', { line: 2, level: 1, outcome: 0, startUs: 500n, endUs: 750n });
    peer.event('FAILSAFE_TRIPPED', { timeUs: 900n, driveMask: 0b100100, driveValues: 0b100000, releaseMask: 8, silenceMs: 503 });
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([
      { type: 'edge', line: 3, edge: 'rising', timeUs: 10n, lineSeq: 65534 },
      { type: 'edge', line: 3, edge: 'falling', timeUs: 11n, lineSeq: 65535 },
      { type: 'edge', line: 3, edge: 'rising', timeUs: 12n, lineSeq: 65536 },
      { type: 'edge', line: 4, edge: 'falling', timeUs: 13n, lineSeq: 1 },
      { type: 'edge', line: 3, edge: 'falling', timeUs: 14n, lineSeq: 65539 },
      { type: 'overflow', lost: 4, lines: [3, 4], firstUs: 15n, lastUs: 16n },
      { type: 'level', timeUs: 20n, levels: [{ line: 21, value: 0 }, { line: 22, value: 1 }] },
      { type: 'pulse-done', line: 2, level: 1, outcome: 'completed', startUs: 500n, endUs: 750n },
      { type: 'failsafe', timeUs: 900n, silenceMs: 503, driven: [{ line: 2, value: 0 }, { line: 5, value: 1 }], released: [3] },
    ]);
  });

  it('events() yields in order, keeps what arrived before close, then ends', async () => {
    const { board, peer } = await recordingBoard();
    const iterator = board.events();
    peer.event('EDGES', { baseUs: 1n, edges: [{ line: 5, kind: 1, lineSeq: 1, timeUs: 1n }, { line: 5, kind: 2, lineSeq: 2, timeUs: 2n }] });
    await new Promise((r) => setTimeout(r, 20));
    await board.close();
    const got: BoardEvent[] = [];
    for await (const e of iterator) got.push(e);
    expect(got.map((e) => e.type === 'edge' && e.lineSeq)).toEqual([1, 2]);
  });

  it('events() stops on an abort signal', async () => {
    const { board, peer } = await recordingBoard();
    const controller = new AbortController();
    const got: BoardEvent[] = [];
    const loop = (async () => {
      for await (const e of board.events({ signal: controller.signal })) {
        got.push(e);
        controller.abort();
      }
    })();
    peer.event('LEVEL', { timeUs: 1n, lines: 1, values: 1 });
    await loop;
    expect(got).toHaveLength(1);
    expect(board.closed).toBe(false);
  });
});
