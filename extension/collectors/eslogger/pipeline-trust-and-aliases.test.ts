/**
 * What the eslogger pipeline must not take on trust: a team id the kernel does not vouch for (ad-hoc code can write
 * any into its code directory; signed code the kernel no longer holds valid), a secret copied by clonefile(2) without an open event, a path spelled through the
 * Data-volume firmlink and /private at once.
 */
import { describe, expect, it } from 'vitest';
import { WANTED_EVENTS } from './collector.js';
import { pipelineWorld } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';
import { HOLD_FOR_CODESIGN_S, MAX_HELD_READS } from './pipeline.js';
import { unknownRow } from '../../tables/code_signing/signing-service.js';
import type { SigningRow } from '../../runtime/context.js';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);
const setup = () => pipelineWorld({ now: S + 10 });

// CS_SIGNED | CS_ADHOC | CS_VALID (+ LINKER_SIGNED): what the kernel reports for ad-hoc code (xnu cs_blobs.h)
const ADHOC_FLAGS = 0x20000000 | 0x20000 | 0x2 | 0x1;
const COOKIES = '/Users/dana/Library/Application Support/Google/Chrome/Default/Cookies';
const fakeChrome = { pid: 66, ppid: 1, path: '/Users/dana/Library/Caches/.x/helper', signingId: 'com.google.Chrome.helper', teamId: 'EQHXZ8M8AV', startMs: T - 5000 };
const realChrome = { pid: 67, ppid: 1, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: T - 5000 };

/** codesign's verdict on a file: its class and team, for the image es-lines gives every process by default. */
function codesignSays(path: string, signatureClass: SigningRow['signature_class'], teamId: string, cdhash = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'): SigningRow {
  return { ...unknownRow(path, S), signed: 1, valid: 1, signature_class: signatureClass, team_id: teamId, signing_id: 'com.google.Chrome', cdhash };
}

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
  it('the real, Developer ID-signed Chrome stays authorized (v9: once codesign vouched for its team)', () => {
    const { pipeline, sensitiveEvents, verdicts } = setup();
    verdicts.set(realChrome.path, codesignSays(realChrome.path, 'developer_id', 'EQHXZ8M8AV'));
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

describe('before macOS 26 (eslogger v9) a team id authorizes a read only once codesign vouched for it', () => {
  // valid, not ad-hoc code signed with a self-signed certificate whose OU is Chrome's team: ES gives the kernel's
  // flags (CS_VALID, no CS_ADHOC) and the team id, and no validation category to tell it from Developer ID
  const selfSigned = { ...realChrome, pid: 80, path: '/Users/dana/Library/Caches/.x/Google Chrome', signingId: 'com.google.Chrome' };
  const open = (p: typeof realChrome, gseq: number, file = COOKIES, timeMs = T) => esLine({ version: 9, kind: 'open', timeMs, gseq, process: p, body: body.open(file) });

  it('the read waits for codesign, then is written with its own time when codesign finds the chain is not Apple\'s', () => {
    const { pipeline, sensitiveEvents, verdicts, clock } = setup();
    pipeline.handleLine(open(selfSigned, 1));
    pipeline.handleLine(open(selfSigned, 2)); // a repeat is folded, held or not
    expect(sensitiveEvents.toArray()).toEqual([]);
    expect(pipeline.heldReads).toBe(1);
    pipeline.settleHeld();
    expect(pipeline.heldReads).toBe(1);
    // codesign: a leaf with no Apple intermediate or root is `unknown`, whatever team it names
    verdicts.set(selfSigned.path, codesignSays(selfSigned.path, 'unknown', 'EQHXZ8M8AV'));
    clock.now = S + 30;
    pipeline.settleHeld();
    expect(sensitiveEvents.toArray()).toMatchObject([{ time: S, pid: 80, team_id: 'EQHXZ8M8AV', file_path: COOKIES, category: 'browser_secrets', tier: 1 }]);
    expect(pipeline.heldReads).toBe(0);
    expect(pipeline.stats).toMatchObject({ authorized: 0, heldForCodesign: 1, claimsNotVouched: 1, sensitiveRows: 1 });
  });

  it('a read by the real Chrome is authorized once codesign vouches (Developer ID, the same team and image)', () => {
    const { pipeline, sensitiveEvents, verdicts } = setup();
    pipeline.handleLine(open(realChrome, 1));
    verdicts.set(realChrome.path, codesignSays(realChrome.path, 'developer_id', 'EQHXZ8M8AV'));
    pipeline.settleHeld();
    expect(sensitiveEvents.toArray()).toEqual([]);
    expect(pipeline.stats).toMatchObject({ authorized: 1, heldForCodesign: 1, claimsNotVouched: 0 });
  });

  it('with codesign\'s verdict at hand the read is decided at once, either way', () => {
    const { pipeline, sensitiveEvents, verdicts } = setup();
    verdicts.set(realChrome.path, codesignSays(realChrome.path, 'developer_id', 'EQHXZ8M8AV'));
    verdicts.set(selfSigned.path, codesignSays(selfSigned.path, 'unknown', 'EQHXZ8M8AV'));
    pipeline.handleLine(open(realChrome, 1));
    pipeline.handleLine(open(selfSigned, 2));
    expect(pipeline.heldReads).toBe(0);
    expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 80 }]);
    expect(pipeline.stats).toMatchObject({ authorized: 1, heldForCodesign: 0, claimsNotVouched: 1 });
  });

  it('Apple\'s chain for another team vouches for nothing', () => {
    const { pipeline, sensitiveEvents, verdicts } = setup();
    verdicts.set(selfSigned.path, codesignSays(selfSigned.path, 'developer_id', 'Q7R2K9W4ZD'));
    pipeline.handleLine(open(selfSigned, 1));
    expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 80, team_id: 'EQHXZ8M8AV' }]);
  });

  it(`without a verdict the read is written ${HOLD_FOR_CODESIGN_S} s after it was held, not before`, () => {
    const { pipeline, sensitiveEvents, clock } = setup();
    const heldAt = clock.now;
    pipeline.handleLine(open(selfSigned, 1));
    clock.now = heldAt + HOLD_FOR_CODESIGN_S - 1;
    pipeline.settleHeld();
    expect(sensitiveEvents.size).toBe(0);
    clock.now = heldAt + HOLD_FOR_CODESIGN_S;
    pipeline.settleHeld();
    expect(sensitiveEvents.toArray()).toMatchObject([{ time: S, pid: 80 }]);
    expect(pipeline.stats.claimsNotVouched).toBe(1);
  });

  it('a read eslogger delivers minutes after its event (a backlog) still waits for codesign', () => {
    const { pipeline, sensitiveEvents, verdicts, clock } = setup();
    clock.now = S + 600;
    pipeline.handleLine(open(realChrome, 1));
    pipeline.settleHeld();
    expect(pipeline.heldReads).toBe(1);
    verdicts.set(realChrome.path, codesignSays(realChrome.path, 'developer_id', 'EQHXZ8M8AV'));
    pipeline.settleHeld();
    expect(sensitiveEvents.size).toBe(0);
    expect(pipeline.stats.authorized).toBe(1);
  });

  it('a wall clock stepped back ends the wait', () => {
    const { pipeline, sensitiveEvents, clock } = setup();
    pipeline.handleLine(open(selfSigned, 1));
    clock.now = S - 3600;
    pipeline.settleHeld();
    expect(sensitiveEvents.size).toBe(1);
  });

  it('a file replaced under the running process (an update): codesign cannot speak for the image that runs, the claim stands', () => {
    const { pipeline, sensitiveEvents, verdicts } = setup();
    verdicts.set(realChrome.path, codesignSays(realChrome.path, 'developer_id', 'EQHXZ8M8AV', 'ffffffffffffffffffffffffffffffffffffffff'));
    pipeline.handleLine(open(realChrome, 1));
    expect(sensitiveEvents.toArray()).toEqual([]);
    expect(pipeline.stats.authorized).toBe(1);
  });

  it(`at most ${MAX_HELD_READS} reads are held: beyond, a read is written at once`, () => {
    const { pipeline, sensitiveEvents } = setup();
    for (let i = 0; i <= MAX_HELD_READS; i++) pipeline.handleLine(open(selfSigned, i + 1, `${COOKIES}-${i}`));
    expect(pipeline.heldReads).toBe(MAX_HELD_READS);
    expect(sensitiveEvents.size).toBe(1);
    expect(pipeline.stats.claimsNotVouched).toBe(1);
  });

  it('macOS 26 (validation category 6, Developer ID) needs no codesign verdict', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(esLine({ version: 10, kind: 'open', timeMs: T, gseq: 1, process: realChrome, body: body.open(COOKIES) }));
    expect(pipeline.heldReads).toBe(0);
    expect(sensitiveEvents.size).toBe(0);
    expect(pipeline.stats.authorized).toBe(1);
  });
});
