/**
 * What the eslogger pipeline must not take on trust: a team id the kernel does not vouch for (ad-hoc code can write
 * any into its code directory; signed code the kernel no longer holds valid), a secret copied by clonefile(2) without an open event, a path spelled through the
 * Data-volume firmlink and /private at once.
 */
import { describe, expect, it } from 'vitest';
import { WANTED_EVENTS } from './collector.js';
import { pipelineWorld } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);
const setup = () => pipelineWorld({ now: S + 10 });

// CS_SIGNED | CS_ADHOC | CS_VALID (+ LINKER_SIGNED): what the kernel reports for ad-hoc code (xnu cs_blobs.h)
const ADHOC_FLAGS = 0x20000000 | 0x20000 | 0x2 | 0x1;
const COOKIES = '/Users/dana/Library/Application Support/Google/Chrome/Default/Cookies';
const fakeChrome = { pid: 66, ppid: 1, path: '/Users/dana/Library/Caches/.x/helper', signingId: 'com.google.Chrome.helper', teamId: 'EQHXZ8M8AV', startMs: T - 5000 };
const realChrome = { pid: 67, ppid: 1, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: T - 5000 };

describe('authorized readers need a team id the kernel vouches for', () => {
  it('an ad-hoc binary that writes Chrome\'s team id and signing id into its code directory is not Chrome (v9, no validation category)', () => {
    const { pipeline, sensitiveEvents } = setup();
    const line = esLine({ version: 9, kind: 'open', timeMs: T, gseq: 1, process: fakeChrome, body: body.open(COOKIES) }).replace(/"codesigning_flags":\d+/, `"codesigning_flags":${ADHOC_FLAGS}`);
    pipeline.handleLine(line);
    expect(pipeline.stats.authorized).toBe(0);
    expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 66, category: 'browser_secrets', tier: 1 }]);
  });
  it('same on macOS 26 (cs_validation_category 7 = local signing)', () => {
    const { pipeline, sensitiveEvents } = setup();
    const line = esLine({ version: 10, kind: 'open', timeMs: T, gseq: 1, process: fakeChrome, body: body.open(COOKIES) })
      .replace(/"codesigning_flags":\d+/, `"codesigning_flags":${ADHOC_FLAGS}`)
      .replace(/"cs_validation_category":\d+/, '"cs_validation_category":7');
    pipeline.handleLine(line);
    expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 66, category: 'browser_secrets' }]);
  });
  it('the real, Developer ID-signed Chrome stays authorized', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(esLine({ version: 9, kind: 'open', timeMs: T, gseq: 1, process: realChrome, body: body.open(COOKIES) }));
    pipeline.handleLine(esLine({ version: 10, kind: 'open', timeMs: T, gseq: 2, process: { ...realChrome, pid: 68 }, body: body.open(COOKIES) }));
    expect(sensitiveEvents.toArray()).toEqual([]);
    expect(pipeline.stats.authorized).toBe(2);
  });
});

describe('clonefile(2) copies a secret without opening it (cp -c, Finder duplicate, copyfile COPYFILE_CLONE)', () => {
  const KEYCHAIN = '/Users/dana/Library/Keychains/login.keychain-db';
  const stealer = { pid: 70, ppid: 1, path: '/Users/dana/.local/bin/helper', signingId: null, teamId: null, startMs: T - 5000 };
  // es_event_clone_t: source, target_dir, target_name (ES_EVENT_TYPE_NOTIFY_CLONE = 61)
  const cloneBody = { source: { path: KEYCHAIN, path_truncated: false }, target_dir: { path: '/tmp', path_truncated: false }, target_name: 'k' };
  it('eslogger is asked for clone events', () => {
    expect(WANTED_EVENTS).toContain('clone');
  });
  it('a clone of the login keychain is a tier-1 access by the cloning process', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(esLine({ version: 9, kind: 'clone', eventType: 61, timeMs: T, gseq: 1, process: stealer, body: cloneBody }));
    expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 70, file_path: KEYCHAIN, category: 'keychain', tier: 1 }]);
  });
});

describe('the process model gets no team id an ad-hoc binary claims (lineage matches terminal apps by it)', () => {
  it('an ad-hoc "iTerm2" exec is observed without the team id', () => {
    const { pipeline, recorded } = pipelineWorld({ now: S });
    const parent = { pid: 90, ppid: 1, path: '/bin/sh', platform: true, signingId: 'com.apple.sh', startMs: T - 9000 };
    const fake = { pid: 91, ppid: 90, path: '/tmp/iTerm2', signingId: 'com.googlecode.iterm2', teamId: 'H7V7XYVQ7D', startMs: T - 1000 };
    const line = esLine({ version: 9, kind: 'exec', timeMs: T, gseq: 1, process: parent, body: body.exec(fake, ['/tmp/iTerm2'], '/tmp', 9) })
      // the exec target (the second process object) is ad-hoc signed
      .replace(/("target":\{"audit_token":\{[^}]*\},"ppid":90,"original_ppid":90,"group_id":91,"session_id":100009,"codesigning_flags":)\d+/, `$1${ADHOC_FLAGS}`);
    expect(line).toContain(`"codesigning_flags":${ADHOC_FLAGS}`);
    pipeline.handleLine(line);
    const obs = recorded.observed.find((o) => o.pid === 91);
    expect(obs).toMatchObject({ signingId: 'com.googlecode.iterm2', teamId: null });
  });
});

describe('a path through the Data-volume firmlink and /private at once (/System/Volumes/Data/private/var/…)', () => {
  it('the eslogger fast path passes such a line to the matcher (the row is written)', () => {
    const { pipeline, sensitiveEvents } = setup();
    const p = { pid: 9, ppid: 1, path: '/tmp/x', signingId: null, teamId: null, startMs: T - 1000 };
    pipeline.handleLine(esLine({ kind: 'open', timeMs: T, gseq: 1, process: p, body: body.open('/System/Volumes/Data/private/var/root/.ssh/id_ed25519') }));
    expect(sensitiveEvents.toArray()).toMatchObject([{ file_path: '/var/root/.ssh/id_ed25519', category: 'dev_credentials' }]);
  });
});

// CS_SIGNED | CS_RUNTIME, CS_VALID cleared: signed code the kernel no longer holds valid
const INVALIDATED = 0x20000000 | 0x10000;

describe('a team id of code the kernel no longer holds valid authorizes nothing', () => {
  // cs_validation_category is fixed at exec; the kernel clears CS_VALID when the code is no longer what was signed (an
  // unsigned page loaded without CS_KILL, a revoked signature): classifyEs calls such code 'invalid', whatever the
  // category, so a v10 line (with the category) must be refused as a v9 line is
  for (const version of [9, 10]) {
    it(`message version ${version}`, () => {
      const { pipeline, sensitiveEvents } = setup();
      const line = esLine({ version, kind: 'open', timeMs: T, gseq: 1, process: realChrome, body: body.open(COOKIES) }).replace(/"codesigning_flags":\d+/, `"codesigning_flags":${INVALIDATED}`);
      if (version >= 10) expect(line).toContain('"cs_validation_category":6');
      pipeline.handleLine(line);
      expect(pipeline.stats.authorized).toBe(0);
      expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 67, category: 'browser_secrets' }]);
    });
  }
});
