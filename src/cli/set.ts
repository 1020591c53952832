/**
 * `vgpio set LINE=VALUE...`: configures the lines as outputs and sets their levels in one request, so
 * they change together. Each line first becomes an output at the level its pin already has, then one
 * SET_VALUES changes them all.
 *
 * Without --hold the command exits and the levels stay: the board keeps driving them (a real board
 * until it is reset, reconfigured or unplugged; with --board emulator the emulator exits with the
 * command). With --hold it keeps running, and the board's port open, until SIGINT or SIGTERM, then
 * releases the lines (off, idle bias from the profile) and exits 0.
 */
import { Command, Option } from 'commander';
import type { Bit, LineBias, LineDrive } from '../board/types.js';
import { activeLowOption, BenchError, BenchExit, biasOption, driveOption, groupBy, lineLabel, parseAssignment, resolveLines, runOnBoard, withBoardOptions, type BoardChoiceOptions } from './common.js';

export interface SetOptions extends BoardChoiceOptions {
  drive?: LineDrive;
  bias?: LineBias;
  activeLow?: boolean;
  hold?: boolean;
}

const waitForSignal = () =>
  new Promise<string>((resolve) => {
    const on = (signal: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });

export function setCommand(): Command {
  return withBoardOptions(
    new Command('set')
      .description('configure lines as outputs and set them together; the levels stay after the command exits (--hold: until Ctrl-C, then released)')
      .argument('<assignments...>', 'LINE=VALUE, e.g. GP2=1 LED=0 (lines by profile name or number; values 0/1, low/high)')
      .addOption(driveOption())
      .addOption(biasOption())
      .addOption(activeLowOption('VALUE 1 drives the pin low'))
      .addOption(new Option('--hold', 'keep running and the lines driven until SIGINT/SIGTERM, then release them'))
      .addHelpText(
        'after',
        '\nWithout --hold the host process exits and the board keeps the levels (a real board until reset or\nreconfigured; --board emulator does not persist between commands).\nExample: vgpio set GP2=1 LED=1 --hold',
      ),
  ).action(async (assignments: string[], options: SetOptions) => {
    // values are checked before any board is opened: a typo costs nothing
    let parsed: Array<{ spec: string; value: Bit }>;
    try {
      parsed = assignments.map(parseAssignment);
    } catch (error) {
      process.stderr.write(`vgpio set: ${(error as Error).message}\n`);
      process.exitCode = error instanceof BenchError ? error.exitCode : BenchExit.UNEXPECTED;
      return;
    }
    await runOnBoard('set', options, async ({ board, profile, what }) => {
      const lines = resolveLines(parsed.map((p) => p.spec), profile);
      const wanted = new Map(lines.map((l, i) => [l.line, (parsed[i]!.value ^ (options.activeLow ? 1 : 0)) as Bit]));
      const { values: now } = await board.getValues(lines.map((l) => l.line));
      const groups = groupBy(lines, (l) => ({ drive: options.drive ?? l.drive, bias: options.bias ?? l.bias, value: now.get(l.line)! }));
      for (const { key, items } of groups) await board.configure(items.map((l) => l.line), { direction: 'output', ...key });
      await board.setValues(wanted);
      const shown = lines.map((l, i) => `${lineLabel(profile, l.line)}=${parsed[i]!.value}`).join(' ');
      if (!options.hold) return;
      process.stderr.write(`vgpio set: holding ${shown} on ${what}; Ctrl-C or SIGTERM releases the lines\n`);
      const signal = await waitForSignal();
      for (const { key, items } of groupBy(lines, (l) => l.idleBias)) await board.configure(items.map((l) => l.line), { direction: 'off', bias: key });
      process.stderr.write(`vgpio set: ${signal}: released ${lines.map((l) => lineLabel(profile, l.line)).join(' ')}\n`);
    });
  });
}
