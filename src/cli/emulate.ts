/**
 * `vgpio emulate --pty [--jig NAME] [--image FILE]`: the emulated board (firmware/dist in rp2040js) on a
 * pseudo-terminal. The first line on stdout is the pty path, alone, so scripts can read it; everything
 * else goes to stderr. Runs until SIGINT or SIGTERM, then closes the pty and the emulator and exits 0.
 */
import { Command } from 'commander';
import { startEmulator } from '../emulator/board.js';
import { PtyBridge } from '../emulator/pty-bridge.js';

export function emulateCommand(): Command {
  return new Command('emulate')
    .description('run the emulated board (the firmware/dist image in rp2040js) and expose it as a serial port')
    .option('--pty', 'expose the board on a pseudo-terminal and print its path (first line of stdout)')
    .option('--jig <name>', 'wire the pins with a jig from hw/jigs (e.g. loopback) or a jig file')
    .option('--image <file>', 'firmware image (BIN or UF2) instead of firmware/dist/vgpio.bin')
    .addHelpText('after', '\nExample: vgpio emulate --pty --jig loopback   (then open the printed /dev/pts/N with any serial tool)')
    .action(async (options: { pty?: boolean; jig?: string; image?: string }, command: Command) => {
      if (!options.pty) command.error('error: vgpio emulate needs --pty (a pseudo-terminal is the only way to expose the board so far)');
      const emulator = await startEmulator({
        ...(options.jig !== undefined ? { jig: options.jig } : {}),
        ...(options.image !== undefined ? { image: options.image } : {}),
      });
      const bridge = new PtyBridge(emulator.stream);
      process.stdout.write(`${bridge.path}\n`);
      const jig = emulator.jig ? `jig ${emulator.jig.id} (${emulator.jig.wires.map(([a, b]) => `${a}-${b}`).join(', ')})` : 'no jig';
      process.stderr.write(`vgpio emulate: emulated board (serial ${emulator.enumeration.serial}, ${jig}) on ${bridge.path}; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const stop = (why: string) => () => {
          process.stderr.write(`vgpio emulate: ${why}, stopping\n`);
          resolve();
        };
        process.once('SIGINT', stop('SIGINT'));
        process.once('SIGTERM', stop('SIGTERM'));
        emulator.once('fault', (error) => {
          process.stderr.write(`vgpio emulate: ${error.message}\n`);
          process.exitCode = 1;
          resolve();
        });
      });
      bridge.close();
      await emulator.close();
    });
}
