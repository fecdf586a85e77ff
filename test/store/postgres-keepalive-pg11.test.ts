/**
 * tcp_user_timeout is a PostgreSQL 12 setting, and docs/postgres-nats.md supports PostgreSQL 11 (0008's trigger
 * "needs PostgreSQL 11 or later"). The keepalives are set in one SELECT with it: on 11 an unknown name would fail
 * that SELECT as a whole ("unrecognized configuration parameter"), and a vanished instance would hold its job locks
 * for the OS default (2 h+) again. So the keepalives must still be set on a server that does not know it.
 *
 * PostgreSQL 11 is emulated by a relay that renames the parameter in the Query messages naming it, so the server
 * answers as 11 does for a parameter it does not know.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { createTestDatabase, holdServerShared, type TestDatabase } from '../helpers/pg.js';

let release: () => Promise<void>;
let db: TestDatabase;
beforeAll(async () => {
  release = await holdServerShared(60_000);
  db = await createTestDatabase('keepalive_pg11');
}, 90_000);
afterAll(async () => {
  await db?.drop();
  await release?.();
});

/** A relay to the server whose client→server simple Query messages have `tcp_user_timeout` renamed. */
async function pg11Relay(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    let buf = Buffer.alloc(0);
    let startup = true;
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (startup) {
          if (buf.length < 4) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          upstream.write(buf.subarray(0, len));
          buf = buf.subarray(len);
          startup = false;
          continue;
        }
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) return;
        let msg = buf.subarray(0, 1 + len);
        buf = buf.subarray(1 + len);
        if (msg[0] === 0x51 /* Q */ && msg.includes('tcp_user_timeout')) {
          const text = msg.subarray(5).toString('utf8').replaceAll('tcp_user_timeout', 'tcp_user_timeout_pg11_unknown');
          const body = Buffer.from(text, 'utf8');
          const head = Buffer.alloc(5);
          head[0] = 0x51;
          head.writeInt32BE(4 + body.length, 1);
          msg = Buffer.concat([head, body]);
        }
        upstream.write(msg);
      }
    });
    upstream.on('data', (c: Buffer) => client.write(c));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

it('on a server without tcp_user_timeout (PostgreSQL 11) the keepalives are still set', async () => {
  const target = new URL(db.url);
  const relay = await pg11Relay(target.hostname, Number(target.port || 5432));
  target.port = String(relay.port);
  const store = await openPostgresStore(target.toString(), { poolSize: 1 });
  try {
    const { pool } = store as unknown as { pool: pg.Pool };
    const r = await pool.query<{ idle: string; interval: string; count: string }>(
      `SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval, current_setting('tcp_keepalives_count') AS count`,
    );
    expect(r.rows[0]).toEqual({ idle: '30', interval: '10', count: '3' });
  } finally {
    await store.close();
    await relay.close();
  }
}, 40_000);
