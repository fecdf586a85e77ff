import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OutflowError, causeCode, coerceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { VERSION } from '../../src/version.js';
import type { FleetMetrics } from '../metrics.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signBody } from './signature.js';
import { PartialWriteError, renderAll, type Detection, type Render, type Sink, type SinkFormat, type WriteContext } from './sink.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../file-modes.js';
import { claimSpool } from './spool-owner.js';

export interface WebhookBackoff {
  /** First retry delay. Each failure multiplies it by `factor`, up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface WebhookSinkOptions {
  name: string;
  url: string;
  /** HMAC key for X-Outflow-Signature. */
  secret: string;
  format: SinkFormat;
  /** One file per batch waiting for delivery; survives restarts. */
  spoolDir: string;
  /** Per request. */
  timeoutMs: number;
  backoff: WebhookBackoff;
  /** Detections per POST; a larger batch is split into several spooled deliveries. */
  batchSize: number;
  /** New batches are refused (write rejects) once the spool holds this many bytes. */
  maxSpoolBytes: number;
  /** Extra request headers, e.g. the receiver's own Authorization. Never logged. */
  headers: Record<string, string>;
  render: Render;
  log: Logger;
  metrics?: FleetMetrics;
}

/** What the receiver gets (signed as raw bytes, see signature.ts). */
export interface WebhookBody {
  source: 'outflow';
  version: string;
  delivery_id: string;
  created_at: string;
  format: SinkFormat;
  detections: unknown[];
}

type Attempt = { kind: 'delivered' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'rejected'; reason: string };

const SPOOL_FILE_RE = /^(\d{16})\.json$/;
const SPOOL_TMP_RE = /^\.\d+\.tmp$/;

/**
 * HTTP webhook with a write-ahead spool: every batch is first written to `spoolDir` and then delivered
 * in spool order by one loop, one request at a time. A failed delivery (connection refused, timeout,
 * 408/425/429/5xx) is retried with exponential back-off until the receiver recovers, so order holds and
 * nothing is lost across receiver outages or our own restarts. A file is deleted only after a 2xx.
 * Other 4xx answers mean the receiver will never accept that body: it moves to `spoolDir/dead/` so one
 * poison batch cannot block the queue forever. Delivery is at-least-once (a crash between the
 * receiver's 2xx and our unlink re-sends); `X-Outflow-Delivery` lets the receiver drop such repeats.
 */
export class WebhookSink implements Sink {
  readonly name: string;
  private readonly queue: number[] = [];
  private nextSeq = 1;
  private spoolBytes = 0;
  /** Bytes of each waiting batch's file, so a batch skipped unread (removed by hand) gives its share back. */
  private readonly spoolSizes = new Map<number, number>();
  /** Bytes in spool/dead/: they count toward max_spool_bytes until an operator moves them away. */
  private deadBytes = 0;
  private draining: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private writeChain: Promise<void> = Promise.resolve();
  private readonly deadDir: string;
  /** Gives up the spool directory (spool-owner.ts). */
  private readonly releaseSpool: () => void;
  /** opts.log with this sink's name bound (callers bind the component, not the name: a key twice breaks some log pipelines). */
  private readonly log: Logger;

  constructor(private readonly opts: WebhookSinkOptions) {
    this.name = opts.name;
    this.log = opts.log.child({ sink: opts.name });
    this.deadDir = path.join(opts.spoolDir, 'dead');
    mkdirSync(this.deadDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    this.releaseSpool = claimSpool(opts.spoolDir);
    try {
      this.takeSpool();
    } catch (err) {
      this.releaseSpool();
      throw err;
    }
  }

  /** Batches a previous run left in the spool go first. */
  private takeSpool(): void {
    const { opts } = this;
    const seqs: number[] = [];
    for (const entry of readdirSync(opts.spoolDir)) {
      // a batch a crash interrupted before its rename was never acknowledged to the outbox: it is offered again
      if (SPOOL_TMP_RE.test(entry)) {
        rmSync(path.join(opts.spoolDir, entry), { force: true });
        continue;
      }
      const m = SPOOL_FILE_RE.exec(entry);
      if (!m) continue;
      const seq = Number(m[1]);
      const size = statSync(path.join(opts.spoolDir, entry)).size;
      seqs.push(seq);
      this.spoolSizes.set(seq, size);
      this.spoolBytes += size;
    }
    const dead = this.deadLetters();
    this.deadBytes = dead.bytes;
    seqs.sort((a, b) => a - b);
    this.queue.push(...seqs);
    // past the dead letters' numbers too: a batch refused later must not be renamed over one refused before a restart
    this.nextSeq = Math.max(seqs.at(-1) ?? 0, dead.highest) + 1;
    opts.metrics?.sinkSpoolDepth.set({ sink: this.name }, this.queue.length);
    if (seqs.length) {
      this.log.info({ spooled: seqs.length, spool_bytes: this.spoolBytes }, 'webhook spool has undelivered batches from a previous run');
      this.kick();
    }
  }

  /** Bytes of the dead letters in spool/dead/ and their highest batch number (0 and 0 when the directory is gone). */
  private deadLetters(): { bytes: number; highest: number } {
    let bytes = 0;
    let highest = 0;
    try {
      for (const entry of readdirSync(this.deadDir)) {
        const m = SPOOL_FILE_RE.exec(entry);
        if (!m) continue;
        highest = Math.max(highest, Number(m[1]));
        try {
          bytes += statSync(path.join(this.deadDir, entry)).size;
        } catch {
          // moved away between the listing and the stat
        }
      }
    } catch {
      return { bytes: 0, highest: 0 };
    }
    return { bytes, highest };
  }

  /**
   * Where a refused batch goes in dead/: its own name, or past it when that is taken. Numbers start past every dead
   * letter's, but dead/ may not have been readable then (or an operator copied files in): a rename must never
   * replace a dead letter. (Only this sink writes dead/: the spool lock.)
   */
  private freeDeadLetterPath(name: string): string {
    let dead = path.join(this.deadDir, name);
    while (existsSync(dead)) dead = path.join(this.deadDir, path.basename(this.spoolPath(this.nextSeq++)));
    return dead;
  }

  /** Batches waiting in the spool (for health and tests). */
  get pending(): number {
    return this.queue.length;
  }

  async write(detections: readonly Detection[], context?: WriteContext): Promise<void> {
    if (this.closed) throw new OutflowError('SINK_FAILED', `webhook sink ${this.name} is closed`);
    for (let i = 0; i < detections.length; i += this.opts.batchSize) {
      const chunk = detections.slice(i, i + this.opts.batchSize);
      try {
        await this.enqueue(renderAll(chunk, this.opts.render, context));
      } catch (err) {
        // The chunks before this one are spooled and will be delivered: say so, so they are not offered again.
        throw i > 0 ? new PartialWriteError(i, err) : err;
      }
    }
  }

  /**
   * Spool one body of already-rendered records. Spool writes are chained so the queue order is the
   * call order even when file writes finish out of order.
   */
  enqueue(records: unknown[]): Promise<void> {
    const next = this.writeChain.then(() => this.spool(records));
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  private async spool(records: unknown[]): Promise<void> {
    const body: WebhookBody = {
      source: 'outflow',
      version: VERSION,
      delivery_id: randomUUID(),
      created_at: new Date().toISOString(),
      format: this.opts.format,
      detections: records,
    };
    const bytes = Buffer.from(JSON.stringify(body));
    // An empty spool takes any one body, so a batch larger than max_spool_bytes is delayed, never refused forever.
    // Dead letters count too: a receiver refusing every body fills dead/ up to the limit, not the disk (the
    // detections then wait in the store, behind the sink's cursor).
    // Before refusing, count dead/ again: an operator may have moved dead letters away since.
    if (this.deadBytes > 0 && this.spoolBytes + this.deadBytes + bytes.length > this.opts.maxSpoolBytes) this.deadBytes = this.deadLetters().bytes;
    const used = this.spoolBytes + this.deadBytes;
    if (used > 0 && used + bytes.length > this.opts.maxSpoolBytes) {
      throw new OutflowError(
        'SINK_FAILED',
        `webhook spool ${this.opts.spoolDir} is full (${this.spoolBytes} bytes in ${this.queue.length} batches waiting, ${this.deadBytes} bytes of dead letters)`,
        this.deadBytes > 0
          ? `the receiver ${receiverOf(this.opts.url)} refused batches: see why in the log, then move the files out of ${this.deadDir} (or raise max_spool_bytes)`
          : `the receiver ${receiverOf(this.opts.url)} has been failing; fix it or raise max_spool_bytes`,
      );
    }
    const seq = this.nextSeq++;
    const final = this.spoolPath(seq);
    const tmp = path.join(this.opts.spoolDir, `.${seq}.tmp`);
    let renamed = false;
    try {
      await writeFile(tmp, bytes, { flush: true, mode: PRIVATE_FILE_MODE });
      await rename(tmp, final);
      renamed = true;
      // the rename durable before the caller moves the sink's cursor past these detections (a power cut would
      // otherwise lose the batch: its file renamed only in the page cache, the cursor committed)
      await syncDirectory(this.opts.spoolDir);
    } catch (err) {
      // Nothing may stay behind that nothing counts: a partial body (disk full), or a batch renamed into place whose
      // caller is told it failed (offered again, it would be spooled twice, and this copy sent after a restart,
      // behind newer versions of its detections).
      const removed = await unlink(renamed ? final : tmp).then(
        () => true,
        () => false,
      );
      if (!renamed || removed) {
        throw new OutflowError('SINK_FAILED', `cannot write webhook spool file ${final}`, 'check free space and permissions of the spool directory', { cause: err });
      }
      // in place and not to be taken back: spooled, if not yet synced
      this.log.warn({ file: final, err: coerceError(err) }, 'webhook spool directory not synced; the batch stays spooled');
    }
    this.spoolBytes += bytes.length;
    this.spoolSizes.set(seq, bytes.length);
    this.queue.push(seq);
    this.opts.metrics?.sinkSpoolDepth.set({ sink: this.name }, this.queue.length);
    this.kick();
  }

  /** Resolves when the spool is empty (or the sink closes). For tests and orderly shutdown. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writeChain;
    this.wake?.();
    await this.draining;
    this.releaseSpool();
  }

  private spoolPath(seq: number): string {
    return path.join(this.opts.spoolDir, `${String(seq).padStart(16, '0')}.json`);
  }

  private kick(): void {
    if (this.draining || this.closed) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // a batch enqueued while the loop was finishing must not wait for the next write
      if (this.queue.length && !this.closed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const seq = this.queue[0];
      if (seq === undefined) return;
      const file = this.spoolPath(seq);
      let body: Buffer;
      try {
        body = await readFile(file);
      } catch (err) {
        const e = coerceError(err);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // removed by hand: its detections are the operator's call now
          this.log.error({ file, err: e }, 'webhook spool file gone; skipping it');
          this.dequeue();
          continue;
        }
        // anything else (too many open files, EIO) may pass: read it again after a backoff, in its turn
        failures += 1;
        const delay = this.backoffMs(failures);
        this.log.warn({ file, err: e, failures, retry_in_ms: Math.round(delay) }, 'webhook spool file unreadable; will retry');
        await this.sleep(delay);
        continue;
      }
      // close() came while the file was read: it waits for this loop, so do not start a request now
      if (this.closed) return;
      const attempt = await this.post(body);
      if (attempt.kind === 'delivered') {
        failures = 0;
        await unlink(file).catch(() => undefined);
        this.dequeue();
        this.opts.metrics?.sinkDeliveries.inc({ sink: this.name, outcome: 'ok' });
        this.log.debug({ seq, bytes: body.length }, 'webhook batch delivered');
        continue;
      }
      if (attempt.kind === 'rejected') {
        failures = 0;
        const dead = this.freeDeadLetterPath(path.basename(file));
        // dead/ removed while serving (an operator clearing dead letters): made again
        const move = () => rename(file, dead);
        const moveError = await move()
          .catch(async () => {
            mkdirSync(this.deadDir, { recursive: true, mode: PRIVATE_DIR_MODE });
            await move();
          })
          .then(
            () => undefined,
            (err: unknown) => coerceError(err),
          );
        this.dequeue();
        this.opts.metrics?.sinkDeliveries.inc({ sink: this.name, outcome: 'dead' });
        if (moveError) {
          // left in the spool: sent again after a restart
          this.log.error({ seq, reason: attempt.reason, file, err: moveError }, 'webhook receiver rejected a batch; it could not be moved to dead letters and stays in the spool');
        } else {
          this.deadBytes += body.length;
          this.log.error({ seq, reason: attempt.reason, dead_letter: dead }, 'webhook receiver rejected a batch; moved to dead letters');
        }
        continue;
      }
      failures += 1;
      const base = this.backoffMs(failures);
      // equal jitter: keeps the exponential shape while spreading retries of several aggregators
      let delay = base / 2 + Math.random() * (base / 2);
      if (attempt.retryAfterMs !== undefined) delay = Math.min(this.opts.backoff.maxMs, Math.max(delay, attempt.retryAfterMs));
      this.opts.metrics?.sinkDeliveries.inc({ sink: this.name, outcome: 'retry' });
      this.log.warn(
        { seq, reason: attempt.reason, failures, retry_in_ms: Math.round(delay), spooled: this.queue.length },
        'webhook delivery failed; will retry',
      );
      await this.sleep(delay);
    }
  }

  /** The exponential backoff after `failures` failures in a row (1 or more), capped at maxMs. */
  private backoffMs(failures: number): number {
    const { initialMs, maxMs, factor } = this.opts.backoff;
    return Math.min(maxMs, initialMs * factor ** (failures - 1));
  }

  /** The first waiting batch is done (delivered, dead-lettered or gone): its file's bytes no longer count. */
  private dequeue(): void {
    const seq = this.queue.shift();
    if (seq !== undefined) {
      this.spoolBytes = Math.max(0, this.spoolBytes - (this.spoolSizes.get(seq) ?? 0));
      this.spoolSizes.delete(seq);
    }
    this.opts.metrics?.sinkSpoolDepth.set({ sink: this.name }, this.queue.length);
  }

  private sleep(ms: number): Promise<void> {
    // close() may have woken us before this backoff began (a delivery was in flight): do not start one
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async post(body: Buffer): Promise<Attempt> {
    let deliveryId = '';
    try {
      deliveryId = String((JSON.parse(body.toString('utf8')) as { delivery_id?: unknown }).delivery_id ?? '');
    } catch {
      return { kind: 'rejected', reason: 'spool file is not valid JSON' };
    }
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        body,
        headers: {
          ...this.opts.headers,
          'content-type': 'application/json',
          'user-agent': `outflow/${VERSION}`,
          [DELIVERY_HEADER]: deliveryId,
          [SIGNATURE_HEADER]: signBody(this.opts.secret, body),
        },
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        // a redirect means a wrong URL; following it would re-send signed detections somewhere unreviewed
        redirect: 'manual',
      });
    } catch (err) {
      const e = coerceError(err);
      return { kind: 'retry', reason: e.name === 'TimeoutError' ? `timeout after ${this.opts.timeoutMs} ms` : (causeCode(e) ?? e.message) };
    }
    // drain a short body so the keep-alive connection can be reused; a longer one is cut off, never held
    await drainAnswer(res, MAX_ANSWER_BYTES);
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered' };
    const reason = res.status >= 300 && res.status < 400 ? `HTTP ${res.status} redirect to ${res.headers.get('location') ?? '?'} (fix the sink url)` : `HTTP ${res.status}`;
    if (res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500) {
      return { kind: 'retry', reason, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
    }
    return { kind: 'rejected', reason };
  }
}

/** Bytes of a receiver's answer read (and dropped) at most: nothing in it is used. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Read and drop up to `max` bytes of the answer's body, then cancel the rest (the connection is then not reused). */
async function drainAnswer(res: Response, max: number): Promise<void> {
  const body = res.body;
  if (!body) return;
  const reader = body.getReader();
  try {
    for (let n = 0; n <= max; ) {
      const { done, value } = await reader.read();
      if (done) return;
      n += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the answer was cut off or timed out: its status is what counts
  }
}

/** The receiver as messages name it: its origin only, as a token may sit in the URL's path or query (see sinkDeliveryId). */
function receiverOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(the webhook url)';
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** fsync a directory, so a rename in it survives a power cut. */
async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
