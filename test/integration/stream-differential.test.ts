// DESIGN §4: a stream's `where=` selects exactly what the same `where=` selects in a
// snapshot, where Postgres evaluates it, for every value Postgres can store. End to end:
// random filters (fast-check) open real streams; random rows of every supported type are
// inserted, updated (rows moving in and out of filters arrive as insert and delete) and
// deleted; each stream's final key set must equal its snapshot's.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilterNode } from '../../src/filters/index.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { nodeArb, operationArb, rowArb, type InputRow } from '../support/filter-arbitraries.js';
import { COLUMN_SPECS, SCHEMA_SQL } from '../support/filter-columns.js';
import { filterTexts } from '../support/filter-text.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('stream_differential');
  await migrate(db.url);
  await db.sql.query(SCHEMA_SQL);
  await db.sql.query(`
    alter table f add column org_id text not null default '';
    create table marker (id serial primary key, org_id text not null);
    select walcast.expose('f', tenant_column => 'org_id');
    select walcast.expose('marker', tenant_column => 'org_id');`);
  walcast = await startTestWalcast(db.url, { WALCAST_MAX_CLIENTS_PER_TENANT: '100' });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

// The filters draw their values from the rows the history writes, so they select some.
const caseArb = fc
  .array(rowArb, { minLength: 6, maxLength: 14 })
  .chain((seeds) =>
    fc.tuple(
      fc.constant(seeds),
      fc.array(fc.array(nodeArb(seeds, 2), { minLength: 1, maxLength: 2 }), { minLength: 8, maxLength: 12 }),
      fc.array(operationArb, { minLength: 10, maxLength: 25 }),
    ),
  );

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

function rowValues(row: InputRow): { columns: string; params: string[]; values: (string | null)[] } {
  const values = COLUMN_SPECS.map((spec) => row[spec.name] ?? null);
  return {
    columns: COLUMN_SPECS.map((spec) => quoted(spec.name)).join(', '),
    params: COLUMN_SPECS.map((spec, i) => `$${i + 1}::${spec.sql}`),
    values,
  };
}

/** The key set a client holds after applying a stream's events: inserts add, deletes remove. */
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

function filterQuery(texts: readonly string[]): string {
  return texts.map((text) => `where=${encodeURIComponent(text)}`).join('&');
}

describe('a stream and a snapshot with the same where=', () => {
  it('end with the same key set, for random filters and row histories of every type', async () => {
    const seed = Number(process.env['WALCAST_FILTER_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    let runs = 0;
    let filters = 0;
    let changes = 0;
    let nonEmpty = 0;
    // Keys are unique across runs: each run writes rows of a tenant of its own.
    let nextId = 0;
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(caseArb, async ([, trees, history]) => {
        const tenant = `run-${runs++}`;
        const token = await walcast.token(tenant);
        // A filter a client may send: one with token references is for policies.
        const texts = trees
          .map((nodes) => filterTexts({ tag: 'and', operands: nodes as FilterNode[] }))
          .filter((list) => !list.some((text) => text.includes('$')));
        const streams = await Promise.all(
          texts.map((list) => SseClient.open(`${walcast.streamUrl(token, { tables: 'f,marker' })}&${filterQuery(list).replaceAll('where=', 'where.f=')}`)),
        );
        try {
          const live: number[] = [];
          for (const operation of history) {
            const { columns, params, values } = rowValues(operation.op === 'delete' ? {} : operation.row);
            if (operation.op === 'insert' || live.length === 0) {
              const id = nextId++;
              await db.sql.query(`insert into f (id, org_id, ${columns}) values ($${params.length + 1}, $${params.length + 2}, ${params.join(', ')})`, [
                ...values,
                id,
                tenant,
              ]);
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
          // Commit order: once a stream has the marker, it has every change before it.
          await db.sql.query('insert into marker (org_id) values ($1)', [tenant]);
          for (const [i, stream] of streams.entries()) {
            await stream.until(() => stream.received.some((event) => event.data['table'] === 'public.marker'), 10_000, 'the marker');
            const response = await fetch(`${walcast.url}/v1/tables/f/rows?${filterQuery(texts[i]!)}`, { headers: { authorization: `Bearer ${token}` } });
            expect(response.status, texts[i]!.join('&')).toBe(200);
            const snapshot = ((await response.json()) as { rows: { id: number }[] }).rows.map((row) => String(row.id));
            expect(keysFromEvents(stream.received), `seed ${seed}: ${texts[i]!.join('&')}`).toEqual(snapshot);
            if (snapshot.length > 0) nonEmpty++;
            filters++;
          }
        } finally {
          for (const stream of streams) stream.close();
        }
      }),
      { numRuns: Number(process.env['WALCAST_STREAM_RUNS'] ?? 15), seed, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `stream differential (seed ${seed}): ${runs} runs, ${filters} streams × ${changes} row changes in ${seconds.toFixed(1)} s (${nonEmpty} streams ended with rows)`,
    );
    expect(nonEmpty).toBeGreaterThan(0);
  }, 240_000);
});
