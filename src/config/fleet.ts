import { z } from 'zod';
import { MAX_TIMER_MS, fleetServeConfigShape } from './fleet-serve.js';
import { NatsInputConfigSchema, PostgresConfigSchema } from './fleet-shared.js';

/**
 * Fleet aggregator settings (SPEC §5), the `fleet:` key of the one YAML config.
 * This file: store, ingest (files, stdin, quarantine, batching), retention. The serve side (http,
 * sinks, scheduler) and the shared-store side (nats, postgres) are defined by their owners and added
 * to FleetConfigSchema additively.
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
    poll_interval_ms: z
      .number()
      .int()
      .positive()
      .max(MAX_TIMER_MS, `at most ${MAX_TIMER_MS} (about 24.8 days): a longer timer fires after 1 ms in Node, and the file would be polled in a busy loop`)
      .default(1000),
    /**
     * Longest accepted line (bytes); longer lines are quarantined. A file source holds a buffer of this size (plus a
     * chunk) per file: capped where that is still a sane amount of memory (osquery's lines are KiB).
     */
    max_line_bytes: z.number().int().positive().max(256 * MiB, 'at most 268435456 (256 MiB): each tailed file holds a buffer of this size').default(4 * MiB),
    /**
     * Quarantine rows kept per ingest batch; beyond, rejects are counted and summed up in one more row (a
     * few KB of crafted input can otherwise write gigabytes of quarantine).
     */
    max_quarantine_per_batch: z.number().int().positive().default(10_000),
    /**
     * Quarantine bytes kept per ingest batch (the `line` texts, each already capped at 64 KiB); beyond, as past
     * max_quarantine_per_batch. A line of invalid rows each carrying a large column otherwise wrote ~600 MB.
     */
    max_quarantine_bytes_per_batch: z.number().int().positive().default(16 * MiB),
    /**
     * More suffixes under which each name is a party of its own (a tenant, a bucket, a tunnel), added to the built-in
     * list (src/classify/destination.ts): a name under one is its own destination key instead of its registrable
     * domain. `*` stands for one label: `files.example.com`, `*.blob.example.net`.
     */
    shared_suffixes: z
      .array(
        z
          .string()
          .toLowerCase()
          .regex(/^(\*|[a-z0-9_-]+)(\.(\*|[a-z0-9_-]+))+$/, 'a DNS suffix of two labels or more (a label may be *), e.g. files.example.com'),
      )
      .default([]),
  })
  .prefault({});
export type FleetIngestConfig = z.infer<typeof FleetIngestConfigSchema>;

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

export const FleetConfigSchema = z
  .object({
    /** `./outflow.db` (SQLite file, default) or `postgres://…` (shared store). */
    store: z.string().default('./outflow.db'),
    ingest: FleetIngestConfigSchema,
    retention: FleetRetentionConfigSchema,
    ...fleetServeConfigShape,
    /** JetStream input shared by several instances (src/config/fleet-shared.ts); absent = no NATS input. */
    nats: NatsInputConfigSchema.optional(),
    /** PostgreSQL pool/statement settings, used when `store` is a postgres:// URL. */
    postgres: PostgresConfigSchema,
    // http, sinks, scheduler: src/config/fleet-serve.ts; nats and PostgreSQL: src/config/fleet-shared.ts.
    // Unknown keys: parseConfig (src/config/index.ts) rejects them at any depth.
  })
  .prefault({});

export type FleetConfig = z.infer<typeof FleetConfigSchema>;
