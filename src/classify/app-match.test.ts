import { describe, expect, it } from 'vitest';
import { teamKey } from './app-match.js';

describe('teamKey (the team an allowlist entry names)', () => {
  it.each([
    ['Q7R2K9W4ZD', false, 'Q7R2K9W4ZD'],
    [null, true, 'APPLE'],
    // osquery columns carry the platform flag as an integer
    [null, 1, 'APPLE'],
    [null, 0, ''],
    [null, false, ''],
    [null, null, ''],
    ['', undefined, ''],
  ] as const)('team %j, platform binary %j → %j', (team, platform, key) => {
    expect(teamKey(team, platform)).toBe(key);
  });
});
