import { describe, expect, it } from 'vitest';
import { capArgs, classifyArchiveExec, hasArchiveExtension, isStagingPath, MAX_ARG_CHARS, writesArchive } from './archive.js';

describe('classifyArchiveExec', () => {
  it.each([
    ['/usr/bin/ditto', ['ditto', '-c', '-k', '--sequesterRsrc', '--keepParent', '/Users/dana/Documents', '/tmp/docs.zip'], 'ditto', '/tmp/docs.zip'],
    ['/usr/bin/ditto', ['ditto', '-ck', 'Documents', 'out.zip'], 'ditto', '/Users/dana/out.zip'],
    ['/usr/bin/zip', ['zip', '-r', '-q', 'out.zip', 'Documents'], 'zip', '/Users/dana/out.zip'],
    ['/usr/bin/zip', ['zip', '-P', 'secret', '-r', '/tmp/x.zip', 'a'], 'zip', '/tmp/x.zip'],
    ['/usr/bin/tar', ['tar', '-czf', '/tmp/a.tgz', 'Documents'], 'tar', '/tmp/a.tgz'],
    ['/usr/bin/tar', ['tar', 'czf', 'a.tgz', 'Documents'], 'tar', '/Users/dana/a.tgz'],
    ['/usr/bin/tar', ['tar', '--create', '--file=/tmp/b.tar', 'x'], 'tar', '/tmp/b.tar'],
    ['/usr/bin/tar', ['tar', '-c', 'Documents'], 'tar', ''],
    ['/usr/bin/bsdtar', ['bsdtar', '-cf', '-', 'x'], 'tar', ''],
    ['/usr/bin/gzip', ['gzip', '-9', 'dump.sql'], 'gzip', '/Users/dana/dump.sql.gz'],
    ['/usr/bin/gzip', ['gzip', '-c', 'dump.sql'], 'gzip', ''],
    ['/usr/bin/bzip2', ['bzip2', '/tmp/x'], 'bzip2', '/tmp/x.bz2'],
    ['/opt/homebrew/bin/xz', ['xz', '-T0', 'x'], 'xz', '/Users/dana/x.xz'],
    ['/opt/homebrew/bin/zstd', ['zstd', 'x', '-o', '/tmp/x.zst'], 'zstd', '/tmp/x.zst'],
    ['/opt/homebrew/bin/7z', ['7z', 'a', '-pS3cret', '/tmp/s.7z', 'Documents'], '7z', '/tmp/s.7z'],
    ['/opt/homebrew/bin/7zz', ['7zz', 'u', '/tmp/s.7z', 'Documents'], '7z', '/tmp/s.7z'],
    ['/usr/local/bin/rar', ['rar', 'a', 'x.rar', 'Documents'], 'rar', '/Users/dana/x.rar'],
    ['/usr/bin/aa', ['aa', 'archive', '-d', 'Documents', '-o', '/tmp/d.aar'], 'aa', '/tmp/d.aar'],
    ['/usr/bin/hdiutil', ['hdiutil', 'create', '-volname', 'X', '-srcfolder', 'Documents', '-ov', '-format', 'UDZO', '/tmp/x.dmg'], 'hdiutil', '/tmp/x.dmg'],
    ['/usr/bin/split', ['split', '-b', '10m', '/tmp/d.zip', '/tmp/part-'], 'split', '/tmp/part-'],
    ['/usr/bin/openssl', ['openssl', 'enc', '-aes-256-cbc', '-salt', '-in', 'd.zip', '-out', '/tmp/d.enc'], 'openssl', '/tmp/d.enc'],
    ['/opt/homebrew/bin/gpg', ['gpg', '-c', 'd.zip'], 'gpg', '/Users/dana/d.zip.gpg'],
    ['/opt/homebrew/bin/gpg', ['gpg', '--symmetric', '--output', '/tmp/d.gpg', 'd.zip'], 'gpg', '/tmp/d.gpg'],
    ['/bin/pax', ['pax', '-wf', '/tmp/x.pax', 'Documents'], 'other', '/tmp/x.pax'],
  ])('%s %j → %s %s', (exe, argv, tool, archivePath) => {
    expect(classifyArchiveExec(exe, argv, '/Users/dana')).toEqual({ tool, archivePath });
  });

  it.each([
    ['/usr/bin/tar', ['tar', '-xzf', 'a.tgz']],
    ['/usr/bin/tar', ['tar', 'tvf', 'a.tar']],
    ['/usr/bin/ditto', ['ditto', 'a', 'b']],
    ['/usr/bin/ditto', ['ditto', '-x', '-k', 'a.zip', 'b']],
    ['/usr/bin/gzip', ['gzip', '-d', 'a.gz']],
    ['/usr/bin/gunzip', ['gunzip', 'a.gz']],
    ['/opt/homebrew/bin/xz', ['xz', '--decompress', 'a.xz']],
    ['/opt/homebrew/bin/7z', ['7z', 'x', 'a.7z']],
    ['/usr/bin/hdiutil', ['hdiutil', 'attach', 'a.dmg']],
    ['/usr/bin/openssl', ['openssl', 'x509', '-in', 'c.pem']],
    ['/usr/bin/openssl', ['openssl', 'enc', '-d', '-in', 'a.enc']],
    ['/opt/homebrew/bin/gpg', ['gpg', '--decrypt', 'a.gpg']],
    ['/usr/bin/aa', ['aa', 'extract', '-i', 'a.aar']],
    ['/bin/ls', ['ls', '-la']],
  ])('%s %j is not archiving', (exe, argv) => expect(classifyArchiveExec(exe, argv, '/Users/dana')).toBeUndefined());

  it('reads an over-long argument only up to MAX_ARG_CHARS (argv is attacker-controlled; no path exceeds PATH_MAX)', () => {
    const huge = `${'a/'.repeat(1_000_000)}x.zip`;
    const r = classifyArchiveExec('/usr/bin/zip', ['zip', '-r', huge, 'dir'], '/tmp');
    expect(r?.tool).toBe('zip');
    expect(r!.archivePath.startsWith('/tmp/a/a/')).toBe(true);
    expect(r!.archivePath.length).toBeLessThanOrEqual('/tmp/'.length + MAX_ARG_CHARS);
  });
});

describe('hasArchiveExtension', () => {
  it.each([
    ['/tmp/docs.zip', true],
    ['/tmp/DOCS.ZIP', true],
    ['/tmp/a.tar.gz', true],
    ['/tmp/x.dmg', true],
    ['/tmp/x.gpg', true],
    ['/Users/Shared/backup.sparseimage', true],
    ['/tmp/report.pdf', false],
    ['/tmp/zip', false],
    ['/tmp/dir.zip/file', false],
  ])('%s → %s', (p, yes) => expect(hasArchiveExtension(p)).toBe(yes));
});

describe('isStagingPath', () => {
  it.each([
    ['/tmp/docs.zip', true],
    ['/private/tmp/docs.zip', true],
    ['/var/tmp/a.tgz', true],
    ['/Users/Shared/a.zip', true],
    ['/var/folders/x8/k3j2_hq95t7g/T/a.zip', true],
    ['/private/var/folders/x8/k3j2_hq95t7g/T/a.zip', true],
    ['/Users/dana/.cache/x/a.zip', true],
    ['/Users/dana/Library/.hidden/a.zip', true],
    ['/Users/dana/Documents/a.zip', false],
    ['/Users/dana/.a.zip', false], // a hidden file, not a hidden dir
    ['/Users/dana/../x/a.zip', false],
    ['/var/folders/x8/k3j2/C/a.zip', false],
    // a case-insensitive volume: the same folders in another case
    ['/TMP/docs.zip', true],
    ['/Private/Tmp/docs.zip', true],
    ['/users/shared/a.zip', true],
    ['/Var/Folders/x8/k3j2_hq95t7g/t/a.zip', true],
    ['', false],
  ])('%s → %s', (p, yes) => expect(isStagingPath(p)).toBe(yes));
});

describe('capArgs', () => {
  it('joins argv and caps at 1 KiB on a character boundary', () => {
    expect(capArgs(['ditto', '-c', '-k', 'a b', '/tmp/x.zip'])).toBe('ditto -c -k a b /tmp/x.zip');
    const long = capArgs(['zip', 'é'.repeat(2000)]);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(1024);
    expect(long.startsWith('zip éé')).toBe(true);
    expect(long).not.toContain('\uFFFD');
  });
});

/**
 * ditto makes an archive only with -c (alone or in a cluster: `-ck`). A plain copy whose source or destination is
 * a word of letters holding a `c` (`ditto src dst`, `ditto Docs backup`) was taken for `-c`: the dash-less word
 * passed the option-cluster test, and a copy became an archive precursor.
 */
describe('classifyArchiveExec: ditto copies', () => {
  it.each([
    [['ditto', 'src', 'dst']],
    [['ditto', 'Docs', 'backup']],
    [['ditto', '-V', 'music', 'copy']],
  ])('%j is no archive', (argv) => {
    expect(classifyArchiveExec('/usr/bin/ditto', argv, '/Users/dana')).toBeUndefined();
  });

  it('-ck and -c -k still are', () => {
    expect(classifyArchiveExec('/usr/bin/ditto', ['ditto', '-ck', 'src', 'out.zip'], '/Users/dana')).toEqual({ tool: 'ditto', archivePath: '/Users/dana/out.zip' });
    expect(classifyArchiveExec('/usr/bin/ditto', ['ditto', '-c', '-k', 'src', 'out.zip'], '/Users/dana')).toEqual({ tool: 'ditto', archivePath: '/Users/dana/out.zip' });
  });
});

describe('writesArchive', () => {
  it.each([
    ['/tmp/.x/loot.zip', undefined, true],
    ['/tmp/.x/notes.txt', undefined, false],
    // a download ends: its in-progress name loses the suffix
    ['/Users/a/Downloads/backup.tar.gz', '/Users/a/Downloads/backup.tar.gz.partial', false],
    ['/Users/a/Downloads/Setup.DMG', '/Users/a/Downloads/Setup.DMG.PART', false],
    ['/tmp/.x/loot.zip', '/tmp/.x/loot.zip.tmp', true],
    ['/tmp/.x/loot.zip', '/tmp/.x/a.part', true],
    // Homebrew's cache, in any user's home (root's too), not /Users/Shared's
    ['/Users/a/Library/Caches/Homebrew/Cask/foo--1.0.dmg', undefined, false],
    ['/var/root/Library/Caches/Homebrew/wget--1.25.0.bottle.tar.gz', undefined, false],
    ['/Users/Shared/Library/Caches/Homebrew/x.zip', undefined, true],
    ['/Users/a/Library/Caches/Homebrew-not/x.zip', undefined, true],
  ] as const)('%s (renamed from %s) → %s', (path, from, yes) => expect(writesArchive(path, from)).toBe(yes));
});
