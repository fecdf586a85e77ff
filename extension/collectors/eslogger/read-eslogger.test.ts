import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEsLine } from './parse-eslogger.js';
import { readEsLine } from './read-eslogger.js';
import { body, esLine, floodLines, keychainDittoScenario, type ProcSpec } from './testing/es-lines.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureLines = (name: string) => readFileSync(path.join(here, 'fixtures', name), 'utf8').split('\n').filter(Boolean);
const T = Date.UTC(2026, 2, 3, 9, 0, 0);

/**
 * The contract: whenever the hand reader returns an event, JSON.parse + parseEsObject returns `ok` with a
 * strictly equal event. Returns whether the hand reader accepted the line.
 */
function same(line: string): boolean {
  const hand = readEsLine(line);
  if (hand === undefined) return false;
  const full = parseEsLine(line);
  if (!full.ok) throw new Error(`hand reader accepted a line the parser rejects (${full.detail}): ${line}`);
  expect(hand).toStrictEqual(full.event);
  return true;
}

const sortedKeys = (o: unknown): unknown =>
  Array.isArray(o) ? o.map(sortedKeys) : o && typeof o === 'object' ? Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortedKeys((o as Record<string, unknown>)[k])])) : o;
const reserialize = (l: string, f: (o: unknown) => unknown) => JSON.stringify(f(JSON.parse(l))).replaceAll('/', '\\/');

const proc: ProcSpec = { pid: 4100, ppid: 1, path: '/Users/dana/bin/tool', startMs: T - 5000, tty: '/dev/ttys001', responsiblePid: 512 };
const platform: ProcSpec = { pid: 4101, ppid: 4100, path: '/usr/bin/zip', platform: true, signingId: 'com.apple.zip', startMs: T - 10, cdhash: '0000000000000000000000000000000000000000' };

/** Every kind and body shape, in both message versions (object and array audit tokens). */
function kindLines(): string[] {
  const out: string[] = [];
  for (const version of [9, 10]) {
    const l = (kind: string, b: object, p: ProcSpec = proc) => esLine({ version, kind, timeMs: T, nanos: 123456, gseq: 77, seq: 5, process: p, body: b });
    out.push(
      l('exec', body.exec(platform, ['zip', '-r', '/tmp/out.zip', 'Documents'], '/Users/dana', version)),
      l('exec', body.exec(platform, [], '/', version), platform),
      l('fork', body.fork({ ...proc, pid: 4102 }, version)),
      l('exit', body.exit(256)),
      l('open', body.open('/Users/dana/Library/Keychains/login.keychain-db', 0x602)),
      l('create', body.createExisting('/private/tmp/x.zip')),
      l('create', body.createNew('/Users/dana/Desktop', 'new file.txt')),
      l('create', body.createNew('/', 'root.txt')),
      l('write', body.write('/Users/dana/.ssh/id_rsa')),
      l('rename', body.renameExisting('/Users/dana/a.tmp', '/Users/dana/a.txt')),
      l('rename', body.renameNew('/Users/dana/a.tmp', '/Users/dana/Documents', 'a.7z')),
      l('close', body.close('/private/tmp/x.zip', true)),
      l('close', body.close('/Users/dana/Documents/a.txt', false)),
    );
  }
  return out;
}

function baseLines(): string[] {
  const kinds = kindLines();
  return [
    ...fixtureLines('eslogger-events.jsonl'),
    ...fixtureLines('eslogger-tricky.jsonl'),
    ...fixtureLines('eslogger-scenario-keychain-ditto.jsonl'),
    ...keychainDittoScenario(T),
    ...kinds,
    // key order is not stable (formats.md §5.5)
    ...kinds.map((l) => reserialize(l, sortedKeys)),
  ];
}

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
}

describe('readEsLine', () => {
  it('reads every kind, both token shapes, both destination forms, and sorted keys like the parser', () => {
    const lines = baseLines();
    let accepted = 0;
    for (const l of lines) if (same(l)) accepted++;
    // the plain eslogger lines are all read by hand (only the tricky fixtures fall back)
    expect(accepted).toBeGreaterThan(lines.length - 12);
    for (const l of [...kindLines(), ...keychainDittoScenario(T)]) expect(readEsLine(l), l).toBeDefined();
  });

  it('reads the bench flood like the parser', () => {
    let accepted = 0;
    for (const l of floodLines(3000, { startMs: T, seed: 5, relevantPct: 60 })) if (same(l)) accepted++;
    expect(accepted).toBe(3000);
  });

  it('falls back on escapes other than \\/ and reads plain unicode', () => {
    const open = (p: string) => esLine({ kind: 'open', timeMs: T, gseq: 1, process: proc, body: body.open(p) });
    expect(same(open('/Users/dana/Documents/résumé 日本.pages'))).toBe(true);
    expect(readEsLine(open('/Users/dana/Documents/line\nbreak.txt'))).toBeUndefined();
    expect(readEsLine(open('/Users/dana/Documents/"quoted".txt'))).toBeUndefined();
    expect(readEsLine(open('/Users/dana/Documents/back\\slash.txt'))).toBeUndefined();
    expect(readEsLine(open('/Users/dana/a.txt').replace('dana', 'd\\u0061na'))).toBeUndefined();
    // an escaped key could decode to one we read: never taken at face value
    const escapedKey = open('/Users/dana/a.txt').replace('"ppid":1', '"ppid":1,"pp\\u0069d":7');
    expect(readEsLine(escapedKey)).toBeUndefined();
    expect(parseEsLine(escapedKey)).toMatchObject({ ok: true, event: { process: { ppid: 7 } } });
    // `\/` inside a key is allowed (it cannot spell a key we read)
    expect(same(open('/Users/dana/a.txt').replace('"group_id"', '"group\\/id"'))).toBe(true);
  });

  it('takes field values with the parser\'s rules (optional, null, mistyped)', () => {
    const open = esLine({ kind: 'open', timeMs: T, gseq: 1, process: proc, body: body.open('/Users/dana/a.txt') });
    const variants: [string, string, boolean][] = [
      ['"tty":{', '"tty":null,"x":{', true],
      ['"team_id":"Q7R2K9W4ZD"', '"team_id":null', true],
      ['"team_id":"Q7R2K9W4ZD"', '"team_id":""', true],
      ['"team_id":"Q7R2K9W4ZD"', '"team_id":5', true],
      ['"signing_id":"com.example.tool"', '"signing_id":false', true],
      ['"cdhash":"A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"', '"cdhash":"0000"', true],
      ['"cdhash":"A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"', '"cdhash":null', true],
      ['"is_platform_binary":false', '"is_platform_binary":"true"', true],
      ['"is_platform_binary":false', '"is_platform_binary":true', true],
      ['"original_ppid":1', '"original_ppid":null', true],
      ['"original_ppid":1', '"original_ppid":"1"', true],
      ['"original_ppid":1,', '', true],
      ['"codesigning_flags":570491649', '"codesigning_flags":[]', true],
      ['"cs_validation_category":6', '"cs_validation_category":-6', true],
      ['"fflag":1', '"fflag":null', true],
      ['"path_truncated":false', '"path_truncated":true', true],
      ['"path_truncated":false', '"path_truncated":1', true],
      ['"event_type":10', '"event_type":"10"', true],
      ['"event_type":10,', '', true],
      ['"version":10', '"version":null', true],
      ['"global_seq_num":1', '"global_seq_num":-1', true],
      ['"responsible_audit_token":[501,501,20,501,20,512,100009,77]', '"responsible_audit_token":null', true],
      ['"responsible_audit_token":[501,501,20,501,20,512,100009,77]', '"responsible_audit_token":[1,2,3,4,5,6,7,8,9]', true],
      // shapes left to the parser (it may accept or reject them; the reader does not guess)
      ['"ppid":1', '"ppid":1.0', false],
      ['"ppid":1', '"ppid":1e0', false],
      ['"ppid":1', '"ppid":-0', false],
      ['"ppid":1', '"ppid":01', false],
      ['"ppid":1', '"ppid":12345678901234567', false],
      ['"ppid":1', '"ppid":"1"', false],
      ['"ppid":1', '"ppid":1,"ppid":2', false],
      ['"event_type":10', '"event_type":-1', false],
      ['"event_type":10', '"event_type":9', false],
      ['"responsible_audit_token":[501,501,20,501,20,512,100009,77]', '"responsible_audit_token":[1,2,3,4,5,6,7]', false],
      ['"audit_token":[501,501,20,501,20,4100,100009,12301]', '"audit_token":[501,501,20,501,20,4100,100009]', false],
      ['"audit_token":[501,501,20,501,20,4100,100009,12301]', '"audit_token":null', false],
      ['"start_time":"', '"start_time":"x', false],
      ['"time":"', '"time":"x', false],
      ['{"open":{', '{"open":{},"close":{', false],
      ['{"open":{', '{"unlink":{', false],
      ['"stat":{"st_dev":16777232', '"stat":{"st_dev":16777232,"deep":[[[[[[1]]]]]]', false],
    ];
    for (const [from, to, accepted] of variants) {
      expect(open.includes(from), from).toBe(true);
      const l = open.replace(from, to);
      expect(same(l), `${from} → ${to}`).toBe(accepted);
    }
    const close = esLine({ kind: 'close', timeMs: T, gseq: 1, process: proc, body: body.close('/tmp/a.zip', true) });
    expect(same(close)).toBe(true);
    expect(same(close.replace('"modified":true', '"modified":"true"'))).toBe(false);
    expect(same(close.replace('"modified":true', '"x":true'))).toBe(false);
    // v9 object tokens: pidversion optional, pid/euid required
    const v9 = esLine({ version: 9, kind: 'open', timeMs: T, gseq: 1, process: proc, body: body.open('/Users/dana/a.txt') });
    expect(same(v9.replace(',"pidversion":12301', ''))).toBe(true);
    expect(same(v9.replace('"pidversion":12301', '"pidversion":null'))).toBe(true);
    expect(same(v9.replace('"euid":501,', ''))).toBe(false);
  });

  it('never accepts a line the parser would judge differently: truncations and single-character mutations', () => {
    const rand = rng(42);
    const chars = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\t', '0', '1', '9', '-', '.', 'e', 'E', '+', 'x', 't', 'n', 'f', '/', '\u0001', '\n', 'é', ''];
    let accepted = 0;
    let rejected = 0;
    for (const base of [...kindLines(), ...keychainDittoScenario(T).slice(0, 6)]) {
      for (let cut = 0; cut < base.length; cut += 7) if (same(base.slice(0, cut))) accepted++;
      for (let n = 0; n < 120; n++) {
        const at = Math.floor(rand() * base.length);
        const c = chars[Math.floor(rand() * chars.length)]!;
        const mode = rand();
        const l = mode < 0.4 ? base.slice(0, at) + c + base.slice(at + 1) : mode < 0.7 ? base.slice(0, at) + c + base.slice(at) : base.slice(0, at) + base.slice(at + 1);
        if (same(l)) accepted++;
        else rejected++;
      }
    }
    // both outcomes happen (mutations of skipped values are still read, broken JSON never)
    expect(accepted).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(500);
  });

  it('reads strings dense with \\/ escapes like the parser (a long argv of slashes anyone can exec)', () => {
    const args = ['tool', '/'.repeat(1 << 16), 'a/b/'.repeat(4096), '/x/'];
    const exec = esLine({ kind: 'exec', timeMs: T, gseq: 1, process: proc, body: body.exec(platform, args, '/Users/dana', 10) });
    expect(exec).toContain('\\/\\/\\/');
    expect(same(exec)).toBe(true);
    expect(readEsLine(exec)).toMatchObject({ kind: 'exec', args });
  });

  it('leaves whitespace-formatted JSON to the parser', () => {
    const l = esLine({ kind: 'open', timeMs: T, gseq: 1, process: proc, body: body.open('/Users/dana/a.txt') });
    expect(readEsLine(JSON.stringify(JSON.parse(l), null, 1))).toBeUndefined();
    expect(readEsLine(`${l} `)).toBeUndefined();
    expect(readEsLine(`${l}x`)).toBeUndefined();
    expect(readEsLine('')).toBeUndefined();
    expect(readEsLine('{}')).toBeUndefined();
  });
});
