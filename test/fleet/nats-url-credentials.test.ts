/**
 * Fleet's `nats.server` is a URL handed to nats.go's Connect, which takes credentials from it
 * (`nats://user:pass@host:4222`, `nats://token@host:4222`); an operator copies it into fleet.nats.servers. nats.js v2
 * drops a URL's userinfo (servers.js hostPort keeps only host and port), so the source is refused; and the URL, password
 * included, is written into the start-up error (and the "nats source started" log line when it does connect).
 */
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { startNatsSource } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { createLogger } from '../../src/log.js';
import { natsTestRuns } from '../helpers/nats.js';

const PORT = 4500 + (process.pid % 50);
const nats = natsTestRuns(500);
const { sources } = nats;

it('takes the credentials of a nats://user:pass@host URL, and never logs the password', async () => {
  await nats.server(PORT, 'S3cretPass');
  let logged = '';
  const log = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => ((logged += c), cb()) }) as never });
  let failure = '';
  try {
    const s = await startNatsSource({
      config: NatsInputConfigSchema.parse({ servers: `nats://agg:S3cretPass@127.0.0.1:${PORT}`, stream: 'R', subjects: ['r.>'], durable: 'agg', create_stream: true }),
      log,
    handler: async () => undefined,
    });
    sources.push(s);
  } catch (err) {
    failure = `${(err as Error).message} ${String((err as Error & { hint?: string }).hint ?? '')}`;
  }
  expect({ failure, passwordInLogsOrError: /S3cretPass/.test(logged + failure) }).toEqual({ failure: '', passwordInLogsOrError: false });
}, 30_000);

it('serverCredentials: strips userinfo, first URL wins, token form, percent-decoding', async () => {
  const { serverCredentials } = await import('../../fleet/ingest/nats-source.js');
  expect(serverCredentials(['nats://u:p%40ss@a:4222', 'nats://v:q@b:4222', 'c:4222'])).toEqual({ servers: ['nats://a:4222', 'nats://b:4222', 'c:4222'], user: 'u', pass: 'p@ss' });
  expect(serverCredentials(['tls://tok@a:4222'])).toEqual({ servers: ['tls://a:4222'], token: 'tok' });
  expect(serverCredentials(['nats://a:4222'])).toEqual({ servers: ['nats://a:4222'] });
});
