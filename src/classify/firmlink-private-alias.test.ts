/** Path aliases stacked: the Data volume holds /private too, so /System/Volumes/Data/private/var/… is /var/…. */
import { describe, expect, it } from 'vitest';
import { aliasSpellings, canonicalPath, SensitivePathMatcher } from './sensitive-paths.js';
import { isStagingPath } from './archive.js';

const defaults = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });

describe('/System/Volumes/Data/private/… is /private/… is /…', () => {
  it('canonicalPath strips both aliases', () => {
    expect(canonicalPath('/System/Volumes/Data/private/var/root/.ssh/id_rsa')).toBe('/var/root/.ssh/id_rsa');
    expect(canonicalPath('/System/Volumes/Data/private/tmp/x.zip')).toBe('/tmp/x.zip');
  });
  it("root's keys through the firmlink are root's keys", () => {
    expect(defaults.match('/System/Volumes/Data/private/var/root/.ssh/id_rsa')?.category).toBe('dev_credentials');
  });
  it('an archive in /tmp through the firmlink is staged', () => {
    expect(isStagingPath('/System/Volumes/Data/private/tmp/x.zip')).toBe(true);
  });
});

describe('aliasSpellings puts back what canonicalPath drops', () => {
  it.each(['/tmp/stage/k', '/var/folders/ab/T/x', '/etc', '/Users/Shared/.x', '/tmpx/a'])('%s: every spelling is that path again', (p) => {
    const spellings = aliasSpellings(p);
    expect(spellings.map(canonicalPath)).toEqual(spellings.map(() => p));
    expect(spellings).toHaveLength(p.startsWith('/tmpx') || p.startsWith('/Users') ? 2 : 4);
  });
});
