// One UPDATE of 17 million rows (one transaction of 17M changes, past the 2^24 positions an
// event ID can number), through a real walcast process: it must not throw or stop, it must
// send each tenant's streams one `invalidate` per table with IDs in their width, and its
// slot must follow (held only at the transaction's own invalidates). Prints how long Postgres took to commit it, how long
// until a client got its invalidate, walcast's peak RSS, and the slot afterwards.
// Usage: npm run build && npm run bench -- huge-transaction   (BENCH_ROWS to change 17,000,000)
import { postgres, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const ROWS = Number(process.env.BENCH_ROWS ?? 17_000_000);
const TENANTS = Array.from({ length: 1_000 }, (_, i) => `tenant-${i}`);

const db = await postgres({ max_wal_size: '16GB', checkpoint_timeout: '30min' });
let walcast;
let clients;
try {
  const loadStarted = performance.now();
  await db.sql(`create table big (id bigint primary key, org_id text not null, n int not null) with (fillfactor = 50)`);
  await db.sql(`insert into big select g, 'tenant-' || (g % ${TENANTS.length}), 0 from generate_series(1, ${ROWS}) g`);
  await db.sql(`select walcast.expose('big', tenant_column => 'org_id')`);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  walcast = await walcastProcess(db.url, { WALCAST_RETAIN_WAL_BYTES: String(2 ** 40) });
  clients = await swarm({ base: walcast.base, tokens: await tokens(TENANTS.slice(0, 10)), streams: 10, query: 'tables=big' });
  let peakRssMiB = walcast.rssMiB();
  const sampling = setInterval(() => (peakRssMiB = Math.max(peakRssMiB, walcast.rssMiB())), 250);

  const started = performance.now();
  await db.sql('update big set n = n + 1');
  const commitSeconds = (performance.now() - started) / 1000;
  const { lsn: end } = (await db.sql('select pg_current_wal_lsn()::text as lsn')).rows[0];
  let report;
  do {
    await new Promise((resolve) => setTimeout(resolve, 500));
    report = await clients.report();
  } while (report.events < 10 && performance.now() - started < 60 * 60_000);
  const deliveredSeconds = (performance.now() - started) / 1000;
  clearInterval(sampling);
  // The slot is held at the oldest retained event (this transaction's invalidates), no further back.
  const slot = (
    await db.sql(
      `select pg_wal_lsn_diff($1::pg_lsn, confirmed_flush_lsn)::int8 as behind
                               from pg_replication_slots where slot_name = 'walcast_bench'`,
      [end],
    )
  ).rows[0];
  const result = {
    bench: 'huge-transaction',
    rows: ROWS,
    loadSeconds: Math.round(loadSeconds),
    updateCommitSeconds: Math.round(commitSeconds * 10) / 10,
    invalidateReceivedSeconds: Math.round(deliveredSeconds * 10) / 10,
    clientsWithInvalidate: report.events,
    disconnected: report.closed,
    walcastPeakRssMiB: Math.round(peakRssMiB),
    walcastAlive: walcast.alive(),
    slotBehindEndBytes: Number(slot.behind),
  };
  console.log(JSON.stringify(result));
  console.log(
    `huge-transaction: UPDATE of ${ROWS} rows committed in ${result.updateCommitSeconds} s; every client had its invalidate ${result.invalidateReceivedSeconds} s after the UPDATE began; walcast peak RSS ${result.walcastPeakRssMiB} MiB, alive ${result.walcastAlive}, slot ${result.slotBehindEndBytes} bytes behind the end of the transaction`,
  );
} finally {
  await clients?.stop();
  await walcast?.stop();
  await db.close();
}
