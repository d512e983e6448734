// The pgoutput decoder on messages captured from a real Postgres (test/fixtures/pgoutput,
// `npm run fixtures`), checked against the SQL that made them and against what Postgres
// itself reported next to each message (its LSN and xid).
// Layouts: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
import { describe, expect, it } from 'vitest';
import { parseLsn } from '../../src/replication/lsn.js';
import {
  PgoutputDecoder,
  UNCHANGED_TOAST,
  type Delete,
  type Insert,
  type LogicalMessage,
  type PgoutputMessage,
  type Relation,
  type Truncate,
  type Update,
} from '../../src/replication/pgoutput.js';
import { decodeFixture, loadFixture, type Scenario } from '../support/fixtures.js';

const SCENARIOS: Scenario[] = [
  'default-identity',
  'full-identity',
  'toast',
  'messages',
  'large-transaction',
  'rollback',
  'partitions',
  'listed',
  'expose-live',
  'truncate',
  'origin',
];

const of = <T extends PgoutputMessage['tag']>(messages: PgoutputMessage[], tag: T) =>
  messages.filter((message): message is Extract<PgoutputMessage, { tag: T }> => message.tag === tag);
const rows = (messages: PgoutputMessage[]) =>
  messages.filter((message): message is Insert | Update | Delete => ['insert', 'update', 'delete'].includes(message.tag));

describe('pgoutput decoding of captured messages', () => {
  it('decodes every message of every scenario, and the scenarios hold every message kind', () => {
    const tags = new Set<string>();
    for (const scenario of SCENARIOS) {
      const fixture = loadFixture(scenario);
      const messages = decodeFixture(fixture);
      expect(messages).toHaveLength(fixture.messages.length);
      for (const message of messages) tags.add(message.tag);
    }
    expect([...tags].sort()).toEqual(['begin', 'commit', 'delete', 'insert', 'message', 'origin', 'relation', 'truncate', 'type', 'update']);
  });

  it('reads Begin and Commit as Postgres reported them: xid, commit LSN, end LSN, commit time', () => {
    for (const scenario of SCENARIOS) {
      const fixture = loadFixture(scenario);
      const messages = decodeFixture(fixture);
      let open: Extract<PgoutputMessage, { tag: 'begin' }> | undefined;
      messages.forEach((message, index) => {
        const reported = fixture.messages[index]!;
        if (message.tag === 'begin') {
          open = message;
          expect(String(message.xid)).toBe(reported.xid);
        } else if (message.tag === 'commit') {
          // Postgres lists a Commit at the end of its transaction.
          expect(message.endLsn).toBe(parseLsn(reported.lsn));
          expect(message.commitLsn).toBe(open!.commitLsn);
          expect(message.commitTime).toBe(open!.commitTime);
          expect(message.endLsn).toBeGreaterThan(message.commitLsn);
          open = undefined;
        }
      });
      expect(open).toBeUndefined();
    }
    // pg_replication_origin_xact_setup(…, '2026-01-01 00:00:00+00') set this one's commit time.
    const [begin] = of(decodeFixture(loadFixture('origin')), 'begin');
    expect(begin!.commitTime).toBe(BigInt(Date.UTC(2026, 0, 1)) * 1000n);
  });

  it('reads Relation: schema, name, replica identity, identity columns, type OIDs and modifiers', () => {
    const [docs] = of(decodeFixture(loadFixture('default-identity')), 'relation');
    expect(docs).toMatchObject({ schema: 'public', name: 'docs', replicaIdentity: 'default' });
    expect(docs!.columns.map((column) => [column.name, column.typeOid, column.typeMod, column.isIdentity])).toEqual([
      ['org_id', 25, -1, true],
      ['id', 23, -1, true],
      ['title', 25, -1, false],
      ['body', 25, -1, false],
      ['secret', 25, -1, false],
    ]);
    const fixture = loadFixture('full-identity');
    const [cards] = of(decodeFixture(fixture), 'relation');
    // expose() made it FULL (the tenant is not in the key): every column is identity.
    expect(cards).toMatchObject({ name: 'cards', replicaIdentity: 'full' });
    expect(cards!.columns.every((column) => column.isIdentity)).toBe(true);
    expect(new Set(cards!.columns.map((column) => String(column.typeOid)))).toEqual(new Set(Object.keys(fixture.types)));
  });

  it('keeps values as the text Postgres sent: NULL, multi-byte UTF-8, quotes and newlines, typed text', () => {
    const inserts = of(decodeFixture(loadFixture('default-identity')), 'insert');
    expect(inserts.map((insert) => insert.new)).toEqual([
      ['acme', '1', 'first', 'short body', 's3cret'],
      ['globex', '1', 'theirs', null, null],
      ['acme', '2', 'héllo ✓ 🎉 ünïcode', 'line one\nline "two"', null],
      ['acme', '3', 'three', null, 'hidden'],
    ]);
    const [typed, nulls] = of(decodeFixture(loadFixture('full-identity')), 'insert');
    expect(typed!.new).toEqual([
      '1',
      'acme',
      'typed',
      null,
      '{a,"b c",NULL}',
      '{"n": 12345678901234567890, "s": "✓"}',
      '2026-11-23 06:00:00.123456+00',
      '12345678901234567890.000000001',
      '9223372036854775807',
      'NaN',
      't',
      '\\x00ff',
      'busy',
      '7',
      '{calm,busy}',
      '1',
    ]);
    expect(nulls!.new.slice(2, -1).every((value) => value === null)).toBe(true);
  });

  it('under DEFAULT identity: an update sends the old key only when the key changed; a delete sends the key', () => {
    const messages = decodeFixture(loadFixture('default-identity'));
    const [renamed, rekeyed, moved, ,] = of(messages, 'update');
    expect(renamed).toMatchObject({ key: null, old: null, new: ['acme', '1', 'renamed', 'short body', 's3cret'] });
    // Key columns as they were; the other columns of a key tuple are NULL.
    expect(rekeyed).toMatchObject({ key: ['acme', '2', null, null, null], old: null });
    expect(rekeyed!.new.slice(0, 2)).toEqual(['acme', '10']);
    expect(moved).toMatchObject({ key: ['acme', '10', null, null, null], old: null });
    expect(moved!.new.slice(0, 2)).toEqual(['globex', '10']);
    expect(of(messages, 'delete').map((deleted) => [deleted.key, deleted.old])).toEqual([
      [['globex', '1', null, null, null], null],
      [['acme', '3', null, null, null], null],
    ]);
  });

  it('under FULL identity: updates and deletes carry the whole old row', () => {
    const messages = decodeFixture(loadFixture('full-identity'));
    const [retitled, moved] = of(messages, 'update');
    expect(retitled!.key).toBeNull();
    expect(retitled!.old!.slice(0, 3)).toEqual(['1', 'acme', 'typed']);
    expect(retitled!.new.slice(0, 3)).toEqual(['1', 'acme', 'retitled']);
    // The version trigger bumped it: old and new differ there too.
    expect([retitled!.old!.at(-1), retitled!.new.at(-1)]).toEqual(['1', '2']);
    expect([moved!.old![1], moved!.new[1]]).toEqual(['acme', 'globex']);
    const [deleted] = of(messages, 'delete');
    expect(deleted).toMatchObject({ key: null, old: ['2', 'globex', ...Array(13).fill(null), '1'] });
  });

  it('tells an unchanged TOASTed value from NULL: unsent under DEFAULT, in the old row under FULL', () => {
    const [defaultUpdate, fullUpdate] = of(decodeFixture(loadFixture('toast')), 'update');
    expect(defaultUpdate!.new).toEqual(['acme', '20', 'big, retitled', UNCHANGED_TOAST, null]);
    expect(defaultUpdate!.old).toBeNull();
    const body = fullUpdate!.relation.columns.findIndex((column) => column.name === 'body');
    expect(fullUpdate!.old![body]).toBe('y'.repeat(4000));
    // Under FULL, Postgres 15 and 18 fill the new row from the old one; a "u" would do too.
    expect([UNCHANGED_TOAST, 'y'.repeat(4000)]).toContain(fullUpdate!.new[body]);
    const [inserted] = of(decodeFixture(loadFixture('toast')), 'insert');
    expect(inserted!.new[3]).toBe(`${'x'.repeat(4000)} ✓`);
  });

  it('reads TRUNCATE with its relations and its CASCADE and RESTART IDENTITY options', () => {
    const truncates = of(decodeFixture(loadFixture('truncate')), 'truncate');
    const summary = (truncate: Truncate) => [truncate.relations.map((relation: Relation) => relation.name), truncate.cascade, truncate.restartIdentity];
    expect(truncates.map(summary)).toEqual([
      [['docs'], false, false],
      [['cards', 'notices'], false, true],
      [['bulk'], true, false],
    ]);
  });

  it('reads logical messages: outside a transaction, inside one at its place, binary content', () => {
    const fixture = loadFixture('messages');
    const messages = decodeFixture(fixture);
    const logical = of(messages, 'message');
    expect(logical.map((message: LogicalMessage) => [message.transactional, message.prefix, message.content.toString('hex')])).toEqual([
      [false, 'walcast.test', Buffer.from('outside any transaction').toString('hex')],
      [true, 'walcast.test', Buffer.from('inside, ✓').toString('hex')],
      [true, 'walcast.test', '00ff'],
    ]);
    // Each at the LSN Postgres reported for it; the first before any Begin.
    for (const message of logical) expect(message.lsn).toBe(parseLsn(fixture.messages[messages.indexOf(message)]!.lsn));
    expect(messages[0]!.tag).toBe('message');
    expect(messages.map((message) => message.tag).slice(1, 6)).toEqual(['begin', 'relation', 'insert', 'message', 'commit']);
  });

  it('sends nothing of a rolled-back transaction or savepoint, and no empty transaction', () => {
    const messages = decodeFixture(loadFixture('rollback'));
    expect(messages.map((message) => message.tag)).toEqual(['begin', 'relation', 'insert', 'insert', 'commit']);
    expect(rows(messages).map((row) => (row as Insert).new[1])).toEqual(['41', '43']);
  });

  it('publishes partitions under their root table; a row moving across partitions is a delete and an insert', () => {
    const messages = decodeFixture(loadFixture('partitions'));
    expect(new Set(rows(messages).map((row) => row.relation.name))).toEqual(new Set(['readings']));
    expect(rows(messages).map((row) => row.tag)).toEqual(['insert', 'insert', 'delete', 'insert', 'update', 'delete']);
  });

  it('holds a large transaction together, between one Begin and one Commit', () => {
    const messages = decodeFixture(loadFixture('large-transaction'));
    expect(of(messages, 'begin')).toHaveLength(1);
    expect(messages.at(-1)!.tag).toBe('commit');
    expect(of(messages, 'insert')).toHaveLength(1200);
    expect(of(messages, 'update')).toHaveLength(10);
  });

  it('reads an origin and Type messages (an enum, its array, a domain) without losing its place', () => {
    expect(decodeFixture(loadFixture('origin')).map((message) => message.tag)).toEqual(['begin', 'origin', 'relation', 'insert', 'commit']);
    expect(of(decodeFixture(loadFixture('full-identity')), 'type')).toHaveLength(3);
  });

  it('refuses a row before its Relation, an unknown message type and a cut-off message', () => {
    const fixture = loadFixture('default-identity');
    const insert = Buffer.from(fixture.messages.find(({ data }) => data.startsWith('49'))!.data, 'hex');
    expect(() => new PgoutputDecoder().decode(insert)).toThrow(
      expect.objectContaining({ code: 'REPLICATION_PROTOCOL', message: expect.stringMatching(/before its Relation/) }),
    );
    expect(() => new PgoutputDecoder().decode(Buffer.from('Z'))).toThrow(expect.objectContaining({ code: 'REPLICATION_PROTOCOL' }));
    const decoder = new PgoutputDecoder();
    const relation = Buffer.from(fixture.messages.find(({ data }) => data.startsWith('52'))!.data, 'hex');
    decoder.decode(relation);
    expect(() => decoder.decode(insert.subarray(0, 5))).toThrow(RangeError);
    expect(() => new PgoutputDecoder().decode(relation.subarray(0, 9))).toThrow();
  });
});
