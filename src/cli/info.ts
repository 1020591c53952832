/**
 * `vgpio info`: the board (serial, firmware, protocol) and every line: its profile name and header pin,
 * whether it is reserved and why, its configuration as the device reports it, and the level at the pin.
 * Reads only; nothing is reconfigured.
 */
import { Command, Option } from 'commander';
import { DeviceError } from '../link/errors.js';
import type { LineState } from '../board/types.js';
import { json, runOnBoard, withBoardOptions, type BenchBoard, type BoardChoiceOptions } from './common.js';

export interface InfoLine {
  line: number;
  name: string;
  header: number | null;
  reserved: string | null;
  /** The device's view; null when it would not say (e.g. a line the firmware reserves). */
  state: Omit<LineState, 'line'> | null;
}

export async function collectInfo(bench: BenchBoard): Promise<{ board: BenchBoard['board']['info']; where: string; profile: string; lines: InfoLine[] }> {
  const lines: InfoLine[] = [];
  for (const l of bench.profile.lines) {
    let state: InfoLine['state'] = null;
    try {
      const { line: _line, ...rest } = await bench.board.lineState(l.line);
      state = rest;
    } catch (error) {
      if (!(error instanceof DeviceError)) throw error;
    }
    lines.push({ line: l.line, name: l.name, header: l.header ?? null, reserved: l.reserved ?? null, state });
  }
  return { board: bench.board.info, where: bench.what, profile: bench.profile.id, lines };
}

export function formatInfo(result: Awaited<ReturnType<typeof collectInfo>>): string {
  const b = result.board;
  const out = [
    `${result.where}: ${b.boardName}, serial ${b.serial}, firmware ${b.firmwareVersion}, protocol v${b.protocolVersion}, ${b.numLines} lines, profile ${result.profile}`,
  ];
  const rows = [['LINE', 'NAME', 'PIN', 'DIRECTION', 'BIAS', 'DRIVE', 'EDGE', 'DEBOUNCE', 'LEVEL', 'NOTE']];
  for (const l of result.lines) {
    const s = l.state;
    const notes = [l.reserved !== null ? `reserved: ${l.reserved}` : '', s?.pulseActive ? 'pulse running' : '', s?.levelArmed ? `level ${s.level} armed` : ''].filter(Boolean);
    rows.push([
      String(l.line),
      l.name || '-',
      l.header === null ? '-' : String(l.header),
      s?.direction ?? '-',
      s?.bias ?? '-',
      s && s.direction === 'output' ? s.drive : '-',
      s && s.direction === 'input' ? s.edge : '-',
      s && s.direction === 'input' && s.debounceUs ? `${s.debounceUs}us` : '-',
      s ? String(s.pinLevel) : '-',
      notes.join('; '),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out.push(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  return `${out.join('\n')}\n`;
}

export function infoCommand(): Command {
  return withBoardOptions(
    new Command('info')
      .description('show the board and every line: name, reserved, configuration and level (reads only)')
      .addOption(new Option('--json', 'print the result as JSON')),
  ).action(async (options: BoardChoiceOptions & { json?: boolean }) => {
    await runOnBoard('info', options, async (bench) => {
      const result = await collectInfo(bench);
      process.stdout.write(options.json ? json({ ok: true, ...result }) : formatInfo(result));
    });
  });
}
