import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/errors.js';
import { classifyCodesign, needsNotarizationCheck, needsRequirementChecks } from '../../../src/classify/signing-class.js';
import { errorMessage, messageFor, parseCodesignDisplay, parseCodesignVerify } from './parse-codesign.js';
import { fixturePath } from './fixtures/paths.js';
import { parseSpctlAssess } from './parse-spctl.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => readFileSync(path.join(dir, name), 'utf8');
const VALID = { valid: true, reason: null };

describe('parseCodesignDisplay', () => {
  it('reads every field by key, leaf authority first, cdhash lowercased', () => {
    const { info, skipped } = parseCodesignDisplay(fixture('codesign-developer-id-stapled.txt'), fixturePath('codesign-developer-id-stapled.txt'));
    expect(skipped).toBe(0);
    expect(info).toMatchObject({
      notSigned: false,
      error: null,
      identifier: 'com.example.widget',
      cdFlags: ['runtime'],
      cdFlagsValue: 0x10000,
      platformIdentifier: null,
      cdhash: '3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953',
      signatureAdhoc: false,
      teamId: 'Q7R2K9W4ZD',
      notarizationStapled: true,
    });
    expect(info.authorities).toEqual(['Developer ID Application: Example Widgets Ltd (Q7R2K9W4ZD)', 'Developer ID Certification Authority', 'Apple Root CA']);
  });

  it('parses the flag set with several names and `none`', () => {
    expect(parseCodesignDisplay(fixture('codesign-linker-signed.txt'), fixturePath('codesign-linker-signed.txt')).info.cdFlags).toEqual(['adhoc', 'linker-signed']);
    expect(parseCodesignDisplay(fixture('codesign-apple-platform.txt'), fixturePath('codesign-apple-platform.txt')).info.cdFlags).toEqual([]);
  });

  it('recognises unsigned code and missing files', () => {
    expect(parseCodesignDisplay(fixture('codesign-unsigned.txt'), fixturePath('codesign-unsigned.txt')).info.notSigned).toBe(true);
    const missing = parseCodesignDisplay(fixture('codesign-missing.txt'), fixturePath('codesign-missing.txt')).info;
    expect(missing.error).toBe('No such file or directory');
    expect(missing.identifier).toBeNull();
  });

  it('keeps going over truncated output (last partial line is just a value cut short)', () => {
    const { info } = parseCodesignDisplay(fixture('codesign-truncated.txt'), fixturePath('codesign-truncated.txt'));
    expect(info.identifier).toBe('com.example.widget');
    expect(info.authorities).toEqual([]);
    expect(info.cdhash).toBeNull();
  });

  it('throws ParseError on output with nothing codesign would print, and on empty output', () => {
    expect(() => parseCodesignDisplay(fixture('codesign-garbage.txt'), fixturePath('codesign-garbage.txt'))).toThrow(ParseError);
    expect(() => parseCodesignDisplay('', '/bin/x')).toThrow(ParseError);
  });

  it('ignores unknown keys without counting them as skipped', () => {
    const { info, skipped } = parseCodesignDisplay('Identifier=x.y\nSomeFutureKey=1\nthis line is noise\n', '/bin/x');
    expect(info.identifier).toBe('x.y');
    expect(skipped).toBe(1);
  });
});

describe('codesign messages: only what follows the path codesign was given', () => {
  it('reads the text after `PATH: `, paths with ": " included, and nothing from other lines', () => {
    expect(messageFor('/Volumes/a: b/x: No such file or directory', '/Volumes/a: b/x')).toBe('No such file or directory');
    expect(messageFor('/bin/x: code object is not signed at all', '/bin/x')).toBe('code object is not signed at all');
    expect(messageFor('In architecture: arm64', '/bin/x')).toBeUndefined();
    expect(messageFor('/bin/xy: Permission denied', '/bin/x')).toBeUndefined();
    expect(messageFor('Executable=/bin/x', '/bin/x')).toBeUndefined();
  });

  it('knows codesign\'s per-path errors, whole messages and message prefixes, in any case', () => {
    for (const m of [
      'No such file or directory',
      'no such file or directory',
      'Permission denied',
      'bundle format unrecognized, invalid, or unsuitable',
      'BUNDLE FORMAT IS AMBIGUOUS (could be app or framework)',
      'unsupported format for signature',
      'the sealed resource directory is invalid',
      'main executable failed strict validation: not a valid code object',
    ]) {
      expect(errorMessage(m), m).toBe(m);
    }
    for (const m of ['code object is not signed at all', 'No such file or directory (really)', 'invalid signature (code or signature have been modified)', 'something else', '']) {
      expect(errorMessage(m), m).toBeUndefined();
    }
  });

  it('a tampered binary in a folder named like an error message is still a broken signature (verify)', () => {
    for (const p of ['/Users/dana/No such file: unsupported format/Widget', '/Users/dana/code object is not signed at all/Widget', '/Users/dana/x: Permission denied/Widget']) {
      expect(parseCodesignVerify(`${p}: invalid signature (code or signature have been modified)\nIn architecture: arm64\n`, 1, p), p).toEqual({
        valid: false,
        reason: 'invalid signature (code or signature have been modified)',
      });
    }
  });

  it('a signed binary whose path holds "code object is not signed at all" is not read as unsigned (display)', () => {
    const p = '/Users/dana/code object is not signed at all/Widget';
    const text = fixture('codesign-developer-id.txt').replace(fixturePath('codesign-developer-id.txt'), p);
    const { info } = parseCodesignDisplay(text, p);
    expect(info.notSigned).toBe(false);
    expect(info.error).toBeNull();
    expect(info.identifier).toBe('com.example.widget');
  });

  it('"not signed at all" about a nested component (In subcomponent:) is a broken signature of the whole', () => {
    const p = '/Applications/Widget.app/Contents/MacOS/Widget';
    expect(parseCodesignVerify(`${p}: code object is not signed at all\nIn subcomponent: /Applications/Widget.app/Contents/Frameworks/Helper.framework\n`, 1, p)).toEqual({
      valid: false,
      reason: 'code object is not signed at all',
    });
  });

  it('a message about another path is not a verdict on this one; exit 1 without one fails closed', () => {
    expect(parseCodesignDisplay('/bin/other: code object is not signed at all\nIdentifier=x.y\n', '/bin/x').info.notSigned).toBe(false);
    expect(parseCodesignVerify('/bin/other: code object is not signed at all\n', 1, '/bin/x')).toEqual({ valid: false, reason: '/bin/other: code object is not signed at all' });
    expect(parseCodesignVerify('', 1, '/bin/x')).toEqual({ valid: false, reason: 'verification failed' });
  });

  it('verify exit 1 on a file codesign may not read (Permission denied) is inconclusive, not a broken signature', () => {
    const p = '/Library/PrivilegedHelperTools/com.example.helper';
    expect(parseCodesignVerify(`${p}: Permission denied\n`, 1, p)).toBeNull();
  });

  it('spctl: a verdict about another path is not a verdict on this one', () => {
    expect(() => parseSpctlAssess('/Applications/Other.app: accepted\n', '/Applications/Widget.app')).toThrow(ParseError);
    expect(parseSpctlAssess('/Applications/Other.app: accepted\nsource=Notarized Developer ID\n', '/Applications/Widget.app').info).toMatchObject({ verdict: null, source: 'Notarized Developer ID' });
  });

  it('spctl: a folder named "x: accepted (" does not turn a rejection into an acceptance', () => {
    const p = '/Users/dana/x: accepted (/Widget.app';
    expect(parseSpctlAssess(`${p}: rejected (the code is valid but does not seem to be an app)\nsource=no usable signature\n`, p).info).toMatchObject({
      verdict: 'rejected',
      reason: 'the code is valid but does not seem to be an app',
    });
  });

  it('reads a 64 KB path full of ": " in linear time', () => {
    const p = `/${': a'.repeat(20_000)}`;
    expect(parseCodesignDisplay(`${p}: not a valid code object\n`, p).info.error).toBe('not a valid code object');
    expect(parseCodesignVerify(`${p}: code object is not signed at all\n`, 1, p)).toBeNull();
  });
});

describe('classification (formats.md §4.3, SPEC development class)', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['codesign-apple-platform.txt', 'apple_platform', { team_id: '', signing_id: 'com.apple.ls', identity: 'team:APPLE/com.apple.ls', hardened_runtime: 0, authority: 'Software Signing' }],
    ['codesign-apple.txt', 'apple', { team_id: '59GAB85EFG', identity: 'team:59GAB85EFG/com.apple.dt.xctrace', hardened_runtime: 1 }],
    ['codesign-app-store.txt', 'app_store', { team_id: 'K3L5M7N9P2', identity: 'team:K3L5M7N9P2/com.example.notepadish' }],
    ['codesign-developer-id.txt', 'developer_id', { team_id: 'Q7R2K9W4ZD', notarized: -1, hardened_runtime: 1, identity: 'team:Q7R2K9W4ZD/com.example.widget', authority: 'Developer ID Application: Example Widgets Ltd (Q7R2K9W4ZD)' }],
    ['codesign-developer-id-stapled.txt', 'developer_id', { notarized: 1 }],
    ['codesign-development.txt', 'development', { team_id: 'AB12CD34EF', identity: 'team:AB12CD34EF/com.example.tool' }],
    ['codesign-adhoc.txt', 'adhoc', { team_id: '', identity: 'cdhash:c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00', signed: 1, notarized: 0 }],
    ['codesign-linker-signed.txt', 'adhoc', { identity: 'cdhash:deadbeefdeadbeefdeadbeefdeadbeefdeadbeef', cdhash: 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef' }],
    ['codesign-unavailable-stapled.txt', 'developer_id', { notarized: 1, authority: '', team_id: 'Q7R2K9W4ZD' }],
    ['codesign-missing.txt', 'unknown', { signed: -1, identity: '' }],
  ];
  it.each(cases)('%s → %s', (file, cls, fields) => {
    const info = parseCodesignDisplay(fixture(file), fixturePath(file)).info;
    const verify = info.notSigned || info.error ? null : VALID;
    const out = classifyCodesign(info, verify);
    expect(out.signature_class).toBe(cls);
    expect(out).toMatchObject(fields);
  });

  it("Apple's own App Store apps are apple, not app_store", () => {
    const text = readFileSync(path.join(dir, 'codesign-app-store.txt'), 'utf8').replace('TeamIdentifier=K3L5M7N9P2', 'TeamIdentifier=59GAB85EFG');
    expect(classifyCodesign(parseCodesignDisplay(text, fixturePath('codesign-app-store.txt')).info, VALID)).toMatchObject({ signature_class: 'apple', identity: 'team:59GAB85EFG/com.example.notepadish' });
  });

  it('unsigned: signed 0, no team, no identity without a file hash', () => {
    const out = classifyCodesign(parseCodesignDisplay(fixture('codesign-unsigned.txt'), fixturePath('codesign-unsigned.txt')).info, null);
    expect(out).toMatchObject({ signature_class: 'unsigned', signed: 0, valid: 0, team_id: '', signing_id: '', identity: '' });
  });

  it('a signature that fails --verify is invalid and never borrows the claimed identity', () => {
    const info = parseCodesignDisplay(fixture('codesign-developer-id.txt'), fixturePath('codesign-developer-id.txt')).info;
    const verify = parseCodesignVerify(fixture('verify-invalid.txt'), 1, fixturePath('verify-invalid.txt'));
    expect(verify).toEqual({ valid: false, reason: 'invalid signature (code or signature have been modified)' });
    const out = classifyCodesign(info, verify);
    expect(out).toMatchObject({ signature_class: 'invalid', signed: 1, valid: 0, identity: 'cdhash:3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953' });
  });

  it('a certificate chain that does not end at Apple Root CA never lends its claimed team to the identity', () => {
    // Self-signed certificate whose subject copies a real vendor's name and team: codesign prints it as a
    // leaf with no Apple intermediate or root, and TeamIdentifier repeats the certificate's OU.
    const selfSigned = fixture('codesign-developer-id.txt')
      .replace(/^Authority=.*\n/gm, '')
      .replace('Signature size=8986\n', 'Signature size=1652\nAuthority=Developer ID Application: Example Widgets Ltd (Q7R2K9W4ZD)\n');
    const info = parseCodesignDisplay(selfSigned, '/bin/x').info;
    expect(info.authorities).toEqual(['Developer ID Application: Example Widgets Ltd (Q7R2K9W4ZD)']);
    const out = classifyCodesign(info, VALID);
    expect(out.signature_class).toBe('unknown');
    expect(out.identity).toBe('cdhash:3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953');
    // Nor does a platform identifier the code directory claims under that chain.
    expect(classifyCodesign(parseCodesignDisplay(selfSigned.replace('Hash type=', 'Platform identifier=15\nHash type='), '/bin/x').info, VALID)).toMatchObject({
      signature_class: 'unknown',
      identity: 'cdhash:3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953',
    });
    // Control: the genuine chain names the team.
    expect(classifyCodesign(parseCodesignDisplay(fixture('codesign-developer-id.txt'), fixturePath('codesign-developer-id.txt')).info, VALID).identity).toBe('team:Q7R2K9W4ZD/com.example.widget');
  });

  it('Authority=(unavailable) without a ticket asks for requirement checks, then classifies from them', () => {
    const info = parseCodesignDisplay(fixture('codesign-unavailable.txt'), fixturePath('codesign-unavailable.txt')).info;
    const first = classifyCodesign(info, VALID);
    expect(first.signature_class).toBe('unknown');
    expect(first.identity).toBe('team:Q7R2K9W4ZD/com.example.widgetctl');
    expect(needsRequirementChecks(first, info)).toBe(true);
    expect(classifyCodesign(info, VALID, { requirements: { developerId: true } }).signature_class).toBe('developer_id');
    expect(classifyCodesign(info, VALID, { requirements: { developerId: false, appStore: true } }).signature_class).toBe('app_store');
    expect(classifyCodesign(info, VALID, { requirements: { developerId: false, appStore: false, anchorApple: true } }).signature_class).toBe('apple');
    expect(classifyCodesign(info, VALID, { requirements: { developerId: false, appStore: false, anchorApple: false } }).signature_class).toBe('unknown');
  });

  it('spctl source decides the class when the chain is unavailable', () => {
    const info = parseCodesignDisplay(fixture('codesign-unavailable.txt'), fixturePath('codesign-unavailable.txt')).info;
    const spctl = parseSpctlAssess(fixture('spctl-notarized.txt'), fixturePath('spctl-notarized.txt')).info;
    expect(classifyCodesign(info, VALID, { spctl })).toMatchObject({ signature_class: 'developer_id', notarized: 1 });
    const store = parseSpctlAssess(fixture('spctl-app-store.txt'), fixturePath('spctl-app-store.txt')).info;
    expect(classifyCodesign(info, VALID, { spctl: store }).signature_class).toBe('app_store');
  });

  it('notarization: check result, spctl source, -1 when nothing was checked', () => {
    const info = parseCodesignDisplay(fixture('codesign-developer-id.txt'), fixturePath('codesign-developer-id.txt')).info;
    const base = classifyCodesign(info, VALID);
    expect(needsNotarizationCheck(base, info)).toBe(true);
    expect(classifyCodesign(info, VALID, { notarizationCheck: true }).notarized).toBe(1);
    expect(classifyCodesign(info, VALID, { notarizationCheck: false }).notarized).toBe(0);
    expect(classifyCodesign(info, VALID, { spctl: parseSpctlAssess(fixture('spctl-unnotarized.txt'), fixturePath('spctl-unnotarized.txt')).info }).notarized).toBe(0);
  });

  it('verify with an unexpected exit code is inconclusive (valid -1), not invalid', () => {
    expect(parseCodesignVerify('codesign: invalid option\n', 2, '/bin/x')).toBeNull();
    expect(parseCodesignVerify(fixture('verify-unsigned.txt'), 1, fixturePath('verify-unsigned.txt'))).toBeNull();
    const out = classifyCodesign(parseCodesignDisplay(fixture('codesign-developer-id.txt'), fixturePath('codesign-developer-id.txt')).info, null);
    expect(out).toMatchObject({ signature_class: 'developer_id', valid: -1 });
  });
});

describe('parseSpctlAssess', () => {
  it.each([
    ['spctl-notarized.txt', { verdict: 'accepted', source: 'Notarized Developer ID', origin: 'Developer ID Application: Example Widgets Ltd (Q7R2K9W4ZD)', reason: null }],
    ['spctl-unnotarized.txt', { verdict: 'rejected', source: 'Unnotarized Developer ID' }],
    ['spctl-app-store.txt', { verdict: 'accepted', source: 'Mac App Store' }],
    ['spctl-bare-binary.txt', { verdict: 'rejected', reason: 'the code is valid but does not seem to be an app', source: null }],
  ])('%s', (file, expected) => {
    expect(parseSpctlAssess(fixture(file), fixturePath(file)).info).toMatchObject(expected);
  });

  it('throws ParseError when there is no verdict or key line', () => {
    expect(() => parseSpctlAssess(fixture('spctl-garbage.txt'), fixturePath('spctl-garbage.txt'))).toThrow(ParseError);
    expect(() => parseSpctlAssess('', '/Applications/Widget.app')).toThrow(ParseError);
  });
});
