/**
 * The aggregator's HTTP API (SPEC §5), on fastify. Thin: it authenticates, validates, calls the
 * ingest service or the store, and translates errors into status codes:
 *   400 invalid query/body (with the zod issues) · 401 missing/wrong bearer token · 404 unknown route
 *   413 body over fleet.http.body_limit (refused before it is read; for gzip bodies, also once inflated)
 *   415 content-encoding other than identity/gzip · 503 store unavailable (retry)
 *
 * Routes:
 *   POST /v1/ingest                         NDJSON | Fleet webhook | Kafka REST (see ingest-body.ts), plain or gzip
 *   GET  /v1/detections?since=&analytic=&host=&limit=&format=json|ocsf (the newest `limit`, oldest first)
 *   GET  /v1/prevalence/destinations/:key?hosts=N  (the rest of the path: a key, server name or URL)
 *   GET  /v1/prevalence/apps/:identity?hosts=N   (the rest of the path: team:ABC/com.example.app, or its '/' as %2F)
 *   GET  /v1/hosts/status?problems=true&state=&component=&since=&limit=  hosts' latest collector health, worst first
 *   GET  /healthz                            no token: liveness and store reachability
 *   GET  /metrics                            Prometheus text; token unless http.metrics_require_token is false
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { prevalenceWindow } from '../../src/analytics/prevalence.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import type { HttpConfig } from '../../src/config/fleet-serve.js';
import { InputError, OutflowError, StoreError, coerceError, zodIssues } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { ANALYTIC_IDS, MAX_KEY_TEXT } from '../../src/schemas/egress-candidate.js';
import { STATUS_COMPONENTS, STATUS_STATES } from '../../src/schemas/outflow-status.js';
import { cutText } from '../../src/strings.js';
import { VERSION } from '../../src/version.js';
import { parseSince, sinceAnchor, SinceError } from '../cli/format.js';
import type { IngestService } from '../ingest/ingest-service.js';
import { PROMETHEUS_CONTENT_TYPE, type FleetMetrics } from '../metrics.js';
import { toOcsf } from '../sinks/ocsf.js';
import { eventPresent, listNewestDetections, type Store } from '../store/store.js';
import { bearerMatches } from './auth.js';
import { STATUS_FRESH_SECONDS, STATUS_GAUGE_REFRESH_MS, statusAnswer } from './host-status.js';
import { decodeIngestBody, TooManyLinesError } from './ingest-body.js';
import { MAX_ENVELOPE_TEXT } from '../ingest/parse-result-log.js';
import { appPrevalence, destinationPrevalence } from './prevalence.js';


export interface ApiDeps {
  store: Store;
  ingest: IngestService;
  analytics: AnalyticsConfig;
  http: HttpConfig;
  /** Resolved bearer token (auth.ts resolveApiToken). */
  token: string;
  metrics: FleetMetrics;
  log: Logger;
  /** Wall-clock unix seconds (a duration `since` counts back from no later than this; see sinceAnchor). */
  now?: () => number;
  /** fleet.http.tls as readTls read it at start-up (before the store opened), or null without TLS. */
  tls: TlsFiles | null;
  /** fleet.ingest.shared_suffixes: a destination lookup keys a name as ingest did (destinationLookupKey). */
  sharedSuffixes?: readonly string[];
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** fleet.http.tls's PEM files, or null without TLS; a file that cannot be read is a config error naming its key. */
export function readTls(http: HttpConfig): TlsFiles | null {
  if (!http.tls) return null;
  const read = (key: 'cert' | 'key') => {
    const file = http.tls![key];
    try {
      return readFileSync(file);
    } catch (err) {
      throw new OutflowError('CONFIG_INVALID', `cannot read fleet.http.tls.${key} ${file}`, 'check the path and that the service user can read it', { cause: err });
    }
  };
  return { cert: read('cert'), key: read('key') };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without the bearer token. */
    public?: boolean;
  }
}

/** An ingest request's share of fleet.http.max_ingest_bytes_in_flight, from its headers to its answer. */
interface IngestSlot {
  /** The handler took the request over: it releases the slot when it is done. */
  inHandler: boolean;
  release: () => void;
  /** Count the body by what it inflated to; false (nothing changed) when that does not fit beside the others. */
  grow: (to: number) => boolean;
}

/** Bytes of detections one GET /v1/detections answer holds at most; older matches beyond it make `truncated` true. */
export const MAX_DETECTIONS_ANSWER_BYTES = 32 * 1024 * 1024;

/** No stored host, key or identity holds a NUL (ingest refuses them), and PostgreSQL text cannot: a 400, not a store error. */
const noNul = z.string().min(1).refine((v) => !v.includes('\u0000'), { message: 'must not contain a NUL character' });

const DetectionsQuerySchema = z
  .object({
    since: z.string().min(1).optional(),
    analytic: z
      .string()
      .transform((s) => s.toUpperCase())
      .pipe(z.enum(ANALYTIC_IDS))
      .optional(),
    // a host id or hostname as long as ingest keeps them, so every stored host can be asked for
    host: noNul.max(MAX_ENVELOPE_TEXT).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
    format: z.enum(['json', 'ocsf']).default('json'),
  })
  .strict();

const HostStatusQuerySchema = z
  .object({
    // as long as ingest keeps them (MAX_KEY_TEXT), so every stored value can be asked for
    state: noNul.max(MAX_KEY_TEXT).optional(),
    component: noNul.max(MAX_KEY_TEXT).optional(),
    problems: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').default(false),
    since: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict();

const PrevalenceQuerySchema = z.object({ hosts: z.coerce.number().int().min(0).max(1000).default(20) }).strict();
const MAX_PARAM_LENGTH = 1024;
const KeyParamsSchema = z.object({ key: noNul.max(MAX_PARAM_LENGTH) });
const IdentityParamsSchema = z.object({ identity: noNul.max(MAX_PARAM_LENGTH) });

/** What a `…/*` route matched (decoded), held to the length routerOptions.maxParamLength holds a `:param` to. */
function restOfPath(req: FastifyRequest): string {
  const rest = (req.params as Record<string, string | undefined>)['*'] ?? '';
  if (rest.length > MAX_PARAM_LENGTH) throw Object.assign(new Error('path parameter too long'), { statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH' });
  return rest;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new InputError(`invalid ${what}`, zodIssues(r.error.issues));
  return r.data;
}

/** Unknown query parameters named in a prevalence route's 400, and how much of each name. */
const SHOWN_UNKNOWN_PARAMS = 5;
const SHOWN_PARAM_NAME = 64;

/**
 * The query of a prevalence route, whose key or identity is the rest of the path. A pasted URL sent unencoded is
 * cut at its `?` (and a client never sends its `#…`): its own query arrives as this route's. That is refused,
 * naming the parameters and how to send the URL, rather than dropped or taken: its `hosts=` would be read as ours.
 */
function prevalenceQuery(query: unknown, what: 'destination' | 'app identity'): z.infer<typeof PrevalenceQuerySchema> {
  const r = PrevalenceQuerySchema.safeParse(query ?? {});
  if (r.success) return r.data;
  let unknown = false;
  const issues = r.error.issues.flatMap((i) => {
    if (i.code !== 'unrecognized_keys') return zodIssues([i]);
    unknown = true;
    const named = i.keys.slice(0, SHOWN_UNKNOWN_PARAMS).map((k) => ({ path: cutText(k, SHOWN_PARAM_NAME), message: 'unknown query parameter (this route takes only hosts)' }));
    const more = i.keys.length - named.length;
    return more > 0 ? [...named, { path: '', message: `and ${more} more unknown query parameters` }] : named;
  });
  if (!unknown) throw new InputError('invalid query', issues);
  const path = what === 'destination' ? 'destinations/<encodeURIComponent(key or URL)>' : 'apps/<encodeURIComponent(identity)>';
  throw new InputError(
    `invalid query (${what === 'destination' ? 'a destination' : 'an app identity'} holding "?" or "#", such as a pasted URL, must be URL-encoded in the path with encodeURIComponent: unencoded, what follows its "?" is read as this request's query)`,
    issues,
    `send GET /v1/prevalence/${path}?hosts=N`,
  );
}

function errorBody(code: string, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { error: message, code, ...extra };
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const { store, http, metrics } = deps;
  const log = deps.log.child({ component: 'http' });
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));

  const app = Fastify({
    loggerInstance: log,
    // per-request lines at info would flood the log at ingest rates; onResponse logs them at debug
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: http.body_limit,
    requestTimeout: http.request_timeout_ms,
    // identities such as team:ABC/com.example carry a `/`: clients encode it, we must not re-split on it
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // a malformed URL (bad percent-encoding, a parameter over maxParamLength) answers in our error shape, not echoed
    frameworkErrors: (err, _req, reply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      void (reply as unknown as FastifyReply).code(status).send(errorBody(err.code ?? 'BAD_REQUEST', status === 414 ? 'path parameter too long' : 'malformed URL'));
    },
    ...(deps.tls ? { https: deps.tls } : {}),
  }) as unknown as FastifyInstance;

  // Ingest bodies come in several content types (application/json, application/x-ndjson, Kafka's
  // vnd.kafka.json.v1+json, text/plain, none); all are read as bytes within bodyLimit and decoded here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  /** Body bytes of in-flight POST /v1/ingest requests (fleet.http.max_ingest_bytes_in_flight): from the headers to the answer. */
  let ingestInFlight = 0;
  const ingestSlots = new WeakMap<FastifyRequest, IngestSlot>();
  /** Past the in-flight bound: the sender waits and retries, this process does not hold another body. */
  const busy = (reply: FastifyReply) => {
    metrics.ingestRequests.inc({ shape: 'unknown', status: '503' });
    return reply
      .code(503)
      .header('retry-after', '1')
      .send(errorBody('BUSY', `${ingestInFlight} bytes of ingest requests are in progress (fleet.http.max_ingest_bytes_in_flight); retry later`));
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.routeOptions.config?.public) return;
    if (req.routeOptions.url === '/metrics' && !http.metrics_require_token) return;
    if (!bearerMatches(deps.token, req.headers.authorization)) {
      // connection: close, so a client without the token cannot keep the socket by trickling the body it declared
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="outflow"')
        .header('connection', 'close')
        .send(errorBody('AUTH_REQUIRED', req.headers.authorization ? 'invalid bearer token' : 'bearer token required'));
      return reply;
    }
    if (req.method !== 'POST' || req.routeOptions.url !== '/v1/ingest') return;
    const declared = Number(req.headers['content-length']);
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, http.body_limit) : http.body_limit;
    if (ingestInFlight > 0 && ingestInFlight + bytes > http.max_ingest_bytes_in_flight) {
      // before the body is read, so the connection cannot be reused
      void busy(reply.header('connection', 'close'));
      return reply;
    }
    ingestInFlight += bytes;
    let released = false;
    let held = bytes;
    const slot: IngestSlot = {
      inHandler: false,
      release: () => {
        if (!released) {
          released = true;
          ingestInFlight -= held;
        }
      },
      grow: (to: number): boolean => {
        if (released || to <= held) return true;
        const others = ingestInFlight - held;
        if (others > 0 && others + to > http.max_ingest_bytes_in_flight) return false;
        ingestInFlight += to - held;
        held = to;
        return true;
      },
    };
    ingestSlots.set(req, slot);
    // answered (or abandoned) before the handler took it over: 413, 400, an aborted upload
    reply.raw.once('close', () => {
      if (!slot.inHandler) slot.release();
    });
  });

  app.addHook('onResponse', async (req, reply) => {
    log.debug({ method: req.method, url: req.routeOptions.url ?? req.url, status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (req.routeOptions.url === '/v1/ingest') metrics.ingestRequests.inc({ shape: 'unknown', status: String(statusFor(err)) });
    const status = statusFor(err);
    if (err instanceof InputError) return reply.code(400).send(errorBody(err.code, err.message, { issues: err.issues, hint: err.hint }));
    if (status === 413) void reply.header('connection', 'close');
    if (err instanceof TooManyLinesError) {
      return reply.code(413).send(errorBody('TOO_MANY_LINES', err.message, { hint: 'split the batch (nothing of it was ingested) or raise fleet.http.max_lines' }));
    }
    if (status === 413) return reply.code(413).send(errorBody('BODY_TOO_LARGE', `request body exceeds ${http.body_limit} bytes`, { hint: 'split the batch or raise fleet.http.body_limit' }));
    if (err instanceof StoreError) {
      log.error({ err }, 'store unavailable');
      return reply.code(503).header('retry-after', '5').send(errorBody(err.code, 'store unavailable; retry later'));
    }
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody(err.code ?? 'BAD_REQUEST', err.message));
    log.error({ err: coerceError(err), url: req.url }, 'request failed');
    return reply.code(500).send(errorBody('INTERNAL', 'internal error'));
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));

  app.post('/v1/ingest', async (req, reply) => {
    const slot = ingestSlots.get(req);
    if (slot) slot.inHandler = true;
    try {
      return await ingest(req, reply);
    } finally {
      slot?.release();
    }
  });

  async function ingest(req: FastifyRequest, reply: FastifyReply) {
    const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    let body = req.body as Buffer | undefined;
    if (encoding === 'gzip' || encoding === 'x-gzip') {
      try {
        // the cap applies to the inflated size too, so a small bomb cannot expand past it
        body = gunzipSync(body ?? Buffer.alloc(0), { maxOutputLength: http.body_limit });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') throw Object.assign(new Error('inflated body too large'), { statusCode: 413 });
        throw new InputError('body is not valid gzip', [{ path: '', message: coerceError(err).message }]);
      }
      // what is held until the store commits is the inflated body (and its parsed batch), not what was sent
      const slot = ingestSlots.get(req);
      if (slot && !slot.grow(body.length)) return busy(reply);
    } else if (encoding !== 'identity') {
      metrics.ingestRequests.inc({ shape: 'unknown', status: '415' });
      return reply.code(415).send(errorBody('UNSUPPORTED_ENCODING', `content-encoding ${encoding} is not supported`, { hint: 'send the body uncompressed or gzip-compressed' }));
    }
    const decoded = decodeIngestBody(body, http.max_lines);
    const result = await deps.ingest.ingestLines(decoded.lines, { kind: 'http', id: `${decoded.shape}@${req.ip}`, durable: true });
    metrics.ingestRequests.inc({ shape: decoded.shape, status: '200' });
    return {
      shape: decoded.shape,
      lines: result.lines,
      rows: result.rows,
      accepted: result.accepted,
      duplicates: result.duplicates,
      baseline: result.baseline,
      quarantined: result.quarantined,
      // part of `accepted` that was only host activity; `ignored_queries` names the rows of queries that are not Outflow's
      ignored: result.ignored,
      ignored_by_reason: result.ignoredByReason,
      ignored_queries: result.ignoredQueries,
      candidates: result.candidates,
    };
  }

  /** A `since` query value as event time (a duration counts back from the newest event or now, whichever is earlier). */
  async function sinceOf(value: string): Promise<number> {
    const { newest } = await store.clock.get();
    try {
      // A '+' of a UTC offset sent unencoded (curl '…?since=2026-03-09T14:30:00+01:00') arrives as a space: after a
      // time of day, a space and hh:mm can only be that '+'.
      return parseSince(value.replace(/(\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}(?::?\d{2})?)$/, '$1+$2'), sinceAnchor(newest, now()));
    } catch (err) {
      if (!(err instanceof SinceError)) throw err;
      throw new InputError('invalid query', [{ path: 'since', message: `${value} ${err.reason} (${err.hint})` }]);
    }
  }

  app.get('/v1/detections', async (req) => {
    const q = parse(DetectionsQuerySchema, req.query, 'query');
    const since = q.since === undefined ? undefined : await sinceOf(q.since);
    const listed = await listNewestDetections(store.detections, { since, analytic: q.analytic, host: q.host, limit: q.limit });
    const rendered: unknown[] = q.format === 'ocsf' ? listed.detections.map((d) => toOcsf(d)) : listed.detections;
    // `limit` bounds rows, not bytes: keep the newest that fit MAX_DETECTIONS_ANSWER_BYTES (at least one)
    let bytes = 0;
    let from = rendered.length;
    while (from > 0) {
      bytes += Buffer.byteLength(JSON.stringify(rendered[from - 1])) + 1;
      if (bytes > MAX_DETECTIONS_ANSWER_BYTES && from < rendered.length) break;
      from--;
    }
    const detections = from === 0 ? rendered : rendered.slice(from);
    return { count: detections.length, truncated: listed.truncated || from > 0, format: q.format, detections };
  });

  // Wildcards, not `:param`s: every team identity holds a '/' (team:ABCDE12345/com.example.app), and so does a
  // pasted URL; a client that does not percent-encode it (%2F, which works too) reached no route.
  app.get('/v1/prevalence/destinations/*', async (req) => {
    const { key } = parse(KeyParamsSchema, { key: restOfPath(req) }, 'path');
    const q = prevalenceQuery(req.query, 'destination');
    return destinationPrevalence(store, deps.analytics, key, q.hosts, now(), deps.sharedSuffixes);
  });

  app.get('/v1/prevalence/apps/*', async (req) => {
    const { identity } = parse(IdentityParamsSchema, { identity: restOfPath(req) }, 'path');
    const q = prevalenceQuery(req.query, 'app identity');
    return appPrevalence(store, deps.analytics, identity, q.hosts, now());
  });

  // Hosts whose collectors need an operator (host-status.ts): GET /v1/hosts/status?problems=true
  app.get('/v1/hosts/status', async (req) => {
    const q = parse(HostStatusQuerySchema, req.query, 'query');
    const since = q.since === undefined ? undefined : await sinceOf(q.since);
    const { rows, truncated } = await store.hosts.findStatus({ state: q.state, component: q.component, problems: q.problems, since, limit: q.limit });
    return { count: rows.length, truncated, statuses: rows.map(statusAnswer) };
  });

  app.get('/healthz', { config: { public: true } }, async (_req, reply) => {
    try {
      await store.ping();
      return { status: 'ok', version: VERSION, store: store.backend };
    } catch (err) {
      log.warn({ err: coerceError(err) }, 'health check: store unreachable');
      return reply.code(503).send({ status: 'unavailable', version: VERSION, store: store.backend, error: 'store unreachable' });
    }
  });

  let statusGaugeAt: number | undefined;
  app.get('/metrics', async (_req, reply) => {
    try {
      const byAnalytic = await store.detections.countByAnalytic();
      for (const id of ANALYTIC_IDS) metrics.detectionsStored.set({ analytic: id }, byAnalytic[id] ?? 0);
      metrics.candidatesPending.set({}, await store.candidates.countPending());
      const newest = eventPresent((await store.clock.get()).newest, now());
      if (newest !== null) {
        metrics.activeHosts.set({ window: 'prevalence' }, await store.hosts.activeCount(prevalenceWindow(newest, deps.analytics)));
        metrics.activeHosts.set({ window: '1h' }, await store.hosts.activeCount({ from: newest - 3600, to: newest }));
        // a scan of every host's status rows (210 ms at 100 000 hosts × 8 components): at most once a minute, as the
        // snapshots it counts come hourly
        if (statusGaugeAt === undefined || performance.now() - statusGaugeAt >= STATUS_GAUGE_REFRESH_MS) {
          // names this version's extension does not use are counted as "other" (a host cannot make series of its own)
          const counts = await store.hosts.statusCounts(newest - STATUS_FRESH_SECONDS, { components: STATUS_COMPONENTS, states: STATUS_STATES });
          metrics.hostStatus.replace(counts.map((c) => ({ labels: { component: c.component, state: c.state }, value: c.hosts })));
          statusGaugeAt = performance.now();
        }
      }
    } catch (err) {
      // a scrape still reports the process counters when the store is down
      log.warn({ err: coerceError(err) }, 'metrics: store gauges not refreshed');
    }
    return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(metrics.registry.render());
  });

  return app;
}

function statusFor(err: Error & { statusCode?: number; code?: string }): number {
  if (err instanceof InputError) return 400;
  if (err instanceof StoreError) return 503;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) return 413;
  if (err instanceof OutflowError) return 500;
  return typeof err.statusCode === 'number' ? err.statusCode : 500;
}
