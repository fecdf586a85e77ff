/**
 * `npm run bench`: runs every test/bench/*.bench.ts in its own child process (so RSS numbers are per
 * benchmark), prints one table and writes bench-results.json. A bench file's default export is
 * `async (b: BenchContext) => void` and calls b.report(name, metrics) for each result.
 * `npm run bench -- flows` runs only files whose name contains "flows".
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchContext {
  report(name: string, metrics: Record<string, number | string>): void;
  /** Smaller inputs (BENCH_QUICK=1), for smoke runs. */
  quick: boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));

async function runOne(file: string): Promise<void> {
  const mod = (await import(pathToFileURL(file).href)) as { default: (b: BenchContext) => Promise<void> };
  const results: { name: string; metrics: Record<string, number | string> }[] = [];
  await mod.default({ report: (name, metrics) => results.push({ name, metrics }), quick: process.env.BENCH_QUICK === '1' });
  process.stdout.write(`BENCH_RESULTS ${JSON.stringify(results)}\n`);
}

async function main(): Promise<void> {
  const single = process.env.BENCH_FILE;
  if (single) return runOne(single);
  const filter = process.argv[2] ?? '';
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts') && f.includes(filter))
    .sort();
  const all: { file: string; name: string; metrics: Record<string, number | string> }[] = [];
  let failed = 0;
  for (const f of files) {
    const file = path.join(here, f);
    process.stderr.write(`bench ${f} …\n`);
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_FILE: file },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULTS '));
    if (r.status !== 0 || !line) {
      failed++;
      process.stderr.write(`bench ${f} failed (exit ${r.status})\n${r.stdout.slice(-2000)}\n`);
      continue;
    }
    for (const res of JSON.parse(line.slice('BENCH_RESULTS '.length))) all.push({ file: f, ...res });
  }
  for (const r of all) {
    const m = Object.entries(r.metrics)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(2)) : v}`)
      .join('  ');
    console.log(`${r.file.replace('.bench.ts', '').padEnd(22)} ${r.name.padEnd(48)} ${m}`);
  }
  writeFileSync(path.join(here, '../../bench-results.json'), JSON.stringify(all, null, 2));
  if (failed) process.exitCode = 1;
}

await main();
