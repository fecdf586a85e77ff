/**
 * Shared by the sink, API, scheduler and serve tests: a realistic detection, a real local HTTP
 * receiver that can fail on purpose, and a bounded wait.
 */
import { once } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { DetectionSchema, type Detection } from '../../src/schemas/detection.js';

const T0 = 1_772_531_580;

export function sampleDetection(over: Partial<Detection> = {}): Detection {
  const base: Detection = {
    id: 'det-0001',
    analytic: 'AN0990',
    analytic_name: 'Sensitive data access followed by encrypted egress',
    attack_technique: 'T1041',
    attack_tactic: 'TA0010 Exfiltration',
    host_id: '9E1D2C4B-6A7F-4C3B-8E21-D4F5A6B7C8E9',
    hostname: 'studio-14.local',
    branch: 'rare_destination',
    baseline_warming: false,
    score: 82,
    severity: 'high',
    modifiers: ['+15:rare_destination'],
    suppression_key: '9E1D2C4B-6A7F-4C3B-8E21-D4F5A6B7C8E9|AN0990|team:ABCDE12345/com.example.agent|example-upload.net',
    count: 1,
    bytes_out_total: 8_126_464,
    bytes_in_total: 8_192,
    first_seen: T0 - 30,
    last_seen: T0,
    created_at: T0 + 120,
    updated_at: T0 + 120,
    destination_key: 'example-upload.net',
    flow: {
      flow_id: 'flow-abc',
      protocol: 'tcp',
      family: 4,
      local_address: '192.168.1.20',
      local_port: 53122,
      remote_address: '198.51.100.23',
      remote_port: 443,
      remote_scope: 'public',
      service: 'tls',
      service_evidence: 'handshake',
      server_name: 'files.example-upload.net',
      interface: 'en0',
      state: 'Established',
      bytes_in: 8_192,
      bytes_out: 8_126_464,
      pcr: 0.998,
      first_seen: T0 - 30,
      last_seen: T0,
      duration: 30,
      closed: 0,
    },
    flow_ids: ['flow-abc'],
    process: {
      pid: 60311,
      path: '/Users/ana/Library/Application Support/agent/agent',
      identity: 'cdhash:3f1a9c',
      signature_class: 'adhoc',
      team_id: '',
      signing_id: 'agent',
      cdhash: '3f1a9c',
      first_seen: T0 - 3600,
      hosts: 1,
    },
    process_start: T0 - 600,
    group_root: { pid: 60200, path: '/Users/ana/Library/Application Support/agent/launcher', identity: 'team:ABCDE12345/com.example.agent', launchd_job: true },
    process_chain: [
      {
        pid: 60311,
        path: '/Users/ana/Library/Application Support/agent/agent',
        identity: 'cdhash:3f1a9c',
        signature_class: 'adhoc',
        team_id: '',
        signing_id: 'agent',
        cdhash: '3f1a9c',
        first_seen: T0 - 3600,
        hosts: 1,
      },
      {
        pid: 60200,
        path: '/Users/ana/Library/Application Support/agent/launcher',
        identity: 'team:ABCDE12345/com.example.agent',
        signature_class: 'developer_id',
        team_id: 'ABCDE12345',
        signing_id: 'com.example.agent',
        cdhash: '9b2e77',
        first_seen: T0 - 86_400,
        hosts: 2,
      },
    ],
    precursors: [
      {
        kind: 'sensitive_access',
        time: T0 - 90,
        path: '/Users/ana/Library/Keychains/login.keychain-db',
        category: 'keychain',
        tier: 1,
        pid: 60311,
        gap: 60,
        archive_output: '',
      },
    ],
    reasons: ['tier1_precursor', 'upload_shaped', 'non_browser'],
    browser: false,
    sanctioned: false,
    fleet: {
      active_hosts: 240,
      baseline_start: T0 - 20 * 86_400,
      window_kept_from: null,
      destination_key: 'example-upload.net',
      destination_hosts: 1,
      destination_first_seen: T0 - 30,
      destination_saturated: false,
      rare_threshold: 3,
      common_threshold: 24,
      pair_upload_hosts: 1,
      app_first_seen: T0 - 3600,
      app_hosts: 1,
    },
  };
  // parsing keeps the fixture honest when the schema changes
  return DetectionSchema.parse({ ...base, ...over });
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

/**
 * A real HTTP receiver on 127.0.0.1. `respond` decides each status code (in arrival order), so a
 * test can make it fail and then recover (status 0 = never answer); `stop()`/`start(port)` make
 * connections be refused.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  private server: http.Server | undefined;
  port = 0;

  constructor(public respond: (req: { index: number; body: Buffer }) => number = () => 200) {}

  get delivered(): ReceivedRequest[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  async start(port = 0): Promise<number> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const status = this.respond({ index: this.requests.length, body });
        this.requests.push({ headers: req.headers, body, status });
        if (status === 0) return; // hang: never answer (the client must time out)
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope');
      });
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }
}

/** A port nothing listens on (bound once, then released): connections are refused. */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Poll `cond` every 20 ms until true; fail with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A Writable that keeps what was written (pino destination, stdout sink). */
export class MemoryStream extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
  lines(): unknown[] {
    return this.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown);
  }
}
