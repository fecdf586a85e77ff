import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryFakeDarwin } from '../../../test/helpers/cli.js';
import { finderCopiesScenario } from './testing/es-lines.mjs';

/**
 * darwin end to end on Linux (the fake eslogger on PATH prints these lines): Finder duplicates Safari's cookies into a
 * staging folder, a stealer hard-links the keychain into /tmp, and ditto and curl read the copies. The copies' reads
 * are sensitive_file_events rows of the readers, and outflow_status says how many copies were followed.
 */
describe('copies of credential stores (darwin, fake eslogger)', () => {
  it("reads of Finder's clone and of a hard link are reads of the secrets", { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-copies-e2e-'));
    const S = Math.floor(Date.now() / 1000) - 20;
    const { cookies, finder, ditto, curl, lines } = finderCopiesScenario(S);
    writeFileSync(path.join(dir, 'eslogger.jsonl'), lines.join('\n') + '\n');
    const sql = [
      'SELECT time, pid, operation, file_path, category, tier FROM sensitive_file_events ORDER BY time',
      "SELECT component, state, detail FROM outflow_status WHERE component = 'eslogger'",
    ].join('; ');
    const rows = await queryFakeDarwin(dir, sql);
    expect(rows.filter((x) => 'file_path' in x)).toEqual([
      { time: S - 10, pid: finder.pid, operation: 'open', file_path: cookies, category: 'browser_secrets', tier: 1 },
      { time: S - 5, pid: ditto.pid, operation: 'open', file_path: '/tmp/stage/Cookies.binarycookies', category: 'browser_secrets', tier: 1 },
      { time: S - 3, pid: curl.pid, operation: 'open', file_path: '/tmp/k', category: 'keychain', tier: 1 },
    ]);
    const status = rows.find((x) => x.component === 'eslogger');
    expect(String(status?.detail)).toContain('2 copies of credential stores followed');
  });
});
