import { z } from 'zod';

/**
 * Fleet aggregator settings (SPEC §5), the `fleet:` key of the one YAML config.
 * Sections: store, ingest (files, stdin, quarantine, batching), http (API + POST /v1/ingest),
 * sinks, scheduler, retention, nats. Owners extend their section additively.
 */

const MiB = 1024 * 1024;

export const FleetIngestConfigSchema = z
  .object({
    /** Result-log files to tail in `fleet serve` (osquery filesystem logger / Fleet filesystem destination). */
    files: z.array(z.string().min(1)).default([]),
    /** Read result lines from stdin in `fleet serve`. */
    stdin: z.boolean().default(false),
    /** Malformed lines are appended here (JSON lines: received_at, source, reason, line) and stored. */
    quarantine_file: z.string().default('./outflow-quarantine.ndjson'),
    /** Lines per store transaction (a file source commits its offset with each batch). */
    batch_lines: z.number().int().positive().max(1_000_000).default(5000),
    /** How often a tailed file is checked for growth, rotation and truncation (ms). */
    poll_interval_ms: z.number().int().positive().default(1000),
    /** Longest accepted line (bytes); longer lines are quarantined. */
    max_line_bytes: z.number().int().positive().default(4 * MiB),
  })
  .prefault({});
export type FleetIngestConfig = z.infer<typeof FleetIngestConfigSchema>;

export const FleetHttpConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8787),
    /** Bearer token for every route except /healthz. Prefer token_env to keep it out of the file. */
    token: z.string().min(16, 'use a token of at least 16 characters').optional(),
    /** Name of an environment variable holding the bearer token. */
    token_env: z.string().default('OUTFLOW_FLEET_TOKEN'),
    /** Request body cap in bytes (POST /v1/ingest answers 413 above it). */
    body_limit: z.number().int().positive().default(10 * MiB),
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  })
  .prefault({});
export type FleetHttpConfig = z.infer<typeof FleetHttpConfigSchema>;

const SinkFormatSchema = z.enum(['json', 'ocsf']).default('json');

export const FleetSinkConfigSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stdout'), format: SinkFormatSchema }),
  z.object({ type: z.literal('file'), path: z.string().min(1), format: SinkFormatSchema }),
  z.object({
    type: z.literal('webhook'),
    url: z.string().url(),
    format: SinkFormatSchema,
    /** HMAC-SHA256 key for the X-Outflow-Signature header; or secret_env. */
    secret: z.string().optional(),
    secret_env: z.string().optional(),
    timeout_ms: z.number().int().positive().default(10_000),
    retries: z.number().int().nonnegative().default(5),
    backoff_ms: z.number().int().positive().default(1000),
    max_backoff_ms: z.number().int().positive().default(60_000),
    /** Batches the receiver did not accept wait here until it recovers. */
    spool_dir: z.string().default('./outflow-spool'),
  }),
]);
export type FleetSinkConfig = z.infer<typeof FleetSinkConfigSchema>;

export const FleetSchedulerConfigSchema = z
  .object({
    /** node-cron expressions (seconds field optional). */
    finalize: z.string().default('* * * * *'),
    rollup: z.string().default('0 * * * *'),
    retention: z.string().default('30 3 * * *'),
  })
  .prefault({});

export const FleetRetentionConfigSchema = z
  .object({
    /** Detections and finalized candidates older than this (event time) are deleted. */
    detections_days: z.number().int().positive().default(90),
    /** Quarantined lines older than this (wall clock) are deleted. */
    quarantine_days: z.number().int().positive().default(14),
    /** Result-row digests kept to drop re-deliveries (event-time hours). */
    dedupe_hours: z.number().int().positive().default(48),
  })
  .prefault({});

export const FleetNatsConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    servers: z.array(z.string().min(1)).default(['nats://127.0.0.1:4222']),
    stream: z.string().default('OSQUERY_RESULTS'),
    subject: z.string().default('results.>'),
    durable: z.string().default('outflow-aggregator'),
  })
  .passthrough()
  .prefault({});

export const FleetConfigSchema = z
  .object({
    /** `./outflow.db` (SQLite file, default) or `postgres://…` (shared store). */
    store: z.string().default('./outflow.db'),
    ingest: FleetIngestConfigSchema,
    http: FleetHttpConfigSchema,
    sinks: z.array(FleetSinkConfigSchema).default([{ type: 'stdout', format: 'json' }]),
    scheduler: FleetSchedulerConfigSchema,
    retention: FleetRetentionConfigSchema,
    nats: FleetNatsConfigSchema,
  })
  .passthrough()
  .prefault({});

export type FleetConfig = z.infer<typeof FleetConfigSchema>;
