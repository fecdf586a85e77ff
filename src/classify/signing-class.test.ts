import { describe, expect, it } from 'vitest';
import { classifyEs, identityFor } from './signing-class.js';

const CDHASH = '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953';

describe('classifyEs (eslogger process fields)', () => {
  it.each([
    [1, 'apple_platform'],
    [2, 'development'],
    [3, 'development'],
    [4, 'app_store'],
    [5, 'development'],
    [6, 'developer_id'],
    [7, 'adhoc'],
    [10, 'unsigned'],
    [8, 'unknown'],
  ])('cs_validation_category %i → %s', (category, cls) => {
    expect(classifyEs({ signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: CDHASH, platformBinary: category === 1, csValidationCategory: category }).signature_class).toBe(cls);
  });

  it('team_id null + platform binary is Apple platform code with identity team:APPLE/…', () => {
    expect(classifyEs({ signingId: 'com.apple.curl', teamId: null, cdhash: CDHASH, platformBinary: true })).toMatchObject({
      signature_class: 'apple_platform',
      team_id: '',
      identity: 'team:APPLE/com.apple.curl',
      cdhash: CDHASH.toLowerCase(),
    });
  });

  it('falls back to codesigning_flags without a category', () => {
    const f = (codesigningFlags: number, teamId: string | null = null, platformBinary = false) => classifyEs({ signingId: 'x', teamId, cdhash: CDHASH, platformBinary, codesigningFlags }).signature_class;
    expect(f(0x20000003)).toBe('adhoc'); // SIGNED|ADHOC|VALID
    expect(f(0x20020003)).toBe('adhoc'); // linker-signed
    expect(f(0x0)).toBe('unsigned');
    expect(f(0x20000000, 'Q7R2K9W4ZD')).toBe('invalid'); // signed, not valid
    expect(f(0x24000001)).toBe('apple_platform');
    // Team-signed without a category: ES cannot tell Developer ID from App Store; codesign completes it.
    expect(f(0x20010001, 'Q7R2K9W4ZD')).toBe('unknown');
    expect(classifyEs({ signingId: 'x', teamId: 'Q7R2K9W4ZD', cdhash: CDHASH, platformBinary: false, codesigningFlags: 0x20010001 }).identity).toBe('team:Q7R2K9W4ZD/x');
  });

  it('adhoc code is keyed by lowercase cdhash; an all-zero cdhash is no hash', () => {
    expect(classifyEs({ signingId: 'a.out', teamId: null, cdhash: CDHASH, platformBinary: false, csValidationCategory: 7 }).identity).toBe(`cdhash:${CDHASH.toLowerCase()}`);
    expect(classifyEs({ signingId: null, teamId: null, cdhash: '0'.repeat(40), platformBinary: false, csValidationCategory: 10 }).identity).toBe('');
  });
});

describe("Apple's own App Store apps (SPEC: class apple)", () => {
  it('category app_store with an Apple team id is apple', () => {
    expect(classifyEs({ signingId: 'com.apple.dt.Xcode', teamId: '59GAB85EFG', cdhash: CDHASH, platformBinary: false, csValidationCategory: 4 })).toMatchObject({ signature_class: 'apple', identity: 'team:59GAB85EFG/com.apple.dt.Xcode' });
    expect(classifyEs({ signingId: 'com.example.app', teamId: 'Q7R2K9W4ZD', cdhash: CDHASH, platformBinary: false, csValidationCategory: 4 }).signature_class).toBe('app_store');
  });

  it('Pages, Keynote and Apple Configurator (team K36BKF7T3D) are apple too', () => {
    expect(classifyEs({ signingId: 'com.apple.iWork.Pages', teamId: 'K36BKF7T3D', cdhash: CDHASH, platformBinary: false, csValidationCategory: 4 })).toMatchObject({ signature_class: 'apple', identity: 'team:K36BKF7T3D/com.apple.iWork.Pages' });
  });
});

describe('identityFor', () => {
  it('follows SPEC §2', () => {
    expect(identityFor('developer_id', 'Q7R2K9W4ZD', 'com.example.widget', 'ab')).toBe('team:Q7R2K9W4ZD/com.example.widget');
    expect(identityFor('apple_platform', '', 'com.apple.ls', 'ab')).toBe('team:APPLE/com.apple.ls');
    expect(identityFor('adhoc', '', 'a.out', 'ab')).toBe('cdhash:ab');
    expect(identityFor('unsigned', '', '', '')).toBe('');
    expect(identityFor('package', '', 'openssh-client', '')).toBe('package:openssh-client');
    expect(identityFor('unknown', '', '', '')).toBe('');
  });
});
