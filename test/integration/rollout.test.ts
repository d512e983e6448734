// DESIGN §7, a rolling deploy: three instances behind a load balancer, a steady writer,
// 30 clients; each instance in turn leaves the balancer, gets SIGTERM and is replaced by
// one with a name never seen before. Clients move on their own (EventSource, retry:,
// Last-Event-ID): nothing lost, nothing twice, no reset, IDs strictly increasing; once
// the departed instances have been gone long enough, only the live ones' slots remain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/jwt.js';
import { migrate } from '../../src/sql/migrate.js';
import { startBalancer, type Balancer } from '../../bench/lib/balancer.mjs';
import { runCli, waitForOutput, type Run } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/net.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { TEST_SECRET } from '../support/walcast.js';

const TENANTS = ['acme', 'globex', 'initech'];
const CLIENTS = 30;
const ORPHAN_AFTER_SECONDS = 2;

let db: TestDatabase;
let balancer: Balancer;

interface Instance {
  readonly name: string;
  readonly port: number;
  readonly run: Run;
}

beforeAll(async () => {
  db = await createTestDatabase('rollout');
  await migrate(db.url);
  await db.sql.query(`create table orders (id bigserial primary key, org_id text not null, n int not null);
                      select walcast.expose('orders', tenant_column => 'org_id');`);
  balancer = await startBalancer();
});

afterAll(async () => {
  await balancer?.close();
  await db?.drop();
});

async function start(name: string): Promise<Instance> {
  const port = await freePort();
  const run = runCli(['serve'], {
    DATABASE_URL: db.url,
    WALCAST_JWT_SECRET: TEST_SECRET,
    WALCAST_PORT: String(port),
    WALCAST_INSTANCE: name,
    WALCAST_SLOT_ORPHAN_AFTER: String(ORPHAN_AFTER_SECONDS),
    LOG_LEVEL: 'info',
  });
  await waitForOutput(run, /walcast serving/);
  // Readiness: caught up with the WAL; only then does the balancer send it traffic.
  await eventually(
    `${name} is ready`,
    async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (response) => response.status,
        () => 0,
      )) === 200,
    20_000,
    50,
  );
  balancer.add(port);
  return { name, port, run };
}

async function slotNames(): Promise<string[]> {
  const { rows } = await db.sql.query<{ slot_name: string }>(`select slot_name from pg_replication_slots where database = current_database() order by 1`);
  return rows.map((row) => row.slot_name);
}

describe('a rolling deploy of three instances', () => {
  it("moves 30 clients with no loss, duplicate or reset, and leaves only the live instances' slots", async () => {
    let fleet = [await start('pod_a'), await start('pod_b'), await start('pod_c')];
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const tenant = TENANTS[i % TENANTS.length]!;
        const token = await signToken(TEST_SECRET, { tenant, sub: `client-${i}`, ttlSeconds: 600, tenantClaim: 'tenant_id' });
        return { tenant, stream: await SseClient.open(`${balancer.url}/v1/stream?tables=orders&access_token=${token}`) };
      }),
    );

    // A steady writer: one row every 20 ms, tenants in turn.
    const written = new Map(TENANTS.map((tenant) => [tenant, [] as number[]]));
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const tenant = TENANTS[n % TENANTS.length]!;
        await db.sql.query('insert into orders (org_id, n) values ($1, $2)', [tenant, n]);
        written.get(tenant)!.push(n);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const leaving = fleet[0]!;
      const joining = await start(`pod_${Date.now().toString(36)}_${round}`);
      // preStop: out of the balancer first; then SIGTERM drains it.
      balancer.remove(leaving.port);
      leaving.run.child.kill('SIGTERM');
      expect(await leaving.run.exited).toBe(0);
      expect(leaving.run.output).toMatch(/draining/);
      fleet = [...fleet.slice(1), joining];
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    writing = false;
    await writer;

    for (const { tenant, stream } of clients) {
      const expected = written.get(tenant)!;
      await stream.until(() => stream.received.filter((event) => event.type === 'change').length >= expected.length, 30_000, `${tenant}'s rows`);
      const changes = stream.received.filter((event) => event.type === 'change');
      expect(stream.received.filter((event) => event.type === 'reset')).toEqual([]);
      expect(changes.map((event) => (event.data['row'] as { n: number }).n)).toEqual(expected);
      const ids = changes.map((event) => event.id);
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
      expect(stream.connections).toBeGreaterThanOrEqual(2);
    }
    for (const { stream } of clients) stream.close();

    const live = fleet.map((instance) => `walcast_${instance.name}`).sort();
    await eventually(
      "only the live instances' slots remain",
      async () => JSON.stringify(await slotNames()) === JSON.stringify(live),
      (ORPHAN_AFTER_SECONDS + 12) * 1000,
      200,
    );
    const { rows } = await db.sql.query<{ retained: string }>(
      `select max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn))::int8::text as retained from pg_replication_slots where database = current_database()`,
    );
    expect(Number(rows[0]!.retained)).toBeLessThan(64 * 1024 * 1024);
    for (const instance of fleet) {
      balancer.remove(instance.port);
      instance.run.child.kill('SIGTERM');
      expect(await instance.run.exited).toBe(0);
    }
  }, 120_000);
});
