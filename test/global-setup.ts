/**
 * Runs once before all test files. Keeps tests hermetic: a private temp root that child processes and
 * fixtures can use, removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(path.join(tmpdir(), 'outflow-test-'));
  process.env.OUTFLOW_TEST_ROOT = root;
  return () => rmSync(root, { recursive: true, force: true });
}
