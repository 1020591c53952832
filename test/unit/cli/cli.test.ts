import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const version = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version as string;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/** The built CLI, as a user runs it (npm test builds first). */
describe('vgpio CLI', () => {
  it('--version prints the package version', () => {
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('--help describes the tool and exits 0', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: vgpio/);
    expect(r.stdout).toMatch(/virtio-gpio/);
  });

  it('an unknown command fails with a pointer to --help', () => {
    const r = run('frobnicate');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(/vgpio --help/);
  });
});
