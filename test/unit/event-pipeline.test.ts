// The event pipeline (src/events/event-pipeline.ts) fed messages captured from Postgres
// (test/fixtures/pgoutput): which events a transaction becomes, their IDs, who they go
// to, what never leaves the server, and when a transaction is replaced by invalidations.
import { describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/events/event-id.js';
import type { WalcastEvent } from '../../src/events/event.js';
import { formatLsn } from '../../src/replication/lsn.js';
import type { Begin } from '../../src/replication/pgoutput.js';
import { decodeFixture, fixtureRig, loadFixture, payloadOf, type Scenario } from '../support/fixtures.js';

async function eventsOf(scenario: Scenario, options: { maxTxnChanges?: number } = {}) {
  const fixture = loadFixture(scenario);
  const rig = fixtureRig(fixture, options);
  await rig.run();
  const begins = decodeFixture(fixture).filter((message): message is Begin => message.tag === 'begin');
  return { ...rig, begins, fixture };
}

/** The payloads of a scenario's transactions, one array per published transaction. */
const payloads = (published: WalcastEvent[][]) => published.map((events) => events.map(payloadOf));

describe('the event pipeline on captured transactions', () => {
  it('makes one event per change, numbered by commit LSN and position, routed to the row tenant', async () => {
    const { published, begins } = await eventsOf('default-identity');
    // One publish per transaction, in commit order.
    expect(published.map((events) => events[0]!.commitLsn)).toEqual(begins.map((begin) => begin.commitLsn));
    for (const [index, events] of published.entries()) {
      const begin = begins[index]!;
      for (const event of events) {
        expect(event.id.startsWith(formatEventId(begin.commitLsn, 0).slice(0, 16))).toBe(true);
        expect(payloadOf(event)).toMatchObject({ id: event.id, xid: String(begin.xid), lsn: formatLsn(begin.commitLsn) });
        expect(payloadOf(event)['committedAt']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      }
    }
    const [twoRows, unicode, renamed, rekeyed, moved, deleted, threeChanges] = payloads(published);
    expect(twoRows!.map((event) => [event['id'], event['op'], event['tenant'], event['key']])).toEqual([
      [formatEventId(begins[0]!.commitLsn, 0), 'insert', 'acme', { org_id: 'acme', id: 1 }],
      [formatEventId(begins[0]!.commitLsn, 1), 'insert', 'globex', { org_id: 'globex', id: 1 }],
    ]);
    expect(unicode![0]!['row']).toEqual({ org_id: 'acme', id: 2, title: 'héllo ✓ 🎉 ünïcode', body: 'line one\nline "two"' });
    expect(renamed![0]).toMatchObject({ op: 'update', tenant: 'acme', key: { org_id: 'acme', id: 1 }, row: { title: 'renamed' }, unchanged: [] });
    // Without the old row (DEFAULT identity) nobody can say what changed: no `changed`, no `old`.
    expect(renamed![0]).not.toHaveProperty('changed');
    expect(renamed![0]).not.toHaveProperty('old');
    // A key change: `key` names the row as it was, so a client can find it.
    expect(rekeyed![0]).toMatchObject({ op: 'update', key: { org_id: 'acme', id: 2 }, row: { org_id: 'acme', id: 10 } });
    // A tenant change: a delete for the old tenant and an insert for the new one, under one ID.
    expect(moved!.map((event) => [event['op'], event['tenant'], event['key']])).toEqual([
      ['delete', 'acme', { org_id: 'acme', id: 10 }],
      ['insert', 'globex', { org_id: 'globex', id: 10 }],
    ]);
    expect(moved![0]!['id']).toBe(moved![1]!['id']);
    expect(deleted![0]).toEqual(expect.objectContaining({ op: 'delete', tenant: 'globex', key: { org_id: 'globex', id: 1 } }));
    expect(threeChanges!.map((event) => [event['id'], event['op']])).toEqual([
      [formatEventId(begins[6]!.commitLsn, 0), 'insert'],
      [formatEventId(begins[6]!.commitLsn, 1), 'update'],
      [formatEventId(begins[6]!.commitLsn, 2), 'delete'],
    ]);
  });

  it('never sends a hidden column, in any event', async () => {
    const { published } = await eventsOf('default-identity');
    const json = published.flat().map((event) => event.json);
    expect(json.length).toBeGreaterThan(0);
    for (const text of json) {
      expect(text).not.toContain('secret');
      expect(text).not.toContain('s3cret');
      expect(text).not.toContain('hidden');
    }
  });

  it('types every value and, with the whole old row (FULL), says exactly which columns changed', async () => {
    const { published } = await eventsOf('full-identity');
    const transactions = payloads(published);
    const [typed, nulls, retitled, deleted] = [0, 1, 2, 4].map((index) => transactions[index]![0]!);
    const moved = transactions[3]!;
    expect(typed!['row']).toEqual({
      id: 1,
      org_id: 'acme',
      title: 'typed',
      body: null,
      tags: ['a', 'b c', null],
      meta: { n: 12345678901234567000, s: '✓' },
      due: '2026-11-23T06:00:00.123456Z',
      amount: '12345678901234567890.000000001',
      big: '9223372036854775807',
      ratio: 'NaN',
      done: true,
      raw: 'AP8=',
      mood: 'busy',
      score: 7,
      moods: ['calm', 'busy'],
      version: '1',
    });
    // Digit for digit: a jsonb number past 2^53 and an int8 are written as Postgres sent them.
    expect(published[0]![0]!.json).toContain('"meta":{"n": 12345678901234567890, "s": "✓"}');
    expect(published[0]![0]!.json).toContain('"big":"9223372036854775807"');
    expect(Object.values(nulls!['row'] as object).filter((value) => value !== null)).toEqual([2, 'globex', '1']);
    expect(retitled).toMatchObject({ op: 'update', key: { id: 1 }, old: { title: 'typed', done: true }, row: { title: 'retitled', done: false } });
    // The version trigger bumped `version` in the same UPDATE.
    expect(retitled!['changed']).toEqual(['title', 'done', 'version']);
    expect(moved!.map((event) => [event['op'], event['tenant']])).toEqual([
      ['delete', 'acme'],
      ['insert', 'globex'],
    ]);
    expect(moved![0]!['old']).toMatchObject({ org_id: 'acme', title: 'retitled' });
    expect(deleted).toMatchObject({ op: 'delete', tenant: 'globex', key: { id: 2 }, old: { id: 2, org_id: 'globex' } });
  });

  it('never reports an unchanged TOASTed value as null or changed', async () => {
    const { published } = await eventsOf('toast');
    const transactions = payloads(published);
    const [defaultUpdate, fullUpdate] = [transactions[1]![0]!, transactions[3]![0]!];
    // DEFAULT: Postgres did not send it, so it is left out of `row` and listed as unchanged.
    expect(defaultUpdate!['row']).toEqual({ org_id: 'acme', id: 20, title: 'big, retitled' });
    expect(defaultUpdate!['unchanged']).toEqual(['body']);
    // FULL: the old row has it.
    expect((fullUpdate!['row'] as { body: string }).body).toBe('y'.repeat(4000));
    expect(fullUpdate!['unchanged']).toEqual([]);
    expect(fullUpdate!['changed']).toEqual(['title', 'version']);
  });

  it('sends a truncate of an exposed table to every tenant, and nothing for a table not exposed', async () => {
    const { published, begins } = await eventsOf('truncate');
    expect(published.flat().map((event) => [event.type, event.table, event.tenant, event.id])).toEqual([
      ['truncate', 'public.docs', null, formatEventId(begins[0]!.commitLsn, 0)],
      ['truncate', 'public.cards', null, formatEventId(begins[1]!.commitLsn, 0)],
      ['truncate', 'public.bulk', null, formatEventId(begins[2]!.commitLsn, 0)],
    ]);
  });

  it('sends only what committed: a rolled-back savepoint leaves no gap in positions', async () => {
    const { published, begins } = await eventsOf('rollback');
    expect(payloads(published)).toEqual([
      [
        expect.objectContaining({ id: formatEventId(begins[0]!.commitLsn, 0), row: expect.objectContaining({ title: 'kept' }) }),
        expect.objectContaining({ id: formatEventId(begins[0]!.commitLsn, 1), row: expect.objectContaining({ title: 'kept too' }) }),
      ],
    ]);
  });

  it('numbers changes by their place in the transaction, counting those of tables it does not stream', async () => {
    const { published, begins } = await eventsOf('listed');
    // notices is published but not exposed: its changes go to nobody, yet keep their place.
    expect(published.flat().map((event) => [event.id, event.table])).toEqual([[formatEventId(begins.at(-1)!.commitLsn, 1), 'public.docs']]);
  });

  it('names a partition row by its root table; a move across partitions is a delete and an insert', async () => {
    const { published } = await eventsOf('partitions');
    expect(new Set(published.flat().map((event) => event.table))).toEqual(new Set(['public.readings']));
    const [, moved] = payloads(published);
    expect(moved!.map((event) => [event['op'], event['key']])).toEqual([
      ['delete', { org_id: 'acme', id: 1, taken: '2025-06-01' }],
      ['insert', { org_id: 'acme', id: 1, taken: '2026-02-01' }],
    ]);
  });

  it('hands logical messages to their handler as they arrive, and keeps the transaction around one', async () => {
    const { published, testMessages } = await eventsOf('messages');
    expect(testMessages).toEqual(['outside any transaction', 'inside, ✓', '\u0000\ufffd']);
    expect(payloads(published)).toEqual([[expect.objectContaining({ op: 'insert', row: expect.objectContaining({ title: 'with a message' }) })]]);
  });

  it('sends a large transaction whole under the limit, and as one invalidate per (tenant, table) past it', async () => {
    const whole = await eventsOf('large-transaction');
    expect(whole.published).toHaveLength(1);
    const events = whole.published[0]!;
    expect(events).toHaveLength(1210);
    expect(events.map((event) => event.id)).toEqual(events.map((_, position) => formatEventId(whole.begins[0]!.commitLsn, position)));
    // Every third row is globex's, and three of the ten updated rows.
    expect(events.filter((event) => event.tenant === 'globex')).toHaveLength(403);

    const limited = await eventsOf('large-transaction', { maxTxnChanges: 1000 });
    expect(payloads(limited.published)).toEqual([
      [
        expect.objectContaining({ id: formatEventId(limited.begins[0]!.commitLsn, 0), table: 'public.bulk', tenant: 'acme', reason: 'transaction_too_large' }),
        expect.objectContaining({
          id: formatEventId(limited.begins[0]!.commitLsn, 1),
          table: 'public.bulk',
          tenant: 'globex',
          reason: 'transaction_too_large',
        }),
      ],
    ]);
    expect(limited.retention.size).toBe(2);
  });

  it('skips transactions it already has when the server sends them again after a reconnect', async () => {
    const fixture = loadFixture('default-identity');
    const rig = fixtureRig(fixture);
    const messages = decodeFixture(fixture);
    // The connection drops in the middle of the fourth transaction…
    const cut = messages.findIndex((message, index) => message.tag === 'begin' && messages.slice(0, index).filter((m) => m.tag === 'begin').length === 3) + 1;
    for (const message of messages.slice(0, cut)) await rig.pipeline.handle(message);
    rig.pipeline.connectionReset();
    // …and the server starts again from the slot's confirmed position: everything again.
    for (const message of decodeFixture(fixture)) await rig.pipeline.handle(message);
    const ids = rig.published.flat().map((event) => event.id);
    const once = await eventsOf('default-identity');
    // Exactly the events of one pass, in order: none twice, none missing.
    expect(ids).toEqual(once.published.flat().map((event) => event.id));
  });

  it('decodes again what a slot recreated further back sends again, so its window holds what it claims', async () => {
    const fixture = loadFixture('default-identity');
    const rig = fixtureRig(fixture);
    await rig.run();
    const once = rig.published.flat().map((event) => event.id);
    const begins = decodeFixture(fixture).filter((message): message is Begin => message.tag === 'begin');
    // The slot is lost and copied from another instance's, confirmed at the second commit
    // (slot-recovery): the window restarts there, and Postgres sends what follows again.
    const horizon = begins[1]!.commitLsn;
    rig.retention.restartAt(horizon);
    rig.pipeline.slotRecreated(horizon);
    await rig.run();
    const lastOfSecond = rig.published[1]!.at(-1)!.id;
    const point = rig.retention.resumeFrom({ kind: 'event', id: lastOfSecond });
    expect(point).toMatchObject({ kind: 'resume' });
    const resumed: string[] = [];
    for (let seq = (point as { seq: number }).seq; seq < rig.retention.nextSeq; seq++) resumed.push(rig.retention.at(seq)!.event.id);
    expect(resumed).toEqual(once.filter((id) => id > lastOfSecond));
  });

  it('applies walcast.expose() and conceal() made while streaming at their place in the stream (as rows, not messages)', async () => {
    const { published } = await eventsOf('expose-live');
    // Only the insert between the two: the rows of walcast.exposed_tables are no events,
    // and the walcast.config messages the SQL still emits change nothing.
    expect(payloads(published)).toEqual([
      [expect.objectContaining({ table: 'public.later', tenant: 'acme', row: { id: 2, org_id: 'acme', note: 'while exposed' } })],
    ]);
  });
});
