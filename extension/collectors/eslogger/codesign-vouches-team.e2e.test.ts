import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryFakeDarwin } from '../../../test/helpers/cli.js';
import { fileURLToPath } from 'node:url';
import { chromeTeamClaimScenario } from './testing/es-lines.mjs';

/**
 * darwin end to end on Linux, macOS < 26 (eslogger message v9, no cs_validation_category): two processes with
 * Chrome's team and signing id read Chrome's cookies. ES reports both as valid, not ad-hoc code. codesign (fake, on
 * PATH) finds one chain Apple's (Developer ID) and the other not (`anchor apple generic` unsatisfied: a self-signed
 * certificate named like Google's). Only the second read is a sensitive_file_events row.
 */
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../tables/code_signing/fixtures');
describe('a team id ES cannot vouch for waits for codesign (darwin, fake eslogger and codesign)', () => {
  it('the self-signed "Chrome" read is a row, the Developer ID Chrome read is authorized', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-codesign-e2e-'));
    const baseMs = (Math.floor(Date.now() / 1000) - 20) * 1000;
    const S = baseMs / 1000;
    const { cookies, chrome, fake, lines } = chromeTeamClaimScenario(baseMs);
    writeFileSync(path.join(dir, 'eslogger.jsonl'), lines.join('\n') + '\n');
    // codesign's display for both files: a Developer ID chain naming Google's team, the image ES reported
    const display = (p: string) =>
      readFileSync(path.join(FIXTURES, 'codesign-developer-id.txt'), 'utf8')
        .replace('Executable=/Applications/Widget.app/Contents/MacOS/Widget', `Executable=${p}`)
        .replace('Identifier=com.example.widget', 'Identifier=com.google.Chrome')
        .replaceAll('Example Widgets Ltd (Q7R2K9W4ZD)', 'Google LLC (EQHXZ8M8AV)')
        .replace('TeamIdentifier=Q7R2K9W4ZD', 'TeamIdentifier=EQHXZ8M8AV');
    writeFileSync(path.join(dir, 'chrome.txt'), display(chrome.path));
    writeFileSync(path.join(dir, 'fake.txt'), display(fake.path));
    const signing = {
      [chrome.path]: { display: { exit: 0, stderr_file: 'chrome.txt' } },
      [fake.path]: { display: { exit: 0, stderr_file: 'fake.txt' }, requirements: { 'anchor apple generic': { exit: 3, stderr: `${fake.path}: does not satisfy its designated Requirement\n` } } },
    };
    writeFileSync(path.join(dir, 'signing.json'), JSON.stringify(signing));
    const sql = [
      'SELECT time, pid, team_id, signing_id, file_path, category FROM sensitive_file_events',
      "SELECT path, signature_class, team_id FROM code_signing WHERE path IN ('" + chrome.path + "', '" + fake.path + "') ORDER BY path",
      "SELECT component, state, detail FROM outflow_status WHERE component = 'eslogger'",
    ].join('; ');
    const rows = await queryFakeDarwin(dir, sql);
    expect(rows.filter((x) => 'file_path' in x)).toEqual([{ time: S, pid: fake.pid, team_id: 'EQHXZ8M8AV', signing_id: 'com.google.Chrome', file_path: cookies, category: 'browser_secrets' }]);
    expect(rows.filter((x) => 'signature_class' in x)).toEqual([
      { path: chrome.path, signature_class: 'developer_id', team_id: 'EQHXZ8M8AV' },
      { path: fake.path, signature_class: 'unknown', team_id: 'EQHXZ8M8AV' },
    ]);
    const status = rows.find((x) => x.component === 'eslogger');
    expect(String(status?.detail)).toContain('1 authorized reads suppressed, 1 reads by code claiming an authorized team id codesign did not vouch for');
  });
});
