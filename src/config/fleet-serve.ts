import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { z } from 'zod';

/**
 * `outflow fleet serve` settings: HTTP API, detection sinks and the job schedule (SPEC §5).
 * Kept apart from fleet.ts (ingest, store, rules) so each part stays readable; all live under `fleet:`.
 */

const MiB = 1024 * 1024;

const path = z.string().min(1);

/**
 * Longest delay Node's timers take (2^31 − 1 ms, about 24.8 days): a longer one fires after 1 ms instead, so a
 * poll interval or backoff past it became a busy loop, and a webhook `timeout_ms` past it aborted every delivery at
 * once. (`fleet.http.request_timeout_ms` is no timer of ours: node's HTTP server compares it with the time a request
 * has taken.)
 */
export const MAX_TIMER_MS = 2_147_483_647;
const timerMs = z.number().int().positive().max(MAX_TIMER_MS, `at most ${MAX_TIMER_MS} (about 24.8 days): a longer timer fires after 1 ms in Node`);

/** `p` with every link on the way resolved, as far as it exists (the rest as written): one directory, one name. */
function canonicalPath(p: string): string {
  const abs = resolvePath(p);
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(canonicalPath(parent), basename(abs));
  }
}

export const HttpConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Bind address. Loopback by default: exposing the API is a deliberate choice. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port (logged at start-up). */
    port: z.number().int().min(0).max(65535).default(8088),
    /**
     * Bearer token required on every route except /healthz. Prefer `token_file` (or the
     * OUTFLOW_HTTP_TOKEN environment variable, which wins over either) to keep it out of the config.
     * Set one of `token` and `token_file`, not both.
     */
    token: z.string().min(16, 'use at least 16 characters').optional(),
    token_file: path.optional(),
    /** Largest accepted request body in bytes; larger bodies get 413 before they are read. */
    body_limit: z.number().int().positive().default(16 * MiB),
    /**
     * Most result lines per request (NDJSON lines, webhook details, Kafka records); more get 413 before any is
     * ingested. A request is ingested in one go, so a body of millions of tiny lines held the process for
     * minutes; 100 000 is several times what a body_limit of real ~600-byte lines holds.
     */
    max_lines: z.number().int().positive().default(100_000),
    /**
     * Bytes of POST /v1/ingest bodies being read or ingested at once (each counted by its Content-Length, or as
     * body_limit without one). A request that would go past it gets 503 + Retry-After before its body is read;
     * one request is always let in when none is in flight. Each in-flight body is held with its parsed batch
     * (~3× its size) until the store commits it, so a stalled store costs at most ~3× this, not unbounded memory.
     * Counted in bytes, not requests: Fleet's webhook sends one small request per osquery batch, many at once,
     * and does not retry a refused one.
     */
    max_ingest_bytes_in_flight: z.number().int().positive().default(64 * 1024 * 1024),
    /** /metrics needs the token too unless this is false (e.g. a scraper on a trusted network). */
    metrics_require_token: z.boolean().default(true),
    /** PEM files; both or neither. Without them the API speaks plain HTTP. */
    tls: z.object({ cert: path, key: path }).strict().optional(),
    /** Per-request time limit (ms) so a stalled client cannot hold a batch open. */
    request_timeout_ms: z.number().int().positive().default(60_000),
  })
  .strict()
  // as webhook sinks refuse secret with secret_file: the file would win silently, and the token in the config is not the one in use
  .refine((h) => h.token === undefined || h.token_file === undefined, { message: 'set one of token or token_file, not both (the file would be used and token ignored)', path: ['token'] })
  .prefault({});

export type HttpConfig = z.infer<typeof HttpConfigSchema>;

const SinkFormat = z.enum(['json', 'ocsf']).default('json');

export const StdoutSinkConfigSchema = z.object({ type: z.literal('stdout'), format: SinkFormat }).strict();

export const FileSinkConfigSchema = z.object({ type: z.literal('file'), path, format: SinkFormat }).strict();

/** Headers the webhook sink sets itself (fleet/sinks/webhook.ts): a configured one would be overridden. */
const OUTFLOW_WEBHOOK_HEADERS = new Set(['content-type', 'user-agent', 'x-outflow-delivery', 'x-outflow-signature']);
/** Headers Node's fetch (undici) refuses on every request, or that would contradict the body it frames itself. */
const TRANSPORT_HEADERS = new Set(['connection', 'content-length', 'expect', 'keep-alive', 'transfer-encoding', 'upgrade']);

export const WebhookSinkConfigSchema = z
  .object({
    type: z.literal('webhook'),
    // fetch refuses a URL with credentials (every delivery then failed, retried forever, logging the password)
    url: z.url({ protocol: /^https?$/ }).refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), {
      message: 'a webhook URL cannot carry credentials (user:password@); send them as a header, e.g. headers: {Authorization: "Basic …"}',
    }),
    /** HMAC-SHA256 key for X-Outflow-Signature (or `secret_file`). */
    secret: z.string().min(16, 'use at least 16 characters').optional(),
    secret_file: path.optional(),
    format: SinkFormat,
    /** Undelivered batches wait here, one file each, across receiver outages and restarts. */
    spool_dir: path.default('./outflow-spool'),
    timeout_ms: timerMs.default(10_000),
    backoff: z
      .object({
        initial_ms: timerMs.default(1000),
        max_ms: timerMs.default(5 * 60_000),
        factor: z.number().min(1).default(2),
      })
      .strict()
      // every delay is capped at max_ms: an initial_ms above it would be ignored without a word
      .refine((b) => b.initial_ms <= b.max_ms, { message: 'backoff.initial_ms must be at most backoff.max_ms (every retry waits at most max_ms): lower initial_ms or raise max_ms', path: ['initial_ms'] })
      .prefault({}),
    batch_size: z.number().int().positive().max(10_000).default(500),
    max_spool_bytes: z.number().int().positive().default(256 * MiB),
    /**
     * Extra headers for the receiver (e.g. its own Authorization); never logged. Checked here: a value HTTP cannot
     * carry (a non-Latin-1 character, CR/LF) failed every delivery of the batch, which was retried for ever.
     */
    headers: z
      .record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name'),
        z.string().refine((v) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v), 'an HTTP header value must be Latin-1 text without control characters (no CR/LF, no "…")'),
      )
      .refine((h) => !Object.keys(h).some((k) => OUTFLOW_WEBHOOK_HEADERS.has(k.toLowerCase())), `${[...OUTFLOW_WEBHOOK_HEADERS].join(', ')} are set by Outflow`)
      .refine((h) => !Object.keys(h).some((k) => TRANSPORT_HEADERS.has(k.toLowerCase())), `${[...TRANSPORT_HEADERS].join(', ')} are set by the HTTP client (fetch refuses them)`)
      .default({}),
  })
  .strict()
  .refine((w) => Boolean(w.secret) !== Boolean(w.secret_file), { message: 'set exactly one of secret or secret_file', path: ['secret'] });

export const SinkConfigSchema = z.discriminatedUnion('type', [StdoutSinkConfigSchema, FileSinkConfigSchema, WebhookSinkConfigSchema]);
export type SinkConfig = z.infer<typeof SinkConfigSchema>;
export type WebhookSinkConfig = z.infer<typeof WebhookSinkConfigSchema>;

const jobShape = (cron: string) => ({
  enabled: z.boolean().default(true),
  /** node-cron expression; a sixth leading field is seconds. */
  cron: z.string().min(1).default(cron),
});

const job = (cron: string) => z.object(jobShape(cron)).strict().prefault({});

/** fleet.scheduler.rollup.slice_rows by default (fleet/rules/maintenance.ts rollup). */
export const ROLLUP_SLICE_ROWS = 2000;

export const SchedulerConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** IANA zone for cron fields (rollup/retention times of day). */
    timezone: z
      .string()
      .refine(
        (tz) => {
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        },
        { message: 'not an IANA time zone (e.g. UTC, Europe/Paris)' },
      )
      .default('UTC'),
    finalize: job('* * * * *'),
    rollup: z
      .object({
        ...jobShape('7 * * * *'),
        /**
         * Most host rows one rollup transaction folds into day sketches or deletes (each key counts one more; a key is
         * never split). The rollup holds the store alone while a transaction runs, so every instance's ingest waits
         * for it: this bounds that wait (about 0.1 s on PostgreSQL), however much a backfill left to compact.
         */
        slice_rows: z.number().int().positive().default(ROLLUP_SLICE_ROWS),
      })
      .strict()
      .prefault({}),
    retention: job('17 3 * * *'),
  })
  .strict()
  .prefault({});

export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;

/** The keys this file adds under `fleet:`. */
export const fleetServeConfigShape = {
  http: HttpConfigSchema,
  /** Where finalized detections go. Default: JSON lines on stdout. */
  sinks: z
    .array(SinkConfigSchema)
    .default([{ type: 'stdout', format: 'json' }])
    .superRefine((sinks, ctx) => {
      // A spool holds one file per undelivered batch, numbered from 1 by its sink: two sinks in one directory
      // would send each other's batches (to the other receiver, signed with their own secret) and lose their own.
      const owner = new Map<string, number>();
      sinks.forEach((s, i) => {
        if (s.type !== 'webhook') return;
        const dir = canonicalPath(s.spool_dir);
        const first = owner.get(dir);
        if (first === undefined) owner.set(dir, i);
        else
          ctx.addIssue({
            code: 'custom',
            path: [i, 'spool_dir'],
            message: `webhook sinks ${first} and ${i} share the spool directory ${dir} (the default is ./outflow-spool); set a spool_dir of its own for each webhook sink`,
          });
      });
    }),
  scheduler: SchedulerConfigSchema,
};
