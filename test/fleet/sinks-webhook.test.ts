import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, silentLogger } from '../../src/log.js';
import { createFleetMetrics } from '../../fleet/metrics.js';
import { toOcsf } from '../../fleet/sinks/ocsf.js';
import { signBody, verifySignature } from '../../fleet/sinks/signature.js';
import { WebhookSink, type WebhookBody, type WebhookSinkOptions } from '../../fleet/sinks/webhook.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { claimSpool } from '../../fleet/sinks/spool-owner.js';
import { MemoryStream, TestReceiver, freePort, sampleDetection, waitFor } from './serve-fixtures.js';

const SECRET = 'test-webhook-secret-0123456789';

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'webhook-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function makeSink(url: string, over: Partial<WebhookSinkOptions> = {}): WebhookSink {
  const sink = new WebhookSink({
    name: 'webhook#0',
    url,
    secret: SECRET,
    format: 'json',
    spoolDir: path.join(dir, 'spool'),
    timeoutMs: 2000,
    backoff: { initialMs: 20, maxMs: 150, factor: 2 },
    batchSize: 1,
    maxSpoolBytes: 1 << 20,
    headers: {},
    render: (d) => d,
    log: silentLogger(),
    ...over,
  });
  cleanups.push(() => sink.close());
  return sink;
}

/** A real receiver on 127.0.0.1 (TestReceiver), stopped after the test. */
async function startReceiver(respond?: ConstructorParameters<typeof TestReceiver>[0], port?: number): Promise<TestReceiver> {
  const receiver = new TestReceiver(respond);
  await receiver.start(port);
  cleanups.push(() => receiver.stop());
  return receiver;
}

function bodyOf(b: Buffer): WebhookBody {
  return JSON.parse(b.toString('utf8')) as WebhookBody;
}

function deliveredIds(receiver: TestReceiver): string[] {
  return receiver.delivered.flatMap((r) => bodyOf(r.body).detections.map((d) => (d as { id: string }).id));
}

function spoolFiles(): string[] {
  return readdirSync(path.join(dir, 'spool')).filter((f) => f.endsWith('.json'));
}

describe('webhook sink against a real local receiver', () => {
  it('retries through HTTP 500s and delivers every batch exactly once, in order, signed', async () => {
    const receiver = await startReceiver(({ index }) => (index < 4 ? 500 : 200));
    const metrics = createFleetMetrics();
    const logs = new MemoryStream();
    const sink = makeSink(receiver.url, { metrics, log: createLogger({ destination: logs, level: 'warn' }) });

    await sink.write([sampleDetection({ id: 'd1' }), sampleDetection({ id: 'd2' }), sampleDetection({ id: 'd3' })]);
    await waitFor(() => receiver.delivered.length === 3 && sink.pending === 0, '3 deliveries');

    expect(deliveredIds(receiver)).toEqual(['d1', 'd2', 'd3']);
    // the first batch was tried 5 times (4 failures), the others once each
    expect(receiver.requests.map((r) => bodyOf(r.body).detections.length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(receiver.requests.slice(0, 5).every((r) => r.body.equals(receiver.requests[0]!.body))).toBe(true);
    for (const r of receiver.requests) {
      expect(r.headers['x-outflow-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(verifySignature(SECRET, r.body, r.headers['x-outflow-signature'] as string)).toBe(true);
      expect(r.headers['x-outflow-delivery']).toBe(bodyOf(r.body).delivery_id);
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(new Set(receiver.delivered.map((r) => bodyOf(r.body).delivery_id)).size).toBe(3);
    expect(spoolFiles()).toEqual([]);
    expect(metrics.sinkDeliveries.get({ sink: 'webhook#0', outcome: 'retry' })).toBe(4);
    expect(metrics.sinkDeliveries.get({ sink: 'webhook#0', outcome: 'ok' })).toBe(3);
    const warnings = logs.lines() as { msg: string; reason: string }[];
    expect(warnings.filter((l) => l.msg === 'webhook delivery failed; will retry').map((l) => l.reason)).toEqual(['HTTP 500', 'HTTP 500', 'HTTP 500', 'HTTP 500']);
  });

  it('spools while connections are refused and drains in order once the receiver comes up', async () => {
    const port = await freePort();
    const metrics = createFleetMetrics();
    const sink = makeSink(`http://127.0.0.1:${port}/hook`, { metrics });

    await sink.write([sampleDetection({ id: 'a' }), sampleDetection({ id: 'b' })]);
    await waitFor(() => metrics.sinkDeliveries.get({ sink: 'webhook#0', outcome: 'retry' }) >= 3, 'refused retries');
    // written while the receiver is down: queued behind the earlier ones
    await sink.write([sampleDetection({ id: 'c' })]);
    expect(sink.pending).toBe(3);
    expect(spoolFiles()).toHaveLength(3);

    const receiver = await startReceiver(undefined, port);
    await waitFor(() => sink.pending === 0, 'spool drained');
    expect(deliveredIds(receiver)).toEqual(['a', 'b', 'c']);
    expect(receiver.requests).toHaveLength(3);
    expect(spoolFiles()).toEqual([]);
  });

  it('closes at once when a delivery fails while closing, instead of sleeping through its backoff', async () => {
    const port = await freePort();
    // every delivery is refused; the first retry would wait a minute
    const sink = makeSink(`http://127.0.0.1:${port}/hook`, { backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 } });
    await sink.write([sampleDetection({ id: 'a' })]);
    // close() while that first delivery is still in flight: it used to wake nothing and then wait the full minute
    await sink.close();
    expect(spoolFiles()).toHaveLength(1); // kept for the next start
  }, 10_000);

  it('closed while reading a spooled batch, it sends nothing: close() stops delivery, it does not start one', async () => {
    const receiver = await startReceiver();
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(spoolDir);
    writeFileSync(path.join(spoolDir, '0000000000000001.json'), JSON.stringify({ source: 'outflow', delivery_id: 'left-over', detections: [] }));
    // the sink starts draining the left-over batch as it is built (its first step reads the file)
    const sink = makeSink(receiver.url, { spoolDir });
    await sink.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.requests).toHaveLength(0);
    expect(spoolFiles()).toEqual(['0000000000000001.json']); // kept for the next start
  });

  it('one webhook sink per spool directory in a process; the next may take it once the first closed', async () => {
    const receiver = await startReceiver();
    const first = makeSink(receiver.url);
    expect(() => makeSink(receiver.url)).toThrow(/is in use by process \d+ \(another webhook sink of this process\)/);
    await first.close();
    expect(existsSync(path.join(dir, 'spool', '.owner'))).toBe(false);
    const next = makeSink(receiver.url);
    await next.write([sampleDetection({ id: 'n1' })]);
    await waitFor(() => next.pending === 0, 'delivered');
    expect(deliveredIds(receiver)).toEqual(['n1']);
  });

  it('a claim that fails after taking the lock gives it back, with an error that says what to check', () => {
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(path.join(spoolDir, '.owner'), { recursive: true }); // .owner cannot be written
    expect(() => claimSpool(spoolDir)).toThrow(expect.objectContaining({ code: 'SINK_FAILED', message: `cannot write ${path.join(realpathSync(spoolDir), '.owner')}`, hint: expect.stringMatching(/permissions/) }));
    rmSync(path.join(spoolDir, '.owner'), { recursive: true });
    claimSpool(spoolDir)();
    // the lock's journal stays in memory: nothing but the lock file and .owner in the spool
    const release = claimSpool(spoolDir);
    expect(readdirSync(spoolDir).sort()).toEqual(['.owner', '.owner.lock']);
    release();
  });

  it('a spool reached through a link is the same spool', async () => {
    const receiver = await startReceiver();
    makeSink(receiver.url);
    const link = path.join(dir, 'spool-link');
    symlinkSync(path.join(dir, 'spool'), link);
    expect(() => makeSink(receiver.url, { spoolDir: link })).toThrow(`webhook spool ${realpathSync(path.join(dir, 'spool'))} is in use by process ${process.pid} (another webhook sink of this process)`);
  });

  it('processes starting at once: exactly one owns the spool each time', async () => {
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(spoolDir, { recursive: true });
    for (let round = 0; round < 3; round++) {
      // a stale owner file, as a crashed owner leaves it, and 6 racers released at one instant
      writeFileSync(path.join(spoolDir, '.owner'), '4206649\n');
      const startAt = Date.now() + 2500;
      const racers = Array.from({ length: 6 }, () =>
        spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/fleet/spool-claim-child.ts'), spoolDir, String(startAt)], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] }),
      );
      cleanups.push(() => racers.forEach((c) => c.kill('SIGKILL')));
      // every racer says how it went while any claimer still holds the spool; then they all let go
      const said = await Promise.all(
        racers.map(
          (c) =>
            new Promise<string>((resolve) => {
              let out = '';
              c.stdout.on('data', (d) => {
                out += d;
                if (out.includes('\n')) resolve(out.trim());
              });
              c.once('close', () => resolve(out.trim()));
            }),
        ),
      );
      await Promise.all(racers.map((c) => new Promise((r) => (c.stdin.end(), c.once('close', r)))));
      expect(said.filter((s) => s === 'claimed'), said.join(',')).toHaveLength(1);
      expect(said.filter((s) => s === 'refused')).toHaveLength(5);
    }
  }, 60_000);

  it('takes over a spool whose owner file names a process that is gone, or this pid from before a restart', async () => {
    const receiver = await startReceiver();
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(spoolDir, { recursive: true });
    for (const stale of [2 ** 22 + 12345, process.pid]) {
      writeFileSync(path.join(spoolDir, '.owner'), `${stale}\n`);
      const sink = makeSink(receiver.url, { spoolDir });
      expect(readFileSync(path.join(spoolDir, '.owner'), 'utf8')).toBe(`${process.pid}\n`);
      await sink.close();
    }
  });

  it('keeps the spool across a killed process and delivers it after restart before newer batches', async () => {
    const port = await freePort();
    const spoolDir = path.join(dir, 'spool');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/fleet/sinks-spool-writer.ts'), spoolDir, `http://127.0.0.1:${port}/hook`, '3'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    await waitFor(() => out.includes('spooled 3') || child.exitCode !== null, 'child to spool', 20_000);
    expect(out, err).toContain('spooled 3');
    // while it runs, the spool is its own: a second fleet serve on this host with the same config is refused
    expect(() => makeSink(`http://127.0.0.1:${port}/hook`, { spoolDir })).toThrow(`webhook spool ${spoolDir} is in use by process ${child.pid}`);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    expect(spoolFiles()).toHaveLength(3);

    const receiver = await startReceiver(undefined, port);
    const sink = makeSink(receiver.url, { spoolDir });
    await sink.write([sampleDetection({ id: 'after-restart' })]);
    await waitFor(() => sink.pending === 0, 'spool drained after restart');
    expect(deliveredIds(receiver)).toEqual(['before-restart-0', 'before-restart-1', 'before-restart-2', 'after-restart']);
    // signed at send time with the running sink's secret, so a rotated secret applies to old spool files too
    for (const r of receiver.requests) expect(verifySignature(SECRET, r.body, r.headers['x-outflow-signature'] as string)).toBe(true);
  });

  it('times out a receiver that never answers and retries the same body', async () => {
    const receiver = await startReceiver(({ index }) => (index < 2 ? 0 : 200));
    const metrics = createFleetMetrics();
    const logs = new MemoryStream();
    const sink = makeSink(receiver.url, { timeoutMs: 200, metrics, log: createLogger({ destination: logs, level: 'warn' }) });
    await sink.write([sampleDetection({ id: 'slow' })]);
    await waitFor(() => sink.pending === 0, 'delivered after timeouts');
    expect(receiver.requests).toHaveLength(3);
    expect(receiver.requests.every((r) => r.body.equals(receiver.requests[0]!.body))).toBe(true);
    expect(deliveredIds(receiver)).toEqual(['slow']);
    expect((logs.lines() as { reason?: string }[]).filter((l) => l.reason === 'timeout after 200 ms')).toHaveLength(2);
  });

  it('moves a batch the receiver rejects (4xx, redirect) to dead letters and keeps going', async () => {
    const receiver = await startReceiver(({ body }) => {
      const id = (bodyOf(body).detections[0] as { id: string }).id;
      return id === 'poison' ? 422 : id === 'moved' ? 301 : 200;
    });
    const metrics = createFleetMetrics();
    const sink = makeSink(receiver.url, { metrics });
    await sink.write([sampleDetection({ id: 'ok-1' }), sampleDetection({ id: 'poison' }), sampleDetection({ id: 'moved' }), sampleDetection({ id: 'ok-2' })]);
    await waitFor(() => sink.pending === 0, 'drained');
    expect(deliveredIds(receiver)).toEqual(['ok-1', 'ok-2']);
    // neither the 422 nor the redirect was retried (or followed)
    expect(receiver.requests).toHaveLength(4);
    const dead = readdirSync(path.join(dir, 'spool', 'dead'));
    expect(dead).toHaveLength(2);
    expect(metrics.sinkDeliveries.get({ sink: 'webhook#0', outcome: 'dead' })).toBe(2);
  });

  it('counts dead letters toward max_spool_bytes (a receiver refusing everything fills dead/ to the limit, not the disk), until they are moved away', async () => {
    const receiver = await startReceiver(() => 400);
    const oneBody = JSON.stringify(sampleDetection({ id: 'xx' })).length + 250;
    const sink = makeSink(receiver.url, { maxSpoolBytes: Math.floor(2.5 * oneBody) });
    await sink.write([sampleDetection({ id: 'r1' }), sampleDetection({ id: 'r2' })]);
    await waitFor(() => sink.pending === 0, 'both refused');
    expect(readdirSync(path.join(dir, 'spool', 'dead'))).toHaveLength(2);
    await expect(sink.write([sampleDetection({ id: 'r3' })])).rejects.toThrow(/bytes of dead letters/);
    // a restarted sink counts them too
    await sink.close();
    const again = makeSink(receiver.url, { maxSpoolBytes: Math.floor(2.5 * oneBody) });
    await expect(again.write([sampleDetection({ id: 'r3' })])).rejects.toMatchObject({ message: expect.stringMatching(/bytes of dead letters/), hint: expect.stringMatching(/move the files out of/) });
    // the operator moves them away: room again, without a restart
    rmSync(path.join(dir, 'spool', 'dead'), { recursive: true });
    await again.write([sampleDetection({ id: 'r3' })]);
  });

  it('splits large writes into batch_size bodies and renders OCSF when asked', async () => {
    const receiver = await startReceiver();
    const sink = makeSink(receiver.url, { batchSize: 2, format: 'ocsf', render: toOcsf });
    await sink.write(['x1', 'x2', 'x3', 'x4', 'x5'].map((id) => sampleDetection({ id })));
    await waitFor(() => sink.pending === 0 && receiver.delivered.length === 3, 'drained');
    const bodies = receiver.delivered.map((r) => bodyOf(r.body));
    expect(bodies.map((b) => b.detections.length)).toEqual([2, 2, 1]);
    expect(bodies.every((b) => b.format === 'ocsf' && b.source === 'outflow')).toBe(true);
    const uids = bodies.flatMap((b) => b.detections.map((d) => (d as { class_uid: number; finding_info: { uid: string } }).finding_info.uid));
    expect(uids).toEqual(['x1', 'x2', 'x3', 'x4', 'x5']);
  });

  it('refuses new batches once the spool is full instead of growing without bound', async () => {
    const port = await freePort();
    const oneBody = JSON.stringify(sampleDetection({ id: 'xx' })).length + 250;
    const sink = makeSink(`http://127.0.0.1:${port}/hook`, { maxSpoolBytes: Math.floor(2.5 * oneBody), backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 } });
    await sink.write([sampleDetection({ id: 'f1' })]);
    await expect(sink.write([sampleDetection({ id: 'f2' }), sampleDetection({ id: 'f3' })])).rejects.toThrow(/spool .* is full/);
    expect(spoolFiles()).toHaveLength(2);
    expect(sink.pending).toBe(2);
  });
});

describe('X-Outflow-Signature', () => {
  it('is sha256=<hex HMAC-SHA256(secret, raw body)> and rejects any change to body or secret', () => {
    const body = Buffer.from('{"delivery_id":"x","detections":[]}');
    const header = signBody(SECRET, body);
    // the documented recipe, spelled out with node:crypto by hand
    expect(header).toBe(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
    expect(verifySignature(SECRET, body, header)).toBe(true);
    expect(verifySignature(SECRET, Buffer.from(body.toString().replace('x', 'y')), header)).toBe(false);
    expect(verifySignature('another-secret-0123456789', body, header)).toBe(false);
    expect(verifySignature(SECRET, body, undefined)).toBe(false);
    expect(verifySignature(SECRET, body, 'sha256=00')).toBe(false);
  });
});

describe('webhook sink: the receiver\'s answer', () => {
  // read only to let the connection be reused: a receiver (or whoever sits on a plain http:// path to it) answering
  // with a body of gigabytes must not make the aggregator hold it all in memory
  it('stops reading a huge 2xx answer instead of buffering all of it', async () => {
    const answerBytes = 256 * 1024 * 1024;
    let sent = 0;
    let ended = false;
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(answerBytes) });
        const pump = () => {
          while (sent < answerBytes && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (sent >= answerBytes) res.end();
        };
        res.on('close', () => (ended = true));
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const sink = makeSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { timeoutMs: 60_000 });
    await sink.write([sampleDetection({ id: 'd1' })]);
    await waitFor(() => sink.pending === 0 && ended, 'delivery', 60_000);
    // what the sink took of the answer (the rest never left the receiver); loopback buffers hold a few MiB at most
    expect(sent).toBeLessThan(32 * 1024 * 1024);
  }, 90_000);
  it('retries a 429 after the Retry-After the receiver asks for, instead of dead-lettering the batch', async () => {
    let requests = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        if (requests === 1) res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('slow down');
        else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const logs = new MemoryStream();
    const metrics = createFleetMetrics();
    const sink = makeSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, {
      metrics,
      backoff: { initialMs: 20, maxMs: 5000, factor: 2 },
      log: createLogger({ destination: logs, level: 'warn' }),
    });
    await sink.write([sampleDetection({ id: 'd1' })]);
    await waitFor(() => sink.pending === 0, 'delivery');
    expect(requests).toBe(2);
    expect(readdirSync(path.join(dir, 'spool', 'dead'))).toEqual([]);
    expect(metrics.sinkDeliveries.get({ sink: 'webhook#0', outcome: 'ok' })).toBe(1);
    const retries = (logs.lines() as { msg: string; reason: string; retry_in_ms: number }[]).filter((l) => l.msg === 'webhook delivery failed; will retry');
    // the receiver's 1 s, not the 10-20 ms of the first backoff step
    expect(retries.map((l) => [l.reason, l.retry_in_ms])).toEqual([['HTTP 429', 1000]]);
  });

  it('backs off initial_ms after the first failure, factor times longer after each next one, up to max_ms', async () => {
    const receiver = new TestReceiver(({ index }) => (index < 5 ? 503 : 200));
    await receiver.start();
    cleanups.push(() => receiver.stop());
    // the top of the equal-jitter range: each wait is the whole backoff step
    const random = vi.spyOn(Math, 'random').mockReturnValue(1);
    cleanups.push(() => random.mockRestore());
    const logs = new MemoryStream();
    const sink = makeSink(receiver.url, { backoff: { initialMs: 20, maxMs: 150, factor: 2 }, log: createLogger({ destination: logs, level: 'warn' }) });
    await sink.write([sampleDetection({ id: 'd1' })]);
    await waitFor(() => sink.pending === 0, 'delivery');
    const waits = (logs.lines() as { msg: string; retry_in_ms: number }[]).filter((l) => l.msg === 'webhook delivery failed; will retry').map((l) => l.retry_in_ms);
    expect(waits).toEqual([20, 40, 80, 150, 150]);
  });
});
