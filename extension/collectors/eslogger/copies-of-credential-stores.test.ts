/**
 * A copy of a credential store holds the secret as the original does. AMOS (Banshee, Poseidon) has Finder `duplicate`
 * Safari's cookies, the keychain folder, Notes into its staging folder: Finder's clone, a read in Finder's lineage
 * group. The stealer's own `ditto` then reads the copies to zip them, and its `curl` posts the zip. The pipeline follows
 * an unauthorized copy of a tier-1 file or folder (clone, rename, hard link) to where it went, and judges later
 * accesses there by the original's rule (SensitiveCopies).
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { unknownRow } from '../../tables/code_signing/signing-service.js';
import { FastPath, Verdict } from './fast-path.js';
import { parseEsLine } from './parse-eslogger.js';
import { SensitiveCopies } from './sensitive-copies.js';
import { body, esLine, type ProcSpec } from './testing/es-lines.mjs';
import { pipelineWorld } from './testing/test-context.js';

const NOW = 1_772_500_000;
const HOME = '/Users/alice';
const COOKIES = `${HOME}/Library/Cookies/Cookies.binarycookies`;
const KEYCHAINS = `${HOME}/Library/Keychains`;
const SSH_KEY = `${HOME}/.ssh/id_ed25519`;

const finder: ProcSpec = { pid: 400, ppid: 1, path: '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder', platform: true, signingId: 'com.apple.finder', startMs: (NOW - 80_000) * 1000 };
const ditto: ProcSpec = { pid: 831, ppid: 830, path: '/usr/bin/ditto', platform: true, signingId: 'com.apple.ditto', startMs: (NOW - 70) * 1000 };
const curl: ProcSpec = { pid: 841, ppid: 840, path: '/usr/bin/curl', platform: true, signingId: 'com.apple.curl', startMs: (NOW - 60) * 1000 };
const stealer: ProcSpec = { pid: 700, ppid: 1, path: `${HOME}/.local/bin/helper`, signingId: null, teamId: null, startMs: (NOW - 300) * 1000 };
const safari: ProcSpec = { pid: 520, ppid: 1, path: '/Applications/Safari.app/Contents/MacOS/Safari', platform: true, signingId: 'com.apple.Safari', startMs: (NOW - 7200) * 1000 };
const securityd: ProcSpec = { pid: 90, ppid: 1, path: '/usr/sbin/securityd', platform: true, signingId: 'com.apple.securityd', startMs: (NOW - 86_400) * 1000 };

let gseq = 0;
const at = (secondsAgo: number) => (NOW - secondsAgo) * 1000;
const clone = (p: ProcSpec, secondsAgo: number, source: string, dir: string, name: string, isDir = false) =>
  esLine({ kind: 'clone', timeMs: at(secondsAgo), gseq: ++gseq, process: p, body: body.clone(source, dir, name, isDir) });
const open = (p: ProcSpec, secondsAgo: number, path: string) => esLine({ kind: 'open', timeMs: at(secondsAgo), gseq: ++gseq, process: p, body: body.open(path) });
const write = (p: ProcSpec, secondsAgo: number, path: string) => esLine({ kind: 'write', timeMs: at(secondsAgo), gseq: ++gseq, process: p, body: body.write(path) });
const rename = (p: ProcSpec, secondsAgo: number, source: string, dir: string, name: string) =>
  esLine({ kind: 'rename', timeMs: at(secondsAgo), gseq: ++gseq, process: p, body: body.renameNew(source, dir, name) });
const link = (p: ProcSpec, secondsAgo: number, source: string, dir: string, name: string) =>
  esLine({ kind: 'link', timeMs: at(secondsAgo), gseq: ++gseq, process: p, body: body.link(source, dir, name) });

function play(lines: string[], parseEveryLine = false) {
  const { pipeline, sensitiveEvents } = pipelineWorld({ now: NOW, parseEveryLine });
  for (const l of lines) pipeline.handleLine(l);
  const rows = sensitiveEvents.toArray();
  return { rows, pipeline, brief: rows.map((r) => [r.pid, r.operation, r.file_path, r.category, r.tier]) };
}

const AMOS = [
  clone(finder, 120, COOKIES, '/private/tmp/salmonela', 'Cookies.binarycookies'),
  clone(finder, 110, KEYCHAINS, '/private/tmp/salmonela', 'Keychains', true),
  open(ditto, 70, '/private/tmp/salmonela/Cookies.binarycookies'),
  open(ditto, 69, '/private/tmp/salmonela/Keychains/login.keychain-db'),
  // the stealer's own notes beside the copies are no secret
  open(ditto, 68, '/private/tmp/salmonela/passwords.txt'),
];

describe('copies of credential stores made by another process (AMOS through Finder)', () => {
  it("ditto's reads of Finder's copies are reads of Safari's cookies and of the keychain, in ditto's own group", () => {
    const { brief, pipeline } = play(AMOS);
    expect(pipeline.stats.copiesFollowed).toBe(2);
    expect(brief).toEqual([
      [400, 'open', COOKIES, 'browser_secrets', 1],
      [400, 'open', KEYCHAINS, 'keychain', 1],
      [831, 'open', '/tmp/salmonela/Cookies.binarycookies', 'browser_secrets', 1],
      [831, 'open', '/tmp/salmonela/Keychains/login.keychain-db', 'keychain', 1],
    ]);
  });

  it('the fast path passes on what the full parse of every line makes rows of', () => {
    expect(play(AMOS).brief).toEqual(play(AMOS, true).brief);
  });

  it("the fast path passes a copy's path on only while copies are followed", () => {
    const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
    const copies = new SensitiveCopies(3600);
    const fast = new FastPath(matcher, copies);
    const read = open(ditto, 70, '/private/tmp/salmonela/Cookies.binarycookies');
    expect(fast.verdict(read)).toBe(Verdict.Reject);
    copies.record('/tmp/salmonela/Cookies.binarycookies', COOKIES, NOW - 120);
    copies.record('/Users/Shared/.x', KEYCHAINS, NOW - 120);
    const verdict = (path: string) => fast.verdict(open(ditto, 70, path));
    // every spelling of the copy, and what lies in a copied folder
    for (const path of [
      '/private/tmp/salmonela/Cookies.binarycookies',
      '/tmp/salmonela/Cookies.binarycookies',
      '/System/Volumes/Data/private/tmp/salmonela/Cookies.binarycookies',
      '/PRIVATE/TMP/Salmonela/COOKIES.binarycookies',
      '/private/tmp//salmonela/Cookies.binarycookies',
      '/Users/Shared/.x/login.keychain-db',
      '/System/Volumes/Data/Users/Shared/.X/a/b',
      // what the raw screen cannot fold is left to the parse
      '/private/tmp/salmon\u00e9la/x',
    ]) expect([path, verdict(path)]).toEqual([path, Verdict.Parse]);
    for (const path of ['/private/tmp/elsewhere/Cookies.binarycookies', '/private/tmp/salmonela', '/private/tmp/salmonela/Cookies.binarycookiesx', '/Users/Shared/.xy/a', '/Users/Shared', '/var/tmp/salmonela/Cookies.binarycookies']) {
      expect([path, verdict(path)]).toEqual([path, Verdict.Reject]);
    }
  });

  it("the rule's authorized reader reading a copy is authorized, as it is for the original", () => {
    const { brief, pipeline } = play([clone(finder, 120, COOKIES, '/private/tmp/s', 'C'), open(safari, 60, '/private/tmp/s/C')]);
    expect(brief).toEqual([[400, 'open', COOKIES, 'browser_secrets', 1]]);
    expect(pipeline.stats.authorized).toBe(1);
  });

  it("a copy made by the rule's authorized reader is not followed (the owner's copies are its business)", () => {
    expect(play([clone(securityd, 120, `${KEYCHAINS}/login.keychain-db`, '/private/tmp', 'k'), open(ditto, 60, '/private/tmp/k')]).brief).toEqual([]);
  });

  it('a secret moved away, then moved again, is still the secret where it ends up', () => {
    const { brief } = play([
      rename(stealer, 100, SSH_KEY, '/private/tmp/a', 'id'),
      rename(stealer, 90, '/private/tmp/a/id', '/Users/Shared/.x', 'blob'),
      open(curl, 60, '/Users/Shared/.x/blob'),
      // its old place, and the first copy's, now hold nothing that was followed there
      open(curl, 59, '/private/tmp/a/id'),
    ]);
    expect(brief).toEqual([
      [700, 'rename', SSH_KEY, 'dev_credentials', 1],
      [700, 'rename', '/tmp/a/id', 'dev_credentials', 1],
      [841, 'open', '/Users/Shared/.x/blob', 'dev_credentials', 1],
    ]);
  });

  it('the staging folder moved or cloned whole takes the copies in it along', () => {
    const staged = [clone(finder, 120, COOKIES, '/private/tmp/salmonela', 'Cookies.binarycookies'), clone(finder, 110, KEYCHAINS, '/private/tmp/salmonela', 'Keychains', true)];
    const moved = esLine({ kind: 'rename', timeMs: at(100), gseq: ++gseq, process: stealer, body: body.renameNew('/private/tmp/salmonela', '/Users/Shared', '.s', true) });
    const movedOnto = esLine({ kind: 'rename', timeMs: at(95), gseq: ++gseq, process: stealer, body: body.renameExisting('/Users/Shared/.s', '/System/Volumes/Data/private/var/tmp/t', true) });
    const cloned = clone(stealer, 90, '/private/var/tmp/t', '/private/tmp', 'u', true);
    const lines = [
      ...staged,
      moved,
      movedOnto,
      cloned,
      open(ditto, 70, '/private/var/tmp/t/Cookies.binarycookies'),
      open(ditto, 69, '/private/tmp/u/Keychains/login.keychain-db'),
      // where they were before the moves holds nothing followed any more
      open(curl, 60, '/private/tmp/salmonela/Cookies.binarycookies'),
      open(curl, 59, '/Users/Shared/.s/Cookies.binarycookies'),
    ];
    const { brief } = play(lines);
    expect(brief).toEqual([
      [400, 'open', COOKIES, 'browser_secrets', 1],
      [400, 'open', KEYCHAINS, 'keychain', 1],
      [831, 'open', '/var/tmp/t/Cookies.binarycookies', 'browser_secrets', 1],
      [831, 'open', '/tmp/u/Keychains/login.keychain-db', 'keychain', 1],
    ]);
    expect(brief).toEqual(play(lines, true).brief);
  });

  it('a file renamed onto a followed copy replaces it: what is read there afterwards is no secret', () => {
    const { brief, pipeline } = play([
      clone(finder, 120, COOKIES, '/private/tmp/s', 'C'),
      esLine({ kind: 'rename', timeMs: at(100), gseq: ++gseq, process: stealer, body: body.renameExisting('/private/tmp/notes.txt', '/private/tmp/s/C') }),
      open(ditto, 60, '/private/tmp/s/C'),
      // a case-only rename of the copy itself keeps it
      clone(finder, 50, COOKIES, '/private/tmp/t', 'C'),
      esLine({ kind: 'rename', timeMs: at(45), gseq: ++gseq, process: stealer, body: body.renameExisting('/private/tmp/t/C', '/private/tmp/t/c') }),
      open(ditto, 40, '/private/tmp/t/c'),
    ]);
    expect(brief).toEqual([
      [400, 'open', COOKIES, 'browser_secrets', 1],
      [400, 'open', COOKIES, 'browser_secrets', 1],
      [700, 'rename', '/tmp/t/c', 'browser_secrets', 1],
      [831, 'open', '/tmp/t/c', 'browser_secrets', 1],
    ]);
    expect(pipeline.stats.copiesFollowed).toBe(2);
  });

  it('a hard link is no read, but reads through it are reads of the original', () => {
    const { brief } = play([link(stealer, 100, `${KEYCHAINS}/login.keychain-db`, '/private/tmp', 'k'), open(curl, 60, '/private/tmp/k')]);
    expect(brief).toEqual([[841, 'open', '/tmp/k', 'keychain', 1]]);
  });

  it("securityd's hard link is not followed; a link into a sensitive place is a create there; other links are nothing", () => {
    const { brief, pipeline } = play([
      link(securityd, 100, `${KEYCHAINS}/login.keychain-db`, '/private/tmp', 'k'),
      open(curl, 60, '/private/tmp/k'),
      link(stealer, 50, '/private/tmp/payload', `${HOME}/Documents`, 'Invoice.pdf'),
      link(stealer, 40, `${HOME}/Projects/app/node_modules/.pnpm/a/index.js`, `${HOME}/Projects/app/node_modules/a`, 'index.js'),
    ]);
    expect(brief).toEqual([[700, 'create', `${HOME}/Documents/Invoice.pdf`, 'documents', 2]]);
    // curl's read of securityd's link and the package manager's link never reached the parse
    expect(pipeline.stats.rejected).toBe(2);
  });

  it("a loop of hard links does not make the pipeline forget Finder's copies in the staging folder", () => {
    const flood = Array.from({ length: 1100 }, (_, i) => link(stealer, 90, `${KEYCHAINS}/login.keychain-db`, '/private/tmp/j', `k${i}`));
    const { brief } = play([clone(finder, 120, COOKIES, '/private/tmp/salmonela', 'Cookies.binarycookies'), ...flood, open(ditto, 70, '/private/tmp/salmonela/Cookies.binarycookies'), open(curl, 60, '/private/tmp/j/k1099')]);
    expect(brief).toEqual([
      [400, 'open', COOKIES, 'browser_secrets', 1],
      [831, 'open', '/tmp/salmonela/Cookies.binarycookies', 'browser_secrets', 1],
      [841, 'open', '/tmp/j/k1099', 'keychain', 1],
    ]);
  });

  it('copies of tier-2 data are not followed (every file moved out of Downloads would be)', () => {
    expect(play([clone(stealer, 100, `${HOME}/Documents/plan.pdf`, '/private/tmp', 'p.pdf'), open(ditto, 60, '/private/tmp/p.pdf')]).brief).toEqual([
      [700, 'open', `${HOME}/Documents/plan.pdf`, 'documents', 2],
    ]);
  });

  it('a copy into another sensitive place is judged by that place, not followed', () => {
    const { brief } = play([clone(stealer, 100, COOKIES, `${HOME}/Documents`, 'c'), open(ditto, 60, `${HOME}/Documents/c`)]);
    expect(brief).toEqual([
      [700, 'open', COOKIES, 'browser_secrets', 1],
      [831, 'open', `${HOME}/Documents/c`, 'documents', 2],
    ]);
  });

  it('writes to a copy are written as writes of the secret, which are no precursors', () => {
    const { brief } = play([clone(finder, 120, COOKIES, '/private/tmp/s', 'C'), write(stealer, 60, '/private/tmp/s/C')]);
    expect(brief).toEqual([
      [400, 'open', COOKIES, 'browser_secrets', 1],
      [700, 'write', '/tmp/s/C', 'browser_secrets', 1],
    ]);
  });
});

describe('SensitiveCopies', () => {
  it('a flood of hard links is followed link by link: reads through the first and the last are rows', () => {
    // `ln ~/Library/Keychains/login.keychain-db /tmp/j/$i` in a loop, with other lines between the links; the screen is
    // kept up to date as copies come (next case), never rebuilt, so the loop costs one trie walk a link
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      lines.push(link(stealer, 100, `${KEYCHAINS}/login.keychain-db`, '/private/tmp/j', `k${i}`));
      lines.push(open(ditto, 99, '/usr/lib/libSystem.B.dylib'));
    }
    const { pipeline } = play([...lines, open(curl, 60, '/private/tmp/j/k0'), open(curl, 60, '/private/tmp/j/k299')]);
    expect(pipeline.stats.copiesFollowed).toBe(300);
    expect(pipeline.stats.sensitiveRows).toBe(2);
  });

  it('its screen holds exactly the copies followed, under every alias, as they come and go', () => {
    const copies = new SensitiveCopies(100, 2);
    const names = (n: SensitiveCopies['screen'], at = ''): string[] =>
      [...n.children.values()].flat().flatMap((c) => [...(c.node.ends ? [`${at}/${c.name}`] : []), ...names(c.node, `${at}/${c.name}`)]);
    copies.record('/tmp/a', '/o/a', 1000);
    copies.record('/Users/x/b', '/o/b', 1001);
    expect(names(copies.screen).sort()).toEqual(['/private/tmp/a', '/system/volumes/data/private/tmp/a', '/system/volumes/data/tmp/a', '/system/volumes/data/users/x/b', '/tmp/a', '/users/x/b']);
    copies.record('/tmp/a/c', '/o/c', 1002); // the oldest, /tmp/a, is forgotten
    expect(names(copies.screen).filter((n) => n.startsWith('/tmp'))).toEqual(['/tmp/a/c']);
    expect(copies.originalOf('/tmp/a/c', 2000)).toBeUndefined(); // expired
    expect(names(copies.screen).sort()).toEqual(['/system/volumes/data/users/x/b', '/users/x/b']);
    expect(copies.screen.children.get(3)).toBeUndefined(); // nothing left of /tmp
  });

  it('maps a copy, and what lies in a copied folder, to the original, in any case', () => {
    const copies = new SensitiveCopies(100);
    copies.record('/tmp/s/Keychains/', KEYCHAINS, 1000);
    expect(copies.originalOf('/tmp/s/Keychains/login.keychain-db', 1010)).toBe(`${KEYCHAINS}/login.keychain-db`);
    expect(copies.originalOf('/TMP/S/keychains/login.keychain-db', 1010)).toBe(`${KEYCHAINS}/login.keychain-db`);
    expect(copies.originalOf('/tmp/s/Keychains', 1010)).toBe(KEYCHAINS);
    expect(copies.originalOf('/tmp/s/Keychainsx/login.keychain-db', 1010)).toBeUndefined();
    expect(copies.originalOf('/tmp/s', 1010)).toBeUndefined();
  });

  it('forgets a copy after its time, and knows nothing of it before it was made', () => {
    const copies = new SensitiveCopies(100);
    copies.record('/tmp/k', KEYCHAINS, 1000);
    expect(copies.originalOf('/tmp/k', 999)).toBeUndefined();
    expect(copies.originalOf('/tmp/k', 1100)).toBe(KEYCHAINS);
    expect(copies.originalOf('/tmp/k', 1101)).toBeUndefined();
    expect(copies.size).toBe(0);
  });

  it('over capacity forgets the oldest copy a hard link made before any other', () => {
    const copies = new SensitiveCopies(100, 2);
    copies.record('/tmp/a', '/o/a', 1000);
    copies.record('/tmp/b', '/o/b', 1001, true);
    copies.record('/tmp/c', '/o/c', 1002, true);
    copies.record('/tmp/d', '/o/d', 1003);
    expect(['/tmp/a', '/tmp/b', '/tmp/c', '/tmp/d'].map((p) => copies.originalOf(p, 1010))).toEqual(['/o/a', undefined, undefined, '/o/d']);
  });

  it('keeps at most its capacity, forgetting the oldest copy first', () => {
    const copies = new SensitiveCopies(100, 2);
    copies.record('/tmp/a', '/o/a', 1000);
    copies.record('/tmp/b', '/o/b', 1001);
    copies.record('/tmp/c', '/o/c', 1002);
    expect([copies.originalOf('/tmp/a', 1010), copies.originalOf('/tmp/b', 1010), copies.originalOf('/tmp/c', 1010)]).toEqual([undefined, '/o/b', '/o/c']);
  });
});

describe('eslogger copyfile events (the copyfile system call, macOS 12+)', () => {
  const copyfile = (p: ProcSpec, secondsAgo: number, source: string, dir: string, name: string, targetFile: string | null = null) =>
    esLine({ kind: 'copyfile', timeMs: at(secondsAgo), gseq: ++gseq, process: p, body: body.copyfile(source, dir, name, targetFile) });

  it('parse as a source and the copy: target_dir + target_name, or the target_file it overwrites', () => {
    const paths = (line: string) => {
      const r = parseEsLine(line);
      return r.ok && r.event.kind === 'copyfile' ? [r.event.source.path, r.event.destination.path] : r;
    };
    expect(paths(copyfile(stealer, 10, COOKIES, '/private/tmp', 'c'))).toEqual([COOKIES, '/private/tmp/c']);
    expect(paths(copyfile(stealer, 10, COOKIES, '/private/tmp', 'c', '/private/tmp/old'))).toEqual([COOKIES, '/private/tmp/old']);
    expect(parseEsLine(copyfile(stealer, 10, COOKIES, '/private/tmp', 'c').replace('"target_name"', '"name"'))).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it("reads its source as a clone does, and the copy is followed; a copy into a sensitive place is a create there", () => {
    const { brief } = play([
      copyfile(stealer, 100, COOKIES, '/private/tmp/s', 'C'),
      copyfile(stealer, 95, `${KEYCHAINS}/login.keychain-db`, '/private/tmp', 'k', '/private/tmp/existing'),
      open(ditto, 60, '/private/tmp/s/C'),
      open(ditto, 59, '/private/tmp/existing'),
      copyfile(stealer, 50, '/private/tmp/payload', `${HOME}/Documents`, 'Invoice.pdf'),
    ]);
    expect(brief).toEqual([
      [700, 'open', COOKIES, 'browser_secrets', 1],
      [700, 'open', `${KEYCHAINS}/login.keychain-db`, 'keychain', 1],
      [831, 'open', '/tmp/s/C', 'browser_secrets', 1],
      [831, 'open', '/tmp/existing', 'keychain', 1],
      [700, 'create', `${HOME}/Documents/Invoice.pdf`, 'documents', 2],
    ]);
  });

  it('onto a followed copy replaces it, as a rename onto one does: what is read there afterwards is no secret', () => {
    const { brief } = play([
      clone(finder, 120, COOKIES, '/private/tmp/s', 'C'),
      copyfile(stealer, 100, '/private/tmp/notes.txt', '/private/tmp/s', 'C', '/private/tmp/s/C'),
      open(ditto, 60, '/private/tmp/s/C'),
    ]);
    expect(brief).toEqual([[400, 'open', COOKIES, 'browser_secrets', 1]]);
  });
});

describe('eslogger link events', () => {
  it('the fast path passes a link whose new name a rule or a followed copy names, though its folder leads to none', () => {
    const lines = [
      // `~/**/*.kdbx`: ~/Projects/x leads to no rule's files, the name does
      link(stealer, 100, '/private/tmp/payload', `${HOME}/Projects/x`, 'Passwords.kdbx'),
      link(stealer, 99, '/private/tmp/payload', '/Volumes/USB/backup/a', 'vault.kdbx'),
      // the name of Finder's copy, deleted unseen and given to another file: that copy is followed no more, which the
      // fast path must let the parse learn (the read after it is no row either way)
      clone(finder, 90, COOKIES, '/private/tmp/s', 'C'),
      clone(finder, 89, COOKIES, '/private/tmp/t', 'C'),
      link(stealer, 80, '/private/tmp/payload', '/private/tmp/s', 'C'),
      link(curl, 79, '/private/tmp/payload', '/private/tmp/t/', 'C'),
      open(ditto, 70, '/private/tmp/s/C'),
      open(ditto, 69, '/private/tmp/t/C'),
    ];
    const everyLine = play(lines, true).brief;
    expect(everyLine.filter((r) => r[1] === 'create')).toHaveLength(2);
    expect(everyLine.filter((r) => r[0] === 831)).toEqual([]);
    expect(play(lines).brief).toEqual(everyLine);
  });

  it("a link by code whose team-id claim codesign refused is followed, and counts as no read (claimsNotVouched)", () => {
    const chromeCookies = `${HOME}/Library/Application Support/Google/Chrome/Default/Cookies`;
    const claimant: ProcSpec = { pid: 710, ppid: 1, path: `${HOME}/Library/Caches/.x/Google Chrome`, signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: (NOW - 300) * 1000 };
    const world = pipelineWorld({ now: NOW });
    world.verdicts.set(claimant.path, { ...unknownRow(claimant.path, NOW), team_id: 'EQHXZ8M8AV' });
    // eslogger v9: no cs_validation_category, so the claim is codesign's to judge
    world.pipeline.handleLine(esLine({ version: 9, kind: 'link', timeMs: at(100), gseq: ++gseq, process: claimant, body: body.link(chromeCookies, '/private/tmp', 'c') }));
    world.pipeline.handleLine(open(ditto, 60, '/private/tmp/c'));
    expect(world.pipeline.stats.claimsNotVouched).toBe(0);
    expect(world.sensitiveEvents.toArray().map((r) => [r.pid, r.file_path, r.category])).toEqual([[831, '/tmp/c', 'browser_secrets']]);
  });

  it("the fast path joins a link's folder and name as the parse does (a rule naming a file under `**`)", () => {
    const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [{ pattern: '~/**/wallet.dat', category: 'crypto_wallet' }] });
    const fast = new FastPath(matcher, new SensitiveCopies(3600));
    const verdict = (dir: string, name: string) => fast.verdict(link(stealer, 10, '/private/tmp/payload', dir, name));
    expect([verdict(`${HOME}/Projects/x`, 'wallet.dat'), verdict(`${HOME}/Projects/x/`, 'wallet.dat')]).toEqual([Verdict.Parse, Verdict.Parse]);
    expect(verdict(`${HOME}/Projects`, 'xwallet.dat')).toBe(Verdict.Reject);
  });

  it('parse as a source and the new name (target_dir + target_filename)', () => {
    const r = parseEsLine(link(stealer, 10, `${KEYCHAINS}/login.keychain-db`, '/private/tmp', 'k'));
    expect(r.ok && r.event.kind === 'link' && [r.event.source.path, r.event.destination.path]).toEqual([`${KEYCHAINS}/login.keychain-db`, '/private/tmp/k']);
  });

  it('without target_filename, or cut short, are malformed', () => {
    const line = link(stealer, 10, `${KEYCHAINS}/login.keychain-db`, '/private/tmp', 'k');
    expect(parseEsLine(line.replace('"target_filename"', '"target_name"'))).toMatchObject({ ok: false, reason: 'malformed' });
    const world = pipelineWorld({ now: NOW });
    world.pipeline.handleLine(line.slice(0, line.length - 40));
    expect(world.pipeline.stats.malformed).toBe(1);
  });
});
