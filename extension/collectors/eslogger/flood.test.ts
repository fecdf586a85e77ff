import { describe, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import { bundleFloodHarness, runFlood } from './testing/run-flood.js';

/**
 * Memory bound under a flood, measured on the process that holds the collector and its buffers (a bundled
 * plain-node child, like the packaged extension), with the fake eslogger streaming generated lines.
 * 100k lines here keeps CI under a minute on a loaded 2-core box; the 1M-line run is in
 * test/bench/eslogger.bench.ts (`npm run bench -- eslogger`).
 */
describe('eslogger collector under a flood', () => {
  it('keeps RSS under 150 MB for 100k lines with full buffers evicting', { timeout: 180_000 }, async () => {
    const bundle = await bundleFloodHarness();
    const r = await runFlood(bundle, FAKE_TOOLS_DIR, 100_000, { relevantPct: 20, maxEvents: 2000, timeoutMs: 150_000 });
    expect(r.lines).toBe(100_000);
    expect(r.malformed).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.sensitive_rows).toBe(2000);
    expect(r.archive_rows).toBe(2000);
    expect(r.evicted).toBeGreaterThan(1000);
    expect(r.rejected).toBeGreaterThan(70_000);
    expect(r.peak_rss_mb).toBeLessThan(150);
  });
});
