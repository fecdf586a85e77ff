/**
 * Certificate names prove nothing: a self-made root can be called "Apple Root CA" and a leaf
 * "Developer ID Application: <vendor> (<TEAM>)", and codesign --verify passes on such a chain. Only codesign's
 * `anchor apple generic` check tells them apart; the kernel's CS_VALID flag outranks the category at exec.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifyCodesign, classifyEs, needsAnchorCheck } from '../../../src/classify/signing-class.js';
import { parseCodesignDisplay } from './parse-codesign.js';
import { fixturePath } from './fixtures/paths.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => readFileSync(path.join(dir, name), 'utf8');
const VALID = { valid: true, reason: null };

describe("a chain named like Apple's", () => {
  it('Developer ID by name: asks for the anchor check, and is nobody\'s when it fails', () => {
    const info = parseCodesignDisplay(fixture('codesign-developer-id.txt'), fixturePath('codesign-developer-id.txt')).info;
    const named = classifyCodesign(info, VALID);
    expect(named.signature_class).toBe('developer_id');
    expect(needsAnchorCheck(named, info)).toBe(true);
    const refused = classifyCodesign(info, VALID, { requirements: { appleIssued: false } });
    expect(refused).toMatchObject({ signature_class: 'unknown', identity: `cdhash:${info.cdhash!.toLowerCase()}` });
    expect(classifyCodesign(info, VALID, { requirements: { appleIssued: true } }).signature_class).toBe('developer_id');
  });

  it('"Software Signing" by name without a platform identifier: not Apple platform code once the check fails', () => {
    const forged = fixture('codesign-apple-platform.txt').replace(/Platform identifier=\d+\n/, '').replace('com.apple.ls', 'com.apple.Safari');
    const info = parseCodesignDisplay(forged, '/Applications/Safari.app/Contents/MacOS/Safari').info;
    const named = classifyCodesign(info, VALID);
    expect(needsAnchorCheck(named, info)).toBe(true);
    const refused = classifyCodesign(info, VALID, { requirements: { appleIssued: false } });
    expect(refused.signature_class).toBe('unknown');
    expect(refused.identity).not.toMatch(/^team:/);
  });

  it('ad-hoc, unsigned and invalid code need no anchor check', () => {
    for (const name of ['codesign-adhoc.txt', 'codesign-unsigned.txt']) {
      const info = parseCodesignDisplay(fixture(name), fixturePath(name)).info;
      expect(needsAnchorCheck(classifyCodesign(info, VALID), info)).toBe(false);
    }
    const tampered = parseCodesignDisplay(fixture('codesign-developer-id.txt'), fixturePath('codesign-developer-id.txt')).info;
    expect(needsAnchorCheck(classifyCodesign(tampered, { valid: false, reason: 'a sealed resource is missing or invalid' }), tampered)).toBe(false);
  });
});

describe('Authority=(unavailable) and every requirement check failing', () => {
  it('does not borrow the team identity the code claims', () => {
    const info = parseCodesignDisplay(fixture('codesign-unavailable.txt'), fixturePath('codesign-unavailable.txt')).info;
    const out = classifyCodesign(info, VALID, { requirements: { developerId: false, appStore: false, anchorApple: false, appleIssued: false } });
    expect(out.signature_class).toBe('unknown');
    expect(out.identity).toBe(`cdhash:${info.cdhash!.toLowerCase()}`);
  });
});

describe('eslogger: CS_VALID cleared', () => {
  it('is invalid whatever the category at exec said', () => {
    const out = classifyEs({ signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000, csValidationCategory: 6 });
    expect(out).toMatchObject({ signature_class: 'invalid', valid: 0, identity: 'cdhash:3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953' });
  });
});
