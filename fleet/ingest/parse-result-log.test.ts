import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { matchQuery, parseResultLine, parseResultLog } from './parse-result-log.js';
import { readResultLine } from './read-result-line.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const read = (f: string) => readFileSync(path.join(fixtures, f), 'utf8');
const NOW = 1_772_600_000;

describe('parseResultLog: every shape osquery and Fleet write', () => {
  const { lines, rejects } = parseResultLog(read('results-shapes.log'), { maxUnixTime: NOW });

  it('parses all lines of the shapes fixture', () => {
    expect(rejects).toEqual([]);
    expect(lines.map((l) => [l.query, l.shape, l.baseline, l.rows.length])).toEqual([
      ['outflow_destinations', 'event', false, 1],
      ['outflow_apps', 'event', true, 1],
      ['outflow_destinations', 'batch', false, 3],
      ['outflow_status', 'snapshot', true, 2],
      ['outflow_status', 'snapshot', true, 0],
      ['outflow_status', 'snapshot', true, 1],
      [null, 'event', false, 1],
    ]);
  });

  it('takes host id from decorations.host_uuid, else hostIdentifier, and the hostname from decorations', () => {
    expect(lines[0]).toMatchObject({ hostId: '9E1D2C4B-6A7F-4C3B-8E21-D4F5A6B7C8E9', hostname: 'studio-14.local' });
    // hostIdentifier "studio-14" loses to decorations.host_uuid
    expect(lines[1]!.hostId).toBe('9E1D2C4B-6A7F-4C3B-8E21-D4F5A6B7C8E9');
    expect(lines[2]).toMatchObject({ hostId: 'C0FFEE00-1111-2222-3333-444455556666', hostname: '' });
    // --decorations_top_level puts host_uuid at the top
    expect(lines[6]).toMatchObject({ hostId: 'BBBB-TOP-LEVEL', hostname: 'top.local', name: 'pack/Global/Other Report With Spaces' });
  });

  it('accepts unixTime/epoch/counter as numbers or strings, and numerics', () => {
    expect(lines[0]).toMatchObject({ unixTime: 1772531580, epoch: 0, counter: 3, numerics: false });
    expect(lines[1]).toMatchObject({ unixTime: 1772531640, epoch: 0, counter: 0 });
    expect(lines[2]).toMatchObject({ numerics: true, counter: 12 });
    expect(lines[2]!.rows[1]!.columns.bytes_out).toBe(2048);
  });

  it('keeps batch order removed → added and marks each row', () => {
    expect(lines[2]!.rows.map((r) => r.action)).toEqual(['removed', 'added', 'added']);
    expect(lines[3]!.rows.map((r) => r.action)).toEqual(['snapshot', 'snapshot']);
  });

  it('treats counter 0 and snapshots as baseline', () => {
    expect(lines.filter((l) => l.baseline).map((l) => l.counter)).toEqual([0, 0, 0, 0]);
  });
});

describe('parseResultLine: malformed input is a reject with a reason, never a throw', () => {
  const text = read('results-malformed.log');
  const { lines, rejects } = parseResultLog(text, { maxUnixTime: NOW });

  it('rejects every malformed line and skips the blank one', () => {
    expect(lines).toEqual([]);
    expect(rejects.map((r) => r.lineNumber)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it.each([
    [1, /not JSON/],
    [2, /not JSON/],
    [4, /not a JSON object/],
    [5, /missing name/],
    [6, /missing host identity/],
    [7, /unixTime/],
    [8, /invalid counter/],
    [9, /unknown action "changed"/],
    [10, /columns is not an object/],
    [11, /diffResults.added\[0\] is not an object/],
    [12, /snapshot is not an array/],
    [13, /no columns, diffResults or snapshot/],
    [14, /in the future/],
    [15, /not JSON/],
  ])('line %i: %s', (lineNumber, reason) => {
    expect(rejects.find((r) => r.lineNumber === lineNumber)!.reason).toMatch(reason);
  });

  it('says so when a line holds several result lines (newlines stripped on the way, as curl -d does)', () => {
    const one = JSON.stringify({ name: 'pack/Global/outflow_apps', hostIdentifier: 'H', unixTime: 5, counter: 2, columns: { identity: 'x' }, action: 'added' });
    const r = parseResultLine(`${one}${one}`);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON: .*several result lines on one line: .*--data-binary/) });
    // other broken JSON gets no such hint
    expect(parseResultLine(`${one}x`)).toMatchObject({ ok: false, reason: expect.not.stringContaining('several result lines') });
  });

  it('refuses a name, host identity or hostname longer than 512 characters (each is copied into every row the line makes)', () => {
    const at = (over: Record<string, unknown>) => JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', unixTime: 1772409600, snapshot: [], ...over });
    const long = 'x'.repeat(513);
    expect(parseResultLine(at({ hostIdentifier: long }))).toEqual({ ok: false, reason: 'host identity longer than 512 characters' });
    expect(parseResultLine(at({ decorations: { host_uuid: long, hostname: 'h' } }))).toEqual({ ok: false, reason: 'host identity longer than 512 characters' });
    expect(parseResultLine(at({ decorations: { host_uuid: 'H', hostname: long } }))).toEqual({ ok: false, reason: 'hostname longer than 512 characters' });
    expect(parseResultLine(at({ name: `pack/Global/${long}` }))).toEqual({ ok: false, reason: 'name longer than 512 characters' });
    // the fast reader leaves them to the parser
    expect(readResultLine(at({ decorations: { host_uuid: long, hostname: 'h' } }))).toBeUndefined();
    const limit = 'y'.repeat(512);
    expect(parseResultLine(at({ hostIdentifier: limit, decorations: { host_uuid: limit, hostname: limit } }))).toMatchObject({ ok: true, line: { hostId: limit, hostname: limit } });
  });

  it('accepts wrapper values: objects and JSON strings inside strings', () => {
    const obj = { name: 'pack/Global/outflow_apps', hostIdentifier: 'H', unixTime: 5, counter: 2, columns: { identity: 'x' }, action: 'added' };
    expect(parseResultLine(obj)).toMatchObject({ ok: true, line: { hostId: 'H', counter: 2 } });
    expect(parseResultLine(JSON.stringify(JSON.stringify(obj)))).toMatchObject({ ok: true, line: { hostId: 'H' } });
    expect(parseResultLine(42)).toEqual({ ok: false, reason: 'not a JSON object' });
    expect(parseResultLine(null)).toEqual({ ok: false, reason: 'not a JSON object' });
  });

  it('treats a missing counter as unknown (not baseline) except on snapshots', () => {
    const event = parseResultLine({ name: 'outflow_apps', hostIdentifier: 'H', unixTime: 5, columns: {}, action: 'added' });
    expect(event).toMatchObject({ ok: true, line: { counter: -1, baseline: false } });
    const snap = parseResultLine({ name: 'outflow_status', hostIdentifier: 'H', unixTime: 5, snapshot: [] });
    expect(snap).toMatchObject({ ok: true, line: { counter: 0, baseline: true } });
  });
});

describe('matchQuery', () => {
  it.each([
    ['pack/Global/outflow_candidates', 'outflow_candidates'],
    ['pack/team-7/outflow_candidates', 'outflow_candidates'],
    ['pack_outflow_outflow_candidates', 'outflow_candidates'],
    ['outflow_destinations', 'outflow_destinations'],
    ['pack/Outflow/outflow_apps', 'outflow_apps'],
    ['pack_it_outflow_status', 'outflow_status'],
    ['pack/Global/my_outflow_candidates_copy', null],
    ['pack/Global/Outflow Candidates', null],
    ['pack_x_notoutflow_apps', null],
  ])('%s → %s', (name, want) => {
    expect(matchQuery(name)).toBe(want);
  });
});
