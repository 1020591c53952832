// Shared pieces of the bench tier: paths, a fresh dist/, percentiles, the machine's description, tables.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, totalmem, release, platform, arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Imports a module of the built daemon (dist/), so the bench measures exactly what `vgpio serve` runs. */
export const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);

/** The Node flags `vgpio` runs with: those on the shebang line of its bin (`#!/usr/bin/env -S node ...`),
 *  so the bench runs the daemon exactly as the command does. */
export function daemonNodeFlags() {
  const first = readFileSync(join(root, 'src/cli/main.ts'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env(?: -S)? node((?: --[\w-]+(?:=\S+)?)*)$/.exec(first);
  if (!m) throw new Error(`src/cli/main.ts: unexpected shebang ${JSON.stringify(first)}`);
  return m[1].split(' ').filter(Boolean);
}

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Runs `npm run build` when dist/ is missing or older than src/. */
export function ensureBuilt() {
  const marker = join(root, 'dist/cli/main.js');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newest(join(root, 'src'))) return;
  console.error('bench: dist/ is stale, running npm run build');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Nearest-rank percentiles (no interpolation: every figure is a sample that was really observed). */
export function stats(xs) {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  if (n === 0) return { n: 0, min: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const q = (p) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  let sum = 0;
  for (const x of s) sum += x;
  return { n, min: s[0], p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), p999: q(0.999), max: s[n - 1], mean: sum / n };
}

/** What the numbers came from. */
export function machine() {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    os: `${platform()} ${release()} ${arch()}`,
  };
}

export const pad = (s, n) => String(s).padEnd(n);
export const num = (x, d = 0, w = 8) => (Number.isFinite(x) ? x.toFixed(d) : '-').padStart(w);

/** Prints an aligned table: columns = [[header, width, (row) => text, align 'l'|'r']]. */
export function table(rows, columns) {
  const cell = (text, [, w, , align]) => (align === 'l' ? String(text).padEnd(w) : String(text).padStart(w));
  console.log(columns.map((c) => cell(c[0], c)).join(' '));
  for (const r of rows) console.log(columns.map((c) => cell(c[2](r), c)).join(' '));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
