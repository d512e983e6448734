import { describe, expect, it } from 'vitest';
import { compileWhere, parseCondition, parseWhere, type FilterColumn } from '../../src/filters/where.js';

const scalar = (oid: number) => ({ kind: 'scalar', oid }) as const;
const COLUMNS: FilterColumn[] = [
  { name: 'qty', type: scalar(23) },
  { name: 'price', type: scalar(1700) },
  { name: 'big', type: scalar(20) },
  { name: 'ratio', type: scalar(701) },
  { name: 'done', type: scalar(16) },
  { name: 'title', type: scalar(25) },
  { name: 'code', type: scalar(1042) },
  { name: 'uid', type: scalar(2950) },
  { name: 'due', type: scalar(1184) },
  { name: 'day', type: scalar(1082) },
  { name: 'mood', type: scalar(70_000) },
  { name: 'doc', type: scalar(3802) },
  { name: 'tags', type: { kind: 'array', elementOid: 25 } },
];

/** A row as Postgres sends it: every value as text (booleans `t`/`f`), NULL as null, a missing column undefined. */
const asText = (row: Record<string, unknown>) => (column: string) => {
  if (!(column in row)) return undefined;
  const value = row[column];
  return value === null ? null : typeof value === 'boolean' ? (value ? 't' : 'f') : typeof value === 'string' ? value : JSON.stringify(value);
};
const matches = (condition: string, row: Record<string, unknown>) => compileWhere(parseWhere([condition]), COLUMNS, 't')(asText(row));

describe('where= parsing', () => {
  it('reads column=operator.value, not., in lists with quotes, and is.', () => {
    expect(parseCondition('qty=gte.10')).toEqual({ column: 'qty', negate: false, operator: 'gte', values: ['10'] });
    expect(parseCondition('title=not.eq.a.b=c')).toEqual({ column: 'title', negate: true, operator: 'eq', values: ['a.b=c'] });
    expect(parseCondition('title=in.(a,"b,c","d\\"e",)')).toMatchObject({ operator: 'in', values: ['a', 'b,c', 'd"e', ''] });
    expect(parseCondition('done=is.null')).toMatchObject({ operator: 'is', values: ['null'] });
  });

  it('refuses what it cannot read with a message saying what is expected', () => {
    for (const [text, message] of [
      ['qty', /column=operator.value/],
      ['=eq.1', /column=operator.value/],
      ['qty=like.1', /unknown operator/],
      ['qty=eq', /needs a value/],
      ['qty=in.1,2', /parentheses/],
      ['qty=in.("open)', /unterminated/],
      ['done=is.maybe', /null, true or false/],
    ] as const) {
      expect(() => parseCondition(text), text).toThrow(message);
    }
    expect(() => parseWhere(Array(21).fill('qty=eq.1'))).toThrow(/at most 20/);
  });

  it('checks columns and operators against the table', () => {
    expect(() => compileWhere(parseWhere(['nope=eq.1']), COLUMNS, 't')).toThrow(/t has no column "nope"/);
    expect(() => compileWhere(parseWhere(['title=gt.m']), COLUMNS, 't')).toThrow(/ordered type/);
    expect(() => compileWhere(parseWhere(['doc=eq.{}']), COLUMNS, 't')).toThrow(/only is.null/);
    expect(() => compileWhere(parseWhere(['qty=eq.ten']), COLUMNS, 't')).toThrow(/not a valid value for qty/);
    expect(() => compileWhere(parseWhere(['qty=is.true']), COLUMNS, 't')).toThrow(/boolean column/);
  });
});

describe('where= evaluation, with Postgres semantics', () => {
  it('compares exact numbers exactly, numerically', () => {
    expect(matches('price=eq.1.5', { price: '1.50' })).toBe(true);
    expect(matches('price=gt.1e2', { price: '100.0000000000000000001' })).toBe(true);
    expect(matches('big=lt.9223372036854775807', { big: '9223372036854775806' })).toBe(true);
    expect(matches('price=gt.99999999', { price: 'NaN' })).toBe(true);
    expect(matches('price=eq.NaN', { price: 'NaN' })).toBe(true);
    expect(matches('qty=in.(1,2,3)', { qty: 2 })).toBe(true);
    expect(matches('qty=not.in.(1,2,3)', { qty: 4 })).toBe(true);
    expect(matches('ratio=lt.Infinity', { ratio: 1e308 })).toBe(true);
  });

  it('never matches NULL with a comparison, negated or not; is.null does', () => {
    expect(matches('qty=eq.1', { qty: null })).toBe(false);
    expect(matches('qty=not.eq.1', { qty: null })).toBe(false);
    expect(matches('qty=is.null', { qty: null })).toBe(true);
    expect(matches('qty=not.is.null', { qty: 3 })).toBe(true);
  });

  it('reads booleans, timestamps with offsets, char(n), uuids and labels as Postgres does', () => {
    expect(matches('done=eq.yes', { done: true })).toBe(true);
    expect(matches('done=is.false', { done: false })).toBe(true);
    expect(matches('due=eq.2026-11-23T07:00:00+01:00', { due: '2026-11-23T06:00:00.000000Z' })).toBe(true);
    expect(matches('due=lt.2026-11-23 06:00:00.000001Z', { due: '2026-11-23T06:00:00.000000Z' })).toBe(true);
    expect(matches('due=gt.3000-01-01', { due: 'infinity' })).toBe(true);
    expect(matches('day=gte.2026-01-01', { day: '2026-11-23' })).toBe(true);
    expect(matches('code=eq.ab', { code: 'ab   ' })).toBe(true);
    expect(matches('uid=eq.6BA7B810-9DAD-11D1-80B4-00C04FD430C8', { uid: '6ba7b810-9dad-11d1-80b4-00c04fd430c8' })).toBe(true);
    expect(matches('mood=eq.happy', { mood: 'happy' })).toBe(true);
    expect(matches('title=eq.Hello', { title: 'hello' })).toBe(false);
  });

  it('says "unknown" when the row lacks a filtered column', () => {
    expect(matches('qty=eq.1', { title: 'x' })).toBeUndefined();
    expect(compileWhere(parseWhere(['qty=eq.1', 'title=eq.y']), COLUMNS, 't')(asText({ title: 'x' }))).toBe(false);
  });

  it('filters arrays and JSON only by is.null', () => {
    expect(matches('tags=is.null', { tags: null })).toBe(true);
  });
});
