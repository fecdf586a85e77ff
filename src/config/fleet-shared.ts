import { z } from 'zod';

/**
 * Settings for running several aggregator instances against one PostgreSQL database with a NATS JetStream
 * input (SPEC §5). Kept apart from fleet.ts so the single-instance keys stay readable; both live under `fleet:`.
 */

/** JetStream names: no whitespace, dots, wildcards or path separators (nats-server rejects them). */
const natsName = z
  .string()
  .min(1)
  .regex(/^[^\s.*>/\\]+$/, 'letters, digits, - and _ only (no dots, spaces or wildcards)');

export const NatsInputConfigSchema = z
  .object({
    /** One URL, a comma list, or a list: `nats://host:4222`. */
    servers: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .default(['nats://127.0.0.1:4222'])
      .transform((v) => (Array.isArray(v) ? v : v.split(',').map((s) => s.trim()).filter(Boolean))),
    /** Stream holding Fleet's result lines. */
    stream: natsName.default('OSQUERY_RESULTS'),
    /**
     * Subjects to consume: Fleet's `nats.result_subject` as configured there. A Fleet subject template such as
     * `results.{log.decorations.hostname}` is turned into the matching wildcard filter (`results.>`).
     */
    subjects: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default(['osquery.result']).transform((v) => (Array.isArray(v) ? v : [v])),
    /** Durable pull consumer shared by every instance: the work is split between whoever pulls. */
    durable: natsName.default('outflow-aggregator'),
    /** Create (or extend the subjects of) the stream at start-up; otherwise it must exist. */
    create_stream: z.boolean().default(false),
    /**
     * A stream created here keeps a message this long (hours), acked or not: the aggregator is its only reader, and
     * an unlimited stream would keep every result line on the NATS server's disk for as long as the fleet runs.
     */
    stream_max_age_hours: z.number().int().positive().max(24 * 365).default(7 * 24),
    /** Messages per fetch; one fetch = one store transaction. */
    batch: z.number().int().positive().max(10_000).default(1000),
    /**
     * How long a fetch waits for a full batch before handing over what it has (ms). At least 1000: nats.js refuses a
     * shorter fetch, and fleet/ingest/nats-source.ts waits 1000 ms for a smaller value.
     */
    fetch_wait_ms: z.number().int().positive().max(60_000).default(1000),
    /** Seconds before an unacknowledged message is redelivered (to another instance if this one died). */
    ack_wait_s: z.number().int().positive().max(3600).default(30),
    /** Optional credentials. */
    user: z.string().optional(),
    pass: z.string().optional(),
    token: z.string().optional(),
  })
  .strict();

export type NatsInputConfig = z.infer<typeof NatsInputConfigSchema>;

export const PostgresConfigSchema = z
  .object({
    /** Connections per instance (ingest batches, scheduler, API), plus up to 4 that hold job locks. Keep instances × (pool_size + 4) under max_connections. */
    pool_size: z.number().int().positive().max(200).default(6),
    /**
     * Abort a statement after this many ms (0 = server default). At most a day: PostgreSQL refuses more than 2^31 − 1,
     * and the client-side bound (this plus a 30 s margin) past Node's timer limit failed every query after 1 ms.
     */
    statement_timeout_ms: z.number().int().nonnegative().max(86_400_000, 'at most 86400000 (a day); 0 leaves it to the server').default(60_000),
    /** Rows per multi-row upsert statement. */
    upsert_chunk: z.number().int().positive().max(50_000).default(2000),
    /**
     * MiB of day sketches (compacted keys' host counts) each instance keeps from its last reads: finalization then
     * fetches only the sketches that changed since, not 4 KiB per common key and day every run. 0 keeps none.
     */
    sketch_cache_mb: z.number().int().nonnegative().max(16_384).default(128),
  })
  .strict()
  .prefault({});

export type PostgresConfig = z.infer<typeof PostgresConfigSchema>;
