// Columns of every type filters support, with fast-check arbitraries for the values
// Postgres can store in them (edge values weighted in) and for other spellings of a value
// that Postgres reads as the same one. Shared by the filter tests.
import fc from 'fast-check';
import type { ValueKind } from '../../src/filters/index.js';

export interface ColumnSpec {
  readonly name: string;
  /** Column definition in CREATE TABLE. */
  readonly sql: string;
  readonly kind: ValueKind;
  /** Text Postgres accepts for the column. */
  readonly value: fc.Arbitrary<string>;
  /** Another spelling of a value (as `value` writes it) that Postgres reads as the same value. */
  readonly respell?: (text: string) => fc.Arbitrary<string>;
  /** Values just above or below one (as `value` writes it), still valid: where orderings are decided. */
  readonly near?: (text: string) => fc.Arbitrary<string>;
}

const pad = (value: number | bigint, width: number) => String(value).padStart(width, '0');
const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

const int = (bits: 16 | 32 | 64) => {
  const max = (1n << BigInt(bits - 1)) - 1n;
  return fc
    .oneof(
      { weight: 3, arbitrary: fc.bigInt({ min: -max - 1n, max }) },
      { weight: 3, arbitrary: fc.bigInt({ min: -20n, max: 20n }) },
      { weight: 1, arbitrary: fc.constantFrom(-max - 1n, max, 0n) },
    )
    .map(String);
};

/** One step either way, within the type's range. */
const intNear = (bits: 16 | 32 | 64) => (text: string) => {
  const max = (1n << BigInt(bits - 1)) - 1n;
  const value = BigInt(text.trim());
  return fc.constantFrom(...[value - 1n, value + 1n].filter((next) => next >= -max - 1n && next <= max).map(String));
};

const numericNear = (text: string) => {
  if (!/^-?\d+(\.\d+)?$/.test(text)) return fc.constant(text);
  const nudged = [`${text}${text.includes('.') ? '' : '.'}0001`, `${text}${text.includes('.') ? '' : '.'}9`];
  if (/\.\d*[1-9]\d*$/.test(text)) nudged.push(text.slice(0, -1) || '0');
  return fc.constantFrom(...nudged);
};

/** The next float of the column's width from `value` towards `direction`. */
function nextFloat(value: number, width: 32 | 64, direction: 1 | -1): number {
  if (value === 0) return direction * (width === 32 ? 1.401298464324817e-45 : 5e-324);
  // Finite floats of one sign are ordered as their bit patterns: one step is ±1.
  const away = Math.sign(value) === direction;
  const view = new DataView(new ArrayBuffer(8));
  if (width === 32) {
    view.setFloat32(0, value);
    view.setUint32(0, view.getUint32(0) + (away ? 1 : -1));
    return view.getFloat32(0);
  }
  view.setFloat64(0, value);
  view.setBigUint64(0, view.getBigUint64(0) + (away ? 1n : -1n));
  return view.getFloat64(0);
}

const floatNear = (width: 32 | 64) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value)) return fc.constant(text);
  return fc.constantFrom(...[nextFloat(value, width, 1), nextFloat(value, width, -1)].filter(Number.isFinite).map(String));
};

/** Another day of the same month (days run to 28 here), or a microsecond more in the seconds. */
const instantNear = (text: string) => {
  const nudged: string[] = [];
  const day = /^(\d{4,}-\d\d-)(\d\d)/.exec(text);
  if (day)
    nudged.push(text.replace(/^(\d{4,}-\d\d-)(\d\d)/, (_, head: string, dd: string) => `${head}${pad(Number(dd) < 28 ? Number(dd) + 1 : Number(dd) - 1, 2)}`));
  const microsecond = (fraction: string) => {
    if (fraction.length < 7) return `${fraction || '.'}${'000001'.slice(Math.max(fraction.length - 1, 0))}`;
    const last = Number(fraction.slice(-1));
    return `${fraction.slice(0, -1)}${last > 0 ? last - 1 : last + 1}`;
  };
  if (/:\d\d:\d\d/.test(text) && !text.startsWith('24'))
    nudged.push(text.replace(/(:\d\d:\d\d)(\.\d+)?/, (_, seconds: string, fraction = '') => `${seconds}${microsecond(fraction)}`));
  return nudged.length > 0 ? fc.constantFrom(...nudged) : fc.constant(text);
};

const numeric = fc.oneof(
  // Integer parts from a small set, so rows often differ only in their fractions.
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('0', '1', '-1', '42', '-42'), digits(1, 6)).map(([whole, fraction]) => `${whole}.${fraction}`) },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom('', '-'), digits(1, 25), fc.option(digits(1, 25), { nil: undefined }))
      .map(([sign, whole, fraction]) => `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}`),
  },
  { weight: 3, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity', '0', '-0.000', '1.10', '1.1', '-1.1', '0.00001', '100', '1e-20') },
  { weight: 1, arbitrary: fc.constantFrom('1e131071', '-1e131071', '1e-16383', '9e999', '-0.1e-999') },
);

const numericRespell = (text: string) =>
  /^-?\d+(\.\d+)?$/.test(text)
    ? fc.constantFrom(`${text}${text.includes('.') ? '' : '.'}000`, ` ${text} `, `${text}e0`, text.startsWith('-') ? text : `+${text}`)
    : fc.constantFrom(text.toLowerCase(), text.toUpperCase(), text);

const float8 = fc
  .oneof(
    { weight: 5, arbitrary: fc.double() },
    { weight: 2, arbitrary: fc.integer({ min: -5, max: 5 }) },
    { weight: 1, arbitrary: fc.constantFrom(-0, 0.1, 1e-300, 5e-324, 1.7976931348623157e308) },
  )
  .map((value) => (Object.is(value, -0) ? '-0' : String(value)));

const float4 = fc
  .oneof(
    { weight: 5, arbitrary: fc.float() },
    { weight: 2, arbitrary: fc.integer({ min: -5, max: 5 }) },
    { weight: 1, arbitrary: fc.constantFrom(-0, 0.1, 1e-45, 3.4e38) },
  )
  .map((value) => (Object.is(value, -0) ? '-0' : String(value)));

const floatRespell = (text: string) => fc.constantFrom(text, ` ${text}`, text.toLowerCase(), text === 'Infinity' ? 'inf' : `${text}`);

const yearMonthDay = (minYear: number, maxYear: number) =>
  fc
    .tuple(
      fc.oneof(fc.integer({ min: minYear, max: maxYear }), fc.integer({ min: 1990, max: 2030 }), fc.constantFrom(1, 9999, 10000, 275760, 275761, 300000)),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 28 }),
      fc.boolean(),
    )
    .filter(([year, , , bc]) => year <= maxYear && (!bc || year <= 4713))
    .map(([year, month, day, bc]) => `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}${bc ? ' BC' : ''}`);

const timeOfDay = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        fc.option(fc.integer({ min: 0, max: 999_999 }), { nil: undefined }),
      )
      .map(([h, m, s, micros]) => `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${micros === undefined ? '' : `.${pad(micros, 6)}`}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('00:00:00', '24:00:00', '23:59:59.999999', '12:00:00.5') },
);

const withBc = (date: string, time: string) => (date.endsWith(' BC') ? `${date.slice(0, -3)} ${time} BC` : `${date} ${time}`);

const date = fc.oneof(
  { weight: 9, arbitrary: yearMonthDay(1, 5_874_896) },
  { weight: 1, arbitrary: fc.constantFrom('infinity', '-infinity', '4713-01-01 BC', '5874897-12-31', '0044-03-15 BC') },
);
const timestamp = fc.oneof(
  {
    weight: 9,
    arbitrary: fc
      .tuple(
        yearMonthDay(1, 294_275),
        timeOfDay.filter((time) => !time.startsWith('24')),
      )
      .map(([day, time]) => withBc(day, time)),
  },
  { weight: 1, arbitrary: fc.constantFrom('infinity', '-infinity', '294276-12-31 23:59:59.999999', '4713-01-01 00:00:00 BC') },
);
const zone = fc.constantFrom('', '+00', 'Z', '+05:30', '-08', '+14', '-12:45');
const timestamptz = fc.oneof(
  // 4713 BC with an offset east of UTC would fall before the first timestamptz.
  {
    weight: 9,
    arbitrary: fc
      .tuple(
        yearMonthDay(1, 200_000).filter((day) => !day.startsWith('4713-')),
        timeOfDay.filter((time) => !time.startsWith('24')),
        zone,
      )
      .map(([day, time, offset]) => withBc(day, `${time}${offset}`)),
  },
  { weight: 1, arbitrary: fc.constantFrom('infinity', '-infinity', '294276-12-31 23:59:59.999999+00', '4713-01-01 00:00:00+00 BC') },
);

const instantRespell = (text: string) =>
  /^\d{4}-/.test(text) && !text.endsWith(' BC')
    ? fc.constantFrom(text.replace(' ', 'T'), `${text.replace(/^(\d+)-0?(\d+)-0?(\d+)/, '$1-$2-$3')}`, text)
    : fc.constantFrom(text, text.toUpperCase() === text ? text : text.toUpperCase());

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((array) => Buffer.from(array).toString('hex'));

const text = fc
  .oneof(
    { weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
    { weight: 3, arbitrary: fc.constantFrom('', ' ', 'a', 'a ', 'A', 'é', 'e\u0301', '😀', 'a,b', '"q"', '$sub', '(x)', 'NULL', 'null', 'ß', 'SS') },
  )
  .map((value) => value.replaceAll('\u0000', ''));

export const COLUMN_SPECS: readonly ColumnSpec[] = [
  {
    name: 'i2',
    sql: 'int2',
    kind: 'integer',
    value: int(16),
    respell: (v) => fc.constantFrom(v, ` ${v}`, v.startsWith('-') ? v : `+${v}`, `${v} `),
    near: intNear(16),
  },
  { name: 'i4', sql: 'int4', kind: 'integer', value: int(32), respell: (v) => fc.constantFrom(v, ` ${v}`, `${v} `), near: intNear(32) },
  { name: 'i8', sql: 'int8', kind: 'integer', value: int(64), respell: (v) => fc.constantFrom(v, ` ${v}`, v.startsWith('-') ? v : `+${v}`), near: intNear(64) },
  { name: 'num', sql: 'numeric', kind: 'numeric', value: numeric, respell: numericRespell, near: numericNear },
  { name: 'f4', sql: 'float4', kind: 'float', value: float4, respell: floatRespell, near: floatNear(32) },
  { name: 'f8', sql: 'float8', kind: 'float', value: float8, respell: floatRespell, near: floatNear(64) },
  {
    name: 'b',
    sql: 'bool',
    kind: 'bool',
    value: fc.constantFrom('t', 'f'),
    respell: (v) => fc.constantFrom(...(v === 't' ? ['true', 'yes', 'on', '1', 'TRUE'] : ['false', 'no', 'off', '0', 'F'])),
  },
  { name: 'tx', sql: 'text', kind: 'label', value: text },
  { name: 'vc', sql: 'varchar(12)', kind: 'label', value: text.filter((value) => [...value].length <= 12) },
  {
    name: 'ch',
    sql: 'char(5)',
    kind: 'bpchar',
    value: fc.constantFrom('', 'a', 'a  ', 'ab', ' a', 'abcde', 'é', 'a b'),
    respell: (v) => fc.constantFrom(v, `${v.trimEnd()}`, `${v.trimEnd()}   `),
  },
  {
    name: 'u',
    sql: 'uuid',
    kind: 'uuid',
    value: fc.oneof(fc.uuid(), fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff')),
    respell: (v) => fc.constantFrom(v.toUpperCase(), `{${v}}`, v.replaceAll('-', '')),
    near: (v) => fc.constant(`${v.slice(0, -1)}${(Number.parseInt(v.slice(-1), 16) ^ 1).toString(16)}`),
  },
  { name: 'd', sql: 'date', kind: 'date', value: date, respell: instantRespell, near: instantNear },
  { name: 'ts', sql: 'timestamp', kind: 'timestamp', value: timestamp, respell: instantRespell, near: instantNear },
  { name: 'tz', sql: 'timestamptz', kind: 'timestamptz', value: timestamptz, respell: instantRespell, near: instantNear },
  { name: 'tm', sql: 'time', kind: 'time', value: timeOfDay, respell: (v) => fc.constantFrom(v, v.replace(/^0/, ''), `${v}`), near: instantNear },
  {
    name: 'ttz',
    sql: 'timetz',
    kind: 'label',
    value: fc.tuple(timeOfDay, fc.constantFrom('+00', '+05:30', '-08', '+01')).map(([time, offset]) => `${time}${offset}`),
  },
  { name: 'e', sql: 'mood', kind: 'label', value: fc.constantFrom('sad', 'ok', 'happy') },
  {
    name: 'ip',
    sql: 'inet',
    kind: 'label',
    value: fc.oneof(
      fc.ipV4(),
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, bits]) => `${ip}/${bits}`),
      fc.ipV6(),
      fc.constantFrom('::ffff:1.2.3.4', '10.0.0.1/32', '10.0.0.1'),
    ),
  },
  {
    name: 'ci',
    sql: 'cidr',
    kind: 'label',
    value: fc.constantFrom('10.0.0.0/8', '10.0.0.0/16', '192.168.1.0/24', '192.168.1.7/32', '2001:db8::/32', '0.0.0.0/0'),
    respell: (v) => fc.constantFrom(v, v.replace(/\/32$/, '')),
  },
  {
    name: 'mac',
    sql: 'macaddr',
    kind: 'label',
    value: hex(6).map((h) => h.match(/../g)!.join(':')),
    respell: (v) => fc.constantFrom(v.toUpperCase(), v.replaceAll(':', '-'), v),
  },
  {
    name: 'by',
    sql: 'bytea',
    kind: 'bytea',
    value: fc.oneof(fc.integer({ min: 0, max: 4 }).chain(hex), fc.constantFrom('', '00', '0000', 'ff')).map((h) => `\\x${h}`),
    respell: (v) => fc.constantFrom(v.toUpperCase().replace('\\X', '\\x'), v),
    near: (v) => fc.constantFrom(`${v}00`, v.length > 2 ? v.slice(0, -2) : `${v}01`),
  },
  { name: 'dotted.name', sql: 'int4', kind: 'integer', value: int(32) },
  { name: 'dom', sql: 'positive_int', kind: 'integer', value: fc.integer({ min: 1, max: 2 ** 31 - 1 }).map(String) },
  { name: 'js', sql: 'jsonb', kind: 'opaque', value: fc.constantFrom('{}', '[1]', '{"a":1.0}', 'null') },
  { name: 'arr', sql: 'int4[]', kind: 'opaque', value: fc.constantFrom('{}', '{1,2}', '{NULL}') },
];

export const SCHEMA_SQL = `
  create type mood as enum ('sad', 'ok', 'happy');
  create domain positive_int as int4 check (value > 0);
  create table f (id int4 primary key, ${COLUMN_SPECS.map((spec) => `"${spec.name}" ${spec.sql}`).join(', ')});`;
