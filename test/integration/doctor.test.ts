// `walcast doctor` on a deliberately broken database: it names each problem, exits
// non-zero, and each fix it prints, run on its own, changes no exposure's settings
// (hidden, writable, tenant and version columns, publication, row policy, columns set on
// insert); once all ran, a second run is clean.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createRole, type TestRole } from '../support/roles.js';

let db: TestDatabase;
let server: TestRole;

/** Every exposure as servers read it, and the settings behind it. */
const EXPOSURES = `select e.relid::text as table, walcast.exposure_of(e) as exposure, e.exposure as announced,
                          e.tenant_attnum, e.version_attnum, e.hidden_attnums, e.writable_attnums, e.publication,
                          e.policy, e.policy_attnums, e.set_on_insert
                     from walcast.exposed_tables e order by 1`;

beforeAll(async () => {
  db = await createTestDatabase('doctor');
  await migrate(db.url);
  server = await createRole('doctor_server', 'replication');
  await db.sql.query(`
    create table orders (id int primary key, org_id text not null, total numeric, note text, card text, buyer text);
    select walcast.expose('orders', tenant_column => 'org_id', version_column => 'version',
                          hidden_columns => '{card}', writable_columns => '{note}',
                          policy => 'or=(buyer.eq.$sub,total.lt.100,card.is.null)', set_on_insert => '{"buyer":"$sub"}');
    create table lines (id int primary key, org_id text not null, secret text);
    select walcast.expose('lines', tenant_column => 'org_id', hidden_columns => '{secret}');
    create table gossip (id int primary key, body text);
    select walcast.allow_server(${pg.escapeLiteral(server.name)});
    -- The breakage a DBA could cause:
    alter table orders replica identity default;             -- deletes no longer name their tenant
    alter table orders disable trigger walcast_bump_version; -- versions stop moving
    alter publication walcast drop table lines;              -- exposed, but no events
    alter publication walcast add table gossip;              -- published without expose: streams to nobody
    alter publication walcast drop table walcast.exposed_tables; -- expose and conceal no longer reach servers
    alter event trigger walcast_alter_table disable;         -- renames no longer announced
    revoke update (note) on orders from ${pg.escapeIdentifier(server.name)};`);
  // An instance that never came back (a slot needs a transaction of its own).
  await db.sql.query(`select pg_create_logical_replication_slot('walcast_gone', 'pgoutput')`);
});

afterAll(async () => {
  await db?.drop();
  await server?.drop();
});

describe('walcast doctor', () => {
  it('reports each problem with a fix that keeps every setting it does not fix, and is clean once all ran', async () => {
    const run = runCli(['doctor'], { DATABASE_URL: db.url });
    expect(await run.exited).toBe(1);
    const report = run.output;
    const role = server.name;
    expect(report).toMatch(/^ok {4}wal_level: logical$/m);
    expect(report).toMatch(/^ok {4}walcast schema: installed, \d+ scripts applied$/m);
    expect(report).toMatch(
      /^FAIL {2}publication: walcast does not publish walcast\.exposed_tables: expose and conceal do not reach running servers\n {6}fix: SELECT walcast\.ensure_publication\('walcast'\);$/m,
    );
    expect(report).toMatch(/^WARN {2}event triggers: missing: .*\n {6}fix: SELECT walcast\.install_event_triggers\(\); {2}-- as a superuser$/m);
    expect(report).toMatch(
      /^FAIL {2}table orders: its replica identity lacks the tenant column org_id.*\n {6}fix: ALTER TABLE orders REPLICA IDENTITY FULL;$/m,
    );
    expect(report).toMatch(/^FAIL {2}table orders: version column version is not bumped.*\n {6}fix: SELECT walcast\.reexpose\('orders'\);$/m);
    expect(report).toMatch(/^FAIL {2}table lines: exposed but not in publication walcast.*\n {6}fix: ALTER PUBLICATION walcast ADD TABLE lines;$/m);
    expect(report).toMatch(
      /^WARN {2}table public\.gossip: in the publication without walcast\.expose\(\): it streams to nobody\n {6}fix: ALTER PUBLICATION walcast DROP TABLE public\.gossip;/m,
    );
    expect(report).toMatch(
      /^ok {4}pg_logical_emit_message: every role can call it \(PostgreSQL grants it to PUBLIC\): walcast ignores walcast\.config messages and drops walcast\.presence messages without a valid MAC$/m,
    );
    expect(report).toMatch(
      new RegExp(
        `^FAIL {2}server role ${role}: lacks UPDATE \\(note\\) on public\\.orders: walcast serve refuses to start as it\\n {6}fix: SELECT walcast\\.allow_server\\('${role}'\\);$`,
        'm',
      ),
    );
    expect(report).toMatch(
      /^FAIL {2}slot walcast_gone: orphaned: no instance streams it( \(since [^)]+\))?, and no instance records it, so walcast never drops it, pinning WAL: lag \d+ bytes, retains [\d.]+ MiB of WAL\n {6}fix: SELECT pg_drop_replication_slot\('walcast_gone'\);/m,
    );
    expect(report).toMatch(/^6 problems found$/m);

    const fixes = [...report.matchAll(/^ {6}fix: (.*)$/gm)].map((match) => match[1]!).filter((fix) => !fix.includes('max_slot_wal_keep_size'));
    expect(fixes).toHaveLength(8);
    for (const fix of fixes) {
      const before = (await db.sql.query(EXPOSURES)).rows;
      // The SQL before any `--` comment; a fix is one or more statements.
      await db.sql.query(fix.replace(/--.*$/, ''));
      expect((await db.sql.query(EXPOSURES)).rows, fix).toEqual(before);
    }
    const exposures = (await db.sql.query(EXPOSURES)).rows;
    expect(
      exposures.map((row) => [row.table, row.exposure.hiddenColumns, row.exposure.writableColumns, row.exposure.policy, row.exposure.setOnInsert]),
    ).toEqual([
      ['lines', ['secret'], null, null, null],
      ['orders', ['card'], ['note'], 'or=(buyer.eq.$sub,total.lt.100,card.is.null)', { buyer: '$sub' }],
    ]);

    const again = runCli(['doctor'], { DATABASE_URL: db.url });
    expect(await again.exited, again.output).toBe(0);
    expect(again.output).toMatch(/^no problems found/m);
    expect(again.output).toMatch(/^ok {4}table orders: exposed, tenant column org_id$/m);
    expect(again.output).toMatch(new RegExp(`^ok {4}server role ${role}: has every privilege walcast serve needs$`, 'm'));
  });

  it('needs only DATABASE_URL, and says so without it', async () => {
    const run = runCli(['doctor'], {});
    expect(await run.exited).toBe(2);
    expect(run.output).toMatch(/DATABASE_URL is required for doctor/);
  });
});
