/**
 * The eslogger events the e2e tests play to a real extension process (`outflow query` / `outflow extension` with the
 * fake eslogger) must not depend on the pid the OS gives that process. The extension takes the file events of its own
 * pid and of its children for its own and makes no rows of them (EsloggerPipeline `self`; exec, fork and exit still
 * count): a fixture process with the extension's pid, or with it as its parent, would lose its rows whenever the
 * child happened to get that pid. So every process that does a file event in these fixtures, and its parent, has a
 * pid no real process can have (≥ 2^22, Linux's PID_MAX_LIMIT; macOS's PID_MAX is 99 999), or launchd's 1.
 *
 * A new fixture played to a real extension process belongs in FIXTURES below.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEsLine } from '../../extension/collectors/eslogger/parse-eslogger.js';
import { chromeTeamClaimScenario, finderCopiesScenario, keychainDittoScenario } from '../../extension/collectors/eslogger/testing/es-lines.mjs';
import { writeFinderStagingScenario } from './finder-staging-scenario.js';
import { writeStealerScenario } from './stealer-scenario.js';

const BEYOND_ANY_REAL_PID = 2 ** 22;
/** The events the pipeline's own-process rule leaves alone. */
const LINEAGE_KINDS = new Set(['exec', 'fork', 'exit']);

const root = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outflow-fixture-pids-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const now = Date.now();
const FIXTURES: Record<string, () => string[]> = {
  // extension/collectors/eslogger/query.e2e.test.ts
  keychainDittoScenario: () => keychainDittoScenario(now),
  // extension/collectors/eslogger/codesign-vouches-team.e2e.test.ts
  chromeTeamClaimScenario: () => chromeTeamClaimScenario(now).lines,
  // extension/collectors/eslogger/copies-followed.e2e.test.ts
  finderCopiesScenario: () => finderCopiesScenario(Math.floor(now / 1000)).lines,
  // test/e2e/stealer.test.ts, test/packs/pack-queries.test.ts
  writeStealerScenario: () => readFileSync(path.join(writeStealerScenario(path.join(root, 'stealer'), now).dir, 'eslogger.jsonl'), 'utf8').split('\n').filter(Boolean),
  // test/e2e/finder-staging.test.ts
  writeFinderStagingScenario: () => readFileSync(path.join(writeFinderStagingScenario(path.join(root, 'finder'), now).dir, 'eslogger.jsonl'), 'utf8').split('\n').filter(Boolean),
};

/** The pid of an audit token in either shape (v ≤ 9 object, v10 array with the pid at index 5). */
const tokenPid = (token: unknown): unknown => (Array.isArray(token) ? token[5] : (token as { pid?: unknown } | null)?.pid);

describe('e2e eslogger fixtures use pids no real process can have', () => {
  it.each(Object.keys(FIXTURES))('%s: every file event is by a process whose pid and ppid are ≥ 2^22 (or launchd)', (name) => {
    const lines = FIXTURES[name]!();
    const offending = new Set<string>();
    let fileEvents = 0;
    for (const line of lines) {
      const r = parseEsLine(line);
      expect(r.ok, line.slice(0, 200)).toBe(true);
      if (!r.ok || LINEAGE_KINDS.has(r.event.kind)) continue;
      fileEvents++;
      const raw = JSON.parse(line) as { process: { parent_audit_token?: unknown } };
      const ids = { pid: r.event.process.pid, ppid: r.event.process.ppid, parent_audit_token: tokenPid(raw.process.parent_audit_token) };
      for (const [field, pid] of Object.entries(ids)) {
        if (pid === undefined && field === 'parent_audit_token') continue;
        if (pid !== 1 && !(typeof pid === 'number' && pid >= BEYOND_ANY_REAL_PID)) offending.add(`${r.event.process.executable.path} (pid ${r.event.process.pid}): ${field} ${String(pid)}`);
      }
    }
    expect(fileEvents).toBeGreaterThan(0);
    expect([...offending]).toEqual([]);
  });
});
