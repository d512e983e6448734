-- walcast schema, migration 002: configuration only the schema's owner can change.
--
-- How sql/ evolves (read this before adding a script):
--   * Scripts are `NNN_name.sql`, applied in order, each once; `walcast.migrations` records
--     each by file name. `walcast migrate` (and `walcast serve` with WALCAST_MIGRATE=true)
--     runs every script not yet recorded in a transaction of its own, under an advisory lock.
--   * A script a release shipped is never edited again (test/unit/sql-scripts.test.ts keeps
--     001 byte-equal to 0.1.0's copy). New behaviour goes into the next number, with
--     `create or replace`, `add column if not exists` and the like.
--   * Every script is idempotent and ends by recording itself, so a DBA who runs them in
--     order with `psql -v ON_ERROR_STOP=1 -f` gets the same record as `walcast migrate`.
--   * What `walcast serve` needs is listed in one place, walcast.required_privileges():
--     a script that makes servers read, write or call something new replaces it (servers
--     refuse to start without it, allow_server() grants it, doctor reports it). Objects a
--     script creates for the owner alone need nothing: PUBLIC gets nothing by default.
--   * Every function sets `search_path = pg_catalog, pg_temp` (or, on a hot path, names
--     every function and operator with its schema) and names walcast's objects with their
--     schema, and EXECUTE is not granted to PUBLIC: the owner runs these functions, and an
--     object another role created must never be what they resolve to.
--
-- What 002 changes (DESIGN §5, §6):
--   * Configuration reaches running servers as rows, not messages: walcast.exposed_tables
--     carries each exposure's JSON in `exposure` (kept by a trigger on every write, by
--     anyone allowed to write: the owner, and the owner's DDL event triggers) and is itself
--     in every publication walcast streams. Servers apply its inserts, updates and deletes
--     in stream order and ignore `walcast.config` messages, which any role can emit.
--   * Presence messages carry an HMAC with walcast.presence_key, readable only by the owner
--     and the roles walcast.allow_server() names.
--   * walcast.allow_server(role) grants what `walcast serve` needs and nothing else;
--     walcast.missing_privileges(role) says what a role lacks; walcast.uninstall() undoes it all.

-- Which scripts have been applied. 0.1.0 recorded only `schema_version` 1: that is 001.
create table if not exists walcast.migrations (
  name       text primary key,
  applied_at timestamptz not null default now()
);
insert into walcast.migrations (name)
select '001_walcast.sql' where exists (select 1 from walcast.schema_version where version = 1)
on conflict do nothing;

-- Nothing in this schema is for everyone. allow_server() grants what a server needs.
revoke all on schema walcast from public;
revoke all on all tables in schema walcast from public;
revoke execute on all functions in schema walcast from public;
alter default privileges in schema walcast revoke execute on functions from public;

-- What walcast created or added, so that uninstall() removes that and nothing else. 0.1.0
-- recorded none of it: its `walcast` publication is taken as walcast's (001 created it when
-- missing), and the version columns it added are not known, so uninstall() leaves them.
create table if not exists walcast.created_publications (
  name text primary key
);
insert into walcast.created_publications (name)
select pubname from pg_publication where pubname = 'walcast'
on conflict do nothing;

create table if not exists walcast.added_columns (
  relid   regclass not null,
  attnum  int2 not null,
  attname name not null,
  primary key (relid, attnum)
);

-- The roles walcast.allow_server() named: expose() grants them each new table's privileges,
-- conceal() revokes them. `granted_emit`: allow_server() granted pg_logical_emit_message.
create table if not exists walcast.server_roles (
  role         regrole primary key,
  granted_emit boolean not null default false
);

-- The key of presence messages' HMAC (SHA-256). 244 random bits from pg_strong_random().
create table if not exists walcast.presence_key (
  singleton  boolean primary key default true check (singleton),
  key        bytea not null check (length(key) >= 30),
  created_at timestamptz not null default now()
);
insert into walcast.presence_key (key)
select decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex')
on conflict do nothing;

-- 0.1.0's functions, unchanged in body, now resolve names only in pg_catalog.
alter function walcast.attnum_of(regclass, text) set search_path = pg_catalog, pg_temp;
alter function walcast.column_names(regclass, int2[]) set search_path = pg_catalog, pg_temp;
alter function walcast.index_columns(regclass, oid) set search_path = pg_catalog, pg_temp;
alter function walcast.key_columns(regclass) set search_path = pg_catalog, pg_temp;
alter function walcast.identity_columns(regclass) set search_path = pg_catalog, pg_temp;
alter function walcast.identity_clause(regclass) set search_path = pg_catalog, pg_temp;
alter function walcast.exposure_json(regclass) set search_path = pg_catalog, pg_temp;
alter function walcast.announce(regclass) set search_path = pg_catalog, pg_temp;
alter function walcast.announce_conceal(oid, text, text) set search_path = pg_catalog, pg_temp;

-- Runs for every update of an exposed table, by any role: it must not resolve a name
-- another role could have created (in `public`, say) ahead of pg_catalog's. Every name is
-- qualified instead of pinning search_path, which costs this hot trigger about a third
-- more per row (measured on PostgreSQL 15: ~2 µs a row).
create or replace function walcast.bump_version() returns trigger
language plpgsql as $$
begin
  new := pg_catalog.jsonb_populate_record(
    new,
    pg_catalog.jsonb_build_object(
      tg_argv[0],
      coalesce((pg_catalog.to_jsonb(old) operator(pg_catalog.->>) tg_argv[0])::bigint, 0) operator(pg_catalog.+) 1));
  return new;
end
$$;

-- The JSON form of one exposure, as servers read it (events/exposure.ts), from its row.
-- Column names are resolved now, from the attnums. A tenant column that no longer exists
-- is '' (no column has that name): the table then streams to nobody rather than to all.
create or replace function walcast.exposure_of(e walcast.exposed_tables) returns jsonb
language sql stable set search_path = pg_catalog, pg_temp as $$
  select jsonb_build_object(
           'relid', c.oid::int8,
           'table', n.nspname || '.' || c.relname,
           'publication', e.publication,
           'tenantColumn', case when e.tenant_attnum is not null
                                then coalesce((walcast.column_names(c.oid, array[e.tenant_attnum]))[1], '') end,
           'versionColumn', (walcast.column_names(c.oid, array[e.version_attnum]))[1],
           'primaryKey', to_jsonb(walcast.key_columns(c.oid)),
           'hiddenColumns', to_jsonb(walcast.column_names(c.oid, e.hidden_attnums)),
           'writableColumns', to_jsonb(case when e.writable_attnums is not null
                                            then walcast.column_names(c.oid, e.writable_attnums) end))
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where c.oid = e.relid
$$;

alter table walcast.exposed_tables add column if not exists exposure jsonb;
-- A delete carries the whole old row, `exposure` (and so the relid) included.
alter table walcast.exposed_tables replica identity full;

create or replace function walcast.refresh_exposure() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
  new.exposure := walcast.exposure_of(new);
  return new;
end
$$;

create or replace trigger walcast_refresh_exposure
  before insert or update on walcast.exposed_tables
  for each row execute function walcast.refresh_exposure();

update walcast.exposed_tables e set exposure = walcast.exposure_of(e)
 where e.exposure is distinct from walcast.exposure_of(e);

-- Makes sure a publication exists and carries walcast.exposed_tables, whose rows are the
-- configuration servers apply. A publication it creates is recorded for uninstall().
create or replace function walcast.ensure_publication(publication text) returns void
language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
  if not exists (select 1 from pg_publication p where p.pubname = ensure_publication.publication) then
    execute format('create publication %I with (publish_via_partition_root = true)', ensure_publication.publication);
    insert into walcast.created_publications (name) values (ensure_publication.publication) on conflict do nothing;
  end if;
  if not exists (select 1 from pg_publication_tables pt
                  where pt.pubname = ensure_publication.publication
                    and pt.schemaname = 'walcast' and pt.tablename = 'exposed_tables') then
    execute format('alter publication %I add table walcast.exposed_tables', ensure_publication.publication);
  end if;
end
$$;

do $$
declare
  publication text;
begin
  for publication in select pubname from pg_publication where pubname = 'walcast'
                     union select distinct e.publication from walcast.exposed_tables e
  loop
    perform walcast.ensure_publication(publication);
  end loop;
end
$$;

-- Sequences the table's column defaults draw from (serial columns): an INSERT that leaves
-- such a column to its default needs USAGE on them. Identity columns need none.
create or replace function walcast.default_sequences(tbl regclass) returns setof regclass
language sql stable set search_path = pg_catalog, pg_temp as $$
  select distinct d.refobjid::regclass
    from pg_attrdef ad
    join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid and d.refclassid = 'pg_class'::regclass
    join pg_class s on s.oid = d.refobjid and s.relkind = 'S'
   where ad.adrelid = tbl
$$;

-- What a server needs on one exposed table: SELECT (streams' filters, snapshots); INSERT on
-- the writable columns and the tenant column; UPDATE on the writable columns and the
-- version column, and DELETE, when there is a version column (edits by key need one);
-- USAGE on the sequences of column defaults. Writable: as edits decide (edit-routes.ts):
-- the listed columns, or every visible column but the tenant and version columns.
create or replace function walcast.table_privileges(tbl regclass)
returns table (kind text, object text, column_name text, privilege text, for_writes boolean)
language sql stable set search_path = pg_catalog, pg_temp as $$
  with e as (select * from walcast.exposed_tables where relid = tbl),
  cols as (select a.attnum, a.attname::text as name
             from pg_attribute a, e
            where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
              and not a.attnum = any(e.hidden_attnums)),
  writable as (select c.attnum, c.name from cols c, e
                where c.attnum is distinct from e.tenant_attnum
                  and (case when e.writable_attnums is null then c.attnum is distinct from e.version_attnum
                            else c.attnum = any(e.writable_attnums) end))
  select 'table', tbl::text, null, 'SELECT', false from e
  union all
  select 'column', tbl::text, c.name, 'INSERT', true
    from cols c, e where c.attnum in (select attnum from writable) or c.attnum = e.tenant_attnum
  union all
  select 'column', tbl::text, c.name, 'UPDATE', true
    from cols c, e where e.version_attnum is not null
                     and (c.attnum in (select attnum from writable) or c.attnum = e.version_attnum)
  union all
  select 'table', tbl::text, null, 'DELETE', true from e where e.version_attnum is not null
  union all
  select 'sequence', s::text, null, 'USAGE', true from e, walcast.default_sequences(tbl) s
$$;

-- Everything `walcast serve` needs, for the exposures of one publication (null: all).
create or replace function walcast.required_privileges(publication text default null)
returns table (kind text, object text, column_name text, privilege text, for_writes boolean)
language sql stable set search_path = pg_catalog, pg_temp as $$
  select 'schema', 'walcast', null, 'USAGE', false
  union all
  select 'table', t, null, 'SELECT', false
    from unnest(array['walcast.exposed_tables', 'walcast.presence_key', 'walcast.migrations',
                      'walcast.server_roles', 'walcast.idempotency_keys']) t
  union all
  select 'table', 'walcast.idempotency_keys', null, p, true from unnest(array['INSERT', 'UPDATE', 'DELETE']) p
  union all
  select 'function', f, null, 'EXECUTE', false
    from unnest(array['walcast.required_privileges(text)', 'walcast.missing_privileges(name, text)',
                      'walcast.table_privileges(regclass)', 'walcast.default_sequences(regclass)',
                      'walcast.exposure_of(walcast.exposed_tables)', 'walcast.column_names(regclass, smallint[])',
                      'walcast.index_columns(regclass, oid)', 'walcast.key_columns(regclass)',
                      'walcast.identity_columns(regclass)']) f
  union all
  -- Presence heartbeats (presence/emit.ts): the flush argument exists from PostgreSQL 17.
  select 'function',
         case when current_setting('server_version_num')::int >= 170000
              then 'pg_catalog.pg_logical_emit_message(boolean, text, text, boolean)'
              else 'pg_catalog.pg_logical_emit_message(boolean, text, text)' end,
         null, 'EXECUTE', true
  union all
  select p.* from walcast.exposed_tables e, walcast.table_privileges(e.relid) p
   where required_privileges.publication is null or e.publication = required_privileges.publication
$$;

-- What a role lacks of required_privileges(), as `privilege` on `object` (one line each).
create or replace function walcast.missing_privileges(role_name name default current_user, publication text default null)
returns table (privilege text, object text, for_writes boolean)
language sql stable set search_path = pg_catalog, pg_temp as $$
  select 'REPLICATION', 'role ' || quote_ident(role_name), false
    from pg_roles where rolname = role_name and not (rolreplication or rolsuper)
  union all
  select case when r.column_name is null then r.privilege else r.privilege || ' (' || quote_ident(r.column_name) || ')' end,
         case when r.kind in ('table', 'column') then r.object else r.kind || ' ' || r.object end,
         r.for_writes
    from walcast.required_privileges(publication) r
   where not case r.kind
               when 'schema' then has_schema_privilege(role_name, r.object, r.privilege)
               when 'table' then has_table_privilege(role_name, r.object, r.privilege)
               when 'column' then has_column_privilege(role_name, r.object, r.column_name, r.privilege)
               when 'sequence' then has_sequence_privilege(role_name, r.object, r.privilege)
               when 'function' then has_function_privilege(role_name, r.object, r.privilege)
             end
$$;

-- The GRANT that gives `role_name` one row of required_privileges().
create or replace function walcast.grant_statement(kind text, object text, column_name text, privilege text, role_name name)
returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case kind
           when 'schema' then format('grant %s on schema %I to %I', privilege, object, role_name)
           when 'table' then format('grant %s on table %s to %I', privilege, object, role_name)
           when 'column' then format('grant %s (%I) on table %s to %I', privilege, column_name, object, role_name)
           when 'sequence' then format('grant %s on sequence %s to %I', privilege, object, role_name)
           when 'function' then format('grant %s on function %s to %I', privilege, object, role_name)
         end
$$;

-- Takes back from every server role what it holds on a table (and its default sequences).
-- A server role should be walcast's alone: grants made to it by hand go as well.
create or replace function walcast.revoke_server_access(tbl regclass) returns setof text
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  server    name;
  sequence  regclass;
  statement text;
begin
  for server in select r.rolname from walcast.server_roles s join pg_roles r on r.oid = s.role loop
    statement := format('revoke all on table %s from %I', tbl, server);
    execute statement;
    return next statement;
    for sequence in select walcast.default_sequences(tbl) loop
      statement := format('revoke all on sequence %s from %I', sequence, server);
      execute statement;
      return next statement;
    end loop;
  end loop;
end
$$;

-- Gives every server role exactly what it needs on a table now (after expose, and after
-- ALTER TABLE: a column added to a table whose writable columns are "all").
create or replace function walcast.grant_server_access(tbl regclass) returns setof text
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  server    name;
  needed    record;
  statement text;
begin
  return query select walcast.revoke_server_access(tbl);
  for server in select r.rolname from walcast.server_roles s join pg_roles r on r.oid = s.role loop
    for needed in select * from walcast.table_privileges(tbl) loop
      statement := walcast.grant_statement(needed.kind, needed.object, needed.column_name, needed.privilege, server);
      execute statement;
      return next statement;
    end loop;
  end loop;
end
$$;

-- Lets `role_name` run `walcast serve`: everything required_privileges() lists, for every
-- exposure, now and (through expose) later. Returns the GRANTs it ran. The REPLICATION
-- attribute is no privilege a GRANT can give: ALTER ROLE … REPLICATION, as a superuser.
create or replace function walcast.allow_server(role_name name) returns setof text
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  server_oid oid;
  needed     record;
  statement  text;
begin
  select oid into server_oid from pg_roles where rolname = role_name;
  if server_oid is null then
    raise exception 'walcast.allow_server: there is no role %', quote_ident(role_name) using errcode = '42704';
  end if;
  insert into walcast.server_roles (role) values (server_oid::regrole) on conflict do nothing;
  for needed in select * from walcast.required_privileges() loop
    -- pg_logical_emit_message belongs to the bootstrap superuser; PUBLIC can call it by default.
    continue when needed.kind = 'function' and needed.object like 'pg\_catalog.%'
                  and has_function_privilege(role_name, needed.object, 'EXECUTE');
    statement := walcast.grant_statement(needed.kind, needed.object, needed.column_name, needed.privilege, role_name);
    begin
      execute statement;
    exception when insufficient_privilege then
      if needed.object not like 'pg\_catalog.%' then
        raise;
      end if;
      raise warning 'walcast.allow_server: could not run "%" (a superuser can): presence heartbeats fail without it', statement;
      continue;
    end;
    if needed.object like 'pg\_catalog.%' then
      update walcast.server_roles set granted_emit = true where role = server_oid::regrole;
    end if;
    return next statement;
  end loop;
  if not exists (select 1 from pg_roles where oid = server_oid and (rolreplication or rolsuper)) then
    raise warning 'walcast.allow_server: role % lacks REPLICATION, which no GRANT gives: ALTER ROLE % REPLICATION;',
      quote_ident(role_name), quote_ident(role_name);
  end if;
end
$$;

-- Takes back what allow_server() gave. Returns the REVOKEs it ran.
create or replace function walcast.disallow_server(role_name name) returns setof text
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  server    walcast.server_roles;
  tbl       regclass;
  statement text;
begin
  select s.* into server from walcast.server_roles s join pg_roles r on r.oid = s.role where r.rolname = role_name;
  if not found then
    raise notice 'walcast.disallow_server: % is not a server role', quote_ident(role_name);
    return;
  end if;
  for tbl in select relid from walcast.exposed_tables loop
    statement := format('revoke all on table %s from %I', tbl, role_name);
    execute statement;
    return next statement;
  end loop;
  for statement in
    select format('revoke all on sequence %s from %I', s, role_name)
      from walcast.exposed_tables e, walcast.default_sequences(e.relid) s
    union all select format('revoke all on all tables in schema walcast from %I', role_name)
    union all select format('revoke all on all functions in schema walcast from %I', role_name)
    union all select format('revoke all on schema walcast from %I', role_name)
    union all select format('revoke execute on function %s from %I', p.oid::regprocedure, role_name)
                from pg_proc p where server.granted_emit and p.proname = 'pg_logical_emit_message'
                 and p.pronamespace = 'pg_catalog'::regnamespace
  loop
    execute statement;
    return next statement;
  end loop;
  delete from walcast.server_roles where role = server.role;
end
$$;

create or replace function walcast.expose(
  tbl              regclass,
  tenant_column    text    default null,
  version_column   text    default null,
  hidden_columns   text[]  default '{}',
  writable_columns text[]  default null,
  publication      text    default 'walcast'
) returns jsonb
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  kind       "char";
  tenant     int2;
  version    int2;
  hidden     int2[];
  writable   int2[];
  previous   jsonb;
  leaf       regclass;
  exposure   jsonb;
begin
  select c.relkind into kind from pg_class c where c.oid = tbl;
  if kind not in ('r', 'p') then
    raise exception 'walcast.expose: % is not a table', tbl using errcode = '42809';
  end if;
  if tbl::oid in (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'walcast') then
    raise exception 'walcast.expose: walcast''s own tables cannot be exposed' using errcode = '42501';
  end if;

  tenant := case when expose.tenant_column is not null then walcast.attnum_of(tbl, expose.tenant_column) end;
  select coalesce(array_agg(walcast.attnum_of(tbl, h)), '{}') into hidden from unnest(expose.hidden_columns) h;
  if expose.writable_columns is not null then
    select coalesce(array_agg(walcast.attnum_of(tbl, w)), '{}') into writable from unnest(expose.writable_columns) w;
  end if;
  if tenant = any(hidden) then
    raise exception 'walcast.expose: the tenant column % cannot be hidden', expose.tenant_column using errcode = '22023';
  end if;
  if tenant = any(writable) then
    raise exception 'walcast.expose: the tenant column % cannot be writable: it comes from the token', expose.tenant_column
      using errcode = '22023';
  end if;

  if expose.version_column is not null then
    if not exists (select 1 from pg_attribute
                    where attrelid = tbl and attname = expose.version_column and attnum > 0 and not attisdropped) then
      execute format('alter table %s add column %I bigint not null default 1', tbl, expose.version_column);
      insert into walcast.added_columns (relid, attnum, attname)
      values (tbl, walcast.attnum_of(tbl, expose.version_column), expose.version_column)
      on conflict (relid, attnum) do update set attname = excluded.attname;
    elsif not exists (select 1 from pg_attribute
                       where attrelid = tbl and attname = expose.version_column
                         and atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)) then
      raise exception 'walcast.expose: version column %.% must be an integer column', tbl, expose.version_column
        using errcode = '42804';
    end if;
    version := walcast.attnum_of(tbl, expose.version_column);
    execute format('create or replace trigger walcast_bump_version before update on %s for each row '
                   'execute function walcast.bump_version(%L)', tbl, expose.version_column);
  end if;

  -- Deletes must name their tenant, and a published table must keep accepting the app's
  -- UPDATE and DELETE (Postgres refuses them without a usable replica identity). Changes
  -- are decoded from the tables that hold the rows, so for a partitioned table each leaf
  -- partition needs such an identity. Where one lacks it, use FULL: it always works and
  -- also gives update events their old row. What it was is kept for conceal().
  select e.previous_identities into previous from walcast.exposed_tables e where e.relid = tbl;
  previous := coalesce(previous, '{}');
  for leaf in select relid from pg_partition_tree(tbl) where isleaf
              union select tbl where kind = 'r'
  loop
    if walcast.identity_columns(leaf) is null
       or (expose.tenant_column is not null and not expose.tenant_column = any(walcast.identity_columns(leaf))) then
      if not previous ? leaf::oid::text then
        previous := previous || jsonb_build_object(leaf::oid::text, walcast.identity_clause(leaf));
      end if;
      execute format('alter table %s replica identity full', leaf);
    end if;
  end loop;

  perform walcast.ensure_publication(expose.publication);
  if kind = 'p' and not (select pubviaroot from pg_publication p where p.pubname = expose.publication) then
    -- Otherwise changes would appear under each partition's name instead of the table's.
    execute format('alter publication %I set (publish_via_partition_root = true)', expose.publication);
    raise notice 'walcast.expose: publication % now publishes partitions under their root table', expose.publication;
  end if;
  if not exists (select 1 from pg_publication_tables pt
                   join pg_class c on c.oid = tbl and c.relname = pt.tablename
                   join pg_namespace n on n.oid = c.relnamespace and n.nspname = pt.schemaname
                  where pt.pubname = expose.publication) then
    execute format('alter publication %I add table %s', expose.publication, tbl);
  end if;

  -- This row is what every server applies, in stream order (its trigger fills `exposure`).
  insert into walcast.exposed_tables as e
         (relid, publication, tenant_attnum, version_attnum, hidden_attnums, writable_attnums, previous_identities)
  values (tbl, expose.publication, tenant, version, hidden, writable, nullif(previous, '{}'))
  on conflict (relid) do update
     set publication = excluded.publication, tenant_attnum = excluded.tenant_attnum,
         version_attnum = excluded.version_attnum, hidden_attnums = excluded.hidden_attnums,
         writable_attnums = excluded.writable_attnums,
         previous_identities = excluded.previous_identities, exposed_at = now()
  returning e.exposure into exposure;

  perform walcast.grant_server_access(tbl);
  -- For 0.1.0 instances still running during a rolling upgrade; later versions ignore it.
  perform walcast.announce(tbl);
  return exposure;
end
$$;

-- expose() again with the settings the table has now: what doctor prints to repair a
-- trigger or a publication without touching hidden, writable, tenant or version columns.
create or replace function walcast.reexpose(tbl regclass) returns jsonb
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  e walcast.exposed_tables;
begin
  select * into e from walcast.exposed_tables x where x.relid = tbl;
  if not found then
    raise exception 'walcast.reexpose: % is not exposed', tbl using errcode = '42704';
  end if;
  if e.exposure ->> 'tenantColumn' = '' then
    raise exception 'walcast.reexpose: the tenant column of % no longer exists', tbl
      using errcode = '42703', hint = 'Run walcast.expose() with the table''s tenant column, or walcast.conceal().';
  end if;
  return walcast.expose(tbl,
    tenant_column    => (walcast.column_names(tbl, array[e.tenant_attnum]))[1],
    version_column   => (walcast.column_names(tbl, array[e.version_attnum]))[1],
    hidden_columns   => walcast.column_names(tbl, e.hidden_attnums),
    writable_columns => case when e.writable_attnums is not null then walcast.column_names(tbl, e.writable_attnums) end,
    publication      => e.publication);
end
$$;

-- Stops streaming a table. From a FOR ALL TABLES publication the table cannot be dropped,
-- but a published table that is not exposed streams to nobody.
create or replace function walcast.conceal(tbl regclass) returns void
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  e         walcast.exposed_tables;
  qualified text;
  restore   record;
begin
  select n.nspname || '.' || c.relname into qualified
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = tbl;
  select * into e from walcast.exposed_tables where relid = tbl;
  if not found then
    raise notice 'walcast.conceal: % is not exposed', qualified;
    return;
  end if;
  if exists (select 1 from pg_publication p join pg_publication_rel r on r.prpubid = p.oid
              where p.pubname = e.publication and r.prrelid = tbl) then
    execute format('alter publication %I drop table %s', e.publication, tbl);
  end if;
  execute format('drop trigger if exists walcast_bump_version on %s', tbl);
  for restore in select key::oid::regclass as leaf, value as clause
                   from jsonb_each_text(coalesce(e.previous_identities, '{}'))
  loop
    execute format('alter table %s replica identity %s', restore.leaf, restore.clause);
  end loop;
  perform walcast.revoke_server_access(tbl);
  -- The version column stays: it holds data, and dropping a column is the DBA's call.
  delete from walcast.exposed_tables where relid = tbl;
  perform walcast.announce_conceal(tbl::oid, qualified, e.publication);
end
$$;

-- DDL on exposed tables, live (DESIGN §6). A renamed table or column is written again
-- under its new name (the row's trigger resolves names); a dropped hidden or writable
-- column leaves its list; dropping the tenant or version column is refused (events could
-- not be routed or edits guarded); a dropped table is concealed. Security definer: the
-- DDL of a table's owner must be able to write walcast.exposed_tables, which only
-- walcast's owner can. Postgres runs these only as event triggers, never as a call.
create or replace function walcast.on_sql_drop() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  dropped record;
  e       walcast.exposed_tables;
begin
  for dropped in select * from pg_event_trigger_dropped_objects() loop
    if dropped.object_type = 'table' then
      delete from walcast.added_columns x where x.relid::oid = dropped.objid;
      delete from walcast.exposed_tables x where x.relid::oid = dropped.objid returning * into e;
      if found then
        perform walcast.announce_conceal(dropped.objid, dropped.schema_name || '.' || dropped.object_name, e.publication);
      end if;
    elsif dropped.object_type = 'table column' then
      continue when exists (select 1 from pg_event_trigger_dropped_objects() d
                             where d.object_type = 'table' and d.objid = dropped.objid);
      delete from walcast.added_columns x where x.relid::oid = dropped.objid and x.attnum = dropped.objsubid;
      select * into e from walcast.exposed_tables x where x.relid::oid = dropped.objid;
      continue when not found;
      if dropped.objsubid in (e.tenant_attnum, e.version_attnum) then
        raise exception 'walcast: % is the % column of an exposed table', dropped.object_identity,
            case when dropped.objsubid = e.tenant_attnum then 'tenant' else 'version' end
          using errcode = '2BP01',
                hint = format('Run walcast.conceal(%L) first, or walcast.expose() it with another column.', e.relid::text);
      end if;
      update walcast.exposed_tables x
         set hidden_attnums = array_remove(x.hidden_attnums, dropped.objsubid::int2),
             writable_attnums = array_remove(x.writable_attnums, dropped.objsubid::int2)
       where x.relid::oid = dropped.objid;
    end if;
  end loop;
end
$$;

create or replace function walcast.on_alter_table() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  tbl oid;
begin
  for tbl in select distinct c.objid from pg_event_trigger_ddl_commands() c
               join walcast.exposed_tables e on e.relid::oid = c.objid
              where c.classid = 'pg_class'::regclass
  loop
    update walcast.exposed_tables e set exposure = walcast.exposure_of(e) where e.relid::oid = tbl;
    perform walcast.grant_server_access(tbl::regclass);
    perform walcast.announce(tbl::regclass);
  end loop;
end
$$;

-- The two DDL event triggers; creating an event trigger takes a superuser.
create or replace function walcast.install_event_triggers() returns void
language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
  if not exists (select 1 from pg_event_trigger where evtname = 'walcast_sql_drop') then
    create event trigger walcast_sql_drop on sql_drop execute function walcast.on_sql_drop();
  end if;
  if not exists (select 1 from pg_event_trigger where evtname = 'walcast_alter_table') then
    create event trigger walcast_alter_table on ddl_command_end when tag in ('ALTER TABLE')
      execute function walcast.on_alter_table();
  end if;
  alter event trigger walcast_sql_drop enable;
  alter event trigger walcast_alter_table enable;
end
$$;

do $$
begin
  if exists (select 1 from pg_roles where rolname = current_user and rolsuper) then
    perform walcast.install_event_triggers();
  end if;
end
$$;

-- Removes walcast from this database: every exposure (as conceal() would), walcast's DDL
-- event triggers, the version columns it added (only when asked: they hold data), the
-- grants of its server roles, the publications it created, its replication slots (none
-- may be in use) and the schema. Returns what it did, one line each.
create or replace function walcast.uninstall(drop_version_columns boolean default false) returns setof text
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  busy   text;
  tbl    regclass;
  added  record;
  item   text;
begin
  select string_agg(slot_name, ', ' order by slot_name) into busy
    from pg_replication_slots
   where database = current_database() and slot_name like 'walcast\_%' and active;
  if busy is not null then
    raise exception 'walcast.uninstall: replication slot(s) % are in use: stop those walcast instances first', busy
      using errcode = '55006';
  end if;
  -- First, so that dropping walcast's own objects below runs none of walcast's code.
  drop event trigger if exists walcast_sql_drop;
  drop event trigger if exists walcast_alter_table;

  for tbl in select relid from walcast.exposed_tables order by relid::text loop
    perform walcast.conceal(tbl);
    return next format('concealed %s', tbl);
  end loop;
  if drop_version_columns then
    for added in select a.attrelid::regclass as tbl, a.attname
                   from walcast.added_columns x
                   join pg_attribute a on a.attrelid = x.relid and a.attnum = x.attnum and a.attname = x.attname
                  where not a.attisdropped
                  order by 1, 2
    loop
      execute format('alter table %s drop column %I', added.tbl, added.attname);
      return next format('dropped column %I of %s', added.attname, added.tbl);
    end loop;
  end if;
  for item in select r.rolname from walcast.server_roles s join pg_roles r on r.oid = s.role order by 1 loop
    perform walcast.disallow_server(item);
    return next format('revoked what walcast.allow_server gave %I', item);
  end loop;
  for item in select p.pubname from pg_publication p join walcast.created_publications c on c.name = p.pubname order by 1 loop
    execute format('drop publication %I', item);
    return next format('dropped publication %I', item);
  end loop;
  for item in select slot_name from pg_replication_slots
               where database = current_database() and slot_name like 'walcast\_%' order by 1 loop
    perform pg_drop_replication_slot(item);
    return next format('dropped replication slot %s', item);
  end loop;
  drop schema walcast cascade;
  return next 'dropped schema walcast';
end
$$;

revoke execute on all functions in schema walcast from public;

insert into walcast.migrations (name) values ('002_trusted_config.sql') on conflict do nothing;
