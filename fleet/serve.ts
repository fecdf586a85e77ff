/**
 * `outflow fleet serve --config FILE`: the aggregator's composition root.
 *
 *   config → logger → store → ingest service (+ metrics) → sinks → scheduler → sources → HTTP API
 *
 * Sources: tailed result-log files (fleet.ingest.files), stdin (fleet.ingest.stdin), NATS JetStream
 * (fleet.nats) and HTTP POST /v1/ingest. Everything runs in one process until SIGTERM/SIGINT, then shuts
 * down in the order that loses nothing:
 *   1. the API stops accepting connections and finishes the requests in flight (each one's batch commits);
 *   2. sources stop pulling and finish their current batch (file offsets and NATS acks commit with it);
 *   3. cron stops and the job in progress finishes;
 *   4. sinks close (the webhook finishes its current POST; undelivered batches stay in its spool);
 *   5. the store closes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, type Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../src/clock.js';
import { loadConfig, type OutflowConfig } from '../src/config/index.js';
import { OutflowError, StoreError, coerceError } from '../src/errors.js';
import { createLogger, type Logger } from '../src/log.js';
import { apiTokenSource, resolveApiToken } from './api/auth.js';
import { buildApi, readTls } from './api/server.js';
import { ingestFile, statErrorCode } from './ingest/file-source.js';
import { createIngestService, type IngestService } from './ingest/ingest-service.js';
import type { NatsSource } from './ingest/nats-source.js';
import { ingestStream } from './ingest/stream-source.js';
import { createFleetMetrics, recordIngest, type FleetMetrics } from './metrics.js';
import { Scheduler } from './scheduler/scheduler.js';
import { scheduledJobs, type JobDeps } from './scheduler/jobs.js';
import { SinkSet, createSinks } from './sinks/index.js';
import { prepareSinkCursors } from './sinks/outbox.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';

export interface ServeOptions {
  config?: string;
  /** Overrides fleet.store. */
  store?: string;
  verbose?: boolean;
  /** Create the JetStream stream if missing (overrides fleet.nats.create_stream). */
  natsCreateStream?: boolean;
}

export interface StartServeOptions extends ServeOptions {
  /** Already-loaded config (tests); otherwise read from `config`. */
  loaded?: OutflowConfig;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Where a `stdout` sink writes. */
  stdout?: Writable;
  clock?: Clock;
}

export interface RunningServe {
  /** `http://127.0.0.1:PORT` (or https) when the API is enabled. */
  url: string | null;
  port: number | null;
  store: Store;
  metrics: FleetMetrics;
  scheduler: Scheduler<JobDeps> | null;
  /** Orderly shutdown (idempotent). */
  stop(reason?: string): Promise<void>;
}

/** Every ingest call, whatever the source, updates the line/row counters. */
function instrument(ingest: IngestService, metrics: FleetMetrics): IngestService {
  return {
    async ingestLines(lines, source) {
      const r = await ingest.ingestLines(lines, source);
      recordIngest(metrics, source.kind, r);
      return r;
    },
    totals: () => ingest.totals(),
  };
}

/** Keep a followed file source alive: a missing file or a failing store is retried with back-off. */
async function superviseFile(file: string, ingest: IngestService, store: Store, config: OutflowConfig, log: Logger, signal: AbortSignal): Promise<void> {
  let failures = 0;
  let waiting = false;
  while (!signal.aborted) {
    // osquery creates its result log with its first result: a file not there yet is waited for, not an error
    // (any other stat error, such as EACCES on its directory, goes on to ingestFile, which reports it)
    if (statErrorCode(file) === 'ENOENT') {
      if (!waiting) log.warn({ file }, 'tailed file is not there yet; waiting for it to appear');
      waiting = true;
      try {
        await sleep(config.fleet.ingest.poll_interval_ms, undefined, { signal });
      } catch {
        return;
      }
      continue;
    }
    if (waiting) log.info({ file }, 'tailed file appeared');
    waiting = false;
    try {
      await ingestFile(file, {
        ingest,
        store,
        follow: true,
        pollIntervalMs: config.fleet.ingest.poll_interval_ms,
        maxLineBytes: config.fleet.ingest.max_line_bytes,
        signal,
        log,
      });
      failures = 0;
    } catch (err) {
      failures += 1;
      const delay = Math.min(30_000, config.fleet.ingest.poll_interval_ms * 2 ** Math.min(failures, 8));
      log.error({ file, err: coerceError(err), retry_in_ms: delay }, 'file source failed; will retry');
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return;
      }
    }
  }
}

/**
 * The ingest service as the stdin source uses it: stdin cannot be read again, so a batch the store could not commit
 * (busy, restarting) is retried with back-off, as the file and NATS sources retry theirs, rather than ending the
 * source and losing the batch. Once shutdown has begun, it gives up after three more attempts.
 */
function retryingIngest(ingest: IngestService, log: Logger, signal: AbortSignal): IngestService {
  return {
    async ingestLines(lines, source) {
      const held = Array.isArray(lines) ? lines : [...lines];
      // counted apart: a batch that had failed often before shutdown still gets its last few attempts
      let failuresInShutdown = 0;
      for (let failures = 1; ; failures++) {
        try {
          return await ingest.ingestLines(held, source);
        } catch (err) {
          if (signal.aborted) failuresInShutdown++;
          if (!(err instanceof StoreError) || failuresInShutdown >= 3) throw err;
          const delay = signal.aborted ? 500 : Math.min(30_000, 200 * 2 ** Math.min(failures, 8));
          log.warn({ err: coerceError(err), attempt: failures, retry_in_ms: delay, lines: held.length }, 'stdin batch not committed; retrying');
          // shutdown ends a long wait at once (the next attempt is then the last but a few): runServe allows 30 s
          if (signal.aborted) await sleep(delay);
          else await sleep(delay, undefined, { signal }).catch(() => undefined);
        }
      }
    },
    totals: () => ingest.totals(),
  };
}

async function startNats(config: OutflowConfig, opts: StartServeOptions, ingest: IngestService, log: Logger, metrics: FleetMetrics): Promise<NatsSource | null> {
  const nats = config.fleet.nats;
  if (!nats) return null;
  const { startNatsIngest } = await import('./ingest/nats-source.js');
  return startNatsIngest({
    config: nats,
    ingest,
    log: log.child({ component: 'nats' }),
    createStream: opts.natsCreateStream,
    name: `outflow-aggregator-${process.pid}`,
    onFailure: (kind) => metrics.natsFailures.inc({ stream: nats.stream, kind }),
  });
}

/** Build and start everything; resolves once the API listens and the sources run. */
export async function startServe(opts: StartServeOptions): Promise<RunningServe> {
  const env = opts.env ?? process.env;
  const config = opts.loaded ?? loadConfig(opts.config, env);
  const fleet = config.fleet;
  const log = opts.log ?? createLogger({ level: opts.verbose ? 'debug' : 'info', name: 'outflow-fleet' });
  const clock = opts.clock ?? systemClock;
  // fail on a missing token before touching the store: a config error should not leave a new db file behind
  const token = fleet.http.enabled ? resolveApiToken(fleet.http, env) : '';
  const tls = fleet.http.enabled ? readTls(fleet.http) : null;
  const tokenFrom = fleet.http.enabled ? apiTokenSource(fleet.http, env) : null;
  const configured = apiTokenSource(fleet.http, {});
  if (tokenFrom === 'OUTFLOW_HTTP_TOKEN' && configured) {
    log.warn({ ignored: configured }, 'the API token comes from OUTFLOW_HTTP_TOKEN; the configured one is ignored');
  }

  const store = await openStore(opts.store ?? fleet.store, { postgres: fleet.postgres, log });
  const cleanup: (() => Promise<void>)[] = [() => store.close()];
  // What went wrong that the exit code must tell (systemd marks the unit failed): a step of the shutdown that failed,
  // or input that was read and can never be read again (stdin) that no batch committed.
  const problems: string[] = [];
  const unwind = async () => {
    for (const c of cleanup.splice(0).reverse()) {
      await c().catch((err: unknown) => {
        const e = coerceError(err);
        problems.push(`a shutdown step failed: ${e.message}`);
        log.error({ err: e }, 'cleanup step failed');
      });
    }
  };

  try {
    const metrics = createFleetMetrics();
    const ingest = instrument(
      createIngestService({
        store,
        analytics: config.analytics,
        quarantineFile: fleet.ingest.quarantine_file || null,
        maxLineBytes: fleet.ingest.max_line_bytes,
        maxQuarantinePerBatch: fleet.ingest.max_quarantine_per_batch,
        maxQuarantineBytesPerBatch: fleet.ingest.max_quarantine_bytes_per_batch,
        sharedSuffixes: fleet.ingest.shared_suffixes,
        clock,
        log: log.child({ component: 'ingest' }),
      }),
      metrics,
    );

    const sinks = new SinkSet(await createSinks(fleet.sinks, { log, metrics, stdout: opts.stdout }), log.child({ component: 'sinks' }));
    cleanup.push(() => sinks.close());
    // A new sink starts at the newest change as of now, not of its first finalize run: detections another
    // process (`outflow fleet ingest` beside this serve) finalizes in between are delivered too — also when
    // the store is too busy to save the cursor now (a read still works; the first finalize run saves it).
    try {
      sinks.startCursor = await store.detections.changeCursor();
    } catch (err) {
      log.warn({ err: coerceError(err) }, 'could not read the newest detection change; new sinks start at their first finalize run');
    }
    await prepareSinkCursors(store, sinks, log.child({ component: 'sinks' }));

    let scheduler: Scheduler<JobDeps> | null = null;
    if (fleet.scheduler.enabled) {
      scheduler = new Scheduler<JobDeps>({
        jobs: scheduledJobs(fleet.scheduler),
        deps: { store, analytics: config.analytics, retention: fleet.retention, rollupSliceRows: fleet.scheduler.rollup.slice_rows, sinks, log: log.child({ component: 'jobs' }), clock, metrics },
        lock: (name, fn) => store.withJobLock(name, fn),
        metrics,
        log,
        clock,
        timezone: fleet.scheduler.timezone,
      });
      const s = scheduler;
      cleanup.push(() => s.stop());
    }

    // sources
    const sourcesAbort = new AbortController();
    const sourceRuns: Promise<unknown>[] = [];
    cleanup.push(async () => {
      sourcesAbort.abort();
      await Promise.allSettled(sourceRuns);
    });
    for (const file of fleet.ingest.files) {
      sourceRuns.push(superviseFile(file, ingest, store, config, log.child({ component: 'file-source' }), sourcesAbort.signal));
    }
    if (fleet.ingest.stdin) {
      // Through a PassThrough so shutdown can end the stream: ingestStream then flushes its last
      // partial batch instead of waiting for an EOF that a live pipe never sends.
      const input = new PassThrough();
      process.stdin.pipe(input);
      sourcesAbort.signal.addEventListener('abort', () => {
        process.stdin.unpipe(input);
        // What node already read from fd 0 and holds (the pipe paused while the source was busy committing, or read
        // since) is lines this source read, that stdin cannot give again: hand it on before the end. Then read no
        // more (a paused stream still reads up to its high-water mark): what is left stays in the pipe, unread.
        for (let chunk: unknown; (chunk = process.stdin.read()) !== null; ) input.write(chunk);
        process.stdin.destroy();
        input.end();
      });
      sourceRuns.push(
        ingestStream(input, {
          ingest: retryingIngest(ingest, log.child({ component: 'stdin' }), sourcesAbort.signal),
          batchLines: fleet.ingest.batch_lines,
          maxLineBytes: fleet.ingest.max_line_bytes,
          // a live pipe: what was read is committed once it goes quiet, not when batch_lines have piled up
          idleFlushMs: fleet.ingest.poll_interval_ms,
        }).then(
          (r) => log.info({ lines: r.lines, accepted: r.accepted, quarantined: r.quarantined }, 'stdin ended'),
          (err: unknown) => {
            problems.push('the stdin source failed: lines it had read were not committed');
            log.error({ err: coerceError(err) }, 'stdin source failed: lines it had read were not committed, and this instance reads stdin no more');
          },
        ),
      );
    }
    const nats = await startNats(config, opts, ingest, log, metrics);
    if (nats) {
      let natsStopping = false;
      // the pull loop retries on its own; ending outside shutdown means this instance stopped consuming
      nats.done.then(
        () => {
          if (!natsStopping) log.error({ source: nats.source, last_error: nats.stats().lastError }, 'NATS input ended; this instance no longer consumes');
        },
        (err: unknown) => {
          if (!natsStopping) log.error({ source: nats.source, err: coerceError(err) }, 'NATS input failed; this instance no longer consumes');
        },
      );
      cleanup.push(() => {
        natsStopping = true;
        return nats.stop();
      });
    }

    let app: FastifyInstance | null = null;
    let url: string | null = null;
    let port: number | null = null;
    if (fleet.http.enabled) {
      app = await buildApi({ store, ingest, analytics: config.analytics, http: fleet.http, token, tls, metrics, log, now: () => clock.unix(), sharedSuffixes: fleet.ingest.shared_suffixes });
      const a = app;
      // closing the API comes first on shutdown (pushed last, unwound first)
      const closeApi = apiCloser(a, fleet.http.request_timeout_ms, log);
      cleanup.push(closeApi);
      try {
        await app.listen({ host: fleet.http.host, port: fleet.http.port });
      } catch (err) {
        const e = coerceError(err) as Error & { code?: string };
        throw new OutflowError(
          'CONFIG_INVALID',
          `cannot listen on ${fleet.http.host}:${fleet.http.port}: ${e.message}`,
          e.code === 'EADDRINUSE' ? 'another process holds the port: change fleet.http.port' : 'check fleet.http.host and fleet.http.port',
          { cause: err },
        );
      }
      const addr = app.server.address();
      port = typeof addr === 'object' && addr ? addr.port : fleet.http.port;
      const host = fleet.http.host.includes(':') ? `[${fleet.http.host}]` : fleet.http.host;
      url = `${fleet.http.tls ? 'https' : 'http'}://${host}:${port}`;
    }

    scheduler?.start();
    if (!url && fleet.ingest.files.length === 0 && !fleet.ingest.stdin && !nats) {
      // Legitimate for an instance that only runs the jobs on a shared store, a mistake anywhere else.
      log.warn(
        { http: false, files: 0, stdin: false, nats: false },
        'no input: this instance ingests nothing (fleet.http.enabled is false and no ingest.files, ingest.stdin or nats is set); fine for a jobs-only instance on a shared PostgreSQL store, otherwise configure an input',
      );
    }
    log.info(
      {
        store: store.location,
        backend: store.backend,
        http: url,
        api_token_from: tokenFrom,
        files: fleet.ingest.files.length,
        stdin: fleet.ingest.stdin,
        nats: Boolean(nats),
        sinks: sinks.sinks.map((s) => s.name),
        jobs: scheduler?.jobNames ?? [],
      },
      'fleet aggregator started',
    );

    let stopping: Promise<void> | null = null;
    return {
      url,
      port,
      store,
      metrics,
      scheduler,
      stop(reason = 'stop') {
        stopping ??= (async () => {
          const started = Date.now();
          log.info({ reason }, 'shutting down: closing the API, finishing batches and jobs');
          await unwind();
          if (problems.length) {
            const hint = 'the errors logged before it name each; stdin lines that were not committed must be sent again';
            log.error({ duration_ms: Date.now() - started, problems, hint }, 'shutdown finished with problems (see the errors above)');
            throw new OutflowError('SHUTDOWN_INCOMPLETE', `shutdown finished with ${problems.length} problem(s): ${problems.join('; ')}`, hint);
          }
          log.info({ duration_ms: Date.now() - started }, 'shutdown complete');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * The longest closing the API waits for the requests in flight before it cuts their connections, whatever
 * `request_timeout_ms` (60 s by default): the rest of the shutdown (sources, the job in progress, sinks, the store)
 * must still fit in SHUTDOWN_LIMIT_MS.
 */
const API_CLOSE_LIMIT_MS = 10_000;

/**
 * What closes the API: new connections are refused, requests in flight are finished. Set up when the API is built,
 * as it must know every socket accepted since: for a TLS server also those whose handshake never completed, which
 * node's HTTP server does not count as connections (closeAllConnections leaves them for the 120 s handshake timeout).
 *
 * - A request in flight is answered with `connection: close`, and a connection that falls idle is closed at once:
 *   left alone, node keeps a keep-alive connection whose request it answered during the close for keepAliveTimeout
 *   (72 s in Fastify), and the close with it.
 * - Node stops enforcing requestTimeout once its server is closing, so a request whose body never comes in (a stalled
 *   or hostile client) would hold the shutdown for ever: past `request_timeout_ms` (at most API_CLOSE_LIMIT_MS) every
 *   connection still open is cut. Its lines were never answered, so the client sends them again; a batch already
 *   being committed still commits (the store closes after it), and dedupe drops what the client sends again.
 */
function apiCloser(app: FastifyInstance, requestTimeoutMs: number, log: Logger): () => Promise<void> {
  const server = app.server;
  const sockets = new Set<Socket>();
  // by the connection they came on, and dropped with it: the answer to a pipelined request still queued behind
  // another one when its connection closes never emits 'close' (node never gave it the socket), and would stay here
  // for the life of the process. Keyed by the request's socket: over TLS, not the one 'connection' named.
  const answering = new Map<Socket, Set<ServerResponse>>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    if (socket.destroyed) return;
    let answers = answering.get(socket);
    if (!answers) {
      const fresh = new Set<ServerResponse>();
      answering.set(socket, fresh);
      socket.once('close', () => answering.delete(socket));
      answers = fresh;
    }
    const own = answers;
    own.add(res);
    res.once('close', () => own.delete(res));
  });
  return async () => {
    for (const answers of answering.values()) for (const res of answers) if (!res.headersSent) res.setHeader('connection', 'close');
    // an answer whose headers had already gone out leaves its connection idle, not closed
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    idle.unref();
    const graceMs = Math.min(requestTimeoutMs, API_CLOSE_LIMIT_MS);
    const timer = setTimeout(() => {
      log.warn({ after_ms: graceMs, connections: sockets.size }, 'shutdown: cutting HTTP connections still open (a request body that never completed, or a TLS handshake)');
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    timer.unref();
    try {
      await app.close();
    } finally {
      clearInterval(idle);
      clearTimeout(timer);
    }
  };
}

/** How long an orderly shutdown may take before the process exits 1 anyway (docs/fleet-serve.md). */
export const SHUTDOWN_LIMIT_MS = 30_000;

/**
 * Waits for `stopping` at most `limitMs`: 0 when it completed, 1 when it failed. Past the limit `onLate` runs (in
 * runServe: exit 1 at once) — returning 1 alone exits nothing while a stalled step (a request whose body never comes
 * in, a sink write that never completes) still holds the event loop.
 */
export async function shutdownWithin(stopping: Promise<void>, limitMs: number, onLate: () => void): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    stopping.then(
      () => 0,
      () => 1,
    ),
    new Promise<'late'>((resolve) => {
      // not unref'd: a step stalled on nothing the event loop waits for (a promise never settled) would otherwise
      // let the process end before the limit, with the exit code of a clean shutdown; cleared once stopping settles
      timer = setTimeout(() => resolve('late'), limitMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== 'late') return outcome;
  onLate();
  return 1;
}

/** Long-running entry for the CLI: runs until SIGTERM/SIGINT, then shuts down; 0 when clean. */
export async function runServe(opts: ServeOptions): Promise<number> {
  const running = await startServe(opts);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (s: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(s);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return shutdownWithin(running.stop(signal), SHUTDOWN_LIMIT_MS, () => {
    process.stderr.write(`outflow fleet: shutdown took longer than ${SHUTDOWN_LIMIT_MS / 1000} s; exiting 1\n`);
    process.exit(1);
  });
}
