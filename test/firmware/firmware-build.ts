/**
 * Builds the emulator test image once per test run (make is incremental, so this is cheap when the
 * image is up to date). A missing toolchain is a failure, not a skip: without it nothing here would
 * test the firmware.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const firmwareDir = join(repoRoot, 'firmware');

export function buildFirmwareImage(target: string): string {
  const probe = spawnSync('arm-none-eabi-gcc', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'arm-none-eabi-gcc not found: the emulator tests need the ARM toolchain to build ' +
        `firmware/${target} (Debian/Ubuntu: apt-get install gcc-arm-none-eabi)`,
    );
  }
  try {
    execFileSync('make', ['-C', firmwareDir, target], { stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`make -C firmware ${target} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
  return join(firmwareDir, target);
}
