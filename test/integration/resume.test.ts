// Resume beyond one connection: an ID older than retention gets `reset`; so does one past
// the database's own WAL (a restore, a new cluster); a restarted instance rebuilds its
// window from the slot and a client resumes with no gap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/events/event-id.js';
import { formatCursor } from '../../src/events/resume-point.js';
import { parseLsn, type Lsn } from '../../src/replication/lsn.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually, metric } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('resume');
  await migrate(db.url);
  await db.sql.query(`
    create table notes (id serial primary key, org text not null, body text not null);
    select walcast.expose('public.notes', tenant_column => 'org');`);
});

afterAll(async () => {
  await db?.drop();
});

async function insertNotes(...bodies: string[]): Promise<void> {
  for (const body of bodies) await db.sql.query(`insert into notes (org, body) values ('acme', $1)`, [body]);
}

describe('a resume point older than retention', () => {
  let walcast: TestWalcast;
  beforeAll(async () => {
    walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'small', WALCAST_RETAIN_EVENTS: '2' });
    await waitUntilReady(walcast);
  });
  afterAll(async () => walcast?.close());

  it('gets a reset, then the stream continues live', async () => {
    const token = await walcast.token('acme');
    const first = await SseClient.open(walcast.streamUrl(token, { tables: 'notes' }));
    await insertNotes('r1');
    const [r1] = await first.take(1);
    first.close();
    await insertNotes('r2', 'r3', 'r4');
    // All four retained in turn (r1 and r2 evicted): r1 is now older than the window.
    await eventually('all four were decoded (r1 and r2 evicted)', async () => (await metric(walcast.url, 'walcast_changes_total')) >= 4, 5_000);

    const resumed = await SseClient.open(walcast.streamUrl(token, { tables: 'notes', lastEventId: r1!.id }));
    try {
      const reset = await resumed.next();
      expect(reset.type).toBe('reset');
      expect(reset.id).toBe('');
      expect(reset.data).toMatchObject({ reason: expect.any(String) });
      await insertNotes('after reset');
      expect((await resumed.next()).data).toMatchObject({ row: { body: 'after reset' } });
    } finally {
      resumed.close();
    }
  });
});

describe('a resume point from another database', () => {
  let walcast: TestWalcast;
  beforeAll(async () => {
    walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'restored' });
    await waitUntilReady(walcast);
  });
  afterAll(async () => walcast?.close());

  /** The database's WAL insert position, plus `ahead` bytes. */
  async function walPosition(ahead: bigint): Promise<Lsn> {
    const { rows } = await db.sql.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
    return (parseLsn(rows[0]!.lsn) + ahead) as Lsn;
  }

  async function expectResetThenLive(lastEventId: string, body: string): Promise<void> {
    const token = await walcast.token('acme');
    const resumed = await SseClient.open(walcast.streamUrl(token, { tables: 'notes', lastEventId }));
    try {
      const reset = await resumed.next();
      expect(reset.type).toBe('reset');
      expect(reset.data).toMatchObject({ reason: expect.stringMatching(/another database/) });
      await insertNotes(body);
      expect((await resumed.next()).data).toMatchObject({ row: { body } });
    } finally {
      resumed.close();
    }
  }

  it("gets a reset for an event ID past the database's WAL position (not silence forever), then the stream goes on live", async () => {
    await expectResetThenLive(formatEventId(await walPosition(1n << 30n), 3), 'after a restore');
  });

  it('gets a reset for a snapshot cursor past it too', async () => {
    const low = await walPosition(1n << 30n);
    await expectResetThenLive(formatCursor({ low, high: (low + 64n) as Lsn, xmax: 5_000_000n, xip: [] }), 'after a cursor from elsewhere');
  });

  it("waits on an ID past this instance's head but not past the database (a faster instance), with no reset", async () => {
    const token = await walcast.token('acme');
    // Written to the WAL, never a commit this instance decoded: past its head.
    const resumed = await SseClient.open(walcast.streamUrl(token, { tables: 'notes', lastEventId: formatEventId(await walPosition(0n), 0) }));
    try {
      await insertNotes('from the faster instance on');
      const next = await resumed.next();
      expect(next.type).toBe('change');
      expect(next.data).toMatchObject({ row: { body: 'from the faster instance on' } });
    } finally {
      resumed.close();
    }
  });
});

describe('a restarted instance', () => {
  it('rebuilds its window from the slot, so a client resumes with no gap and no duplicate', async () => {
    const before = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'restart' });
    await waitUntilReady(before);
    const token = await before.token('acme');
    const client = await SseClient.open(before.streamUrl(token, { tables: 'notes' }));
    await insertNotes('a1', 'a2');
    const [, a2] = await client.take(2);
    client.close();
    await insertNotes('b1', 'b2');
    await eventually('the instance retained b1 and b2', async () => (await metric(before.url, 'walcast_retained_events')) >= 4, 5_000);
    await before.close();

    await insertNotes('c1'); // committed while no instance runs

    const after = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'restart' });
    try {
      const resumed = await SseClient.open(after.streamUrl(token, { tables: 'notes', lastEventId: a2!.id }));
      const missed = await resumed.take(3);
      expect(missed.map((message) => (message.data['row'] as { body: string }).body)).toEqual(['b1', 'b2', 'c1']);
      await insertNotes('live');
      expect((await resumed.next()).data).toMatchObject({ row: { body: 'live' } });
      expect(resumed.unread()).toEqual([]);
      resumed.close();
    } finally {
      await after.close();
    }
  });
});
