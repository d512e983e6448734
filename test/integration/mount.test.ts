// createWalcast inside an Express app of the team's own: every route under a prefix of
// their choosing beside their own routes, the SDK pointed at that prefix, and close()
// giving back the slot while their server keeps serving.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/jwt.js';
import { createClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/config.js';
import { migrate } from '../../src/sql/migrate.js';
import { createWalcast, type Walcast } from '../../src/walcast.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/wait.js';
import { TEST_SECRET } from '../support/walcast.js';

let db: TestDatabase;
let walcast: Walcast;
let server: Server;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase('mount');
  await migrate(db.url);
  await db.sql.query(`
    create table todos (id serial primary key, org_id text not null, title text not null);
    select walcast.expose('todos', tenant_column => 'org_id', version_column => 'version');`);
  walcast = await createWalcast({
    config: loadConfig({ DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET, WALCAST_INSTANCE: 'mounted', LOG_LEVEL: 'silent' }),
  });
  const app = express();
  app.get('/api/hello', (_request, response) => {
    response.json({ hello: 'from the app' });
  });
  app.use('/realtime', walcast.handler);
  server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await walcast?.close();
  server?.closeAllConnections();
  server?.close();
  await db?.drop();
});

describe('createWalcast mounted in an Express app', () => {
  it("serves the API under the prefix beside the app's own routes", async () => {
    const token = await signToken(TEST_SECRET, { tenant: 'acme', sub: 'me', ttlSeconds: 600, tenantClaim: 'tenant_id' });
    const todos = createClient({ url: `${base}/realtime`, token }).subscribe({ tables: ['todos'] });
    await todos.ready();
    await todos.insert('todos', { title: 'via the mounted router' });
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'by the app')`);
    await new Promise<void>((resolve) => todos.on('rows', () => todos.rows('todos').length === 2 && todos.pendingEdits === 0 && resolve()));
    expect(todos.rows('todos').map((row) => row['title'])).toEqual(['via the mounted router', 'by the app']);
    todos.close();

    expect(await (await fetch(`${base}/api/hello`)).json()).toEqual({ hello: 'from the app' });
    const ready = await fetch(`${base}/realtime/readyz`);
    expect(ready.status).toBe(200);
    const missing = await fetch(`${base}/realtime/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('close() ends the streams and frees the slot; the app keeps serving', async () => {
    await walcast.close();
    // The server marks a slot free a moment after its walsender exits (FACTS.md).
    const active = async () => (await db.sql.query(`select active from pg_replication_slots where slot_name = 'walcast_mounted'`)).rows[0]?.active;
    await eventually('the slot is free', async () => (await active()) === false, 5_000, 50);
    expect((await fetch(`${base}/api/hello`)).status).toBe(200);
  });
});
