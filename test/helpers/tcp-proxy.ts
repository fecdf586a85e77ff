/**
 * A TCP relay to a real server that a test can cut without a FIN or RST: after `blackhole()` the relay keeps
 * every connection open and drops what either side sends, as a network cut or a powered-off host does.
 * `restore()` relays new connections again (the cut ones stay dead, as after a real partition).
 */
import net from 'node:net';

export interface BlackholeProxy {
  /** 127.0.0.1 port the relay listens on. */
  port: number;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startBlackholeProxy(targetHost: string, targetPort: number): Promise<BlackholeProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; cut: boolean }>();
  let cutting = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, upstream, cut: cutting };
    pairs.add(pair);
    const relay = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (!pair.cut) to.write(chunk);
      });
    relay(client, upstream);
    relay(upstream, client);
    // A cut connection never tells either side it ended: only an uncut one passes its end on.
    const end = (other: net.Socket) => () => {
      if (!pair.cut) other.destroy();
    };
    client.on('close', end(upstream));
    upstream.on('close', end(client));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole() {
      cutting = true;
      for (const p of pairs) p.cut = true;
    },
    restore() {
      cutting = false;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
