#!/usr/bin/env node
// Prints the reliability summary that .ci/run ends with: what the fuzz and fault-injection tiers did,
// summed from the JSON records they leave in .ci/out/reliability/ (or $VGPIO_RELIABILITY_DIR).
// Usage: reliability-summary.mjs [TIER...]  (no tier: every record)
// Exits 1 when any record shows a crash, a hang, an unanswered request or lost data, or when a tier
// that is built left no record (a summary that silently skips a tier would read as all clear).
//
// Record shape (every field optional, missing = 0):
//   { "source": "fuzz:frame-decoder", "fuzzExecutions": 0, "findings": 0, "crashes": 0, "hangs": 0,
//     "faultsInjected": 0, "requestsSent": 0, "requestsAnswered": 0, "dataLost": 0 }
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.env.VGPIO_RELIABILITY_DIR ?? join(root, '.ci/out/reliability');
const FIELDS = ['fuzzExecutions', 'findings', 'crashes', 'hangs', 'faultsInjected', 'requestsSent', 'requestsAnswered', 'dataLost'];

const records = existsSync(dir)
  ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort().flatMap((f) => {
      const value = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      return Array.isArray(value) ? value : [value];
    })
  : [];
// Tier prefixes, e.g. `fuzz faults`: only their records are summed, and each must have left one.
const expected = process.argv.slice(2);
if (expected.length) {
  const all = records.splice(0);
  records.push(...all.filter((r) => expected.some((prefix) => String(r.source).startsWith(`${prefix}:`))));
}
const missing = expected.filter((prefix) => !records.some((r) => String(r.source).startsWith(`${prefix}:`)));

const total = Object.fromEntries(FIELDS.map((f) => [f, 0]));
for (const r of records) for (const f of FIELDS) total[f] += Number(r[f] ?? 0);
const unanswered = total.requestsSent - total.requestsAnswered;

const width = Math.max(8, ...records.map((r) => String(r.source).length));
const fmt = (label, r) => `${label.padEnd(width)}  ${FIELDS.map((f) => String(r[f] ?? 0).padStart(10)).join('')}`;
console.log('reliability summary');
console.log(`${''.padEnd(width)}  ${['execs', 'findings', 'crashes', 'hangs', 'faults', 'requests', 'answered', 'lost'].map((h) => h.padStart(10)).join('')}`);
for (const r of records) console.log(fmt(String(r.source), r));
console.log(fmt('total', total));
console.log(`fuzz executions ${total.fuzzExecutions}, faults injected ${total.faultsInjected}, ` +
  `requests answered ${total.requestsAnswered}/${total.requestsSent} (unanswered ${unanswered}), ` +
  `crashes ${total.crashes}, hangs ${total.hangs}, data lost ${total.dataLost}`);
const bad = [];
if (missing.length) bad.push(`no record from: ${missing.join(', ')}`);
if (total.crashes) bad.push(`${total.crashes} crash(es)`);
if (total.hangs) bad.push(`${total.hangs} hang(s)`);
if (unanswered) bad.push(`${unanswered} unanswered request(s)`);
if (total.dataLost) bad.push(`${total.dataLost} lost item(s)`);
if (bad.length) {
  console.log(`reliability: FAILED: ${bad.join('; ')}`);
  process.exit(1);
}
console.log('reliability: ok');
