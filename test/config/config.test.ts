import { readFileSync, rmSync, symlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig, loadConfig, parseConfig } from '../../src/config/index.js';
import { InputError, OutflowError } from '../../src/errors.js';
import { CONFIG_DOC, renderConfigDoc } from '../../scripts/gen-config-doc.js';

describe('config', () => {
  it('has the spec defaults', () => {
    const c = defaultConfig();
    expect(c.flows.sample_interval).toBe(5);
    expect(c.flows.retention).toBe(900);
    expect(c.events.retention).toBe(1800);
    expect(c.events.max_events).toBe(50_000);
    expect(c.analytics.precursor_window).toBe(900);
    expect(c.analytics.upload_shaped).toEqual({ min_pcr: 0.8, min_bytes_out: 1024 * 1024 });
    expect(c.analytics.rare).toEqual({ min_hosts: 3, fraction: 0.01 });
    expect(c.analytics.common).toEqual({ min_hosts: 10, fraction: 0.1 });
    expect(c.fleet.store).toBe('./outflow.db');
  });

  it('refuses webhook headers HTTP cannot send, naming the header (the sink had retried such a batch for ever)', () => {
    const sink = (headers: Record<string, string>) => ({ fleet: { sinks: [{ type: 'webhook', url: 'http://127.0.0.1:9000/hook', secret: '0123456789abcdef0123', headers }] } });
    const bad: Record<string, string>[] = [{ Authorization: 'Splunk 0000-…' }, { Authorization: 'Bearer abc\r\nX-Injected: 1' }, { 'Bad Name': 'x' }, { 'X-Outflow-Signature': 'sha256=0' }, { 'Transfer-Encoding': 'chunked' }, { Connection: 'close' }, { Expect: '100-continue' }];
    for (const headers of bad) {
      expect(() => parseConfig(sink(headers)), JSON.stringify(headers)).toThrow(/fleet\.sinks\.0\.headers/);
    }
    const ok = parseConfig(sink({ Authorization: 'Splunk 6f2c1a4e-0000-4000-8000-000000000000', 'X-Tenant': 'café' }));
    expect(ok.fleet.sinks[0]).toMatchObject({ headers: { Authorization: 'Splunk 6f2c1a4e-0000-4000-8000-000000000000' } });
    // what the check stands for: fetch refuses the first two
    expect(() => new Headers({ Authorization: 'Splunk 0000-…' })).toThrow();
  });

  it('caps fleet.ingest.max_line_bytes where a tailed file\'s buffer is still sane (8 GiB failed at the first read)', () => {
    expect(parseConfig({ fleet: { ingest: { max_line_bytes: 256 * 1024 * 1024 } } }).fleet.ingest.max_line_bytes).toBe(256 * 1024 * 1024);
    expect(() => parseConfig({ fleet: { ingest: { max_line_bytes: 8 * 1024 ** 3 } } })).toThrow(/fleet\.ingest\.max_line_bytes.*at most 268435456/);
  });

  it('rejects unknown keys and bad values, naming the key', () => {
    expect(() => parseConfig({ flowz: {} })).toThrow(InputError);
    try {
      parseConfig({ flows: { sample_interval: 'fast' }, analytics: { rare: { fraction: 3 } } });
      expect.unreachable();
    } catch (err) {
      expect((err as InputError).code).toBe('CONFIG_INVALID');
      expect((err as Error).message).toContain('flows.sample_interval');
      expect((err as Error).message).toContain('analytics.rare.fraction');
    }
  });

  it('refuses two webhook sinks sharing a spool directory (each would send the other\'s batches), naming both', () => {
    const hook = (over: Record<string, unknown> = {}) => ({ type: 'webhook', url: 'https://siem.example/hook', secret: 'x'.repeat(16), ...over });
    // both on the default ./outflow-spool
    expect(() => parseConfig({ fleet: { sinks: [hook(), { type: 'stdout' }, hook({ url: 'https://other.example/in', format: 'ocsf' })] } })).toThrow(
      `fleet.sinks.2.spool_dir: webhook sinks 0 and 2 share the spool directory ${path.resolve('outflow-spool')} (the default is ./outflow-spool); set a spool_dir of its own for each webhook sink`,
    );
    // the same directory spelled two ways
    expect(() => parseConfig({ fleet: { sinks: [hook({ spool_dir: 'spool/a' }), hook({ spool_dir: `${process.cwd()}/spool/./a/` })] } })).toThrow('webhook sinks 0 and 1 share the spool directory');
    // the same directory through a link
    const real = mkdtempSync(path.join(tmpdir(), 'outflow-spool-'));
    const link = `${real}-link`;
    symlinkSync(real, link);
    try {
      expect(() => parseConfig({ fleet: { sinks: [hook({ spool_dir: real }), hook({ spool_dir: path.join(link, '.') })] } })).toThrow('webhook sinks 0 and 1 share the spool directory');
      // through a link to its parent, before the spool itself exists
      expect(() => parseConfig({ fleet: { sinks: [hook({ spool_dir: path.join(real, 'siem') }), hook({ spool_dir: path.join(link, 'siem') })] } })).toThrow('webhook sinks 0 and 1 share the spool directory');
    } finally {
      rmSync(link);
      rmSync(real, { recursive: true });
    }
    // one directory each: fine
    const sinks = parseConfig({ fleet: { sinks: [hook(), hook({ spool_dir: '/var/spool/outflow-ocsf' })] } }).fleet.sinks;
    expect(sinks.map((s) => (s.type === 'webhook' ? s.spool_dir : ''))).toEqual(['./outflow-spool', '/var/spool/outflow-ocsf']);
  });

  it('refuses fleet.http.token with fleet.http.token_file (the file won silently), as webhook sinks refuse secret with secret_file', () => {
    const both = { fleet: { http: { token: 'config-token-0123456789', token_file: '/etc/outflow/http.token' } } };
    expect(() => parseConfig(both)).toThrow(InputError);
    expect(() => parseConfig(both)).toThrow(/fleet\.http\.token: set one of token or token_file, not both \(the file would be used and token ignored\)/);
    expect(parseConfig({ fleet: { http: { token_file: '/etc/outflow/http.token' } } }).fleet.http.token_file).toBe('/etc/outflow/http.token');
    expect(parseConfig({ fleet: { http: { token: 'config-token-0123456789' } } }).fleet.http.token).toBe('config-token-0123456789');
  });

  it('rejects an unknown key at any depth, naming it, whatever section it is in', () => {
    const typos: [Record<string, unknown>, string][] = [
      [{ fleet: { stroe: '/tmp/x.db' } }, 'fleet: Unrecognized key: "stroe"'],
      [{ fleet: { htttp: { port: 1 } } }, 'fleet: Unrecognized key: "htttp"'],
      [{ fleet: { ingest: { filez: ['a.log'] } } }, 'fleet.ingest: Unrecognized key: "filez"'],
      [{ fleet: { retention: { detection_days: 1 } } }, 'fleet.retention: Unrecognized key: "detection_days"'],
      [{ analytics: { suppresion_hours: 1 } }, 'analytics: Unrecognized key: "suppresion_hours"'],
      [{ analytics: { rare: { min_host: 3 } } }, 'analytics.rare: Unrecognized key: "min_host"'],
      [{ tools: { dri: '/x' } }, 'tools: Unrecognized key: "dri"'],
      [{ taxonomy: { add: [{ pattern: '~/x/**', category: 'documents', authorized: [{ team_id: 'T', signing_id_prefix: 'com.x', nmae: 'x' }] }] } }, 'taxonomy.add.0.authorized.0: Unrecognized key: "nmae"'],
    ];
    for (const [raw, message] of typos) {
      expect(() => parseConfig(raw), JSON.stringify(raw)).toThrow(message);
    }
    // keys of maps (records) are data, not schema keys
    expect(parseConfig({ network: { port_map: { 'tcp/9999': 'tls' } } }).network.port_map).toEqual({ 'tcp/9999': 'tls' });
  });

  it('loads YAML files, applies OUTFLOW_TOOL_DIR, and reports a missing file clearly', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-config-'));
    const file = path.join(dir, 'c.yml');
    writeFileSync(file, 'flows:\n  sample_interval: 0.5\nnetwork:\n  internal_ranges: ["198.51.100.0/24"]\n');
    const c = loadConfig(file, { OUTFLOW_TOOL_DIR: '/opt/fake' });
    expect(c.flows.sample_interval).toBe(0.5);
    expect(c.network.internal_ranges).toEqual(['198.51.100.0/24']);
    expect(c.tools.dir).toBe('/opt/fake');
    expect(() => loadConfig(path.join(dir, 'missing.yml'), {})).toThrow(OutflowError);
    writeFileSync(file, 'flows: [unclosed\n');
    expect(() => loadConfig(file, {})).toThrow(/not valid YAML/);
  });

  it('docs/config.md matches the schema defaults (regenerate with scripts/gen-config-doc.ts)', () => {
    expect(readFileSync(CONFIG_DOC, 'utf8')).toBe(renderConfigDoc());
  });
});
