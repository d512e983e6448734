// Replica identities (DESIGN §3, §6): whatever identity a table has, exposing it keeps the
// app's own UPDATE and DELETE working, and deletes and key changes reach their tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

/** table → its DDL (before expose), the identity expose must leave, the event key columns. */
const TABLES = {
  tenant_in_pk: ['create table tenant_in_pk (org_id text, id int, v text, primary key (org_id, id))', 'd', ['org_id', 'id']],
  pk_without_tenant: ['create table pk_without_tenant (id int primary key, org_id text not null, v text)', 'f', ['id']],
  using_index: [
    `create table using_index (org_id text not null, code text not null, v text);
     create unique index using_index_key on using_index (org_id, code);
     alter table using_index replica identity using index using_index_key`,
    'i',
    ['org_id', 'code'],
  ],
  identity_nothing: [
    'create table identity_nothing (id int primary key, org_id text not null, v text); alter table identity_nothing replica identity nothing',
    'f',
    ['id'],
  ],
  no_key: ['create table no_key (org_id text, v text)', 'f', ['org_id', 'v']],
} as const;

beforeAll(async () => {
  db = await createTestDatabase('identity');
  await migrate(db.url);
  for (const [table, [ddl]] of Object.entries(TABLES)) {
    await db.sql.query(ddl);
    await db.sql.query(`select walcast.expose($1, tenant_column => 'org_id')`, [table]);
  }
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

async function identityOf(table: string): Promise<string> {
  const { rows } = await db.sql.query<{ identity: string }>('select relreplident as identity from pg_class where oid = $1::regclass', [table]);
  return rows[0]!.identity;
}

describe('exposing under every replica identity', () => {
  for (const [table, [, identity, key]] of Object.entries(TABLES)) {
    it(`${table}: keeps the app's UPDATE and DELETE working and routes them to the tenant`, async () => {
      expect(await identityOf(table)).toBe(identity);
      const acme = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: table }));
      const globex = await SseClient.open(walcast.streamUrl(await walcast.token('globex'), { tables: table }));
      try {
        const keyed = (key as readonly string[]).find((column) => column === 'id' || column === 'code');
        const insert = (tenant: string, n: number) =>
          keyed
            ? db.sql.query(`insert into ${table} (org_id, ${keyed}, v) values ($1, $2, 'one')`, [tenant, n])
            : db.sql.query(`insert into ${table} (org_id, v) values ($1, 'one')`, [tenant]);
        await insert('acme', 1);
        await insert('globex', 2);
        // The app's own statements: Postgres would refuse these on a published table without a usable identity.
        await db.sql.query(`update ${table} set v = 'two' where org_id = 'acme'`);
        await db.sql.query(`delete from ${table} where org_id = 'acme'`);

        const [inserted, update, remove] = await acme.take(3);
        expect(inserted!.data).toMatchObject({ op: 'insert', tenant: 'acme' });
        expect(update!.data).toMatchObject({ op: 'update', tenant: 'acme', row: { v: 'two' } });
        expect(remove!.data).toMatchObject({ op: 'delete', tenant: 'acme' });
        expect(Object.keys(remove!.data['key'] as object)).toEqual(key);
        expect((remove!.data['key'] as Record<string, unknown>)['org_id'] ?? 'acme').toBe('acme');
        expect((await globex.next()).data).toMatchObject({ op: 'insert', tenant: 'globex' });
        await db.sql.query(`delete from ${table} where org_id = 'globex'`);
        expect((await globex.next()).data).toMatchObject({ op: 'delete', tenant: 'globex' });
        expect(acme.unread()).toEqual([]);
      } finally {
        acme.close();
        globex.close();
      }
    });
  }

  it('routes a key-changing update under the default identity: same tenant, key as it was', async () => {
    const acme = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'tenant_in_pk' }));
    const globex = await SseClient.open(walcast.streamUrl(await walcast.token('globex'), { tables: 'tenant_in_pk' }));
    try {
      await db.sql.query(`insert into tenant_in_pk values ('acme', 10, 'k')`);
      await db.sql.query(`update tenant_in_pk set id = 11 where org_id = 'acme' and id = 10`);
      await db.sql.query(`update tenant_in_pk set org_id = 'globex' where org_id = 'acme' and id = 11`);
      const [, rekeyed, left] = await acme.take(3);
      expect(rekeyed!.data).toMatchObject({ op: 'update', key: { org_id: 'acme', id: 10 }, row: { id: 11 } });
      expect(left!.data).toMatchObject({ op: 'delete', tenant: 'acme', key: { org_id: 'acme', id: 11 } });
      expect((await globex.next()).data).toMatchObject({ op: 'insert', tenant: 'globex', key: { org_id: 'globex', id: 11 } });
      expect(left!.id).toBe(globex.received[0]!.id);
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('restores the identity it changed on conceal, and leaves one it did not change alone', async () => {
    await db.sql.query(`create table restored (id int primary key, org_id text); alter table restored replica identity nothing`);
    await db.sql.query(`select walcast.expose('restored', tenant_column => 'org_id')`);
    expect(await identityOf('restored')).toBe('f');
    await db.sql.query(`select walcast.conceal('restored')`);
    expect(await identityOf('restored')).toBe('n');
    await db.sql.query(`select walcast.expose('tenant_in_pk', tenant_column => 'org_id')`);
    expect(await identityOf('tenant_in_pk')).toBe('d');
  });
});
