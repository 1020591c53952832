/**
 * Running the built `vgpio` CLI (dist/, built by `npm test`'s pretest) from tests, and the emulated
 * board on a pseudo-terminal that the bench commands are pointed at.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `vgpio ARGS...` to its end; `code` is -1 when it was killed by the timeout or a signal. */
export function runVgpio(args: readonly string[], timeoutMs = 15_000): Promise<CliRun> {
  return new Promise<CliRun>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface PtyBoard {
  /** The pty path `vgpio emulate --pty` printed, e.g. /dev/pts/3. */
  path: string;
  process: ChildProcess;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

/** `vgpio emulate --pty --jig JIG`; resolves once it printed its pty path. */
export async function startPtyBoard(jig = 'loopback'): Promise<PtyBoard> {
  const child = spawn(process.execPath, [CLI, 'emulate', '--pty', '--jig', jig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const path = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`vgpio emulate exited with ${code}: ${stderr}`)));
  });
  return {
    path,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
