// Change events (src/events/change-event.ts): changeTenants, which a transaction past the
// limit uses instead of building events, must route exactly as changeEvents does, for any
// change: NULL or unsent tenants, key changes, tenant moves, with and without the old row.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changeEvents, changeTenants } from '../../src/events/change-event.js';
import type { TransactionContext } from '../../src/events/event.js';
import type { Exposure } from '../../src/events/exposure.js';
import { shapeOf, type TableShape } from '../../src/events/table-shape.js';
import type { Lsn } from '../../src/replication/lsn.js';
import { UNCHANGED_TOAST, type Relation, type RowChange, type Tuple, type TupleValue } from '../../src/replication/pgoutput.js';
import { decodeFixture, loadFixture } from '../support/fixtures.js';

const fixture = loadFixture('default-identity');
const docs = decodeFixture(fixture).find((message): message is Relation => message.tag === 'relation')!;
const exposure = fixture.exposures.find((candidate) => candidate.relid === docs.relationOid)!;
const typeOf = (oid: number) => fixture.types[String(oid)] ?? { kind: 'scalar' as const, oid };

/** docs (org_id, id, title, body, secret) as exposed, and as three other exposures would shape it. */
const SHAPES: Record<string, TableShape> = {
  'tenant in the key': shapeOf(docs, exposure, typeOf),
  'tenant outside the key (FULL)': shapeOf({ ...docs, replicaIdentity: 'full' }, { ...exposure, primaryKey: ['id'] }, typeOf),
  'no tenant column: every tenant': shapeOf(docs, { ...exposure, tenantColumn: null } satisfies Exposure, typeOf),
  'tenant column not published': shapeOf(docs, { ...exposure, tenantColumn: 'owner' }, typeOf),
};

const txn: TransactionContext = {
  commitLsn: 0x16b3748n as Lsn,
  lsnText: '0/16B3748',
  xid: 7,
  committedAt: '2026-11-23T06:00:00.000000Z',
  jsonTail: ',"xid":"7","lsn":"0/16B3748","committedAt":"2026-11-23T06:00:00.000000Z"}',
};

const value: fc.Arbitrary<TupleValue> = fc.constantFrom<TupleValue>('acme', 'globex', '1', '10', 'héllo', null, UNCHANGED_TOAST);
const tuple: fc.Arbitrary<Tuple> = fc.array(value, { minLength: docs.columns.length, maxLength: docs.columns.length });
const maybe = (arbitrary: fc.Arbitrary<Tuple>) => fc.option(arbitrary, { nil: null });
const change: fc.Arbitrary<RowChange> = fc.oneof(
  tuple.map((row): RowChange => ({ tag: 'insert', relation: docs, new: row })),
  fc.record({ key: maybe(tuple), old: maybe(tuple) }).map(({ key, old }): RowChange => ({ tag: 'delete', relation: docs, key, old })),
  fc
    .record({ key: maybe(tuple), old: maybe(tuple), next: tuple })
    .map(({ key, old, next }): RowChange => ({ tag: 'update', relation: docs, key, old, new: next })),
);

describe('change events', () => {
  for (const [label, shape] of Object.entries(SHAPES)) {
    it(`go to exactly the tenants changeTenants names (${label})`, () => {
      fc.assert(
        fc.property(change, (row) => {
          const events = changeEvents(row, shape, txn, 3);
          expect(changeTenants(row, shape)).toEqual(events.map((event) => event.tenant));
          for (const event of events) {
            const payload = JSON.parse(event.json) as Record<string, unknown>;
            expect(payload['tenant']).toBe(event.tenant);
            expect(payload['id']).toBe('00000000016B3748-000003');
            expect(payload).not.toHaveProperty('row.secret');
          }
        }),
        { numRuns: 2_000 },
      );
    });
  }

  it('route a row whose tenant is NULL, unsent or unknown to nobody', () => {
    const shape = SHAPES['tenant in the key']!;
    for (const tenant of [null, UNCHANGED_TOAST] as TupleValue[]) {
      const row: RowChange = { tag: 'insert', relation: docs, new: [tenant, '1', 't', null, null] };
      expect(changeEvents(row, shape, txn, 0)).toEqual([]);
      expect(changeTenants(row, shape)).toEqual([]);
    }
    const unpublished: RowChange = { tag: 'insert', relation: docs, new: ['acme', '1', 't', null, null] };
    expect(changeTenants(unpublished, SHAPES['tenant column not published']!)).toEqual([]);
    expect(changeTenants(unpublished, SHAPES['no tenant column: every tenant']!)).toEqual([null]);
  });
});
