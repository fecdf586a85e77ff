import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { outflowStatus } from '../../extension/tables/outflow_status/table.js';
import { APPS, appColumns, batchLine, candidateColumns, destinationColumns, eventLine, mulberry32, simulateFleet, snapshotLine, type HostInfo } from '../../scripts/simulate-fleet.js';
import { parseResultLine, type ParseOptions } from './parse-result-log.js';
import { OUTFLOW_ROW_COLUMNS, readResultLine } from './read-result-line.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const packsSource = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../packs/source');
const fixtureLines = (f: string) => readFileSync(path.join(fixtures, f), 'utf8').split('\n');
const NOW = 1_772_600_000;
const OPTS: ParseOptions = { maxUnixTime: NOW };
const T = 1_772_531_580;

/**
 * The contract: whenever the reader returns a result, parseResultLine returns a strictly equal one, with
 * the same property order (deepStrictEqual ignores order; JSON.stringify does not). Returns whether the
 * reader took the line.
 */
function same(line: string, opts: ParseOptions = OPTS): boolean {
  const hand = readResultLine(line, opts);
  if (hand === undefined) return false;
  const full = parseResultLine(line, opts);
  if (!full.ok) throw new Error(`reader accepted a line the parser rejects (${full.reason}): ${line}`);
  assert.deepStrictEqual(hand, full, line);
  assert.equal(JSON.stringify(hand), JSON.stringify(full), line);
  return true;
}

/** A line the parser takes and the reader leaves to it. */
function leftToParser(line: string): void {
  expect(parseResultLine(line, OPTS).ok, line).toBe(true);
  expect(readResultLine(line, OPTS), line).toBeUndefined();
}

const host: HostInfo = { uuid: '9E1D2C4B-6A7F-4C3B-8E21-D4F5A6B7C8E9', hostname: 'studio-14.local' };
const flow = { app: APPS.zoom, pid: 812, remote_address: '170.114.52.2', remote_port: 443, server_name: 'zoom.us', service: 'tls', bytes_out: 9000, bytes_in: 120000, first_seen: T - 60, duration: 60 };
const status = (component: string) => ({ component, platform: 'darwin', state: 'running', detail: '', events: 120, dropped: 0, last_event: T - 10, version: '0.1.0' });

/** One line of every shape the simulator writes (osquery's member order). */
function osqueryLines(): string[] {
  return [
    eventLine(host, 'outflow_apps', T, 0, appColumns(APPS.chrome)),
    eventLine(host, 'outflow_apps', T, 4, appColumns(APPS.rclone), 'removed'),
    eventLine(host, 'outflow_destinations', T, 3, destinationColumns(flow)),
    eventLine(host, 'outflow_candidates', T, 7, candidateColumns({ ...flow, analytic: 'AN1415', host, reasons: ['upload_shaped', 'encrypted'] })),
    eventLine(host, 'Other Report', T, 1, { x: '1' }),
    snapshotLine(host, 'outflow_status', T, [status('flows'), status('eslogger'), status('signing')]),
    snapshotLine(host, 'outflow_status', T, []),
    batchLine(host, 'outflow_destinations', T, 12, [destinationColumns(flow)], [destinationColumns({ ...flow, bytes_out: 10 })]),
    batchLine(host, 'outflow_apps', T, 0, [appColumns(APPS.chrome), appColumns(APPS.slack)]),
  ];
}

type Obj = Record<string, unknown>;
const obj = (l: string) => JSON.parse(l) as Obj;
const ROWS = ['columns', 'snapshot', 'diffResults'];
/** `o` with `extra` members (replacing same-named ones) placed right before its rows member, as osquery places decorations. */
function withMembers(o: Obj, extra: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (k in extra) continue;
    if (ROWS.includes(k)) Object.assign(out, extra);
    out[k] = v;
  }
  return out;
}
function without(o: Obj, ...keys: string[]): Obj {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}
const sortedKeys = (o: unknown): unknown =>
  Array.isArray(o) ? o.map(sortedKeys) : o && typeof o === 'object' ? Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortedKeys((o as Obj)[k])])) : o;

/** osquery's variants of the envelope: no decorations, top-level decorations, custom decorators. */
function variantLines(): string[] {
  const out: string[] = [];
  for (const l of osqueryLines()) {
    const o = obj(l);
    const deco = (o.decorations ?? {}) as Obj;
    const bare = without(o, 'decorations');
    out.push(JSON.stringify(bare));
    // --decorations_top_level
    out.push(JSON.stringify(withMembers(bare, deco)));
    out.push(JSON.stringify(withMembers(o, { decorations: { serial_number: 'C02XK0XXJGH5', ...deco, team: 'it' } })));
  }
  return out;
}

describe('readResultLine', () => {
  it('reads every fixture line like the parser, and leaves the malformed ones to it', () => {
    const shapes = fixtureLines('results-shapes.log').filter(Boolean);
    let accepted = 0;
    for (const l of shapes) if (same(l)) accepted++;
    expect(accepted).toBe(shapes.length);
    for (const l of fixtureLines('results-malformed.log')) expect(readResultLine(l, OPTS), l).toBeUndefined();
  });

  it('reads simulated fleets like the parser, every line', () => {
    for (const seed of [1000, 77]) {
      const lines = simulateFleet({ hosts: 80, days: 1, seed, files: 1, duplicateRate: 0.01 }).files[0]!;
      // as the file source hands them over: slices of one chunk
      const sliced = lines.join('\n').split('\n');
      let accepted = 0;
      for (const l of sliced) if (same(l, { maxUnixTime: 2_000_000_000 })) accepted++;
      expect(accepted).toBe(lines.length);
      // candidate rows carry escaped JSON (process_chain): decoded by JSON.parse like the rest
      expect(lines.some((l) => l.includes('\\"'))).toBe(true);
    }
  });

  it('reads every shape and osquery variant of the envelope, and leaves other member orders to the parser', () => {
    const lines = [...osqueryLines(), ...variantLines()];
    let accepted = 0;
    for (const l of lines) if (same(l)) accepted++;
    expect(accepted).toBe(lines.length);
    for (const l of lines) expect(same(l, {})).toBe(true);
    for (const l of osqueryLines()) {
      const o = obj(l);
      leftToParser(JSON.stringify(sortedKeys(o)));
      leftToParser(JSON.stringify(Object.fromEntries(Object.entries(o).reverse())));
      leftToParser(JSON.stringify({ ...o, extra: 1 }));
    }
  });

  it('takes envelope fields with the parser\'s rules', () => {
    const base = eventLine(host, 'outflow_apps', T, 3, appColumns(APPS.slack));
    const o = obj(base);
    const deco = o.decorations as Obj;
    const read: Obj[] = [
      { ...o, unixTime: String(T), epoch: '0', counter: '3' },
      { ...o, unixTime: `00${T}`, epoch: '-7', counter: '-1' },
      { ...o, epoch: '-0', counter: '0' },
      { ...o, numerics: true },
      without(o, 'numerics'),
      without(o, 'epoch'),
      without(o, 'counter'),
      without(o, 'epoch', 'counter', 'numerics'),
      { ...o, decorations: { ...deco, host_uuid: '' } },
      { ...o, decorations: {} },
      { ...o, decorations: { hostname: 'only-name.local' } },
      withMembers({ ...o, decorations: { hostname: 'only-name.local' } }, { host_uuid: 'TOP-UUID' }),
      withMembers(o, { host_uuid: 'TOP-UUID', hostname: 'top.local' }),
      withMembers({ ...o, decorations: { ...deco, host_uuid: '' } }, { host_uuid: 'TOP-UUID' }),
      withMembers(without(o, 'decorations'), { host_uuid: '', hostname: '' }),
      { ...o, name: 'pack/Global/Report — ünïcödé 📊', hostIdentifier: 'hôst', calendarTime: '' },
      { ...o, hostIdentifier: '' },
    ];
    let accepted = 0;
    for (const v of read) if (same(JSON.stringify(v))) accepted++;
    expect(accepted).toBe(read.length);
    // a top-level decoration repeating a member the parser does not read
    expect(same(base.replace('"columns"', '"calendarTime":"again","serial":"C02X","columns"'))).toBe(true);
    const epoch = readResultLine(JSON.stringify({ ...o, epoch: '-0' }), OPTS) as { line: { epoch: number } };
    expect(Object.is(epoch.line.epoch, -0)).toBe(true);

    const left: Obj[] = [
      { ...o, epoch: -5 },
      { ...o, counter: -1 },
      { ...o, counter: '1234567890123456' },
      ...['true', '1', 1, 0, 'yes', null, [true]].map((numerics) => ({ ...o, numerics })),
      { ...o, decorations: { ...deco, host_uuid: null } },
      { ...o, decorations: { ...deco, host_uuid: 7 } },
      { ...o, decorations: { ...deco, hostname: null } },
      { ...o, decorations: null },
      { ...o, decorations: ['x'] },
      { ...o, decorations: { ...deco, more: { nested: [1] } } },
      { ...o, hostIdentifier: 42 },
      { ...o, calendarTime: { odd: [1] } },
    ];
    for (const v of left) leftToParser(JSON.stringify(v));
    for (const l of [
      // a top-level decoration named like a member the parser reads: JSON.parse takes the later one
      JSON.stringify(without(o, 'decorations')).replace('"columns"', '"host_uuid":"U","counter":"9","columns"'),
      JSON.stringify(without(o, 'decorations')).replace('"columns"', '"host_uuid":"U","name":"other","columns"'),
      base.replace('"decorations":{', '"decorations":{"hostname":"a",'),
      base.replace('"columns"', '"host_uuid":"A","host_uuid":"B","columns"').replace('"decorations":{"host_uuid":"9E1D2C4B-6A7F-4C3B-8E21-D4F5A6B7C8E9",', '"decorations":{'),
      base.replace('"name"', '"na\\u006de"'),
      base.replace('"hostIdentifier":"', '"hostIdentifier":"\\/'),
      base.replace('"counter":3', '"counter":3,"co\\u0075nter":4'),
      base.replace('"action":"added"', '"action":"add\\u0065d"'),
      base.replace('"counter":3', '"counter":3.0'),
      base.replace('"counter":3', '"counter":3e0'),
      base.replace('"epoch":0', '"epoch":-0'),
      JSON.stringify(o, null, 1),
      ` ${base}`,
      `${base}\n`,
      JSON.stringify(base),
    ]) {
      leftToParser(l);
    }
    // wrapper values (objects) are the parser's
    expect(parseResultLine(o, OPTS).ok).toBe(true);
    expect(readResultLine(o, OPTS)).toBeUndefined();
  });

  it('reads long envelopes and gives up on long broken ones without backtracking blow-up', () => {
    const o = obj(eventLine(host, 'outflow_apps', T, 3, appColumns(APPS.slack)));
    const bare = JSON.stringify(without(o, 'decorations'));
    const pairs = Array.from({ length: 20_000 }, (_, i) => `"d${i}":"v${i}",`).join('');
    expect(same(bare.replace('"columns"', `${pairs}"columns"`))).toBe(true);
    expect(same(JSON.stringify({ ...o, decorations: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`d${i}`, `v${i}`])) }))).toBe(true);
    leftToParser(bare.replace('"columns"', `${pairs}"x":1,"columns"`));
    expect(readResultLine(bare.replace('"columns"', `${pairs}"zzz`), OPTS)).toBeUndefined();
  });

  it('returns undefined for every line the parser rejects', () => {
    const base = eventLine(host, 'outflow_apps', T, 3, appColumns(APPS.slack));
    const o = obj(base);
    const rejected: string[] = [
      JSON.stringify({ ...o, unixTime: NOW + 1 }),
      JSON.stringify({ ...o, unixTime: String(NOW + 1) }),
      JSON.stringify({ ...o, unixTime: -1 }),
      JSON.stringify({ ...o, unixTime: '-1' }),
      JSON.stringify({ ...o, unixTime: 1.5 }),
      JSON.stringify({ ...o, unixTime: 'soon' }),
      JSON.stringify({ ...o, unixTime: null }),
      JSON.stringify({ ...o, counter: '-2' }),
      JSON.stringify({ ...o, epoch: null }),
      JSON.stringify({ ...o, name: '' }),
      JSON.stringify({ ...o, name: 5 }),
      JSON.stringify({ ...o, action: 'changed' }),
      JSON.stringify({ ...o, action: null }),
      JSON.stringify({ ...o, columns: 'flat' }),
      JSON.stringify({ ...o, columns: [] }),
      JSON.stringify({ ...o, columns: null }),
      JSON.stringify({ ...o, hostIdentifier: '', decorations: {} }),
      JSON.stringify({ ...o, hostIdentifier: '', decorations: { host_uuid: '' } }),
      JSON.stringify(without(o, 'unixTime')),
      JSON.stringify(without(o, 'action')),
      JSON.stringify(without(o, 'columns', 'action')),
      JSON.stringify({ ...without(o, 'columns', 'action'), snapshot: { a: 1 } }),
      JSON.stringify({ ...without(o, 'columns', 'action'), snapshot: [1] }),
      JSON.stringify({ ...without(o, 'columns', 'action'), snapshot: [{}, 'x'] }),
      JSON.stringify({ ...without(o, 'columns', 'action'), snapshot: null }),
      JSON.stringify({ ...without(o, 'columns', 'action'), diffResults: { added: [1] } }),
      JSON.stringify({ ...without(o, 'columns', 'action'), diffResults: { removed: {} } }),
      JSON.stringify({ ...without(o, 'columns', 'action'), diffResults: [] }),
      base.replace('"path":"', '"path":"\u0001'),
      base.replace('"path":"', '"path":"\\x'),
      base.replace('"calendarTime":"', '"calendarTime":"\t'),
      '{}',
      '[]',
      '',
      '   ',
      'null',
      base.slice(0, -1),
      `${base}x`,
      `${base}}`,
    ];
    for (const l of rejected) {
      expect(parseResultLine(l, OPTS).ok, l).toBe(false);
      expect(readResultLine(l, OPTS), l).toBeUndefined();
    }
  });

  it('builds rows as JSON.parse does: numbers, escapes, unicode, nested values, odd keys', () => {
    const cols = (body: string) => eventLine(host, 'outflow_destinations', T, 2, {}).replace('"columns":{}', `"columns":{${body}}`);
    const numbers = ['0', '-0', '7', '-7', '0.5', '-1.25e-3', '1E+2', '9007199254740993', '123456789012345678901234567890', '1e400', '2.2250738585072014e-308'];
    const lines = [
      ...numbers.map((n) => cols(`"bytes_out":${n}`)),
      cols('"path":"/Applications/AT&T <Connect>.app","identity":"é日本😀\u2028"'),
      // Go's encoding/json escapes &, <, > (Fleet re-serializes)
      cols('"path":"/Applications/AT\\u0026T \\u003cConnect\\u003e.app","x":"\\/\\"\\\\\\b\\f\\n\\r\\t\\ud83d\\ude00\\ud800"'),
      cols('"p\\u0061th":"key escaped","":"empty key"'),
      cols('"__proto__":{"polluted":true},"constructor":"c","toString":"t"'),
      cols('"10":"ten","2":"two","x":"x","1":"one","4294967295":"not an index"'),
      cols('"k":"first","j":"j","k":"last"'),
      cols('"nested":{"a":[1,{"b":null}]},"list":[],"t":true,"f":false,"n":null'),
      cols(' "spaced" : "value" , "n" : 1 '),
      cols('"a":"}","b":"]","c":",\\"action\\":\\"added\\"}"'),
      cols(''),
      snapshotLine(host, 'outflow_status', T, [status('flows')]).replace('"snapshot":[', '"snapshot":[ {"__proto__":1,"k":"a","k":"b"}, '),
    ];
    let accepted = 0;
    for (const l of lines) if (same(l)) accepted++;
    expect(accepted).toBe(lines.length);
    const proto = readResultLine(lines[numbers.length + 3]!, OPTS) as { line: { rows: { columns: Obj }[] } };
    expect(Object.getPrototypeOf(proto.line.rows[0]!.columns)).toBe(Object.prototype);
    expect(Object.keys(proto.line.rows[0]!.columns)).toContain('__proto__');
    const negZero = readResultLine(lines[1]!, OPTS) as { line: { rows: { columns: Obj }[] } };
    expect(Object.is(negZero.line.rows[0]!.columns.bytes_out, -0)).toBe(true);
  });

  it('builds Outflow\'s own rows (plain layout) without JSON.parse, equal to the parser, and every other layout with it', () => {
    const dest = destinationColumns(flow) as Record<string, string>;
    const layoutLines = [
      eventLine(host, 'outflow_destinations', T, 3, dest),
      eventLine(host, 'outflow_apps', T, 0, appColumns(APPS.chrome)),
      eventLine(host, 'outflow_apps', T, 4, appColumns(APPS.rclone), 'removed'),
      snapshotLine(host, 'outflow_status', T, [status('flows'), status('eslogger'), status('signing')]),
      snapshotLine(host, 'outflow_status', T, [status('flows')]),
      snapshotLine(host, 'outflow_status', T, []),
      eventLine(host, 'outflow_status', T, 0, status('flows')),
    ].map((l) => l.replace(/"numerics":true/, '"numerics":false'));
    const text = (cols: Record<string, string | number>) => Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, String(v)]));
    const otherLines = [
      // numerics true: numbers
      eventLine(host, 'outflow_destinations', T, 3, dest).replace(`"bytes_out":"${dest.bytes_out}"`, `"bytes_out":${dest.bytes_out}`),
      // an escape, a control character escaped, a surrogate pair, a lone surrogate in one value
      eventLine(host, 'outflow_destinations', T, 3, { ...dest, path: '/Applications/My "App".app' }),
      eventLine(host, 'outflow_destinations', T, 3, { ...dest, path: '/tmp/a\nb' }),
      eventLine(host, 'outflow_destinations', T, 3, { ...dest, path: '/Users/a/😀.app' }),
      eventLine(host, 'outflow_destinations', T, 3, { ...dest, path: '/Users/a/\ud800.app' }),
      // a column more, a column less, another order (a newer pack, a re-serializer)
      eventLine(host, 'outflow_destinations', T, 3, { ...dest, zzz_new: 'x' }),
      eventLine(host, 'outflow_destinations', T, 3, Object.fromEntries(Object.entries(dest).slice(1))),
      eventLine(host, 'outflow_destinations', T, 3, dest).replace(/"columns":\{[^}]*\}/, `"columns":${JSON.stringify(Object.fromEntries(Object.entries(text(dest)).reverse()))}`),
      // a status snapshot with one row off-layout, a status row holding numbers
      snapshotLine(host, 'outflow_status', T, [text(status('flows')), { ...text(status('x')), extra: '1' }]),
      snapshotLine(host, 'outflow_status', T, [status('flows')]).replace('"dropped":"0"', '"dropped":0'),
      // another query named like a layout key set
      eventLine(host, 'Other Report', T, 1, text(status('flows'))),
    ].map((l) => l.replace(/"numerics":true/, '"numerics":false'));
    const parse = vi.spyOn(JSON, 'parse');
    try {
      for (const l of layoutLines) {
        parse.mockClear();
        expect(same(l.replace(/"snapshot":\[(.*)\]/, (_m, rows: string) => `"snapshot":[${rows}]`))).toBe(true);
        // same() parses with parseResultLine (one JSON.parse); the reader must not have called it
        expect(parse.mock.calls.length, l).toBe(1);
      }
      for (const l of otherLines) {
        parse.mockClear();
        expect(same(l), l).toBe(true);
        expect(parse.mock.calls.length, l).toBe(2);
      }
    } finally {
      parse.mockRestore();
    }
  });

  it('lays out exactly the columns Outflow\'s packs log (sorted, as osquery writes them)', () => {
    const selected = (query: string) => {
      const list = /SELECT\s+([\s\S]*?)\s+FROM\s/i.exec(query)![1]!;
      const items: string[] = [];
      let depth = 0;
      let cur = '';
      for (const ch of list) {
        if (ch === '(') depth++;
        if (ch === ')') depth--;
        if (ch === ',' && depth === 0) {
          items.push(cur);
          cur = '';
        } else cur += ch;
      }
      items.push(cur);
      return items.map((i) => (/\bAS\s+(\w+)\s*$/i.exec(i) ?? /(\w+)\s*$/.exec(i))![1]!).sort();
    };
    const pack = (name: string) => (parseYaml(readFileSync(path.join(packsSource, `${name}.yaml`), 'utf8')) as { query: string }).query;
    expect(OUTFLOW_ROW_COLUMNS.outflow_destinations).toEqual(selected(pack('outflow_destinations')));
    expect(OUTFLOW_ROW_COLUMNS.outflow_apps).toEqual(selected(pack('outflow_apps')));
    expect(pack('outflow_status')).toMatch(/^SELECT \* FROM outflow_status$/);
    expect(OUTFLOW_ROW_COLUMNS.outflow_status).toEqual(Object.keys(outflowStatus.columns).sort());
  });

  it('takes rows members with the parser\'s precedence and checks', () => {
    const snap = obj(snapshotLine(host, 'outflow_status', T, [status('flows')]));
    const batch = obj(batchLine(host, 'outflow_destinations', T, 5, [destinationColumns(flow)], [destinationColumns({ ...flow, bytes_in: 1 })]));
    const diff = batch.diffResults as Obj;
    const event = obj(eventLine(host, 'outflow_status', T, 0, status('flows')));
    const read: Obj[] = [
      without(snap, 'action'),
      without(snap, 'counter'),
      { ...event, action: 'snapshot' },
      without({ ...event, action: 'snapshot' }, 'counter'),
      without({ ...event, action: 'removed' }, 'counter'),
      { ...batch, diffResults: { added: diff.added } },
      { ...batch, diffResults: { removed: diff.removed } },
      { ...batch, diffResults: { added: null, removed: diff.removed, other: [1] } },
      { ...batch, diffResults: { added: diff.added, removed: diff.removed } },
      { ...batch, diffResults: {} },
    ];
    let accepted = 0;
    for (const v of read) if (same(JSON.stringify(v))) accepted++;
    expect(accepted).toBe(read.length);
    expect(same(JSON.stringify(batch).replace('"decorations"', '"numerics":true,"decorations"'))).toBe(true);
    // a snapshot line's action is not read by the parser; other members after the rows are left to it
    for (const v of [{ ...snap, action: 'added' }, { ...snap, action: 5 }, { ...snap, columns: { x: 1 }, action: 'removed' }, { ...batch, columns: 'ignored' }]) {
      leftToParser(JSON.stringify(v));
    }
  });

  it('never accepts a line the parser would judge differently: truncations and mutations', () => {
    const bases = [...osqueryLines(), ...variantLines()];
    let accepted = 0;
    for (const base of bases) {
      for (let cut = 0; cut <= base.length; cut++) if (same(base.slice(0, cut))) accepted++;
    }
    // only the whole line is read
    expect(accepted).toBe(bases.length);

    const rand = mulberry32(20260302);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)]!;
    const tokens = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\t', '\n', '\u0001', '\u001f', '0', '1', '9', '-', '.', 'e', 'E', '+', 'x', 't', 'n', 'f', '/', 'é', '\ud800', '😀', 'null', 'true', 'false', '""', '{}', '[]', '\\u0041', '\\"', '\\/', '\\n', '\\x', '"x":1,', ',"a":"b"', '"columns":', '"snapshot":[{}]', ',"action":"added"}', '"host_uuid":"X",', '"counter":"5",', '-0', '1e5', '01', ''];
    let n = 0;
    accepted = 0;
    let rejected = 0;
    while (n < 24_000) {
      let l = pick(bases);
      // one to three edits, each at a random place
      for (let e = 1 + Math.floor(rand() * 3); e > 0; e--) {
        const at = Math.floor(rand() * (l.length + 1));
        const mode = rand();
        if (mode < 0.3) l = l.slice(0, at) + pick(tokens) + l.slice(at + 1);
        else if (mode < 0.6) l = l.slice(0, at) + pick(tokens) + l.slice(at);
        else if (mode < 0.8) l = l.slice(0, at) + l.slice(at + 1 + Math.floor(rand() * 4));
        else if (mode < 0.9) {
          // a piece of the line copied elsewhere (keeps structure more often than single characters)
          const from = Math.floor(rand() * l.length);
          l = l.slice(0, at) + l.slice(from, from + 1 + Math.floor(rand() * 30)) + l.slice(at);
        } else {
          // a digit changed: numbers and times stay numbers
          const d = l.slice(at).search(/\d/);
          if (d >= 0) l = l.slice(0, at + d) + String(Math.floor(rand() * 10)) + l.slice(at + d + 1);
        }
      }
      n++;
      if (same(l, rand() < 0.8 ? OPTS : {})) accepted++;
      else rejected++;
    }
    // both outcomes happen: edits inside strings and digits keep lines valid, most structural edits do not
    expect(accepted).toBeGreaterThan(4000);
    expect(rejected).toBeGreaterThan(4000);
  });
});
