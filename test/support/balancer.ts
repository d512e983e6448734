// A TCP load balancer for tests of fleets: each new connection goes to the next backend
// in rotation, no stickiness; a backend taken out gets no new connections (what a load
// balancer does once readiness fails or a pod's preStop runs), its open ones stay.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Balancer {
  readonly url: string;
  add(port: number): void;
  remove(port: number): void;
  close(): Promise<void>;
}

export async function startBalancer(): Promise<Balancer> {
  const backends: number[] = [];
  const sockets = new Set<Socket>();
  let turn = 0;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const port = backends[turn++ % Math.max(backends.length, 1)];
    if (port === undefined) return void client.destroy();
    const upstream = connect(port, '127.0.0.1', () => {
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    sockets.add(upstream);
    upstream.once('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    add: (backend) => void backends.push(backend),
    remove(backend) {
      const index = backends.indexOf(backend);
      if (index >= 0) backends.splice(index, 1);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
