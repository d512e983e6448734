// What the database offers the role walcast serves as: the schema and the scripts it has
// applied, the publication, and the privileges the role lacks (walcast.missing_privileges,
// sql/002, which knows what serving needs). Read before anything starts.
import type pg from 'pg';
import { appliedScripts } from './migrate.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

const INSUFFICIENT_PRIVILEGE = '42501';

export interface MissingPrivilege {
  /** `SELECT`, `UPDATE (title)`, `REPLICATION`, … */
  readonly privilege: string;
  /** `public.todos`, `schema walcast`, `function walcast.key_columns(regclass)`, `role app` */
  readonly object: string;
  /** Needed only to write (edits, presence, idempotency keys): not on a standby. */
  readonly forWrites: boolean;
}

export interface ServerSetup {
  readonly role: string;
  readonly database: string;
  readonly installed: boolean;
  /** Scripts applied; undefined when the role cannot read the record. */
  readonly applied: ReadonlySet<string> | undefined;
  readonly publication: { readonly exists: boolean; readonly carriesConfig: boolean };
  readonly missing: readonly MissingPrivilege[];
}

/** The scripts the database has applied, or undefined when this role may not read the record. */
export async function readableAppliedScripts(db: Queryable): Promise<Set<string> | undefined> {
  try {
    return await appliedScripts(db);
  } catch (error) {
    if ((error as { code?: string }).code === INSUFFICIENT_PRIVILEGE) return undefined;
    throw error;
  }
}

export async function readServerSetup(db: Queryable, publication: string): Promise<ServerSetup> {
  const { rows } = await db.query<{
    role: string;
    database: string;
    replication: boolean;
    installed: boolean;
    usage: boolean;
    can_check: boolean;
    pub_exists: boolean;
    carries_config: boolean;
  }>(
    `select current_user as role, current_database() as database,
            (select rolreplication or rolsuper from pg_roles where rolname = current_user) as replication,
            n.oid is not null as installed,
            coalesce(has_schema_privilege(n.oid, 'USAGE'), false) as usage,
            coalesce(has_schema_privilege(n.oid, 'USAGE') and has_function_privilege(f.oid, 'EXECUTE'), false) as can_check,
            p.oid is not null as pub_exists,
            coalesce(p.puballtables or exists (select 1 from pg_publication_tables pt
                                                where pt.pubname = p.pubname and pt.schemaname = 'walcast'
                                                  and pt.tablename = 'exposed_tables'), false) as carries_config
       from (select 1) one
       left join pg_namespace n on n.nspname = 'walcast'
       left join pg_proc f on f.pronamespace = n.oid and f.proname = 'missing_privileges'
       left join pg_publication p on p.pubname = $1`,
    [publication],
  );
  const facts = rows[0]!;
  const missing: MissingPrivilege[] = [];
  if (facts.can_check) {
    const found = await db.query<{ privilege: string; object: string; for_writes: boolean }>(
      'select privilege, object, for_writes from walcast.missing_privileges(current_user, $1)',
      [publication],
    );
    missing.push(...found.rows.map((row) => ({ privilege: row.privilege, object: row.object, forWrites: row.for_writes })));
  } else {
    if (!facts.replication) missing.push({ privilege: 'REPLICATION', object: `role ${facts.role}`, forWrites: false });
    if (facts.installed && !facts.usage) missing.push({ privilege: 'USAGE', object: 'schema walcast', forWrites: false });
    else if (facts.installed) missing.push({ privilege: 'EXECUTE', object: 'function walcast.missing_privileges(name, text)', forWrites: false });
  }
  return {
    role: facts.role,
    database: facts.database,
    installed: facts.installed,
    applied: facts.installed && facts.usage ? await readableAppliedScripts(db) : undefined,
    publication: { exists: facts.pub_exists, carriesConfig: facts.carries_config },
    missing,
  };
}
