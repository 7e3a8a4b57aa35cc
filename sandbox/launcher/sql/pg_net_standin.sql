-- The sandbox's stand-in for Supabase Database Webhooks: pg_net's `net.http_post` / `net.http_get`
-- and Supabase's `supabase_functions.http_request()` trigger function, for a PostgreSQL that has
-- no pg_net (Debian's). Installed by the sandbox launcher into its own database, never by our
-- migration: on Supabase the real ones exist (pg_net extension; Database → Webhooks).
--
-- What it copies, so that SQL written for Supabase runs here unmodified:
-- - net.http_post(url text, body jsonb default '{}', params jsonb default '{}',
--   headers jsonb default '{"Content-Type": "application/json"}', timeout_milliseconds int)
--   returns bigint: the signature documented by pg_net (github.com/supabase/pg_net, docs/api.md,
--   "net.http_post"); net.http_get(url, params, headers, timeout_milliseconds) likewise. Both only
--   enqueue a row in net.http_request_queue, as pg_net does: the request leaves once the
--   transaction commits (a rolled-back change sends nothing). Outcomes land in net._http_response,
--   keyed by the request id, as in pg_net (status_code, content_type, headers, content, timed_out,
--   error_msg, created).
-- - supabase_functions.http_request(): the trigger function behind Supabase's Database Webhooks,
--   with its positional arguments (TG_ARGV): url, method ('POST' | 'GET'), headers (JSON text),
--   params (JSON text), timeout in ms (text). For POST the body is
--   {"type": TG_OP, "table": TG_TABLE_NAME, "schema": TG_TABLE_SCHEMA, "record": NEW, "old_record": OLD}
--   (supabase.com/docs/guides/database/webhooks, "Payload"; the function itself as Supabase's
--   self-hosted init script `webhooks.sql` defines it, including its audit row in
--   supabase_functions.hooks).
--
-- Where it differs from pg_net: the sandbox launcher (sandbox/launcher/src/webhook_delivery.rs)
-- delivers the queue instead of a background worker, only to 127.0.0.1 / localhost, and retries a
-- delivery that failed (network error, timeout, 429, 5xx) a few times; pg_net does not retry.
-- The bookkeeping columns `attempts` and `next_attempt_at` exist for that.

create schema if not exists net;

create table if not exists net.http_request_queue (
  id                   bigserial primary key,
  method               text not null check (method in ('GET', 'POST')),
  url                  text not null,
  headers              jsonb not null default '{}'::jsonb,
  body                 bytea,
  timeout_milliseconds int not null,
  attempts             int not null default 0,
  next_attempt_at      timestamptz not null default clock_timestamp()
);

create table if not exists net._http_response (
  id           bigint primary key,
  status_code  integer,
  content_type text,
  headers      jsonb,
  content      text,
  timed_out    boolean,
  error_msg    text,
  attempts     int not null default 1,
  created      timestamptz not null default now()
);

-- Percent-encodes a query parameter (RFC 3986 unreserved characters kept).
create or replace function net._urlencode_string(value text)
returns text
language sql
immutable
as $$
  select coalesce(string_agg(
    case
      when ch ~ '^[A-Za-z0-9._~-]$' then ch
      else (select string_agg('%' || lpad(upper(to_hex(get_byte(convert_to(ch, 'UTF8'), i))), 2, '0'), '' order by i)
            from generate_series(0, octet_length(ch) - 1) as i)
    end, '' order by n), '')
  from regexp_split_to_table(value, '') with ordinality as t(ch, n)
$$;

create or replace function net._url_with_params(url text, params jsonb)
returns text
language sql
immutable
as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when url like '%?%' then '&' else '?' end ||
         (select string_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value), '&' order by key)
          from jsonb_each_text(params))
  end
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
)
returns bigint
language plpgsql
volatile
security definer
set search_path = net
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._url_with_params(url, params), coalesce(headers, '{}'::jsonb),
          convert_to(coalesce(body, '{}'::jsonb)::text, 'UTF8'), coalesce(timeout_milliseconds, 5000))
  returning id into request_id;
  return request_id;
end
$$;

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
)
returns bigint
language plpgsql
volatile
security definer
set search_path = net
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('GET', net._url_with_params(url, params), coalesce(headers, '{}'::jsonb), null,
          coalesce(timeout_milliseconds, 5000))
  returning id into request_id;
  return request_id;
end
$$;

create schema if not exists supabase_functions;

create table if not exists supabase_functions.hooks (
  id            bigserial primary key,
  hook_table_id integer not null,
  hook_name     text not null,
  created_at    timestamptz not null default now(),
  request_id    bigint
);

create or replace function supabase_functions.http_request()
returns trigger
language plpgsql
security definer
set search_path = supabase_functions
as $$
declare
  request_id bigint;
  payload jsonb;
  url text := TG_ARGV[0]::text;
  method text := TG_ARGV[1]::text;
  headers jsonb default '{}'::jsonb;
  params jsonb default '{}'::jsonb;
  timeout_ms integer default 1000;
begin
  if url is null or url = 'null' then
    raise exception 'url argument is missing';
  end if;
  if method is null or method = 'null' then
    raise exception 'method argument is missing';
  end if;
  if TG_ARGV[2] is null or TG_ARGV[2] = 'null' then
    headers = '{"Content-Type": "application/json"}'::jsonb;
  else
    headers = TG_ARGV[2]::jsonb;
  end if;
  if TG_ARGV[3] is null or TG_ARGV[3] = 'null' then
    params = '{}'::jsonb;
  else
    params = TG_ARGV[3]::jsonb;
  end if;
  if TG_ARGV[4] is null or TG_ARGV[4] = 'null' then
    timeout_ms = 1000;
  else
    timeout_ms = TG_ARGV[4]::integer;
  end if;

  case
    when method = 'GET' then
      select http_get into request_id from net.http_get(url, params, headers, timeout_ms);
    when method = 'POST' then
      payload = jsonb_build_object(
        'old_record', OLD,
        'record', NEW,
        'type', TG_OP,
        'table', TG_TABLE_NAME,
        'schema', TG_TABLE_SCHEMA
      );
      select http_post into request_id from net.http_post(url, payload, params, headers, timeout_ms);
    else
      raise exception 'method argument % is invalid', method;
  end case;

  insert into supabase_functions.hooks (hook_table_id, hook_name, request_id)
  values (TG_RELID, TG_NAME, request_id);

  return NEW;
end
$$;

-- Access as on Supabase: the API roles may call the functions (the trigger function runs as its
-- owner, so a change made through the REST API as service_role can enqueue).
revoke all on function net.http_post(text, jsonb, jsonb, jsonb, int), net.http_get(text, jsonb, jsonb, int) from public;
revoke all on function supabase_functions.http_request() from public;

do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('grant usage on schema net, supabase_functions to %I', r);
      execute format('grant execute on function net.http_post(text, jsonb, jsonb, jsonb, int), net.http_get(text, jsonb, jsonb, int) to %I', r);
      execute format('grant execute on function supabase_functions.http_request() to %I', r);
    end if;
  end loop;
end
$$;
