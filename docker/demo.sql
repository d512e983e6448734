-- The demo table for docker compose (run by the postgres image at first start, after
-- sql/001_walcast.sql). Outside compose and the embedded mode nothing creates it.
create table if not exists public.todos (
  id      bigserial primary key,
  org_id  text not null,
  title   text not null,
  done    boolean not null default false
);
select walcast.expose('public.todos', tenant_column => 'org_id', version_column => 'version',
                      writable_columns => '{title,done}');
