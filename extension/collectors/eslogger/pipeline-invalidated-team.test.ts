/**
 * cs_validation_category is fixed at exec; the kernel clears CS_VALID when the code is no longer what was signed (an
 * unsigned page loaded into a process without CS_KILL, a revoked signature). classifyEs calls such code 'invalid'
 * ("its category at exec says whose it was meant to be, not whose it is"), so its team id is vouched for by nothing:
 * the same process must be refused as an authorized reader on a v10 line (with the category) as on a v9 line.
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { RingBuffer } from '../../runtime/ring-buffer.js';
import type { ArchiveEventRow, SensitiveFileEventRow } from '../../runtime/context.js';
import { EsloggerPipeline } from './pipeline.js';
import { recordingServices } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);
function setup() {
  const { processes, signing } = recordingServices();
  const sensitiveEvents = new RingBuffer<SensitiveFileEventRow>(50_000, 1800, (e) => e.time);
  const archiveEvents = new RingBuffer<ArchiveEventRow>(50_000, 1800, (e) => e.time);
  const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
  const pipeline = new EsloggerPipeline({ matcher, processes, signing, sensitiveEvents, archiveEvents, precursorRetention: { tier1: 43_200, other: 1800 }, now: () => S + 10 });
  return { pipeline, sensitiveEvents };
}

// CS_SIGNED | CS_RUNTIME, CS_VALID cleared: signed code the kernel no longer holds valid
const INVALIDATED = 0x20000000 | 0x10000;
const COOKIES = '/Users/dana/Library/Application Support/Google/Chrome/Default/Cookies';
const chrome = { pid: 67, ppid: 1, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: T - 5000 };

describe('a team id of code the kernel no longer holds valid authorizes nothing', () => {
  for (const version of [9, 10]) {
    it(`message version ${version}`, () => {
      const { pipeline, sensitiveEvents } = setup();
      const line = esLine({ version, kind: 'open', timeMs: T, gseq: 1, process: chrome, body: body.open(COOKIES) }).replace(/"codesigning_flags":\d+/, `"codesigning_flags":${INVALIDATED}`);
      if (version >= 10) expect(line).toContain('"cs_validation_category":6');
      pipeline.handleLine(line);
      expect(pipeline.stats.authorized).toBe(0);
      expect(sensitiveEvents.toArray()).toMatchObject([{ pid: 67, category: 'browser_secrets' }]);
    });
  }
});
