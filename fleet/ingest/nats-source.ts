/**
 * NATS JetStream input (SPEC §5): Fleet's `nats` result destination publishes one raw osquery result line
 * per message (optionally compressed). Every aggregator instance pulls from ONE durable pull consumer, so
 * the server splits the messages between whoever is alive; a message is acknowledged only after the batch
 * it arrived in has been committed to the store. A crash before the ack means redelivery (to any instance)
 * after `ack_wait`; the batch handler makes that idempotent (startNatsIngest below).
 */
import { gunzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  nanos,
  type Consumer,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { NatsInputConfig } from '../../src/config/fleet-shared.js';
import { OutflowError, coerceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { ResultKey } from '../store/store.js';
import { dedupeDigest, RejectedInput, type IngestSource } from './ingest-service.js';

/** One JetStream message after decoding. */
export interface NatsMessageRecord {
  /** Stream sequence: unique per stream, the idempotency key for redeliveries. */
  seq: number;
  /**
   * When the stream stored the message (ns since the epoch): with the sequence, names the message across
   * redeliveries, and apart from a message of a stream deleted and created again under the same name.
   */
  timestampNanos: number;
  subject: string;
  /** Delivery count > 1: the message was handed out before (crash, nak or ack timeout). */
  redelivered: boolean;
  /** Result lines carried by the message (normally exactly one). */
  lines: string[];
  /** Why the payload could not be decoded; such messages carry no lines and go to quarantine. */
  reject?: string;
  /** Payload prefix for the quarantine record when rejected. */
  rawHead?: string;
}

export interface NatsBatch {
  /** `nats:<stream>/<durable>`: names this input in checkpoints and metrics. */
  source: string;
  stream: string;
  messages: NatsMessageRecord[];
}

/** Commits a batch. Resolve only once it is durable: the messages are acknowledged right after. */
export type NatsBatchHandler = (batch: NatsBatch) => Promise<void>;

export interface NatsSourceStats {
  batches: number;
  messages: number;
  lines: number;
  rejected: number;
  redelivered: number;
  failedBatches: number;
  /** Fetches that failed (the loop retries them); lastError says the latest failure, of a fetch or a commit. */
  failedFetches: number;
  /** Messages on a subject no configured template produces (the filter is wider: subjectMatcher), acked unread. */
  otherSubjects: number;
  lastError?: string;
}

export interface NatsSource {
  readonly source: string;
  stats(): NatsSourceStats;
  /**
   * Stops pulling, lets the in-flight batch commit and ack, closes the connection. A commit still running after
   * `graceMs` (default 10 s: a store that does not answer) is left: the connection closes without its ack, and
   * JetStream redelivers the batch after ack_wait_s (to this instance when it starts again, or to another).
   */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the pull loop ends (after stop(), or with the error that ended it). */
  readonly done: Promise<void>;
}

export interface NatsSourceOptions {
  config: NatsInputConfig;
  handler: NatsBatchHandler;
  log: Logger;
  /** The `--nats-create-stream` flag: true creates the stream even when config.create_stream is false. */
  createStream?: boolean;
  /** Client name shown by `nats server report connections`. */
  name?: string;
  /** Told of each failed fetch or batch commit (both retried), for metrics: a stalled consumer shows there. */
  onFailure?: (kind: 'fetch' | 'commit') => void;
}

/**
 * Fleet subject templates (`results.{log.decorations.hostname}`) → a JetStream filter. Fleet writes a tag's value as
 * it is, and a value may contain dots (hostnames do: `studio-14.local`), so a tag spans any number of tokens: the
 * filter keeps the literal tokens before the first tag and ends there with `>` (NATS allows `>` only last, and `*`
 * matches exactly one token).
 */
export function fleetSubjectToFilter(subject: string): string {
  if (!subject.includes('{')) return subject;
  const tokens = subjectTokens(subject);
  const first = tokens.findIndex((t) => t.includes('{'));
  return [...tokens.slice(0, first), '>'].join('.');
}

/** A subject split on the dots outside {…}: a tag expression may contain dots (log.decorations.hostname). */
function subjectTokens(subject: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of subject) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (ch === '.' && depth === 0) {
      tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  tokens.push(cur);
  return tokens;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether a message's subject is one a configured subject (or template) names. A template's filter ends at its first
 * tag (`fleet.>` for `fleet.{log.name}.results`), so the consumer also receives subjects the template cannot produce,
 * such as Fleet's status log on a sibling template (`fleet.{log.name}.status`): those are acknowledged and skipped,
 * not quarantined as bad result lines. A tag's value may span several tokens.
 */
export function subjectMatcher(subjects: readonly string[]): (subject: string) => boolean {
  if (!subjects.some((s) => s.includes('{'))) return () => true;
  const patterns = subjects.map((subject) => {
    const tokens = subjectTokens(subject).map((t, i, all) => {
      if (t === '*') return '[^.]+';
      if (t === '>' && i === all.length - 1) return '.+';
      return t
        .split(/(\{[^}]*\})/)
        .map((part) => (part.startsWith('{') && part.endsWith('}') ? '.+' : escapeRegExp(part)))
        .join('');
    });
    return new RegExp(`^${tokens.join('\\.')}$`);
  });
  return (subject) => patterns.some((p) => p.test(subject));
}

/** Whether NATS filter `a` matches every subject filter `b` matches (`*` one token, `>` one or more, last). */
function filterCovers(a: string, b: string): boolean {
  const at = a.split('.');
  const bt = b.split('.');
  for (let i = 0; i < at.length; i++) {
    if (at[i] === '>') return bt.length > i;
    if (i >= bt.length || bt[i] === '>') return false;
    if (at[i] !== '*' && (at[i] !== bt[i] || bt[i] === '*')) return false;
  }
  return at.length === bt.length;
}

/** The filters of the configured subjects, without one another covers (nats-server refuses overlapping filter_subjects). */
export function subjectFilters(subjects: readonly string[]): string[] {
  const all = [...new Set(subjects.map(fleetSubjectToFilter))];
  return all.filter((f, i) => !all.some((g, j) => j !== i && filterCovers(g, f) && (!filterCovers(f, g) || j < i)));
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const SNAPPY_FRAMED_MAGIC = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

function startsWith(data: Uint8Array, magic: number[]): boolean {
  return data.length >= magic.length && magic.every((b, i) => data[i] === b);
}

type ZstdZlib = { zstdDecompressSync?: (buf: Uint8Array, opts?: { maxOutputLength?: number }) => Buffer };

/** zstd is in node:zlib from Node 22.15 / 23.8; Node 20 has none. */
export function zstdSupported(): boolean {
  return typeof (zlib as unknown as ZstdZlib).zstdDecompressSync === 'function';
}

/**
 * Decode one message payload into result lines. Compression is recognised by a `Content-Encoding` header
 * when the publisher sets one, else by magic bytes. gzip always works; zstd only where node:zlib has it;
 * snappy is not in the Node runtime, so such messages are rejected with a reason (never silently dropped).
 */
export function decodePayload(data: Uint8Array, contentEncoding?: string, limits: PayloadLimits = DEFAULT_PAYLOAD_LIMITS): { lines: string[] } | { reject: string } {
  const enc = contentEncoding?.trim().toLowerCase();
  let bytes: Uint8Array = data;
  // A few hundred KB of gzip can inflate to gigabytes: inflate at most maxBytes (zlib stops there and throws).
  const inflate = { maxOutputLength: limits.maxBytes };
  try {
    if (enc === 'gzip' || (!enc && startsWith(data, GZIP_MAGIC))) {
      bytes = gunzipSync(data, inflate);
    } else if (enc === 'zstd' || (!enc && startsWith(data, ZSTD_MAGIC))) {
      const z = zlib as unknown as ZstdZlib;
      if (!z.zstdDecompressSync) return { reject: `zstd-compressed payload, but this Node.js (${process.version}) has no zstd; use gzip in Fleet's nats.compression or run Node >= 22.15` };
      bytes = z.zstdDecompressSync(data, inflate);
    } else if (enc === 'snappy' || enc === 's2' || (!enc && startsWith(data, SNAPPY_FRAMED_MAGIC))) {
      return { reject: `snappy-compressed payload is not supported by the Node.js runtime; use gzip in Fleet's nats.compression` };
    } else if (enc && enc !== 'identity' && enc !== 'none') {
      return { reject: `unknown Content-Encoding "${contentEncoding}"` };
    }
  } catch (err) {
    return { reject: `cannot decompress payload: ${coerceError(err).message}` };
  }
  if (bytes.byteLength > limits.maxBytes) return { reject: `payload of ${bytes.byteLength} bytes is larger than ${limits.maxBytes}` };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // One line per message from Fleet; tolerate NDJSON from other publishers, within reason (each line is an object).
  let newlines = 0;
  for (let at = buf.indexOf(0x0a); at !== -1; at = buf.indexOf(0x0a, at + 1)) {
    if (++newlines >= limits.maxLines) return { reject: `payload holds more than ${limits.maxLines} lines` };
  }
  const lines = buf
    .toString('utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) return { reject: 'empty payload' };
  return { lines };
}

export interface PayloadLimits {
  /** Largest payload after decompression (bytes). */
  maxBytes: number;
  /** Most lines in one message. */
  maxLines: number;
}

/** Fleet publishes one line per message; 16 MiB holds four of the largest lines ingest accepts. */
const DEFAULT_PAYLOAD_LIMITS: PayloadLimits = { maxBytes: 16 * 1024 * 1024, maxLines: 10_000 };

/** Decoded line bytes handed to the store in one ingest call (a fetch larger than this is committed in parts). */
const MAX_DECODED_BATCH_BYTES = 64 * 1024 * 1024;

function recordOf(msg: JsMsg): NatsMessageRecord {
  const enc = msg.headers?.get('Content-Encoding') || undefined;
  const decoded = decodePayload(msg.data, enc);
  const base = { seq: msg.seq, timestampNanos: msg.info.timestampNanos, subject: msg.subject, redelivered: msg.info.redeliveryCount > 1 };
  if ('reject' in decoded) {
    return { ...base, lines: [], reject: decoded.reject, rawHead: Buffer.from(msg.data.subarray(0, 512)).toString('base64') };
  }
  return { ...base, lines: decoded.lines };
}

/**
 * Make sure the stream exists (creating or widening it when allowed) and return the filters to use. `log` carries
 * the stream and durable names (startNatsSource's child logger).
 */
export async function ensureStream(jsm: JetStreamManager, config: NatsInputConfig, create: boolean, log: Logger): Promise<string[]> {
  const filters = subjectFilters(config.subjects);
  let info;
  try {
    info = await jsm.streams.info(config.stream);
  } catch (err) {
    if (!/stream not found/i.test(coerceError(err).message)) throw err;
  }
  if (!info) {
    if (!create) {
      throw new OutflowError(
        'CONFIG_INVALID',
        `NATS stream ${config.stream} does not exist`,
        `create it with --nats-create-stream (or fleet.nats.create_stream: true), or point fleet.nats.stream at the stream Fleet publishes to`,
      );
    }
    try {
      // limits retention with an age limit: acked lines leave once older than the dedupe and redelivery horizons need
      const maxAge = nanos(config.stream_max_age_hours * 3600 * 1000);
      await jsm.streams.add({ name: config.stream, subjects: filters, storage: StorageType.File, retention: RetentionPolicy.Limits, max_age: maxAge });
      log.info({ subjects: filters }, 'nats stream created');
    } catch (err) {
      // another instance created it a moment ago
      if (!/already in use|already exists/i.test(coerceError(err).message)) throw err;
    }
    return filters;
  }
  const subjects = info.config.subjects ?? [];
  const missing = filters.filter((f) => !subjects.some((s) => filterCovers(s, f)));
  if (missing.length && create) {
    // a subject a new filter covers is replaced by it (an earlier version's `fleet.*.results` by `fleet.>`):
    // nats-server refuses overlapping subjects in one stream
    const kept = subjects.filter((s) => !missing.some((f) => filterCovers(f, s)));
    await jsm.streams.update(config.stream, { subjects: [...kept, ...missing] });
    log.info({ added: missing }, 'nats stream subjects extended');
  }
  return filters;
}

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [ma = 0, mi = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  return ma > major || (ma === major && mi >= minor);
}

/**
 * Create or align the shared durable pull consumer. Several instances racing here all end up on the same one.
 * A consumer created again after it was deleted while serving delivers the stream from its start, like a new one:
 * another instance may have held messages it never committed, and the stream may itself have been created again
 * (its sequences restarted), so no sequence this instance acked is a safe place to start. A message delivered
 * again changes nothing (dedupe and idempotent merges).
 */
export async function ensureConsumer(jsm: JetStreamManager, nc: NatsConnection, config: NatsInputConfig, filters: string[], log: Logger): Promise<void> {
  const want: Partial<ConsumerConfig> = {
    durable_name: config.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ack_wait_s * 1000),
    // several batches in flight per instance, never unbounded
    max_ack_pending: Math.max(config.batch * 8, 1000),
  };
  const serverVersion = nc.info?.version ?? '0.0.0';
  const streamInfo = await jsm.streams.info(config.stream);
  const streamSubjects = streamInfo.config.subjects ?? [];
  const wholeStream = filters.length === streamSubjects.length && filters.every((f) => streamSubjects.includes(f));
  // Filtered even when the subjects are the stream's: a subject added to the stream later (by an operator, or by
  // another instance's ensureStream) is not ours to ingest. Before 2.10 a server cannot filter on several subjects,
  // and only there a consumer of exactly the stream's subjects goes without a filter.
  if (filters.length === 1) want.filter_subject = filters[0];
  else if (versionAtLeast(serverVersion, 2, 10)) want.filter_subjects = filters;
  else if (!wholeStream) {
    throw new OutflowError(
      'CONFIG_INVALID',
      `nats-server ${serverVersion} cannot filter one consumer on several subjects (${filters.join(', ')})`,
      'use one subject (a wildcard such as results.>), make the stream hold exactly these subjects, or upgrade nats-server to 2.10+',
    );
  }
  let existing;
  try {
    existing = await jsm.consumers.info(config.stream, config.durable);
  } catch (err) {
    if (!/consumer not found/i.test(coerceError(err).message)) throw err;
  }
  if (!existing) {
    try {
      await jsm.consumers.add(config.stream, want);
      log.info({ filters }, 'nats durable consumer created');
      return;
    } catch (err) {
      if (!/already (in use|exists)/i.test(coerceError(err).message)) throw err;
      existing = await jsm.consumers.info(config.stream, config.durable);
    }
  }
  const c = existing.config;
  if (wholeStream && !c.filter_subject && !c.filter_subjects?.length) {
    // An unfiltered consumer of exactly the configured subjects (an earlier version made them so) delivers what is
    // wanted; adding the filter by an update made nats-server 2.9 stop delivering to it. Left as it is: a subject
    // added to the stream later is ingested by it (delete the consumer once to have it created filtered).
    delete want.filter_subject;
    delete want.filter_subjects;
  }
  const differs =
    c.ack_wait !== want.ack_wait ||
    c.max_ack_pending !== want.max_ack_pending ||
    (c.filter_subject ?? '') !== (want.filter_subject ?? '') ||
    JSON.stringify(c.filter_subjects ?? []) !== JSON.stringify(want.filter_subjects ?? []);
  if (differs) {
    // The client merges this into the consumer's current config: a filter we no longer want (subjects widened to
    // the whole stream, or from one subject to several) must be cleared explicitly, or it stays.
    await jsm.consumers.update(config.stream, config.durable, {
      ack_wait: want.ack_wait,
      max_ack_pending: want.max_ack_pending,
      // undefined: left out of the JSON sent, so the server has no such filter (and a server before 2.10 no
      // filter_subjects to refuse)
      filter_subject: want.filter_subject,
      filter_subjects: want.filter_subjects,
    });
    log.info('nats durable consumer updated');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Server URLs without their userinfo, and the credentials that userinfo held. NATS URLs may carry them
 * (`nats://user:pass@host:4222`, `nats://token@host:4222`: nats.go, so Fleet's `nats.server`, takes them from there),
 * but nats.js drops a URL's userinfo: passed on, they were never used, and the password was logged with the URL.
 * The first URL's credentials count; explicit user/pass/token settings win over them.
 */
export function serverCredentials(servers: readonly string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  let found = false;
  for (const server of servers) {
    // userinfo ends at the authority's last '@', as Go's net/url (nats.go) reads it: a password may hold an '@'
    const m = /^([a-z][a-z0-9+.-]*:\/\/)?([^/?#]*)@(.*)$/i.exec(server);
    if (!m) {
      out.servers.push(server);
      continue;
    }
    out.servers.push(`${m[1] ?? ''}${m[3]}`);
    if (found) continue;
    found = true;
    const info = m[2]!;
    const colon = info.indexOf(':');
    if (colon < 0) out.token = decodeURIComponent(info);
    else {
      out.user = decodeURIComponent(info.slice(0, colon));
      out.pass = decodeURIComponent(info.slice(colon + 1));
    }
  }
  return out;
}

/**
 * Attempts at committing a batch in place (a store blip) before it is handed back: nak'd with NAK_DELAY_MS, so any
 * instance may take it, while this one backs off before it fetches again. Retrying in place for good, its messages
 * kept from redelivery by working(), left them with an instance that cannot commit them (its own store connection
 * broken) while the others could.
 */
const COMMIT_ATTEMPTS_IN_PLACE = 3;
const NAK_DELAY_MS = 1000;

/**
 * Connect, ensure stream + consumer, then pull batches until stop(). A failing handler (store down) naks the
 * batch with a delay and backs off, so nothing is lost and nothing is acked that was not committed.
 */
export async function startNatsSource(opts: NatsSourceOptions): Promise<NatsSource> {
  const { config, handler } = opts;
  const log = opts.log.child({ input: 'nats-jetstream', stream: config.stream, durable: config.durable });
  const source = `nats:${config.stream}/${config.durable}`;
  const fromUrls = serverCredentials(config.servers);
  const explicit = config.user !== undefined || config.pass !== undefined || config.token !== undefined;
  const dial = () =>
    connect({
      servers: fromUrls.servers,
      name: opts.name ?? 'outflow-aggregator',
      user: explicit ? config.user : fromUrls.user,
      pass: explicit ? config.pass : fromUrls.pass,
      token: explicit ? config.token : fromUrls.token,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      timeout: 5000,
      // Refused credentials while reconnecting (a rotation under way) are retried like any other failure: by default
      // nats.js closes the connection for good after the second refusal, and this input never consumed again.
      ignoreAuthErrorAbort: true,
    });
  let nc: NatsConnection;
  try {
    nc = await dial();
  } catch (err) {
    throw new OutflowError('CONFIG_INVALID', `cannot connect to NATS at ${fromUrls.servers.join(', ')}: ${coerceError(err).message}`, 'check fleet.nats.servers, the credentials, and that nats-server runs with -js', {
      cause: err,
    });
  }
  const stats: NatsSourceStats = { batches: 0, messages: 0, lines: 0, rejected: 0, redelivered: 0, failedBatches: 0, failedFetches: 0, otherSubjects: 0 };
  const ours = subjectMatcher(config.subjects);
  let stopping = false;
  let current: ConsumerMessages | undefined;
  /** The in-flight batch's ack_wait keep-alive (loop); stop() clears it when it gives up on a hung commit. */
  let keepAlive: NodeJS.Timeout | undefined;
  /** The stream and the durable consumer as the config wants them; the consumer to pull from. */
  const ensure = async () => {
    const jsm = await nc.jetstreamManager();
    const filters = await ensureStream(jsm, config, Boolean(opts.createStream) || config.create_stream, log);
    await ensureConsumer(jsm, nc, config, filters, log);
    return nc.jetstream().consumers.get(config.stream, config.durable);
  };
  let consumer: Consumer;
  try {
    consumer = await ensure();
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
  log.info({ servers: fromUrls.servers, batch: config.batch }, 'nats source started');

  /** Batches handed back in a row (commits that kept failing): this instance's back-off before it fetches again. */
  let handedBack = 0;
  /** Ends the back-off early on stop(). */
  let wake: (() => void) | undefined;

  /**
   * Commit one chunk (retrying a few times while the store fails), then ack it; false when it was not committed
   * (stopping, or the store kept failing): the caller hands it back.
   */
  async function commitChunk(msgs: JsMsg[], records: NatsMessageRecord[]): Promise<boolean> {
    let failures = 0;
    for (;;) {
      try {
        await handler({ source, stream: config.stream, messages: records });
        break;
      } catch (err) {
        failures++;
        stats.failedBatches++;
        stats.lastError = coerceError(err).message;
        opts.onFailure?.('commit');
        const delay = Math.min(5000, 200 * 2 ** Math.min(failures, 5));
        if (stopping || failures >= COMMIT_ATTEMPTS_IN_PLACE) {
          log.warn({ err: coerceError(err), attempt: failures, messages: msgs.length }, 'nats batch not committed; handed back for redelivery');
          handedBack++;
          return false;
        }
        log.warn({ err: coerceError(err), attempt: failures, retry_in_ms: delay, messages: msgs.length }, 'nats batch not committed; retrying');
        await sleep(delay);
      }
    }
    handedBack = 0;
    for (const m of msgs) m.ack();
    stats.batches++;
    stats.messages += msgs.length;
    for (const r of records) {
      stats.lines += r.lines.length;
      if (r.reject) stats.rejected++;
      if (r.redelivered) stats.redelivered++;
    }
    return true;
  }

  /** Messages not committed, for redelivery: at once when stopping, else after NAK_DELAY_MS (to any instance). */
  const handBack = (msgs: readonly JsMsg[]) => msgs.forEach((m) => (stopping ? m.nak() : m.nak(NAK_DELAY_MS)));

  /**
   * A fetch is decoded and committed in chunks of at most MAX_DECODED_BATCH_BYTES of lines: each message may
   * inflate to 16 MiB, so decoding a whole fetch (up to `batch` messages) at once could hold gigabytes.
   */
  async function processBatch(msgs: JsMsg[]): Promise<void> {
    {
      let chunk: JsMsg[] = [];
      let records: NatsMessageRecord[] = [];
      let bytes = 0;
      for (let i = 0; i < msgs.length; i++) {
        const msg = msgs[i]!;
        if (!ours(msg.subject)) {
          msg.ack();
          stats.otherSubjects++;
          continue;
        }
        const record = recordOf(msg);
        let size = 0;
        for (const l of record.lines) size += l.length;
        if (chunk.length > 0 && bytes + size > MAX_DECODED_BATCH_BYTES) {
          if (!(await commitChunk(chunk, records))) {
            // hand the rest back now instead of waiting for ack_wait (a nak after an ack changes nothing)
            handBack([...chunk, ...msgs.slice(i)]);
            return;
          }
          chunk = [];
          records = [];
          bytes = 0;
        }
        chunk.push(msg);
        records.push(record);
        bytes += size;
      }
      if (chunk.length && !(await commitChunk(chunk, records))) handBack(chunk);
    }
  }

  async function loop(): Promise<void> {
    let errors = 0;
    while (!stopping) {
      const msgs: JsMsg[] = [];
      // Keep the server from redelivering what this instance holds: while the fetch still waits for more (a
      // fetch_wait_ms past ack_wait_s would get the first messages again in the same batch) and while a slow commit
      // (PostgreSQL restarting, say) is retried.
      keepAlive = setInterval(() => msgs.forEach((m) => m.working()), Math.max(500, (config.ack_wait_s * 1000) / 3));
      try {
        try {
          const fetched = await consumer.fetch({ max_messages: config.batch, expires: Math.max(1000, config.fetch_wait_ms) });
          current = fetched;
          for await (const m of fetched) {
            msgs.push(m);
            if (stopping) break;
          }
          errors = 0;
        } catch (err) {
          if (stopping) break;
          errors++;
          const e = coerceError(err);
          stats.failedFetches++;
          stats.lastError = `fetch: ${e.message}`;
          opts.onFailure?.('fetch');
          log.warn({ err: e, attempt: errors }, 'nats fetch failed; retrying');
          await sleep(Math.min(5000, 200 * 2 ** Math.min(errors, 5)));
          if (!stopping && nc.isClosed()) {
            // closed for good (not a disconnect, which nats.js heals): every fetch on it would fail
            try {
              nc = await dial();
              consumer = await ensure();
              log.warn('nats connection was closed; connected again');
            } catch (dialErr) {
              log.warn({ err: coerceError(dialErr) }, 'nats connection closed and could not be opened again; retrying');
            }
          } else if (!stopping && /consumer (not found|deleted)|stream not found|no responders|connection_closed/i.test(e.message)) {
            // the durable consumer (or its stream) was deleted: set it up again rather than fail every fetch (also
            // the consumer of a connection closed and opened again above, when ensure() failed there)
            try {
              consumer = await ensure();
              log.warn('nats durable consumer was gone; created it again, delivering the stream from its start');
            } catch (ensureErr) {
              log.warn({ err: coerceError(ensureErr) }, 'nats consumer could not be set up again; retrying');
            }
          }
        } finally {
          current = undefined;
        }
        if (msgs.length) await processBatch(msgs);
      } finally {
        clearInterval(keepAlive);
      }
      if (handedBack > 0 && !stopping) {
        // the batch went back for another instance: do not take it again at once
        const backOff = Math.min(10_000, 1000 * 2 ** Math.min(handedBack, 4));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backOff);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  }

  const done = loop().finally(async () => {
    try {
      await nc.flush();
    } catch {
      /* connection already gone: unacked messages are redelivered */
    }
    await nc.close().catch(() => undefined);
    log.info({ ...stats }, 'nats source stopped');
  });

  return {
    source,
    stats: () => ({ ...stats }),
    done,
    async stop(graceMs = 10_000) {
      stopping = true;
      current?.stop();
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = await Promise.race([
        done.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (!gaveUp) return;
      // the commit hangs: its messages are not acked, and the keep-alive must not tell JetStream they still are
      clearInterval(keepAlive);
      log.warn({ grace_ms: graceMs }, 'nats source stopped with a batch commit still running: not acked, JetStream redelivers it');
      await nc.close().catch(() => undefined);
    },
  };
}

/** The part of the ingest service the NATS input needs (fleet/ingest/ingest-service.ts). */
export interface NatsIngestTarget {
  ingestLines(lines: readonly unknown[], source: IngestSource): Promise<unknown>;
}

export interface NatsIngestOptions extends Omit<NatsSourceOptions, 'handler'> {
  ingest: NatsIngestTarget;
}

/**
 * The dedupe key of line `at` of a message (-1: the message itself, an undecodable payload): the same for every
 * delivery of that message, and apart from every row digest (those hash other fields).
 */
export function natsInputKey(stream: string, m: Pick<NatsMessageRecord, 'seq' | 'timestampNanos'>, at: number): ResultKey {
  return {
    digest: dedupeDigest(`nats\n${stream}\n${m.seq}\n${m.timestampNanos}\n${at}`),
    unixTime: Math.floor(m.timestampNanos / 1e9),
  };
}

/**
 * The NATS input wired to the ingest service: one `ingestLines` call (one store transaction) per fetched
 * batch, acked after it resolves. An undecodable payload goes into the same call as a RejectedInput, so it is
 * quarantined in that transaction too. Redelivered messages need no bookkeeping here: the ingest service
 * drops rows whose dedupe key the store already holds, and on PostgreSQL that check is a primary key,
 * so it holds across instances. What it cannot digest, a payload or line it rejects, is keyed by the message
 * (natsInputKey): a batch committed but not acked (ack lost, instance killed, a COMMIT whose answer never came
 * back and is retried) is quarantined once, not once per delivery. No source checkpoint is written: JetStream's
 * ack floor is the position, and one checkpoint row shared by every instance would serialize their commits.
 */
export function startNatsIngest(opts: NatsIngestOptions): Promise<NatsSource> {
  const { ingest, ...rest } = opts;
  return startNatsSource({
    ...rest,
    async handler(batch) {
      const inputs: (string | RejectedInput)[] = [];
      /** Per input: its message and its line in it (-1: the rejected payload). */
      const origin: { m: NatsMessageRecord; at: number }[] = [];
      for (const m of batch.messages) {
        if (m.reject) {
          inputs.push(new RejectedInput(`${m.reject} (subject ${m.subject}, seq ${m.seq})`, `base64:${m.rawHead ?? ''}`));
          origin.push({ m, at: -1 });
        } else {
          m.lines.forEach((l, at) => {
            inputs.push(l);
            origin.push({ m, at });
          });
        }
      }
      if (!inputs.length) return;
      await ingest.ingestLines(inputs, {
        kind: 'nats',
        id: `${batch.stream}/${opts.config.durable}`,
        // acked to JetStream once this resolves: it then forgets the messages
        durable: true,
        inputKey: (i) => natsInputKey(batch.stream, origin[i]!.m, origin[i]!.at),
      });
    },
  });
}
