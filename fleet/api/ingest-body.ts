/**
 * POST /v1/ingest bodies (SPEC §5, formats.md §6.5) → raw result lines for the ingest service.
 * Pure: no I/O, no logging.
 *
 *  - NDJSON: one osquery result line per `\n` (Fleet's filesystem/stdout output, `curl --data-binary @file`);
 *  - Fleet webhook: `{"timestamp": "<RFC3339>", "details": [<line>, …]}`;
 *  - Kafka REST proxy: `{"records": [{"value": <line>}, …]}` (Fleet's kafkarest destination);
 *  - a JSON array of lines.
 * Lines inside wrappers may be objects or JSON strings; both are passed through and the ingest service
 * parses (or quarantines) each one, so one bad line never rejects the batch.
 */
import { z } from 'zod';
import { InputError, zodIssues } from '../../src/errors.js';

export type IngestShape = 'ndjson' | 'webhook' | 'kafka' | 'array';

export interface DecodedIngestBody {
  shape: IngestShape;
  lines: unknown[];
}

const WebhookBodySchema = z.object({
  timestamp: z.string().optional(),
  details: z.array(z.unknown()),
});

const KafkaRestBodySchema = z.object({
  records: z.array(z.object({ value: z.unknown() }, { error: 'each record must be an object with a value' })),
});

function fail(message: string, issues: { path: string; message: string }[] = []): never {
  throw new InputError(message, issues, 'send NDJSON result lines, a Fleet webhook body {"timestamp","details":[…]} or a Kafka REST body {"records":[{"value":…}]}');
}

function splitLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() !== '') out.push(line);
  }
  return out;
}

export function decodeIngestBody(body: Buffer | string | undefined): DecodedIngestBody {
  const text = typeof body === 'string' ? body : (body?.toString('utf8') ?? '');
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
    return { shape: 'array', lines: parsed as unknown[] };
  }

  if (first === '{') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // several objects, one per line: NDJSON (each line is judged on its own by the ingest service)
      return { shape: 'ndjson', lines: splitLines(text) };
    }
    const obj = parsed as Record<string, unknown>;
    if ('details' in obj && !('name' in obj)) {
      const r = WebhookBodySchema.safeParse(obj);
      if (!r.success) fail('invalid Fleet webhook body', zodIssues(r.error.issues));
      return { shape: 'webhook', lines: r.data.details };
    }
    if ('records' in obj && !('name' in obj)) {
      const r = KafkaRestBodySchema.safeParse(obj);
      if (!r.success) fail('invalid Kafka REST body', zodIssues(r.error.issues));
      return { shape: 'kafka', lines: r.data.records.map((rec) => rec.value) };
    }
    // a single result line
    return { shape: 'ndjson', lines: [obj] };
  }

  // not JSON at all at the start: still NDJSON, whose bad lines the ingest service quarantines
  return { shape: 'ndjson', lines: splitLines(text) };
}
