// A workload no one here wrote (issue 5): Postgres's own pgbench (TPC-B, branches as
// tenants) is the CRUD app, walcast is killed with -9 and restarted several times, and
// browser-like clients (EventSource, reconnecting by themselves with Last-Event-ID) must
// end up with every change exactly once, in commit order, reproducing the final balances.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/jwt.js';
import { migrate } from '../../src/sql/migrate.js';
import { runCli, type Run } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient, type ReceivedMessage } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { TEST_SECRET } from '../support/walcast.js';

const run = promisify(execFile);
const SCALE = 2; // branches = tenants '1' and '2'
const CLIENTS = 4;
/** A fixed amount of work, paced (RATE transactions/s in all) so the kills land while it runs. */
const TRANSACTIONS_PER_CLIENT = 150;
const TRANSACTIONS = CLIENTS * TRANSACTIONS_PER_CLIENT;
const RATE = 40;
const RESTARTS = 3;

/** WALCAST_PGBENCH, else Debian's (any major); undefined (or WALCAST_PGBENCH=none): the TPC-B script through pg. */
function findPgbench(): string | undefined {
  if (process.env['WALCAST_PGBENCH'] === 'none') return undefined;
  const debian = '/usr/lib/postgresql';
  const candidates = existsSync(debian) ? readdirSync(debian).map((major) => `${debian}/${major}/bin/pgbench`) : [];
  return [process.env['WALCAST_PGBENCH'], ...candidates].find((file) => file && existsSync(file));
}

let db: TestDatabase;
const pgbench = findPgbench();

/** pgbench's own schema and data (`pgbench -i`), written out for machines without it. */
async function initialiseWithSql(): Promise<void> {
  await db.sql.query(`
    create table pgbench_branches (bid int primary key, bbalance int, filler char(88));
    create table pgbench_tellers (tid int primary key, bid int, tbalance int, filler char(84));
    create table pgbench_accounts (aid int primary key, bid int, abalance int, filler char(84));
    create table pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
    insert into pgbench_branches select b, 0 from generate_series(1, ${SCALE}) b;
    insert into pgbench_tellers select t, (t - 1) / 10 + 1, 0 from generate_series(1, ${10 * SCALE}) t;
    insert into pgbench_accounts select a, (a - 1) / 100000 + 1, 0, '' from generate_series(1, ${100_000 * SCALE}) a;`);
}

/** The TPC-B transaction of pgbench's built-in tpcb-like script, through pg. */
async function tpcbThroughPg(transactions: number, clients: number): Promise<void> {
  const random = (max: number) => 1 + Math.floor(Math.random() * max);
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      for (let done = 0; done < transactions; done++) {
        const [aid, bid, tid, delta] = [random(100_000 * SCALE), random(SCALE), random(10 * SCALE), random(10_000) - 5_000];
        await client.query('begin');
        await client.query('update pgbench_accounts set abalance = abalance + $1 where aid = $2', [delta, aid]);
        await client.query('select abalance from pgbench_accounts where aid = $1', [aid]);
        await client.query('update pgbench_tellers set tbalance = tbalance + $1 where tid = $2', [delta, tid]);
        await client.query('update pgbench_branches set bbalance = bbalance + $1 where bid = $2', [delta, bid]);
        await client.query('insert into pgbench_history (tid, bid, aid, delta, mtime) values ($1, $2, $3, $4, current_timestamp)', [tid, bid, aid, delta]);
        await client.query('commit');
        await new Promise((resolve) => setTimeout(resolve, (1000 * clients) / RATE));
      }
      await client.end();
    }),
  );
}

beforeAll(async () => {
  db = await createTestDatabase('pgbench');
  await migrate(db.url);
  if (pgbench) await run(pgbench, ['-i', '-s', String(SCALE), '-q', db.url]);
  else await initialiseWithSql();
  await db.sql.query(`select walcast.expose('pgbench_accounts', tenant_column => 'bid');
                      select walcast.expose('pgbench_history', tenant_column => 'bid');`);
}, 120_000);

afterAll(async () => {
  await db?.drop();
});

describe('pgbench as the app, walcast killed and restarted', () => {
  it('delivers every change exactly once, in commit order, and the events replay to the final balances', async () => {
    const port = await freePort();
    const serve = (): Run =>
      runCli(['serve'], { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET, WALCAST_PORT: String(port), WALCAST_INSTANCE: 'bench', LOG_LEVEL: 'warn' });
    const waitForReady = () =>
      eventually(
        'walcast is ready',
        () =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            (response) => response.status === 200,
            () => false,
          ),
        30_000,
        100,
      );
    const committed = async () => Number((await db.sql.query<{ n: string }>('select count(*) as n from pgbench_history')).rows[0]!.n);
    let walcast = serve();
    await waitForReady();

    const tenants = ['1', '2'];
    const clients = await Promise.all(
      tenants.map(async (tenant) => {
        const token = await signToken(TEST_SECRET, { tenant, sub: `client-${tenant}`, ttlSeconds: 3600, tenantClaim: 'tenant_id' });
        return SseClient.open(`http://127.0.0.1:${port}/v1/stream?tables=pgbench_accounts,pgbench_history&access_token=${token}`);
      }),
    );

    try {
      const workload = pgbench
        ? run(pgbench, ['-n', '-c', String(CLIENTS), '-j', '2', '-t', String(TRANSACTIONS_PER_CLIENT), '-R', String(RATE), db.url])
        : tpcbThroughPg(TRANSACTIONS_PER_CLIENT, CLIENTS);
      // Killed after each quarter of the work has committed, whatever the pace.
      for (let restart = 1; restart <= RESTARTS; restart++) {
        const share = Math.floor((TRANSACTIONS * restart) / (RESTARTS + 1));
        await eventually(`${share} transactions committed`, async () => (await committed()) >= share, 120_000, 100);
        walcast.child.kill('SIGKILL');
        await walcast.exited;
        walcast = serve();
        await waitForReady();
      }
      await workload;
      // A last row per tenant: in stream order, anything sent twice would arrive before it.
      await db.sql.query(`insert into pgbench_history (tid, bid, aid, delta, mtime) values (0, 1, 0, 0, now()), (0, 2, 0, 0, now())`);

      const { rows: counts } = await db.sql.query<{ bid: number; n: number }>('select bid, count(*)::int as n from pgbench_history group by bid order by bid');
      const history = (client: SseClient) => client.received.filter((event) => event.data['table'] === 'public.pgbench_history');
      const last = (client: SseClient) => (client.received.at(-1)?.data['row'] as { tid?: number } | undefined)?.tid === 0;
      await Promise.all(clients.map((client, i) => client.until(() => last(client), 60_000, `tenant ${tenants[i]} has every history row`)));

      const deltas = new Map<number, number>();
      let events = 0;
      for (const [i, client] of clients.entries()) {
        const changes = client.received.filter((event) => event.type === 'change');
        events += changes.length;
        expect(client.received.filter((event) => event.type !== 'change')).toEqual([]);
        // Commit order, nothing twice: IDs strictly increase.
        const ids = changes.map((event) => event.id);
        expect(ids.every((id, k) => k === 0 || id > ids[k - 1]!)).toBe(true);
        expect(history(client)).toHaveLength(counts.find((row) => String(row.bid) === tenants[i])!.n);
        expect(changes.every((event) => event.data['tenant'] === tenants[i])).toBe(true);

        // This tenant's accounts, rebuilt from its update events, are the database's.
        const balances = new Map<number, number>();
        for (const event of changes.filter((change: ReceivedMessage) => change.data['table'] === 'public.pgbench_accounts')) {
          const row = event.data['row'] as { aid: number; abalance: number };
          balances.set(row.aid, row.abalance);
        }
        const { rows } = await db.sql.query<{ aid: number; abalance: number }>('select aid, abalance from pgbench_accounts where bid = $1 and abalance <> 0', [
          Number(tenants[i]),
        ]);
        expect(Object.fromEntries([...balances].filter(([, balance]) => balance !== 0))).toEqual(
          Object.fromEntries(rows.map((row) => [row.aid, row.abalance])),
        );
        for (const event of history(client)) {
          const row = event.data['row'] as { aid: number; delta: number };
          deltas.set(row.aid, (deltas.get(row.aid) ?? 0) + row.delta);
        }
      }
      // Replaying every history event (both tenants) gives each account's final balance.
      const { rows: final } = await db.sql.query<{ aid: number; abalance: number }>('select aid, abalance from pgbench_accounts where abalance <> 0');
      expect(Object.fromEntries([...deltas].filter(([, sum]) => sum !== 0))).toEqual(Object.fromEntries(final.map((row) => [row.aid, row.abalance])));

      const transactions = counts.reduce((sum, row) => sum + row.n, 0) - tenants.length;
      expect(transactions).toBe(TRANSACTIONS);
      console.log(
        JSON.stringify({
          pgbench: pgbench ?? 'tpc-b through pg',
          transactions,
          events,
          restarts: RESTARTS,
          reconnects: clients.map((client) => client.connections - 1),
          lost: 0,
          duplicated: 0,
        }),
      );
    } finally {
      for (const client of clients) client.close();
      walcast.child.kill('SIGTERM');
      await walcast.exited;
    }
  }, 180_000);
});
