// An instance that starts again rebuilds its window from the WAL, having loaded today's
// exposures first (DESIGN §7): what it serves from that window must be what the live
// instance served, so a client resuming on either gets the same events. The slot here is
// made after the table was exposed, so the replay starts past that first expose() and
// only the row of the policy change is replayed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient, type ReceivedMessage } from '../support/sse.js';
import { startTestWalcast, waitUntilReady } from '../support/walcast.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('window_rebuild');
  await migrate(db.url);
  await db.sql.query(`create table memos (id serial primary key, org_id text not null, body text not null);
                      select walcast.expose('memos', tenant_column => 'org_id');`);
});

afterAll(async () => {
  await db?.drop();
});

const shapes = (messages: readonly ReceivedMessage[]) =>
  messages.map((message) =>
    message.type === 'invalidate' ? `invalidate ${String(message.data['reason'])}` : `${message.type} ${(message.data['row'] as { body: string }).body}`,
  );

describe('a window rebuilt from the WAL', () => {
  it('holds the invalidate of a policy changed in it, as the live window did', async () => {
    const live = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'rebuilds' });
    let resumeFrom: string;
    let token: string;
    try {
      await waitUntilReady(live);
      token = await live.token('acme', 'alice');
      const first = await SseClient.open(live.streamUrl(token, { tables: 'memos' }));
      await db.sql.query(`insert into memos (org_id, body) values ('acme', 'before')`);
      resumeFrom = (await first.take(1))[0]!.id!;
      first.close();
      await db.sql.query(`select walcast.expose('memos', tenant_column => 'org_id', policy => 'body=eq.visible');
                          insert into memos (org_id, body) values ('acme', 'visible');`);
      const resumed = await SseClient.open(live.streamUrl(token, { tables: 'memos', lastEventId: resumeFrom }));
      expect(shapes(await resumed.take(2))).toEqual(['invalidate policy_changed', 'change visible']);
      resumed.close();
    } finally {
      await live.close();
    }
    const restarted = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'rebuilds' });
    try {
      await waitUntilReady(restarted);
      const resumed = await SseClient.open(restarted.streamUrl(token, { tables: 'memos', lastEventId: resumeFrom }));
      // Without it the client would keep the rows it read under the old policy.
      expect(shapes(await resumed.take(2))).toEqual(['invalidate policy_changed', 'change visible']);
      resumed.close();
    } finally {
      await restarted.close();
    }
  });
});
