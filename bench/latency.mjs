// Latency (fan-out) bench: SSE subscribers across 10 tenants (a swarm process) while
// writers commit small pgbench-style transactions; commit (Postgres's commit timestamp) →
// event received by each subscriber, and walcast's CPU per delivery.
// Goals (issue 20): 1,000 streams × 50 commits/s p99 ≤ 15 ms; 10,000 × 10/s p99 ≤ 100 ms.
// Usage: npm run build && BENCH_STREAMS=10000 BENCH_RATE=10 npm run bench -- latency
import { postgres, stats, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const SUBSCRIBERS = Number(process.env.BENCH_STREAMS ?? 1_000);
const TENANTS = Array.from({ length: 10 }, (_, i) => `tenant-${i}`);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 200); // transactions a second

const db = await postgres();
let walcast;
let clients;
try {
  await db.sql(`create table ticks (id bigserial primary key, org_id text not null, n int, note text);
                select walcast.expose('ticks', tenant_column => 'org_id');`);
  walcast = await walcastProcess(db.url);
  clients = await swarm({ base: walcast.base, tokens: await tokens(TENANTS), streams: SUBSCRIBERS, query: 'tables=ticks' });
  const { default: pg } = await import('pg');
  const writers = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      return client;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const cpuBefore = walcast.cpuSeconds();
  const deadline = Date.now() + SECONDS * 1000;
  let sent = 0;
  await Promise.all(
    writers.map(async (client, w) => {
      while (Date.now() < deadline) {
        const due = Date.now() + (1000 * writers.length) / RATE;
        await client.query('insert into ticks (org_id, n, note) values ($1, $2, $3)', [TENANTS[(sent + w) % TENANTS.length], sent++, 'tick']);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      }
      await client.end();
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const cpu = walcast.cpuSeconds() - cpuBefore;
  const { latenciesMs, events, closed } = await clients.report();
  const latency = stats(latenciesMs);
  const cpuPerDeliveryUs = Math.round(((cpu * 1e6) / Math.max(1, events)) * 10) / 10;
  const result = {
    bench: 'latency',
    subscribers: SUBSCRIBERS,
    tenants: TENANTS.length,
    commitsPerSecond: RATE,
    transactions: sent,
    deliveries: events,
    disconnected: closed,
    commitToEventMs: latency,
    walcastCpuSeconds: Math.round(cpu * 100) / 100,
    cpuPerDeliveryUs,
  };
  console.log(JSON.stringify(result));
  console.log(
    `latency: ${SUBSCRIBERS} subscribers, ${RATE} commits/s, ${sent} commits → ${events} deliveries: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms; ${cpuPerDeliveryUs} µs walcast CPU per delivery`,
  );
} finally {
  await clients?.stop();
  await walcast?.stop();
  await db.close();
}
