import { describe, expect, it } from 'vitest';
import { candidate } from '../../src/analytics/testing/facts.js';
import { groupRootIsLaunchdJob, parseIdentity, processChain } from './evidence.js';

describe('process evidence', () => {
  it('gives Apple platform code no team id: APPLE in an identity is not a developer id', () => {
    expect(parseIdentity('team:APPLE/com.apple.curl')).toEqual({ teamId: '', signingId: 'com.apple.curl', cdhash: '' });
    expect(parseIdentity('team:EQHXZ8M8AV/com.google.Chrome')).toEqual({ teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome', cdhash: '' });
    expect(parseIdentity('cdhash:AB12')).toEqual({ teamId: '', signingId: '', cdhash: 'ab12' });
    // an ancestor known only by its identity (no outflow_apps row yet) is where the identity's parts are used
    const c = candidate({
      process_chain: [
        { pid: 4242, path: '/usr/bin/curl', identity: 'team:APPLE/com.apple.curl', signature_class: 'apple_platform' },
        { pid: 4200, path: '/bin/zsh', identity: 'team:APPLE/com.apple.zsh', signature_class: 'apple_platform' },
        { pid: 4150, path: '/Applications/X.app/Contents/MacOS/X', identity: 'team:ABCDE12345/com.x.app', signature_class: 'developer_id' },
      ],
    });
    const chain = processChain(c, new Map());
    expect(chain.map((p) => [p.identity, p.team_id, p.signing_id])).toEqual([
      ['team:APPLE/com.apple.curl', '', 'com.apple.curl'],
      ['team:APPLE/com.apple.zsh', '', 'com.apple.zsh'],
      ['team:ABCDE12345/com.x.app', 'ABCDE12345', 'com.x.app'],
      ['cdhash:ff00', '', ''],
    ]);
  });
});

describe('group root kind of candidates from extensions without group_root_kind', () => {
  it('guesses from the root\'s path: an app bundle is a GUI app, a shell is a shell, anything else a launchd job', () => {
    const root = (group_root_path: string) => groupRootIsLaunchdJob({ group_root_kind: '', group_root_path });
    expect(root('/Applications/Slack.app/Contents/MacOS/Slack')).toBe(false);
    expect(root('/bin/zsh')).toBe(false);
    expect(root('/Library/Application Support/Updater/updaterd')).toBe(true);
    expect(root('')).toBe(false);
    // the endpoint's own word wins over the path
    expect(groupRootIsLaunchdJob({ group_root_kind: 'launchd_job', group_root_path: '/Applications/Helper.app/Contents/MacOS/Helper' })).toBe(true);
  });
});
