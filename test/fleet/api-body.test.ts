import { describe, expect, it } from 'vitest';
import { bearerMatches, resolveApiToken } from '../../fleet/api/auth.js';
import { decodeIngestBody } from '../../fleet/api/ingest-body.js';
import { HttpConfigSchema } from '../../src/config/fleet-serve.js';

const line = { name: 'pack/Global/outflow_apps', hostIdentifier: 'H1', unixTime: 1772531580, counter: 1, columns: { identity: 'x' }, action: 'added' };

describe('POST /v1/ingest body shapes', () => {
  it.each([
    ['NDJSON', `${JSON.stringify(line)}\n${JSON.stringify(line)}\n`, 'ndjson', 2],
    ['NDJSON with CRLF and blank lines', `\r\n${JSON.stringify(line)}\r\n\r\n${JSON.stringify(line)}`, 'ndjson', 2],
    ['a single line object', JSON.stringify(line), 'ndjson', 1],
    ['Fleet webhook', JSON.stringify({ timestamp: '2026-03-03T09:53:00Z', details: [line, JSON.stringify(line), line] }), 'webhook', 3],
    ['Fleet webhook without timestamp', JSON.stringify({ details: [] }), 'webhook', 0],
    ['Kafka REST', JSON.stringify({ records: [{ value: line }, { value: JSON.stringify(line), key: 'k' }] }), 'kafka', 2],
    ['a JSON array', JSON.stringify([line, line]), 'array', 2],
    // fleetdm/fleet server/logging/webhook.go in the versions that take a bearer token: one wrapper per line
    ['Fleet webhook, one wrapper per line', JSON.stringify([{ timestamp: '2026-03-03T09:53:00.1Z', details: line }, { timestamp: '2026-03-03T09:53:00.1Z', details: JSON.stringify(line) }]), 'webhook', 2],
    ['one Fleet webhook wrapper of one line', JSON.stringify({ timestamp: '2026-03-03T09:53:00Z', details: line }), 'webhook', 1],
    ['a webhook body after a UTF-8 byte-order mark', `\ufeff${JSON.stringify({ details: [line, line] })}`, 'webhook', 2],
    ['garbage lines (left for quarantine)', 'not json\nalso not', 'ndjson', 2],
  ])('%s', (_name, body, shape, n) => {
    const d = decodeIngestBody(Buffer.from(body));
    expect(d.shape).toBe(shape);
    expect(d.lines).toHaveLength(n);
  });

  it('unwraps per-line webhook wrappers in order and counts their lines against the cap', () => {
    const other = { ...line, hostIdentifier: 'H2' };
    expect(decodeIngestBody(JSON.stringify([{ details: line }, other, { details: [other, line] }])).lines).toEqual([line, other, other, line]);
    expect(() => decodeIngestBody(JSON.stringify([{ details: [line, line] }, { details: [line, line] }]), 3)).toThrow(expect.objectContaining({ statusCode: 413 }));
  });

  it('passes an array element with nothing usable in details on whole, for quarantine, rather than refusing the array or dropping it', () => {
    for (const bad of [{ hostIdentifier: 'H9', details: null }, { hostIdentifier: 'H9', details: 5 }, { hostIdentifier: 'H9', details: ' ' }]) {
      expect(decodeIngestBody(JSON.stringify([line, { details: line }, bad])).lines, JSON.stringify(bad)).toEqual([line, line, bad]);
    }
    // an empty batch is no lines, in an array as alone
    expect(decodeIngestBody(JSON.stringify([line, { timestamp: '2026-03-03T09:53:00Z', details: [] }])).lines).toEqual([line]);
  });

  it('lists at most 20 issues and counts the rest (an error answer stays small)', () => {
    try {
      decodeIngestBody(JSON.stringify({ records: Array.from({ length: 1000 }, () => 1) }));
      expect.unreachable();
    } catch (err) {
      const issues = (err as { issues: { path: string; message: string }[] }).issues;
      expect(issues).toHaveLength(21);
      expect(issues[20]).toEqual({ path: '', message: 'and 980 more issues like these' });
    }
  });

  it('keeps NDJSON lines as raw strings and wrapper lines as given', () => {
    expect(decodeIngestBody(`${JSON.stringify(line)}\n{"broken`).lines).toEqual([JSON.stringify(line), '{"broken']);
    expect(decodeIngestBody(JSON.stringify({ records: [{ value: line }] })).lines).toEqual([line]);
  });

  it.each([
    ['empty', ''],
    ['whitespace', ' \n\t '],
    ['details neither lines nor a line', '{"details":5}'],
    ['records without value objects', '{"records":["x"]}'],
    ['broken array', '[{"a":1},'],
  ])('rejects %s with an InputError', (_name, body) => {
    expect(() => decodeIngestBody(body)).toThrow(expect.objectContaining({ code: 'INPUT_INVALID', isClientError: true }));
  });

  it('treats an osquery line that happens to carry a details column as a line', () => {
    const odd = { ...line, details: 'x' };
    expect(decodeIngestBody(JSON.stringify(odd))).toEqual({ shape: 'ndjson', lines: [odd] });
  });
});

describe('bearer token', () => {
  const token = 'a-token-of-enough-length';
  it.each([
    [`Bearer ${token}`, true],
    [`bearer ${token}`, true],
    [`Bearer   ${token}  `, true],
    [`Bearer ${token}x`, false],
    [`Bearer ${token.slice(0, -1)}`, false],
    ['Bearer ', false],
    [token, false],
    [`Basic ${token}`, false],
    [undefined, false],
  ])('%s → %s', (header, ok) => {
    expect(bearerMatches(token, header)).toBe(ok);
  });

  it('comes from OUTFLOW_HTTP_TOKEN, token_file or token, and is required', () => {
    const http = HttpConfigSchema.parse({ token: 'config-token-0123456789' });
    expect(resolveApiToken(http, {})).toBe('config-token-0123456789');
    expect(resolveApiToken(http, { OUTFLOW_HTTP_TOKEN: 'env-token-0123456789ab' })).toBe('env-token-0123456789ab');
    expect(() => resolveApiToken(HttpConfigSchema.parse({}), {})).toThrow(/fleet.http.*token/);
    expect(() => resolveApiToken(http, { OUTFLOW_HTTP_TOKEN: 'short' })).toThrow(/16 characters/);
    expect(() => resolveApiToken(HttpConfigSchema.parse({ token_file: '/nonexistent/token' }), {})).toThrow(/token_file/);
    expect(HttpConfigSchema.safeParse({ token: 'short' }).success).toBe(false);
  });

  it('trims a configured token as it trims the others (a YAML block scalar ends in a newline)', () => {
    const token = resolveApiToken(HttpConfigSchema.parse({ token: ' config-token-0123456789\n' }), {});
    expect(token).toBe('config-token-0123456789');
    expect(bearerMatches(token, 'Bearer config-token-0123456789')).toBe(true);
    expect(() => resolveApiToken(HttpConfigSchema.parse({ token: '   short-token    ' }), {})).toThrow(/shorter than 16 characters/);
  });
});
