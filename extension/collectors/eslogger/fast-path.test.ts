import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalPath, DEFAULT_SENSITIVE_RULES, SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { RingBuffer } from '../../runtime/ring-buffer.js';
import type { ArchiveEventRow, SensitiveFileEventRow } from '../../runtime/context.js';
import { FastPath, rawEventType, rawExit, rawGlobalSeq, Verdict } from './fast-path.js';
import { parseEsLine, type EsEvent } from './parse-eslogger.js';
import { EsloggerPipeline } from './pipeline.js';
import { recordingServices } from './testing/test-context.js';
import { body, esLine, floodLines, keychainDittoScenario } from './testing/es-lines.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureLines = (name: string) => readFileSync(path.join(here, 'fixtures', name), 'utf8').split('\n').filter(Boolean);
const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
const fast = new FastPath(matcher);
const T = Date.UTC(2026, 2, 3, 9, 0, 0);
const proc = { pid: 100, ppid: 1, path: '/usr/local/bin/tool', startMs: T - 1000 };
const line = (kind: string, b: object) => esLine({ kind, timeMs: T, gseq: 1, process: proc, body: b });

describe('FastPath.verdict', () => {
  it.each([
    ['exec always passes', line('exec', body.exec(proc, ['tool'], '/', 10)), Verdict.Parse],
    ['fork always passes', line('fork', body.fork({ ...proc, pid: 101 }, 10)), Verdict.Parse],
    ['exit always passes', line('exit', body.exit(0)), Verdict.Parse],
    ['open of a keychain (escaped slashes)', line('open', body.open('/Users/dana/Library/Keychains/login.keychain-db')), Verdict.Parse],
    ['open via the Data firmlink', line('open', body.open('/System/Volumes/Data/Users/dana/.ssh/id_rsa')), Verdict.Parse],
    ['open of a system library', line('open', body.open('/usr/lib/libSystem.B.dylib')), Verdict.Reject],
    ['write into a build folder', line('write', body.write('/Users/dana/src/app/build/a.o')), Verdict.Reject],
    ['write into Documents', line('write', body.write('/Users/dana/Documents/a.txt')), Verdict.Parse],
    ['close without modification', line('close', body.close('/Users/dana/Documents/a.txt', false)), Verdict.Reject],
    ['close-modified of an archive in /private/tmp', line('close', body.close('/private/tmp/x.zip', true)), Verdict.Parse],
    ['close-modified of a plain temp file', line('close', body.close('/private/tmp/x.txt', true)), Verdict.Reject],
    ['create of an archive', line('create', body.createExisting('/private/var/folders/x8/abc/T/d.tgz')), Verdict.Parse],
    ['create with new_path is left to the parser', line('create', body.createNew('/usr/local/x', 'y')), Verdict.Parse],
    ['rename into an archive name', line('rename', body.renameExisting('/tmp/a', '/tmp/a.7z')), Verdict.Parse],
    ['rename of junk', line('rename', body.renameExisting('/tmp/a', '/tmp/b')), Verdict.Reject],
    ['open of an archive is not an archive event', line('open', body.open('/tmp/x.zip')), Verdict.Reject],
    ['an event type we did not ask for', line('unlink', { target: { path: '/tmp/x' } }).replace('"event_type":33', '"event_type":32'), Verdict.Unsupported],
    ['a line without event_type goes to the parser', '{"event":{"open":{}}}', Verdict.Parse],
    ['a truncated line goes to the parser (to be counted malformed)', line('open', body.open('/usr/lib/x')).slice(0, 1500), Verdict.Parse],
  ])('%s', (_name, raw, want) => expect(fast.verdict(raw)).toBe(want));

  it('leaves JSON escapes other than \\/ to the parser, unless the folder cannot be sensitive', () => {
    expect(fast.verdict(line('open', body.open('/Users/dana/src/caf\u00e9\n.txt')))).toBe(Verdict.Parse);
    expect(fast.verdict(line('open', body.open('/usr/lib/caf\u00e9\n.dylib')))).toBe(Verdict.Reject);
  });

  it('passes an archive name spelled with \\u escapes (another encoder than eslogger)', () => {
    const closed = (p: string) => line('close', body.close(p, true));
    // JSON.stringify leaves ASCII alone, so write the escape into the raw line ourselves.
    expect(fast.verdict(closed('/Users/dana/Data.zip').replace('.zip', '.z\\u0069p'))).toBe(Verdict.Parse);
    expect(fast.verdict(closed('/private/var/tmp/x.zip').replace('.zip', '.\\u007aip'))).toBe(Verdict.Parse);
    // Without a \\u escape the same folders are still screened on their characters.
    expect(fast.verdict(closed('/Users/dana/src/x.txt'))).toBe(Verdict.Reject);
    expect(fast.verdict(closed('/private/var/tmp/x.txt'))).toBe(Verdict.Reject);
  });

  it('screens only the event body: the executable of a file event cannot make a row', () => {
    const fromDownloads = { ...proc, path: '/Users/dana/Downloads/tool' };
    const open = (p: typeof proc, file: string) => esLine({ kind: 'open', timeMs: T, gseq: 1, process: p, body: body.open(file) });
    expect(fast.verdict(open(fromDownloads, '/usr/lib/x.dylib'))).toBe(Verdict.Reject);
    expect(fast.verdict(open(fromDownloads, '/Users/dana/.ssh/id_rsa'))).toBe(Verdict.Parse);
    // event before process (key order is not stable): the body is still found, the executable after it is screened too
    const eventFirst = (l: string) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      const { event, ...rest } = o;
      return JSON.stringify({ event, ...rest }).replaceAll('/', '\\/');
    };
    expect(fast.verdict(eventFirst(open(proc, '/Users/dana/.ssh/id_rsa')))).toBe(Verdict.Parse);
    expect(fast.verdict(eventFirst(open(proc, '/usr/lib/x.dylib')))).toBe(Verdict.Reject);
    // no recognisable event body: every path in the line is screened, as a false positive the parse resolves
    const noKind = open(fromDownloads, '/usr/lib/x.dylib').replace('{"open":', '{"opened":');
    expect(fast.verdict(noKind)).toBe(Verdict.Parse);
  });

  it('reads the close flag from the event body', () => {
    const close = (modified: boolean, file: string) => line('close', body.close(file, modified));
    expect(fast.verdict(close(true, '/Users/dana/Documents/a.txt'))).toBe(Verdict.Parse);
    expect(fast.verdict(close(false, '/Users/dana/Documents/a.txt'))).toBe(Verdict.Reject);
    expect(fast.verdict(close(true, '/Users/dana/Documents/a.txt').replace('"modified":true', '"modified" : true'))).toBe(Verdict.Parse);
  });

  it('ignores keys that merely end in "path" (dyld_exec_path)', () => {
    expect(rawEventType('{"xevent_type":10}')).toBe(-1);
    const exec = line('exec', body.exec(proc, ['tool'], '/', 10));
    expect(exec).toContain('"dyld_exec_path"');
  });

  it('tolerates whitespace around keys', () => {
    const spaced = line('open', body.open('/Users/dana/.aws/credentials')).replaceAll('"path":', '"path" : ').replace('"event_type":', '"event_type": ');
    expect(rawEventType(spaced)).toBe(10);
    expect(fast.verdict(spaced)).toBe(Verdict.Parse);
    expect(fast.verdict(spaced.replace('.aws', 'src'))).toBe(Verdict.Reject);
  });

  it('reads global_seq_num without JSON.parse', () => {
    expect(rawGlobalSeq(esLine({ kind: 'exit', timeMs: T, gseq: 987654321, process: proc, body: body.exit() }))).toBe(987654321);
    expect(rawGlobalSeq('{}')).toBe(-1);
  });
});

describe('raw-path screen', () => {
  // Segments of the taxonomy's own patterns ({a,b} expanded, wildcards filled in), plus aliases and noise.
  const ruleSegments = [
    ...new Set(
      DEFAULT_SENSITIVE_RULES.flatMap((r) =>
        r.pattern
          .split('/')
          .flatMap((seg) => {
            const m = /^(.*)\{([^}]*)\}(.*)$/.exec(seg);
            return m ? m[2]!.split(',').map((alt) => m[1]! + alt + m[3]!) : [seg];
          })
          .map((seg) => seg.replaceAll('**', 'deep').replaceAll('*', 'x').replaceAll('?', 'q'))
          .filter((seg) => seg && seg !== '~'),
      ),
    ),
  ];
  const heads = ['/Users/dana', '/Users/Shared', '/Users', '/Users/', '/var/root', '/private/var/root', '/System/Volumes/Data/Users/dana', '/System/Volumes/Data', '/System/Library', '/private/tmp', '/private/var', '/private', '/tmp', '/var/db', '/Library', '/Volumes/USB', '/usr/lib', '/opt', ''];
  const noise = ['src', 'build', 'Caches', 'node_modules', 'a.txt', 'Library', 'x.kdbx', 'b.kdb', 'Ünïcode', 'ĶEYS', ''];

  /** Generated paths, each in a line built by `lineOf` from its JSON spelling: a path `truth` says is sensitive passes. */
  function screens(lineOf: (enc: string) => string, pathOf: (e: EsEvent) => string | false, truth: (canonical: string) => boolean) {
    let s = 99;
    const rand = () => {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      return s / 0x80000000;
    };
    const pick = <X,>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)]!;
    let sensitive = 0;
    let rejected = 0;
    for (let n = 0; n < 6000; n++) {
      const depth = Math.floor(rand() * 6);
      let p = rand() < 0.5 ? pick(['/Users/dana', '/private/var/root', '/System/Volumes/Data/Users/dana']) : pick(heads);
      for (let d = 0; d < depth; d++) p += `/${rand() < 0.75 ? pick(ruleSegments) : pick(noise)}`;
      if (rand() < 0.1) p += '/';
      // the case a reader typed (a case-insensitive volume opens `~/.SSH/ID_RSA` all the same)
      if (rand() < 0.3) p = [...p].map((ch) => (rand() < 0.3 ? (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()) : ch)).join('');
      const sure = truth(canonicalPath(p));
      // JSON allows other spellings of the same path: unescaped slashes, \u escapes of any character
      const style = rand();
      const u = style < 0.35 ? Math.floor(rand() * p.length) : -1;
      let enc = '';
      for (let i = 0; i < p.length; i++) {
        const ch = p[i]!;
        if (i === u) enc += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
        else if (ch === '/') enc += style > 0.85 ? '/' : '\\/';
        else enc += JSON.stringify(ch).slice(1, -1);
      }
      const raw = lineOf(enc);
      const parsed = parseEsLine(raw);
      expect(parsed.ok && pathOf(parsed.event), raw).toBe(p);
      const v = fast.verdict(raw);
      if (sure) {
        sensitive++;
        expect(v, p).toBe(Verdict.Parse);
      } else if (v === Verdict.Reject) rejected++;
    }
    return { sensitive, rejected };
  }

  it('never rejects a path the matcher classifies (raw escapes, aliases, homes, endings)', () => {
    const { sensitive, rejected } = screens(
      (enc) => line('open', body.open('@PATH@')).replace('@PATH@', enc),
      (e) => e.kind === 'open' && e.file.path,
      (p) => SensitivePathMatcher.prototype.match.call(matcher, p) !== undefined,
    );
    // the test exercises both sides: many sensitive paths, and most others screened out
    expect(sensitive).toBeGreaterThan(400);
    expect(rejected).toBeGreaterThan(3000);
  });

  it("never rejects a rename of a folder that holds a rule's files (matchBelow), nor of a file the matcher classifies", () => {
    const { sensitive, rejected } = screens(
      (enc) => line('rename', body.renameExisting('@PATH@', '/private/tmp/x', true)).replace('@PATH@', enc),
      (e) => e.kind === 'rename' && e.source.path,
      (p) => matcher.match(p) !== undefined || matcher.matchBelow(p) !== undefined,
    );
    expect(sensitive).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(2000);
  });
});

describe('rawExit', () => {
  it.each([9, 10])('reads pid, start and time like the parser (message version %i)', (version) => {
    const l = esLine({ version, kind: 'exit', timeMs: T + 1500, gseq: 5, process: { ...proc, pid: 4242 }, body: body.exit(0) });
    const parsed = parseEsLine(l);
    if (!parsed.ok) throw new Error(parsed.detail);
    expect(rawExit(l)).toEqual({ pid: 4242, processStart: parsed.event.process.processStart, time: parsed.event.time });
  });
  it('gives up on shapes it does not expect', () => {
    const exec = line('exec', body.exec(proc, ['tool'], '/', 10)); // two processes
    expect(rawExit(exec)).toBeUndefined();
    expect(rawExit('{"time":"2026-03-03T09:00:00Z","process":{"start_time":"2026-03-03T08:00:00Z","audit_token":"x"}}')).toBeUndefined();
    expect(rawExit('{"event":{"exit":{}}}')).toBeUndefined();
  });
});

describe('the fast path never loses a row', () => {
  const run = (lines: string[], parseEveryLine: boolean) => {
    const { processes, signing, recorded } = recordingServices();
    const sensitiveEvents = new RingBuffer<SensitiveFileEventRow>(1_000_000, 1e12, (e) => e.time);
    const archiveEvents = new RingBuffer<ArchiveEventRow>(1_000_000, 1e12, (e) => e.time);
    const p = new EsloggerPipeline({ matcher, processes, signing, sensitiveEvents, archiveEvents, precursorRetention: { tier1: 1e12, other: 1e12 }, now: () => T / 1000, parseEveryLine });
    for (const l of lines) p.handleLine(l);
    return { sensitive: sensitiveEvents.toArray(), archive: archiveEvents.toArray(), recorded, stats: p.stats };
  };

  it('gives the same rows and process-model input with and without the prefilter', () => {
    const lines = [
      ...fixtureLines('eslogger-events.jsonl'),
      ...fixtureLines('eslogger-tricky.jsonl'),
      ...keychainDittoScenario(T),
      ...floodLines(5_000, { startMs: T, seed: 7 }),
    ];
    // Key order is not stable (formats.md §5.5): the same events with keys sorted (event before process).
    const sorted = (o: unknown): unknown =>
      Array.isArray(o) ? o.map(sorted) : o && typeof o === 'object' ? Object.fromEntries(Object.keys(o).sort().map((k) => [k, sorted((o as Record<string, unknown>)[k])])) : o;
    lines.push(...keychainDittoScenario(T + 600_000).map((l) => JSON.stringify(sorted(JSON.parse(l))).replaceAll('/', '\\/')));
    const filtered = run(lines, false);
    const full = run(lines, true);
    expect(filtered.sensitive).toEqual(full.sensitive);
    expect(filtered.archive).toEqual(full.archive);
    expect(filtered.recorded).toEqual(full.recorded);
    expect(filtered.sensitive.length).toBeGreaterThan(30);
    expect(filtered.archive.length).toBeGreaterThan(30);
    // and it actually filters: most of the flood never reaches JSON.parse
    expect(filtered.stats.rejected).toBeGreaterThan(lines.length * 0.8);
    expect(filtered.stats.parsed).toBeLessThan(lines.length * 0.1);
  });
});
