import { describe, expect, it } from 'vitest';
import { createFleetMetrics, recordIngest } from './metrics.js';

describe('recordIngest', () => {
  it('counts each row under one outcome, so a sum over outcomes counts it once', () => {
    const metrics = createFleetMetrics();
    // 9 rows: 3 new activity, 4 baseline (IngestResult counts them in accepted too), 1 duplicate, 1 rejected
    recordIngest(metrics, 'http', { lines: 6, quarantined: 2, accepted: 7, duplicates: 1, baseline: 4, ignored: 0, ignoredByReason: { other_query: 0, removed: 0, no_rows: 0, no_identity: 0 } });
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

  it('counts ignored rows apart from applied ones, by reason (a bounded label, never the query name)', () => {
    const metrics = createFleetMetrics();
    // 10 rows accepted: 2 new activity, 1 baseline, 7 ignored (5 of other queries, 2 removed)
    recordIngest(metrics, 'file', { lines: 8, quarantined: 0, accepted: 10, duplicates: 0, baseline: 1, ignored: 7, ignoredByReason: { other_query: 5, removed: 2, no_rows: 0, no_identity: 0 } });
    const text = metrics.registry.render();
    expect(text).toContain('outflow_rows_ingested_total{source="file",outcome="accepted"} 2');
    expect(text).toContain('outflow_rows_ingested_total{source="file",outcome="baseline"} 1');
    expect(text.split('\n').filter((l) => l.startsWith('outflow_rows_ignored_total{')).sort()).toEqual([
      'outflow_rows_ignored_total{source="file",reason="other_query"} 5',
      'outflow_rows_ignored_total{source="file",reason="removed"} 2',
    ]);
  });
});

describe('Gauge.replace', () => {
  it('drops a series not given again: a component whose hosts all recovered is no longer reported degraded', () => {
    const m = createFleetMetrics();
    m.hostStatus.replace([
      { labels: { component: 'flows', state: 'degraded' }, value: 3 },
      { labels: { component: 'flows', state: 'running' }, value: 7 },
    ]);
    m.hostStatus.replace([{ labels: { component: 'flows', state: 'running' }, value: 10 }]);
    expect(m.registry.render().split('\n').filter((l) => l.startsWith('outflow_host_status{'))).toEqual(['outflow_host_status{component="flows",state="running"} 10']);
  });
});
