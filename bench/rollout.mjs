// Rollout bench (DESIGN §7): three instances behind a load balancer, 1,000 resuming SSE
// clients (they reconnect as a browser's EventSource does: after `retry:`, with
// Last-Event-ID), a steady writer; each instance in turn leaves the balancer, gets SIGTERM
// and is replaced by one with a never-seen name. Prints how long clients took to move
// (stream end → first byte of the next), resets (goal 0), duplicates and losses (0), and
// the WAL the slots retain before and after (departed slots reaped).
// Usage: npm run build && npm run bench -- rollout   (BENCH_CLIENTS to change 1,000)
import { startBalancer } from './lib/balancer.mjs';
import { postgres, stats, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1_000);
const TENANTS = Array.from({ length: 10 }, (_, i) => `tenant-${i}`);
const ORPHAN_AFTER_SECONDS = 5;
const WRITES_PER_SECOND = 50;

const db = await postgres();
const balancer = await startBalancer();
let fleet = [];
let clients;
try {
  await db.sql(`create table orders (id bigserial primary key, org_id text not null, n int not null);
                select walcast.expose('orders', tenant_column => 'org_id');`);
  const start = async (name) => {
    const instance = await walcastProcess(db.url, {
      WALCAST_INSTANCE: name,
      WALCAST_SLOT_ORPHAN_AFTER: String(ORPHAN_AFTER_SECONDS),
      WALCAST_MAX_CLIENTS_PER_TENANT: String(CLIENTS),
    });
    balancer.add(instance.port);
    return instance;
  };
  fleet = [await start('pod_a'), await start('pod_b'), await start('pod_c')];
  clients = await swarm({ base: balancer.url, tokens: await tokens(TENANTS), streams: CLIENTS, query: 'tables=orders', resume: true });
  const retained = async () =>
    Number(
      (await db.sql(`select coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0)::int8::text as bytes from pg_replication_slots`)).rows[0]
        .bytes,
    );

  let written = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await db.sql('insert into orders (org_id, n) values ($1, $2)', [TENANTS[written % TENANTS.length], written]);
      written++;
      await new Promise((resolve) => setTimeout(resolve, 1000 / WRITES_PER_SECOND));
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const walBefore = await retained();
  const exitCodes = [];
  const started = performance.now();
  for (let round = 0; round < 3; round++) {
    const joining = await start(`pod_${Date.now().toString(36)}_${round}`);
    const leaving = fleet[0];
    balancer.remove(leaving.port);
    exitCodes.push(await leaving.stop());
    fleet = [...fleet.slice(1), joining];
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const rolloutSeconds = (performance.now() - started) / 1000;
  writing = false;
  await writer;
  // Every client's share of the rows (a tenant's, per client), once delivered.
  const expected = Array.from({ length: CLIENTS }, (_, i) => TENANTS[i % TENANTS.length]).reduce(
    (sum, tenant) => sum + Math.ceil((written - TENANTS.indexOf(tenant)) / TENANTS.length),
    0,
  );
  let report;
  for (const deadline = Date.now() + 60_000; ; ) {
    report = await clients.report();
    if (report.events >= expected || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await new Promise((resolve) => setTimeout(resolve, (ORPHAN_AFTER_SECONDS + 7) * 1000));
  const walAfter = await retained();
  const slots = (await db.sql(`select slot_name from pg_replication_slots order by 1`)).rows.map((row) => row.slot_name);
  const moves = stats(report.movesMs);
  const result = {
    bench: 'rollout',
    clients: CLIENTS,
    instances: 3,
    rolloutSeconds: Math.round(rolloutSeconds * 10) / 10,
    rowsWritten: written,
    eventsExpected: expected,
    eventsReceived: report.events,
    lost: Math.max(0, expected - report.events + report.duplicates),
    duplicates: report.duplicates,
    resets: report.resets,
    moves: report.movesMs.length,
    moveMs: moves,
    exitCodes,
    walRetainedBeforeBytes: walBefore,
    walRetainedAfterBytes: walAfter,
    slotsAfter: slots,
  };
  console.log(JSON.stringify(result));
  console.log(
    `rollout: ${CLIENTS} clients over 3 replaced instances: ${report.movesMs.length} moves, p50 ${moves.p50} ms, p99 ${moves.p99} ms; resets ${report.resets}, duplicates ${report.duplicates}, lost ${result.lost}; WAL retained ${walBefore} → ${walAfter} bytes; slots after: ${slots.join(', ')}`,
  );
} finally {
  await clients?.stop();
  for (const instance of fleet) await instance.stop();
  await balancer.close();
  await db.close();
}
