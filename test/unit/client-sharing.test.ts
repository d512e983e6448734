// The pure parts of one stream per browser: which streams carry which interests, where a
// stream resumes so no tab misses an event, how a tab skips IDs it already applied and
// notices a gap, windows over large tables, and whose token it is.
import { describe, expect, it } from 'vitest';
import { identityOf } from '../../src/client/claims.js';
import type { FromLeader, ToLeader } from '../../src/client/feed-messages.js';
import { alreadySeen, earliestPosition, floorOf, leavesGap } from '../../src/client/position.js';
import { interestKey, planStreams, streamPath, type Interest } from '../../src/client/stream-plan.js';
import { StreamMember, type MemberListener } from '../../src/client/stream-member.js';
import { TableCopy } from '../../src/client/table-copy.js';
import type { ChangeEvent } from '../../src/client/types.js';

const todos: Interest = { table: 'public.todos', where: [] };
const doneTodos: Interest = { table: 'public.todos', where: ['done=eq.true'] };
const notes: Interest = { table: 'public.notes', where: ['pinned=eq.true'] };
const WHEN = { lsn: '0/1', committedAt: '2026-01-01T00:00:00.000000Z' };

describe('planStreams', () => {
  it('puts every table on one stream, a second filter of the same table on a second, rooms on the first', () => {
    const plans = planStreams([todos, notes, doneTodos, todos], ['b', 'a', 'b']);
    expect(plans.map((plan) => plan.keys)).toEqual([[interestKey(notes), interestKey(todos)], [interestKey(doneTodos)]]);
    expect(plans.map((plan) => plan.rooms)).toEqual([['a', 'b'], []]);
    // Whoever asked first, the same plan: a new leader reopens nothing that did not change.
    expect(planStreams([doneTodos, todos, notes], ['a', 'b']).map((plan) => plan.signature)).toEqual(plans.map((plan) => plan.signature));
  });

  it('sends one filter shared by every table as where=, different ones per table as where.<table>=', () => {
    const [shared] = planStreams(
      [
        { table: 'public.a', where: ['x=eq.1'] },
        { table: 'public.b', where: ['x=eq.1'] },
      ],
      [],
    );
    expect(new URL(streamPath(shared!), 'http://h').searchParams.getAll('where')).toEqual(['x=eq.1']);
    const [mixed] = planStreams([todos, notes], ['r']);
    const query = new URL(streamPath(mixed!), 'http://h').searchParams;
    expect(query.get('tables')).toBe('public.notes,public.todos');
    expect(query.getAll('where')).toEqual([]);
    expect(query.getAll('where.public.notes')).toEqual(['pinned=eq.true']);
    expect(query.has('where.public.todos')).toBe(false);
    expect(query.get('rooms')).toBe('r');
  });

  it('keys an interest by its conditions in any order', () => {
    expect(interestKey({ table: 't', where: ['a=eq.1', 'b=eq.2'] })).toBe(interestKey({ table: 't', where: ['b=eq.2', 'a=eq.1'] }));
  });
});

describe('positions', () => {
  const cursor = 'S0000000000000100-0000000000000200-2A';
  it('resumes mixed positions from the earliest event ID, a cursor counting from before its low LSN', () => {
    expect(floorOf(cursor)).toBe('00000000000000FF-FFFFFF');
    expect(earliestPosition(['0000000000000300-000001', '0000000000000150-000000'])).toBe('0000000000000150-000000');
    expect(earliestPosition([cursor, '0000000000000150-000000'])).toBe('00000000000000FF-FFFFFF');
    expect(earliestPosition([cursor, cursor])).toBe(cursor);
    expect(earliestPosition([])).toBeUndefined();
  });

  it('calls a gap what a stream resuming later than a reader would not bring it', () => {
    expect(leavesGap('0000000000000100-000000', '0000000000000100-000000')).toBe(false);
    expect(leavesGap('0000000000000100-000000', '0000000000000200-000000')).toBe(true);
    expect(leavesGap('0000000000000300-000000', '0000000000000200-000000')).toBe(false);
    expect(leavesGap(cursor, '00000000000000FF-FFFFFF')).toBe(false);
    expect(leavesGap(cursor, '0000000000000150-000000')).toBe(true);
    expect(leavesGap('0000000000000300-000000', cursor)).toBe(true);
    expect(leavesGap(cursor, cursor)).toBe(false);
  });

  it('knows an ID as seen only after an event ID at or past it', () => {
    expect(alreadySeen('0000000000000100-000000', '0000000000000100-000000')).toBe(true);
    expect(alreadySeen('0000000000000100-000001', '0000000000000100-000000')).toBe(false);
    expect(alreadySeen('0000000000000100-000000', cursor)).toBe(false);
    expect(alreadySeen('0000000000000100-000000', undefined)).toBe(false);
  });
});

/** A subscription stand-in that records what the member tells it. */
function recorder(interests = [todos], rooms: string[] = []) {
  const seen: string[] = [];
  const listener: MemberListener = {
    interests,
    rooms,
    covered: (table, reload) => seen.push(`covered ${table} ${reload ? 'reload' : 'keep'}`),
    message: (table, event, data) => seen.push(`${event} ${table ?? ''} ${(data as { id?: string }).id ?? ''}`.trim()),
    streamStatus: (table, status) => seen.push(`${status} ${table}`),
  };
  return { listener, seen };
}

const change = (id: string, table = 'public.todos') =>
  JSON.stringify({ id, table, op: 'insert', key: { id: 1 }, row: { id: 1 }, xid: '1', ...WHEN } satisfies ChangeEvent);

describe('StreamMember', () => {
  const keys = [interestKey(todos)];
  const message = (id: string): FromLeader => ({ type: 'message', keys, event: 'change', id, data: change(id) });

  it('skips IDs it already applied when a new holder resumes earlier, and tells the holder where it is', async () => {
    const sent: ToLeader[] = [];
    const member = new StreamMember((sentMessage) => sent.push(sentMessage));
    const { listener, seen } = recorder();
    member.add(listener);
    member.receive({ type: 'open', generation: 1, keys, from: undefined });
    member.loaded(keys[0]!, 'S0000000000000001-0000000000000002-10');
    member.receive(message('0000000000000010-000000'));
    member.receive(message('0000000000000011-000000'));
    // The holder closed; the next one asks where every tab is, and resumes from the earliest.
    member.receive({ type: 'hello' });
    expect(sent.at(-1)).toMatchObject({ type: 'state', seen: { [keys[0]!]: '0000000000000011-000000' } });
    member.receive({ type: 'open', generation: 2, keys, from: '0000000000000010-000000' });
    member.receive(message('0000000000000011-000000'));
    member.receive(message('0000000000000012-000000'));
    expect(seen).toEqual([
      'covered public.todos reload',
      'change public.todos 0000000000000010-000000',
      'change public.todos 0000000000000011-000000',
      'covered public.todos keep',
      'change public.todos 0000000000000012-000000',
    ]);
    expect(sent.find((sentMessage) => sentMessage.type === 'loaded')).toMatchObject({ generation: 1 });
  });

  it('reads again when a stream resumes later than this tab had got to, or from now', () => {
    const member = new StreamMember(() => undefined);
    const { listener, seen } = recorder();
    member.add(listener);
    member.receive({ type: 'open', generation: 1, keys, from: undefined });
    member.receive(message('0000000000000010-000000'));
    member.receive({ type: 'open', generation: 2, keys, from: '0000000000000020-000000' });
    member.receive({ type: 'open', generation: 3, keys, from: undefined });
    expect(seen.filter((line) => line.startsWith('covered'))).toEqual([
      'covered public.todos reload',
      'covered public.todos reload',
      'covered public.todos reload',
    ]);
  });

  it("hands a table's events only to subscriptions of that table and filter, rooms' presence to those in the room", () => {
    const member = new StreamMember(() => undefined);
    const all = recorder([todos], ['board']);
    const done = recorder([doneTodos]);
    member.add(all.listener);
    member.add(done.listener);
    member.receive({
      type: 'message',
      keys: [interestKey(doneTodos)],
      event: 'change',
      id: '0000000000000001-000000',
      data: change('0000000000000001-000000'),
    });
    member.receive({ type: 'message', keys, event: 'presence', id: undefined, data: JSON.stringify({ room: 'board', op: 'sync', members: [] }) });
    expect(all.seen).toEqual(['presence']);
    expect(done.seen).toEqual(['change public.todos 0000000000000001-000000']);
  });
});

describe('a window over a large table', () => {
  const meta = { table: 'public.t', keyColumns: ['id'], versionColumn: null, cursor: '0000000000000001-000000' };
  const event = (op: ChangeEvent['op'], id: number): ChangeEvent => ({
    id: '0000000000000002-000000',
    table: 'public.t',
    op,
    key: { id },
    ...(op === 'delete' ? {} : { row: { id } }),
    xid: '9',
    ...WHEN,
  });
  const ids = (copy: TableCopy) => [...copy.rows.values()].map((row) => row['id']).sort((a, b) => Number(a) - Number(b));

  it('takes rows that enter before its boundary, drops the last past its limit, and says when a leaving row leaves it short', () => {
    const window = new TableCopy(meta, { limit: 3 });
    window.addPage([{ id: 10 }, { id: 20 }, { id: 30 }]);
    window.finish();
    expect(window.apply(event('insert', 40))).toBe(false);
    window.apply(event('insert', 15));
    expect(ids(window)).toEqual([10, 15, 20]);
    window.apply(event('delete', 10));
    expect(ids(window)).toEqual([15, 20]);
    expect(window.short).toBe(true);
  });

  it('holds a smaller table whole, and becomes a window once it grows past the limit', () => {
    const window = new TableCopy(meta, { limit: 3 });
    window.addPage([{ id: 1 }]);
    window.finish();
    for (const id of [9, 5, 7]) window.apply(event('insert', id));
    expect(ids(window)).toEqual([1, 5, 7]);
    window.apply(event('insert', 8));
    expect(ids(window)).toEqual([1, 5, 7]);
    window.apply(event('delete', 9));
    expect(window.short).toBe(false);
  });

  it('orders int8 keys (strings) by value', () => {
    const window = new TableCopy({ ...meta }, { limit: 2 });
    window.addPage([{ id: '9' }, { id: '10' }]);
    window.finish();
    window.apply({ ...event('insert', 0), key: { id: '100' }, row: { id: '100' } });
    expect([...window.rows.keys()]).toEqual(['["9"]', '["10"]']);
  });
});

describe('a table read in pages', () => {
  const meta = { table: 'public.t', keyColumns: ['id'], versionColumn: null, cursor: '0000000000000001-000000' };
  it('lets an event win over a later page, and fills an update without its unchanged values from the page', () => {
    const copy = new TableCopy(meta);
    copy.addPage([{ id: 1, body: 'one' }]);
    copy.apply({ id: '0000000000000002-000000', table: 'public.t', op: 'delete', key: { id: 2 }, xid: '9', ...WHEN });
    copy.apply({
      id: '0000000000000002-000001',
      table: 'public.t',
      op: 'update',
      key: { id: 3 },
      row: { id: 3, done: true },
      unchanged: ['body'],
      xid: '9',
      ...WHEN,
    });
    copy.addPage([
      { id: 2, body: 'two' },
      { id: 3, body: 'three', done: false },
    ]);
    copy.finish();
    expect([...copy.rows.values()]).toEqual([
      { id: 1, body: 'one' },
      { id: 3, body: 'three', done: true },
    ]);
  });
});

describe('identityOf', () => {
  const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
  it('reads tenant and user from a JWT, and nothing from anything else', () => {
    expect(identityOf(jwt({ tenant_id: 'acme', sub: 'ana' }))).toEqual({ tenant: 'acme', sub: 'ana' });
    expect(identityOf(jwt({ org: 7, sub: 'ana' }), 'org')).toEqual({ tenant: '7', sub: 'ana' });
    expect(identityOf(jwt({ sub: 'ana' }))).toBeUndefined();
    expect(identityOf('opaque-token')).toBeUndefined();
    expect(identityOf('a.%%%.b')).toBeUndefined();
  });
});
