-- walcast schema, migration 004: row policies (DESIGN §10). Rules for sql/: see 002's header.
--
-- expose() takes two more settings, after the others so that every existing call, by name
-- or by position, keeps working; both reach servers in the exposure JSON:
--   * `policy` ("policy": text or null): a PostgREST-style rule over the table's columns,
--     hidden ones included. walcast.check_policy() refuses here, naming the problem, what a
--     server would refuse: the grammar of src/filters/parse-filter.ts, the operator rules of
--     check-filter.ts and column-kinds.ts, FILTER_LIMITS, and literals Postgres cannot read
--     as their column's type (test/integration/policy-grammar.test.ts compares the two).
--   * `set_on_insert` ("setOnInsert": {column: "$sub" | "$claim.NAME"} or null): columns an
--     insert takes from the token, as it takes the tenant column. Servers get INSERT on them.
--
-- Columns are followed by attnum, as hidden and writable ones are. A policy is kept as the
-- text servers parse, with the attnum of each condition's column beside it: ALTER TABLE
-- (the DDL event trigger) and reexpose() write a renamed column's new name into the text,
-- and an ALTER TABLE after which the policy would no longer check (a retyped column whose
-- literal no longer reads, an operator its new type lacks) is refused. set_on_insert is
-- kept by attnum. Dropping a column that either uses is refused, as for the tenant column.

alter table walcast.exposed_tables
  add column if not exists policy text,
  -- The attnum of each condition's column, in the order the conditions are written.
  add column if not exists policy_attnums int2[],
  -- {"<attnum>": "$sub" | "$claim.NAME"}; null: nothing is set on insert.
  add column if not exists set_on_insert jsonb;

-- Length in UTF-16 code units: what JavaScript's `length` counts, and so FILTER_LIMITS.
create or replace function walcast.utf16_length(t text) returns int
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select char_length(t) + (select count(*)::int from unnest(string_to_array(t, null)) c where ascii(c) > 65535)
$$;

-- Up to 40 characters of user text, JSON-quoted, for an error message.
create or replace function walcast.policy_excerpt(t text) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select to_jsonb(case when char_length(t) > 40 then left(t, 40) || '…' else t end)::text
$$;

-- The lexical pieces of a policy. Each reads from `ch` (the text as one element per
-- character) at `pos` and returns what it read and the position after it.

-- An unquoted value: at the top level the rest of the text, inside a group up to , or ).
create or replace function walcast.policy_raw(ch text[], pos int, top boolean, out word text, out next int)
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
  n     int := coalesce(array_length(ch, 1), 0);
  start int := pos;
begin
  if top then
    word := array_to_string(ch[pos:n], '');
    next := n + 1;
    return;
  end if;
  while pos <= n and ch[pos] <> ',' and ch[pos] <> ')' loop
    if ch[pos] = '(' or ch[pos] = '"' then
      raise exception 'policy: a value holding , ( ) or " is written in double quotes: %',
        walcast.policy_excerpt(array_to_string(ch[start:start + 40], '')) using errcode = '22023';
    end if;
    pos := pos + 1;
  end loop;
  word := array_to_string(ch[start:pos - 1], '');
  next := pos;
end
$$;

-- "…" at `pos`: a backslash takes the next character as it is.
create or replace function walcast.policy_quoted(ch text[], pos int, out value text, out next int)
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
  n     int := coalesce(array_length(ch, 1), 0);
  start int := pos;
  chars text[] := '{}';
begin
  pos := pos + 1;
  while pos <= n loop
    if ch[pos] = '"' then
      value := array_to_string(chars, '');
      next := pos + 1;
      return;
    end if;
    if ch[pos] = E'\\' then
      exit when pos = n;
      pos := pos + 1;
    end if;
    chars := array_append(chars, ch[pos]);
    pos := pos + 1;
  end loop;
  raise exception 'policy: unterminated quote in %', walcast.policy_excerpt(array_to_string(ch[start:start + 40], ''))
    using errcode = '22023';
end
$$;

-- A reference to the token: $sub or $claim.NAME (a literal that begins with $ is quoted).
create or replace function walcast.policy_reference(ch text[], pos int, top boolean, out next int)
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
  word text;
begin
  select r.word, r.next into word, next from walcast.policy_raw(ch, pos, top) r;
  if word = '$sub' or (word like '$claim.%' and char_length(word) > char_length('$claim.')) then
    return;
  end if;
  raise exception 'policy: % is neither $sub nor $claim.NAME; a literal that begins with $ is written in double quotes',
    walcast.policy_excerpt(word) using errcode = '22023';
end
$$;

-- One value: a reference (literal null), a quoted literal or an unquoted one. `used`
-- counts literals against FILTER_LIMITS.maxValues.
create or replace function walcast.policy_operand(ch text[], pos int, top boolean, inout used int, out literal text, out next int)
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
begin
  if ch[pos] = '$' then
    select r.next into next from walcast.policy_reference(ch, pos, top) r;
    return;
  end if;
  used := used + 1;
  if used > 256 then
    raise exception 'policy: at most 256 values' using errcode = '54000';
  end if;
  if ch[pos] = '"' then
    select q.value, q.next into literal, next from walcast.policy_quoted(ch, pos) q;
  else
    select r.word, r.next into literal, next from walcast.policy_raw(ch, pos, top) r;
  end if;
end
$$;

-- A policy's conditions, in the order they are written (none for null), or an error
-- (22023; 54000 past a bound) saying what is malformed. The grammar is parse-filter.ts's, for one text:
--
--   policy     col=op.value   col=not.op.value   or=(item,…)   and=(…)   not.or=(…)   not.and=(…)
--   item       col.op.value   col.not.op.value   not.col.op.value   or(…)   and(…)   not.or(…)
--   op         eq neq lt lte gt gte  in.(a,"b,c")  in.$claim.NAME  is.null|true|false|unknown
--   value      text   "quoted, with \" and \\ escapes"   $sub   $claim.NAME
--
-- A top-level condition's column is the text before the first `=` and its value the rest
-- of the text; inside a group a column ends at `.` (or is quoted) and a value at , or ).
-- Groups nest by a stack of their kinds: nothing else of an enclosing group is needed once
-- its items are checked one by one. Per condition: its column as written and where that
-- stands in the text (`name_from` up to, not including, `name_to`: what a rename rewrites),
-- the operator, the literals (references are not) and is.'s word.
create or replace function walcast.parse_policy(policy text)
returns table (term int, column_name text, name_from int, name_to int, top_level boolean,
               operator text, literals text[], is_value text)
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
  ch       text[] := string_to_array(policy, null);
  n        int := coalesce(array_length(ch, 1), 0);
  equals   int := strpos(policy, '=');
  key      text;
  groups   text[] := '{}';  -- kinds of the groups open around pos, innermost last
  top      boolean;
  pos      int;
  start    int;
  name     text;
  op       text;
  word     text;
  lit      text;
  lits     text[];
  items    int;
  used     int := 0;
  c        text;
begin
  term := 0;
  if policy is null then
    return;
  end if;
  if walcast.utf16_length(policy) > 8192 then
    raise exception 'policy: at most 8192 characters of filter text' using errcode = '54000';
  end if;
  if equals <= 1 then
    raise exception 'policy: % is not column=operator.value, or=(…) or and=(…)', walcast.policy_excerpt(policy)
      using errcode = '22023';
  end if;
  key := left(policy, equals - 1);
  top := not (ch[equals + 1] = '(' and key in ('or', 'and', 'not.or', 'not.and'));
  if top then
    pos := equals + 1;
  else
    groups := array[case when key like 'not.%' then substr(key, 5) else key end];
    pos := equals + 2;
  end if;

  <<conditions>>
  loop
    if top then
      name := key;
      name_from := 1;
      name_to := equals;
    else
      -- An item: [not.] then a group or a condition.
      if array_to_string(ch[pos:pos + 3], '') = 'not.' then
        pos := pos + 4;
      end if;
      if array_to_string(ch[pos:pos + 2], '') = 'or(' or array_to_string(ch[pos:pos + 3], '') = 'and(' then
        if cardinality(groups) + 1 > 8 then
          raise exception 'policy: groups nest at most 8 deep' using errcode = '54000';
        end if;
        groups := groups || case ch[pos] when 'o' then 'or' else 'and' end;
        pos := pos + case ch[pos] when 'o' then 3 else 4 end;
        continue conditions;
      end if;
      name_from := pos;
      if ch[pos] = '"' then
        select q.value, q.next into name, pos from walcast.policy_quoted(ch, pos) q;
      else
        while pos <= n and ch[pos] not in ('.', ',', '(', ')', '"') loop
          pos := pos + 1;
        end loop;
        name := array_to_string(ch[name_from:pos - 1], '');
        if name = '' then
          raise exception 'policy: expected a condition col.op.value at %',
            walcast.policy_excerpt(array_to_string(ch[name_from:name_from + 40], '')) using errcode = '22023';
        end if;
      end if;
      name_to := pos;
      if ch[pos] is distinct from '.' then
        raise exception 'policy: % is not followed by .operator.value', walcast.policy_excerpt(name) using errcode = '22023';
      end if;
      pos := pos + 1;
    end if;

    -- The condition after its column: [not.]op.value.
    term := term + 1;
    if term > 64 then
      raise exception 'policy: at most 64 conditions' using errcode = '54000';
    end if;
    if array_to_string(ch[pos:pos + 3], '') = 'not.' then
      pos := pos + 4;
    end if;
    start := pos;
    while pos <= n and ascii(ch[pos]) between ascii('a') and ascii('z') loop
      pos := pos + 1;
    end loop;
    op := array_to_string(ch[start:pos - 1], '');
    if op not in ('eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is') then
      raise exception 'policy: unknown operator in % (eq, neq, lt, lte, gt, gte, in, is)',
        walcast.policy_excerpt(array_to_string(case when top then ch[start:n] else ch[start:pos] end, ''))
        using errcode = '22023';
    end if;
    if ch[pos] is distinct from '.' then
      raise exception 'policy: % needs a value: %.value', op, op using errcode = '22023';
    end if;
    pos := pos + 1;
    lits := '{}';
    word := null;
    if op = 'is' then
      select r.word, r.next into word, pos from walcast.policy_raw(ch, pos, top) r;
      if word not in ('null', 'true', 'false', 'unknown') then
        raise exception 'policy: is. takes null, true, false or unknown' using errcode = '22023';
      end if;
    elsif op = 'in' and ch[pos] = '$' then
      select r.next into pos from walcast.policy_reference(ch, pos, top) r;
    elsif op = 'in' then
      if ch[pos] is distinct from '(' then
        raise exception 'policy: in. takes a list in parentheses: in.(a,b), or $claim.NAME' using errcode = '22023';
      end if;
      pos := pos + 1;
      if ch[pos] = ')' then
        raise exception 'policy: in.(…) takes 1 to 100 values' using errcode = '22023';
      end if;
      items := 0;
      loop
        if items = 100 then
          raise exception 'policy: in.(…) takes at most 100 values' using errcode = '54000';
        end if;
        select o.used, o.literal, o.next into used, lit, pos from walcast.policy_operand(ch, pos, false, used) o;
        if lit is not null then
          lits := lits || lit;
        end if;
        items := items + 1;
        c := ch[pos];
        pos := pos + 1;
        exit when c = ')';
        if c is distinct from ',' then
          raise exception 'policy: %', case when c is null then 'in.(… is not closed by )'
                                             else format('unexpected %s in in.(…)', walcast.policy_excerpt(c)) end
            using errcode = '22023';
        end if;
      end loop;
    else
      select o.used, o.literal, o.next into used, lit, pos from walcast.policy_operand(ch, pos, top, used) o;
      if lit is not null then
        lits := lits || lit;
      end if;
    end if;
    if top and pos <= n then
      raise exception 'policy: unexpected text after the value of %', walcast.policy_excerpt(name) using errcode = '22023';
    end if;

    column_name := name;
    top_level := top;
    operator := op;
    literals := lits;
    is_value := word;
    return next;
    exit conditions when top;

    -- After an item: `,` and the next item, or `)` closing its group (and perhaps more).
    loop
      c := ch[pos];
      pos := pos + 1;
      if c = ',' then
        exit;
      elsif c = ')' then
        groups := groups[1:cardinality(groups) - 1];
        exit conditions when cardinality(groups) = 0;
      else
        raise exception 'policy: %(…) items are separated by commas and closed by )', groups[cardinality(groups)]
          using errcode = '22023';
      end if;
    end loop;
  end loop;

  if pos <= n then
    raise exception 'policy: unexpected text after the closing parenthesis of %=(…)', key using errcode = '22023';
  end if;
end
$$;

-- A table's columns as a policy sees them: every one, hidden ones too, with what its type
-- allows (src/filters/filter-columns.ts and column-kinds.ts): its base type once domains
-- are unwrapped, that type's name without modifier (what literals are read as), and its
-- kind: opaque (only is.null), label and bpchar (also eq, neq, in), bool (also is.true,
-- is.false, is.unknown and the orderings) or one of the other ordered kinds.
create or replace function walcast.policy_columns(tbl regclass)
returns table (attnum int2, name text, kind text, sql_type text)
language sql stable set search_path = pg_catalog, pg_temp as $$
  with recursive base as (
    select a.attnum, a.atttypid as oid, 0 as depth
      from pg_attribute a where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped
    union all
    select b.attnum, t.typbasetype, b.depth + 1
      from base b join pg_type t on t.oid = b.oid where t.typtype = 'd' and b.depth < 32
  )
  select a.attnum, a.attname::text,
         case
           when t.typcategory = 'A' and t.typelem <> 0 then 'opaque'
           when t.typtype = 'e' then 'label'
           -- Under a nondeterministic collation 'a' = 'A' may hold: not text equality.
           when t.oid in (25, 1043, 19, 1042) and not coalesce(c.collisdeterministic, true) then 'opaque'
           else case t.oid::int
                  when 21 then 'integer' when 23 then 'integer' when 20 then 'integer' when 26 then 'integer'
                  when 1700 then 'numeric' when 700 then 'float' when 701 then 'float' when 16 then 'bool'
                  when 1082 then 'date' when 1114 then 'timestamp' when 1184 then 'timestamptz' when 1083 then 'time'
                  when 2950 then 'uuid' when 17 then 'bytea'
                  when 25 then 'label' when 1043 then 'label' when 19 then 'label' when 18 then 'label'
                  when 1266 then 'label' when 869 then 'label' when 650 then 'label' when 829 then 'label'
                  when 1042 then 'bpchar'
                  else 'opaque'
                end
         end,
         format_type(t.oid, -1)
    from pg_attribute a
    join lateral (select b.oid from base b where b.attnum = a.attnum order by b.depth desc limit 1) b on true
    join pg_type t on t.oid = b.oid
    left join pg_collation c on c.oid = a.attcollation
   where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped
   order by a.attnum
$$;

-- Refuses, naming the problem, a policy a server would refuse for this table: malformed
-- (22023) or past a bound (54000), an unknown column (42703), an operator its column's type
-- does not allow (42883), a literal Postgres cannot read as its column's type (the cast's
-- own error). Errors come in the server's order: the text, then each condition, then each
-- literal. Literals are read under the settings servers read values with (TEXT_FORMAT), so
-- their output text, whose length FILTER_LIMITS.maxCanonicalLength bounds, is the same.
create or replace function walcast.check_policy(tbl regclass, policy text) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
set DateStyle = 'ISO' set TimeZone = 'UTC' set bytea_output = 'hex' set extra_float_digits = 1 set IntervalStyle = 'postgres'
as $$
declare
  by_name  jsonb;
  t        record;
  col      jsonb;
  kind     text;
  lit      text;
  -- Every literal, with its column and that column's type, in the order they are written.
  names    text[] := '{}';
  types    text[] := '{}';
  lits     text[] := '{}';
  is_null  boolean;
  shown    text;
  total    int := 0;
begin
  if policy is null then
    return;
  end if;
  select jsonb_object_agg(c.name, jsonb_build_object('kind', c.kind, 'type', c.sql_type)) into by_name
    from walcast.policy_columns(tbl) c;

  -- parse_policy() returns its rows once it has read the whole text: a malformed one is refused first.
  for t in select * from walcast.parse_policy(policy) p order by p.term loop
    col := by_name -> t.column_name;
    if col is null then
      raise exception 'policy: % has no column %', tbl, walcast.policy_excerpt(t.column_name) using errcode = '42703';
    end if;
    kind := col ->> 'kind';
    if t.operator = 'is' then
      if t.is_value <> 'null' and kind <> 'bool' then
        raise exception 'policy: is.% needs a boolean column; % is not', t.is_value, t.column_name using errcode = '42883';
      end if;
    elsif kind = 'opaque' then
      raise exception 'policy: % (%) cannot be compared; only is.null works on it', t.column_name, col ->> 'type'
        using errcode = '42883';
    elsif t.operator in ('lt', 'lte', 'gt', 'gte')
          and kind not in ('integer', 'numeric', 'float', 'bool', 'date', 'timestamp', 'timestamptz', 'time', 'uuid', 'bytea') then
      raise exception 'policy: % needs an ordered type (numbers, booleans, dates, times, uuid, bytea); % (%) supports eq, neq, in and is',
        t.operator, t.column_name, col ->> 'type' using errcode = '42883';
    end if;
    foreach lit in array t.literals loop
      names := names || t.column_name;
      types := types || (col ->> 'type');
      lits := lits || lit;
    end loop;
  end loop;

  for i in 1 .. cardinality(lits) loop
    begin
      -- A quoted literal is read by the type's input function, as the server's `$1::type` is.
      execute format('select v is null, pg_catalog.format(''%%s'', v) from (select %L::%s as v) x', lits[i], types[i])
        into is_null, shown;
    exception when data_exception or integrity_constraint_violation then
      raise exception 'policy: % cannot take %: %', names[i], walcast.policy_excerpt(lits[i]), sqlerrm using errcode = sqlstate;
    end;
    if is_null then
      raise exception 'policy: % cannot take %: it reads as NULL', names[i], walcast.policy_excerpt(lits[i]) using errcode = '22004';
    end if;
    total := total + walcast.utf16_length(shown);
  end loop;
  if total > 16384 then
    raise exception 'policy: the values are longer than 16384 characters once Postgres reads them' using errcode = '54000';
  end if;
end
$$;

-- The policy with each condition's column under its name now (from `attnums`): what a
-- rename must leave behind. Inside a group a new name is written in double quotes unless
-- it is a plain identifier (`not` would read as negation); a top-level condition's name
-- is never quoted, so it cannot hold `=` (the first `=` ends it).
create or replace function walcast.policy_renamed(tbl regclass, policy text, attnums int2[]) returns text
language plpgsql stable set search_path = pg_catalog, pg_temp as $$
declare
  t       record;
  named   text;
  renamed text := '';
  done    int := 1;
begin
  if policy is null then
    return null;
  end if;
  for t in select * from walcast.parse_policy(policy) p order by p.term loop
    select a.attname::text into named
      from pg_attribute a where a.attrelid = tbl and a.attnum = attnums[t.term] and not a.attisdropped;
    if named is null then
      raise exception 'walcast: the column % of the policy of % no longer exists', walcast.policy_excerpt(t.column_name), tbl
        using errcode = '42703', hint = 'Run walcast.expose() with a policy over the table''s columns now, or walcast.conceal().';
    end if;
    continue when named = t.column_name;
    if t.top_level and strpos(named, '=') > 0 then
      raise exception 'walcast: the policy of % names % at its top level, where a column name cannot hold "="', tbl, named
        using errcode = '22023', hint = 'Run walcast.expose() with the policy written as and=(…), the name in double quotes.';
    end if;
    renamed := renamed || substr(policy, done, t.name_from - done)
               || case when t.top_level or (named ~ '^[A-Za-z_][A-Za-z0-9_$]*$' and named <> 'not') then named
                       else '"' || replace(replace(named, E'\\', E'\\\\'), '"', E'\\"') || '"' end;
    done := t.name_to;
  end loop;
  return renamed || substr(policy, done);
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
                                            then walcast.column_names(c.oid, e.writable_attnums) end),
           'policy', e.policy,
           'setOnInsert', (select jsonb_object_agg(a.attname, s.value)
                             from jsonb_each(e.set_on_insert) s
                             join pg_attribute a on a.attrelid = c.oid and a.attnum = s.key::int2 and not a.attisdropped))
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where c.oid = e.relid
$$;

update walcast.exposed_tables e set exposure = walcast.exposure_of(e)
 where e.exposure is distinct from walcast.exposure_of(e);

-- What a server needs on one exposed table: SELECT (streams' filters and policies,
-- snapshots); INSERT on the writable columns, the tenant column and the columns set on
-- insert (hidden or not); UPDATE on the writable columns and the version column, and
-- DELETE, when there is a version column (edits by key need one); USAGE on the sequences
-- of column defaults. Writable: the listed columns, or every visible column but the
-- tenant and version columns and those set on insert (which, like the tenant, come from
-- the token only).
create or replace function walcast.table_privileges(tbl regclass)
returns table (kind text, object text, column_name text, privilege text, for_writes boolean)
language sql stable set search_path = pg_catalog, pg_temp as $$
  with e as (select * from walcast.exposed_tables where relid = tbl),
  from_token as (select k.key::int2 as attnum from e, jsonb_object_keys(e.set_on_insert) as k(key)),
  cols as (select a.attnum, a.attname::text as name
             from pg_attribute a, e
            where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
              and not a.attnum = any(e.hidden_attnums)),
  writable as (select c.attnum, c.name from cols c, e
                where c.attnum is distinct from e.tenant_attnum
                  and (case when e.writable_attnums is null
                            then c.attnum is distinct from e.version_attnum and c.attnum not in (select attnum from from_token)
                            else c.attnum = any(e.writable_attnums) end))
  select 'table', tbl::text, null, 'SELECT', false from e
  union all
  select 'column', tbl::text, c.name, 'INSERT', true
    from cols c, e where c.attnum in (select attnum from writable) or c.attnum = e.tenant_attnum
  union all
  select 'column', tbl::text, a.attname::text, 'INSERT', true
    from pg_attribute a join from_token f on f.attnum = a.attnum
   where a.attrelid = tbl and not a.attisdropped
  union all
  select 'column', tbl::text, c.name, 'UPDATE', true
    from cols c, e where e.version_attnum is not null
                     and (c.attnum in (select attnum from writable) or c.attnum = e.version_attnum)
  union all
  select 'table', tbl::text, null, 'DELETE', true from e where e.version_attnum is not null
  union all
  select 'sequence', s::text, null, 'USAGE', true from e, walcast.default_sequences(tbl) s
$$;

-- 002's expose() had six parameters: a second function beside it would make every call
-- that leaves the new ones out ambiguous.
drop function if exists walcast.expose(regclass, text, text, text[], text[], text);

create or replace function walcast.expose(
  tbl              regclass,
  tenant_column    text    default null,
  version_column   text    default null,
  hidden_columns   text[]  default '{}',
  writable_columns text[]  default null,
  publication      text    default 'walcast',
  policy           text    default null,
  set_on_insert    jsonb   default null
) returns jsonb
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  kind       "char";
  tenant     int2;
  version    int2;
  hidden     int2[];
  writable   int2[];
  terms      int2[];
  inserts    jsonb := '{}';
  setting    record;
  target     int2;
  source     text;
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

  -- After the version column exists: a policy may use it.
  if expose.policy is not null then
    perform walcast.check_policy(tbl, expose.policy);
    select array_agg(walcast.attnum_of(tbl, p.column_name) order by p.term) into terms from walcast.parse_policy(expose.policy) p;
  end if;

  -- JSON null, like SQL null, sets nothing.
  if expose.set_on_insert is not null and expose.set_on_insert <> 'null' then
    if jsonb_typeof(expose.set_on_insert) <> 'object' then
      raise exception 'walcast.expose: set_on_insert is a JSON object of columns, each "$sub" or "$claim.NAME", not %',
        expose.set_on_insert using errcode = '22023';
    end if;
    for setting in select s.key, s.value from jsonb_each(expose.set_on_insert) s order by s.key loop
      target := walcast.attnum_of(tbl, setting.key);
      source := setting.value #>> '{}';
      if jsonb_typeof(setting.value) <> 'string' or not (source = '$sub' or (source like '$claim.%' and char_length(source) > 7)) then
        raise exception 'walcast.expose: set_on_insert: column % takes "$sub" or "$claim.NAME", not %', setting.key, setting.value
          using errcode = '22023';
      end if;
      if target = tenant then
        raise exception 'walcast.expose: set_on_insert: % is the tenant column, which comes from the token already', setting.key
          using errcode = '22023';
      end if;
      if target = version then
        raise exception 'walcast.expose: set_on_insert: % is the version column, which walcast sets', setting.key
          using errcode = '22023';
      end if;
      if target = any(writable) then
        raise exception 'walcast.expose: set_on_insert: % is also writable: a column set on insert comes from the token only',
          setting.key using errcode = '22023';
      end if;
      if exists (select 1 from pg_attribute a where a.attrelid = tbl and a.attnum = target
                    and (a.attgenerated <> '' or a.attidentity = 'a')) then
        raise exception 'walcast.expose: set_on_insert: % is generated: an insert cannot set it', setting.key
          using errcode = '428C9';
      end if;
      inserts := inserts || jsonb_build_object(target::text, source);
    end loop;
  end if;

  -- Deletes must name their tenant, and a published table must keep accepting the app's
  -- UPDATE and DELETE (Postgres refuses them without a usable replica identity). Changes
  -- are decoded from the tables that hold the rows, so for a partitioned table each leaf
  -- partition needs such an identity. Where one lacks it, use FULL: it always works and
  -- also gives update events their old row. A table with a row policy gets FULL too: a
  -- row that leaves a user's view must reach that user as a delete, and streams are found
  -- by the values a row had as well as those it has (DESIGN §10). What it was is kept for
  -- conceal().
  select e.previous_identities into previous from walcast.exposed_tables e where e.relid = tbl;
  previous := coalesce(previous, '{}');
  for leaf in select relid from pg_partition_tree(tbl) where isleaf
              union select tbl where kind = 'r'
  loop
    if walcast.identity_columns(leaf) is null
       or (expose.policy is not null and walcast.identity_clause(leaf) <> 'full')
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
         (relid, publication, tenant_attnum, version_attnum, hidden_attnums, writable_attnums, previous_identities,
          policy, policy_attnums, set_on_insert)
  values (tbl, expose.publication, tenant, version, hidden, writable, nullif(previous, '{}'),
          expose.policy, terms, nullif(inserts, '{}'))
  on conflict (relid) do update
     set publication = excluded.publication, tenant_attnum = excluded.tenant_attnum,
         version_attnum = excluded.version_attnum, hidden_attnums = excluded.hidden_attnums,
         writable_attnums = excluded.writable_attnums,
         previous_identities = excluded.previous_identities,
         policy = excluded.policy, policy_attnums = excluded.policy_attnums, set_on_insert = excluded.set_on_insert,
         exposed_at = now()
  returning e.exposure into exposure;

  perform walcast.grant_server_access(tbl);
  -- For 0.1.0 instances still running during a rolling upgrade; later versions ignore it.
  perform walcast.announce(tbl);
  return exposure;
end
$$;

-- expose() again with the settings the table has now: what doctor prints to repair a
-- trigger or a publication without touching hidden, writable, tenant or version columns,
-- the policy (under its columns' names now) or what is set on insert.
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
    publication      => e.publication,
    policy           => walcast.policy_renamed(tbl, e.policy, e.policy_attnums),
    set_on_insert    => nullif(walcast.exposure_of(e) -> 'setOnInsert', 'null'));
end
$$;

-- DDL on exposed tables, live (DESIGN §6). As in 002, and: dropping a column that the
-- policy uses or that is set on insert is refused as dropping the tenant column is (the
-- rule or the inserts would change meaning under the DBA's feet).
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
      if dropped.objsubid = any(e.policy_attnums) or e.set_on_insert ? dropped.objsubid::text then
        raise exception 'walcast: % is % of an exposed table', dropped.object_identity,
            case when dropped.objsubid = any(e.policy_attnums) then 'used by the policy' else 'set on insert' end
          using errcode = '2BP01',
                hint = format('Run walcast.expose(%L, …) without it first, or walcast.conceal(%L).', e.relid::text, e.relid::text);
      end if;
      update walcast.exposed_tables x
         set hidden_attnums = array_remove(x.hidden_attnums, dropped.objsubid::int2),
             writable_attnums = array_remove(x.writable_attnums, dropped.objsubid::int2)
       where x.relid::oid = dropped.objid;
    end if;
  end loop;
end
$$;

-- As in 002, and: a policy takes its columns' names now, and must still check (a retyped
-- column may no longer take its literal or operator): if not, the ALTER TABLE is refused.
create or replace function walcast.on_alter_table() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  tbl     oid;
  exposed walcast.exposed_tables;
  renamed text;
begin
  for tbl in select distinct c.objid from pg_event_trigger_ddl_commands() c
               join walcast.exposed_tables e on e.relid::oid = c.objid
              where c.classid = 'pg_class'::regclass
  loop
    select * into exposed from walcast.exposed_tables x where x.relid::oid = tbl;
    renamed := walcast.policy_renamed(tbl::regclass, exposed.policy, exposed.policy_attnums);
    begin
      perform walcast.check_policy(tbl::regclass, renamed);
    exception when others then
      raise exception 'walcast: this ALTER TABLE would break the policy of %: %', tbl::regclass, sqlerrm
        using errcode = sqlstate,
              hint = format('Run walcast.expose(%L, …) with a policy that fits the table as it will be first.', tbl::regclass::text);
    end;
    update walcast.exposed_tables x set policy = renamed, exposure = walcast.exposure_of(x) where x.relid::oid = tbl;
    perform walcast.grant_server_access(tbl::regclass);
    perform walcast.announce(tbl::regclass);
  end loop;
end
$$;

revoke execute on all functions in schema walcast from public;

insert into walcast.migrations (name) values ('004_row_policies.sql') on conflict do nothing;
