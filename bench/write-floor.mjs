// The floor under fan-out: what one write of an event's bytes to each of N open TCP
// sockets costs Node on this machine, with nothing of walcast in the way (no decode, no
// filters, no SSE framing). Readers in a process of their own, like the swarm's. Compare
// its µs per write with `latency`'s walcast CPU per delivery.
// Usage: BENCH_STREAMS=10000 npm run bench -- write-floor
import { fork } from 'node:child_process';
import { createServer } from 'node:net';
import { stats } from './lib/harness.mjs';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
const ROUNDS = 100;
const FRAME = Buffer.from(
  `id: 0/1A2B3C4-0\nevent: change\ndata: ${JSON.stringify({ table: 'ticks', op: 'insert', row: { id: 1, org_id: 'tenant-0', n: 1, note: 'tick' } })}\n\n`,
);

if (process.argv[2] === 'readers') {
  // Opens the connections and reads everything, 50 at a time as the swarm does.
  const { connect } = await import('node:net');
  const port = Number(process.argv[3]);
  let open = 0;
  for (let i = 0; i < STREAMS; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, STREAMS - i) },
        () =>
          new Promise((resolve) => {
            const socket = connect(port, '127.0.0.1', () => resolve(++open));
            socket.on('data', () => undefined);
          }),
      ),
    );
  }
  process.send('open');
} else {
  const sockets = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.push(socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const readers = fork(new URL(import.meta.url).pathname, ['readers', String(server.address().port)]);
  await new Promise((resolve) => readers.once('message', resolve));
  while (sockets.length < STREAMS) await new Promise((resolve) => setTimeout(resolve, 10));
  const roundMs = [];
  const cpuBefore = process.cpuUsage();
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    // One tenant's share, like one commit in `latency` (10 tenants).
    const share = sockets.length / 10;
    const from = (round % 10) * share;
    for (let i = from; i < from + share; i++) sockets[i].write(FRAME);
    roundMs.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const cpu = process.cpuUsage(cpuBefore);
  const writes = (ROUNDS * STREAMS) / 10;
  const cpuPerWriteUs = Math.round(((cpu.user + cpu.system) / writes) * 10) / 10;
  const loop = stats(roundMs);
  console.log(JSON.stringify({ bench: 'write-floor', streams: STREAMS, writes, frameBytes: FRAME.length, cpuPerWriteUs, loopMsPerCommit: loop }));
  console.log(
    `write-floor: ${STREAMS} sockets, ${writes} writes of ${FRAME.length} B: ${cpuPerWriteUs} µs CPU per write, one commit's ${STREAMS / 10} writes take p50 ${loop.p50} ms, p99 ${loop.p99} ms`,
  );
  readers.kill();
  for (const socket of sockets) socket.destroy();
  server.close();
}
