/**
 * `vgpio serve`: the vhost-user virtio-gpio backend. Opens a board (a real one if attached, else the
 * emulated one), listens on a unix socket, prints the QEMU and UML command lines to use, and logs
 * connections, negotiated features and errors in plain words.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { openBoard } from '../board/open.js';
import { findBoardPath } from '../board/discovery.js';
import { fitProfile, loadProfile, type BoardProfile } from '../board/profile.js';
import type { LinkBoard } from '../board/link-board.js';
import { VirtioGpioDevice } from '../gpio/device.js';
import { GpioVhostDevice } from '../gpio/vhost-device.js';
import { VhostUserServer } from '../vhost/server.js';

export interface ServeOptions {
  socket: string;
  board: string;
  jig: string;
  profile?: string;
  socketMode: number;
  socketGroup?: string;
}

const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);

export function qemuCommandLine(socket: string): string {
  return [
    'qemu-system-x86_64 -machine q35 -m 512M -nographic \\',
    '  -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \\',
    `  -chardev socket,id=vgpio,path=${socket},reconnect=1 -device vhost-user-gpio-pci,chardev=vgpio,id=gpio \\`,   // reconnect=1: the VM survives a daemon restart
    '  -kernel bzImage -append "console=ttyS0"   # a kernel with CONFIG_GPIO_VIRTIO=y',
  ].join('\n');
}

export function umlCommandLine(socket: string): string {
  return `linux mem=128M virtio_uml.device=${socket}:41   # a User-Mode Linux kernel with CONFIG_VIRTIO_UML and CONFIG_GPIO_VIRTIO`;
}

function groupId(group: string): number {
  if (/^[0-9]+$/.test(group)) return Number(group);
  try {
    return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    throw new Error(`--socket-group: no group named "${group}"`);
  }
}

async function openChosenBoard(choice: string, jig: string): Promise<{ board: LinkBoard; what: string }> {
  const path = choice === 'emulator' ? undefined : await findBoardPath(choice);
  if (path === undefined) {
    const board = await openBoard({ emulator: true, jig });
    return { board, what: `the emulated board (firmware/dist in rp2040js, jig "${jig}")${choice === 'auto' ? '; no vgpio board is attached' : ''}` };
  }
  return { board: await openBoard({ path }), what: `the board on ${path}` };
}

export async function serve(options: ServeOptions): Promise<void> {
  const socket = resolve(options.socket);
  const { board, what } = await openChosenBoard(options.board, options.jig);
  const info = board.info;
  log(`board: ${what}: ${info.boardName}, serial ${info.serial}, firmware ${info.firmwareVersion}, ${info.numLines} lines`);
  let profile: BoardProfile;
  try {
    profile = fitProfile(loadProfile(options.profile ?? (info.boardId === 2 ? 'pico' : 'rp2040')), info);
  } catch (error) {
    await board.close();
    throw error;
  }
  log(`profile: ${profile.name} (${profile.source}); reserved lines: ${profile.reservedLines.join(', ') || 'none'}`);

  const gpio = new VirtioGpioDevice(board, { lines: profile.lines, ngpio: profile.numLines, log });
  const device = new GpioVhostDevice(gpio, log);
  const server = new VhostUserServer({
    socketPath: socket,
    device,
    mode: options.socketMode,
    ...(options.socketGroup !== undefined ? { gid: groupId(options.socketGroup) } : {}),
    log,
  });
  board.on('close', (reason) => log(`board: the link closed (${reason}); guest requests are answered with errors`));
  await server.listen();

  process.stdout.write(`vgpio serve: vhost-user virtio-gpio on ${socket}\n\nQEMU:\n${qemuCommandLine(socket)}\n\nUser-Mode Linux:\n${umlCommandLine(socket)}\n\n`);

  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      log(`${signal}: releasing lines and shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void (async () => {
        await server.close(); // disconnects the frontend: the device releases every line the guest used
        gpio.close();
        await board.close();
        done();
      })();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError('give an octal mode such as 600 or 660');
  return parseInt(value, 8);
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the board\'s lines to a VM as a vhost-user virtio-gpio device')
    .addOption(new Option('-s, --socket <path>', 'unix socket for QEMU or UML to connect to').default('vgpio.sock'))
    .addOption(new Option('-b, --board <board>', 'auto (a real board if one is attached, else the emulator), emulator, a serial port path, or serial:SERIALNO').default('auto'))
    .addOption(new Option('--jig <name>', 'wiring of the emulated board (hw/jigs)').default('loopback'))
    .addOption(new Option('-p, --profile <name|file>', 'board profile (hw/boards); default from the board: pico or rp2040'))
    .addOption(new Option('--socket-mode <octal>', 'permissions of the socket').default(0o600, '600').argParser(parseMode))
    .addOption(new Option('--socket-group <group>', 'group owning the socket (use with --socket-mode 660)'))
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}
