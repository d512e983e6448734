-- walcast schema, migration 003: the instances of a fleet, so that a departed instance's
-- slot can be dropped (DESIGN §7). Rules for sql/: see 002's header.
--
-- Each live instance records its slot here every few seconds (`seen_at`); one live
-- instance at a time (an advisory lock) drops the inactive slot of an instance of its own
-- publication that has not been seen for WALCAST_SLOT_ORPHAN_AFTER seconds. A slot with no
-- row here (another application's, or a walcast instance that never ran this version) is
-- never dropped by walcast: doctor names it.

create table if not exists walcast.instances (
  slot_name   name primary key,
  publication text not null,
  instance    text not null,
  started_at  timestamptz not null default now(),
  seen_at     timestamptz not null default now()
);

-- Everything `walcast serve` needs, for the exposures of one publication (null: all).
create or replace function walcast.required_privileges(publication text default null)
returns table (kind text, object text, column_name text, privilege text, for_writes boolean)
language sql stable set search_path = pg_catalog, pg_temp as $$
  select 'schema', 'walcast', null, 'USAGE', false
  union all
  select 'table', t, null, 'SELECT', false
    from unnest(array['walcast.exposed_tables', 'walcast.presence_key', 'walcast.migrations',
                      'walcast.server_roles', 'walcast.idempotency_keys', 'walcast.instances']) t
  union all
  select 'table', t, null, p, true
    from unnest(array['walcast.idempotency_keys', 'walcast.instances']) t, unnest(array['INSERT', 'UPDATE', 'DELETE']) p
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

-- Servers that allow_server() named before this version need the new privileges too.
do $$
declare
  server regrole;
begin
  for server in select role from walcast.server_roles loop
    perform walcast.allow_server(server::text);
  end loop;
end
$$;

revoke execute on all functions in schema walcast from public;

insert into walcast.migrations (name) values ('003_instances.sql') on conflict do nothing;
