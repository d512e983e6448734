// `walcast doctor`: what must hold in the database for walcast to stream exactly and
// safely, each check with the SQL that fixes it. Read-only: it never changes anything
// itself. A printed fix changes only what it fixes: an exposure's other settings (hidden,
// writable, tenant and version columns) stay as they are.
import pg from 'pg';
import { appliedScripts, shippedScripts } from '../sql/migrate.js';

export type Severity = 'ok' | 'warn' | 'fail';

export interface Finding {
  readonly severity: Severity;
  readonly check: string;
  readonly detail: string;
  /** SQL (or a command) that fixes it. */
  readonly fix?: string;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

const lit = (text: string) => pg.escapeLiteral(text);

/** The publication checked, and its name as SQL (quoted only where SQL needs it). */
interface Publication {
  readonly name: string;
  readonly sql: string;
}

/** Retained WAL above which an inactive slot is called out even briefly after it stopped. */
const MEBIBYTE = 1024 * 1024;

async function serverSettings(db: Queryable): Promise<Finding[]> {
  const { rows } = await db.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings
      where name in ('wal_level', 'max_replication_slots', 'max_wal_senders', 'max_slot_wal_keep_size', 'server_version_num')`,
  );
  const setting = new Map(rows.map((row) => [row.name, row.setting]));
  const findings: Finding[] = [];
  const walLevel = setting.get('wal_level');
  findings.push(
    walLevel === 'logical'
      ? { severity: 'ok', check: 'wal_level', detail: 'logical' }
      : {
          severity: 'fail',
          check: 'wal_level',
          detail: `is ${walLevel}; logical decoding needs logical`,
          fix: 'ALTER SYSTEM SET wal_level = logical;  -- then restart Postgres',
        },
  );
  if (Number(setting.get('server_version_num')) < 150000) {
    findings.push({ severity: 'fail', check: 'server version', detail: `${setting.get('server_version_num')}: walcast supports PostgreSQL 15 and later` });
  }

  const slots = await db.query<{ used: number }>('select count(*)::int as used from pg_replication_slots');
  const senders = await db.query<{ used: number }>(`select count(*)::int as used from pg_stat_replication`);
  const maxSlots = Number(setting.get('max_replication_slots'));
  const maxSenders = Number(setting.get('max_wal_senders'));
  const usedSlots = slots.rows[0]!.used;
  findings.push(
    usedSlots < maxSlots
      ? { severity: 'ok', check: 'replication slots', detail: `${usedSlots} of ${maxSlots} in use` }
      : {
          severity: 'fail',
          check: 'replication slots',
          detail: `all ${maxSlots} in use: a new instance cannot create its slot`,
          fix: `ALTER SYSTEM SET max_replication_slots = ${maxSlots + 10};  -- then restart Postgres`,
        },
  );
  const usedSenders = senders.rows[0]!.used;
  findings.push(
    usedSenders < maxSenders
      ? { severity: 'ok', check: 'WAL senders', detail: `${usedSenders} of ${maxSenders} in use` }
      : {
          severity: 'fail',
          check: 'WAL senders',
          detail: `all ${maxSenders} in use: an instance cannot connect`,
          fix: `ALTER SYSTEM SET max_wal_senders = ${maxSenders + 10};  -- then restart Postgres`,
        },
  );
  if (setting.get('max_slot_wal_keep_size') === '-1') {
    findings.push({
      severity: 'warn',
      check: 'max_slot_wal_keep_size',
      detail: 'unlimited: a walcast instance that stays down keeps WAL until the disk fills',
      fix: "ALTER SYSTEM SET max_slot_wal_keep_size = '10GB';  SELECT pg_reload_conf();",
    });
  }
  return findings;
}

async function installation(db: Queryable, { name: publication, sql: publicationSql }: Publication): Promise<{ findings: Finding[]; installed: boolean }> {
  const findings: Finding[] = [];
  const schema = await db.query(`select 1 from pg_namespace where nspname = 'walcast'`);
  const installed = schema.rowCount !== 0;
  if (!installed) {
    findings.push({
      severity: 'fail',
      check: 'walcast schema',
      detail: 'not installed',
      fix: 'walcast migrate   # as the database owner; or psql -v ON_ERROR_STOP=1 -f each sql/NNN_*.sql in order',
    });
  } else {
    const applied = await appliedScripts(db);
    const pending = (await shippedScripts()).filter((script) => !applied.has(script));
    findings.push(
      pending.length === 0
        ? { severity: 'ok', check: 'walcast schema', detail: `installed, ${applied.size} scripts applied` }
        : { severity: 'fail', check: 'walcast schema', detail: `lacks ${pending.join(', ')}`, fix: 'walcast migrate   # as the owner of schema walcast' },
    );
  }
  const pub = await db.query<{ pubviaroot: boolean; puballtables: boolean; carries_config: boolean }>(
    `select p.pubviaroot, p.puballtables,
            exists (select 1 from pg_publication_tables pt
                     where pt.pubname = p.pubname and pt.schemaname = 'walcast' and pt.tablename = 'exposed_tables') as carries_config
       from pg_publication p where p.pubname = $1`,
    [publication],
  );
  const row = pub.rows[0];
  if (!row) {
    findings.push({
      severity: 'fail',
      check: 'publication',
      detail: `${publication} does not exist`,
      fix: `SELECT walcast.ensure_publication(${lit(publication)});`,
    });
  } else {
    findings.push({
      severity: 'ok',
      check: 'publication',
      detail: `${publication} exists${row.puballtables ? ' (FOR ALL TABLES: only exposed tables are streamed)' : ''}`,
    });
    if (installed && !row.carries_config) {
      findings.push({
        severity: 'fail',
        check: 'publication',
        detail: `${publication} does not publish walcast.exposed_tables: expose and conceal do not reach running servers`,
        fix: `SELECT walcast.ensure_publication(${lit(publication)});`,
      });
    }
    if (!row.pubviaroot) {
      findings.push({
        severity: 'warn',
        check: 'publication',
        detail: `${publication} publishes partitions under their own names`,
        fix: `ALTER PUBLICATION ${publicationSql} SET (publish_via_partition_root = true);`,
      });
    }
  }
  if (installed) {
    const triggers = await db.query<{ count: number }>(
      `select count(*)::int as count from pg_event_trigger where evtname in ('walcast_sql_drop', 'walcast_alter_table') and evtenabled <> 'D'`,
    );
    if (triggers.rows[0]!.count < 2) {
      findings.push({
        severity: 'warn',
        check: 'event triggers',
        detail: 'missing: renaming or dropping a column of an exposed table is not announced to running servers',
        fix: 'SELECT walcast.install_event_triggers();  -- as a superuser',
      });
    }
  }
  return { findings, installed };
}

interface ExposedRow {
  readonly relid: number;
  readonly name: string;
  readonly tenant: string | null;
  readonly version: string | null;
  readonly published: boolean;
  readonly has_trigger: boolean;
}

async function exposedTables(db: Queryable, { name: publication, sql: publicationSql }: Publication): Promise<Finding[]> {
  const findings: Finding[] = [];
  const { rows } = await db.query<ExposedRow>(
    `select e.relid::oid::int4 as relid, e.relid::text as name,
            (walcast.column_names(e.relid, array[e.tenant_attnum]))[1] as tenant,
            (walcast.column_names(e.relid, array[e.version_attnum]))[1] as version,
            exists (select 1 from pg_publication_tables pt
                      join pg_class c on c.oid = e.relid and c.relname = pt.tablename
                      join pg_namespace n on n.oid = c.relnamespace and n.nspname = pt.schemaname
                     where pt.pubname = e.publication) as published,
            exists (select 1 from pg_trigger t where t.tgrelid = e.relid and t.tgname = 'walcast_bump_version' and t.tgenabled <> 'D') as has_trigger
       from walcast.exposed_tables e
      where e.publication = $1
      order by 2`,
    [publication],
  );
  for (const table of rows) {
    const problems: Finding[] = [];
    if (!table.published) {
      problems.push({
        severity: 'fail',
        check: `table ${table.name}`,
        detail: `exposed but not in publication ${publication}: no events`,
        fix: `ALTER PUBLICATION ${publicationSql} ADD TABLE ${table.name};`,
      });
    }
    if (table.version && !table.has_trigger) {
      problems.push({
        severity: 'fail',
        check: `table ${table.name}`,
        detail: `version column ${table.version} is not bumped (trigger walcast_bump_version missing or disabled): edits cannot detect conflicts`,
        fix: `SELECT walcast.reexpose(${lit(table.name)});`,
      });
    }
    // Rows are decoded from the tables that hold them: for a partitioned table, each leaf.
    const leaves = await db.query<{ leaf: string; identity: string; columns: string[] | null }>(
      `select l.relid::regclass::text as leaf, c.relreplident as identity, walcast.identity_columns(l.relid) as columns
         from (select relid from pg_partition_tree($1::oid::regclass) where isleaf
               union select $1::oid::regclass where (select relkind from pg_class where oid = $1) = 'r') l
         join pg_class c on c.oid = l.relid`,
      [table.relid],
    );
    for (const leaf of leaves.rows) {
      if (leaf.identity === 'n' || leaf.columns === null) {
        problems.push({
          severity: 'fail',
          check: `table ${leaf.leaf}`,
          detail: "has no usable replica identity: the app's UPDATE and DELETE fail on a published table",
          fix: `ALTER TABLE ${leaf.leaf} REPLICA IDENTITY FULL;`,
        });
      } else if (table.tenant && !leaf.columns.includes(table.tenant)) {
        problems.push({
          severity: 'fail',
          check: `table ${leaf.leaf}`,
          detail: `its replica identity lacks the tenant column ${table.tenant}: deletes cannot be routed to their tenant`,
          fix: `ALTER TABLE ${leaf.leaf} REPLICA IDENTITY FULL;`,
        });
      }
    }
    findings.push(
      ...(problems.length > 0
        ? problems
        : [
            {
              severity: 'ok' as const,
              check: `table ${table.name}`,
              detail: `exposed${table.tenant ? `, tenant column ${table.tenant}` : ', every tenant reads it'}`,
            },
          ]),
    );
  }

  const listed = await db.query<{ name: string }>(
    `select format('%I.%I', pt.schemaname, pt.tablename) as name
       from pg_publication_tables pt join pg_publication p on p.pubname = pt.pubname
      where pt.pubname = $1 and not p.puballtables and pt.schemaname <> 'walcast'
        and not exists (select 1 from walcast.exposed_tables e
                          join pg_class c on c.oid = e.relid and c.relname = pt.tablename
                          join pg_namespace n on n.oid = c.relnamespace and n.nspname = pt.schemaname)
      order by 1`,
    [publication],
  );
  for (const { name } of listed.rows) {
    findings.push({
      severity: 'warn',
      check: `table ${name}`,
      detail: 'in the publication without walcast.expose(): it streams to nobody',
      fix: `ALTER PUBLICATION ${publicationSql} DROP TABLE ${name};  -- or expose it: SELECT walcast.expose(${lit(name)}, tenant_column => …);`,
    });
  }
  return findings;
}

/** Who can forge what, and whether walcast's servers run with more power than they need. */
async function trust(db: Queryable, installed: boolean, publication: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  const emit = await db.query<{ public_can: boolean }>(
    `select bool_or(has_function_privilege('public', p.oid, 'EXECUTE')) as public_can
       from pg_proc p where p.proname = 'pg_logical_emit_message' and p.pronamespace = 'pg_catalog'::regnamespace`,
  );
  findings.push({
    severity: 'ok',
    check: 'pg_logical_emit_message',
    detail: emit.rows[0]!.public_can
      ? 'every role can call it (PostgreSQL grants it to PUBLIC): walcast ignores walcast.config messages and drops walcast.presence messages without a valid MAC'
      : 'PUBLIC cannot call it',
  });

  // Who streams each walcast slot now: an instance should not need a superuser.
  const streaming = await db.query<{ slot_name: string; role: string; superuser: boolean }>(
    `select s.slot_name, a.usename as role, r.rolsuper as superuser
       from pg_replication_slots s
       join pg_stat_activity a on a.pid = s.active_pid
       join pg_roles r on r.oid = a.usesysid
      where s.slot_name like 'walcast\\_%' and s.database = current_database()
      order by s.slot_name`,
  );
  for (const slot of streaming.rows) {
    findings.push(
      slot.superuser
        ? {
            severity: 'warn',
            check: `server role`,
            detail: `slot ${slot.slot_name} is streamed by ${slot.role}, a superuser: a leaked credential of it is the whole cluster`,
            fix: `CREATE ROLE walcast_server LOGIN REPLICATION PASSWORD '…';  SELECT walcast.allow_server('walcast_server');  -- then serve as it with WALCAST_MIGRATE=false`,
          }
        : { severity: 'ok', check: 'server role', detail: `slot ${slot.slot_name} is streamed by ${slot.role}, not a superuser` },
    );
  }

  if (!installed) return findings;
  const servers = await db.query<{ role: string }>(`select r.rolname as role from walcast.server_roles s join pg_roles r on r.oid = s.role order by 1`);
  for (const { role } of servers.rows) {
    const missing = await db.query<{ privilege: string; object: string }>('select privilege, object from walcast.missing_privileges($1, $2)', [
      role,
      publication,
    ]);
    if (missing.rows.length === 0) {
      findings.push({ severity: 'ok', check: `server role ${role}`, detail: 'has every privilege walcast serve needs' });
      continue;
    }
    const lacks = missing.rows.map((row) => `${row.privilege} on ${row.object}`).join(', ');
    const replication = missing.rows.some((row) => row.privilege === 'REPLICATION');
    const grants = missing.rows.some((row) => row.privilege !== 'REPLICATION');
    findings.push({
      severity: 'fail',
      check: `server role ${role}`,
      detail: `lacks ${lacks}: walcast serve refuses to start as it`,
      fix: [
        ...(replication ? [`ALTER ROLE ${pg.escapeIdentifier(role)} REPLICATION;  -- as a superuser`] : []),
        ...(grants ? [`SELECT walcast.allow_server(${lit(role)});`] : []),
      ].join('  '),
    });
  }
  return findings;
}

async function slots(db: Queryable, orphanAfterSeconds: number): Promise<Finding[]> {
  const version = await db.query<{ version: number; instances: boolean }>(
    `select current_setting('server_version_num')::int as version, to_regclass('walcast.instances') is not null as instances`,
  );
  // PostgreSQL 17 records when a slot was last released.
  const inactiveSince = version.rows[0]!.version >= 170_000 ? `to_char(s.inactive_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')` : 'null';
  // Instances record themselves every few seconds (lifecycle/fleet): who a slot belongs to, and since when it is gone.
  const instance = version.rows[0]!.instances
    ? `left join walcast.instances i on i.slot_name = s.slot_name`
    : `left join (select null::name as slot_name, null::text as instance, null::timestamptz as seen_at) i on false`;
  const { rows } = await db.query<{
    slot_name: string;
    active: boolean;
    wal_status: string | null;
    lag: string | null;
    retained: string | null;
    inactive_since: string | null;
    instance: string | null;
    unseen: number | null;
  }>(
    `select s.slot_name, s.active, s.wal_status, ${inactiveSince} as inactive_since, i.instance,
            extract(epoch from now() - i.seen_at)::float8 as unseen,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::int8::text as lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::int8::text as retained
       from pg_replication_slots s ${instance}
      where s.slot_name like 'walcast\\_%' and s.slot_type = 'logical' and s.database = current_database()
      order by s.slot_name`,
  );
  if (rows.length === 0) return [{ severity: 'ok', check: 'walcast slots', detail: 'none yet (each instance creates its own on start)' }];
  return rows.map((slot): Finding => {
    const retained = Number(slot.retained ?? 0);
    const detail = `lag ${Number(slot.lag ?? 0)} bytes, retains ${(retained / MEBIBYTE).toFixed(1)} MiB of WAL`;
    if (slot.wal_status === 'lost') {
      return {
        severity: 'fail',
        check: `slot ${slot.slot_name}`,
        detail: `invalidated (WAL removed): its instance recreates it and sends reset`,
        fix: `SELECT pg_drop_replication_slot(${lit(slot.slot_name)});  -- if no instance uses it any more`,
      };
    }
    if (!slot.active && slot.instance !== null && slot.unseen !== null && slot.unseen <= orphanAfterSeconds + 60) {
      return {
        severity: 'warn',
        check: `slot ${slot.slot_name}`,
        detail: `instance ${slot.instance} last seen ${Math.round(slot.unseen)} s ago; a live instance drops its slot after WALCAST_SLOT_ORPHAN_AFTER (${orphanAfterSeconds} s): ${detail}`,
      };
    }
    if (!slot.active) {
      return {
        severity: 'fail',
        check: `slot ${slot.slot_name}`,
        detail: `orphaned: no instance streams it${slot.inactive_since ? ` (since ${slot.inactive_since})` : ''}${
          slot.instance === null
            ? ', and no instance records it, so walcast never drops it'
            : `, instance ${slot.instance} last seen ${Math.round(slot.unseen ?? 0)} s ago`
        }, pinning WAL: ${detail}`,
        fix: `SELECT pg_drop_replication_slot(${lit(slot.slot_name)});  -- if its instance is gone for good`,
      };
    }
    return { severity: 'ok', check: `slot ${slot.slot_name}`, detail: `active${slot.instance ? ` (instance ${slot.instance})` : ''}, ${detail}` };
  });
}

export async function diagnose(connectionString: string, publication: string, orphanAfterSeconds: number): Promise<Finding[]> {
  const db = new pg.Client({ connectionString });
  await db.connect();
  try {
    // Printed fixes should read like what a DBA would type: quoted only where needed.
    const quoted = await db.query<{ sql: string }>('select quote_ident($1) as sql', [publication]);
    const target: Publication = { name: publication, sql: quoted.rows[0]!.sql };
    const findings = await serverSettings(db);
    const { findings: install, installed } = await installation(db, target);
    findings.push(...install);
    if (installed) findings.push(...(await exposedTables(db, target)));
    findings.push(...(await trust(db, installed, publication)));
    findings.push(...(await slots(db, orphanAfterSeconds)));
    return findings;
  } finally {
    await db.end();
  }
}

const LABEL: Record<Severity, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export function formatFindings(findings: readonly Finding[]): string {
  const lines = findings.map((finding) => {
    const head = `${LABEL[finding.severity]}  ${finding.check}: ${finding.detail}`;
    return finding.fix ? `${head}\n      fix: ${finding.fix}` : head;
  });
  const failures = findings.filter((finding) => finding.severity === 'fail').length;
  const warnings = findings.filter((finding) => finding.severity === 'warn').length;
  lines.push(
    '',
    failures === 0
      ? `no problems found${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}`
      : `${failures} problem${failures > 1 ? 's' : ''} found`,
  );
  return `${lines.join('\n')}\n`;
}
