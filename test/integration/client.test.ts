// The walcast/client SDK against a real server: a live copy that equals the database
// through concurrent writes, drops, restarts, truncate, invalidate and reset; optimistic
// edits confirmed, taken back on a 409, queued while the server is unreachable and never
// applied twice; 401 stops it; an expiring token is renewed; presence members.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, WalcastClientError, WalcastConflictError, type Row, type Subscription } from '../../src/client/index.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/net.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;
let port: number;
const FAST = { initialMs: 50, maxMs: 500 };

const env = () => ({ WALCAST_PORT: String(port), WALCAST_MAX_TXN_CHANGES: '50', WALCAST_EDIT_RATE: '6000' });

beforeAll(async () => {
  db = await createTestDatabase('client');
  await migrate(db.url);
  await db.sql.query(`
    create table todos (id serial primary key, org_id text not null, title text not null, done boolean not null default false);
    select walcast.expose('todos', tenant_column => 'org_id', version_column => 'version', writable_columns => '{title,done}');
    create table notes (id int primary key, body text);
    select walcast.expose('notes');`);
  port = await freePort();
  walcast = await startTestWalcast(db.url, env());
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The tenant's rows in the database, as the SDK shows them. */
async function databaseRows(tenant: string): Promise<string> {
  const { rows } = await db.sql.query<{ id: number; title: string; done: boolean }>('select id, title, done from todos where org_id = $1 order by id', [
    tenant,
  ]);
  return JSON.stringify(rows);
}

const shown = (subscription: Subscription) =>
  JSON.stringify(subscription.rows('todos').map((row) => ({ id: row['id'], title: row['title'], done: row['done'] })));

const matchesDatabase =
  (subscription: Subscription, tenant = 'acme') =>
  async () =>
    shown(subscription) === (await databaseRows(tenant));

interface Recorded {
  readonly method: string;
  readonly path: string;
}

/** Global fetch, with a record of what the SDK asked for and a switch that loses answers. */
function observedFetch() {
  const requests: Recorded[] = [];
  let loseNextAnswerTo: string | undefined;
  const network = { up: true };
  const wrapped: typeof fetch = async (input, init) => {
    if (!network.up) throw new TypeError('fetch failed (network down)');
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    requests.push({ method, path: url.pathname });
    const response = await fetch(input, init);
    if (loseNextAnswerTo === method) {
      loseNextAnswerTo = undefined;
      await response.body?.cancel();
      throw new TypeError('fetch failed (the answer was lost on the way back)');
    }
    return response;
  };
  return {
    fetch: wrapped,
    network,
    requests,
    snapshotReads: () => requests.filter((request) => request.method === 'GET' && request.path.endsWith('/rows')).length,
    loseNextAnswer(method: string) {
      loseNextAnswerTo = method;
    },
  };
}

function client(tenant: string, options: { fetch?: typeof fetch; user?: string } = {}) {
  return createClient({
    url: walcast.url,
    token: () => walcast.token(tenant, options.user ?? 'alice'),
    backoff: FAST,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

describe('walcast/client', () => {
  it('hands off from the snapshot to the stream exactly while writers commit, and keeps to its tenant', async () => {
    await db.sql.query(`insert into todos (org_id, title) select 'acme', 'before ' || n from generate_series(1, 200) n`);
    const writer = (async () => {
      for (let n = 0; n < 60; n++) {
        await db.sql.query(`insert into todos (org_id, title) values ('acme', 'during ' || $1::int), ('globex', 'other')`, [n]);
        await db.sql.query(`update todos set done = not done where org_id = 'acme' and id % 7 = $1`, [n % 7]);
        if (n % 10 === 0) await db.sql.query(`delete from todos where org_id = 'acme' and id = (select min(id) from todos where org_id = 'acme')`);
      }
    })();
    const acme = client('acme').subscribe({ tables: ['todos'] });
    await acme.ready();
    await writer;
    await until('the copy equals the database', matchesDatabase(acme));
    expect(acme.status).toBe('live');
    expect(acme.rows('todos').every((row) => row['org_id'] === 'acme')).toBe(true);

    const globex = client('globex').subscribe({ tables: ['public.todos'] });
    await globex.ready();
    await until('globex sees its own rows', matchesDatabase(globex, 'globex'));
    expect(globex.rows('todos').length).toBe(60);
    acme.close();
    globex.close();
  });

  it('resumes after a dropped connection without reading the table again, and after a restart', async () => {
    const observed = observedFetch();
    const acme = client('acme', { fetch: observed.fetch }).subscribe({ tables: ['todos'] });
    await acme.ready();
    expect(observed.snapshotReads()).toBe(1);

    // Plain HTTP here (no WALCAST_TLS_*): the server is node:http's.
    walcast.dropConnections();
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'while dropped')`);
    await until('the insert made while dropped shows', matchesDatabase(acme));
    expect(observed.requests.filter((request) => request.path === '/v1/stream').length).toBeGreaterThanOrEqual(2);

    await walcast.close();
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'while restarting')`);
    await db.sql.query(`update todos set title = 'renamed while down' where org_id = 'acme' and title = 'while dropped'`);
    walcast = await startTestWalcast(db.url, env());
    await until('the changes made while walcast was down show', matchesDatabase(acme));
    expect(observed.snapshotReads()).toBe(1);
    expect(acme.status).toBe('live');
    acme.close();
  });

  it('reads a table again after truncate, an invalidated transaction and a reset', async () => {
    const observed = observedFetch();
    const acme = client('acme', { fetch: observed.fetch }).subscribe({ tables: ['todos', 'notes'] });
    await acme.ready();
    const reads = observed.snapshotReads();

    await db.sql.query(`insert into todos (org_id, title) select 'acme', 'bulk ' || n from generate_series(1, 120) n`);
    await until('the invalidated transaction shows after a read', matchesDatabase(acme));
    expect(observed.snapshotReads()).toBe(reads + 1);

    await db.sql.query(`insert into notes values (1, 'one'), (2, 'two')`);
    await until('notes arrive', () => acme.rows('notes').length === 2);
    await db.sql.query(`truncate notes`);
    await db.sql.query(`insert into notes values (3, 'three')`);
    await until('notes are read again after truncate', () => JSON.stringify(acme.rows('notes')) === JSON.stringify([{ id: 3, body: 'three' }]));

    // A restart with a one-event window: the ID the client holds is no longer retained.
    // (Reconnecting before the instance has rebuilt its window is no reset: the events
    // after the ID then arrive live. The network stays down until it has.)
    observed.network.up = false;
    await walcast.close();
    await db.sql.query(`update todos set done = true where org_id = 'acme'`);
    walcast = await startTestWalcast(db.url, { ...env(), WALCAST_RETAIN_EVENTS: '1', WALCAST_MAX_TXN_CHANGES: '100000' });
    await waitUntilReady(walcast);
    observed.network.up = true;
    await until(
      'after the reset every table is read again',
      async () => (await matchesDatabase(acme)()) && observed.snapshotReads() >= reads + 4 && acme.rows('notes').length === 1,
    );
    expect(acme.rows('notes').map((row) => row['body'])).toEqual(['three']);
    acme.close();
    await walcast.close();
    walcast = await startTestWalcast(db.url, env());
    await waitUntilReady(walcast);
  });

  it('shows an edit at once, confirms it, and takes back the loser of a conflict with the current row', async () => {
    const alice = client('acme', { user: 'alice' }).subscribe({ tables: ['todos'] });
    const bob = client('acme', { user: 'bob' }).subscribe({ tables: ['todos'] });
    await Promise.all([alice.ready(), bob.ready()]);
    const inserted = alice.insert('todos', { title: 'shared' });
    expect(alice.rows('todos').some((row) => row['title'] === 'shared')).toBe(true);
    const created = await inserted;
    expect(created['org_id']).toBe('acme');
    await until('bob sees the new row', () => bob.rows('todos').some((row) => row['id'] === created['id']));

    const forBob = bob.rows('todos').find((row) => row['id'] === created['id'])!;
    const forAlice = alice.rows('todos').find((row) => row['id'] === created['id'])!;
    const aliceEdit = alice.update('todos', forAlice, { title: 'alice was first' });
    expect(alice.rows('todos').find((row) => row['id'] === created['id'])!['title']).toBe('alice was first');
    await aliceEdit;
    const bobEdit = bob.update('todos', forBob, { title: 'bob was second' });
    expect(bob.rows('todos').find((row) => row['id'] === created['id'])!['title']).toBe('bob was second');
    const conflict = await bobEdit.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(conflict).toBeInstanceOf(WalcastConflictError);
    expect((conflict as WalcastConflictError).current).toMatchObject({ id: created['id'], title: 'alice was first', version: '2' });
    await until("bob shows alice's title again", () => bob.rows('todos').find((row) => row['id'] === created['id'])?.['title'] === 'alice was first');

    // Resolving: the app retries on the current row.
    await bob.update('todos', (conflict as WalcastConflictError).current as Row, { title: 'bob after reading alice' });
    await until("alice sees bob's resolution", () => alice.rows('todos').find((row) => row['id'] === created['id'])?.['title'] === 'bob after reading alice');
    await alice.remove('todos', alice.rows('todos').find((row) => row['id'] === created['id'])!);
    await until('both copies equal the database', async () => (await matchesDatabase(alice)()) && (await matchesDatabase(bob)()));
    expect(alice.pendingEdits + bob.pendingEdits).toBe(0);
    alice.close();
    bob.close();
  });

  it('queues edits while walcast is unreachable and applies each exactly once when it is back', async () => {
    const observed = observedFetch();
    const acme = client('acme', { fetch: observed.fetch }).subscribe({ tables: ['todos'] });
    await acme.ready();
    const target = acme.rows('todos')[0]!;

    // The answer to a PATCH is lost: the retry carries the same Idempotency-Key.
    observed.loseNextAnswer('PATCH');
    await acme.update('todos', target, { title: 'answer lost once' });
    const {
      rows: [afterLost],
    } = await db.sql.query('select title, version from todos where id = $1', [target['id']]);
    expect(afterLost).toEqual({ title: 'answer lost once', version: String(BigInt(String(target['version'])) + 1n) });
    expect(observed.requests.filter((request) => request.method === 'PATCH').length).toBe(2);

    await walcast.close();
    const offline = [
      acme.insert('todos', { title: 'written offline' }),
      acme.update('todos', acme.rows('todos').find((row) => row['id'] === target['id'])!, { done: true }),
    ];
    const second = acme.rows('todos').find((row) => row['id'] === target['id'])!;
    offline.push(acme.update('todos', second, { title: 'offline twice' }));
    expect(acme.pendingEdits).toBe(3);
    expect(acme.rows('todos').some((row) => row['title'] === 'written offline')).toBe(true);
    expect(acme.rows('todos').find((row) => row['id'] === target['id'])).toMatchObject({ title: 'offline twice', done: true });
    await new Promise((resolve) => setTimeout(resolve, 500));

    walcast = await startTestWalcast(db.url, env());
    await Promise.all(offline);
    await until('the copy equals the database', matchesDatabase(acme));
    const { rows } = await db.sql.query(`select title, done, version from todos where id = $1 or title = 'written offline'`, [target['id']]);
    expect(rows).toHaveLength(2);
    expect(rows.find((row) => row.title === 'offline twice')).toMatchObject({ done: true, version: String(BigInt(String(target['version'])) + 3n) });
    expect(acme.pendingEdits).toBe(0);
    acme.close();
  });

  it('keeps offline edits in storage under the user: the next page (after a reload) sends them, once', async () => {
    const saved = new Map<string, string>();
    const storage = {
      getItem: (key: string) => saved.get(key) ?? null,
      setItem: (key: string, value: string) => void saved.set(key, value),
      removeItem: (key: string) => void saved.delete(key),
    };
    const persistEdits = { storage, key: 'todos' };
    const {
      rows: [{ id }],
    } = await db.sql.query(`insert into todos (org_id, title) values ('acme', 'to edit offline') returning id`);
    const page = client('acme').subscribe({ tables: ['todos'], persistEdits });
    await page.ready();
    await until('the row to edit is there', () => page.rows('todos').some((row) => row['id'] === id));
    const target = page.rows('todos').find((row) => row['id'] === id)!;

    await walcast.close();
    void page.insert('todos', { title: 'offline, then reloaded' }).catch(() => undefined);
    void page.update('todos', target, { title: 'edited before the reload' }).catch(() => undefined);
    await until('both edits are stored under the tenant and user', () => saved.has('walcast.edits:acme:alice:todos'));
    expect(JSON.parse(saved.get('walcast.edits:acme:alice:todos')!)).toHaveLength(2);
    page.close();

    walcast = await startTestWalcast(db.url, env());
    const reloaded = client('acme').subscribe({ tables: ['todos'], persistEdits });
    await reloaded.ready();
    await until('the stored edits are confirmed', () => reloaded.pendingEdits === 0 && !saved.has('walcast.edits:acme:alice:todos'));
    await until('the copy equals the database', matchesDatabase(reloaded));
    const { rows } = await db.sql.query(`select title, version from todos where id = $1 or title = 'offline, then reloaded'`, [target['id']]);
    expect(rows.map((row) => row.title).sort()).toEqual(['edited before the reload', 'offline, then reloaded']);
    expect(rows.find((row) => row.title === 'edited before the reload')!.version).toBe(String(BigInt(String(target['version'])) + 1n));
    reloaded.close();
  });

  it("keeps both tabs' offline edits when two tabs of a user store under one name, and sends each once", async () => {
    const saved = new Map<string, string>();
    const storage = {
      getItem: (key: string) => saved.get(key) ?? null,
      setItem: (key: string, value: string) => void saved.set(key, value),
      removeItem: (key: string) => void saved.delete(key),
    };
    const observed = observedFetch();
    const tabs = [1, 2].map(() => client('acme', { fetch: observed.fetch }).subscribe({ tables: ['todos'], persistEdits: { storage, key: 'todos' } }));
    await Promise.all(tabs.map((tab) => tab.ready()));
    observed.network.up = false;
    tabs.forEach((tab, index) => void tab.insert('todos', { title: `offline in tab ${index + 1}` }).catch(() => undefined));
    const stored = () => JSON.parse(saved.get('walcast.edits:acme:alice:todos') ?? '[]') as { values: { title: string } }[];
    await until("both tabs' edits are stored", () => stored().length === 2);
    expect(
      stored()
        .map((edit) => edit.values.title)
        .sort(),
    ).toEqual(['offline in tab 1', 'offline in tab 2']);
    for (const tab of tabs) tab.close();

    observed.network.up = true;
    const reloaded = client('acme').subscribe({ tables: ['todos'], persistEdits: { storage, key: 'todos' } });
    await until('the stored edits are confirmed', () => reloaded.pendingEdits === 0 && !saved.has('walcast.edits:acme:alice:todos'));
    const { rows } = await db.sql.query(`select title from todos where title like 'offline in tab %' order by title`);
    expect(rows.map((row) => row.title)).toEqual(['offline in tab 1', 'offline in tab 2']);
    reloaded.close();
  });

  it("never sends a user's stored edits with another user's token, and clears them on sign-out", async () => {
    const saved = new Map<string, string>();
    const storage = {
      getItem: (key: string) => saved.get(key) ?? null,
      setItem: (key: string, value: string) => void saved.set(key, value),
      removeItem: (key: string) => void saved.delete(key),
      get length() {
        return saved.size;
      },
      key: (index: number) => [...saved.keys()][index] ?? null,
    };
    const observed = observedFetch();
    const alicePage = client('acme', { user: 'alice', fetch: observed.fetch }).subscribe({ tables: ['todos'], persistEdits: { storage, key: 'todos' } });
    await alicePage.ready();
    observed.network.up = false;
    const lost = alicePage.insert('todos', { title: 'alice, offline' }).then(
      () => 'confirmed',
      (error: unknown) => (error as WalcastClientError).code,
    );
    await until("alice's edit is stored under her name", () => saved.has('walcast.edits:acme:alice:todos'));
    alicePage.close();
    expect(await lost).toBe('closed');

    // Bob signs in on the same browser: alice's edit is not his to send.
    const bob = client('acme', { user: 'bob' });
    const bobPage = bob.subscribe({ tables: ['todos'], persistEdits: { storage, key: 'todos' } });
    await bobPage.ready();
    expect(bobPage.pendingEdits).toBe(0);
    await bobPage.insert('todos', { title: 'bob, online' });
    expect(saved.has('walcast.edits:acme:alice:todos')).toBe(true);
    bobPage.close();

    // Alice comes back and signs out before it was sent: it is dropped, and never sent.
    const alice = client('acme', { user: 'alice', fetch: observed.fetch });
    const again = alice.subscribe({ tables: ['todos'], persistEdits: { storage, key: 'todos' } });
    await until("alice's stored edit is pending again", () => again.pendingEdits === 1);
    await alice.signOut();
    expect([...saved.keys()].filter((key) => key.startsWith('walcast.edits:acme:alice:'))).toEqual([]);
    observed.network.up = true;
    const { rows } = await db.sql.query(`select title from todos where title in ('alice, offline', 'bob, online')`);
    expect(rows).toEqual([{ title: 'bob, online' }]);
  });

  it('gives up an edit the server keeps failing (5xx) after a bounded number of tries, and goes on with the next', async () => {
    let failedPatches = 0;
    // A broken gateway in front of walcast: every PATCH is answered 502.
    const failing: typeof fetch = async (input, init) => {
      if (init?.method === 'PATCH') {
        failedPatches++;
        return new Response(JSON.stringify({ error: 'bad_gateway', message: 'upstream failed' }), {
          status: 502,
          headers: { 'content-type': 'application/json' },
        });
      }
      return fetch(input, init);
    };
    const acme = createClient({ url: walcast.url, token: () => walcast.token('acme', 'alice'), backoff: FAST, fetch: failing, editRetries: 3 }).subscribe({
      tables: ['todos'],
    });
    await acme.ready();
    const target = acme.rows('todos')[0]!;
    const refused = acme.update('todos', target, { title: 'never saved' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const next = acme.insert('todos', { title: 'after the failing edit' });
    const error = await refused;
    expect(error).toBeInstanceOf(WalcastClientError);
    expect(error).toMatchObject({ status: 502, code: 'bad_gateway' });
    expect(failedPatches).toBe(4);
    expect((await next)['title']).toBe('after the failing edit');
    await until('the copy equals the database', matchesDatabase(acme));
    expect(acme.pendingEdits).toBe(0);
    acme.close();
  });

  it('stops on a refused token instead of retrying, and renews a token that expires', async () => {
    const observed = observedFetch();
    const refused = createClient({ url: walcast.url, token: 'not-a-token', fetch: observed.fetch, backoff: FAST }).subscribe({ tables: ['todos'] });
    await expect(refused.ready()).rejects.toMatchObject({ status: 401, code: 'invalid_token' });
    expect(refused.status).toBe('stopped');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(observed.requests.length).toBeLessThanOrEqual(2);

    let issued = 0;
    const expiring = createClient({
      url: walcast.url,
      backoff: FAST,
      token: () => {
        issued++;
        return walcast.token('acme', 'alice', 2);
      },
    }).subscribe({ tables: ['todos'] });
    await expiring.ready();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'after the first token expired')`);
    await until('the row shows on the renewed stream', matchesDatabase(expiring));
    expect(issued).toBeGreaterThanOrEqual(2);
    expect(expiring.status).toBe('live');
    expiring.close();
  });

  it('follows who is in a room, per tenant', async () => {
    const watcher = client('acme', { user: 'watcher' }).subscribe({ tables: ['todos'], rooms: ['board'] });
    const outsider = client('globex', { user: 'outsider' }).subscribe({ tables: ['todos'], rooms: ['board'] });
    await Promise.all([watcher.ready(), outsider.ready()]);
    const carol = client('acme', { user: 'carol' }).presence('board', { state: { editing: null }, intervalMs: 200 });
    await until('carol joins', () => watcher.members('board').some((member) => member.user === 'carol'));
    carol.set({ editing: 7 });
    await until("carol's state updates", () => watcher.members('board').find((member) => member.user === 'carol')?.state['editing'] === 7);
    await carol.leave();
    await until('carol leaves', () => watcher.members('board').length === 0);
    expect(outsider.members('board')).toEqual([]);
    watcher.close();
    outsider.close();
  });

  it('reports an unknown table as a stopped subscription', async () => {
    const unknown = client('acme').subscribe({ tables: ['nope'] });
    const error = await unknown.ready().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(WalcastClientError);
    expect(error).toMatchObject({ status: 404 });
  });
});
