// `walcast types` against a real schema: the printed module describes rows as walcast
// sends them, and compiles with tsc together with an app that uses it through
// createClient<Tables>(); a misuse of a typed row fails compilation.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
const TSC = path.resolve('node_modules/.bin/tsc');
const CLIENT = path.resolve('src/client/index.js');

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('typegen');
  await migrate(db.url);
  await db.sql.query(`
    create type mood as enum ('happy', 'sad', 'it''s complicated');
    create domain positive as int4 check (value > 0);
    create table todos (
      id          bigserial primary key,
      org_id      text not null,
      title       text not null,
      note        text,
      amount      numeric(12, 2) not null default 0,
      ratio       float8,
      rank        positive,
      done        boolean not null default false,
      mood        mood not null default 'happy',
      moods       mood[],
      tags        text[] not null default '{}',
      grid        int4[][],
      meta        jsonb,
      due         date,
      created_at  timestamptz not null default now(),
      secret      text,
      "Odd name"  text
    );
    select walcast.expose('todos', tenant_column => 'org_id', version_column => 'version', hidden_columns => '{secret}');
    create schema other_schema;
    create table other_schema.items (sku text primary key, price money not null, payload json);
    select walcast.expose('other_schema.items');
    create table not_exposed (id int primary key);`);
  dir = await mkdtemp(path.join(tmpdir(), 'walcast-types-'));
});

afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function types(args: string[] = []): Promise<string> {
  const cli = runCli(['types', ...args], { DATABASE_URL: db.url });
  const code = await cli.exited;
  if (code !== 0) throw new Error(`walcast types exited ${code}: ${cli.output}`);
  return cli.output;
}

/** tsc --noEmit over `files` in a strict project; resolves with its exit code and output. */
async function compile(files: Record<string, string>): Promise<{ code: number; output: string }> {
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        rootDir: '/',
        types: [],
        lib: ['es2022', 'dom'],
      },
      files: Object.keys(files),
    }),
  );
  try {
    const { stdout } = await run(TSC, ['-p', path.join(dir, 'tsconfig.json')]);
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: failed.stdout };
  }
}

const USAGE = `
import { createClient } from ${JSON.stringify(CLIENT)};
import type { Items, Tables, Todos } from './walcast-types.js';

const walcast = createClient<Tables>({ url: 'https://walcast.example.com', token: 't' });
const subscription = walcast.subscribe({ tables: ['todos', 'other_schema.items'] });
const todo: Todos = subscription.rows('todos')[0]!;
const id: string = todo.id;
const note: string | null = todo.note;
const amount: string = todo.amount;
const ratio: number | string | null = todo.ratio;
const rank: number | null = todo.rank;
const mood: 'happy' | 'sad' | "it's complicated" = todo.mood;
const moods: ('happy' | 'sad' | "it's complicated" | null)[] | null = todo.moods;
const tags: (string | null)[] = todo.tags;
const cell: number | null | undefined = todo.grid?.[0]?.[0];
const createdAt: string = todo.created_at;
const version: string = todo.version;
const odd: string | null = todo['Odd name'];
const item: Items = subscription.rows('other_schema.items')[0]!;
const price: string = item.price;
void subscription.insert('todos', { title: 'typed' });
void [id, note, amount, ratio, rank, mood, moods, tags, cell, createdAt, version, odd, price, todo.meta, item.payload];

// @ts-expect-error a hidden column is not in the row
void todo.secret;
// @ts-expect-error numeric arrives as a string
const asNumber: number = todo.amount;
// @ts-expect-error a nullable column may be null
const noteText: string = todo.note;
// @ts-expect-error not a label of the enum
const notAMood: Todos['mood'] = 'angry';
// @ts-expect-error not a table of this subscription
subscription.rows('labels');
// @ts-expect-error a title is text
void subscription.insert('todos', { title: 42 });
void [asNumber, noteText, notAMood];
`;

describe('walcast types', () => {
  it('prints one interface per exposed table and a Tables map, as walcast sends rows', async () => {
    const printed = await types();
    expect(printed).toContain(`export interface Todos {
  id: string;
  org_id: string;
  title: string;
  note: string | null;
  amount: string;
  ratio: number | 'NaN' | 'Infinity' | '-Infinity' | null;
  rank: number | null;
  done: boolean;
  mood: "happy" | "sad" | "it's complicated";
  moods: ("happy" | "sad" | "it's complicated" | null)[] | null;
  tags: (string | null)[];
  grid: ((number | null)[] | null)[] | null;
  meta: JsonValue | null;
  due: string | null;
  created_at: string;
  "Odd name": string | null;
  version: string;
}`);
    expect(printed).toContain(`/** other_schema.items */
export interface OtherSchemaItems {
  sku: string;
  price: string;
  payload: JsonValue | null;
}`);
    expect(printed).toContain(`export interface Tables {
  "other_schema.items": OtherSchemaItems;
  todos: Todos;
}`);
    expect(printed).not.toContain('secret');
    expect(printed).not.toContain('not_exposed');
    expect(await types(['--table', 'other_schema.items'])).not.toContain('interface Todos');
  });

  it('compiles with an app that uses it, and a misuse of a row fails to compile', async () => {
    const printed = (await types()).replace('export interface OtherSchemaItems', 'export type Items = OtherSchemaItems;\nexport interface OtherSchemaItems');
    const good = await compile({ 'walcast-types.ts': printed, 'app.ts': USAGE });
    expect(good.output).toBe('');
    expect(good.code).toBe(0);
    const bad = await compile({
      'walcast-types.ts': printed,
      'app.ts': `${USAGE}\nconst wrong: number = subscription.rows('todos')[0]!.title;\nvoid wrong;\n`,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain("Type 'string' is not assignable to type 'number'");
  }, 60_000);
});
