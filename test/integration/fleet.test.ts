// DESIGN §7, rolling deploys: each live instance shows in walcast.instances; one of them
// drops the slot of an instance of its publication gone for WALCAST_SLOT_ORPHAN_AFTER
// seconds — never an active slot, another publication's, or another application's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose, formatFindings } from '../../src/doctor/checks.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, waitUntilReady } from '../support/walcast.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('fleet');
  await migrate(db.url);
  await db.sql.query(`create table notes (id serial primary key, org_id text not null, body text);
                      select walcast.expose('notes', tenant_column => 'org_id');`);
});

afterAll(async () => {
  await db?.drop();
});

async function slots(): Promise<string[]> {
  const { rows } = await db.sql.query<{ slot_name: string }>(`select slot_name from pg_replication_slots where database = current_database() order by 1`);
  return rows.map((row) => row.slot_name);
}

describe('orphaned slots', () => {
  it('are dropped by a live instance once their instance has been gone long enough, and only those', async () => {
    // Another application's slot, and a walcast slot of another publication's fleet, long unseen.
    await db.sql.query(`select pg_create_logical_replication_slot('other_app', 'pgoutput')`);
    await db.sql.query(`select pg_create_logical_replication_slot('walcast_elsewhere', 'pgoutput')`);
    await db.sql.query(
      `insert into walcast.instances (slot_name, publication, instance, seen_at) values ('walcast_elsewhere', 'elsewhere', 'elsewhere', now() - interval '1 day')`,
    );

    const departed = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'departed', WALCAST_SLOT_ORPHAN_AFTER: '2' });
    await waitUntilReady(departed);
    await departed.close();
    expect(await slots()).toContain('walcast_departed');
    // What doctor says meanwhile: whose slot it is, since when, and that it will go.
    const report = formatFindings(await diagnose(db.url, 'walcast', 2));
    expect(report).toMatch(
      /^WARN {2}slot walcast_departed: instance departed last seen \d+ s ago; a live instance drops its slot after WALCAST_SLOT_ORPHAN_AFTER \(2 s\)/m,
    );
    expect(report).toMatch(/^FAIL {2}slot walcast_elsewhere: orphaned: no instance streams it.*instance elsewhere last seen \d+ s ago/m);

    const live = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'live', WALCAST_SLOT_ORPHAN_AFTER: '2' });
    try {
      await waitUntilReady(live);
      const started = Date.now();
      await eventually("the departed instance's slot is dropped", async () => !(await slots()).includes('walcast_departed'), 20_000, 200);
      // Gone for 2 s, then found within one round of the reaper (5 s).
      expect(Date.now() - started).toBeLessThan(2_000 + 5_000 + 2_000);
      expect(await slots()).toEqual(['other_app', 'walcast_elsewhere', 'walcast_live']);
      const { rows } = await db.sql.query(`select slot_name from walcast.instances order by 1`);
      expect(rows.map((row: { slot_name: string }) => row.slot_name)).toEqual(['walcast_elsewhere', 'walcast_live']);

      await eventually('/metrics shows the slots', async () =>
        /walcast_slot_unseen_seconds\{slot="walcast_live"\} 0/.test(await (await fetch(`${live.url}/metrics`)).text()),
      );
      const metrics = await (await fetch(`${live.url}/metrics`)).text();
      expect(metrics).toMatch(/^walcast_slot_retained_wal_bytes\{slot="walcast_live"\} \d+/m);
      expect(metrics).toMatch(/^walcast_slot_unseen_seconds\{slot="walcast_elsewhere"\} \d{5}/m);
      expect(metrics).not.toMatch(/other_app/);
    } finally {
      await live.close();
    }
  }, 40_000);
});
