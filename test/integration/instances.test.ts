// Several instances and restarts (DESIGN §1, §7): two instances give every change the
// same ID; a client switching instance resumes exactly; an ID ahead of an instance waits
// for it; a walcast killed with -9 and restarted, and a SIGTERM, lose nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { runCli, waitForOutput, type Run } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { throughout } from '../support/wait.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('instances');
  await migrate(db.url);
  await db.sql.query(`create table ledger (id serial primary key, org_id text not null, note text);
                      select walcast.expose('ledger', tenant_column => 'org_id');`);
});

afterAll(async () => {
  await db?.drop();
});

const noteOf = (event: { data: Record<string, unknown> }) => (event.data['row'] as { note: string }).note;

async function write(...notes: string[]): Promise<void> {
  for (const note of notes) await db.sql.query(`insert into ledger (org_id, note) values ('acme', $1)`, [note]);
}

describe('two instances on one database', () => {
  let a: TestWalcast;
  let b: TestWalcast;

  beforeAll(async () => {
    a = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'a' });
    b = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'b' });
    await Promise.all([waitUntilReady(a), waitUntilReady(b)]);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('give every change the same ID, and a client switching instance resumes exactly', async () => {
    const onA = await SseClient.open(a.streamUrl(await a.token('acme'), { tables: 'ledger' }));
    const onB = await SseClient.open(b.streamUrl(await b.token('acme'), { tables: 'ledger' }));
    try {
      await write('one', 'two', 'three');
      const fromA = await onA.take(3);
      const fromB = await onB.take(3);
      expect(fromB.map((event) => event.id)).toEqual(fromA.map((event) => event.id));
      expect(fromB.map((event) => event.raw)).toEqual(fromA.map((event) => event.raw));
    } finally {
      onA.close();
      onB.close();
    }

    const first = await SseClient.open(a.streamUrl(await a.token('acme'), { tables: 'ledger' }));
    await write('four');
    const four = await first.next();
    first.close();
    await write('five', 'six');
    const switched = await SseClient.open(b.streamUrl(await b.token('acme'), { tables: 'ledger', lastEventId: four.id }));
    try {
      expect((await switched.take(2)).map(noteOf)).toEqual(['five', 'six']);
      // The next event is the next row: a duplicate would arrive before it.
      await write('seven');
      expect(noteOf(await switched.next())).toBe('seven');
      expect(switched.unread()).toEqual([]);
    } finally {
      switched.close();
    }
  });

  it('makes an ID ahead of an instance wait for it to catch up, never reset', async () => {
    await b.close();
    const onA = await SseClient.open(a.streamUrl(await a.token('acme'), { tables: 'ledger' }));
    await write('while b is down 1', 'while b is down 2');
    const [ahead] = await onA.take(2);
    onA.close();

    // b restarts behind a: the client's ID is ahead of everything b has decoded so far.
    b = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'b' });
    const onB = await SseClient.open(b.streamUrl(await b.token('acme'), { tables: 'ledger', lastEventId: ahead!.id }));
    try {
      await write('after');
      const events = await onB.take(2, 10_000);
      expect(events.map((event) => [event.type, noteOf(event)])).toEqual([
        ['change', 'while b is down 2'],
        ['change', 'after'],
      ]);
    } finally {
      onB.close();
    }
  });
});

describe('an instance with a never-seen name (a new pod in a rolling deploy)', () => {
  it('copies the window of the slot that reaches furthest back: a client moving to it resumes with no reset', async () => {
    const old = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'old_pod' });
    let fresh: TestWalcast | undefined;
    try {
      await waitUntilReady(old);
      const onOld = await SseClient.open(old.streamUrl(await old.token('acme'), { tables: 'ledger' }));
      await write('h1', 'h2', 'h3');
      const [h1] = await onOld.take(3);
      onOld.close();

      fresh = await startTestWalcast(db.url, { WALCAST_INSTANCE: `new_pod_${Date.now()}` });
      const moved = await SseClient.open(fresh.streamUrl(await fresh.token('acme'), { tables: 'ledger', lastEventId: h1!.id }));
      try {
        await write('h4');
        const events = await moved.take(3, 10_000);
        expect(events.map((event) => [event.type, noteOf(event)])).toEqual([
          ['change', 'h2'],
          ['change', 'h3'],
          ['change', 'h4'],
        ]);
      } finally {
        moved.close();
      }
    } finally {
      await fresh?.close();
      await old.close();
    }
  });
});

describe('an instance draining (SIGTERM in a rolling deploy)', () => {
  it('fails /readyz, tells each open stream to retry shortly and closes it, and opens no new stream', async () => {
    const instance = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'draining' });
    try {
      await waitUntilReady(instance);
      const url = instance.streamUrl(await instance.token('acme'), { tables: 'ledger' });
      const open = await fetch(url);
      const reader = open.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      instance.drain();
      const ready = await fetch(`${instance.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ draining: true });
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
      // The last thing the stream says: come back in 0.25 to 3 s (elsewhere).
      const retries = [...text.matchAll(/^retry: (\d+)$/gm)].map((match) => Number(match[1]));
      expect(retries.length).toBe(2);
      expect(retries[1]).toBeGreaterThanOrEqual(250);
      expect(retries[1]).toBeLessThanOrEqual(3_000);

      const refused = await fetch(url);
      expect(refused.status).toBe(200);
      expect(await refused.text()).toMatch(/^retry: \d+\n\n$/);
      expect((await fetch(`${instance.url}/healthz`)).status).toBe(200);
    } finally {
      await instance.close();
    }
  });
});

function serve(port: number): Run {
  return runCli(['serve'], {
    DATABASE_URL: db.url,
    WALCAST_JWT_SECRET: TEST_SECRET,
    WALCAST_PORT: String(port),
    WALCAST_INSTANCE: 'process',
    LOG_LEVEL: 'info',
  });
}

async function tokenFor(tenant: string): Promise<string> {
  const { signToken } = await import('../../src/auth/jwt.js');
  return signToken(TEST_SECRET, { tenant, sub: 'u', ttlSeconds: 600, tenantClaim: 'tenant_id' });
}

describe('an instance closed right after it started', () => {
  it('leaves its slot free: no replication connection is opened after close()', async () => {
    const instance = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'brief' });
    await instance.close();
    // A connection opened late would show as an active slot at some point: watch for it.
    await throughout(
      'the slot is free',
      async () => (await db.sql.query(`select active from pg_replication_slots where slot_name = 'walcast_brief'`)).rows[0]?.active === false,
      1_500,
      25,
    );
  });
});

describe('a walcast process', () => {
  it('killed with -9 and restarted: its clients reconnect by themselves and miss nothing', async () => {
    const port = await freePort();
    let server = serve(port);
    await waitForOutput(server, /walcast serving/);
    // A browser-like client: EventSource reconnects on its own with Last-Event-ID.
    const stream = await SseClient.open(`http://127.0.0.1:${port}/v1/stream?tables=ledger&access_token=${await tokenFor('acme')}`);
    try {
      await write('k1', 'k2');
      await stream.take(2);
      server.child.kill('SIGKILL');
      await server.exited;
      await write('k3', 'k4');
      server = serve(port);
      await waitForOutput(server, /walcast serving/);
      await write('k5');
      const after = await stream.take(3, 20_000);
      expect(after.map(noteOf)).toEqual(['k3', 'k4', 'k5']);
      expect(stream.connections).toBeGreaterThanOrEqual(2);
      const ids = stream.received.map((event) => event.id);
      expect([...ids].sort()).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      stream.close();
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('on SIGTERM ends its streams and exits 0 within a few seconds', async () => {
    const port = await freePort();
    const server = serve(port);
    await waitForOutput(server, /walcast serving/);
    const response = await fetch(`http://127.0.0.1:${port}/v1/stream?tables=ledger&access_token=${await tokenFor('acme')}`);
    const reader = response.body!.getReader();
    await reader.read();
    const started = Date.now();
    server.child.kill('SIGTERM');
    // The stream ends (a browser then reconnects, to this instance or another).
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.output).toMatch(/draining/);
    expect(server.output).toMatch(/shutting down/);
  });
});
