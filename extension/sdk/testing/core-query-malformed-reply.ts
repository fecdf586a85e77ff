/**
 * Child process for extension-edges.test.ts: a manager socket that answers ExtensionManager.query with a
 * reply whose status struct carries an unknown string field of length -7, and coreQuery() against it
 * (the path extension/main.ts uses for process snapshots). Prints the outcome; must exit promptly.
 */
import net from 'node:net';
import { coreQuery } from '../core-query.js';

const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const i16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const str = (s: string) => Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s)]);
const byte = (n: number) => Buffer.from([n]);
// REPLY "query": result{0: ExtensionResponse{1: ExtensionStatus{9: STRING len -7}}}
const reply = Buffer.concat([i32((0x80010000 | 2) >> 0), str('query'), i32(1), byte(12), i16(0), byte(12), i16(1), byte(11), i16(9), i32(-7), byte(0), byte(0), byte(0)]);

const socket = process.argv[2] as string;
const server = net.createServer((s) => s.once('data', () => s.write(reply)));
server.listen(socket, async () => {
  const core = coreQuery(socket, { timeoutMs: 1000, maxReplyBytes: 1 << 20 });
  try {
    await core.query('SELECT 1');
    console.log('resolved');
  } catch (err) {
    console.log(`rejected: ${(err as Error).message}`);
  }
  server.close();
});
