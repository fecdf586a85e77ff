import { describe, expect, it } from 'vitest';
import { createFleetMetrics, recordIngest } from './metrics.js';

describe('recordIngest', () => {
  it('counts each row under one outcome, so a sum over outcomes counts it once', () => {
    const metrics = createFleetMetrics();
    // 9 rows: 3 new activity, 4 baseline (IngestResult counts them in accepted too), 1 duplicate, 1 rejected
    recordIngest(metrics, 'http', { lines: 6, quarantined: 2, accepted: 7, duplicates: 1, baseline: 4 });
    const rows = metrics.registry
      .render()
      .split('\n')
      .filter((l) => l.startsWith('outflow_rows_ingested_total{'));
    expect(rows.sort()).toEqual([
      'outflow_rows_ingested_total{source="http",outcome="accepted"} 3',
      'outflow_rows_ingested_total{source="http",outcome="baseline"} 4',
      'outflow_rows_ingested_total{source="http",outcome="duplicate"} 1',
    ]);
    expect(metrics.registry.render()).toContain('outflow_lines_quarantined_total{source="http"} 2');
  });
});
