// An instantly answering in-process board for the host benchmarks: a protocol v1 responder on the far
// end of an in-memory duplex pair. It plays the firmware, so like the firmware it does its own SLIP
// (a byte loop here, kept apart from the daemon's library decoder so the two costs never mix), checks
// the CRC and decodes the request with the library's frame and layout code, and answers at once with a
// well-formed reply. All of its work per request is timed (`responderMs`) and reported apart from the
// daemon's. It also generates EDGES at a controlled rate, with a device event buffer of
// `eventCapacity` records that drops (and reports with OVERFLOW, hw/PROTOCOL.md §4.3) what does not fit.
import { dist } from './lib.mjs';

const linkLib = await dist('link/index.js');
const {
  decodeFrame, decodeRequest, duplexPair, encodeErrorReply, encodeEvent, encodeFrame, encodeReply, EventType,
  REPLY_BIT, Status, MAX_EDGES_PER_FRAME,
} = linkLib;

/** What the kernel buffers between a real board and the daemon while the daemon is not reading: the
 *  N_TTY read buffer, 4 KiB (the tty flip buffers in front of it hold more). An edge costs 8 bytes of
 *  record plus its share of a 31-record EDGES frame's header, CRC and SLIP ENDs. */
const WIRE_BUFFER_BYTES = 4096;
const WIRE_BYTES_PER_EDGE = (4 + 8 + 31 * 8 + 4 + 2) / 31;
export const WIRE_BUFFER_EDGES = Math.floor(WIRE_BUFFER_BYTES / WIRE_BYTES_PER_EDGE);

const SLIP_END = 0xc0;
const SLIP_ESC = 0xdb;
const SLIP_ESC_END = 0xdc;
const SLIP_ESC_ESC = 0xdd;

/** SLIP transmit, as the firmware does it (hw/PROTOCOL.md §1): END, escaped frame, END, per frame. */
function slipEncode(frames) {
  let size = 0;
  for (const f of frames) size += 2 * f.length + 2;
  const out = Buffer.allocUnsafe(size);
  let n = 0;
  for (const f of frames) {
    out[n++] = SLIP_END;
    for (let i = 0; i < f.length; i++) {
      const b = f[i];
      if (b === SLIP_END) { out[n++] = SLIP_ESC; out[n++] = SLIP_ESC_END; }
      else if (b === SLIP_ESC) { out[n++] = SLIP_ESC; out[n++] = SLIP_ESC_ESC; }
      else out[n++] = b;
    }
    out[n++] = SLIP_END;
  }
  return out.subarray(0, n);
}

export const INSTANT_INFO = {
  numLines: 30,
  reservedLines: (1 << 23) | (1 << 24) | (1 << 29),
  window: 8,
  eventCapacity: 256,
};
const ALL_CAPABILITIES = 0xfff;

export class InstantBoard {
  /**
   * @param options.window requests the board lets the host keep in flight (HELLO)
   * @param options.eventCapacity edge records the board buffers before dropping (HELLO)
   */
  constructor({ window = INSTANT_INFO.window, eventCapacity = INSTANT_INFO.eventCapacity } = {}) {
    const [host, board] = duplexPair();
    /** The host's end: give it to `new Link(...)`. */
    this.hostStream = host;
    this.stream = board;
    this.window = window;
    this.eventCapacity = eventCapacity;
    this.levels = 0;
    this.edgeLines = 0;
    this.startNs = process.hrtime.bigint();
    this.eventSeq = 0;
    this.counters = { requests: 0, replies: 0, badFrames: 0, responderMs: 0, edgesGenerated: 0, edgesSent: 0, edgesLost: 0, edgeFrames: 0, overflowFrames: 0, overflowLineEvents: 0 };
    this.rx = Buffer.alloc(2 * 264 + 2);
    this.rxLength = 0;
    this.rxEscape = false;
    board.on('data', (bytes) => this.onBytes(bytes));
  }

  /** SLIP receive, as the firmware does it: END delimits, ESC ESC_END / ESC ESC_ESC unescape. */
  onBytes(bytes) {
    const t0 = performance.now();
    const replies = [];
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === SLIP_END) {
        if (this.rxLength > 0) replies.push(this.onPacket(this.rx.subarray(0, this.rxLength)));
        this.rxLength = 0;
        this.rxEscape = false;
      } else if (this.rxEscape) {
        this.rxEscape = false;
        if (this.rxLength < this.rx.length) this.rx[this.rxLength++] = b === SLIP_ESC_END ? SLIP_END : b === SLIP_ESC_ESC ? SLIP_ESC : b;
      } else if (b === SLIP_ESC) this.rxEscape = true;
      else if (this.rxLength < this.rx.length) this.rx[this.rxLength++] = b;
    }
    const out = slipEncode(replies.filter(Boolean));
    this.counters.responderMs += performance.now() - t0;
    if (out.length > 0 && !this.stream.destroyed) this.stream.write(out);
  }

  /** Queues one frame out (events); requests are answered in onBytes. */
  send(frame) {
    if (!this.stream.destroyed) this.stream.write(slipEncode([frame]));
  }

  nowUs() {
    return (process.hrtime.bigint() - this.startNs) / 1000n;
  }

  /** One received frame: returns the reply frame (unescaped), or undefined for a bad frame. */
  onPacket(packet) {
    const decoded = decodeFrame(Buffer.from(packet));
    if (!decoded.ok) {
      this.counters.badFrames++;
      return undefined;
    }
    const { type, seq, payload } = decoded.frame;
    this.counters.requests++;
    let reply;
    try {
      const { name, body } = decodeRequest(type, payload);
      reply = this.answer(name, body);
    } catch {
      reply = encodeErrorReply(Status.BAD_REQUEST);
    }
    this.counters.replies++;
    return encodeFrame(type | REPLY_BIT, seq, reply);
  }

  answer(name, body) {
    switch (name) {
      case 'HELLO':
        return encodeReply('HELLO', {
          protocolVersion: 1, fwMajor: 0, fwMinor: 1, fwPatch: 0, maxPayload: 256, window: this.window,
          numLines: INSTANT_INFO.numLines, capabilities: ALL_CAPABILITIES, reservedLines: INSTANT_INFO.reservedLines,
          boardId: 2, eventCapacity: this.eventCapacity, serial: '494e5354414e5421', timeUs: this.nowUs(),
        });
      case 'PING':
        return encodeReply('PING', { timeUs: this.nowUs(), data: body.data });
      case 'LINE_CONFIG':
        if (body.edge !== 0) this.edgeLines |= body.lines;
        else this.edgeLines &= ~body.lines;
        if (body.direction === 1) this.levels = (this.levels & ~body.lines) | (body.value ? body.lines : 0);
        return encodeReply('LINE_CONFIG', {});
      case 'SET_VALUES':
        this.levels = (this.levels & ~body.mask) | (body.values & body.mask);
        return encodeReply('SET_VALUES', {});
      case 'GET_VALUES':
        return encodeReply('GET_VALUES', { values: (this.levels & body.mask) >>> 0, timeUs: this.nowUs() });
      case 'GET_STATS':
        return encodeReply('GET_STATS', { rxFrames: this.counters.requests, rxCrcErrors: 0, rxFramingErrors: 0, rxBadVersion: 0, rxUnknownType: 0, txFrames: this.counters.replies, eventsSent: this.counters.edgesSent, eventsLost: this.counters.edgesLost, txStalls: 0 });
      case 'GET_LINE_CONFIG':
        return encodeReply('GET_LINE_CONFIG', { lines: 1 << body.line, direction: 0, value: 0, bias: 0, drive: 0, edge: 0, level: 0, debounceUs: 0, pinLevel: 0, flags: 0, nextLineSeq: 0 });
      case 'PULSE':
        return encodeReply('PULSE', { startUs: this.nowUs() });
      default:
        return encodeReply(name, {});
    }
  }

  sendEvent(name, body) {
    this.send(encodeFrame(EventType[name], this.eventSeq, encodeEvent(name, body)));
    this.eventSeq = (this.eventSeq + 1) & 0xffff;
  }

  /**
   * Generates edges on `lines` (round robin, alternating rising and falling per line) at `rate` per second
   * of wall time for `durationMs`. Every tick (setInterval, ~1 ms) the edges due since the last one are
   * produced; at most `eventCapacity` + WIRE_BUFFER_EDGES of them fit (the device's event buffer plus
   * what the kernel's tty buffer holds while the daemon is not reading), the rest are dropped and
   * counted; they go out as EDGES frames of up to 31 records, followed by an OVERFLOW for what was
   * dropped. A tick delayed because the daemon's event loop was busy, or the daemon was not scheduled,
   * therefore brings a burst, and a burst larger than the buffers is loss: reported, never silent.
   * Resolves when generation ends.
   */
  generateEdges({ lines, rate, durationMs }) {
    const lineSeq = new Map(lines.map((l) => [l, 0]));
    const started = performance.now();
    let generated = 0;
    return new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        const elapsed = Math.min(now - started, durationMs);
        const due = Math.floor((rate * elapsed) / 1000) - generated;
        const baseUs = this.nowUs();
        const records = [];
        let lost = 0;
        let lostLines = 0;
        for (let i = 0; i < due; i++) {
          const line = lines[(generated + i) % lines.length];
          const seq = lineSeq.get(line) + 1;
          lineSeq.set(line, seq);
          if (records.length < this.eventCapacity + WIRE_BUFFER_EDGES) {
            // A rising edge for odd sequence numbers, falling for even: levels alternate on each line.
            records.push({ line, kind: seq & 1 ? 1 : 2, lineSeq: seq & 0xffff, timeUs: baseUs });
          } else {
            lost++;
            lostLines |= 1 << line;
          }
        }
        generated += due;
        this.counters.edgesGenerated += due;
        for (let at = 0; at < records.length; at += MAX_EDGES_PER_FRAME) {
          const edges = records.slice(at, at + MAX_EDGES_PER_FRAME).map((e) => ({ ...e, timeUs: baseUs }));
          this.sendEvent('EDGES', { baseUs, edges });
          this.counters.edgeFrames++;
        }
        this.counters.edgesSent += records.length;
        if (lost > 0) {
          this.sendEvent('OVERFLOW', { lost, lines: lostLines >>> 0, firstUs: baseUs, lastUs: baseUs });
          this.counters.edgesLost += lost;
          this.counters.overflowFrames++;
          for (let m = lostLines >>> 0; m; m &= m - 1) this.counters.overflowLineEvents++;
        }
        if (elapsed >= durationMs) {
          clearInterval(timer);
          resolve({ generated, seconds: (performance.now() - started) / 1000 });
        }
      };
      const timer = setInterval(tick, 1);
    });
  }
}
