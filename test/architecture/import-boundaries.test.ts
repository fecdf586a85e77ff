/**
 * The dependency rules of the README's "Layout", checked over every source file by a test rather than an
 * ESLint plugin: the rules are cheap to state as data, and a test needs no extra tool in `.ci/run`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

interface ImportRef {
  /** The specifier as written. */
  spec: string;
  /** Repo-relative path of the imported file for relative specifiers, else null. */
  target: string | null;
  /** `import type …` / `export type … from`: erased at compile time. */
  typeOnly: boolean;
}

const STATIC = /^\s*(?:import|export)\s+(type\s+)?(?:[\s\S]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The imports of one TypeScript file (static, re-exports, side-effect and literal dynamic imports). */
export function importsOf(file: string, text: string): ImportRef[] {
  const out: ImportRef[] = [];
  const resolve = (spec: string) => (spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts') : null);
  for (const m of text.matchAll(STATIC)) out.push({ spec: m[2]!, target: resolve(m[2]!), typeOnly: m[1] !== undefined });
  for (const m of text.matchAll(DYNAMIC)) out.push({ spec: m[1]!, target: resolve(m[1]!), typeOnly: false });
  return out;
}

interface Rule {
  name: string;
  /** Files the rule applies to (repo-relative, posix). */
  applies: (file: string) => boolean;
  /** A reason when this import breaks the rule. */
  check: (ref: ImportRef, file: string) => string | null;
}

const under = (dir: string) => (p: string | null) => p !== null && p.startsWith(`${dir}/`);
const isTestSupport = (file: string) => file.endsWith('.test.ts') || file.includes('/testing/');

export const RULES: Rule[] = [
  {
    name: 'src/ imports neither side (extension/, fleet/, cli/)',
    applies: under('src'),
    check: (r) => (under('extension')(r.target) || under('fleet')(r.target) || under('cli')(r.target) ? `imports ${r.spec}` : null),
  },
  {
    name: 'extension/sdk imports only node:*, thrift and itself',
    applies: (f) => under('extension/sdk')(f) && !f.endsWith('.test.ts'),
    check: (r) => (r.target !== null ? (under('extension/sdk')(r.target) ? null : `imports ${r.spec}`) : r.spec.startsWith('node:') || r.spec === 'thrift' ? null : `imports ${r.spec}`),
  },
  {
    name: 'only extension/sdk imports thrift',
    applies: (f) => !under('extension/sdk')(f),
    check: (r) => (r.spec === 'thrift' || r.spec.startsWith('thrift/') ? `imports ${r.spec}` : null),
  },
  {
    name: 'extension/ and fleet/ do not import each other or the CLI',
    applies: (f) => (under('extension')(f) || under('fleet')(f)) && !isTestSupport(f),
    check: (r, f) => {
      const other = under('extension')(f) ? 'fleet' : 'extension';
      return under(other)(r.target) || under('cli')(r.target) ? `imports ${r.spec}` : null;
    },
  },
  {
    name: 'only fleet/scheduler/scheduler.ts imports node-cron',
    applies: (f) => f !== 'fleet/scheduler/scheduler.ts',
    check: (r) => (r.spec === 'node-cron' ? `imports ${r.spec}` : null),
  },
  {
    name: 'processes are spawned only through extension/runtime/tools.ts (type imports aside)',
    applies: (f) => f !== 'extension/runtime/tools.ts' && !isTestSupport(f),
    check: (r) => (!r.typeOnly && (r.spec === 'node:child_process' || r.spec === 'child_process') ? `imports ${r.spec}` : null),
  },
  {
    name: 'parsers (parse-*.ts, read-*.ts) do no I/O: no node: module but buffer, no collector or tool runner',
    applies: (f) => /\/(?:parse|read)-[^/]*\.ts$/.test(f) && !f.endsWith('.test.ts'),
    check: (r) => {
      if (r.typeOnly) return null;
      if (r.spec.startsWith('node:') && r.spec !== 'node:buffer') return `imports ${r.spec}`;
      if (r.target !== null && /(?:^|\/)(?:collector[^/]*|tools)\.ts$/.test(r.target)) return `imports ${r.spec}`;
      return null;
    },
  },
];

/** Rule breaks over a set of files: `file: rule — reason`. */
export function violations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    for (const rule of RULES) {
      if (!rule.applies(file)) continue;
      for (const ref of importsOf(file, text)) {
        const why = rule.check(ref, file);
        if (why) out.push(`${file}: ${rule.name} — ${why}`);
      }
    }
  }
  return out.sort();
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'gen' && e.name !== 'fixtures') out.push(...sourceFiles(rel));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

describe('import boundaries', () => {
  it('hold over every source file of src/, extension/, fleet/ and cli/', () => {
    const files = new Map<string, string>();
    for (const dir of ['src', 'extension', 'fleet', 'cli']) for (const f of sourceFiles(dir)) files.set(f, readFileSync(path.join(REPO_ROOT, f), 'utf8'));
    // the walk found the tree (a wrong root would pass vacuously)
    expect(files.size).toBeGreaterThan(100);
    expect([...files.keys()]).toContain('extension/sdk/thrift-bridge.ts');
    expect(violations(files)).toEqual([]);
  });

  it('name each break (the rules are not vacuous)', () => {
    const files = new Map([
      ['src/classify/x.ts', `import { a } from '../../fleet/store/store.js';\nimport type { B } from '../../extension/runtime/tools.js';\n`],
      ['extension/sdk/client.ts', `import { z } from 'zod';\nimport { log } from '../../src/log.js';\nimport thrift from 'thrift';\n`],
      ['fleet/api/server.ts', `import thrift from 'thrift';\nimport cron from 'node-cron';\nimport { spawn } from 'node:child_process';\nconst m = await import('../../extension/main.js');\n`],
      ['extension/tables/t/parse-thing.ts', `import {\n  readFileSync,\n} from 'node:fs';\nimport { run } from '../../runtime/tools.js';\nimport { Buffer } from 'node:buffer';\n`],
      ['extension/tables/t/collector.ts', `import type { ChildProcess } from 'node:child_process';\nimport { parse } from './parse-thing.js';\n`],
      ['fleet/scheduler/scheduler.ts', `import cron from 'node-cron';\n`],
      ['extension/runtime/tools.ts', `import { execFile } from 'node:child_process';\n`],
    ]);
    expect(violations(files)).toEqual([
      'extension/sdk/client.ts: extension/sdk imports only node:*, thrift and itself — imports ../../src/log.js',
      'extension/sdk/client.ts: extension/sdk imports only node:*, thrift and itself — imports zod',
      'extension/tables/t/parse-thing.ts: parsers (parse-*.ts, read-*.ts) do no I/O: no node: module but buffer, no collector or tool runner — imports ../../runtime/tools.js',
      'extension/tables/t/parse-thing.ts: parsers (parse-*.ts, read-*.ts) do no I/O: no node: module but buffer, no collector or tool runner — imports node:fs',
      'fleet/api/server.ts: extension/ and fleet/ do not import each other or the CLI — imports ../../extension/main.js',
      'fleet/api/server.ts: only extension/sdk imports thrift — imports thrift',
      'fleet/api/server.ts: only fleet/scheduler/scheduler.ts imports node-cron — imports node-cron',
      'fleet/api/server.ts: processes are spawned only through extension/runtime/tools.ts (type imports aside) — imports node:child_process',
      'src/classify/x.ts: src/ imports neither side (extension/, fleet/, cli/) — imports ../../extension/runtime/tools.js',
      'src/classify/x.ts: src/ imports neither side (extension/, fleet/, cli/) — imports ../../fleet/store/store.js',
    ]);
  });
});
