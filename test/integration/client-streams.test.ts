// The SDK's streams and reads against a real server: a client's subscriptions share one
// stream (a second only for one table under two filters), each filter selects what the
// database selects, a stream that falls silent is dropped and resumed, a large table
// arrives in pages and shows before the last one, and a window stays the first rows.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Subscription } from '../../src/client/index.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually, metric } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;
const FAST = { initialMs: 50, maxMs: 500 };

beforeAll(async () => {
  db = await createTestDatabase('client_streams');
  await migrate(db.url);
  await db.sql.query(`
    create table tasks (id serial primary key, org_id text not null, title text not null, done boolean not null default false);
    select walcast.expose('tasks', tenant_column => 'org_id');
    create table labels (id int primary key, org_id text not null, name text not null);
    select walcast.expose('labels', tenant_column => 'org_id');
    create table big (id int primary key, org_id text not null, body text not null);
    select walcast.expose('big', tenant_column => 'org_id');
    insert into big select n, 'acme', 'row ' || n from generate_series(1, 1000) n;`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

const openStreams = () => metric(walcast.url, 'walcast_clients');

function client(options: { fetch?: typeof fetch; silenceMs?: number; pageSize?: number; url?: string } = {}) {
  return createClient({ url: options.url ?? walcast.url, token: () => walcast.token('acme', 'alice'), backoff: FAST, ...options });
}

const titles = (subscription: Subscription, table = 'tasks') => subscription.rows(table).map((row) => row['title'] ?? row['name']);

async function databaseTitles(where: string): Promise<unknown[]> {
  const { rows } = await db.sql.query<{ title: string }>(`select title from tasks where org_id = 'acme' and ${where} order by id`);
  return rows.map((row) => row.title);
}

describe('one stream per client', () => {
  it('carries every subscription of a client on one stream, and a second filter of the same table on a second', async () => {
    await db.sql.query(`insert into tasks (org_id, title, done) values ('acme', 'open one', false), ('acme', 'done one', true), ('globex', 'theirs', true)`);
    await db.sql.query(`insert into labels values (1, 'acme', 'red'), (2, 'globex', 'blue')`);
    const before = await openStreams();
    const walcastClient = client();
    const all = walcastClient.subscribe({ tables: ['tasks', 'labels'], rooms: ['board'] });
    const open = walcastClient.subscribe({ tables: ['tasks'] });
    const labels = walcastClient.subscribe({ tables: ['labels'] });
    await Promise.all([all.ready(), open.ready(), labels.ready()]);
    expect(await openStreams()).toBe(before + 1);

    // The same table under another filter (and a filter on one table only): a second stream.
    const done = walcastClient.subscribe({ tables: ['tasks', 'labels'], where: { tasks: 'done=eq.true' } });
    await done.ready();
    expect(await openStreams()).toBe(before + 2);
    await db.sql.query(`insert into tasks (org_id, title, done) values ('acme', 'open two', false), ('acme', 'done two', true)`);
    await db.sql.query(`update tasks set done = true where title = 'open one'`);
    await db.sql.query(`insert into labels values (3, 'acme', 'green')`);
    await eventually(
      'each subscription equals what the database selects',
      async () =>
        JSON.stringify(titles(all)) === JSON.stringify(await databaseTitles('true')) &&
        JSON.stringify(titles(open)) === JSON.stringify(titles(all)) &&
        JSON.stringify(titles(done)) === JSON.stringify(await databaseTitles('done')) &&
        titles(done, 'labels').length === 2 &&
        titles(labels, 'labels').length === 2,
    );
    expect(titles(done)).toEqual(['open one', 'done one', 'done two']);

    // The filtered subscription closes: its stream is no longer needed.
    done.close();
    await eventually('the second stream closes', async () => (await openStreams()) === before + 1);
    walcastClient.close();
    await eventually('the client holds no stream', async () => (await openStreams()) === before);
  });
});

/** A TCP proxy in front of walcast that can stop passing the server's bytes on its open connections (a dead path). */
async function startProxy(target: URL): Promise<{ url: string; silenceOpenConnections(): void; close(): Promise<void> }> {
  const silenced = new WeakSet<Socket>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(downstream).add(upstream);
    upstream.on('data', (chunk) => {
      if (!silenced.has(downstream)) downstream.write(chunk);
    });
    downstream.on('data', (chunk) => upstream.write(chunk));
    const end = () => {
      upstream.destroy();
      downstream.destroy();
    };
    upstream.on('close', end).on('error', end);
    downstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    silenceOpenConnections: () => {
      for (const socket of sockets) silenced.add(socket);
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('silence', () => {
  it('drops a stream that brings no byte (keepalives included) for the silence bound, and resumes it with no gap', async () => {
    const proxy = await startProxy(new URL(walcast.url));
    let streamsAsked = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).includes('/v1/stream')) streamsAsked++;
      return fetch(input, init);
    };
    const subscription = client({ url: proxy.url, fetch: counting, silenceMs: 1_500 }).subscribe({ tables: ['tasks'] });
    await subscription.ready();
    const asked = streamsAsked;
    // The path dies without a FIN or RST: TCP alone would wait for minutes.
    proxy.silenceOpenConnections();
    await db.sql.query(`insert into tasks (org_id, title) values ('acme', 'while the path was dead')`);
    // Idle keep-alive connections of the pool died too: a reconnect that picks one is
    // silent again, and is dropped after its own 1.5 s (with backoff): allow a few.
    await eventually('the insert arrives over a new connection', () => titles(subscription).includes('while the path was dead'), 30_000);
    expect(streamsAsked).toBeGreaterThan(asked);
    expect(titles(subscription)).toEqual(await databaseTitles('true'));
    subscription.close();
    await proxy.close();
  }, 60_000);
});

describe('large tables', () => {
  it('reads a table in pages of one snapshot and shows rows before the last page', async () => {
    let pagesAsked = 0;
    const counting: typeof fetch = (input, init) => {
      if (new URL(String(input)).searchParams.has('page')) pagesAsked++;
      return fetch(input, init);
    };
    const subscription = client({ fetch: counting, pageSize: 100 }).subscribe({ tables: ['big'] });
    const sizes: number[] = [];
    subscription.on('rows', () => sizes.push(subscription.rows('big').length));
    await subscription.ready();
    expect(subscription.rows('big')).toHaveLength(1000);
    expect(pagesAsked).toBe(9);
    expect(sizes.some((size) => size > 0 && size < 1000)).toBe(true);
    await db.sql.query(`update big set body = 'changed' where id = 1000`);
    await eventually('a change after the read shows', () => subscription.rows('big').at(-1)?.['body'] === 'changed');
    subscription.close();
  });

  it('keeps a window the first rows in key order as rows enter and leave, reading it again when it runs short', async () => {
    const subscription = client().subscribe({ tables: ['big'], windows: { big: { limit: 5 } } });
    await subscription.ready();
    const ids = () => subscription.rows('big').map((row) => row['id']);
    expect(ids()).toEqual([1, 2, 3, 4, 5]);
    await db.sql.query(`insert into big values (0, 'acme', 'zero'), (2000, 'acme', 'far')`);
    await eventually('a row before the boundary enters, the last leaves', () => JSON.stringify(ids()) === '[0,1,2,3,4]');
    await db.sql.query(`delete from big where id in (1, 2)`);
    await eventually('the window is read again to its limit', () => JSON.stringify(ids()) === '[0,3,4,5,6]');
    await db.sql.query(`update big set body = 'in the window' where id = 6`);
    await db.sql.query(`update big set body = 'outside' where id = 7`);
    await eventually('a change inside shows', () => subscription.rows('big').at(-1)?.['body'] === 'in the window');
    expect(subscription.rows('big')).toHaveLength(5);
    subscription.close();
  });
});
