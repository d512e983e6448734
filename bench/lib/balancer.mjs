// A TCP load balancer for fleets in tests and benches: each new connection goes to the
// next backend in rotation, no stickiness; a backend taken out gets no new connections
// (what a load balancer does once readiness fails or a pod's preStop runs), its open ones
// stay until they end.
import { connect, createServer } from 'node:net';

export async function startBalancer() {
  const backends = [];
  const sockets = new Set();
  let turn = 0;
  const track = (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    client.pause();
    const port = backends[turn++ % Math.max(backends.length, 1)];
    if (port === undefined) return void client.destroy();
    const upstream = connect(port, '127.0.0.1', () => {
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    track(upstream);
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
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
