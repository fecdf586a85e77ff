import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { SinkConfig, WebhookSinkConfig } from '../../src/config/fleet-serve.js';
import { OutflowError, coerceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { FleetMetrics } from '../metrics.js';
import { JsonlFileSink, JsonlStreamSink } from './jsonl.js';
import { toOcsf } from './ocsf.js';
import type { Detection, Render, Sink, SinkFormat } from './sink.js';
import { WebhookSink } from './webhook.js';

export type { Sink, SinkFormat } from './sink.js';
export { toOcsf } from './ocsf.js';

export function renderer(format: SinkFormat): Render {
  return format === 'ocsf' ? toOcsf : (d) => d;
}

/** Read a secret from a file (first line, trimmed), naming the config key when it fails. */
export function readSecretFile(file: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OutflowError('CONFIG_INVALID', `cannot read ${key} ${file}`, 'check the path and that the service user can read it', { cause: err });
  }
  const secret = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (secret.length < 16) throw new OutflowError('CONFIG_INVALID', `${key} ${file} holds fewer than 16 characters`, 'put a long random secret on its first line');
  return secret;
}

/**
 * An inline webhook secret as the key it signs with: trimmed as secret_file's first line and fleet.http.token are
 * (a YAML block scalar `secret: |` keeps a newline, which would make every signature fail at a receiver given the
 * secret itself, and moving it to a file would change the key).
 */
function inlineSecret(secret: string, key: string): string {
  const trimmed = secret.trim();
  if (trimmed.length < 16) throw new OutflowError('CONFIG_INVALID', `${key} is shorter than 16 characters (surrounding spaces aside)`, 'use a long random secret (openssl rand -hex 32)');
  return trimmed;
}

/** The key a webhook sink signs with: its inline secret, or the first line of its secret_file (both checked). */
function webhookSecret(c: WebhookSinkConfig, i: number): string {
  return c.secret !== undefined ? inlineSecret(c.secret, `fleet.sinks.${i}.secret`) : readSecretFile(c.secret_file!, `fleet.sinks.${i}.secret_file`);
}

function checkFileSinkPath(file: string, i: number): void {
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new OutflowError('CONFIG_INVALID', `fleet.sinks.${i}.path ${file} is a directory`, 'give the file sink the path of a file: it appends one JSON line per detection');
  }
}

/**
 * What createSinks refuses at start, one message a sink (a file sink's path that is a directory, a webhook secret
 * shorter than 16 characters, a secret_file that cannot be read): `outflow doctor` reports them before serve starts.
 */
export function sinkStartProblems(configs: readonly SinkConfig[]): string[] {
  const problems: string[] = [];
  configs.forEach((c, i) => {
    try {
      if (c.type === 'file') checkFileSinkPath(c.path, i);
      else if (c.type === 'webhook') webhookSecret(c, i);
    } catch (err) {
      problems.push(coerceError(err).message);
    }
  });
  return problems;
}

export interface CreateSinksOptions {
  log: Logger;
  metrics?: FleetMetrics;
  /** Where `type: stdout` writes (tests pass a memory stream). */
  stdout?: Writable;
}

/**
 * A sink's delivery id (Sink.deliveryId): type, format and target. A webhook URL appears only as a hash,
 * because checkpoint ids are stored and logged and a URL may carry credentials.
 */
export function sinkDeliveryId(c: SinkConfig): string {
  switch (c.type) {
    case 'stdout':
      return `stdout:${c.format}`;
    case 'file':
      return `file:${c.format}:${path.resolve(c.path)}`;
    case 'webhook':
      return `webhook:${c.format}:${createHash('sha256').update(c.url).digest('hex').slice(0, 16)}`;
  }
}

/**
 * Build the configured sinks (the config switch). When one is refused, the ones already built are closed
 * (their spools given back) before the error is returned, so a caller may retry at once.
 */
export async function createSinks(configs: readonly SinkConfig[], opts: CreateSinksOptions): Promise<Sink[]> {
  // Checked before any sink is built: a webhook sink starts delivering its spool as it is built.
  configs.forEach((c, i) => {
    if (c.type === 'file') checkFileSinkPath(c.path, i);
  });
  const ids = new Map<string, number>();
  const built: Sink[] = [];
  try {
    configs.forEach((c, i) => {
      const render = renderer(c.format);
      // Two sinks of the same target and format each keep their own cursor.
      const base = sinkDeliveryId(c);
      const n = (ids.get(base) ?? 0) + 1;
      ids.set(base, n);
      const deliveryId = n === 1 ? base : `${base}#${n}`;
      built.push(Object.assign(createSink(c, i, render, opts), { deliveryId }));
    });
  } catch (err) {
    // a later sink was refused (a webhook spool in use): the ones built stop delivering and give their spools back
    await Promise.allSettled(built.map((s) => s.close()));
    throw err;
  }
  return built;
}

function createSink(c: SinkConfig, i: number, render: Render, opts: CreateSinksOptions): Sink {
  switch (c.type) {
    case 'stdout':
      return new JsonlStreamSink(opts.stdout ?? process.stdout, render, `stdout#${i}`);
    case 'file':
      return new JsonlFileSink(c.path, render, `file#${i}`);
    case 'webhook':
      return new WebhookSink({
        name: `webhook#${i}`,
        url: c.url,
        secret: webhookSecret(c, i),
        format: c.format,
        spoolDir: c.spool_dir,
        timeoutMs: c.timeout_ms,
        backoff: { initialMs: c.backoff.initial_ms, maxMs: c.backoff.max_ms, factor: c.backoff.factor },
        batchSize: c.batch_size,
        maxSpoolBytes: c.max_spool_bytes,
        headers: c.headers,
        render,
        log: opts.log.child({ component: 'sink' }),
        metrics: opts.metrics,
      });
  }
}

/**
 * The configured sinks. Detections reach them through outbox.ts (each sink from its own cursor in the
 * store's change feed); this closes them all, one failing close not keeping the others open.
 */
export class SinkSet {
  /** See SinkGroup.startCursor; set by `fleet serve` before it first sets the cursors up. */
  startCursor?: string;

  constructor(
    readonly sinks: readonly Sink[],
    private readonly log: Logger,
  ) {}

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.sinks.map((s) => s.close()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.log.warn({ sink: this.sinks[i]!.name, err: coerceError(r.reason) }, 'sink close failed');
    });
  }
}
