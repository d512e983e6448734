// Resume beyond one connection: an ID older than retention gets `reset`; a restarted
// instance rebuilds its window from the slot and a client resumes with no gap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
