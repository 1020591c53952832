/**
 * What `vgpio monitor` prints and writes: formatRecord() for people, and vcdRecorder(), which turns the
 * records of monitorLines() into a Value Change Dump. A replugged board's clock restarts at power-up, so
 * the VCD's time is kept monotonic by an offset per connection, the time away measured with the host's
 * clock.
 */
import { VcdWriter, type VcdValue } from './vcd.js';
import { maxOf, type MonitorRecord } from './monitor-lines.js';

const formatSeconds = (us: bigint): string => `${(Number(us) / 1e6).toFixed(1)} s`;

/** Human-readable lines: device times in microseconds, names from the profile. */
export function formatRecord(record: MonitorRecord): string {
  switch (record.type) {
    case 'start':
      return `start ${record.timeUs} us: ${record.lines.map((l) => `${l.name}=${l.level}`).join(' ')} (${record.edges} edges${record.activeLow ? ', active low' : ''})\n`;
    case 'edge':
      return `${record.lostBefore ? `${record.timeUs} us ${record.name} LOST ${record.lostBefore} edges before seq ${record.lineSeq}\n` : ''}${record.timeUs} us ${record.name} ${record.edge} seq ${record.lineSeq}\n`;
    case 'overflow':
      return `${record.lastUs} us OVERFLOW lost ${record.lost} edges on ${record.lines.map((l) => l.name).join(' ')} (from ${record.firstUs} us to ${record.lastUs} us)\n`;
    case 'disconnect':
      return `board: ${record.board} is gone (${record.reason}); waiting for it (edges while it is away are not seen)\n`;
    case 'reconnect':
      return `board: ${record.board} is back at ${record.timeUs} us${record.clockRestarted ? ' (it restarted: device times count from its power-up)' : ''} after ${formatSeconds(record.awayUs)} away; levels ${record.lines.map((l) => `${l.name}=${l.level}`).join(' ')}\n`;
    case 'summary': {
      const span = record.disconnects === 0
        ? `${record.connectedUs} us (device time)`
        : `${record.connectedUs + record.awayUs} us (${record.connectedUs} us connected by the device clock, ${record.awayUs} us away by the host clock)`;
      const replugs = record.disconnects === 0 ? '' : `; the board went away ${record.disconnects} time${record.disconnects === 1 ? '' : 's'}${record.endedAway ? ' and was away when monitoring stopped' : ''}`;
      const head = `summary: ${record.edges} edges in ${span}, stopped by ${record.stoppedBy}${replugs}${record.overflowLost ? `; the board reported ${record.overflowLost} edges lost` : ''}\n`;
      return head + record.lines.map((l) => `  ${l.name}: ${l.edges} edges, ${l.lost} lost\n`).join('');
    }
  }
}

/**
 * Feeds monitor records into a VCD: #0 is the start sample, times are relative to it. Lost edges make the
 * affected lines 'x' (level unknown) from the first lost edge until their next edge, with a note in the
 * closing $comment. While the board is unplugged every line is 'x'. A replugged board's clock restarts at
 * power-up, so from each reconnect on, VCD time is the device time plus a new offset that puts the new
 * sample the host-measured time away after the disconnect; the notes give each offset.
 */
export function vcdRecorder(writer: (header: { signals: string[]; comment: string }) => VcdWriter): (record: MonitorRecord) => void {
  let vcd: VcdWriter | undefined;
  /** VCD time = device time + offset, for the current connection. */
  let offset = 0n;
  const index = new Map<number, number>();
  let last = 0n;
  let goneAt: bigint | undefined;
  const at = (timeUs: bigint) => {
    const t = timeUs + offset;
    if (t > last) last = t;
    return last;
  };
  return (record) => {
    switch (record.type) {
      case 'start':
        offset = -record.timeUs;
        record.lines.forEach((l, i) => index.set(l.line, i));
        vcd = writer({
          signals: record.lines.map((l) => l.name),
          comment: `#0 is device time ${record.timeUs} us; ${record.activeLow ? 'active-low lines, levels inverted' : 'levels as at the pins'}; x = level unknown after lost edges or while the board was unplugged (notes at the end)`,
        });
        vcd.begin(record.lines.map((l) => l.level));
        break;
      case 'edge': {
        const t = at(record.timeUs);
        const i = index.get(record.line)!;
        if (record.lostBefore) vcd!.note(t, `${record.lostBefore} edges lost on ${record.name} before this one (line_seq gap)`);
        vcd!.change(t, i, record.level);
        break;
      }
      case 'overflow': {
        if (goneAt !== undefined) {
          // From the board being restored: its times are on a clock not placed yet; the lines are x anyway.
          vcd!.note(last, `OVERFLOW while the board was being restored: ${record.lost} edges lost on ${record.lines.map((l) => l.name).join(' ')}`);
          break;
        }
        const t = at(record.firstUs);
        vcd!.note(t, `OVERFLOW: the board lost ${record.lost} edges from ${record.firstUs + offset} us to ${record.lastUs + offset} us on ${record.lines.map((l) => l.name).join(' ')}`);
        for (const l of record.lines) vcd!.change(t, index.get(l.line)!, 'x' satisfies VcdValue);
        break;
      }
      case 'disconnect': {
        const t = at(record.timeUs);
        goneAt = t;
        vcd!.note(t, `${record.board} went away (${record.reason}), at device time ${record.timeUs} us (estimated with the host clock); every line x until it is back`);
        for (const i of index.values()) vcd!.change(t, i, 'x');
        break;
      }
      case 'reconnect': {
        const back = maxOf(last, (goneAt ?? last) + record.awayUs);
        offset = back - record.timeUs;
        last = back;
        goneAt = undefined;
        vcd!.note(back, `${record.board} is back after ${record.awayUs} us away (host clock); levels sampled at device time ${record.timeUs} us; from here VCD time = device time ${offset < 0n ? '-' : '+'} ${offset < 0n ? -offset : offset} us${record.clockRestarted ? ' (its clock restarted when it was plugged in again)' : ''}`);
        for (const l of record.lines) vcd!.change(back, index.get(l.line)!, l.level);
        break;
      }
      case 'summary':
        vcd!.end(maxOf(last, record.connectedUs + record.awayUs));
        break;
    }
  };
}

