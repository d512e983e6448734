// Latency bench: 1,000 SSE subscribers across 10 tenants (a swarm process) while writers
// commit small pgbench-style transactions; commit (Postgres's commit timestamp) → event
// received by each subscriber. Goal: p50 ≤ 5 ms, p99 ≤ 25 ms on 2 cores.
// Usage: npm run build && npm run bench -- latency
import { postgres, stats, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const SUBSCRIBERS = 1_000;
const TENANTS = Array.from({ length: 10 }, (_, i) => `tenant-${i}`);
const SECONDS = 10;
const RATE = 200; // transactions a second

const db = await postgres();
let walcast;
let clients;
try {
  await db.sql(`create table ticks (id bigserial primary key, org_id text not null, n int, note text);
                select walcast.expose('ticks', tenant_column => 'org_id');`);
  walcast = await walcastProcess(db.url);
  clients = await swarm({ base: walcast.base, tokens: await tokens(TENANTS), streams: SUBSCRIBERS, query: 'tables=ticks' });
  const { default: pg } = await import('pg');
  const writers = await Promise.all(Array.from({ length: 4 }, async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    return client;
  }));
  const deadline = Date.now() + SECONDS * 1000;
  let sent = 0;
  await Promise.all(writers.map(async (client, w) => {
    while (Date.now() < deadline) {
      const due = Date.now() + (1000 * writers.length) / RATE;
      await client.query('insert into ticks (org_id, n, note) values ($1, $2, $3)', [TENANTS[(sent + w) % TENANTS.length], sent++, 'tick']);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    await client.end();
  }));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const { latenciesMs, events, closed } = await clients.report();
  const latency = stats(latenciesMs);
  const result = { bench: 'latency', subscribers: SUBSCRIBERS, tenants: TENANTS.length, transactions: sent, deliveries: events, disconnected: closed, commitToEventMs: latency };
  console.log(JSON.stringify(result));
  console.log(`latency: ${SUBSCRIBERS} subscribers, ${sent} commits → ${events} deliveries: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`);
} finally {
  await clients?.stop();
  await walcast?.stop();
  await db.close();
}
