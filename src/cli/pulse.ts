/**
 * `vgpio pulse LINE --us N [--level 0|1]`: drives LINE to the level for N microseconds, timed on the
 * board, waits for PULSE_DONE and prints its start and end (device time) and the measured width. A
 * line that is not an output yet becomes one at the opposite level first (drive and bias from the
 * profile, or --drive/--bias, which also reconfigure an output, keeping its level). With --active-low
 * the level is logical: --level 1 drives the pin low.
 */
import { Command, Option } from 'commander';
import type { Bit, BoardEvent, LineBias, LineDrive, PulseDoneEvent } from '../board/types.js';
import { activeLowOption, BenchError, BenchExit, biasOption, driveOption, json, lineLabel, parseLevel, parseMicroseconds, resolveLine, runOnBoard, withBoardOptions, type BoardChoiceOptions } from './common.js';

export interface PulseOptions extends BoardChoiceOptions {
  us: number;
  level: Bit;
  drive?: LineDrive;
  bias?: LineBias;
  activeLow?: boolean;
  json?: boolean;
}

export function pulseCommand(): Command {
  return withBoardOptions(
    new Command('pulse')
      .description('drive a line for N microseconds, timed on the board; prints start, end and measured width')
      .argument('<line>', 'line by profile name (GP2, LED; any case) or number')
      .addOption(new Option('--us <microseconds>', 'pulse width, 1 to 60000000').argParser(parseMicroseconds).makeOptionMandatory())
      .addOption(new Option('--level <0|1>', 'level during the pulse').default(1 as Bit).argParser(parseLevel))
      .addOption(driveOption())
      .addOption(biasOption())
      .addOption(activeLowOption('--level 1 drives the pin low'))
      .addOption(new Option('--json', 'print the result as JSON'))
      .addHelpText('after', '\nExample: vgpio pulse GP2 --us 500   (GP2 high for 500 us, then low again)'),
  ).action(async (spec: string, options: PulseOptions) => {
    await runOnBoard('pulse', options, async ({ board, profile }) => {
      const line = resolveLine(spec, profile);
      const name = lineLabel(profile, line.line);
      const pinLevel = (options.level ^ (options.activeLow ? 1 : 0)) as Bit;
      const state = await board.lineState(line.line);
      const output = state.direction === 'output';
      if (!output || options.drive !== undefined || options.bias !== undefined) {
        const value = output ? state.value : ((pinLevel ^ 1) as Bit);
        await board.configure([line.line], { direction: 'output', value, drive: options.drive ?? line.drive, bias: options.bias ?? line.bias });
      }
      const done = new Promise<PulseDoneEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          board.off('event', onEvent);
          reject(new BenchError(BenchExit.REFUSED, `line ${name}: no PULSE_DONE within ${options.us / 1000 + 2000} ms of a ${options.us} us pulse; the board may be overloaded, try \`vgpio info\``));
        }, options.us / 1000 + 2000);
        const onEvent = (event: BoardEvent) => {
          if (event.type === 'pulse-done' && event.line === line.line) {
            clearTimeout(timer);
            board.off('event', onEvent);
            resolve(event);
          }
        };
        board.on('event', onEvent);
      });
      done.catch(() => undefined);
      await board.pulse(line.line, { level: pinLevel, durationUs: options.us });
      const event = await done;
      const widthUs = event.endUs - event.startUs;
      const result = { line: line.line, name, level: options.level, activeLow: options.activeLow === true, requestedUs: options.us, startUs: event.startUs, endUs: event.endUs, widthUs, outcome: event.outcome };
      if (event.outcome !== 'completed') {
        throw new BenchError(BenchExit.REFUSED, `line ${name}: the pulse was ${event.outcome.replace(/-/g, ' ')} after ${widthUs} us of ${options.us} us`);
      }
      if (options.json) process.stdout.write(json({ ok: true, ...result }));
      else process.stdout.write(`${name}: level ${options.level} for ${options.us} us: start ${event.startUs} us, end ${event.endUs} us, width ${widthUs} us (device time)\n`);
    });
  });
}
