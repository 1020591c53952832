/** The `vgpio` command tree. Each subcommand lives in its own module and is added here. */
import { Command } from 'commander';
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

export function buildProgram(): Command {
  return new Command('vgpio')
    .description(pkg.description)
    .version(pkg.version, '-V, --version', 'print the vgpio version')
    .showHelpAfterError('(run `vgpio --help` for usage)')
    .addHelpText('after', '\nProtocol: hw/PROTOCOL.md. Documentation: README.md.')
    .addCommand(serveCommand())
    .addCommand(emulateCommand())
    .addCommand(listCommand())
    .addCommand(flashCommand())
    .addCommand(infoCommand())
    .addCommand(getCommand())
    .addCommand(setCommand())
    .addCommand(pulseCommand())
    .addCommand(monitorCommand());
}
