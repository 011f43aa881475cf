// A TCP proxy on loopback in front of a service (here: Azurite's Table endpoint) that can be made
// unreachable on demand: while it is down, open connections are cut and new ones are reset at once.
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  down: boolean;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const state = { down: false };
  const server = createServer((client) => {
    if (state.down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get down() {
      return state.down;
    },
    setDown(down: boolean) {
      state.down = down;
      if (down) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  } as TcpProxy;
}
