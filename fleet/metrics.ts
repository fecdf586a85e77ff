/**
 * A small Prometheus registry for the aggregator (text exposition format 0.0.4).
 * Kept in-house rather than pulling prom-client: we need a handful of counters, gauges and one
 * histogram, and owning the renderer keeps escaping and label ordering deterministic for tests.
 */

import { IGNORED_REASONS, type IngestResult } from './ingest/ingest-service.js';

export type Labels = Readonly<Record<string, string>>;

type MetricType = 'counter' | 'gauge' | 'histogram';

interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  render(): string[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function labelKey(labelNames: readonly string[], labels: Labels): string {
  return JSON.stringify(labelNames.map((n) => labels[n] ?? ''));
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderLabels(labelNames: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = labelNames.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function checkLabels(name: string, labelNames: readonly string[], labels: Labels): void {
  for (const k of Object.keys(labels)) {
    if (!labelNames.includes(k)) throw new Error(`metric ${name}: unknown label ${k}`);
  }
}

export class Counter {
  private readonly values = new Map<string, { labels: string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
    checkLabels(this.name, this.labelNames, labels);
    const key = labelKey(this.labelNames, labels);
    const cur = this.values.get(key);
    if (cur) cur.value += by;
    else this.values.set(key, { labels: this.labelNames.map((n) => labels[n] ?? ''), value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  samples(): string[] {
    return [...this.values.values()].map((v) => `${this.name}${renderLabels(this.labelNames, v.labels)} ${formatNumber(v.value)}`);
  }
}

export class Gauge {
  private readonly values = new Map<string, { labels: string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
    private readonly collect?: (set: (labels: Labels, value: number) => void) => void,
  ) {}

  set(labels: Labels, value: number): void {
    checkLabels(this.name, this.labelNames, labels);
    this.values.set(labelKey(this.labelNames, labels), { labels: this.labelNames.map((n) => labels[n] ?? ''), value });
  }

  get(labels: Labels = {}): number | undefined {
    return this.values.get(labelKey(this.labelNames, labels))?.value;
  }

  /** Every series at once: a series not given is gone (a group that emptied must not keep its last value). */
  replace(samples: readonly { labels: Labels; value: number }[]): void {
    this.values.clear();
    for (const s of samples) this.set(s.labels, s.value);
  }

  samples(): string[] {
    if (this.collect) {
      try {
        this.collect((labels, value) => this.set(labels, value));
      } catch {
        // a failing collector keeps its last values rather than breaking the whole scrape
      }
    }
    return [...this.values.values()].map((v) => `${this.name}${renderLabels(this.labelNames, v.labels)} ${formatNumber(v.value)}`);
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: string[]; buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    for (let i = 1; i < bounds.length; i++) {
      if (bounds[i]! <= bounds[i - 1]!) throw new Error(`histogram ${name}: buckets must increase`);
    }
  }

  observe(labels: Labels, value: number): void {
    checkLabels(this.name, this.labelNames, labels);
    const key = labelKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: this.labelNames.map((n) => labels[n] ?? ''), buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) s.buckets[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  count(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }

  samples(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.bounds.forEach((b, i) => {
        out.push(`${this.name}_bucket${renderLabels(this.labelNames, s.labels, ['le', formatNumber(b)])} ${s.buckets[i]}`);
      });
      out.push(`${this.name}_bucket${renderLabels(this.labelNames, s.labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${renderLabels(this.labelNames, s.labels)} ${formatNumber(s.sum)}`);
      out.push(`${this.name}_count${renderLabels(this.labelNames, s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly families = new Map<string, MetricFamily>();

  private register<T extends { samples(): string[] }>(name: string, help: string, type: MetricType, labelNames: readonly string[], metric: T): T {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l === 'le') throw new Error(`metric ${name}: invalid label name ${l}`);
    if (this.families.has(name)) throw new Error(`metric ${name} registered twice`);
    this.families.set(name, { name, help, type, render: () => metric.samples() });
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(name, help, 'counter', labelNames, new Counter(name, labelNames));
  }

  /** `collect` runs at scrape time, for values that live elsewhere (queue depth, spool size). */
  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (set: (labels: Labels, value: number) => void) => void): Gauge {
    return this.register(name, help, 'gauge', labelNames, new Gauge(name, labelNames, collect));
  }

  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Histogram {
    return this.register(name, help, 'histogram', labelNames, new Histogram(name, labelNames, bounds));
  }

  /** Prometheus text exposition format (Content-Type `text/plain; version=0.0.4`). */
  render(): string {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
      lines.push(`# TYPE ${f.name} ${f.type}`);
      lines.push(...f.render());
    }
    return lines.join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Every metric the aggregator exports, created once per process in the composition root. */
export interface FleetMetrics {
  registry: MetricsRegistry;
  linesIngested: Counter;
  linesQuarantined: Counter;
  rowsIngested: Counter;
  rowsIgnored: Counter;
  ingestRequests: Counter;
  detectionsEmitted: Counter;
  detectionsStored: Gauge;
  candidatesPending: Gauge;
  activeHosts: Gauge;
  hostStatus: Gauge;
  jobRuns: Counter;
  jobDuration: Histogram;
  jobLastDuration: Gauge;
  sinkDeliveries: Counter;
  sinkSpoolDepth: Gauge;
  sinkPending: Gauge;
  natsFailures: Counter;
}

export function createFleetMetrics(): FleetMetrics {
  const registry = new MetricsRegistry();
  return {
    registry,
    linesIngested: registry.counter('outflow_lines_ingested_total', 'Result-log lines processed (applied or quarantined), by source kind (file|stdin|http|nats)', ['source']),
    linesQuarantined: registry.counter('outflow_lines_quarantined_total', 'Result-log lines (or rows) rejected and quarantined, by source kind', ['source']),
    rowsIngested: registry.counter('outflow_rows_ingested_total', 'Result rows by source and outcome, each row under one outcome: accepted (applied, new activity), baseline (applied, from a counter-0 or snapshot line: state only), duplicate (a re-delivered candidate or rejected row; other re-delivered rows are applied again, which changes nothing, and count as accepted or baseline); rejected rows are in outflow_lines_quarantined_total, ignored rows in outflow_rows_ignored_total', ['source', 'outcome']),
    // by reason, never by query name: names come from the hosts, and every name would be a series
    rowsIgnored: registry.counter('outflow_rows_ignored_total', `Result rows taken as host activity only, by source and reason (${IGNORED_REASONS.join('|')}): other_query is a query name that is not Outflow's (a report renamed in Fleet, the wrong log)`, ['source', 'reason']),
    ingestRequests: registry.counter('outflow_http_ingest_requests_total', 'POST /v1/ingest requests by body shape and status code', ['shape', 'status']),
    detectionsEmitted: registry.counter('outflow_detections_total', 'Detections created or updated by finalization, by analytic and kind (new|update)', ['analytic', 'kind']),
    detectionsStored: registry.gauge('outflow_detections_stored', 'Detections in the store by analytic (refreshed at scrape time)', ['analytic']),
    candidatesPending: registry.gauge('outflow_candidates_pending', 'Candidates waiting for finalization (refreshed at scrape time)'),
    activeHosts: registry.gauge(
      'outflow_active_hosts',
      'Hosts with a result line in the window ending at the newest event time: window="prevalence" is the count the rare and common thresholds use, window="1h" shows a jump (made-up host ids) at once (refreshed at scrape time)',
      ['window'],
    ),
    hostStatus: registry.gauge(
      'outflow_host_status',
      'Hosts whose latest outflow_status row for a component, reported in the last 2 hours of event time, is in a state (running|degraded|unavailable|permission_denied|disabled; other: a component or state name the extension does not use); anything but running and disabled needs an operator: GET /v1/hosts/status?problems=true lists the hosts (refreshed at scrape time, at most once a minute)',
      ['component', 'state'],
    ),
    jobRuns: registry.counter('outflow_job_runs_total', 'Scheduler job runs by job and outcome (ok|error|skipped_overlap|skipped_locked)', ['job', 'outcome']),
    jobDuration: registry.histogram('outflow_job_duration_seconds', 'Scheduler job run duration', ['job'], [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]),
    jobLastDuration: registry.gauge('outflow_job_last_duration_seconds', 'Duration of the most recent run of each job', ['job']),
    sinkDeliveries: registry.counter('outflow_sink_deliveries_total', 'Sink deliveries by sink and outcome (ok|retry|dead|error)', ['sink', 'outcome']),
    sinkSpoolDepth: registry.gauge('outflow_sink_spool_batches', 'Batches waiting in a sink spool', ['sink']),
    sinkPending: registry.gauge('outflow_sink_pending_detections', 'Detection changes not yet taken by a sink (its backlog after the last finalize run)', ['sink']),
    natsFailures: registry.counter(
      'outflow_nats_failures_total',
      'NATS JetStream fetches and batch commits that failed, by stream and kind (fetch|commit); the source retries both, so this growing while outflow_lines_ingested_total{source="nats"} stands still is a stalled consumer',
      ['stream', 'kind'],
    ),
  };
}

/** Count one ingest call's outcome (every source goes through this, via the wrapped ingest service). */
export function recordIngest(
  metrics: FleetMetrics,
  sourceKind: string,
  r: Pick<IngestResult, 'lines' | 'quarantined' | 'accepted' | 'duplicates' | 'baseline' | 'ignored' | 'ignoredByReason'>,
): void {
  const source = { source: sourceKind };
  metrics.linesIngested.inc(source, r.lines);
  if (r.quarantined) metrics.linesQuarantined.inc(source, r.quarantined);
  // outcomes are disjoint (a sum over them counts each row once): IngestResult.baseline and .ignored are parts of .accepted
  const applied = r.accepted - r.baseline - r.ignored;
  if (applied > 0) metrics.rowsIngested.inc({ source: sourceKind, outcome: 'accepted' }, applied);
  for (const reason of IGNORED_REASONS) if (r.ignoredByReason[reason]) metrics.rowsIgnored.inc({ source: sourceKind, reason }, r.ignoredByReason[reason]);
  if (r.duplicates) metrics.rowsIngested.inc({ source: sourceKind, outcome: 'duplicate' }, r.duplicates);
  if (r.baseline) metrics.rowsIngested.inc({ source: sourceKind, outcome: 'baseline' }, r.baseline);
}
