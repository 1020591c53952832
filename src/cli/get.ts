/**
 * `vgpio get LINE...`: configures the lines as inputs (bias from --bias, else the profile's) and reads
 * them in one sample; prints NAME=VALUE per line, and the device timestamp with --json.
 */
import { Command, Option } from 'commander';
import type { Bit, LineBias } from '../board/types.js';
import { activeLowOption, biasOption, groupBy, json, lineLabel, resolveLines, runOnBoard, withBoardOptions, type BoardChoiceOptions } from './common.js';

export interface GetOptions extends BoardChoiceOptions {
  bias?: LineBias;
  activeLow?: boolean;
  json?: boolean;
}

export function getCommand(): Command {
  return withBoardOptions(
    new Command('get')
      .description('configure lines as inputs and read them in one sample: prints NAME=VALUE per line')
      .argument('<lines...>', 'lines by profile name (GP2, LED; any case) or number')
      .addOption(biasOption())
      .addOption(activeLowOption('report 1 when the pin is low'))
      .addOption(new Option('--json', 'print the values and the device timestamp as JSON'))
      .addHelpText('after', '\nExample: vgpio get GP3 GP5 --bias pull-up'),
  ).action(async (specs: string[], options: GetOptions) => {
    await runOnBoard('get', options, async ({ board, profile }) => {
      const lines = resolveLines(specs, profile);
      for (const group of groupBy(lines, (l) => options.bias ?? l.bias)) {
        await board.configure(group.items.map((l) => l.line), { direction: 'input', bias: group.key });
      }
      const { values, timeUs } = await board.getValues(lines.map((l) => l.line));
      const read = lines.map((l) => ({ line: l.line, name: lineLabel(profile, l.line), value: ((values.get(l.line)! ^ (options.activeLow ? 1 : 0)) as Bit) }));
      if (options.json) process.stdout.write(json({ ok: true, timeUs, activeLow: options.activeLow === true, lines: read }));
      else process.stdout.write(read.map((r) => `${r.name}=${r.value}\n`).join(''));
    });
  });
}
