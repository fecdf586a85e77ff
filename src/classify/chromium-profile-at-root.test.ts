/**
 * Chromium browsers whose secret stores the taxonomy missed. Opera on macOS keeps its profile in the browser's folder
 * itself (`~/Library/Application Support/com.operasoftware.Opera/Cookies`, `…/Login Data`, `…/Network/Cookies`), not in
 * a `Default/` profile folder, so `com.operasoftware.Opera/*\/Login Data` never matched a read of it; Chrome Canary and
 * Dev had no rule. (Opera GX, `com.operasoftware.OperaGX`, has the same layout; it waits for its team id to be checked:
 * an authorized reader listed under a wrong team would make Opera GX's own reads rows.) Banshee (Elastic Security
 * Labs, "Beyond the wail") collects Opera and OperaGX; AMOS's AppleScript lists `com.operasoftware.Opera/`,
 * `com.operasoftware.OperaGX/`, `Google/Chrome Canary` and `Google/Chrome Dev/` among its Chromium targets.
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from './sensitive-paths.js';

const m = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
const AS = '/Users/dana/Library/Application Support';

describe('Chromium secret stores outside a Default/ profile folder', () => {
  it.each([
    `${AS}/com.operasoftware.Opera/Login Data`,
    `${AS}/com.operasoftware.Opera/Cookies`,
    `${AS}/com.operasoftware.Opera/Network/Cookies`,
    `${AS}/com.operasoftware.Opera/Web Data`,
    `${AS}/Google/Chrome Canary/Default/Login Data`,
    `${AS}/Google/Chrome Dev/Profile 1/Network/Cookies`,
    `/System/Volumes/Data${AS}/com.operasoftware.Opera/Login Data`,
  ])('%s is browser_secrets (tier 1)', (path) => {
    expect(m.match(path)).toMatchObject({ category: 'browser_secrets', tier: 1 });
  });

  it('the browsers themselves read them unremarked', () => {
    expect(SensitivePathMatcher.isAuthorized(m.match(`${AS}/com.operasoftware.Opera/Cookies`)!, 'A2P9LX4JPN', 'com.operasoftware.Opera', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(m.match(`${AS}/com.operasoftware.Opera/Login Data`)!, 'A2P9LX4JPN', 'com.operasoftware.Opera.helper', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(m.match(`${AS}/Google/Chrome Canary/Default/Cookies`)!, 'EQHXZ8M8AV', 'com.google.Chrome.canary', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(m.match(`${AS}/com.operasoftware.Opera/Login Data`)!, null, 'node', false)).toBe(false);
  });

  it('not what holds no secret there (history, extensions, caches)', () => {
    expect(m.match(`${AS}/com.operasoftware.Opera/History`)).toBeUndefined();
    expect(m.match(`${AS}/com.operasoftware.Opera/Extensions/abc/1.0/manifest.json`)).toBeUndefined();
    expect(m.match(`${AS}/com.operasoftware.Opera/GPUCache/data_1`)).toBeUndefined();
  });
});
