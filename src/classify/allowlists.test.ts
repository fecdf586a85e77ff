import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/index.js';
import { classifyApp, DEFAULT_BROWSERS, DEFAULT_SANCTIONED, DEFAULT_TERMINALS, resolveAllowlists } from './allowlists.js';

const config = parseConfig({});

describe('classifyApp (team id + signing-id prefix only)', () => {
  it.each([
    ['EQHXZ8M8AV', 'com.google.Chrome.helper.renderer', { browser: true, sanctioned: false, terminal: false }],
    ['APPLE', 'com.apple.WebKit.Networking', { browser: false, sanctioned: false, terminal: false }],
    ['APPLE', 'com.apple.Safari', { browser: true, sanctioned: false, terminal: false }],
    ['EQHXZ8M8AV', 'com.google.drivefs.helper', { browser: false, sanctioned: true, terminal: false }],
    ['G7HH3F8CAK', 'com.getdropbox.dropbox', { browser: false, sanctioned: true, terminal: false }],
    ['APPLE', 'com.apple.bird', { browser: false, sanctioned: true, terminal: false }],
    ['UBF8T346G9', 'com.microsoft.teams2', { browser: false, sanctioned: true, terminal: false }],
    ['UBF8T346G9', 'com.microsoft.VSCode.helper', { browser: false, sanctioned: false, terminal: true }],
    ['APPLE', 'com.apple.Terminal', { browser: false, sanctioned: false, terminal: true }],
    ['P3FGV63VK7', 'kandji-daemon', { browser: false, sanctioned: true, terminal: false }],
  ])('%s %s', (team, sid, expected) => {
    expect(classifyApp(config, team, sid)).toEqual(expected);
  });

  it('never matches on the signing id alone, a look-alike prefix, or Apple platform curl', () => {
    expect(classifyApp(config, 'Q7R2K9W4ZD', 'com.google.Chrome')).toEqual({ browser: false, sanctioned: false, terminal: false });
    expect(classifyApp(config, 'EQHXZ8M8AV', 'com.google.ChromeEvil')).toEqual({ browser: false, sanctioned: false, terminal: false });
    expect(classifyApp(config, 'APPLE', 'com.apple.curl')).toEqual({ browser: false, sanctioned: false, terminal: false });
    expect(classifyApp(config, '', 'com.apple.Safari').browser).toBe(false);
    expect(classifyApp(config, 'APPLE', null).browser).toBe(false);
  });

  it('config entries extend the defaults; replace_defaults drops them', () => {
    const extended = parseConfig({ allowlists: { sanctioned: [{ team_id: 'ABCDE12345', signing_id_prefix: 'com.corp.backup' }] } });
    expect(classifyApp(extended, 'ABCDE12345', 'com.corp.backup.agent').sanctioned).toBe(true);
    expect(classifyApp(extended, 'G7HH3F8CAK', 'com.getdropbox.dropbox').sanctioned).toBe(true);
    const replaced = parseConfig({ allowlists: { replace_defaults: true, browsers: [{ team_id: 'ABCDE12345', signing_id_prefix: 'com.corp.browser' }] } });
    expect(classifyApp(replaced, 'EQHXZ8M8AV', 'com.google.Chrome').browser).toBe(false);
    expect(resolveAllowlists(replaced).browsers).toHaveLength(1);
  });

  it('default data is well-formed: 10-character team ids or APPLE, no duplicates', () => {
    const all = [...DEFAULT_BROWSERS, ...DEFAULT_SANCTIONED, ...DEFAULT_TERMINALS];
    for (const m of all) expect(m.team_id).toMatch(/^(APPLE|[A-Z0-9]{10})$/);
    const keys = all.map((m) => `${m.category}:${m.team_id}/${m.signing_id_prefix}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('docs/allowlists.md lists every unverified team id', () => {
    const doc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/allowlists.md'), 'utf8');
    const unverified = [...DEFAULT_BROWSERS, ...DEFAULT_SANCTIONED, ...DEFAULT_TERMINALS].filter((m) => !m.verified);
    expect(unverified.length).toBeGreaterThan(0);
    for (const m of unverified) expect(doc).toContain(`${m.team_id}`);
  });
});
