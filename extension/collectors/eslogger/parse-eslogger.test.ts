import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEsLine, parseEslogger, parseEsTime, type EsEvent } from './parse-eslogger.js';
import { body, esLine, type ProcSpec } from './testing/es-lines.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => readFileSync(path.join(here, 'fixtures', name), 'utf8');

describe('parseEslogger fixtures', () => {
  it.each(['eslogger-events.jsonl', 'eslogger-tricky.jsonl', 'eslogger-scenario-keychain-ditto.jsonl'])('%s matches its golden output', async (name) => {
    const result = parseEslogger(fixture(name));
    await expect(JSON.stringify(result, null, 2)).toMatchFileSnapshot(`./fixtures/${name.replace('.jsonl', '.expected.json')}`);
  });

  it('parses every event kind we subscribe to, in both message versions', () => {
    const { events, skipped } = parseEslogger(fixture('eslogger-events.jsonl'));
    expect(skipped).toEqual([]);
    const kinds = (v: number) => new Set(events.filter((e) => e.version === v).map((e) => e.kind));
    const all = ['exec', 'fork', 'exit', 'open', 'create', 'write', 'rename', 'close'];
    expect([...kinds(9)].sort()).toEqual([...all].sort());
    expect([...kinds(10)].sort()).toEqual([...all].sort());
  });

  it('reads both audit_token shapes (v9 object, v10 array) to the same identity', () => {
    const { events } = parseEslogger(fixture('eslogger-events.jsonl'));
    const opens = events.filter((e): e is Extract<EsEvent, { kind: 'open' }> => e.kind === 'open');
    expect(opens.map((e) => e.version)).toEqual([9, 10]);
    for (const e of opens) {
      expect(e.process).toMatchObject({ pid: 5573, uid: 501, ppid: 4419, originalPpid: 4400, responsiblePid: 4419, pidversion: 5573 * 3 + 1 });
      expect(e.process.cdhash).toBe('3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953');
      expect(e.process.teamId).toBe('Q7R2K9W4ZD');
      expect(e.file.path).toBe('/Users/dana/Library/Keychains/login.keychain-db');
    }
    expect(opens[1]!.process.csValidationCategory).toBe(6);
    expect(opens[0]!.process.csValidationCategory).toBeUndefined();
  });

  it('keeps platform code team_id null, reads exec target/args/cwd, fork child, exit status', () => {
    const { events } = parseEslogger(fixture('eslogger-events.jsonl'));
    const exec = events.find((e) => e.kind === 'exec')!;
    if (exec.kind !== 'exec') throw new Error('unreachable');
    expect(exec.process).toMatchObject({ pid: 812, teamId: null, platformBinary: true, signingId: 'com.apple.sh', tty: true });
    expect(exec.target).toMatchObject({ pid: 813, ppid: 812, executable: { path: '/usr/bin/zip', truncated: false }, signingId: 'com.apple.zip' });
    expect(exec.args).toEqual(['zip', '-r', 'out.zip', 'Documents']);
    expect(exec.cwd).toBe('/Users/dana');
    const fork = events.find((e) => e.kind === 'fork')!;
    expect(fork.kind === 'fork' && fork.child.pid).toBe(814);
    const exit = events.find((e) => e.kind === 'exit')!;
    expect(exit.kind === 'exit' && exit.status).toBe(256);
  });

  it('resolves create/rename destinations in both forms', () => {
    const { events } = parseEslogger(fixture('eslogger-events.jsonl'));
    const creates = events.filter((e) => e.kind === 'create').map((e) => e.kind === 'create' && e.file.path);
    expect(creates.slice(0, 2)).toEqual(['/private/tmp/out.zip', '/Users/dana/Desktop/new file.txt']);
    const renames = events.filter((e) => e.kind === 'rename').map((e) => e.kind === 'rename' && [e.source.path, e.destination.path]);
    expect(renames.slice(0, 2)).toEqual([
      ['/Users/dana/Documents/.draft.tmp', '/Users/dana/Documents/draft.docx'],
      ['/Users/dana/Documents/a.tmp', '/Users/dana/Documents/a.txt'],
    ]);
    const closes = events.filter((e) => e.kind === 'close').map((e) => e.kind === 'close' && e.modified);
    expect(closes.slice(0, 2)).toEqual([true, false]);
  });

  it('handles the tricky lines: escapes, truncation, unsigned code, unknown kinds, broken JSON', () => {
    const { events, skipped } = parseEslogger(fixture('eslogger-tricky.jsonl'));
    const [weird, truncated, unsigned] = events as Extract<EsEvent, { kind: 'open' }>[];
    expect(weird!.file.path).toBe('/Users/dana/Documents/line\nbreak "quoted" résumé 日本.txt');
    expect(truncated!.file.truncated).toBe(true);
    expect(unsigned!.process).toMatchObject({ cdhash: null, signingId: null, teamId: null, platformBinary: false });
    expect(events).toHaveLength(3);
    expect(skipped.map((s) => s.reason)).toEqual(['unsupported', 'malformed', 'malformed', 'malformed', 'malformed', 'malformed']);
    expect(skipped[1]!.detail).toMatch(/event_type 14/);
    expect(skipped[2]!.detail).toMatch(/not valid JSON/);
    expect(skipped[5]!.detail).toMatch(/start_time/);
  });
});

describe('parseEsLine', () => {
  it('never throws on arbitrary input', () => {
    for (const s of ['', '[]', 'null', '{"event":null}', '{"event":{"open":1},"time":"x"}', '{"event":{"a":{},"b":{}}}', '"str"', '{'.repeat(5000)]) {
      expect(() => parseEsLine(s)).not.toThrow();
      expect(parseEsLine(s).ok).toBe(false);
    }
  });
});

describe('parseEsTime', () => {
  it.each([
    ['2026-03-03T09:51:40.284917305Z', Date.UTC(2026, 2, 3, 9, 51, 40) / 1000],
    ['2026-03-03T09:51:40.999999999Z', Date.UTC(2026, 2, 3, 9, 51, 40) / 1000], // truncated, never rounded up
    ['2026-03-03T09:48:12.031554Z', Date.UTC(2026, 2, 3, 9, 48, 12) / 1000],
    ['2026-03-03T09:48:12Z', Date.UTC(2026, 2, 3, 9, 48, 12) / 1000],
    ['2026-03-03T10:48:12.5+01:00', Date.UTC(2026, 2, 3, 9, 48, 12) / 1000],
  ])('%s → %d', (s, want) => expect(parseEsTime(s)).toBe(want));

  it.each(['', 'yesterday', '2026-03-03 09:51:40Z', '2026-13-03T09:51:40Z', '2026-03-03T09:51:40.Z', '2026-03-03T09:51:40.1', '2026-03-03T09:51:40.1Zjunk'])('%j is rejected', (s) =>
    expect(parseEsTime(s)).toBeUndefined(),
  );
});

describe('parseEsLine: destinations and event kinds', () => {
  const T = Date.UTC(2026, 2, 3, 9, 51, 40);
  const proc: ProcSpec = { pid: 5573, ppid: 4419, path: '/Applications/Widget.app/Contents/MacOS/Widget', startMs: T - 5000 };

  it('a file created by new_path directly under "/" is "/name", not "//name"', () => {
    for (const version of [9, 10]) {
      const r = parseEsLine(esLine({ version, kind: 'create', timeMs: T, gseq: 90211, process: proc, body: body.createNew('/', 'exfil.zip') }));
      expect(r.ok && r.event.kind === 'create' && r.event.file.path).toBe('/exfil.zip');
    }
  });

  it('an event object naming two kinds is malformed, not read as the first', () => {
    const line = JSON.parse(esLine({ kind: 'open', timeMs: T, gseq: 90212, process: proc, body: body.open('/Users/dana/Library/Keychains/login.keychain-db') })) as Record<string, unknown>;
    line.event = { ...(line.event as object), close: body.close('/Users/dana/Library/Keychains/login.keychain-db', false) };
    expect(parseEsLine(JSON.stringify(line))).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
