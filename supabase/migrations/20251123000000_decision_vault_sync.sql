-- decision_vault <-> Notion sync: table, sync columns, indexes, trigger, bulk write-back, grants.
--
-- Idempotent: safe to apply twice, and to an existing `decision_vault` that has only some of the
-- columns (e.g. id, decision, type, date, created_at, notion_page_id, notion_synced). Applies on
-- Supabase and on a bare PostgreSQL (>= 13): grants are made only to roles that exist.
--
-- Apply with `supabase db push` (or `supabase migration up` locally), or
-- `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -1 -f supabase/migrations/20251123000000_decision_vault_sync.sql`.

-- 1. The table, as the sync expects it.
create table if not exists public.decision_vault (
  id             uuid primary key default gen_random_uuid(),
  decision       text not null,
  type           text not null,
  date           date not null,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  notion_page_id text,
  notion_synced  boolean not null default false,
  checksum       text,
  deleted_at     timestamptz
);

-- 2. Columns an older table may lack. (`created_at` / `updated_at` are added without a default
--    first, so that existing rows get `updated_at = created_at` below rather than "now".)
alter table public.decision_vault
  add column if not exists created_at     timestamptz,
  add column if not exists updated_at     timestamptz,
  add column if not exists notion_page_id text,
  add column if not exists notion_synced  boolean not null default false,
  add column if not exists checksum       text,
  add column if not exists deleted_at     timestamptz;

-- Give the columns the defaults and NOT NULLs the sync relies on. (These updates run before the
-- trigger below exists on a first application; on a later one they touch no row.)
update public.decision_vault set created_at = now() where created_at is null;
update public.decision_vault set updated_at = coalesce(created_at, now()) where updated_at is null;
update public.decision_vault set notion_synced = false where notion_synced is null;
alter table public.decision_vault
  alter column created_at    set default now(),
  alter column created_at    set not null,
  alter column updated_at    set default now(),
  alter column updated_at    set not null,
  alter column notion_synced set default false,
  alter column notion_synced set not null;

-- 3. One row per Notion page: `notion_page_id` is unique (the sync's inserts rely on it with
--    `on_conflict=notion_page_id`). Added only when no unique index on that column alone exists.
do $$
begin
  if not exists (
    select 1
    from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = 'public.decision_vault'::regclass
      and i.indisunique
      and i.indnkeyatts = 1
      and i.indpred is null
      and i.indexprs is null
      and a.attname = 'notion_page_id'
  ) then
    if exists (
      select 1 from public.decision_vault
      where notion_page_id is not null
      group by notion_page_id having count(*) > 1
    ) then
      raise exception 'decision_vault: several rows share the same notion_page_id, so it cannot be made unique'
        using hint = 'Find them with: select notion_page_id, count(*) from decision_vault '
                     'where notion_page_id is not null group by 1 having count(*) > 1; '
                     'then clear notion_page_id on all but one row of each and apply the migration again.';
    end if;
    alter table public.decision_vault
      add constraint decision_vault_notion_page_id_key unique (notion_page_id);
  end if;
end
$$;

-- 4. Indexes for the sync's reads: the incremental keyset, and the unlinked rows.
create index if not exists decision_vault_updated_at_id_idx
  on public.decision_vault (updated_at, id);
create index if not exists decision_vault_unlinked_idx
  on public.decision_vault (created_at, id)
  where notion_page_id is null and deleted_at is null;

-- 5. `updated_at` on every update; `notion_synced = false` when a user (not the sync) changes
--    the content or the deletion state, so `notion_synced` truthfully means "row and page agree".
--    The sync marks its writes with the transaction-local setting `decision_sync.writer = 'on'`
--    (set by decision_vault_sync_write_back below), or, for its per-row PATCH fallback, with the
--    request header `X-Decision-Sync-Writer: on`, which PostgREST exposes as `request.headers`.
--    A PATCH so marked may also carry its precondition in the body (`"updated_at": <value read>`,
--    for REST servers that cannot filter a PATCH on a timestamptz): when that value is not the
--    row's current `updated_at`, the row changed since the sync read it and is left alone.
create or replace function public.decision_vault_sync_before_update()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  by_setting boolean := coalesce(current_setting('decision_sync.writer', true), '') = 'on';
  by_header  boolean := false;
  headers    text;
begin
  if not by_setting then
    headers := current_setting('request.headers', true);
    if headers like '%x-decision-sync-writer%' then
      begin
        by_header := coalesce(headers::json ->> 'x-decision-sync-writer', '') = 'on';
      exception when others then
        by_header := false;
      end;
    end if;
  end if;
  if by_header and new.updated_at is distinct from old.updated_at then
    return null;
  end if;
  new.updated_at := now();
  if not (by_setting or by_header)
     and (new.decision   is distinct from old.decision
       or new.type       is distinct from old.type
       or new.date       is distinct from old.date
       or new.deleted_at is distinct from old.deleted_at) then
    new.notion_synced := false;
  end if;
  return new;
end
$$;

drop trigger if exists decision_vault_sync_before_update on public.decision_vault;
create trigger decision_vault_sync_before_update
  before update on public.decision_vault
  for each row execute function public.decision_vault_sync_before_update();

-- 6. Bulk conditional write-back (`POST /rest/v1/rpc/decision_vault_sync_write_back`).
--    `updates`: a JSON array of
--      {"id": uuid, "expected_updated_at": timestamptz text or null,
--       optional "decision", "type", "date", "notion_page_id", "checksum", "notion_synced", "deleted_at"}
--    A key that is present sets its column (JSON null = SQL NULL, e.g. "deleted_at": null clears
--    it); an absent key leaves the column alone. An update applies only when the row's
--    `updated_at` still equals `expected_updated_at` (when given). One result row per input.
create or replace function public.decision_vault_sync_write_back(updates jsonb)
returns table (id uuid, applied boolean)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  u        jsonb;
  changed  integer;
  previous text := current_setting('decision_sync.writer', true);
begin
  if updates is null or jsonb_typeof(updates) <> 'array' then
    raise exception 'decision_vault_sync_write_back: `updates` must be a JSON array'
      using errcode = '22023';
  end if;
  perform set_config('decision_sync.writer', 'on', true);
  for u in select value from jsonb_array_elements(updates) loop
    if jsonb_typeof(u) <> 'object' or not (u ? 'id') then
      raise exception 'decision_vault_sync_write_back: each update must be an object with an "id"'
        using errcode = '22023';
    end if;
    update public.decision_vault as d set
      decision       = case when u ? 'decision'       then u ->> 'decision'                      else d.decision end,
      type           = case when u ? 'type'           then u ->> 'type'                          else d.type end,
      date           = case when u ? 'date'           then (u ->> 'date')::date                  else d.date end,
      notion_page_id = case when u ? 'notion_page_id' then u ->> 'notion_page_id'                else d.notion_page_id end,
      checksum       = case when u ? 'checksum'       then u ->> 'checksum'                      else d.checksum end,
      notion_synced  = case when u ? 'notion_synced'  then coalesce((u ->> 'notion_synced')::boolean, false)
                                                      else d.notion_synced end,
      deleted_at     = case when u ? 'deleted_at'     then (u ->> 'deleted_at')::timestamptz     else d.deleted_at end
    where d.id = (u ->> 'id')::uuid
      and (u ->> 'expected_updated_at' is null
           or d.updated_at = (u ->> 'expected_updated_at')::timestamptz);
    get diagnostics changed = row_count;
    id := (u ->> 'id')::uuid;
    applied := changed > 0;
    return next;
  end loop;
  perform set_config('decision_sync.writer', coalesce(previous, ''), true);
end
$$;

-- 7. Access: only the service role reaches the table (RLS on, no policies; Supabase's
--    service_role bypasses RLS). Nothing for anon / authenticated.
alter table public.decision_vault enable row level security;

revoke all on function public.decision_vault_sync_write_back(jsonb) from public;
revoke all on function public.decision_vault_sync_before_update() from public;

do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant all on table public.decision_vault to service_role;
    grant execute on function public.decision_vault_sync_write_back(jsonb) to service_role;
  end if;
  if exists (select from pg_roles where rolname = 'anon') then
    revoke all on table public.decision_vault from anon;
    revoke all on function public.decision_vault_sync_write_back(jsonb) from anon;
    revoke all on function public.decision_vault_sync_before_update() from anon;
  end if;
  if exists (select from pg_roles where rolname = 'authenticated') then
    revoke all on table public.decision_vault from authenticated;
    revoke all on function public.decision_vault_sync_write_back(jsonb) from authenticated;
    revoke all on function public.decision_vault_sync_before_update() from authenticated;
  end if;
end
$$;

-- 8. Let PostgREST see the new columns and function without a restart.
notify pgrst, 'reload schema';
