// DESIGN §10: a row policy, evaluated by walcast on its streams, selects exactly what the
// same rule selects in SQL. Random policies (fast-check: and/or/not trees over columns of
// every supported type, hidden ones included, with `$sub` and `$claim.NAME`) are exposed;
// streams of users with random claims follow random row histories (rows moving in and out
// of each user's view arrive as insert and delete); each stream's final key set must
// equal the user's snapshot, where Postgres evaluates the policy's SQL.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Claims, FilterNode } from '../../src/filters/index.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { claimsArb, nodeArb, operationArb, rowArb } from '../support/filter-arbitraries.js';
import { COLUMN_SPECS, SCHEMA_SQL } from '../support/filter-columns.js';
import { itemText } from '../support/filter-text.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;
/** A column the policy may use but clients never see. */
const HIDDEN = COLUMN_SPECS[1]!.name;

beforeAll(async () => {
  db = await createTestDatabase('policy_differential');
  await migrate(db.url);
  await db.sql.query(SCHEMA_SQL);
  await db.sql.query(`
    alter table f add column org_id text not null default '';
    create table marker (id serial primary key, org_id text not null);
    select walcast.expose('marker', tenant_column => 'org_id');`);
  walcast = await startTestWalcast(db.url, { WALCAST_MAX_CLIENTS_PER_TENANT: '100' });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

const caseArb = fc
  .array(rowArb, { minLength: 6, maxLength: 12 })
  .chain((seeds) =>
    fc.tuple(
      fc.array(nodeArb(seeds, 2), { minLength: 1, maxLength: 3 }),
      fc.array(claimsArb(seeds), { minLength: 3, maxLength: 6 }),
      fc.array(operationArb, { minLength: 10, maxLength: 25 }),
    ),
  );

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function tokenFor(tenant: string, claims: Claims, index: number): Promise<string> {
  // A token's sub is a string (walcast refuses others); the claims go as drawn.
  const sub = typeof claims['sub'] === 'string' && claims['sub'] !== '' && claims['sub'].length <= 200 ? claims['sub'] : `user-${index}`;
  return new SignJWT({ ...claims, tenant_id: tenant, sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_SECRET));
}

function keysFromEvents(events: readonly { type: string; data: Record<string, unknown> }[]): string[] {
  const keys = new Set<string>();
  for (const event of events) {
    if (event.type !== 'change' || event.data['table'] !== 'public.f') continue;
    const id = String((event.data['key'] as { id: number }).id);
    if (event.data['op'] === 'delete') keys.delete(id);
    else keys.add(id);
  }
  return [...keys].sort((a, b) => Number(a) - Number(b));
}

/** Once a stream has the marker, it has every change committed before it. */
async function mark(tenant: string, streams: readonly SseClient[]): Promise<void> {
  const { rows } = await db.sql.query<{ id: number }>('insert into marker (org_id) values ($1) returning id', [tenant]);
  for (const stream of streams) {
    await stream.until(
      () => stream.received.some((event) => event.data['table'] === 'public.marker' && (event.data['row'] as { id: number }).id === rows[0]!.id),
      10_000,
      'the marker',
    );
  }
}

describe('row policies, differentially against Postgres', () => {
  it('give each user the rows the same rule selects in SQL, for random policies, claims and histories', async () => {
    const seed = Number(process.env['WALCAST_FILTER_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    let runs = 0;
    let policies = 0;
    let streamsChecked = 0;
    let changes = 0;
    let nonEmpty = 0;
    let partial = 0;
    let nextId = 0;
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(caseArb, async ([nodes, claimSets, history]) => {
        const tenant = `run-${runs++}`;
        const policy = `and=(${(nodes as FilterNode[]).map(itemText).join(',')})`;
        const probe = await SseClient.open(walcast.streamUrl(await walcast.token(tenant), { tables: 'marker' }));
        try {
          await db.sql.query(`select walcast.expose('f', tenant_column => 'org_id', hidden_columns => $2, policy => $1)`, [policy, [HIDDEN]]);
        } catch {
          // A policy SQL refuses (a literal of the wrong type for its column): not the case under test.
          probe.close();
          return;
        }
        // The exposure has reached the server when the probe has a marker committed after it.
        await mark(tenant, [probe]);
        probe.close();
        policies++;
        const tokens = await Promise.all(claimSets.map((claims, i) => tokenFor(tenant, claims as Claims, i)));
        const streams = await Promise.all(tokens.map((token) => SseClient.open(walcast.streamUrl(token, { tables: 'f,marker' }))));
        try {
          const live: number[] = [];
          for (const operation of history) {
            const values = COLUMN_SPECS.map((spec) => (operation.op === 'delete' ? null : (operation.row[spec.name] ?? null)));
            const params = COLUMN_SPECS.map((spec, i) => `$${i + 1}::${spec.sql}`);
            if (operation.op === 'insert' || live.length === 0) {
              const id = nextId++;
              await db.sql.query(
                `insert into f (id, org_id, ${COLUMN_SPECS.map((spec) => quoted(spec.name)).join(', ')}) values ($${params.length + 1}, $${params.length + 2}, ${params.join(', ')})`,
                [...values, id, tenant],
              );
              live.push(id);
            } else if (operation.op === 'update') {
              const id = live[operation.at % live.length]!;
              const sets = COLUMN_SPECS.map((spec, i) => `${quoted(spec.name)} = ${params[i]}`).join(', ');
              await db.sql.query(`update f set ${sets} where id = $${params.length + 1} and org_id = $${params.length + 2}`, [...values, id, tenant]);
            } else {
              const [id] = live.splice(operation.at % live.length, 1);
              await db.sql.query('delete from f where id = $1 and org_id = $2', [id, tenant]);
            }
            changes++;
          }
          await mark(tenant, streams);
          for (const [i, stream] of streams.entries()) {
            const response = await fetch(`${walcast.url}/v1/tables/f/rows`, { headers: { authorization: `Bearer ${tokens[i]}` } });
            expect(response.status).toBe(200);
            const snapshot = ((await response.json()) as { rows: { id: number }[] }).rows.map((row) => String(row.id));
            expect(keysFromEvents(stream.received), `seed ${seed}: ${policy} with ${JSON.stringify(claimSets[i])}`).toEqual(snapshot);
            // Hidden columns are usable in the policy and still never sent.
            for (const event of stream.received) expect(JSON.stringify(event.data['row'] ?? {})).not.toContain(`"${HIDDEN}":`);
            if (snapshot.length > 0) nonEmpty++;
            if (snapshot.length > 0 && snapshot.length < live.length) partial++;
            streamsChecked++;
          }
        } finally {
          for (const stream of streams) stream.close();
        }
      }),
      { numRuns: Number(process.env['WALCAST_POLICY_RUNS'] ?? 12), seed, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `policy differential (seed ${seed}): ${policies} policies, ${streamsChecked} users' streams × ${changes} row changes in ${seconds.toFixed(1)} s (${nonEmpty} streams ended with rows, ${partial} with some rows but not all)`,
    );
    expect(policies).toBeGreaterThan(0);
  }, 240_000);
});
