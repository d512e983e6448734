// DESIGN §4: snapshot reads are bounded. Per tenant at once (429), paged snapshots held
// per instance (503 with Retry-After), a reader that stops taking the body is cut off and
// its transaction ended, and no number of readers delays replication, edits or presence:
// they run on connections of their own.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

const STALL_MS = 3_000;
const TENANTS = ['t0', 't1', 't2', 't3', 't4'];

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('snapshot_limits');
  await migrate(db.url);
  // 2,000 rows of 16 KB per tenant t0…t4: ~32 MB a read, more than socket buffers hold;
  // two small rows for each of the tenants p0…p29, whose paged reads have a next page.
  await db.sql.query(`
    create sequence docs_ids start 100000;
    create table docs (id int primary key default nextval('docs_ids'), org_id text not null, body text);
    insert into docs select g, 't' || (g % 5), repeat(md5(g::text), 512) from generate_series(1, 10000) g;
    insert into docs select 10000 + g, 'p' || (g % 30), 'small' from generate_series(1, 60) g;
    select walcast.expose('docs', tenant_column => 'org_id', writable_columns => '{body}');`);
  walcast = await startTestWalcast(db.url, {}, { snapshotStallMs: STALL_MS });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

/** A reader that sends its request and then reads nothing, until `drain()` reads what is left. */
async function stalledReader(tenant: string, on: TestWalcast = walcast): Promise<{ drain(): Promise<number> }> {
  const url = new URL(`${on.url}/v1/tables/docs/rows`);
  const socket: Socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(`GET ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\nauthorization: Bearer ${await on.token(tenant)}\r\n\r\n`);
  return {
    /** Bytes received in all, once the server has closed the connection. */
    drain: () =>
      new Promise((resolve) => {
        let bytes = 0;
        socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
        socket.once('close', () => resolve(bytes));
        socket.resume();
      }),
  };
}

/** Snapshot reads under way on the server, as a DBA sees them. */
async function readsInProgress(): Promise<number> {
  const { rows } = await db.sql.query(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'walcast reads' and state <> 'idle'`,
  );
  return rows[0]!.n as number;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('bounded snapshot reads', () => {
  it('20 stalled readers and 30 held pages never delay an edit, a heartbeat or a live event; stalled readers are cut off', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('t0'), { tables: 'docs' }));
    const readers = await Promise.all(TENANTS.flatMap((tenant) => [0, 1, 2, 3].map(() => stalledReader(tenant))));
    // Eight hold every read connection; the other twelve wait for one.
    await eventually('the read connections are all busy', async () => (await readsInProgress()) === 8);

    // A fifth read of a tenant with four under way: 429 with Retry-After.
    const fifth = await fetch(`${walcast.url}/v1/tables/docs/rows`, { headers: { authorization: `Bearer ${await walcast.token('t1')}` } });
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get('retry-after')).toBeTruthy();
    expect(await fifth.json()).toMatchObject({ error: 'too_many_snapshot_reads' });

    // 30 first pages of paged reads at once (each holds its snapshot for the next page):
    // as many held as the instance allows (8), the rest 503 with Retry-After.
    const pages = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const response = await fetch(`${walcast.url}/v1/tables/docs/rows?limit=1`, { headers: { authorization: `Bearer ${await walcast.token(`p${i}`)}` } });
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: (await response.json()) as { next?: string | null; error?: string },
        };
      }),
    );
    const heldPages = pages.filter((page) => page.status === 200);
    expect(heldPages).toHaveLength(8);
    expect(heldPages.every((page) => typeof page.body.next === 'string')).toBe(true);
    for (const refused of pages.filter((page) => page.status !== 200)) {
      expect(refused).toMatchObject({ status: 503, retryAfter: expect.any(String), body: { error: 'too_many_snapshots' } });
    }

    const edit = await timed(async () =>
      fetch(`${walcast.url}/v1/tables/docs/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await walcast.token('t0')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ body: 'while readers stall' }),
      }),
    );
    expect([edit.value.status, edit.ms < 1_000]).toEqual([201, true]);
    const heartbeat = await timed(async () =>
      fetch(`${walcast.url}/v1/presence`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await walcast.token('t0')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'lobby', state: {} }),
      }),
    );
    expect([heartbeat.value.status < 300, heartbeat.ms < 1_000]).toEqual([true, true]);
    const live = await timed(async () => {
      await db.sql.query(`insert into docs (id, org_id, body) values (20001, 't0', 'live')`);
      return stream.until(() => stream.received.some((event) => (event.data['row'] as { id?: number } | undefined)?.id === 20001), 5_000, 'the live event');
    });
    expect(live.ms).toBeLessThan(1_000);

    // Each stalled reader is cut off after STALL_MS, its transaction ended; the waiting ones
    // get a connection in turn and are cut off too. What each received is less than a read.
    await eventually('every stalled read has ended', async () => (await readsInProgress()) === 0, 4 * STALL_MS + 10_000, 200);
    const received = await Promise.all(readers.map((reader) => reader.drain()));
    for (const bytes of received) expect(bytes).toBeLessThan(32_000_000);
    const response = await fetch(`${walcast.url}/v1/tables/docs/rows?where=id=eq.5`, { headers: { authorization: `Bearer ${await walcast.token('t0')}` } });
    expect(((await response.json()) as { rows: unknown[] }).rows).toHaveLength(1);
    stream.close();
  }, 90_000);

  it('a backend ended under a held snapshot or a stalled read (a timeout, a DBA, a failover) ends that read alone', async () => {
    // An instance of its own: the test above holds this one's every paged snapshot for their TTL.
    const own = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'ended' }, { snapshotStallMs: STALL_MS });
    try {
      await waitUntilReady(own);
      await backendEndedUnder(own);
    } finally {
      await own.close();
    }
  }, 60_000);
});

async function backendEndedUnder(walcast: TestWalcast): Promise<void> {
  const p1 = await walcast.token('p1');
  const first = await fetch(`${walcast.url}/v1/tables/docs/rows?limit=1`, { headers: { authorization: `Bearer ${p1}` } });
  const { next } = (await first.json()) as { next: string };
  const reader = await stalledReader('t1', walcast);
  await eventually('the stalled read is under way', async () => (await readsInProgress()) >= 1, 10_000, 100);
  const { rows: ended } = await db.sql.query(
    `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`,
  );
  expect(ended.length).toBeGreaterThanOrEqual(2);
  await reader.drain();
  const later = await fetch(`${walcast.url}/v1/tables/docs/rows?limit=1&page=${encodeURIComponent(next)}`, { headers: { authorization: `Bearer ${p1}` } });
  expect([later.status, ((await later.json()) as { error: string }).error]).toEqual([410, 'snapshot_expired']);
  // The process, its pools and other reads go on.
  expect((await fetch(`${walcast.url}/healthz`)).status).toBe(200);
  const again = await fetch(`${walcast.url}/v1/tables/docs/rows?where=id=eq.5`, { headers: { authorization: `Bearer ${await walcast.token('t0')}` } });
  expect(((await again.json()) as { rows: unknown[] }).rows).toHaveLength(1);
}
