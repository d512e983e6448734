import { describe, expect, it } from 'vitest';
import { decoderFor } from '../../src/events/values.js';

const raw = (oid: number, text: string) => decoderFor({ kind: 'scalar', oid })(text);
const decode = (oid: number, text: string): unknown => JSON.parse(raw(oid, text));
const decodeArray = (elementOid: number, text: string): unknown => JSON.parse(decoderFor({ kind: 'array', elementOid })(text));

describe('Postgres text → JSON values', () => {
  it('keeps int8, numeric and money exact as strings', () => {
    expect(decode(20, '9223372036854775807')).toBe('9223372036854775807');
    expect(decode(1700, '3.14159265358979323846264338327950288')).toBe('3.14159265358979323846264338327950288');
    expect(decode(790, '$1,000.00')).toBe('$1,000.00');
  });

  it('maps small integers and floats to numbers, NaN and infinities to strings', () => {
    expect(decode(23, '-42')).toBe(-42);
    expect(decode(701, '0.1')).toBe(0.1);
    expect(decode(701, 'NaN')).toBe('NaN');
    expect(decode(700, '-Infinity')).toBe('-Infinity');
  });

  it('keeps every microsecond of timestamps as ISO 8601', () => {
    expect(decode(1184, '2026-11-23 06:00:00.123456+00')).toBe('2026-11-23T06:00:00.123456Z');
    expect(decode(1184, '2026-11-23 06:00:00.1+00')).toBe('2026-11-23T06:00:00.100000Z');
    expect(decode(1114, '2026-11-23 06:00:00')).toBe('2026-11-23T06:00:00.000000');
    expect(decode(1184, 'infinity')).toBe('infinity');
    expect(decode(1083, '23:59:59.000001')).toBe('23:59:59.000001');
    expect(decode(1083, '12:00:00')).toBe('12:00:00.000000');
    expect(decode(1266, '12:00:00.5+05:30')).toBe('12:00:00.500000+05:30');
    expect(decode(1266, '12:00:00-08')).toBe('12:00:00.000000-08');
    expect(decode(1082, '2026-11-23')).toBe('2026-11-23');
  });

  it('writes JSON numbers digit for digit, inside json documents too', () => {
    expect(raw(3802, '{"n": 12345678901234567890123}')).toBe('{"n": 12345678901234567890123}');
    expect(raw(701, '1e+100')).toBe('1e+100');
    expect(raw(701, '-0')).toBe('-0');
    expect(raw(20, '9223372036854775807')).toBe('"9223372036854775807"');
  });

  it('parses booleans, JSON and bytea', () => {
    expect(decode(16, 't')).toBe(true);
    expect(decode(16, 'f')).toBe(false);
    expect(decode(3802, '{"a": [1, "x"]}')).toEqual({ a: [1, 'x'] });
    expect(decode(17, '\\x00ff10')).toBe(Buffer.from([0, 255, 16]).toString('base64'));
  });

  it('turns arrays into JSON arrays of the element type, NULLs included', () => {
    expect(decodeArray(23, '{1,NULL,3}')).toEqual([1, null, 3]);
    expect(decodeArray(23, '{{1,2},{3,4}}')).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(decodeArray(25, '{"a,b","NULL",NULL,"x\\"y"}')).toEqual(['a,b', 'NULL', null, 'x"y']);
    expect(decodeArray(20, '{9223372036854775807}')).toEqual(['9223372036854775807']);
    expect(decodeArray(1184, '{"2026-11-23 06:00:00.5+00",NULL}')).toEqual(['2026-11-23T06:00:00.500000Z', null]);
    expect(decodeArray(16, '{}')).toEqual([]);
  });

  it('leaves uuid, text and unknown types as their text', () => {
    expect(decode(2950, '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('6ba7b810-9dad-11d1-80b4-00c04fd430c8');
    expect(decode(99999, '(1,2)')).toBe('(1,2)');
  });
});
