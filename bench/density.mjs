// Density bench: as many idle SSE streams as one instance holds (goal ≥ 10,000), resident
// memory per stream (goal ≤ 10 KB), connect → first byte with JWT verification (goal p99
// ≤ 20 ms), and delivery of one event per tenant to all of them.
// Usage: npm run build && npm run bench -- density
import { postgres, stats, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
const TENANTS = Array.from({ length: 10 }, (_, i) => `tenant-${i}`);

const db = await postgres();
let walcast;
let clients;
try {
  await db.sql(`create table notices (id bigserial primary key, org_id text not null, body text);
                select walcast.expose('notices', tenant_column => 'org_id');`);
  walcast = await walcastProcess(db.url, { WALCAST_MAX_CLIENTS: String(STREAMS * 2), WALCAST_MAX_CLIENTS_PER_TENANT: String(STREAMS) });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = walcast.rssMiB();
  // Connections arrive 20 at a time: the connect figure is per connection, not a queue of
  // thousands. In two halves: the second half's growth is what one more stream costs,
  // without the one-time growth of the process under load (JIT, heap spaces).
  const half = () => swarm({ base: walcast.base, tokens: tokens_, streams: STREAMS / 2, query: 'tables=notices', batch: 20 });
  const tokens_ = await tokens(TENANTS);
  const first = await half();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const middle = walcast.rssMiB();
  const second = await half();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const after = walcast.rssMiB();
  clients = {
    opened: { opened: first.opened.opened + second.opened.opened, connectMs: [...first.opened.connectMs, ...second.opened.connectMs] },
    report: async () => {
      const [a, b] = await Promise.all([first.report(), second.report()]);
      return { latenciesMs: [...a.latenciesMs, ...b.latenciesMs], events: a.events + b.events, closed: a.closed + b.closed };
    },
    stop: () => Promise.all([first.stop(), second.stop()]),
  };
  const open = await walcast.metric('walcast_clients');
  const started = Date.now();
  for (const tenant of TENANTS) await db.sql(`insert into notices (org_id, body) values ($1, 'hello')`, [tenant]);
  let report;
  do {
    await new Promise((resolve) => setTimeout(resolve, 200));
    report = await clients.report();
  } while (report.events < STREAMS && Date.now() - started < 30_000);
  const connect = stats(clients.opened.connectMs);
  const delivery = stats(report.latenciesMs);
  const perStreamKiB = Math.round((((after - before) * 1024) / STREAMS) * 10) / 10;
  const marginalKiB = Math.round((((after - middle) * 1024) / (STREAMS / 2)) * 10) / 10;
  const result = {
    bench: 'density',
    streams: clients.opened.opened,
    openOnServer: open,
    rssBeforeMiB: Math.round(before),
    rssMiddleMiB: Math.round(middle),
    rssAfterMiB: Math.round(after),
    rssPerStreamKiB: perStreamKiB,
    rssPerStreamMarginalKiB: marginalKiB,
    connectToFirstByteMs: connect,
    deliveredTo: report.events,
    commitToEventMs: delivery,
    disconnected: report.closed,
  };
  console.log(JSON.stringify(result));
  console.log(
    `density: ${open} streams, ${perStreamKiB} KiB RSS each (${marginalKiB} KiB for each of the second ${STREAMS / 2}), connect → first byte p99 ${connect.p99} ms, one event per tenant reached ${report.events} streams (p99 ${delivery.p99} ms)`,
  );
} finally {
  await clients?.stop();
  await walcast?.stop();
  await db.close();
}
