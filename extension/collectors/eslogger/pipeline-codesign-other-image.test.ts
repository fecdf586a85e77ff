/**
 * eslogger v9 (no cs_validation_category): codesign's verdict on a file whose image is not the one the kernel ran
 * (another cdhash). A universal binary run under Rosetta is such a case with no file swapped: `codesign -d` shows the
 * host's slice, the kernel hashes the x86_64 one; so is a file replaced after exec. A verdict that itself vouches for
 * nothing (ad-hoc, self-signed) cannot turn a team-id claim ES cannot check into an authorized read.
 */
import { describe, expect, it } from 'vitest';
import { pipelineWorld } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';
import { unknownRow } from '../../tables/code_signing/signing-service.js';
import type { SigningRow } from '../../runtime/context.js';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);
const COOKIES = '/Users/dana/Library/Application Support/Google/Chrome/Default/Cookies';
// valid, not ad-hoc (CS_VALID, no CS_ADHOC): a self-signed certificate whose OU is Chrome's team
const claimant = { pid: 80, ppid: 1, path: '/Users/dana/Library/Caches/.x/Google Chrome', signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: T - 5000 };
const OTHER_SLICE = 'ffffffffffffffffffffffffffffffffffffffff';

function verdict(cls: SigningRow['signature_class'], teamId: string): SigningRow {
  return { ...unknownRow(claimant.path, S), signed: 1, valid: 1, signature_class: cls, team_id: teamId, signing_id: 'com.google.Chrome', cdhash: OTHER_SLICE };
}

describe('codesign\'s verdict on another image of the path', () => {
  for (const [what, row] of [
    ['self-signed (a chain that is not Apple\'s)', verdict('unknown', 'EQHXZ8M8AV')],
    ['ad-hoc', verdict('adhoc', '')],
    ['Apple\'s chain for another team', verdict('developer_id', 'Q7R2K9W4ZD')],
  ] as const) {
    it(`${what}: the read is a row, not authorized`, () => {
      const { pipeline, sensitiveEvents, verdicts } = pipelineWorld({ now: S + 10 });
      verdicts.set(claimant.path, row);
      pipeline.handleLine(esLine({ version: 9, kind: 'open', timeMs: T, gseq: 1, process: claimant, body: body.open(COOKIES) }));
      pipeline.settleHeld();
      expect(pipeline.stats.authorized).toBe(0);
      expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 80, team_id: 'EQHXZ8M8AV', file_path: COOKIES }]);
    });
  }
});
