// Filtered frames (src/streams/frames.ts) on events made from captured changes: like a
// Postgres row filter, an update that moves a row into a stream's filter reaches it as an
// insert of the row as it is, one that moves it out as a delete of the row as it was, in
// the bytes an unfiltered stream would get for such a change.
import { describe, expect, it } from 'vitest';
import type { ChangeEvent, WalcastEvent } from '../../src/events/event.js';
import type { RowPredicate, RowText } from '../../src/filters/index.js';
import { eventBytes, formatSse } from '../../src/streams/sse.js';
import { frameFor, judge } from '../../src/streams/frames.js';
import { fixtureRig, loadFixture, payloadOf, type Scenario } from '../support/fixtures.js';

async function changes(scenario: Scenario): Promise<ChangeEvent[]> {
  const rig = fixtureRig(loadFixture(scenario));
  await rig.run();
  return rig.published.flat().filter((event): event is ChangeEvent => event.type === 'change');
}

/** `column=eq.value`, judged on the text Postgres sent; undefined when the column was not sent. */
const equals =
  (column: string, text: string): RowPredicate =>
  (row: RowText) => {
    const value = row[column];
    return value === undefined ? undefined : value === text;
  };

/** The `data:` JSON of a frame, as text. */
const dataOf = (frame: Buffer) => /^data: (.*)$/m.exec(frame.toString('utf8'))![1]!;

const full = await changes('full-identity');
const retitled = full.find((event) => event.op === 'update')!; // cards 1: title 'typed' → 'retitled'
const toast = await changes('toast');
const [defaultToast, fullToast] = toast.filter((event) => event.op === 'update');
const docs = await changes('default-identity');
const renamed = docs.find((event) => event.op === 'update')!; // docs acme/1: title 'first' → 'renamed', no old row

describe('a filtered stream', () => {
  it('gets an update that moves a row out of its filter as a delete of the row as it was', () => {
    const filter = equals('title', 'typed');
    expect(judge(retitled, filter)).toBe('as-delete');
    const payload = payloadOf(retitled);
    const frame = frameFor(retitled, 'as-delete', eventBytes(retitled));
    expect(frame.toString('utf8').startsWith(`id: ${retitled.id}\nevent: change\n`)).toBe(true);
    const data = dataOf(frame);
    const deleted = JSON.parse(data) as Record<string, unknown>;
    expect(Object.keys(deleted)).toEqual(['id', 'table', 'op', 'tenant', 'key', 'old', 'xid', 'lsn', 'committedAt']);
    expect(deleted).toEqual({ ...payload, op: 'delete', key: { id: 1 }, row: undefined, changed: undefined, unchanged: undefined });
    // The old row in the very bytes of the unfiltered event (a jsonb number past 2^53 included).
    expect(data).toContain(retitled.json.slice(retitled.json.indexOf('"old":'), retitled.json.indexOf(',"changed":')));
  });

  it('gets an update that moves a row into its filter as an insert of the row as it is', () => {
    const filter = equals('title', 'retitled');
    expect(judge(retitled, filter)).toBe('as-insert');
    const payload = payloadOf(retitled);
    const inserted = JSON.parse(dataOf(frameFor(retitled, 'as-insert', eventBytes(retitled)))) as Record<string, unknown>;
    expect(Object.keys(inserted)).toEqual(['id', 'table', 'op', 'tenant', 'key', 'row', 'xid', 'lsn', 'committedAt']);
    expect(inserted).toEqual({ ...payload, op: 'insert', old: undefined, changed: undefined, unchanged: undefined, row: payload['row'] });
  });

  it('gets the event itself, byte for byte, when the row stays in; nothing when it stays out', () => {
    expect(judge(retitled, equals('org_id', 'acme'))).toBe('send');
    const shared = eventBytes(retitled);
    expect(frameFor(retitled, 'send', shared)).toBe(shared);
    expect(judge(retitled, equals('org_id', 'globex'))).toBe('skip');
  });

  it('shares one frame per variant among every stream that judges the same', () => {
    expect(frameFor(retitled, 'as-delete', eventBytes(retitled))).toBe(frameFor(retitled, 'as-delete', eventBytes(retitled)));
    expect(frameFor(retitled, 'as-insert', eventBytes(retitled))).toBe(frameFor(retitled, 'as-insert', eventBytes(retitled)));
    expect(frameFor(retitled, 'as-insert', eventBytes(retitled))).not.toBe(frameFor(retitled, 'as-delete', eventBytes(retitled)));
  });

  it('without the old row (DEFAULT identity), passes an update on unless it now fails the filter', () => {
    expect(judge(renamed, equals('title', 'renamed'))).toBe('send');
    // It may have been in before: a client removing a row it never had loses nothing.
    expect(judge(renamed, equals('title', 'first'))).toBe('as-delete');
    expect(JSON.parse(dataOf(frameFor(renamed, 'as-delete', eventBytes(renamed))))).toEqual({
      ...payloadOf(renamed),
      op: 'delete',
      row: undefined,
      unchanged: undefined,
    });
  });

  it('judges an unchanged TOASTed value by the old row where there is one, and never inserts a row it cannot judge', () => {
    const body = (text: string) => equals('body', text);
    // FULL: the body is known (from the old row) and unchanged: in before and after.
    expect(judge(fullToast!, body('y'.repeat(4000)))).toBe('send');
    expect(judge(fullToast!, body('other'))).toBe('skip');
    // DEFAULT: the body was not sent; the update is passed on rather than guessed.
    expect(judge(defaultToast!, body('anything'))).toBe('send');
    const insert = toast.find((event) => event.op === 'insert')!;
    expect(judge(insert, () => undefined)).toBe('skip');
  });

  it('passes a delete on unless the old row says it was never in; truncates always', async () => {
    const deleted = full.filter((event) => event.op === 'delete').at(-1)!; // cards 2 of globex, FULL
    expect(judge(deleted, equals('org_id', 'globex'))).toBe('send');
    expect(judge(deleted, equals('org_id', 'acme'))).toBe('skip');
    const keyOnly = docs.filter((event) => event.op === 'delete').at(-1)!; // docs acme/3, DEFAULT: its key only
    expect(judge(keyOnly, equals('title', 'anything'))).toBe('send');
    const rig = fixtureRig(loadFixture('truncate'));
    await rig.run();
    const truncate: WalcastEvent = rig.published[0]![0]!;
    expect(judge(truncate, () => false)).toBe('send');
    expect(eventBytes(truncate).toString('utf8')).toBe(formatSse({ id: truncate.id, event: 'truncate', data: truncate.json }));
    const shared = eventBytes(truncate);
    expect(frameFor(truncate, 'send', shared)).toBe(shared);
  });
});
