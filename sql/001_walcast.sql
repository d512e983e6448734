-- walcast schema, version 1.
-- Idempotent: `walcast migrate` applies it (and `walcast serve` at start); a DBA can run
-- it with `psql -v ON_ERROR_STOP=1 -f sql/001_walcast.sql` as often as they like.

create schema if not exists walcast;

create table if not exists walcast.schema_version (
  version    integer primary key,
  applied_at timestamptz not null default now()
);

-- What walcast.expose() was told, per table. Columns are kept by attnum, so renaming one
-- (a hidden column above all) never detaches it from its role; names are resolved when
-- the exposure is announced. The server reads this at start; later changes reach every
-- running instance in stream order as 'walcast.config' logical messages.
create table if not exists walcast.exposed_tables (
  relid                     regclass primary key,
  publication               text not null,
  tenant_attnum             int2,
  version_attnum            int2,
  hidden_attnums            int2[] not null default '{}',
  -- null: every column but the key, tenant and version columns is writable.
  writable_attnums          int2[],
  -- {"<oid>": "<replica identity clause>"}: what to restore on conceal() for each table
  -- (or leaf partition) whose identity expose() had to change.
  previous_identities       jsonb,
  exposed_at                timestamptz not null default now()
);

-- Idempotency-Key: the first response to a key, stored in the same transaction as its
-- edit, so a retry (on any instance, after any restart) gets that response and changes
-- nothing. Per tenant; a key is forgotten 24 hours after its first use.
create table if not exists walcast.idempotency_keys (
  tenant       text not null,
  key          text not null,
  request_hash text not null,
  status       int2,
  headers      jsonb,
  body         text,
  created_at   timestamptz not null default now(),
  primary key (tenant, key)
);

-- Bumps the version column named by the trigger's argument on every update, by anyone:
-- the app's own writes move the version too, so an edit based on a stale read conflicts.
create or replace function walcast.bump_version() returns trigger
language plpgsql as $$
begin
  new := jsonb_populate_record(
    new,
    jsonb_build_object(tg_argv[0], coalesce((to_jsonb(old) ->> tg_argv[0])::bigint, 0) + 1));
  return new;
end
$$;

-- The attnum of a column, or a clear error naming the table and column.
create or replace function walcast.attnum_of(tbl regclass, col text) returns int2
language plpgsql stable as $$
declare
  found_attnum int2;
begin
  select attnum into found_attnum from pg_attribute
   where attrelid = tbl and attname = col and attnum > 0 and not attisdropped;
  if found_attnum is null then
    raise exception 'walcast: table % has no column %', tbl, col
      using errcode = '42703', hint = 'Column names are case-sensitive and spelled as in the catalog.';
  end if;
  return found_attnum;
end
$$;

-- Column names for attnums, in the given order; dropped columns are left out.
create or replace function walcast.column_names(tbl regclass, attnums int2[]) returns text[]
language sql stable as $$
  select coalesce(array_agg(a.attname::text order by k.ord), '{}')
    from unnest(attnums) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = tbl and a.attnum = k.attnum and not a.attisdropped
$$;

-- The columns of an index, in index order.
create or replace function walcast.index_columns(tbl regclass, index_oid oid) returns text[]
language sql stable as $$
  select array_agg(a.attname::text order by k.ord)
    from pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indexrelid = index_oid and i.indrelid = tbl
$$;

-- The event key (DESIGN §3): the primary key, else the replica identity index, else
-- every column. Computed whenever an exposure is announced, so it follows schema changes.
create or replace function walcast.key_columns(tbl regclass) returns text[]
language sql stable as $$
  select coalesce(
    (select walcast.index_columns(tbl, i.indexrelid) from pg_index i where i.indrelid = tbl and i.indisprimary),
    (select walcast.index_columns(tbl, i.indexrelid) from pg_index i where i.indrelid = tbl and i.indisreplident),
    (select array_agg(attname::text order by attnum) from pg_attribute
      where attrelid = tbl and attnum > 0 and not attisdropped))
$$;

-- The columns an old row carries under the table's replica identity (null: none).
create or replace function walcast.identity_columns(tbl regclass) returns text[]
language sql stable as $$
  select case c.relreplident
           when 'f' then (select array_agg(attname::text) from pg_attribute
                           where attrelid = tbl and attnum > 0 and not attisdropped)
           when 'd' then (select walcast.index_columns(tbl, i.indexrelid) from pg_index i
                           where i.indrelid = tbl and i.indisprimary)
           when 'i' then (select walcast.index_columns(tbl, i.indexrelid) from pg_index i
                           where i.indrelid = tbl and i.indisreplident)
         end
    from pg_class c where c.oid = tbl
$$;

-- The replica identity clause that restores a table's current identity.
create or replace function walcast.identity_clause(tbl regclass) returns text
language sql stable as $$
  select case c.relreplident
           when 'd' then 'default'
           when 'n' then 'nothing'
           when 'f' then 'full'
           else 'using index ' || (select quote_ident(ic.relname) from pg_index i join pg_class ic on ic.oid = i.indexrelid
                                    where i.indrelid = tbl and i.indisreplident)
         end
    from pg_class c where c.oid = tbl
$$;

-- The JSON form of one exposure, as the server reads it (events/exposure.ts).
create or replace function walcast.exposure_json(tbl regclass) returns jsonb
language sql stable as $$
  select jsonb_build_object(
           'relid', c.oid::int8,
           'table', n.nspname || '.' || c.relname,
           'publication', e.publication,
           'tenantColumn', (walcast.column_names(tbl, array[e.tenant_attnum]))[1],
           'versionColumn', (walcast.column_names(tbl, array[e.version_attnum]))[1],
           'primaryKey', to_jsonb(walcast.key_columns(tbl)),
           'hiddenColumns', to_jsonb(walcast.column_names(tbl, e.hidden_attnums)),
           'writableColumns', to_jsonb(case when e.writable_attnums is not null
                                            then walcast.column_names(tbl, e.writable_attnums) end))
    from walcast.exposed_tables e
    join pg_class c on c.oid = e.relid
    join pg_namespace n on n.oid = c.relnamespace
   where e.relid = tbl
$$;

-- Tells every running server, in stream order, what is exposed for a table now.
create or replace function walcast.announce(tbl regclass) returns jsonb
language plpgsql as $$
declare
  exposure jsonb := walcast.exposure_json(tbl);
begin
  perform pg_logical_emit_message(true, 'walcast.config',
                                  jsonb_build_object('op', 'expose', 'exposure', exposure)::text);
  return exposure;
end
$$;

-- Tells every running server, in stream order, that a table is no longer exposed.
create or replace function walcast.announce_conceal(relid oid, qualified text, publication text) returns void
language sql as $$
  select null::void from pg_logical_emit_message(true, 'walcast.config',
    jsonb_build_object('op', 'conceal', 'relid', relid::int8, 'table', qualified, 'publication', publication)::text)
$$;

create or replace function walcast.expose(
  tbl              regclass,
  tenant_column    text    default null,
  version_column   text    default null,
  hidden_columns   text[]  default '{}',
  writable_columns text[]  default null,
  publication      text    default 'walcast'
) returns jsonb
language plpgsql as $$
declare
  kind       "char";
  tenant     int2;
  version    int2;
  hidden     int2[];
  writable   int2[];
  previous   jsonb;
  leaf       regclass;
  col        text;
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
    elsif not exists (select 1 from pg_attribute
                       where attrelid = tbl and attname = expose.version_column
                         and atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)) then
      raise exception 'walcast.expose: version column %.% must be an integer column', tbl, expose.version_column
        using errcode = '42804';
    end if;
    version := walcast.attnum_of(tbl, expose.version_column);
    execute format('drop trigger if exists walcast_bump_version on %s', tbl);
    execute format('create trigger walcast_bump_version before update on %s for each row '
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

  if not exists (select 1 from pg_publication where pubname = expose.publication) then
    execute format('create publication %I with (publish_via_partition_root = true)', expose.publication);
  end if;
  if kind = 'p' and not (select pubviaroot from pg_publication where pubname = expose.publication) then
    -- Otherwise changes would appear under each partition's name instead of the table's.
    execute format('alter publication %I set (publish_via_partition_root = true)', expose.publication);
    raise notice 'walcast.expose: publication % now publishes partitions under their root table', expose.publication;
  end if;
  if not exists (select 1 from pg_publication p
                  where p.pubname = expose.publication
                    and (p.puballtables or exists (select 1 from pg_publication_rel r
                                                    where r.prpubid = p.oid and r.prrelid = tbl))) then
    execute format('alter publication %I add table %s', expose.publication, tbl);
  end if;

  insert into walcast.exposed_tables as e
         (relid, publication, tenant_attnum, version_attnum, hidden_attnums, writable_attnums, previous_identities)
  values (tbl, expose.publication, tenant, version, hidden, writable, nullif(previous, '{}'))
  on conflict (relid) do update
     set publication = excluded.publication, tenant_attnum = excluded.tenant_attnum,
         version_attnum = excluded.version_attnum, hidden_attnums = excluded.hidden_attnums,
         writable_attnums = excluded.writable_attnums,
         previous_identities = excluded.previous_identities, exposed_at = now();

  return walcast.announce(tbl);
end
$$;

create or replace function walcast.conceal(tbl regclass) returns void
language plpgsql as $$
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
  if (select puballtables from pg_publication where pubname = e.publication) then
    raise exception 'walcast.conceal: publication % is FOR ALL TABLES, so % would stay published', e.publication, qualified
      using errcode = '55000', hint = 'Stream a publication that lists its tables (WALCAST_PUBLICATION).';
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
  -- The version column stays: it holds data, and dropping a column is the DBA's call.
  delete from walcast.exposed_tables where relid = tbl;
  perform walcast.announce_conceal(tbl::oid, qualified, e.publication);
end
$$;

-- DDL on exposed tables, live (DESIGN §6). A renamed table or column is announced again
-- under its new name; a dropped hidden or writable column leaves its list; dropping the
-- tenant or version column is refused (events could not be routed or edits guarded);
-- a dropped table is concealed. Security definer: DDL by any role must be able to
-- announce, and pg_logical_emit_message is not for everyone.
create or replace function walcast.on_sql_drop() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  dropped record;
  e       walcast.exposed_tables;
begin
  for dropped in select * from pg_event_trigger_dropped_objects() loop
    if dropped.object_type = 'table' then
      delete from walcast.exposed_tables x where x.relid::oid = dropped.objid returning * into e;
      if found then
        perform walcast.announce_conceal(dropped.objid, dropped.schema_name || '.' || dropped.object_name, e.publication);
      end if;
    elsif dropped.object_type = 'table column' then
      continue when exists (select 1 from pg_event_trigger_dropped_objects() d
                             where d.object_type = 'table' and d.objid = dropped.objid);
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
    perform walcast.announce(tbl::regclass);
  end loop;
end
$$;

do $$
begin
  if exists (select 1 from pg_roles where rolname = current_user and rolsuper) then
    if not exists (select 1 from pg_event_trigger where evtname = 'walcast_sql_drop') then
      create event trigger walcast_sql_drop on sql_drop execute function walcast.on_sql_drop();
    end if;
    if not exists (select 1 from pg_event_trigger where evtname = 'walcast_alter_table') then
      create event trigger walcast_alter_table on ddl_command_end when tag in ('ALTER TABLE')
        execute function walcast.on_alter_table();
    end if;
  else
    raise warning 'walcast: event triggers need a superuser, so they were not installed; after renaming or '
                  'dropping columns of an exposed table, run walcast.expose() on it again (walcast doctor checks this)';
  end if;
  if not exists (select 1 from pg_publication where pubname = 'walcast') then
    create publication walcast with (publish_via_partition_root = true);
  end if;
end
$$;

insert into walcast.schema_version (version) values (1) on conflict do nothing;
