import { describe, expect, it } from 'vitest';
import { packageDbAliases, parseDpkgQueryS, parseRpmQf } from './parse-packages.js';

describe('parseDpkgQueryS', () => {
  it('maps paths to owners, strips :arch, ignores diversions and noise', () => {
    const out = [
      'openssh-client: /usr/bin/ssh',
      'libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6',
      'diversion by dash from: /bin/sh',
      'bash, dash: /usr/share/man/man1/sh.1.gz',
      'garbage without separator',
      '',
    ].join('\n');
    const { owners, skipped } = parseDpkgQueryS(out);
    expect(owners.get('/usr/bin/ssh')).toEqual(['openssh-client']);
    expect(owners.get('/lib/x86_64-linux-gnu/libc.so.6')).toEqual(['libc6']);
    expect(owners.get('/usr/share/man/man1/sh.1.gz')).toEqual(['bash', 'dash']);
    expect(owners.has('/bin/sh')).toBe(false);
    expect(skipped).toBe(2);
  });
  it('empty output (nothing owned) is not an error', () => {
    expect(parseDpkgQueryS('').owners.size).toBe(0);
  });
});

describe('parseRpmQf', () => {
  it('aligns one line per path', () => {
    const r = parseRpmQf('openssh-clients\nfile /tmp/x is not owned by any package\n', ['/usr/bin/ssh', '/tmp/x'], '');
    expect(r.aligned).toBe(true);
    expect([...r.owners]).toEqual([['/usr/bin/ssh', ['openssh-clients']]]);
  });
  it('reports misalignment (a missing file printed on stderr only) instead of guessing', () => {
    const r = parseRpmQf('openssh-clients\n', ['/gone', '/usr/bin/ssh'], 'error: file /gone: No such file or directory\n');
    expect(r.aligned).toBe(false);
    expect(r.owners.size).toBe(0);
  });
  it('an rpmdb warning on stderr does not throw away an answer, and one path alone cannot be misaligned', () => {
    const warning = 'error: rpmdbNextIterator: skipping h#     474 blob size(6108): BAD, 8 + 16 * il(72) + dl(4940)\n';
    expect([...parseRpmQf('openssh-clients\nbash\n', ['/usr/bin/ssh', '/bin/bash'], warning).owners]).toEqual([
      ['/usr/bin/ssh', ['openssh-clients']],
      ['/bin/bash', ['bash']],
    ]);
    expect([...parseRpmQf('openssh-clients\n', ['/usr/bin/ssh'], warning).owners]).toEqual([['/usr/bin/ssh', ['openssh-clients']]]);
  });
  it('one of several paths owned by two packages prints an extra line: misaligned, no owner guessed', () => {
    // /usr/lib64/libfoo.so.1 is owned by foo-libs and compat-foo; /usr/bin/ssh by openssh-clients; nothing on stderr
    const r = parseRpmQf('foo-libs\ncompat-foo\nopenssh-clients\n', ['/usr/lib64/libfoo.so.1', '/usr/bin/ssh'], '');
    expect(r.aligned).toBe(false);
    expect(r.owners.size).toBe(0);
  });
  it('a file owned twice and a missing file add up to one line per path: misaligned all the same', () => {
    // /usr/bin/x is owned by pkg-a and pkg-b; /gone is missing (stderr only); /usr/bin/ssh is openssh-clients
    const r = parseRpmQf('pkg-a\npkg-b\nopenssh-clients\n', ['/usr/bin/x', '/gone', '/usr/bin/ssh'], 'error: file /gone: No such file or directory\n');
    expect(r.aligned).toBe(false);
    expect(r.owners.size).toBe(0);
  });
});

describe('packageDbAliases (usrmerge)', () => {
  it('adds the pre-merge name', () => {
    expect(packageDbAliases('/usr/bin/ps')).toEqual(['/usr/bin/ps', '/bin/ps']);
    expect(packageDbAliases('/bin/ls')).toEqual(['/bin/ls', '/usr/bin/ls']);
    expect(packageDbAliases('/opt/x/bin/y')).toEqual(['/opt/x/bin/y']);
  });
});
