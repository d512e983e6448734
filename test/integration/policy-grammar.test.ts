// walcast.check_policy() (sql/004, plpgsql) re-implements the server's policy parser and
// checker so that a DBA's mistake is refused by expose() rather than by every server. The
// two must agree on every text: random policies (trees rendered as a DBA writes them, the
// same with random mutations, token soup, texts at each FILTER_LIMITS bound, columns of
// every type, hidden, oddly named and unknown ones) go to both, and Postgres must refuse
// exactly the texts the server's filter engine refuses (parse, check, then its literals
// read as their columns' types), with an error of the same kind.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalcastError } from '../../src/errors.js';
import { createFilterEngine, describeFilterColumns, type FilterColumn, type FilterEngine, type FilterNode } from '../../src/filters/index.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { nodeArb, rowArb, type InputRow } from '../support/filter-arbitraries.js';
import { COLUMN_SPECS, SCHEMA_SQL } from '../support/filter-columns.js';
import { filterTexts, itemText } from '../support/filter-text.js';

/** Beside filter-columns' table: hidden, nondeterministic, opaque and oddly named columns. */
const EXTRA_COLUMNS: readonly (readonly [string, string])[] = [
  ['sec ret', 'text'],
  ['caseless', 'text collate caseless'],
  ['not', 'int4'],
  ['or', 'boolean'],
  ['a=b', 'int4'],
  ['q"uote', 'numeric'],
  ['Mixed', 'date'],
  ['chr', '"char"'],
  ['nm', 'name'],
  ['iv', 'interval'],
];
const HIDDEN = ['sec ret', 'tx'];
const KNOWN = ['id', ...COLUMN_SPECS.map((spec) => spec.name), ...EXTRA_COLUMNS.map(([name]) => name)];
const NAMES = [...KNOWN, 'nope', 'I4', 'tx ', 'Tx', 'sec', '', 'é'];

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteItem = (name: string) => `"${name.replace(/[\\"]/g, (char) => `\\${char}`)}"`;

let db: TestDatabase;
let pool: pg.Pool;
let engine: FilterEngine;
let columns: FilterColumn[];

beforeAll(async () => {
  db = await createTestDatabase('policy_grammar');
  await migrate(db.url);
  await db.sql.query(`
    create collation caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    ${SCHEMA_SQL}
    alter table f ${EXTRA_COLUMNS.map(([name, type]) => `add column ${quoteIdent(name)} ${type}`).join(', ')};
    select walcast.expose('f', hidden_columns => array[${HIDDEN.map((name) => pg.escapeLiteral(name)).join(', ')}]);
    -- One verdict per text, in one round trip: null, or the SQLSTATE and message.
    create function pg_temp.policy_verdict(policy text) returns text language plpgsql as $$
    begin
      perform walcast.check_policy('f', policy);
      return null;
    exception when others then
      return sqlstate || ' ' || sqlerrm;
    end $$;`);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  engine = createFilterEngine(pool);
  const relid = await db.sql.query<{ oid: number }>(`select 'f'::regclass::oid::int4 as oid`);
  // Every column, hidden ones too: what a policy is checked against.
  columns = await describeFilterColumns(pool, relid.rows[0]!.oid);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

// ── texts ────────────────────────────────────────────────────────────────────────────

/** One policy text for a tree: as a DBA writes it, or with the tree inside a group. */
function policyText(node: FilterNode, grouped: boolean): string {
  if (grouped) return `or=(${itemText(node)})`;
  const texts = filterTexts(node);
  if (texts.length === 1) return texts[0]!;
  return `and=(${(node as Extract<FilterNode, { tag: 'and' }>).operands.map(itemText).join(',')})`;
}

const OPERATORS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is', 'like', 'EQ', 'e', '', 'not', 'cs', 'isnot'];
const SNIPPETS = ['(', ')', ',', '.', '"', '\\', '$', '=', ' ', 'not.', 'or(', 'and(', 'eq.', 'in.(', 'is.', '😀', 'é', 'x', '1', '$sub', '$claim.'];

interface Mutation {
  readonly kind: 'delete' | 'duplicate' | 'insert' | 'truncate' | 'operator' | 'column';
  readonly at: number;
  readonly pick: number;
  readonly quoted: boolean;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('delete', 'duplicate', 'insert', 'truncate', 'operator', 'column', 'column', 'column'),
  at: fc.nat(),
  pick: fc.nat(),
  quoted: fc.boolean(),
});

/** Where a condition's column stands: the top-level key, or an item's column before its `.`. */
function columnSlots(text: string): { start: number; end: number; top: boolean }[] {
  const slots: { start: number; end: number; top: boolean }[] = [];
  const equals = text.indexOf('=');
  if (equals > 0 && !/^(not\.)?(or|and)$/.test(text.slice(0, equals))) slots.push({ start: 0, end: equals, top: true });
  for (const match of text.matchAll(/(?:^|[(,]|not\.)("(?:[^"\\]|\\.)*"|[^.,()"=]+)(?=\.)/g)) {
    const end = match.index + match[0].length;
    slots.push({ start: end - match[1]!.length, end, top: false });
  }
  return slots;
}

function mutate(text: string, { kind, at, pick, quoted }: Mutation): string {
  const position = at % (text.length + 1);
  switch (kind) {
    case 'delete':
      return text.slice(0, position) + text.slice(position + 1);
    case 'duplicate':
      return text.slice(0, position) + text.slice(position, position + 1) + text.slice(position);
    case 'insert':
      return text.slice(0, position) + SNIPPETS[pick % SNIPPETS.length] + text.slice(position);
    case 'truncate':
      return text.slice(0, position);
    case 'operator': {
      const found = [...text.matchAll(/[.=](eq|neq|lt|lte|gt|gte|in|is)\./g)];
      if (found.length === 0) return text;
      const match = found[at % found.length]!;
      const start = match.index + 1;
      return text.slice(0, start) + OPERATORS[pick % OPERATORS.length] + text.slice(start + match[1]!.length);
    }
    case 'column': {
      const slots = columnSlots(text);
      if (slots.length === 0) return text;
      const slot = slots[at % slots.length]!;
      const name = NAMES[pick % NAMES.length]!;
      return text.slice(0, slot.start) + (quoted && !slot.top ? quoteItem(name) : name) + text.slice(slot.end);
    }
  }
}

const TOKENS = [
  'or=(',
  'and=(',
  'not.or=(',
  'not.and=(',
  'or(',
  'and(',
  'not.',
  'i4',
  'b',
  'tx',
  'e',
  'js',
  'nope',
  '"dotted.name"',
  'dotted.name',
  '"sec ret"',
  '"not"',
  '.',
  '.',
  ',',
  '(',
  ')',
  ')',
  '"',
  '\\',
  '=',
  'eq.',
  'neq.',
  'lt.',
  'gte.',
  'in.',
  'is.',
  'in.(',
  'null',
  'true',
  'unknown',
  '1',
  '-2.5',
  'x',
  'sad',
  '2026-01-01',
  '$sub',
  '$claim.c1',
  '$claim.',
  '$x',
  ' ',
  'é',
  '😀',
];
const soupArb = fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 24 }).map((parts) => parts.join(''));

const repeat = (count: number, item: string) => Array.from({ length: count }, () => item).join(',');
const numbers = (count: number) => Array.from({ length: count }, (_, i) => i).join(',');

/** Texts on either side of each FILTER_LIMITS bound. */
const boundArb = fc.oneof(
  fc.integer({ min: 5, max: 9 }).map((depth) => `or=(${'or('.repeat(depth)}b.is.true${')'.repeat(depth + 1)})`),
  fc.integer({ min: 60, max: 68 }).map((count) => `or=(${repeat(count, 'b.is.true')})`),
  fc.integer({ min: 96, max: 104 }).map((count) => `i4=in.(${numbers(count)})`),
  fc.integer({ min: 250, max: 262 }).map((count) => `or=(i4.in.(${numbers(100)}),i4.in.(${numbers(100)}),i4.in.(${numbers(count - 200)}))`),
  fc.integer({ min: 8185, max: 8199 }).map((length) => `tx=eq.${'x'.repeat(length - 'tx=eq.'.length)}`),
  fc.integer({ min: 4088, max: 4097 }).map((count) => `tx=eq.${'😀'.repeat(count)}`),
  // 1eN reads as N + 1 digits: the sum passes 16,384 or not.
  fc.integer({ min: 8370, max: 8395 }).map((exponent) => `or=(num.eq.1e8000,num.gt.1e${exponent})`),
);

/** Postgres stores no NUL and no half of a surrogate pair. */
function storable(text: string): string {
  return text.replaceAll('\u0000', '').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '?');
}

/** Conditions of any operator on any column with values of many types: the operator and literal rules. */
const VALUES = [
  '1',
  '-7',
  '2.5',
  '1e3',
  '2026-01-01',
  '12:00',
  'sad',
  't',
  'yes',
  'abc',
  '',
  '"x,y"',
  '"$x"',
  '(1,2)',
  '("a",$sub)',
  '$sub',
  '$claim.c1',
  'null',
  'true',
  'unknown',
  '\\x00',
  '10.0.0.1',
  '{}',
  '1 day',
];
const conditionArb = fc
  .tuple(fc.constantFrom(...NAMES), fc.boolean(), fc.constantFrom(...OPERATORS.slice(0, 8), ...OPERATORS.slice(0, 8), 'like'), fc.constantFrom(...VALUES))
  .map(([name, quoted, operator, value]) => ({ name, quoted, condition: `${operator}.${value}` }));
const typedArb = fc.oneof(
  conditionArb.map(({ name, condition }) => `${name}=${condition}`),
  fc
    .tuple(fc.constantFrom('or', 'and'), fc.array(conditionArb, { minLength: 1, maxLength: 4 }))
    .map(([group, items]) => `${group}=(${items.map(({ name, quoted, condition }) => `${quoted ? quoteItem(name) : name}.${condition}`).join(',')})`),
);

function textArb(rows: readonly InputRow[]): fc.Arbitrary<string> {
  const tree = fc.tuple(nodeArb(rows, 3), fc.boolean()).map(([node, grouped]) => policyText(node, grouped));
  const mutated = fc.tuple(tree, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([text, mutations]) => mutations.reduce(mutate, text));
  return fc
    .oneof(
      { weight: 4, arbitrary: tree },
      { weight: 6, arbitrary: mutated },
      { weight: 3, arbitrary: typedArb },
      { weight: 2, arbitrary: soupArb },
      { weight: 1, arbitrary: boundArb },
    )
    .map(storable);
}

const batchArb = fc.array(rowArb, { minLength: 2, maxLength: 6 }).chain((rows) => fc.array(textArb(rows), { minLength: 150, maxLength: 250 }));

// ── both sides ───────────────────────────────────────────────────────────────────────

type Kind = 'accepted' | 'malformed' | 'bound' | 'unknown column' | 'operator' | 'literal';

/** What a refusal says is wrong, from the words both sides use. */
function kindOf(message: string | null): Kind {
  if (message === null) return 'accepted';
  const text = message.replace(/^[0-9A-Z]{5} /, '');
  if (/^policy: (at most |groups nest at most |in\.\(…\) takes at most |the values are longer than )/.test(text)) return 'bound';
  if (/^policy: (public\.)?f has no column /.test(text)) return 'unknown column';
  if (/^policy: (\w+ needs an ordered type|is\.\w+ needs a boolean column|[\s\S]* cannot be compared; only is\.null works on it$)/.test(text))
    return 'operator';
  if (/^policy: [\s\S]* cannot take /.test(text)) return 'literal';
  return 'malformed';
}

async function serverVerdict(text: string): Promise<string | null> {
  try {
    await engine.prepare([text], columns, { table: 'public.f', label: 'policy' });
    return null;
  } catch (error) {
    // Anything but a refusal (a 500 where a 400 belongs) fails the test here.
    if (error instanceof WalcastError) return error.message;
    throw error;
  }
}

async function sqlVerdicts(texts: readonly string[]): Promise<(string | null)[]> {
  const { rows } = await db.sql.query<{ verdict: string | null }>(
    'select pg_temp.policy_verdict(t) as verdict from unnest($1::text[]) with ordinality as u(t, i) order by i',
    [texts],
  );
  return rows.map((row) => row.verdict);
}

describe("walcast.check_policy, differentially against the server's parser and checker", () => {
  it('accepts exactly the policies the server accepts, and refuses the others for the same kind of reason', async () => {
    const seed = Number(process.env['WALCAST_POLICY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const kinds = new Map<Kind, number>();
    const disagreements: { text: string; sql: string | null; server: string | null }[] = [];
    let texts = 0;
    const started = performance.now();
    // The disagreeing texts themselves are the report (a batch holds hundreds): no shrinking.
    const run = await fc.check(
      fc.asyncProperty(batchArb, async (batch) => {
        const [sql, server] = await Promise.all([sqlVerdicts(batch), Promise.all(batch.map(serverVerdict))]);
        batch.forEach((text, i) => {
          if (kindOf(sql[i]!) !== kindOf(server[i]!))
            disagreements.push({ text: text.length > 300 ? `${text.slice(0, 300)}…` : text, sql: sql[i]!, server: server[i]! });
          kinds.set(kindOf(server[i]!), (kinds.get(kindOf(server[i]!)) ?? 0) + 1);
        });
        texts += batch.length;
        return disagreements.length === 0;
      }),
      { numRuns: Number(process.env['WALCAST_POLICY_RUNS'] ?? 20), seed, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    const tally = [...kinds.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ');
    console.log(
      `policy grammar differential (seed ${seed}): ${texts} texts in ${seconds.toFixed(1)} s, ${disagreements.length} verdicts differ; the server's: ${tally}`,
    );
    expect(disagreements, `seed ${seed} (WALCAST_POLICY_SEED replays it)`).toEqual([]);
    // Otherwise a side threw instead of answering (a server error that is no refusal, a lost connection).
    expect(run.errorInstance ?? null, `seed ${seed}`).toBeNull();
    expect(texts).toBeGreaterThan(2000);
    // Every kind of verdict was reached, none only by a handful of texts.
    for (const kind of ['accepted', 'malformed', 'bound', 'unknown column', 'operator', 'literal'] as const) {
      expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(texts / 100);
    }
  }, 180_000);
});
