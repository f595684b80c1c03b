/**
 * How the document search's latency grows with the corpus: bench/search.ts at several sizes, one
 * user per 100 documents at each (the users grow with the data), the same query mix.
 *
 *   npm run bench:search-growth [-- --sizes 100000,300000,1000000 --queries 3000 --rounds 3 --svg bench/search-growth.svg]
 *
 * Each size is a run of its own (a fresh server, corpus and indexes), one after the other, running
 * the mix --rounds times. Prints a Markdown table of p50, p95, p99 and the slowest query against
 * the size (medians of the rounds, and the first round's, right after the load, beside them), the
 * p95 at the largest size against the smallest's, and draws the medians as an SVG line chart
 * (sizes on a log scale).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../common/paths';
import type { Percentiles } from './timing';

/** What bench/search.ts --json writes: the medians of its rounds, and each round. */
interface Figures extends Percentiles {
  docs: number;
  users: number;
  queries: number;
  loadSeconds: number;
  rounds: Percentiles[];
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,300000,1000000' },
    queries: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
    svg: { type: 'string', default: path.join('bench', 'search-growth.svg') },
  },
});
const SIZES = values.sizes.split(',').map(Number);
if (SIZES.some((n) => !Number.isInteger(n) || n < 1000)) throw new Error(`--sizes takes whole numbers of documents, 1000 or more, separated by commas: ${values.sizes}`);

function run(docs: number): Figures {
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'search-growth-')), 'figures.json');
  const users = Math.max(1, Math.round(docs / 100));
  console.error(`${docs} documents, ${users} users...`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'search.ts'), '--docs', String(docs), '--users', String(users), '--queries', values.queries, '--rounds', values.rounds, '--json', json], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`bench/search.ts --docs ${docs} failed (${r.status ?? r.signal})`);
  const figures = JSON.parse(fs.readFileSync(json, 'utf8')) as Figures;
  fs.rmSync(path.dirname(json), { recursive: true, force: true });
  return figures;
}

/** A line chart of the percentiles against the size (log scale), as SVG text. */
function chart(rows: Figures[]): string {
  const W = 560;
  const H = 320;
  const left = 56;
  const right = 120;
  const top = 20;
  const bottom = 48;
  const xs = rows.map((r) => Math.log10(r.docs));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const yMax = Math.ceil(Math.max(...rows.map((r) => r.max)) / 10) * 10;
  const x = (docs: number) => left + ((Math.log10(docs) - x0) / (x1 - x0 || 1)) * (W - left - right);
  const y = (ms: number) => top + (1 - ms / yMax) * (H - top - bottom);
  const series: [keyof Percentiles, string][] = [
    ['p50', '#1b9e77'],
    ['p95', '#d95f02'],
    ['p99', '#7570b3'],
    ['max', '#e7298a'],
  ];
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${left}" y1="${y(0)}" x2="${W - right}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${y(0)}" stroke="black"/>`,
  ];
  for (let t = 0; t <= yMax; t += yMax / 5) {
    out.push(`<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(0)}</text>`, `<line x1="${left}" y1="${y(t)}" x2="${W - right}" y2="${y(t)}" stroke="#ddd"/>`);
  }
  for (const r of rows) out.push(`<text x="${x(r.docs)}" y="${y(0) + 16}" text-anchor="middle">${r.docs.toLocaleString('en')}</text>`);
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 8}" text-anchor="middle">documents (log scale)</text>`);
  out.push(`<text x="14" y="${(top + y(0)) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + y(0)) / 2})">ms per search</text>`);
  series.forEach(([key, colour], i) => {
    const points = rows.map((r) => `${x(r.docs).toFixed(1)},${y(r[key]).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const r of rows) out.push(`<circle cx="${x(r.docs).toFixed(1)}" cy="${y(r[key]).toFixed(1)}" r="3" fill="${colour}"/>`);
    out.push(`<text x="${W - right + 12}" y="${top + 16 + i * 18}" fill="${colour}">${key}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function main(): void {
  const rows = SIZES.map(run);
  const cpus = os.cpus();
  console.log(`\n${cpus.length} x ${cpus[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ${values.queries} queries at each size, ${values.rounds} rounds; rerun: npm run bench:search-growth -- --sizes ${values.sizes} --queries ${values.queries} --rounds ${values.rounds}\n`);
  const ms = (f: Percentiles) => `${f.p50.toFixed(1)} | ${f.p95.toFixed(1)} | ${f.p99.toFixed(1)} | ${f.max.toFixed(1)}`;
  console.log('| documents | users | loaded and indexed s | p50 ms | p95 ms | p99 ms | max ms | round 1: p50 | p95 | p99 | max |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.docs.toLocaleString('en')} | ${r.users.toLocaleString('en')} | ${r.loadSeconds.toFixed(0)} | ${ms(r)} | ${ms(r.rounds[0])} |`);
  console.log(`\nThe first four figures are medians of ${values.rounds} rounds; round 1 ran right after the load.`);
  const [first, last] = [rows[0], rows[rows.length - 1]];
  const ratio = (a: Percentiles, b: Percentiles) => (b.p95 / a.p95).toFixed(2);
  console.log(`p95 at ${last.docs.toLocaleString('en')} against ${first.docs.toLocaleString('en')}: ${ratio(first, last)}x (round 1: ${ratio(first.rounds[0], last.rounds[0])}x; target: at most 2x from 100,000 to 1,000,000)`);
  fs.writeFileSync(path.resolve(ROOT, values.svg), chart(rows));
  console.log(`chart: ${values.svg}`);
}

main();
