#!/usr/bin/env node
// The `npm run bench` tier: runs every benchmark section, prints its figures, and with --json writes them
// all (with the machine they came from) to one file.
// Usage: node bench/run.mjs [--only NAME[,NAME...]] [--quick] [--json FILE] [--svg FILE]
//   --only   run only these sections (names below); may be repeated
//   --quick  a handful of iterations per section: a smoke test, the figures are not meaningful
//   --json   write { machine, startedAt, quick, sections: { NAME: result } } to FILE
//   --svg    draw the latency and edge-stream chart (bench/chart.mjs) to FILE
import { writeFileSync } from 'node:fs';
import { ensureBuilt, machine } from './lib.mjs';
import { renderSvg } from './chart.mjs';

/** Section name -> module (each exports `run({ quick })`, printing its tables and returning its figures). */
const SECTIONS = {
  host: './host.mjs',
  codec: './codec.mjs',
  edges: './edges.mjs',
  footprint: './footprint.mjs',
  firmware: './firmware.mjs',
};

function parseArgs(argv) {
  const opts = { only: [], quick: false, json: undefined, svg: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--json') opts.json = argv[++i];
    else if (a === '--only') opts.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (a.startsWith('--only=')) opts.only.push(...a.slice(7).split(',').filter(Boolean));
    else if (a.startsWith('--json=')) opts.json = a.slice(7);
    else if (a === '--svg') opts.svg = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log(`usage: node bench/run.mjs [--only ${Object.keys(SECTIONS).join('|')}] [--quick] [--json FILE] [--svg FILE]`);
      process.exit(0);
    } else {
      console.error(`bench: unknown argument "${a}"; try --help`);
      process.exit(2);
    }
  }
  for (const flag of ['json', 'svg']) {
    if (opts[flag] === undefined && argv.includes(`--${flag}`)) {
      console.error(`bench: --${flag} needs a file name`);
      process.exit(2);
    }
  }
  for (const n of opts.only) {
    if (!(n in SECTIONS)) {
      console.error(`bench: unknown section "${n}" in --only; known sections: ${Object.keys(SECTIONS).join(', ')}`);
      process.exit(2);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
ensureBuilt();
const selected = opts.only.length ? Object.keys(SECTIONS).filter((n) => opts.only.includes(n)) : Object.keys(SECTIONS);
const m = machine();
console.log(`bench: ${selected.join(', ')}${opts.quick ? ' (--quick: smoke test, figures not meaningful)' : ''}`);
console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}`);
const started = Date.now();
const sections = {};
const failed = [];
for (const name of selected) {
  const t0 = Date.now();
  console.log(`\n==== ${name} ====`);
  try {
    const mod = await import(SECTIONS[name]);
    sections[name] = await mod.run({ quick: opts.quick });
    sections[name].seconds = (Date.now() - t0) / 1000;
  } catch (error) {
    // The other sections still run and print; the tier fails at the end.
    failed.push(name);
    sections[name] = { error: String(error?.stack ?? error) };
    console.error(`bench: section ${name} failed: ${error?.stack ?? error}`);
  }
}
const result = { machine: m, startedAt: new Date(started).toISOString(), quick: opts.quick, seconds: (Date.now() - started) / 1000, sections };
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${opts.json}`);
}
if (opts.svg) {
  writeFileSync(opts.svg, renderSvg(result));
  console.log(`wrote ${opts.svg}`);
}
const over = Object.values(sections).reduce((n, s) => n + (s.overBudget ?? 0), 0);
console.log(`\nbench: ${selected.length} section(s) in ${result.seconds.toFixed(1)} s; ${over} figure(s) over budget (informational; the tier fails only on errors)${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`);
process.exit(failed.length ? 1 : 0);
