/**
 * The daemon's real vhost-user path for fault tests: TestFrontend (QEMU + the Linux driver) over a unix
 * socket -> VhostUserServer -> GpioVhostDevice -> VirtioGpioDevice -> a Board; plus an emulated board
 * plugged in through a Cable that can be cut, and a tally of guest requests for the reliability record.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emulator } from '../../../src/emulator/board.js';
import { Link, type LinkOptions } from '../../../src/link/link.js';
import { LinkBoard } from '../../../src/board/link-board.js';
import { loadProfile } from '../../../src/board/profile.js';
import type { Board } from '../../../src/board/types.js';
import { VirtioGpioDevice } from '../../../src/gpio/device.js';
import { GpioVhostDevice } from '../../../src/gpio/vhost-device.js';
import { VhostUserServer } from '../../../src/vhost/server.js';
import { TestFrontend } from '../../helpers/frontend.js';
import { Cable } from './cable.js';

export interface Daemon {
  frontend: TestFrontend;
  gpio: VirtioGpioDevice;
  logs: string[];
  close(): Promise<void>;
}

export async function startDaemon(board: Board, options: { requestTimeoutMs?: number } = {}): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-faults-'));
  const socketPath = join(dir, 'gpio.sock');
  const profile = loadProfile('pico');
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const gpio = new VirtioGpioDevice(board, { lines: profile.lines, ngpio: profile.numLines, log, ...options });
  const server = new VhostUserServer({ socketPath, device: new GpioVhostDevice(gpio, log), log });
  await server.listen();
  const frontend = await TestFrontend.connect(socketPath);
  await frontend.setup();
  return {
    frontend,
    gpio,
    logs,
    async close() {
      frontend.close();
      await server.close();
      gpio.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Guest requests sent and answered, for the reliability record. */
export class GuestTally {
  sent = 0;
  answered = 0;

  track<T>(request: Promise<T>): Promise<T> {
    this.sent++;
    return request.then((r) => {
      this.answered++;
      return r;
    });
  }
}

/**
 * A USB socket with an emulated board (loopback jig) plugged in through a Cable. `open` is a
 * BoardOpener: it fails like a missing tty while nothing is plugged in.
 */
export class EmulatedSocket {
  emulator: Emulator | undefined;
  cable: Cable | undefined;
  private readonly all: Emulator[] = [];

  constructor(private readonly linkOptions: LinkOptions = {}) {}

  async plug(seed = 1): Promise<void> {
    this.emulator = await Emulator.start({ jig: 'loopback' });
    this.all.push(this.emulator);
    this.cable = new Cable(this.emulator.stream, seed);
  }

  readonly open = async (): Promise<LinkBoard> => {
    if (!this.cable || this.cable.isCut) throw new Error('cannot open serial port /dev/ttyACM0: No such file or directory');
    return LinkBoard.connect(new Link(this.cable.host, this.linkOptions));
  };

  /** Pulls the plug: the host's end closes at once, the board loses power (its emulator stops). */
  async unplug(): Promise<void> {
    this.cable?.cut();
    await this.emulator?.close();
  }

  async closeAll(): Promise<void> {
    for (const e of this.all) await e.close();
  }
}
