/**
 * A folder cloned (clonefile(2): NSFileManager copyItem on APFS, Finder's Duplicate, `cp -c`) or moved whole: ES
 * reports one clone or rename of the folder, and the secrets inside are copied or moved without an event of their own.
 * No rule matches ~/Library/Keychains or a Chrome profile folder itself (the rules name what is inside): the folder is
 * judged by the rule whose files it holds (SensitivePathMatcher.matchBelow), with the same authorized readers.
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { unknownRow } from '../../tables/code_signing/signing-service.js';
import { FastPath, Verdict } from './fast-path.js';
import { parseEsLine } from './parse-eslogger.js';
import { readEsLine } from './read-eslogger.js';
import { body, esLine, type ProcSpec } from './testing/es-lines.mjs';
import { pipelineWorld } from './testing/test-context.js';

const NOW = 1_772_500_000;
const T = (NOW - 50) * 1000;
const HOME = '/Users/alice';
const KEYCHAINS = `${HOME}/Library/Keychains`;
const PROFILE = `${HOME}/Library/Application Support/Google/Chrome/Default`;

const stealer: ProcSpec = { pid: 700, ppid: 1, path: `${HOME}/.local/bin/helper`, signingId: null, teamId: null, startMs: (NOW - 300) * 1000 };
const securityd: ProcSpec = { pid: 90, ppid: 1, path: '/usr/sbin/securityd', platform: true, signingId: 'com.apple.securityd', startMs: (NOW - 86_400) * 1000 };
const chrome: ProcSpec = { pid: 510, ppid: 1, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: (NOW - 7200) * 1000 };

function play(lines: string[]) {
  const world = pipelineWorld({ now: NOW });
  for (const l of lines) world.pipeline.handleLine(l);
  return { ...world, rows: world.sensitiveEvents.toArray() };
}
const clone = (p: ProcSpec, source: string, targetDir: string, name: string, version = 10, isDir = true) =>
  esLine({ version, kind: 'clone', timeMs: T, gseq: 1, process: p, body: body.clone(source, targetDir, name, isDir) });
const renameNew = (p: ProcSpec, source: string, dir: string, name: string, isDir = true) =>
  esLine({ kind: 'rename', timeMs: T, gseq: 1, process: p, body: body.renameNew(source, dir, name, isDir) });
const renameOnto = (p: ProcSpec, source: string, target: string, isDir = true) =>
  esLine({ kind: 'rename', timeMs: T, gseq: 1, process: p, body: body.renameExisting(source, target, isDir) });

describe('clonefile(2) of a folder that holds secrets', () => {
  it('~/Library/Keychains cloned to /private/tmp/k by an unsigned process: one tier-1 keychain read of the folder', () => {
    const { rows } = play([clone(stealer, KEYCHAINS, '/private/tmp', 'k')]);
    expect(rows).toEqual([expect.objectContaining({ pid: 700, operation: 'open', file_path: KEYCHAINS, category: 'keychain', tier: 1 })]);
  });

  it('the same by securityd (an authorized reader of the keychain rule): no row', () => {
    const { rows, pipeline } = play([clone(securityd, KEYCHAINS, '/private/tmp', 'k')]);
    expect(rows).toEqual([]);
    expect(pipeline.stats.authorized).toBe(1);
  });

  it("a Chrome profile folder cloned by an unsigned process: a browser_secrets read of the folder", () => {
    const { rows } = play([clone(stealer, PROFILE, '/private/tmp', 'p')]);
    expect(rows).toEqual([expect.objectContaining({ operation: 'open', file_path: PROFILE, category: 'browser_secrets', tier: 1 })]);
  });

  it('Chrome cloning its own profile folder: no row (macOS 26: the kernel vouches for its team)', () => {
    const { rows, pipeline } = play([clone(chrome, PROFILE, `${HOME}/Library/Application Support/Google/Chrome`, 'Profile 9')]);
    expect(rows).toEqual([]);
    // suppressed as an authorized read of the profile's secrets, not ignored
    expect(pipeline.stats.authorized).toBe(1);
  });

  it('before macOS 26 Chrome\'s clone waits for codesign as its reads do, and is no row once codesign vouches for it', () => {
    const world = pipelineWorld({ now: NOW });
    world.pipeline.handleLine(clone(chrome, PROFILE, '/private/tmp', 'p', 9));
    expect(world.pipeline.heldReads).toBe(1);
    world.verdicts.set(chrome.path, { ...unknownRow(chrome.path, NOW), signed: 1, valid: 1, signature_class: 'developer_id', team_id: 'EQHXZ8M8AV', signing_id: 'com.google.Chrome' });
    world.pipeline.settleHeld();
    expect(world.sensitiveEvents.toArray()).toEqual([]);
    expect(world.pipeline.stats.authorized).toBe(1);
  });

  it('a folder no rule\'s files lie in (a profile\'s Extensions, a project) is no read; its clone into a sensitive place is a create', () => {
    expect(play([clone(stealer, `${PROFILE}/Extensions`, '/private/tmp', 'e')]).rows).toEqual([]);
    const { rows } = play([clone(stealer, `${HOME}/Projects/app`, `${HOME}/Documents`, 'app')]);
    expect(rows.map((r) => [r.operation, r.file_path, r.category])).toEqual([['create', `${HOME}/Documents/app`, 'documents']]);
  });

  it('a file is judged by `match` alone: cloning ~/Library/Application Support/x.plist reads no secret', () => {
    expect(play([clone(stealer, `${HOME}/Library/Application Support/x.plist`, '/private/tmp', 'x', 10, false)]).rows).toEqual([]);
  });
});

describe('a folder of secrets moved whole', () => {
  it('`mv ~/.aws /tmp/x`: a dev_credentials rename of the folder', () => {
    const { rows } = play([renameNew(stealer, `${HOME}/.aws`, '/private/tmp', 'x')]);
    expect(rows).toEqual([expect.objectContaining({ operation: 'rename', file_path: `${HOME}/.aws`, category: 'dev_credentials', tier: 1 })]);
  });

  it('onto an existing empty folder (an existing_file destination): the fast path passes the line', () => {
    const { rows, pipeline } = play([renameOnto(stealer, `${HOME}/.aws`, '/private/tmp/x')]);
    expect(rows).toMatchObject([{ operation: 'rename', file_path: `${HOME}/.aws`, category: 'dev_credentials' }]);
    expect(pipeline.stats.rejected).toBe(0);
  });

  it('into ~/Documents: the destination is recorded as a move of the data (rename), as for a file of secrets', () => {
    const { rows } = play([renameNew(stealer, `${HOME}/.ssh`, `${HOME}/Documents`, 'old-ssh')]);
    expect(rows.map((r) => [r.operation, r.file_path, r.category])).toEqual([['rename', `${HOME}/Documents/old-ssh`, 'documents']]);
  });

  it('a line without stat leaves the source\'s type unknown: judged as a folder', () => {
    const line = renameOnto(stealer, KEYCHAINS, '/private/tmp/k').replace(/("source":\{"path":"[^"]*","path_truncated":false),"stat":\{[^}]*\}/, '$1');
    expect(line).not.toMatch(/"source":\{[^}]*"stat"/);
    expect(play([line]).rows).toMatchObject([{ operation: 'rename', file_path: KEYCHAINS, category: 'keychain' }]);
  });

  it('a safe-save keeps the rules of files: a temporary file renamed over Chromium\'s Local State is a create', () => {
    const chromium: ProcSpec = { pid: 520, ppid: 1, path: '/Applications/Chromium.app/Contents/MacOS/Chromium', signingId: 'org.chromium.Chromium', teamId: null, startMs: (NOW - 7200) * 1000 };
    const dir = `${HOME}/Library/Application Support/Chromium`;
    const { rows } = play([renameOnto(chromium, `${dir}/.org.chromium.Chromium.a1B2c3`, `${dir}/Local State`, false)]);
    expect(rows.map((r) => [r.operation, r.file_path])).toEqual([['create', `${dir}/Local State`]]);
  });

  it('moving a folder no rule\'s files lie in records nothing, and the fast path still rejects it', () => {
    const { rows, pipeline } = play([renameOnto(stealer, `${HOME}/Projects/app/build`, `${HOME}/Projects/app/build.old`)]);
    expect(rows).toEqual([]);
    expect(pipeline.stats.rejected).toBe(1);
  });
});

describe('the fast path screens a rename\'s paths as folders', () => {
  const fast = new FastPath(SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] }));
  it.each([
    `${HOME}/.aws`,
    `${HOME}/Library`,
    `${HOME}/Library/Application Support/Google`,
    HOME,
    '/Users',
    '/var/root',
    '/private/var/root/.ssh',
    '/System/Volumes/Data/Users/alice/.aws',
    '/System/Volumes/Data',
    '/private',
    '/Library',
  ])('%s is parsed', (source) => {
    expect(fast.verdict(renameOnto(stealer, source, '/private/tmp/x'))).toBe(Verdict.Parse);
  });
  it('an open of the same folders is still rejected (only a rename or a clone moves what a folder holds)', () => {
    expect(fast.verdict(esLine({ kind: 'open', timeMs: T, gseq: 1, process: stealer, body: body.open(`${HOME}/.aws`) }))).toBe(Verdict.Reject);
    expect(fast.verdict(esLine({ kind: 'open', timeMs: T, gseq: 1, process: stealer, body: body.open(HOME) }))).toBe(Verdict.Reject);
  });
});

describe('the hand reader and the parser agree on a source\'s type', () => {
  it.each([
    ['a folder', renameOnto(stealer, `${HOME}/.aws`, '/private/tmp/x'), true],
    ['a file', renameOnto(stealer, `${HOME}/a.tmp`, `${HOME}/a`, false), false],
    ['no stat', renameOnto(stealer, `${HOME}/.aws`, '/private/tmp/x').replace(/("source":\{"path":"[^"]*","path_truncated":false),"stat":\{[^}]*\}/, '$1'), null],
    ['st_mode null', renameOnto(stealer, `${HOME}/.aws`, '/private/tmp/x').replace('"st_mode":16877', '"st_mode":null'), null],
  ])('%s', (_what, line, directory) => {
    const full = parseEsLine(line);
    expect(full).toMatchObject({ ok: true, event: { kind: 'rename', source: { directory } } });
    const hand = readEsLine(line);
    expect(hand).toBeDefined();
    expect(hand).toStrictEqual((full as { event: unknown }).event);
  });
});
