/** The `vgpio` command tree. Each subcommand lives in its own module and is added here. */
import { Command, type CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { serveCommand } from './serve.js';
import { emulateCommand } from './emulate.js';
import { flashCommand } from './flash.js';
import { listCommand } from './list.js';
import { infoCommand } from './info.js';
import { getCommand } from './get.js';
import { setCommand } from './set.js';
import { pulseCommand } from './pulse.js';
import { monitorCommand } from './monitor.js';

export const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description: string };

/**
 * A usage error (unknown option, bad option value, missing option) exits 2, as in the bench commands,
 * instead of commander's 1; help and version exit 0. Errors found later map in main.ts.
 */
function usageExitsTwo(command: Command): Command {
  return command
    .addHelpText('after', `
Exit codes:
  0  stopped by SIGINT or SIGTERM
  1  unexpected error
  2  bad input: option, profile, jig or image
  3  no board: none attached (use --board PATH|serial:NO, or --board emulator), or it cannot be opened
`)
    .exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : 2));
}

export function buildProgram(): Command {
  return new Command('vgpio')
    .description(pkg.description)
    .version(pkg.version, '-V, --version', 'print the vgpio version')
    .showHelpAfterError('(run `vgpio --help` for usage)')
    .addHelpText('after', '\nProtocol: hw/PROTOCOL.md. Documentation: README.md.')
    .addCommand(usageExitsTwo(serveCommand()))
    .addCommand(usageExitsTwo(emulateCommand()))
    .addCommand(listCommand())
    .addCommand(flashCommand())
    .addCommand(infoCommand())
    .addCommand(getCommand())
    .addCommand(setCommand())
    .addCommand(pulseCommand())
    .addCommand(monitorCommand());
}
