/**
 * `codesign --verify` checks every architecture of a universal binary (codesign(1) `--all-architectures`, the
 * default), while `-dvvv` displays only one slice. A universal file whose displayed slice is Developer ID signed and
 * whose other slice is not signed at all verifies with exit 1, `code object is not signed at all` and
 * `In architecture: <arch>`: signed but failing --verify is `invalid` (formats.md §4.3 step 3).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifyCodesign } from '../../../src/classify/signing-class.js';
import { parseCodesignDisplay, parseCodesignVerify } from './parse-codesign.js';
import { fixturePath } from './fixtures/paths.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('universal binary with one unsigned slice', () => {
  it('is invalid, not the displayed slice\'s developer_id', () => {
    const p = fixturePath('codesign-developer-id.txt');
    const info = parseCodesignDisplay(readFileSync(path.join(dir, 'codesign-developer-id.txt'), 'utf8'), p).info;
    const verify = parseCodesignVerify(`${p}: code object is not signed at all\nIn architecture: x86_64\n`, 1, p);
    expect(verify).toEqual({ valid: false, reason: 'code object is not signed at all' });
    expect(classifyCodesign(info, verify)).toMatchObject({ signature_class: 'invalid', valid: 0, identity: 'cdhash:3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953' });
  });
});
