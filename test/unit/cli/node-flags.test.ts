/**
 * The daemon's Node flags live on one line, the bin's shebang; `npm start` and the bench must run with the
 * same ones, and the bin must still start when the kernel runs it through that line.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI } from '../../helpers/cli.js';

const root = new URL('../../../', import.meta.url);
const firstLine = (path: string | URL): string => readFileSync(path, 'utf8').split('\n', 1)[0]!;

describe('node flags of the vgpio bin', () => {
  const shebang = firstLine(new URL('src/cli/main.ts', root));

  it('are on the shebang, split by env -S, with the small nursery', () => {
    expect(shebang).toMatch(/^#!\/usr\/bin\/env -S node( --[\w-]+(=\S+)?)+$/);
    expect(shebang).toContain(' --max-semi-space-size=2');
    expect(firstLine(CLI)).toBe(shebang);
  });

  it('are the ones npm start and the bench pass', async () => {
    const flags = shebang.replace('#!/usr/bin/env -S node', '').trim();
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${flags} dist/cli/main.js serve`);
    expect(pkg.bin.vgpio).toBe('dist/cli/main.js');
    // @ts-expect-error bench/ is plain ESM JavaScript
    const { daemonNodeFlags } = (await import('../../../bench/lib.mjs')) as { daemonNodeFlags: () => string[] };
    expect(daemonNodeFlags().join(' ')).toBe(flags);
  });

  it('let the bin run directly, as systemd and a shell do', async () => {
    expect(statSync(CLI).mode & 0o111).not.toBe(0);
    const { stdout } = await promisify(execFile)(CLI, ['--version']);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
    expect(stdout.trim()).toBe(pkg.version);
  });
});
