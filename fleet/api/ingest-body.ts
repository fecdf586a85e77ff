/**
 * POST /v1/ingest bodies (SPEC §5, formats.md §6.5) → raw result lines for the ingest service.
 * Pure: no I/O, no logging.
 *
 *  - NDJSON: one osquery result line per `\n` (Fleet's filesystem/stdout output, `curl --data-binary @file`);
 *  - Fleet webhook: `{"timestamp": "<RFC3339>", "details": [<line>, …]}` per batch, or (Fleet versions whose webhook
 *    writer takes a bearer token) a JSON array of `{"timestamp", "details": <line>}`, one per line;
 *  - Kafka REST proxy: `{"records": [{"value": <line>}, …]}` (Fleet's kafkarest destination);
 *  - a JSON array of lines.
 * Lines inside wrappers may be objects or JSON strings; both are passed through and the ingest service
 * parses (or quarantines) each one, so one bad line never rejects the batch.
 */
import { z } from 'zod';
import { InputError, zodIssues } from '../../src/errors.js';
import { escapeLoneSurrogates } from '../../src/strings.js';

export type IngestShape = 'ndjson' | 'webhook' | 'kafka' | 'array';

export interface DecodedIngestBody {
  shape: IngestShape;
  lines: unknown[];
}

const WebhookBodySchema = z.object({
  timestamp: z.string().optional(),
  // a batch's lines, or one line (an object, or a JSON string) in the per-line variant
  details: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown()), z.string()], {
    error: 'details must be an array of result lines or one result line (an object or a JSON string)',
  }),
});

/** A Fleet webhook wrapper, not a result line: `details` and no `name`. */
function isWebhookWrapper(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'details' in v && !('name' in v);
}

/**
 * One element of a JSON array that holds webhook wrappers: a wrapper's lines, or the element itself (a line, or a
 * wrapper with nothing usable in `details`), which the ingest service judges and quarantines if it must, as one bad
 * line never rejects the batch.
 */
function unwrapElement(item: unknown): unknown[] {
  if (!isWebhookWrapper(item)) return [item];
  const details = (item as { details: unknown }).details;
  // an empty batch holds nothing, as the same wrapper alone does
  if (Array.isArray(details)) return details;
  if (typeof details === 'object' && details !== null) return [details];
  if (typeof details === 'string' && details.trim() !== '') return [details];
  return [item];
}

/** The lines of a webhook body's one wrapper (throws InputError when it is not one). */
function webhookLines(obj: Record<string, unknown>): unknown[] {
  const r = WebhookBodySchema.safeParse(obj);
  if (!r.success) fail('invalid Fleet webhook body', zodIssues(r.error.issues));
  return Array.isArray(r.data.details) ? r.data.details : [r.data.details];
}

const KafkaRestBodySchema = z.object({
  records: z.array(z.object({ value: z.unknown() }, { error: 'each record must be an object with a value' })),
});

function fail(message: string, issues: { path: string; message: string }[] = []): never {
  throw new InputError(message, issues, 'send NDJSON result lines, a Fleet webhook body ({"timestamp","details":[…]}, or an array of {"timestamp","details":{…}}) or a Kafka REST body {"records":[{"value":…}]}');
}

/** More lines than a request may carry (fleet.http.max_lines): 413, nothing ingested. */
export class TooManyLinesError extends Error {
  readonly statusCode = 413;
  constructor(readonly maxLines: number) {
    super(`request holds more than ${maxLines} result lines`);
  }
}

/** The non-blank lines of `text`; stops counting (and throws) past maxLines rather than splitting it all. */
function splitLines(text: string, maxLines: number): string[] {
  const out: string[] = [];
  for (let at = 0; at <= text.length; ) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl > at && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
    at = nl + 1;
    if (line.trim() === '') continue;
    if (out.length === maxLines) throw new TooManyLinesError(maxLines);
    out.push(line);
  }
  return out;
}

function bounded<T>(lines: T[], maxLines: number): T[] {
  if (lines.length > maxLines) throw new TooManyLinesError(maxLines);
  return lines;
}

/**
 * A wrapper's lines, its JSON-string lines with lone surrogates escaped again: JSON.parse of the body decoded
 * `"\ud800"` into the line's text, and the ingest service looks for such escapes only (text decoded from bytes
 * cannot hold a lone surrogate, so it does not scan every line for one).
 */
function wrapperLines(lines: unknown[]): unknown[] {
  return lines.map((l) => (typeof l === 'string' ? escapeLoneSurrogates(l) : l));
}

/** Throws InputError for a body that is none of the shapes, TooManyLinesError past `maxLines` lines. */
export function decodeIngestBody(body: Buffer | string | undefined, maxLines = Infinity): DecodedIngestBody {
  let text = typeof body === 'string' ? body : (body?.toString('utf8') ?? '');
  // a UTF-8 byte-order mark (some HTTP clients write one): JSON.parse refuses it
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const start = text.search(/\S/);
  if (start < 0) fail('empty body');
  const first = text[start];

  if (first === '[') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      fail(`body starts with [ but is not a JSON array: ${(err as Error).message}`);
    }
    const items = bounded(parsed as unknown[], maxLines);
    // Fleet's per-line webhook variant: an array of wrappers, each unwrapped; other elements are lines
    if (!items.some(isWebhookWrapper)) return { shape: 'array', lines: wrapperLines(items) };
    const lines: unknown[] = [];
    for (const item of items) {
      for (const l of unwrapElement(item)) lines.push(l);
      if (lines.length > maxLines) throw new TooManyLinesError(maxLines);
    }
    return { shape: 'webhook', lines: wrapperLines(lines) };
  }

  if (first === '{') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // several objects, one per line: NDJSON (each line is judged on its own by the ingest service)
      return { shape: 'ndjson', lines: splitLines(text, maxLines) };
    }
    const obj = parsed as Record<string, unknown>;
    if (isWebhookWrapper(obj)) {
      // counted before the schema walks every element
      if (Array.isArray(obj.details)) bounded(obj.details, maxLines);
      return { shape: 'webhook', lines: wrapperLines(bounded(webhookLines(obj as Record<string, unknown>), maxLines)) };
    }
    if ('records' in obj && !('name' in obj)) {
      if (Array.isArray(obj.records)) bounded(obj.records, maxLines);
      const r = KafkaRestBodySchema.safeParse(obj);
      if (!r.success) fail('invalid Kafka REST body', zodIssues(r.error.issues));
      return { shape: 'kafka', lines: wrapperLines(bounded(r.data.records, maxLines).map((rec) => rec.value)) };
    }
    // a single result line
    return { shape: 'ndjson', lines: [obj] };
  }

  // not JSON at all at the start: still NDJSON, whose bad lines the ingest service quarantines
  return { shape: 'ndjson', lines: splitLines(text, maxLines) };
}
