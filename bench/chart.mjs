#!/usr/bin/env node
// Draws the bench results as one self-contained SVG (no scripts, no web fonts: generic sans-serif):
// left, the daemon's kick -> call latency percentiles per request type on a log scale with the budget
// lines; right, the edge sweep: edges handled and interrupts delivered against the generated rate, with
// the OVERFLOW loss. Usage: node bench/chart.mjs RESULTS.json OUT.svg (run.mjs --svg does the same).
import { readFileSync, writeFileSync } from 'node:fs';

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fmt = (x) => (x >= 1000 ? `${Math.round(x / 1000)}k` : x >= 10 ? x.toFixed(0) : x.toFixed(1));

export function renderSvg(result) {
  const W = 960;
  const H = 420;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  const m = result.machine ?? {};
  out.push(`<text x="12" y="20" font-size="14" font-weight="bold">vgpio npm run bench${result.quick ? ' (--quick: smoke figures)' : ''}</text>`);
  out.push(`<text x="12" y="38" fill="#555">${esc(`${m.cpu ?? '?'}, ${m.cores ?? '?'} cores, Node ${m.node ?? '?'}, ${m.os ?? '?'}, ${result.startedAt ?? ''}`)}</text>`);

  // ---- left: latency percentiles ----
  const host = result.sections?.host;
  const L = { x: 70, y: 70, w: 380, h: 280 };
  out.push(`<text x="${L.x}" y="${L.y - 12}" font-weight="bold">Host overhead per request: daemon kick -&gt; call (us, log scale)</text>`);
  if (host) {
    const pcts = [['p50', '#4c78a8'], ['p90', '#72b7b2'], ['p99', '#f58518'], ['p999', '#e45756']];
    const lo = 1;
    const all = host.sequential.flatMap((s) => pcts.map(([k]) => s.daemonUs[k]));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(100, ...all)));
    const y = (v) => L.y + L.h - (Math.log10(Math.max(lo, v) / lo) / Math.log10(hi / lo)) * L.h;
    for (let d = lo; d <= hi; d *= 10) {
      out.push(`<line x1="${L.x}" x2="${L.x + L.w}" y1="${y(d)}" y2="${y(d)}" stroke="#ddd"/>`);
      out.push(`<text x="${L.x - 6}" y="${y(d) + 4}" text-anchor="end">${fmt(d)}</text>`);
    }
    // Drawn after the bars (below), haloed, so a tall bar never hides them.
    const budgetLabels = [];
    for (const [v, label] of [[host.budgets.p50Us, 'p50 budget'], [host.budgets.p99Us, 'p99 budget']]) {
      out.push(`<line x1="${L.x}" x2="${L.x + L.w}" y1="${y(v)}" y2="${y(v)}" stroke="#000" stroke-dasharray="5,4"/>`);
      budgetLabels.push(`<text x="${L.x + L.w - 2}" y="${y(v) - 3}" text-anchor="end" font-size="10" stroke="#fff" stroke-width="3" paint-order="stroke">${label} ${v} us</text>`);
    }
    const groups = host.sequential;
    const gw = L.w / groups.length;
    const bw = (gw - 16) / pcts.length;
    groups.forEach((s, g) => {
      pcts.forEach(([k, color], i) => {
        const v = s.daemonUs[k];
        const x = L.x + g * gw + 8 + i * bw;
        out.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(L.y + L.h - y(v)).toFixed(1)}" fill="${color}"><title>${esc(`${s.request} ${k} ${v.toFixed(1)} us`)}</title></rect>`);
        out.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(v)}</text>`);
      });
      out.push(`<text x="${L.x + g * gw + gw / 2}" y="${L.y + L.h + 16}" text-anchor="middle" font-size="10">${esc(s.request.split(' (')[0])}</text>`);
    });
    pcts.forEach(([k, color], i) => {
      out.push(`<rect x="${L.x + i * 70}" y="${L.y + L.h + 28}" width="10" height="10" fill="${color}"/><text x="${L.x + i * 70 + 14}" y="${L.y + L.h + 37}">${k === 'p999' ? 'p99.9' : k}</text>`);
    });
    out.push(...budgetLabels);
    out.push(`<text x="${L.x}" y="${L.y + L.h + 58}" fill="#555" font-size="10">pipelined, ${host.pipelined.lines} lines: ${Math.round(host.pipelined.requestsPerSecond)} requests/s (budget ${host.budgets.pipelinedPerSecond})</text>`);
  } else out.push(`<text x="${L.x}" y="${L.y + 20}">host section not run</text>`);

  // ---- right: edge sweep ----
  const edges = result.sections?.edges;
  const R = { x: 560, y: 70, w: 370, h: 280 };
  out.push(`<text x="${R.x - 40}" y="${R.y - 12}" font-weight="bold">Edge stream, ${edges?.lines ?? '?'} lines: per second vs generated rate</text>`);
  if (edges) {
    const maxRate = Math.max(...edges.rows.map((r) => r.rate));
    const maxY = Math.max(maxRate, ...edges.rows.map((r) => r.generatedPerSecond));
    const x = (v) => R.x + (v / maxRate) * R.w;
    const y = (v) => R.y + R.h - (v / maxY) * R.h;
    for (let i = 0; i <= 4; i++) {
      const v = (maxY * i) / 4;
      out.push(`<line x1="${R.x}" x2="${R.x + R.w}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${R.x - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
      const r = (maxRate * i) / 4;
      out.push(`<text x="${x(r)}" y="${R.y + R.h + 16}" text-anchor="middle">${fmt(r)}</text>`);
    }
    out.push(`<text x="${R.x + R.w / 2}" y="${R.y + R.h + 32}" text-anchor="middle" fill="#555">generated edges/s</text>`);
    const bx = edges.budgets.edgesPerSecond;
    out.push(`<line x1="${x(bx)}" x2="${x(bx)}" y1="${R.y}" y2="${R.y + R.h}" stroke="#000" stroke-dasharray="5,4"/><text x="${x(bx) + 3}" y="${R.y + 10}" font-size="10">budget ${fmt(bx)}/s</text>`);
    const series = [
      ['handled (delivered + merged)', '#4c78a8', (r) => (r.delivered + r.merged) / r.seconds],
      ['interrupts delivered', '#54a24b', (r) => r.deliveredPerSecond],
      ['lost, reported by OVERFLOW', '#e45756', (r) => r.lost / r.seconds],
    ];
    series.forEach(([label, color, f], i) => {
      const pts = edges.rows.map((r) => `${x(r.rate).toFixed(1)},${y(f(r)).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const r of edges.rows) out.push(`<circle cx="${x(r.rate).toFixed(1)}" cy="${y(f(r)).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${label} at ${r.rate}/s: ${Math.round(f(r))}/s`)}</title></circle>`);
      out.push(`<rect x="${R.x + 10}" y="${R.y + 20 + i * 16}" width="10" height="10" fill="${color}"/><text x="${R.x + 24}" y="${R.y + 29 + i * 16}">${esc(label)}</text>`);
    });
    out.push(`<text x="${R.x - 40}" y="${R.y + R.h + 58}" fill="#555" font-size="10">unaccounted edges over the sweep: ${edges.unaccountedTotal}; sustained without loss: ${Math.round(edges.sustainedEdgesPerSecond)}/s</text>`);
  } else out.push(`<text x="${R.x}" y="${R.y + 20}">edges section not run</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node bench/chart.mjs RESULTS.json OUT.svg');
    process.exit(2);
  }
  writeFileSync(output, renderSvg(JSON.parse(readFileSync(input, 'utf8'))));
  console.log(`wrote ${output}`);
}
