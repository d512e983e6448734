// `walcast doctor` on a deliberately broken database: it names each problem, exits
// non-zero, and the SQL it prints fixes them (a second run is clean).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('doctor');
  await migrate(db.url);
  await db.sql.query(`
    create table orders (id int primary key, org_id text not null, total numeric);
    select walcast.expose('orders', tenant_column => 'org_id', version_column => 'version');
    create table lines (id int primary key, org_id text not null);
    select walcast.expose('lines', tenant_column => 'org_id');
    create table gossip (id int primary key, body text);
    -- The breakage a DBA could cause:
    alter table orders replica identity default;             -- deletes no longer name their tenant
    alter table orders disable trigger walcast_bump_version; -- versions stop moving
    alter publication walcast drop table lines;              -- exposed, but no events
    alter publication walcast add table gossip;              -- published to every tenant`);
  // An instance that never came back (a slot needs a transaction of its own).
  await db.sql.query(`select pg_create_logical_replication_slot('walcast_gone', 'pgoutput')`);
});

afterAll(async () => {
  await db?.drop();
});

describe('walcast doctor', () => {
  it('reports each problem with the SQL that fixes it, and is clean once that SQL ran', async () => {
    const run = runCli(['doctor'], { DATABASE_URL: db.url });
    expect(await run.exited).toBe(1);
    const report = run.output;
    expect(report).toMatch(/^ok {4}wal_level: logical$/m);
    expect(report).toMatch(/^FAIL {2}table orders: its replica identity lacks the tenant column org_id.*\n {6}fix: ALTER TABLE orders REPLICA IDENTITY FULL;$/m);
    expect(report).toMatch(/^FAIL {2}table orders: version column version is not bumped/m);
    expect(report).toMatch(/^FAIL {2}table lines: exposed but not in publication walcast.*\n {6}fix: ALTER PUBLICATION walcast ADD TABLE lines;$/m);
    expect(report).toMatch(/^WARN {2}table public\.gossip: in the publication without walcast\.expose\(\): every tenant can read it/m);
    expect(report).toMatch(/^FAIL {2}slot walcast_gone: inactive, pinning WAL: lag \d+ bytes, retains [\d.]+ MiB of WAL$/m);
    expect(report).toMatch(/^4 problems found$/m);

    const fixes = [...report.matchAll(/^ {6}fix: (.*)$/gm)].map((match) => match[1]!).filter((fix) => /^(ALTER TABLE|ALTER PUBLICATION|SELECT)/.test(fix));
    for (const fix of fixes) {
      if (fix.includes('max_slot_wal_keep_size') || fix.includes("'<column>'")) continue;
      await db.sql.query(fix);
    }
    const again = runCli(['doctor'], { DATABASE_URL: db.url });
    expect(await again.exited).toBe(0);
    expect(again.output).toMatch(/^no problems found/m);
    expect(again.output).toMatch(/^ok {4}table orders: exposed, tenant column org_id$/m);
  });

  it('needs only DATABASE_URL, and says so without it', async () => {
    const run = runCli(['doctor'], {});
    expect(await run.exited).toBe(2);
    expect(run.output).toMatch(/DATABASE_URL is required for doctor/);
  });
});
