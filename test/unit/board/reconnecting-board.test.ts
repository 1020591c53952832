import { afterEach, describe, expect, it } from 'vitest';
import { BoardDisconnectedError, ReconnectingBoard, type HotplugWatcher } from '../../../src/board/reconnecting-board.js';
import type { BoardEvent } from '../../../src/board/types.js';
import { DeviceError, LinkClosedError } from '../../../src/link/errors.js';
import { Status } from '../../../src/link/protocol.js';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { IrqStatus, IrqType, Msg, MsgStatus, VirtioDirection } from '../../../src/gpio/spec.js';
import { FakeBoard, FAKE_INFO } from '../../helpers/fake-board.js';

/** Boards handed out by the opener, one per (re)connection; `unplugged` makes opening fail like a missing tty. */
class Socket {
  readonly boards: FakeBoard[] = [];
  unplugged = false;
  opens = 0;
  next: (() => FakeBoard) | undefined;
  readonly open = async () => {
    this.opens++;
    if (this.unplugged) throw new Error('cannot open serial port /dev/ttyACM0: No such file or directory');
    const board = this.next?.() ?? new FakeBoard();
    this.boards.push(board);
    return board;
  };
  get latest(): FakeBoard {
    return this.boards[this.boards.length - 1]!;
  }
}

class FakeWatcher implements HotplugWatcher {
  listener: ((change: 'attach' | 'detach', serial: string) => void) | undefined;
  stopped = false;
  start(listener: (change: 'attach' | 'detach', serial: string) => void) { this.listener = listener; }
  stop() { this.stopped = true; }
}

const opened: ReconnectingBoard[] = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
});

async function make(options: { retryMs?: number; watcher?: HotplugWatcher } = {}) {
  const socket = new Socket();
  const logs: string[] = [];
  const board = await ReconnectingBoard.open({ open: socket.open, name: 'the board on /dev/ttyACM0', log: (m) => logs.push(m), retryMs: options.retryMs ?? 20, ...(options.watcher ? { watcher: options.watcher } : {}) });
  opened.push(board);
  return { socket, board, logs };
}

const once = <T>(emitter: ReconnectingBoard, event: 'reconnected' | 'disconnected') =>
  new Promise<T>((resolve) => emitter.once(event, resolve as (v: unknown) => void));

describe('ReconnectingBoard', () => {
  it('passes requests through to the board while it is attached', async () => {
    const { socket, board } = await make();
    expect(board.info.serial).toBe(FAKE_INFO.serial);
    await board.configure([2], { direction: 'output', value: 1 });
    expect((await board.getValues([3])).values.get(3)).toBe(1); // through the fake's wire 2-3
    expect(socket.latest.calls.map((c) => c.op)).toEqual(['configure', 'getValues']);
    expect(board.connected).toBe(true);
  });

  it('after the link closes, every request fails at once with an error naming the board and saying it waits', async () => {
    const { socket, board, logs } = await make({ retryMs: 60_000 });
    socket.unplugged = true;
    const disconnected = once<string>(board, 'disconnected');
    await socket.latest.close();
    expect(await disconnected).toContain('the link closed');
    expect(board.connected).toBe(false);
    expect(board.closed).toBe(false); // losing the board is not the end
    const error = await board.getValues([3]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(BoardDisconnectedError);
    expect((error as Error).message).toMatch(/^getValues: the board on \/dev\/ttyACM0 is disconnected \(the link closed: closed\); waiting for it to come back/);
    await expect(board.configure([2], { direction: 'output' })).rejects.toBeInstanceOf(BoardDisconnectedError);
    expect(logs.some((l) => /is gone .*waiting for it/.test(l))).toBe(true);
  });

  it('a request in flight when the link closes fails as disconnected, with the link error as its cause', async () => {
    const { socket, board } = await make({ retryMs: 60_000 });
    socket.unplugged = true;
    const first = socket.latest;
    first.gate = () => new Promise((_, reject) => first.once('close', () => reject(new LinkClosedError('GET_VALUES', 7, 'the stream closed'))));
    const pending = board.getValues([3]).catch((e: Error) => e);
    await new Promise((r) => setImmediate(r));
    await first.close();
    const error = await pending;
    expect(error).toBeInstanceOf(BoardDisconnectedError);
    expect((error as Error).cause).toBeInstanceOf(LinkClosedError);
  });

  it('on replug re-applies every line\'s settings, outputs before inputs, and the failsafe, then emits reconnected', async () => {
    const { socket, board, logs } = await make();
    await board.configure([4], { direction: 'input', bias: 'pull-up', edge: 'both', debounceUs: 50 });
    await board.configure([2], { direction: 'output', value: 0, drive: 'open-drain' });
    await board.configure([6, 8], { direction: 'input', level: 'high', bias: 'pull-down' });
    await board.setValues({ 2: 1 });
    await board.configure([10], { direction: 'off', bias: 'pull-up' });
    await board.failsafe({ timeoutMs: 500, drive: { 2: 0 }, release: [4] });
    socket.unplugged = true;
    await socket.latest.close();
    await new Promise((r) => setTimeout(r, 60)); // a few failed attempts while it is away
    expect(socket.opens).toBeGreaterThan(1);
    socket.unplugged = false;
    const info = await once(board, 'reconnected');
    expect(info).toEqual(FAKE_INFO);
    const fresh = socket.latest;
    expect(socket.boards).toHaveLength(2);
    const lines = fresh.lines;
    expect(lines[2]!.settings).toEqual({ direction: 'output', value: 1, bias: 'none', drive: 'open-drain', edge: 'none', level: 'none', debounceUs: 0 });
    expect(lines[4]!.settings).toEqual({ direction: 'input', value: 0, bias: 'pull-up', drive: 'push-pull', edge: 'both', level: 'none', debounceUs: 50 });
    expect(lines[6]!.settings.level).toBe('high');
    expect(lines[8]!.settings.level).toBe('high');
    expect(lines[6]!.levelArmed && lines[8]!.levelArmed).toBe(true);
    expect(lines[10]!.settings).toMatchObject({ direction: 'off', bias: 'pull-up' });
    expect(lines[12]!.settings.direction).toBe('off'); // never configured: left alone
    const ops = fresh.calls.map((c) => `${c.op}:${JSON.stringify(c.args[0])}`);
    expect(ops).toEqual(['configure:[10]', 'configure:[2]', 'configure:[4]', 'configure:[6,8]', `failsafe:${JSON.stringify({ timeoutMs: 500, drive: { 2: 0 }, release: [4] })}`]);
    expect(board.connected).toBe(true);
    expect(logs.some((l) => /is back .*5 line\(s\) and the failsafe restored/.test(l))).toBe(true);
    expect(logs.filter((l) => /not back yet/.test(l))).toHaveLength(1); // once per distinct reason
    // Requests go to the new board.
    expect((await board.getValues([3])).values.get(3)).toBe(1);
  });

  it('requests made while the configuration is being restored fail fast instead of racing the replay', async () => {
    const { socket, board } = await make();
    await board.configure([2], { direction: 'output', value: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    socket.next = () => {
      const b = new FakeBoard();
      b.gate = () => held;
      return b;
    };
    await socket.latest.close();
    while (socket.boards.length < 2) await new Promise((r) => setTimeout(r, 5));
    await expect(board.setValues({ 2: 0 })).rejects.toBeInstanceOf(BoardDisconnectedError);
    const reconnected = once(board, 'reconnected');
    release();
    await reconnected;
    expect(socket.latest.lines[2]!.level).toBe(1);
  });

  it('passes on events from each board, with line sequence numbers that keep counting after a replug', async () => {
    const { socket, board } = await make();
    const events: BoardEvent[] = [];
    board.on('event', (e) => events.push(e));
    await board.configure([3], { direction: 'input', edge: 'both' });
    await board.configure([2], { direction: 'output', value: 0 });
    await board.setValues({ 2: 1 });
    await board.setValues({ 2: 0 });
    expect((await board.lineState(3)).nextLineSeq).toBe(3);
    await socket.latest.close();
    await once(board, 'reconnected');
    // lineState speaks the same numbering as the events, not the fresh board's (which starts at 1 again).
    expect((await socket.latest.lineState(3)).nextLineSeq).toBe(1);
    expect((await board.lineState(3)).nextLineSeq).toBe(3);
    await board.setValues({ 2: 1 });
    expect((await board.lineState(3)).nextLineSeq).toBe(4);
    const edges = events.filter((e) => e.type === 'edge');
    expect(edges.map((e) => [e.line, e.edge, e.lineSeq])).toEqual([[3, 'rising', 1], [3, 'falling', 2], [3, 'rising', 3]]);
  });

  it('refuses a different board on the same port and keeps waiting for its own', async () => {
    const { socket, board, logs } = await make();
    socket.next = () => Object.assign(new FakeBoard(), { info: { ...FAKE_INFO, serial: '1111111111111111' } });
    await socket.latest.close();
    while (!logs.some((l) => /different board answered \(serial 1111111111111111/.test(l))) await new Promise((r) => setTimeout(r, 5));
    expect(board.connected).toBe(false);
    expect(socket.boards.every((b, i) => i === 0 || b.closed)).toBe(true);
    socket.next = undefined;
    await once(board, 'reconnected');
    expect(board.info.serial).toBe(FAKE_INFO.serial);
  });

  it('USB detach of its serial drops the board at once; attach tries again at once, not after retryMs', async () => {
    const watcher = new FakeWatcher();
    const { socket, board } = await make({ retryMs: 60_000, watcher });
    watcher.listener!('detach', '1111111111111111'); // someone else's board
    expect(board.connected).toBe(true);
    socket.unplugged = true;
    watcher.listener!('detach', FAKE_INFO.serial.toUpperCase());
    expect(board.connected).toBe(false);
    expect(socket.boards[0]!.closed).toBe(true);
    await expect(board.heartbeat()).rejects.toThrow(/USB detach/);
    socket.unplugged = false;
    watcher.listener!('attach', FAKE_INFO.serial);
    await once(board, 'reconnected'); // retryMs is a minute, the test's timeout 5 s: the attach did it
    await board.close();
    expect(watcher.stopped).toBe(true);
  });

  it('a tripped failsafe is what a replug restores: driven lines as outputs, released lines off, failsafe disarmed', async () => {
    const { socket, board } = await make();
    await board.configure([2], { direction: 'output', value: 1 });
    await board.configure([4], { direction: 'input', bias: 'pull-up' });
    await board.failsafe({ timeoutMs: 100, drive: { 2: 0 }, release: [4] });
    socket.latest.inject({ type: 'failsafe', timeUs: 5n, silenceMs: 100, driven: [{ line: 2, value: 0 }], released: [4] });
    await socket.latest.close();
    await once(board, 'reconnected');
    expect(socket.latest.lines[2]!.settings).toMatchObject({ direction: 'output', value: 0 });
    expect(socket.latest.lines[4]!.settings).toMatchObject({ direction: 'off', bias: 'pull-up' });
    expect(socket.latest.calls.find((c) => c.op === 'failsafe')!.args[0]).toBeNull();
  });

  it('reset forgets the configuration; link counters add up over connections; close ends events and retries', async () => {
    const { socket, board } = await make();
    await board.configure([2], { direction: 'output', value: 1 });
    await board.reset();
    socket.boards[0]!.counters.framesIn = 5;
    await socket.latest.close();
    await once(board, 'reconnected');
    expect(socket.latest.calls.filter((c) => c.op === 'configure')).toEqual([]);
    socket.latest.counters.framesIn = 2;
    expect(board.counters.framesIn).toBe(7);
    const iterator = board.events();
    socket.unplugged = true;
    await socket.latest.close();
    await board.close();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    const opens = socket.opens;
    await new Promise((r) => setTimeout(r, 80));
    expect(socket.opens).toBe(opens);
    await expect(board.ping()).rejects.toThrow(/was closed/);
  });
});

describe('the virtio-gpio device model on a board that is unplugged and replugged', () => {
  it('answers ERR at once while the board is gone, keeps the guest\'s interrupt buffer, and fires it on an edge after replug', async () => {
    const { socket, board } = await make();
    const device = new VirtioGpioDevice(board, { requestTimeoutMs: 60_000 });
    device.irqEnabled = true;
    expect(await device.request(Msg.SET_DIRECTION, 3, VirtioDirection.IN)).toEqual(Buffer.from([MsgStatus.OK, 0]));
    expect(await device.request(Msg.SET_IRQ_TYPE, 3, IrqType.EDGE_RISING)).toEqual(Buffer.from([MsgStatus.OK, 0]));
    await device.request(Msg.SET_VALUE, 2, 0);
    expect(await device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT)).toEqual(Buffer.from([MsgStatus.OK, 0]));
    const irq: number[] = [];
    device.postIrqBuffer(3, (status) => irq.push(status));
    socket.unplugged = true;
    await socket.latest.close();
    const answers = await Promise.all([device.request(Msg.GET_VALUE, 3, 0), device.request(Msg.SET_VALUE, 2, 1), device.request(Msg.SET_DIRECTION, 5, VirtioDirection.IN)]);
    // requestTimeoutMs is a minute and the test's timeout 5 s: these errors came from the board at once.
    expect(answers.every((a) => a[0] === MsgStatus.ERR)).toBe(true);
    expect(irq).toEqual([]); // the buffer stays with the device
    socket.unplugged = false;
    await once(board, 'reconnected');
    expect(socket.latest.lines[3]!.settings).toMatchObject({ direction: 'input', edge: 'rising' });
    expect(socket.latest.lines[2]!.settings).toMatchObject({ direction: 'output', value: 0 });
    expect(irq).toEqual([]); // restoring the wiring raised no edge
    expect(await device.request(Msg.SET_VALUE, 2, 1)).toEqual(Buffer.from([MsgStatus.OK, 0]));
    expect(irq).toEqual([IrqStatus.VALID]);
    device.close();
  });

  it('a guest that leaves while the board is gone has its lines released on replug, not driven again', async () => {
    const { socket, board } = await make();
    const device = new VirtioGpioDevice(board);
    await device.request(Msg.SET_VALUE, 2, 1);
    expect(await device.request(Msg.SET_DIRECTION, 2, VirtioDirection.OUT)).toEqual(Buffer.from([MsgStatus.OK, 0]));
    expect(await device.request(Msg.SET_DIRECTION, 4, VirtioDirection.IN)).toEqual(Buffer.from([MsgStatus.OK, 0]));
    socket.unplugged = true;
    await socket.latest.close();
    await device.reset(); // the frontend went away; the releases cannot reach the board
    socket.unplugged = false;
    await once(board, 'reconnected');
    expect(socket.latest.lines[2]!.settings).toMatchObject({ direction: 'off', bias: 'pull-down' });
    expect(socket.latest.lines[4]!.settings).toMatchObject({ direction: 'off', bias: 'pull-down' });
    expect(socket.latest.lines[3]!.level).toBe(0);
    device.close();
  });

  it('a refusal while restoring costs those lines, not the board; a link that dies while restoring means another attempt', async () => {
    const { socket, board, logs } = await make();
    await board.configure([2], { direction: 'output', value: 1 });
    await board.configure([4], { direction: 'input', debounceUs: 500 });
    let attempts = 0;
    socket.next = () => {
      const b = new FakeBoard();
      attempts++;
      b.gate = async (op, args) => {
        if (attempts === 1 && op === 'configure') {
          await b.close(); // the first replugged board goes away again mid-restore
          throw new LinkClosedError('LINE_CONFIG', 3, 'the stream closed');
        }
        if (op === 'configure' && (args[0] as number[]).includes(4)) throw new DeviceError('LINE_CONFIG', 9, Status.UNSUPPORTED, 0xff);
      };
      return b;
    };
    await socket.latest.close();
    await once(board, 'reconnected');
    expect(attempts).toBe(2);
    expect(socket.latest.lines[2]!.settings).toMatchObject({ direction: 'output', value: 1 });
    expect(socket.latest.lines[4]!.settings.direction).toBe('off');
    expect(logs.some((l) => /not back yet: .*the stream closed/.test(l))).toBe(true);
    expect(logs.some((l) => /could not restore lines 4: LINE_CONFIG request \(seq 9\) refused by the device: UNSUPPORTED/.test(l))).toBe(true);
    expect(board.connected).toBe(true);
  });
});
