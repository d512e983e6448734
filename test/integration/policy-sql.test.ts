// Row policies on the SQL side (DESIGN §10, sql/004): what a DBA sees when exposing a table
// with `policy` and `set_on_insert`. Valid policies of every form reach the exposure JSON
// servers read; every mistake is an SQL error that names it; renames keep a policy
// working, and DDL that would break it is refused; reexpose() keeps both settings; the
// server role may insert the columns set on insert; upgrading from 003 keeps exposures.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SQL_DIR } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createRole, type TestRole } from '../support/roles.js';

let db: TestDatabase;
let server: TestRole;

beforeAll(async () => {
  db = await createTestDatabase('policy_sql');
  await migrate(db.url);
  server = await createRole('policy_server', 'replication');
  await db.sql.query(`
    create type stage as enum ('draft', 'review', 'final');
    create collation caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    create table docs (id int primary key, org_id text not null, owner_id text, shared boolean, team_id int,
                       price numeric, due date, stage stage, code char(3), ref uuid, body jsonb, labels text[],
                       nick text collate caseless, secret text, title text);
    select walcast.allow_server(${pg.escapeLiteral(server.name)});`);
});

afterAll(async () => {
  await db?.drop();
  await server?.drop();
});

interface Refusal {
  readonly code: string;
  readonly message: string;
}

/** The SQL error a statement ends with (its transaction rolled back), or undefined if it succeeds. */
async function refusal(text: string, values: unknown[] = []): Promise<Refusal | undefined> {
  await db.sql.query('begin');
  try {
    await db.sql.query(text, values);
    await db.sql.query('commit');
    return undefined;
  } catch (error) {
    await db.sql.query('rollback');
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  }
}

async function exposeDocs(policy: string | null, setOnInsert: object | null = null, writable: string[] | null = null): Promise<Record<string, unknown>> {
  const { rows } = await db.sql.query(
    `select walcast.expose('docs', tenant_column => 'org_id', version_column => 'version', hidden_columns => '{secret}',
                           writable_columns => $3, policy => $1, set_on_insert => $2) as exposure`,
    [policy, setOnInsert === null ? null : JSON.stringify(setOnInsert), writable],
  );
  return rows[0].exposure as Record<string, unknown>;
}

async function storedExposure(table = 'docs'): Promise<Record<string, unknown>> {
  const { rows } = await db.sql.query(`select e.exposure, walcast.exposure_of(e) as now from walcast.exposed_tables e where e.relid = $1::regclass`, [table]);
  expect(rows[0].now).toEqual(rows[0].exposure);
  return rows[0].exposure as Record<string, unknown>;
}

describe('walcast.expose(…, policy, set_on_insert)', () => {
  // One per operator and form of DESIGN §10 (and parse-filter.ts's grammar).
  const VALID = [
    'or=(owner_id.eq.$sub,shared.is.true,team_id.in.$claim.teams)',
    'owner_id=eq.$sub',
    'team_id=neq.7',
    'price=lt.10.5',
    'price=lte.1e3',
    'due=gt.2026-01-01',
    'due=gte.infinity',
    'team_id=in.(1,2,3)',
    'stage=in.(draft,"review",$claim.stage)',
    'owner_id=in.$claim.members',
    'body=is.null',
    'shared=is.false',
    'shared=is.unknown',
    'team_id=not.eq.3',
    'and=(team_id.not.in.(4,5),not.shared.is.true,code.eq."ab ")',
    'not.or=(owner_id.eq.$sub,shared.is.true)',
    'not.and=(team_id.gt.1,team_id.lt.9)',
    'or=(and(owner_id.eq.$sub,not.or(stage.eq.final,due.lte.2026-12-31)),shared.is.true)',
    'or=(title.eq."a, (quoted) \\"title\\" \\\\ here",title.eq."$sub",ref.gte.00000000-0000-0000-0000-000000000000)',
    'secret=eq.$claim.secret',
    'version=gte.1',
    'nick=is.null',
  ];

  it.each(VALID)('takes %s: the exposure servers read carries it as written', async (policy) => {
    const exposure = await exposeDocs(policy, { owner_id: '$sub', title: '$claim.name' });
    expect(exposure).toMatchObject({ policy, setOnInsert: { owner_id: '$sub', title: '$claim.name' } });
    expect(await storedExposure()).toEqual(exposure);
  });

  it('without them the exposure says null, as for a table exposed before 004', async () => {
    const exposure = await exposeDocs(null);
    expect(exposure).toMatchObject({ policy: null, setOnInsert: null });
    // The six-parameter calls of 002 still resolve, by name and by position.
    await db.sql.query(`create table plain (id int primary key, org_id text)`);
    expect((await db.sql.query(`select walcast.expose('plain', 'org_id', null, '{}', null, 'walcast') as e`)).rows[0].e).toMatchObject({
      policy: null,
      setOnInsert: null,
    });
    expect((await db.sql.query(`select walcast.expose('plain', tenant_column => 'org_id') as e`)).rows[0].e).toMatchObject({
      tenantColumn: 'org_id',
      policy: null,
    });
    expect(await refusal(`select walcast.expose('plain', 'org_id', null, '{}', null, 'walcast', 'id=gt.0', '{"org_id":"$sub"}')`)).toMatchObject({
      code: '22023',
    });
    expect((await db.sql.query(`select walcast.expose('plain', 'org_id', null, '{}', null, 'walcast', 'id=gt.0', '{}') as e`)).rows[0].e).toMatchObject({
      policy: 'id=gt.0',
      setOnInsert: null,
    });
    await db.sql.query(`select walcast.conceal('plain')`);
  });

  // [policy, SQLSTATE, what the message must say]
  const MISTAKES: [string, string, RegExp][] = [
    ['', '22023', /policy: "" is not column=operator\.value/],
    ['owner_id.eq.$sub', '22023', /is not column=operator\.value/],
    ['or=(owner_id.eq.$sub', '22023', /or\(…\) items are separated by commas and closed by \)/],
    ['or=(owner_id.eq.$sub))', '22023', /unexpected text after the closing parenthesis of or=\(…\)/],
    ['or=(owner_id.eq."open)', '22023', /unterminated quote/],
    ['or=(owner_id.eq.a(b)', '22023', /a value holding , \( \) or " is written in double quotes/],
    ['owner_id=like.a*', '22023', /unknown operator in "like\.a\*"/],
    ['or=(owner_id.like.x)', '22023', /unknown operator in "like\."/],
    ['owner_id=eq', '22023', /eq needs a value: eq\.value/],
    ['shared=is.maybe', '22023', /is\. takes null, true, false or unknown/],
    ['team_id=in.1,2', '22023', /in\. takes a list in parentheses/],
    ['team_id=in.()', '22023', /in\.\(…\) takes 1 to 100 values/],
    ['owner_id=eq.$user', '22023', /"\$user" is neither \$sub nor \$claim\.NAME/],
    ['owner_id=eq.$claim.', '22023', /neither \$sub nor \$claim\.NAME/],
    ['nobody=eq.1', '42703', /policy: public\.docs has no column "nobody"/],
    ['or=(shared.is.true,"Owner_id".eq.$sub)', '42703', /has no column "Owner_id"/],
    ['owner_id=gt.m', '42883', /gt needs an ordered type .* owner_id \(text\) supports eq, neq, in and is/],
    ['stage=lte.final', '42883', /lte needs an ordered type .* stage \(public\.stage\)/],
    ['body=eq.{}', '42883', /body \(jsonb\) cannot be compared; only is\.null works on it/],
    ['labels=in.$claim.labels', '42883', /labels \(text\[\]\) cannot be compared/],
    ['nick=eq.ann', '42883', /nick \(text\) cannot be compared/],
    ['team_id=is.true', '42883', /is\.true needs a boolean column; team_id is not/],
    ['team_id=eq.seven', '22P02', /policy: team_id cannot take "seven": invalid input syntax for type integer/],
    ['team_id=eq.99999999999', '22003', /policy: team_id cannot take "99999999999": .*out of range/],
    ['due=lt.2026-02-30', '22008', /policy: due cannot take "2026-02-30"/],
    ['stage=eq.published', '22P02', /policy: stage cannot take "published": invalid input value for enum/],
    ['ref=in.(00000000-0000-0000-0000-000000000000,nope)', '22P02', /policy: ref cannot take "nope"/],
    [`or=(${'or('.repeat(8)}shared.is.true${')'.repeat(9)}`, '54000', /groups nest at most 8 deep/],
    [`or=(${Array.from({ length: 65 }, () => 'shared.is.true').join(',')})`, '54000', /at most 64 conditions/],
    [`team_id=in.(${Array.from({ length: 101 }, (_, i) => i).join(',')})`, '54000', /in\.\(…\) takes at most 100 values/],
    [`or=(${Array.from({ length: 3 }, () => `team_id.in.(${Array.from({ length: 90 }, (_, i) => i).join(',')})`).join(',')})`, '54000', /at most 256 values/],
    [`title=eq.${'x'.repeat(8192)}`, '54000', /at most 8192 characters/],
    [`title=eq.${'😀'.repeat(4094)}`, '54000', /at most 8192 characters/],
    ['or=(price.eq.1e8000,price.eq.1e8000,price.eq.1e500)', '54000', /values are longer than 16384 characters once Postgres reads them/],
  ];

  // Named by their first 60 characters: some are 8 kB long.
  const named = MISTAKES.map(([policy, code, message]) => [policy.length > 60 ? `${policy.slice(0, 60)}…` : policy, code, policy, message] as const);

  it.each(named)('refuses %j with SQLSTATE %s, naming the problem', async (_name, code, policy, message) => {
    const before = await storedExposure();
    const refused = await refusal(
      `select walcast.expose('docs', tenant_column => 'org_id', version_column => 'version', hidden_columns => '{secret}', policy => $1)`,
      [policy],
    );
    expect(refused).toMatchObject({ code });
    expect(refused!.message).toMatch(message);
    expect(await storedExposure()).toEqual(before);
    // walcast.check_policy() is the same check, for a DBA to try a policy first.
    expect(await refusal(`select walcast.check_policy('docs', $1)`, [policy])).toEqual(refused);
  });

  it('takes a policy right at each bound', async () => {
    for (const policy of [
      `or=(${'or('.repeat(7)}shared.is.true${')'.repeat(8)}`,
      `or=(${Array.from({ length: 64 }, () => 'shared.is.true').join(',')})`,
      `team_id=in.(${Array.from({ length: 100 }, (_, i) => i).join(',')})`,
      `title=eq.${'x'.repeat(8192 - 'title=eq.'.length)}`,
      `title=eq.x${'😀'.repeat((8192 - 'title=eq.x'.length) / 2)}`,
      'or=(price.eq.1e8000,price.eq.1e8000,price.eq.1e380)',
    ]) {
      expect(await refusal(`select walcast.check_policy('docs', $1)`, [policy]), policy.slice(0, 60)).toBeUndefined();
    }
  });

  // [set_on_insert, writable columns, SQLSTATE, what the message must say]
  const BAD_INSERTS: [unknown, string[] | null, string, RegExp][] = [
    [{ nobody: '$sub' }, null, '42703', /table public\.docs has no column nobody/],
    [{ owner_id: 'sub' }, null, '22023', /set_on_insert: column owner_id takes "\$sub" or "\$claim\.NAME", not "sub"/],
    [{ owner_id: '$claim.' }, null, '22023', /column owner_id takes/],
    [{ owner_id: 42 }, null, '22023', /column owner_id takes "\$sub" or "\$claim\.NAME", not 42/],
    [{ owner_id: ['$sub'] }, null, '22023', /column owner_id takes/],
    [{ org_id: '$sub' }, null, '22023', /set_on_insert: org_id is the tenant column/],
    [{ version: '$sub' }, null, '22023', /set_on_insert: version is the version column/],
    [{ owner_id: '$sub' }, ['title', 'owner_id'], '22023', /set_on_insert: owner_id is also writable/],
    [['owner_id'], null, '22023', /set_on_insert is a JSON object of columns/],
    ['$sub', null, '22023', /set_on_insert is a JSON object of columns/],
  ];

  it.each(BAD_INSERTS)('refuses set_on_insert %j (writable %j) with SQLSTATE %s, naming it', async (setOnInsert, writable, code, message) => {
    const refused = await refusal(
      `select walcast.expose('docs', tenant_column => 'org_id', version_column => 'version', writable_columns => $2, set_on_insert => $1)`,
      [JSON.stringify(setOnInsert), writable],
    );
    expect(refused).toMatchObject({ code });
    expect(refused!.message).toMatch(message);
  });

  it('refuses to set a generated column on insert', async () => {
    await db.sql.query(`create table gen (id int primary key, org_id text, doubled int generated always as (id * 2) stored,
                                          serial_id int generated always as identity)`);
    for (const column of ['doubled', 'serial_id']) {
      const refused = await refusal(`select walcast.expose('gen', tenant_column => 'org_id', set_on_insert => $1)`, [JSON.stringify({ [column]: '$sub' })]);
      expect(refused).toMatchObject({ code: '428C9' });
      expect(refused!.message).toMatch(new RegExp(`set_on_insert: ${column} is generated`));
    }
  });
});

describe('the policy and set_on_insert over time', () => {
  it('exposing again with another policy changes the exposure row, in the publication servers stream', async () => {
    await exposeDocs('owner_id=eq.$sub', { owner_id: '$sub' });
    await db.sql.query(`select pg_create_logical_replication_slot('policy_sql_watch', 'pgoutput')`);
    // The test server runs with synchronous_commit off, and a slot is read up to the WAL flushed.
    await db.sql.query('set synchronous_commit = on');
    try {
      await exposeDocs('or=(owner_id.eq.$sub,shared.is.true)', { owner_id: '$sub' });
      expect(await storedExposure()).toMatchObject({ policy: 'or=(owner_id.eq.$sub,shared.is.true)' });
      const { rows } = await db.sql.query<{ data: Buffer }>(
        `select data from pg_logical_slot_get_binary_changes('policy_sql_watch', null, null, 'proto_version', '1', 'publication_names', 'walcast')`,
      );
      const wal = Buffer.concat(rows.map((row) => row.data)).toString('utf8');
      expect(wal).toContain('"policy": "or=(owner_id.eq.$sub,shared.is.true)"');
    } finally {
      await db.sql.query('reset synchronous_commit');
      await db.sql.query(`select pg_drop_replication_slot('policy_sql_watch')`);
    }
  });

  it('gives server roles INSERT on the columns set on insert, hidden ones too, and UPDATE on none of them', async () => {
    await exposeDocs('owner_id=eq.$sub', { owner_id: '$sub', secret: '$claim.secret' });
    const grants = await db.sql.query<{ privilege: string; column_name: string }>(
      `select privilege, column_name from walcast.table_privileges('docs') where kind = 'column' order by 1, 2`,
    );
    const columns = (privilege: string) => grants.rows.filter((row) => row.privilege === privilege).map((row) => row.column_name);
    expect(columns('INSERT')).toEqual(expect.arrayContaining(['owner_id', 'secret', 'org_id', 'title']));
    expect(columns('UPDATE')).not.toContain('owner_id');
    expect(columns('UPDATE')).not.toContain('secret');
    expect(columns('UPDATE')).toEqual(expect.arrayContaining(['title', 'version']));
    const role = server.name;
    const has = await db.sql.query(
      `select has_column_privilege($1, 'docs', 'secret', 'INSERT') as secret, has_column_privilege($1, 'docs', 'owner_id', 'INSERT') as owner,
              has_column_privilege($1, 'docs', 'owner_id', 'UPDATE') as owner_update,
              (select count(*)::int from walcast.missing_privileges($1)) as missing`,
      [role],
    );
    expect(has.rows[0]).toEqual({ secret: true, owner: true, owner_update: false, missing: 0 });
  });

  it('follows renamed columns: the policy text takes the new name, quoted where it must be; set_on_insert too', async () => {
    await db.sql.query(`create table notes (id int primary key, org_id text, author text, body text, stars int)`);
    await db.sql.query(`select walcast.expose('notes', tenant_column => 'org_id', policy => 'or=(author.eq.$sub,not.stars.lt.3)',
                                              set_on_insert => '{"author":"$sub"}')`);
    await db.sql.query(`alter table notes rename column author to "written by"`);
    expect(await storedExposure('notes')).toMatchObject({ policy: 'or=("written by".eq.$sub,not.stars.lt.3)', setOnInsert: { 'written by': '$sub' } });
    await db.sql.query(`alter table notes rename column "written by" to "a.\\"""`);
    expect(await storedExposure('notes')).toMatchObject({ policy: 'or=("a.\\\\\\"".eq.$sub,not.stars.lt.3)', setOnInsert: { 'a.\\"': '$sub' } });
    await db.sql.query(`alter table notes rename column "a.\\""" to writer; alter table notes rename column stars to rating`);
    expect(await storedExposure('notes')).toMatchObject({ policy: 'or=(writer.eq.$sub,not.rating.lt.3)', setOnInsert: { writer: '$sub' } });

    // At the top level a name ends at the first `=`: such a rename is refused, not half-done.
    await db.sql.query(`select walcast.expose('notes', tenant_column => 'org_id', policy => 'rating=gte.3')`);
    const refused = await refusal(`alter table notes rename column rating to "a=b"`);
    expect(refused).toMatchObject({ code: '22023' });
    expect(refused!.message).toMatch(/the policy of public\.notes names a=b at its top level, where a column name cannot hold "="/);
    await db.sql.query(`alter table notes rename column rating to "score (1-5)"`);
    expect(await storedExposure('notes')).toMatchObject({ policy: 'score (1-5)=gte.3' });
  });

  it('refuses DDL that would break a policy: a retype its literal or operator does not fit, dropping a column it or set_on_insert uses', async () => {
    await db.sql.query(`create table tickets (id int primary key, org_id text, level int, owner text, note text)`);
    await db.sql.query(`select walcast.expose('tickets', tenant_column => 'org_id', policy => 'and=(level.gt.2,owner.eq.$sub)',
                                              set_on_insert => '{"note":"$claim.note"}')`);
    const retyped = await refusal(`alter table tickets alter column level type text`);
    expect(retyped).toMatchObject({ code: '42883' });
    expect(retyped!.message).toMatch(/this ALTER TABLE would break the policy of public\.tickets: policy: gt needs an ordered type/);
    await db.sql.query(`alter table tickets alter column level type bigint`);
    await db.sql.query(`alter table tickets alter column owner type varchar(40)`);
    expect(await storedExposure('tickets')).toMatchObject({ policy: 'and=(level.gt.2,owner.eq.$sub)' });
    for (const [column, says] of [
      ['level', 'used by the policy'],
      ['owner', 'used by the policy'],
      ['note', 'set on insert'],
    ] as const) {
      const dropped = await refusal(`alter table tickets drop column ${column}`);
      expect(dropped).toMatchObject({ code: '2BP01' });
      expect(dropped!.message).toBe(`walcast: public.tickets.${column} is ${says} of an exposed table`);
    }
    await db.sql.query(`select walcast.expose('tickets', tenant_column => 'org_id', policy => 'owner=eq.$sub')`);
    await db.sql.query(`alter table tickets drop column level, drop column note`);
    expect(await storedExposure('tickets')).toMatchObject({ policy: 'owner=eq.$sub', setOnInsert: null });
  });

  it('reexpose() keeps a table without either as it was', async () => {
    await db.sql.query(`create table bare (id int primary key, org_id text, body text)`);
    const exposed = (await db.sql.query(`select walcast.expose('bare', tenant_column => 'org_id', version_column => 'version') as e`)).rows[0].e;
    expect(exposed).toMatchObject({ policy: null, setOnInsert: null });
    expect((await db.sql.query(`select walcast.reexpose('bare') as e`)).rows[0].e).toEqual(exposed);
    // JSON null sets nothing, as SQL null does; so does {}.
    for (const none of ['null', '{}']) {
      expect(
        (await db.sql.query(`select walcast.expose('bare', tenant_column => 'org_id', version_column => 'version', set_on_insert => $1) as e`, [none])).rows[0]
          .e,
      ).toEqual(exposed);
    }
  });

  it("reexpose() keeps both, under the columns' names now, also after renames the event triggers missed", async () => {
    await db.sql.query(`create table cards (id int primary key, org_id text, holder text, pan text)`);
    await db.sql.query(`select walcast.expose('cards', tenant_column => 'org_id', hidden_columns => '{pan}',
                                              policy => 'or=(holder.eq.$sub,pan.is.null)', set_on_insert => '{"holder":"$sub","pan":"$claim.pan"}')`);
    const before = await storedExposure('cards');
    expect((await db.sql.query(`select walcast.reexpose('cards') as e`)).rows[0].e).toEqual(before);
    await db.sql.query(`alter event trigger walcast_alter_table disable`);
    try {
      await db.sql.query(`alter table cards rename column holder to "card holder"`);
    } finally {
      await db.sql.query(`alter event trigger walcast_alter_table enable`);
    }
    // Not rewritten: the stored text still names holder, but by attnum it is still the same column.
    expect((await db.sql.query(`select policy from walcast.exposed_tables where relid = 'cards'::regclass`)).rows[0].policy).toBe(
      'or=(holder.eq.$sub,pan.is.null)',
    );
    expect((await db.sql.query(`select walcast.reexpose('cards') as e`)).rows[0].e).toEqual({
      ...before,
      policy: 'or=("card holder".eq.$sub,pan.is.null)',
      setOnInsert: { 'card holder': '$sub', pan: '$claim.pan' },
    });
  });

  it('keeps its functions from PUBLIC, each with a pinned search_path', async () => {
    const { rows } = await db.sql.query<{ fn: string; public: boolean; pinned: boolean }>(
      `select p.oid::regprocedure::text as fn,
              exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public,
              coalesce(array_to_string(p.proconfig, ',') like '%search_path=pg_catalog, pg_temp%', false) as pinned
         from pg_proc p where p.pronamespace = 'walcast'::regnamespace
          and p.proname in ('expose', 'reexpose', 'check_policy', 'parse_policy', 'policy_columns', 'policy_renamed', 'policy_raw',
                            'policy_quoted', 'policy_reference', 'policy_operand', 'policy_excerpt', 'utf16_length', 'exposure_of',
                            'table_privileges', 'on_sql_drop', 'on_alter_table')
        order by 1`,
    );
    expect(rows).toHaveLength(16);
    expect(rows.filter((row) => row.public || !row.pinned)).toEqual([]);
  });
});

describe('upgrading from 003', () => {
  it('keeps every exposure as it was, with no policy and nothing set on insert; 004 applies once', async () => {
    const old = await createTestDatabase('policy_sql_upgrade');
    try {
      const scripts = (await import('node:fs'))
        .readdirSync(SQL_DIR)
        .filter((name) => /^\d{3}_.*\.sql$/.test(name))
        .sort();
      expect(scripts.indexOf('004_row_policies.sql')).toBe(3);
      for (const script of scripts.slice(0, 3)) await old.sql.query(await readFile(`${SQL_DIR}${script}`, 'utf8'));
      await old.sql.query(`
        create table tasks (id serial primary key, org_id text not null, title text, secret text);
        select walcast.expose('tasks', tenant_column => 'org_id', version_column => 'version',
                              hidden_columns => '{secret}', writable_columns => '{title}');
        create table news (id serial primary key, headline text);
        select walcast.expose('news');`);
      const SETTINGS = `select e.relid::text as table, e.publication, e.tenant_attnum, e.version_attnum, e.hidden_attnums,
                               e.writable_attnums, e.previous_identities, e.exposure from walcast.exposed_tables e order by 1`;
      const before = (await old.sql.query(SETTINGS)).rows;
      expect((await migrate(old.url)).applied).toEqual(['004_row_policies.sql']);
      const after = (await old.sql.query(SETTINGS)).rows;
      expect(after).toEqual(before.map((row) => ({ ...row, exposure: { ...row.exposure, policy: null, setOnInsert: null } })));
      expect((await old.sql.query(`select policy, policy_attnums, set_on_insert from walcast.exposed_tables`)).rows).toEqual([
        { policy: null, policy_attnums: null, set_on_insert: null },
        { policy: null, policy_attnums: null, set_on_insert: null },
      ]);
      // Applied again by hand (psql -f): nothing changes.
      await old.sql.query(await readFile(`${SQL_DIR}004_row_policies.sql`, 'utf8'));
      expect((await old.sql.query(SETTINGS)).rows).toEqual(after);
      expect((await migrate(old.url)).applied).toEqual([]);
      // And the upgraded exposures take a policy.
      expect((await old.sql.query(`select walcast.expose('tasks', tenant_column => 'org_id', policy => 'title=eq.$sub') as e`)).rows[0].e).toMatchObject({
        policy: 'title=eq.$sub',
      });
    } finally {
      await old.drop();
    }
  });
});
