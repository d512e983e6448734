-- walcast schema, version 1.
-- Idempotent: `walcast migrate` applies it (and `walcast serve` at start); a DBA can run
-- it with `psql -v ON_ERROR_STOP=1 -f sql/001_walcast.sql` as often as they like.

create schema if not exists walcast;

create table if not exists walcast.schema_version (
  version    integer primary key,
  applied_at timestamptz not null default now()
);

-- What walcast.expose() was told, per table. The server reads it at start; later changes
-- reach every running instance in stream order as 'walcast.config' logical messages.
create table if not exists walcast.exposed_tables (
  relid                     regclass primary key,
  publication               text not null,
  tenant_column             text,
  version_column            text,
  hidden_columns            text[] not null default '{}',
  writable_columns          text[],
  primary_key               text[] not null,
  -- The replica identity to restore on conceal(), when expose() had to change it.
  previous_replica_identity text,
  exposed_at                timestamptz not null default now()
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
  qualified     text;
  kind          "char";
  identity      "char";
  identity_cols text[];
  key_cols      text[];
  previous      text;
  col           text;
  exposure      jsonb;
begin
  select n.nspname || '.' || c.relname, c.relkind, c.relreplident
    into qualified, kind, identity
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.oid = tbl;
  if kind not in ('r', 'p') then
    raise exception 'walcast.expose: % is not a table', tbl using errcode = '42809';
  end if;

  foreach col in array array_remove(
      array[expose.tenant_column] || coalesce(expose.hidden_columns, '{}') || coalesce(expose.writable_columns, '{}'), null)
  loop
    if not exists (select 1 from pg_attribute
                    where attrelid = tbl and attname = col and attnum > 0 and not attisdropped) then
      raise exception 'walcast.expose: table % has no column %', qualified, col
        using errcode = '42703', hint = 'Column names are case-sensitive and spelled as in the catalog.';
    end if;
  end loop;
  if expose.tenant_column = any(coalesce(expose.hidden_columns, '{}')) then
    raise exception 'walcast.expose: the tenant column % cannot be hidden', expose.tenant_column
      using errcode = '22023';
  end if;

  if expose.version_column is not null then
    if not exists (select 1 from pg_attribute
                    where attrelid = tbl and attname = expose.version_column and attnum > 0 and not attisdropped) then
      execute format('alter table %s add column %I bigint not null default 1', tbl, expose.version_column);
    elsif not exists (select 1 from pg_attribute
                       where attrelid = tbl and attname = expose.version_column
                         and atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)) then
      raise exception 'walcast.expose: version column %.% must be an integer column', qualified, expose.version_column
        using errcode = '42804';
    end if;
    execute format('drop trigger if exists walcast_bump_version on %s', tbl);
    execute format('create trigger walcast_bump_version before update on %s for each row '
                   'execute function walcast.bump_version(%L)', tbl, expose.version_column);
  end if;

  -- The event key: the primary key, else the replica identity index, else every column.
  select array_agg(a.attname order by k.ord) into key_cols
    from pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indrelid = tbl and i.indisprimary;
  select array_agg(a.attname order by k.ord) into identity_cols
    from pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indrelid = tbl
     and ((identity = 'd' and i.indisprimary) or (identity = 'i' and i.indisreplident));
  if key_cols is null and identity = 'i' then
    key_cols := identity_cols;
  end if;
  if key_cols is null then
    select array_agg(attname order by attnum) into key_cols
      from pg_attribute where attrelid = tbl and attnum > 0 and not attisdropped;
  end if;

  -- Deletes must name their tenant, and a published table must keep accepting the app's
  -- UPDATE and DELETE: when the identity lacks the tenant column (or there is none), use
  -- FULL, which also gives update events their old row.
  select e.previous_replica_identity into previous from walcast.exposed_tables e where e.relid = tbl;
  if identity <> 'f'
     and (identity_cols is null or (expose.tenant_column is not null and not expose.tenant_column = any(identity_cols))) then
    if previous is null then
      previous := case identity
        when 'd' then 'default'
        when 'n' then 'nothing'
        else 'using index ' || (select quote_ident(ic.relname) from pg_index i join pg_class ic on ic.oid = i.indexrelid
                                 where i.indrelid = tbl and i.indisreplident)
      end;
    end if;
    execute format('alter table %s replica identity full', tbl);
  end if;

  if not exists (select 1 from pg_publication where pubname = expose.publication) then
    execute format('create publication %I', expose.publication);
  end if;
  if not exists (select 1 from pg_publication p
                  where p.pubname = expose.publication
                    and (p.puballtables or exists (select 1 from pg_publication_rel r
                                                    where r.prpubid = p.oid and r.prrelid = tbl))) then
    execute format('alter publication %I add table %s', expose.publication, tbl);
  end if;

  insert into walcast.exposed_tables as e
         (relid, publication, tenant_column, version_column, hidden_columns, writable_columns,
          primary_key, previous_replica_identity)
  values (tbl, expose.publication, expose.tenant_column, expose.version_column,
          coalesce(expose.hidden_columns, '{}'), expose.writable_columns, key_cols, previous)
  on conflict (relid) do update
     set publication = excluded.publication, tenant_column = excluded.tenant_column,
         version_column = excluded.version_column, hidden_columns = excluded.hidden_columns,
         writable_columns = excluded.writable_columns, primary_key = excluded.primary_key,
         previous_replica_identity = excluded.previous_replica_identity, exposed_at = now();

  exposure := walcast.exposure_json(tbl);
  perform pg_logical_emit_message(true, 'walcast.config',
                                  jsonb_build_object('op', 'expose', 'exposure', exposure)::text);
  return exposure;
end
$$;

-- The JSON form of one exposure, as the server reads it (events/exposure.ts).
create or replace function walcast.exposure_json(tbl regclass) returns jsonb
language sql stable as $$
  select jsonb_build_object(
           'table', n.nspname || '.' || c.relname,
           'publication', e.publication,
           'tenantColumn', e.tenant_column,
           'versionColumn', e.version_column,
           'primaryKey', to_jsonb(e.primary_key),
           'hiddenColumns', to_jsonb(e.hidden_columns),
           'writableColumns', to_jsonb(e.writable_columns))
    from walcast.exposed_tables e
    join pg_class c on c.oid = e.relid
    join pg_namespace n on n.oid = c.relnamespace
   where e.relid = tbl
$$;

create or replace function walcast.conceal(tbl regclass) returns void
language plpgsql as $$
declare
  e         walcast.exposed_tables;
  qualified text;
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
  if e.previous_replica_identity is not null then
    execute format('alter table %s replica identity %s', tbl, e.previous_replica_identity);
  end if;
  -- The version column stays: it holds data, and dropping a column is the DBA's call.
  delete from walcast.exposed_tables where relid = tbl;
  perform pg_logical_emit_message(true, 'walcast.config',
                                  jsonb_build_object('op', 'conceal', 'table', qualified, 'publication', e.publication)::text);
end
$$;

do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'walcast') then
    create publication walcast;
  end if;
end
$$;

insert into walcast.schema_version (version) values (1) on conflict do nothing;
