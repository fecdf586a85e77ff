import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fleetServeConfigShape } from '../../src/config/fleet-serve.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { DetectionSchema } from '../../src/schemas/detection.js';
import { detectionsTable } from '../../fleet/cli/format.js';
import { createSinks } from '../../fleet/sinks/index.js';
import { JsonlFileSink, JsonlStreamSink } from '../../fleet/sinks/jsonl.js';
import { OCSF_CLASS_UID, ocsfEventUid, toOcsf } from '../../fleet/sinks/ocsf.js';
import { claimSpool } from '../../fleet/sinks/spool-owner.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { MemoryStream, freePort, sampleDetection, waitFor } from './serve-fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sinks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type Ocsf = ReturnType<typeof toOcsf> & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('OCSF Detection Finding mapping', () => {
  it('states an invalid code signature with a state OCSF 1.3.0 has (99 Other: Bad came in a later version)', () => {
    const base = sampleDetection();
    const f = toOcsf(sampleDetection({ process_chain: [{ ...base.process_chain[0]!, signature_class: 'invalid' }] })) as Ocsf;
    expect(f.evidences[0].process.file.signature).toMatchObject({ state_id: 99, state: 'Invalid' });
  });

  it('puts a sub-technique (AN1415: T1048.002) in attacks[].sub_technique and its parent in attacks[].technique', () => {
    const [attack] = (toOcsf(sampleDetection({ analytic: 'AN1415', attack_technique: 'T1048.002' })) as Ocsf).finding_info.attacks;
    expect(attack.technique).toEqual({ uid: 'T1048', name: 'Exfiltration Over Alternative Protocol' });
    expect(attack.sub_technique).toEqual({ uid: 'T1048.002', name: 'Exfiltration Over Asymmetric Encrypted Non-C2 Protocol' });
    const [plain] = (toOcsf(sampleDetection({ attack_technique: 'T1041' })) as Ocsf).finding_info.attacks;
    expect(plain.technique.uid).toBe('T1041');
    expect(plain.sub_technique).toBeUndefined();
  });

  it('maps a new detection to class 2004 with the required attributes', () => {
    const d = sampleDetection();
    const f = toOcsf(d) as Ocsf;
    expect(f).toMatchObject({
      class_uid: OCSF_CLASS_UID,
      class_name: 'Detection Finding',
      category_uid: 2,
      category_name: 'Findings',
      activity_id: 1,
      activity_name: 'Create',
      type_uid: 200401,
      severity_id: 4,
      severity: 'High',
      status_id: 1,
      risk_score: 82,
      risk_level_id: 3,
      time: d.updated_at * 1000,
      start_time: d.first_seen * 1000,
      end_time: d.last_seen * 1000,
      count: 1,
      metadata: { version: '1.3.0', product: { name: 'Outflow' }, uid: ocsfEventUid(d), correlation_uid: d.suppression_key },
      device: { uid: d.host_id, hostname: 'studio-14.local' },
    });
    expect(f.finding_info).toMatchObject({
      uid: d.id,
      types: ['AN0990', 'rare_destination'],
      analytic: { uid: 'AN0990', name: d.analytic_name, type_id: 1, type: 'Rule' },
      attacks: [{ technique: { uid: 'T1041', name: 'Exfiltration Over C2 Channel' }, tactic: { uid: 'TA0010', name: 'Exfiltration' } }],
      first_seen_time: d.first_seen * 1000,
      last_seen_time: d.last_seen * 1000,
    });
    const [flow, precursor] = f.evidences;
    expect(flow.connection_info).toMatchObject({ protocol_name: 'tcp', protocol_num: 6, direction_id: 2, uid: 'flow-abc' });
    expect(flow.dst_endpoint).toEqual({ ip: '198.51.100.23', port: 443, domain: 'example-upload.net', hostname: 'files.example-upload.net' });
    expect(flow.data).toMatchObject({ bytes_out: 8_126_464, bytes_in: 8_192, pcr: 0.998 });
    // the chain nests flow process → group root
    expect(flow.process.pid).toBe(60311);
    expect(flow.process.file.path).toBe(d.process.path);
    expect(flow.process.file.signature).toMatchObject({ algorithm_id: 99, algorithm: 'Apple Code Signing', digest: { algorithm: 'cdhash', value: '3f1a9c' } });
    expect(flow.process.parent_process.pid).toBe(60200);
    expect(flow.process.parent_process.file.signature.developer_uid).toBe('ABCDE12345');
    expect(flow.process.parent_process.parent_process).toBeUndefined();
    expect(precursor.file.path).toBe('/Users/ana/Library/Keychains/login.keychain-db');
    expect(precursor.data).toMatchObject({ kind: 'sensitive_access', category: 'keychain', tier: 1, gap_seconds: 60 });
    expect(f.unmapped.outflow.fleet).toEqual(d.fleet);
  });

  it('marks suppressed repeats as Update, warming baselines as low confidence, raw IPs without a domain', () => {
    const d = sampleDetection({ count: 3, updated_at: sampleDetection().created_at + 600, baseline_warming: true, severity: 'medium', destination_key: '198.51.100.23' });
    const f = toOcsf(d) as Ocsf;
    expect(f).toMatchObject({ activity_id: 2, activity_name: 'Update', type_uid: 200402, confidence_id: 1, severity_id: 3, count: 3 });
    expect(f.evidences[0].dst_endpoint.domain).toBeUndefined();
  });

  it('exports a one-flow detection changed after its creation (a later report of the same flow) as an Update', () => {
    const created = sampleDetection();
    const d = sampleDetection({ count: 1, updated_at: created.created_at + 300, last_seen: created.last_seen + 300 });
    const f = toOcsf(d) as Ocsf;
    expect(f).toMatchObject({ activity_id: 2, activity_name: 'Update', type_uid: 200402, count: 1 });
    expect(f.status_id).toBeUndefined();
    // the outbox knows better: not yet offered to this receiver, it is still a Create there
    expect(toOcsf(d, true)).toMatchObject({ activity_id: 1, type_uid: 200401, status_id: 1 });
  });

  it('dates an Update by the detection\'s last change: time and modified times from updated_at, created and logged times from created_at', () => {
    const created = sampleDetection();
    const d = sampleDetection({ count: 2, updated_at: created.created_at + 3600, last_seen: created.last_seen + 3600 });
    const f = toOcsf(d) as Ocsf;
    expect(f).toMatchObject({ time: d.updated_at * 1000, start_time: d.first_seen * 1000, end_time: d.last_seen * 1000 });
    expect(f.metadata).toMatchObject({ logged_time: d.created_at * 1000, modified_time: d.updated_at * 1000 });
    expect(f.finding_info).toMatchObject({ created_time: d.created_at * 1000, modified_time: d.updated_at * 1000 });
  });

  it('gives each version its own metadata.uid (an event instance), while finding_info.uid names the detection', () => {
    const created = sampleDetection();
    const updated = sampleDetection({ count: 2, updated_at: created.created_at + 600, last_seen: created.last_seen + 600 });
    const [a, b] = [toOcsf(created) as Ocsf, toOcsf(updated) as Ocsf];
    expect(a.finding_info.uid).toBe(b.finding_info.uid);
    expect(a.metadata.uid).not.toBe(b.metadata.uid);
    // a re-delivery of one version is the same event
    expect((toOcsf(structuredClone(updated)) as Ocsf).metadata.uid).toBe(b.metadata.uid);
    // a fold that moved only last_seen (a late line of a counted flow) is another version, another event
    expect((toOcsf({ ...updated, last_seen: updated.last_seen + 120 }) as Ocsf).metadata.uid).not.toBe(b.metadata.uid);
    // the status is set by the Create only: an Update must not reset an analyst's "In Progress"
    expect([a.status_id, b.status_id]).toEqual([1, undefined]);
  });

  it('uses only attributes OCSF 1.3.0 defines (is_alert and evidences[].name came in 1.4; no code-signing algorithm id)', () => {
    const f = toOcsf(sampleDetection()) as Ocsf;
    expect(f.metadata.version).toBe('1.3.0');
    expect('is_alert' in f).toBe(false);
    expect(f.evidences.every((e: Ocsf) => !('name' in e))).toBe(true);
    expect(f.evidences[0].process.file.signature.algorithm_id).toBe(99);
    expect('original_time' in f.metadata).toBe(false);
  });

  it('lists the pivots a SIEM indexes as observables', () => {
    const d = sampleDetection();
    const f = toOcsf(d) as Ocsf;
    expect(f.observables).toEqual(
      expect.arrayContaining([
        { name: 'device.hostname', type_id: 1, type: 'Hostname', value: d.hostname },
        { name: 'evidences[0].dst_endpoint.ip', type_id: 2, type: 'IP Address', value: d.flow.remote_address },
      ]),
    );
  });

  it('is deterministic and JSON-serialisable', () => {
    const d = sampleDetection();
    expect(JSON.stringify(toOcsf(d))).toBe(JSON.stringify(toOcsf(structuredClone(d))));
  });
});

describe('detections table', () => {
  it('keeps a long destination\'s registrable domain and port, and names app bundles rather than their binaries', () => {
    const d = sampleDetection({ destination_key: 'acme-finance-q3-exports-2026-archive.s3.us-west-2.amazonaws.com' });
    d.process.path = '/Applications/Visual Studio Code.app/Contents/MacOS/Electron';
    const row = detectionsTable([d]).split('\n')[1]!;
    expect(row).toContain('amazonaws.com:443');
    expect(row).toContain('Visual Studio Code');
    expect(row).not.toContain('Electron');
  });

  it('fits the terminal it is given by narrowing destination, process, host and analytic; a pipe gets whole cells', () => {
    const d = sampleDetection({ destination_key: 'acme-finance-q3-exports-2026-archive.s3.us-west-2.amazonaws.com', baseline_warming: true });
    for (const width of [100, 120]) {
      const lines = detectionsTable([d], width).split('\n');
      expect(Math.max(...lines.slice(0, -1).map((l) => l.length))).toBeLessThanOrEqual(width);
    }
    const wide = detectionsTable([d]).split('\n');
    expect(wide[1]).toContain('.s3.us-west-2.amazonaws.com:443');
    // a warming baseline is marked, and the mark is explained
    expect(wide[1]).toMatch(/ \d+\*/);
    expect(wide.at(-1)).toMatch(/^1 detection \(\* baseline warming/);
  });
});

describe('JSON lines sinks', () => {
  it('append one detection per line to a file, across sink instances', async () => {
    const file = path.join(dir, 'out', 'detections.jsonl');
    const a = new JsonlFileSink(file, (d) => d);
    await a.write([sampleDetection({ id: 'one' }), sampleDetection({ id: 'two' })]);
    await a.close();
    const b = new JsonlFileSink(file, toOcsf);
    await b.write([sampleDetection({ id: 'three' })]);
    await b.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(DetectionSchema.parse(lines[0]).id).toBe('one');
    expect(DetectionSchema.parse(lines[1]).id).toBe('two');
    expect(lines[2]).toMatchObject({ class_uid: 2004, finding_info: { uid: 'three' } });
  });

  it('write to a named pipe (a log shipper\'s), which has nothing to sync to disk', async () => {
    const fifo = path.join(dir, 'shipper.fifo');
    execFileSync('mkfifo', [fifo]);
    const received = new Promise<string>((resolve, reject) => {
      let text = '';
      createReadStream(fifo, 'utf8')
        .on('data', (c) => (text += c))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    const sink = new JsonlFileSink(fifo, (d) => d);
    await sink.write([sampleDetection({ id: 'piped' })]);
    await sink.close();
    expect(JSON.parse((await received).trim())).toMatchObject({ id: 'piped' });
  });

  it('report an unwritable path as SINK_FAILED', async () => {
    const notADir = path.join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const sink = new JsonlFileSink(path.join(notADir, 'sub', 'detections.jsonl'), (d) => d);
    await expect(sink.write([sampleDetection()])).rejects.toMatchObject({ code: 'SINK_FAILED' });
  });

  it('report a broken stdout pipe (EPIPE) as SINK_FAILED instead of crashing the process', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const sink = new JsonlStreamSink(broken, (d) => d);
      await expect(sink.write([sampleDetection()])).rejects.toMatchObject({ code: 'SINK_FAILED' });
      // the stream is destroyed now; later batches fail the same way
      await expect(sink.write([sampleDetection()])).rejects.toMatchObject({ code: 'SINK_FAILED' });
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')('close the file after a failed append instead of leaking a descriptor per retry', async () => {
    // /dev/full opens fine and fails every write with ENOSPC: the disk-full case of a long-running serve.
    const sink = new JsonlFileSink('/dev/full', (d) => d);
    const openFds = () => readdirSync('/proc/self/fd').length;
    await expect(sink.write([sampleDetection()])).rejects.toMatchObject({ code: 'SINK_FAILED' });
    const before = openFds();
    for (let i = 0; i < 20; i++) await expect(sink.write([sampleDetection()])).rejects.toMatchObject({ code: 'SINK_FAILED' });
    // a little slack for descriptors the test runner itself may open meanwhile; a leak adds 20
    expect(openFds()).toBeLessThan(before + 5);
    await sink.close();
  });
});

describe('sink config switch', () => {
  it('builds stdout, file and webhook sinks from validated config', async () => {
    const sinks = fleetServeConfigShape.sinks.parse([
      { type: 'stdout', format: 'ocsf' },
      { type: 'file', path: path.join(dir, 'd.jsonl') },
      { type: 'webhook', url: 'http://127.0.0.1:9/hook', secret: 'a-long-enough-secret', spool_dir: path.join(dir, 'spool') },
    ]);
    const stdout = new MemoryStream();
    const built = await createSinks(sinks, { log: silentLogger(), stdout });
    expect(built.map((s) => s.constructor.name)).toEqual(['JsonlStreamSink', 'JsonlFileSink', 'WebhookSink']);
    expect((built[2] as WebhookSink).pending).toBe(0);
    await built[0]!.write([sampleDetection()]);
    expect((stdout.lines()[0] as { class_uid: number }).class_uid).toBe(2004);
    for (const s of built) await s.close();
  });

  it('a webhook built from config logs its name once per line (a key twice breaks some log pipelines)', async () => {
    const port = await freePort();
    const sinks = fleetServeConfigShape.sinks.parse([
      { type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: 'a-long-enough-secret', spool_dir: path.join(dir, 'spool-log'), backoff: { initial_ms: 20, max_ms: 20 } },
    ]);
    const logs = new MemoryStream();
    const [webhook] = await createSinks(sinks, { log: createLogger({ destination: logs, level: 'warn' }) });
    await webhook!.write([sampleDetection()]);
    await waitFor(() => logs.text.includes('retry'), 'a retry line');
    await webhook!.close();
    const line = logs.text.split('\n').find((l) => l.includes('retry'))!;
    expect(line.match(/"sink":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ component: 'sink', sink: 'webhook#0', seq: 1 });
  });

  it('refuses a file sink whose path is a directory at start, before any webhook sink starts delivering', async () => {
    const spool = path.join(dir, 'spool-first');
    const sinks = fleetServeConfigShape.sinks.parse([
      { type: 'webhook', url: 'http://127.0.0.1:9/hook', secret: 'a-long-enough-secret', spool_dir: spool },
      { type: 'file', path: dir },
    ]);
    await expect(createSinks(sinks, { log: silentLogger() })).rejects.toThrow(`fleet.sinks.1.path ${dir} is a directory`);
    // the webhook was never built: its spool is free
    expect(existsSync(spool)).toBe(false);
  });

  it('a webhook sink refused (its spool in use) stops the sinks built before it, which give their spools back', async () => {
    const [a, b] = [path.join(dir, 'spool-a'), path.join(dir, 'spool-b')];
    mkdirSync(b);
    // a batch left from an earlier run: sink a starts delivering it (to nothing) as it is built
    mkdirSync(a);
    writeFileSync(path.join(a, '0000000000000001.json'), JSON.stringify({ source: 'outflow', detections: [] }));
    const holder = claimSpool(b); // another fleet serve on this host
    try {
      const sinks = fleetServeConfigShape.sinks.parse([
        { type: 'webhook', url: 'http://127.0.0.1:9/a', secret: 'a-long-enough-secret', spool_dir: a },
        { type: 'webhook', url: 'http://127.0.0.1:9/b', secret: 'a-long-enough-secret', spool_dir: b },
      ]);
      await expect(createSinks(sinks, { log: silentLogger() })).rejects.toThrow(/webhook spool .*spool-b is in use by process/);
      // the first sink is closed by then and gave spool-a back: a corrected retry can take it at once
      claimSpool(a)();
    } finally {
      holder();
    }
  });

  it('defaults to JSON on stdout and rejects a webhook without exactly one secret source', () => {
    expect(fleetServeConfigShape.sinks.parse(undefined)).toEqual([{ type: 'stdout', format: 'json' }]);
    const r = fleetServeConfigShape.sinks.safeParse([{ type: 'webhook', url: 'http://127.0.0.1/x' }]);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('secret');
    expect(fleetServeConfigShape.sinks.safeParse([{ type: 'webhook', url: 'ftp://x', secret: 'a-long-enough-secret' }]).success).toBe(false);
    // fetch refuses credentials in a URL: every delivery would fail and be retried forever, logging the password
    const creds = fleetServeConfigShape.sinks.safeParse([{ type: 'webhook', url: 'https://user:pa55@siem.example.com/hook', secret: 'a-long-enough-secret' }]);
    expect(creds.success).toBe(false);
    expect(JSON.stringify(creds.error?.issues)).toContain('a webhook URL cannot carry credentials');
    expect(fleetServeConfigShape.sinks.safeParse([{ type: 'webhook', url: 'https://siem.example.com/hook?tenant=a@b', secret: 'a-long-enough-secret' }]).success).toBe(true);
    expect(fleetServeConfigShape.sinks.safeParse([{ type: 'kafka' }]).success).toBe(false);
  });
});
