-- decision_vault -> the Worker: the opt-in Supabase Database Webhook (issue 13).
--
-- Applying this file changes nothing by itself: it only creates two functions. The webhook exists
-- once you call, in the SQL Editor (as the `postgres` role), with your Worker's URL and the value
-- of its secret SUPABASE_WEBHOOK_SECRET (at least 16 characters; e.g. `openssl rand -hex 32`):
--
--   select public.decision_vault_enable_webhook('https://decision-sync.<you>.workers.dev', '<secret>');
--
-- and it is gone again after `select public.decision_vault_disable_webhook();`.
--
-- The webhook is an AFTER INSERT OR UPDATE OR DELETE trigger named `decision_vault_webhook` that
-- calls Supabase's `supabase_functions.http_request` (the function behind Database → Webhooks,
-- which sends through pg_net) with
--   url      <worker>/webhooks/supabase
--   method   POST
--   headers  {"Content-Type": "application/json", "x-sync-webhook-secret": "<secret>"}
--   params   {}
--   timeout  5000 ms
-- so it shows in the dashboard under Database → Webhooks like one made there. The payload is
-- Supabase's: {"type", "table", "schema", "record", "old_record"}. Writes the sync makes through
-- its bulk write-back function (`decision_sync.writer = 'on'`) do not fire it: they are the sync's
-- own echo. Like every Database Webhook, the headers (so the secret) are stored in the trigger's
-- definition, readable by database administrators.
--
-- Idempotent: safe to apply twice; enabling again replaces the trigger (new URL or secret).
-- Apply with `supabase db push`, or
-- `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -1 -f supabase/migrations/20261202000000_decision_vault_webhook.sql`.

create or replace function public.decision_vault_enable_webhook(worker_url text, secret text)
returns text
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  base    text := regexp_replace(btrim(coalesce(worker_url, '')), '/+$', '');
  url     text;
  headers text;
begin
  if base !~* '^https?://[^/?#@[:space:]]+(/[^?#[:space:]]*)?$' then
    raise exception 'decision_vault_enable_webhook: % is not a URL', quote_literal(coalesce(worker_url, 'null'))
      using errcode = '22023',
            hint = 'Pass the Worker''s URL, e.g. https://decision-sync.<you>.workers.dev (the path /webhooks/supabase is added).';
  end if;
  if secret is null or length(secret) < 16 or secret ~ '[[:space:]]' then
    raise exception 'decision_vault_enable_webhook: the secret must be at least 16 characters, without spaces'
      using errcode = '22023',
            hint = 'Use the value of the Worker''s secret SUPABASE_WEBHOOK_SECRET (e.g. from `openssl rand -hex 32`).';
  end if;
  if to_regprocedure('supabase_functions.http_request()') is null then
    raise exception 'decision_vault_enable_webhook: supabase_functions.http_request() does not exist'
      using errcode = '42883',
            hint = 'Enable Database Webhooks first (dashboard: Database → Webhooks → Enable Webhooks), then run this again.';
  end if;
  url := case when base ~* '/webhooks/supabase$' then base else base || '/webhooks/supabase' end;
  headers := jsonb_build_object('Content-Type', 'application/json', 'x-sync-webhook-secret', secret)::text;
  drop trigger if exists decision_vault_webhook on public.decision_vault;
  execute format(
    'create trigger decision_vault_webhook
       after insert or update or delete on public.decision_vault
       for each row
       when (coalesce(current_setting(''decision_sync.writer'', true), '''') <> ''on'')
       execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
    url, 'POST', headers, '{}', '5000');
  return url;
end
$$;

create or replace function public.decision_vault_disable_webhook()
returns boolean
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  existed boolean;
begin
  select exists (
    select from pg_catalog.pg_trigger
    where tgrelid = 'public.decision_vault'::regclass and tgname = 'decision_vault_webhook'
  ) into existed;
  drop trigger if exists decision_vault_webhook on public.decision_vault;
  return existed;
end
$$;

-- Administrators only (the SQL Editor's `postgres` role): not callable through the REST API.
revoke all on function public.decision_vault_enable_webhook(text, text) from public;
revoke all on function public.decision_vault_disable_webhook() from public;
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('revoke all on function public.decision_vault_enable_webhook(text, text) from %I', r);
      execute format('revoke all on function public.decision_vault_disable_webhook() from %I', r);
    end if;
  end loop;
end
$$;
