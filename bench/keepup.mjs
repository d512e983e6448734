// Keep-up bench: pgbench TPC-B at full speed (Postgres's own pgbench, branches as
// tenants) while 1,000 subscribers stream pgbench_history; goal: replication lag under
// 1 s throughout and no client disconnected.
// Usage: npm run build && npm run bench -- keepup   (needs a pgbench: Debian's, or WALCAST_PGBENCH;
// BENCH_SWARMS=n spreads the subscribers over n client processes)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { postgres, stats, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const run = promisify(execFile);
const PGBENCH = [process.env.WALCAST_PGBENCH, '/usr/lib/postgresql/15/bin/pgbench'].find((file) => file && existsSync(file));
if (!PGBENCH) {
  console.log(JSON.stringify({ bench: 'keepup', skipped: 'no pgbench binary (set WALCAST_PGBENCH)' }));
  console.log('keepup: skipped, no pgbench binary');
  process.exit(0);
}
const SCALE = 10;
const SUBSCRIBERS = 1_000;
const SECONDS = 20;

const db = await postgres({ max_wal_size: '4GB' });
let walcast;
let clients;
try {
  await run(PGBENCH, ['-i', '-s', String(SCALE), '-q', db.url]);
  await db.sql(`select walcast.expose('pgbench_history', tenant_column => 'bid')`);
  walcast = await walcastProcess(db.url);
  const tenants = Array.from({ length: SCALE }, (_, i) => String(i + 1));
  clients = await swarm({
    base: walcast.base,
    tokens: await tokens(tenants),
    streams: SUBSCRIBERS,
    query: 'tables=pgbench_history',
    processes: Number(process.env.BENCH_SWARMS ?? 1),
  });
  const lags = [];
  const sampling = setInterval(
    () =>
      void walcast.metric('walcast_replication_lag_bytes').then(
        (lag) => lags.push(lag),
        (error) => console.error('metrics:', error.cause?.code ?? error.message),
      ),
    500,
  );
  const { stdout } = await run(PGBENCH, ['-n', '-c', '8', '-j', '2', '-T', String(SECONDS), db.url]);
  clearInterval(sampling);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const { latenciesMs, events, closed } = await clients.report();
  const latency = stats(latenciesMs);
  const result = {
    bench: 'keepup',
    pgbenchTps: Math.round(tps),
    subscribers: SUBSCRIBERS,
    deliveries: events,
    disconnected: closed,
    maxLagBytes: Math.max(...lags),
    commitToEventMs: latency,
  };
  console.log(JSON.stringify(result));
  console.log(
    `keepup: pgbench ${Math.round(tps)} tps with ${SUBSCRIBERS} subscribers: commit → event p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms; max lag ${Math.max(...lags)} bytes; ${closed} disconnected`,
  );
} finally {
  await clients?.stop();
  await walcast?.stop();
  await db.close();
}
