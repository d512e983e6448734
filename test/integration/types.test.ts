// Every value type of DESIGN §3 through a real Postgres: what the event carries, and that
// casting the event's value back to the column type gives back the stored value. Also
// TOAST: a large value an update did not touch is never null and never "changed".
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

/** column, SQL type, SQL literal stored, the JSON value the event must carry. */
const CASES: readonly (readonly [string, string, string, unknown])[] = [
  ['i2', 'int2', '-32768', -32768],
  ['i4', 'int4', '2147483647', 2147483647],
  ['i8', 'int8', '9223372036854775807', '9223372036854775807'],
  ['num', 'numeric', '123456789012345678901234567890.123456789012345678901234567891', '123456789012345678901234567890.123456789012345678901234567891'],
  ['num_nan', 'numeric', `'NaN'`, 'NaN'],
  // biome-ignore lint/suspicious/noApproximativeNumericConstant: float4's text for pi, as Postgres prints it
  ['f4', 'float4', '3.1415927', 3.1415927],
  ['f8', 'float8', '0.30000000000000004', 0.30000000000000004],
  ['f8_nan', 'float8', `'NaN'`, 'NaN'],
  ['f8_inf', 'float8', `'Infinity'`, 'Infinity'],
  ['f8_ninf', 'float8', `'-Infinity'`, '-Infinity'],
  ['oid_col', 'oid', '4294967295', 4294967295],
  ['money_col', 'money', '1234.56', '$1,234.56'],
  ['bool_col', 'bool', 'true', true],
  ['text_col', 'text', `E'line\\nbreak, "quotes", \\\\ and ünïcødé 🎉'`, 'line\nbreak, "quotes", \\ and ünïcødé 🎉'],
  ['varchar_col', 'varchar(10)', `'short'`, 'short'],
  ['char_col', 'char(5)', `'ab'`, 'ab   '],
  ['uuid_col', 'uuid', `'6ba7b810-9dad-11d1-80b4-00c04fd430c8'`, '6ba7b810-9dad-11d1-80b4-00c04fd430c8'],
  ['json_col', 'json', `'{"b": 1, "a": [true, null, 1.5]}'`, { b: 1, a: [true, null, 1.5] }],
  ['jsonb_col', 'jsonb', `'{"nested": {"x": "y"}, "n": 12345678901234567890}'`, { n: 12345678901234567000, nested: { x: 'y' } }],
  ['date_col', 'date', `'2026-11-23'`, '2026-11-23'],
  ['date_bc', 'date', `'0044-03-15 BC'`, '0044-03-15 BC'],
  ['time_col', 'time', `'23:59:59.999999'`, '23:59:59.999999'],
  ['timetz_col', 'timetz', `'12:00:00.5+05:30'`, '12:00:00.500000+05:30'],
  ['ts_col', 'timestamp', `'2026-11-23 06:00:00.000001'`, '2026-11-23T06:00:00.000001'],
  ['tstz_col', 'timestamptz', `'2026-11-23 07:00:00.123456+01'`, '2026-11-23T06:00:00.123456Z'],
  ['tstz_inf', 'timestamptz', `'infinity'`, 'infinity'],
  ['tstz_ninf', 'timestamptz', `'-infinity'`, '-infinity'],
  ['interval_col', 'interval', `'1 year 2 mons 3 days 04:05:06.789'`, '1 year 2 mons 3 days 04:05:06.789'],
  ['bytea_col', 'bytea', `'\\x00ff10'::bytea`, Buffer.from([0, 255, 16]).toString('base64')],
  ['inet_col', 'inet', `'192.168.0.1/24'`, '192.168.0.1/24'],
  ['cidr_col', 'cidr', `'10.0.0.0/8'`, '10.0.0.0/8'],
  ['enum_col', 'mood', `'happy'`, 'happy'],
  ['domain_int', 'positive_int', '42', 42],
  ['domain_text', 'short_text', `'dom'`, 'dom'],
  ['point_col', 'point', `'(1.5,2)'`, '(1.5,2)'],
  ['int_array', 'int4[]', `'{1,NULL,3}'`, [1, null, 3]],
  [
    'int_matrix',
    'int4[][]',
    `'{{1,2},{3,NULL}}'`,
    [
      [1, 2],
      [3, null],
    ],
  ],
  ['text_array', 'text[]', `'{"a,b","NULL",NULL,"x\\"y"}'`, ['a,b', 'NULL', null, 'x"y']],
  ['numeric_array', 'numeric[]', `'{1.10,NaN}'`, ['1.10', 'NaN']],
  ['tstz_array', 'timestamptz[]', `'{"2026-11-23 06:00:00+00",NULL}'`, ['2026-11-23T06:00:00.000000Z', null]],
  ['bool_array', 'bool[]', `'{t,f,NULL}'`, [true, false, null]],
  ['jsonb_array', 'jsonb[]', `array['{"a":1}'::jsonb, null]`, [{ a: 1 }, null]],
  ['enum_array', 'mood[]', `'{sad,happy}'`, ['sad', 'happy']],
  [
    'domain_array',
    'positive_int[]',
    `'{{1,2},{3,4}}'`,
    [
      [1, 2],
      [3, 4],
    ],
  ],
  ['uuid_array', 'uuid[]', `'{6ba7b810-9dad-11d1-80b4-00c04fd430c8}'`, ['6ba7b810-9dad-11d1-80b4-00c04fd430c8']],
  ['null_col', 'int4', 'null', null],
];

/** The event's value as SQL text again: what a client would send back. */
function toSqlText(value: unknown, type: string): string | null {
  if (value === null) return null;
  if (Array.isArray(value)) {
    const element = (item: unknown): string => {
      if (item === null) return 'NULL';
      if (Array.isArray(item)) return `{${item.map(element).join(',')}}`;
      const text = typeof item === 'object' ? JSON.stringify(item) : String(item);
      return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    };
    return element(value);
  }
  if (type === 'bytea') return `\\x${Buffer.from(value as string, 'base64').toString('hex')}`;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

beforeAll(async () => {
  db = await createTestDatabase('types');
  await migrate(db.url);
  await db.sql.query(`
    create type mood as enum ('sad', 'ok', 'happy');
    create domain positive_int as int4 check (value > 0);
    create domain short_text as text check (length(value) < 100);
    create table typed (id int primary key, org_id text not null,
      ${CASES.map(([column, type]) => `${column} ${type}`).join(', ')});
    select walcast.expose('public.typed', tenant_column => 'org_id');
    create table docs (id int, org_id text not null, title text, body text, primary key (org_id, id));
    alter table docs alter column body set storage external;
    select walcast.expose('public.docs', tenant_column => 'org_id');
    create table docs_full (id int primary key, org_id text not null, title text, body text);
    alter table docs_full alter column body set storage external;
    alter table docs_full replica identity full;
    select walcast.expose('public.docs_full', tenant_column => 'org_id');`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

describe('values (DESIGN §3)', () => {
  it('carry every type exactly, and cast back to the stored value', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'typed' }));
    try {
      await db.sql.query(`insert into typed (id, org_id, ${CASES.map(([column]) => column).join(', ')})
                          values (1, 'acme', ${CASES.map(([, , literal]) => literal).join(', ')})`);
      const { data, raw } = await stream.next();
      const row = data['row'] as Record<string, unknown>;
      // JSON.parse rounds past 2^53; the wire carries every digit Postgres stored.
      expect(raw).toContain('"jsonb_col":{"n": 12345678901234567890, "nested": {"x": "y"}}');
      // The table for the README and notes, from the wire text (JSON.parse would round jsonb).
      const table: string[] = ['| type | stored | event value (as sent) |', '|---|---|---|'];
      CASES.forEach(([column, type, literal, expected], i) => {
        expect({ column, value: row[column] }).toEqual({ column, value: expected });
        const start = raw.indexOf(`"${column}":`) + column.length + 3;
        const next = CASES[i + 1];
        const sent = raw.slice(start, next ? raw.indexOf(`,"${next[0]}":`, start) : raw.indexOf('},"xid":', start));
        table.push(`| ${type} | \`${literal.replace(/\|/g, '\\|')}\` | \`${sent.replace(/\|/g, '\\|')}\` |`);
      });
      await mkdir('test-results', { recursive: true });
      await writeFile('test-results/type-table.md', `${table.join('\n')}\n`);

      for (const [column, type] of CASES) {
        if (type === 'jsonb') continue; // JSON.parse above rounded it; the raw text was checked
        const text = toSqlText(row[column], type);
        // json keeps its input's whitespace; compare it as jsonb, the value it stands for.
        const as = type === 'json' ? 'jsonb' : type;
        const { rows } = await db.sql.query<{ same: boolean }>(
          `select ${column}::${as}::text is not distinct from $1::${as}::text as same from typed where id = 1`,
          [text],
        );
        expect({ column, same: rows[0]!.same }).toEqual({ column, same: true });
      }
    } finally {
      stream.close();
    }
  });
});

describe('TOAST', () => {
  // Random base64 does not compress, so 20 kB stays out of line in the TOAST table.
  const big = randomBytes(15_000).toString('base64');

  it('omits an untouched large value and lists it as unchanged when the identity lacks it', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'docs' }));
    try {
      await db.sql.query(`insert into docs values (1, 'acme', 'first', $1)`, [big]);
      await db.sql.query(`update docs set title = 'second' where id = 1`);
      const [insert, update] = await stream.take(2);
      expect((insert!.data['row'] as Record<string, unknown>)['body']).toBe(big);
      const row = update!.data['row'] as Record<string, unknown>;
      expect(row).toEqual({ id: 1, org_id: 'acme', title: 'second' });
      expect(row).not.toHaveProperty('body');
      expect(update!.data['unchanged']).toEqual(['body']);
      // Without the old row, which columns changed is unknown: absent, never a guess.
      expect(update!.data).not.toHaveProperty('changed');
    } finally {
      stream.close();
    }
  });

  it('fills an untouched large value from the old row under REPLICA IDENTITY FULL', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'docs_full' }));
    try {
      await db.sql.query(`insert into docs_full values (1, 'acme', 'first', $1)`, [big]);
      await db.sql.query(`update docs_full set title = 'second' where id = 1`);
      await db.sql.query(`update docs_full set body = 'short now' where id = 1`);
      const [, update, shrink] = await stream.take(3);
      expect(update!.data).toMatchObject({ row: { title: 'second', body: big }, old: { title: 'first', body: big }, changed: ['title'], unchanged: [] });
      expect(shrink!.data).toMatchObject({ row: { body: 'short now' }, changed: ['body'] });
    } finally {
      stream.close();
    }
  });
});
