//! The migration against a real PostgreSQL 15 (an ephemeral cluster per test, removed on drop).
//! Missing PostgreSQL binaries fail these tests with a message saying how to install them.
use sync_sandbox::PgCluster;

fn cluster() -> PgCluster {
    match PgCluster::start() {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot start PostgreSQL for the migration tests: {e}"),
    }
}

fn sql(pg: &PgCluster, db: &str, statement: &str) -> String {
    match pg.psql(db, statement) {
        Ok(out) => out,
        Err(e) => panic!("SQL failed: {e}\n--- statement:\n{statement}"),
    }
}

/// The table as an older project (the seed) has it: only some of the columns, nullable flags.
const SEED_TABLE: &str = r#"
create table public.decision_vault (
  id uuid primary key default gen_random_uuid(),
  decision text not null,
  type text not null,
  date date not null,
  created_at timestamptz default now(),
  notion_page_id text,
  notion_synced boolean default false
);
insert into public.decision_vault (id, decision, type, date, created_at, notion_page_id, notion_synced) values
  ('00000000-0000-0000-0000-000000000001', 'Adopt Rust', 'Architecture', '2025-11-01', '2025-11-01 09:00+00', 'page-1', true),
  ('00000000-0000-0000-0000-000000000002', 'Weekly ops review', 'Ops', '2025-11-02', null, null, null),
  ('00000000-0000-0000-0000-000000000003', 'Dark mode', 'UX', '2025-11-03', '2025-11-03 09:00+00', null, false);
"#;

const COLUMNS_QUERY: &str = "select string_agg(column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, ''), ',' order by column_name) \
     from information_schema.columns where table_schema = 'public' and table_name = 'decision_vault'";

fn expected_columns() -> &'static str {
    "checksum:text:YES:,\
     created_at:timestamp with time zone:NO:now(),\
     date:date:NO:,\
     decision:text:NO:,\
     deleted_at:timestamp with time zone:YES:,\
     id:uuid:NO:gen_random_uuid(),\
     notion_page_id:text:YES:,\
     notion_synced:boolean:NO:false,\
     type:text:NO:,\
     updated_at:timestamp with time zone:NO:now()"
}

fn assert_shape(pg: &PgCluster, db: &str) {
    assert_eq!(sql(pg, db, COLUMNS_QUERY), expected_columns());
    let indexes = sql(
        pg,
        db,
        "select string_agg(indexdef, E'\\n' order by indexname) from pg_indexes where tablename = 'decision_vault'",
    );
    assert!(
        indexes.contains(
            "UNIQUE INDEX decision_vault_notion_page_id_key ON public.decision_vault USING btree (notion_page_id)"
        ),
        "{indexes}"
    );
    assert!(
        indexes.contains("decision_vault_updated_at_id_idx ON public.decision_vault USING btree (updated_at, id)"),
        "{indexes}"
    );
    assert!(
        indexes.contains("decision_vault_unlinked_idx ON public.decision_vault USING btree (created_at, id) WHERE ((notion_page_id IS NULL) AND (deleted_at IS NULL))"),
        "{indexes}"
    );
    assert_eq!(
        sql(pg, db, "select count(*) from pg_index where indrelid = 'public.decision_vault'::regclass and indisunique"),
        "2",
        "primary key + one unique index on notion_page_id"
    );
    assert_eq!(sql(pg, db, "select relrowsecurity from pg_class where oid = 'public.decision_vault'::regclass"), "t");
    assert_eq!(sql(pg, db, "select count(*) from pg_policies where tablename = 'decision_vault'"), "0");
    assert_eq!(
        sql(
            pg,
            db,
            "select count(*) from pg_trigger where tgrelid = 'public.decision_vault'::regclass and not tgisinternal"
        ),
        "1"
    );
    assert_eq!(sql(pg, db, "select count(*) from pg_proc where proname = 'decision_vault_sync_write_back'"), "1");
}

#[test]
fn applies_to_an_empty_database_and_again() {
    let pg = cluster();
    pg.create_database("fresh").unwrap();
    pg.apply_migration("fresh").unwrap();
    assert_shape(&pg, "fresh");
    sql(&pg, "fresh", "insert into decision_vault (decision, type, date) values ('x', 'Ops', '2025-01-01')");
    pg.apply_migration("fresh").unwrap();
    assert_shape(&pg, "fresh");
    assert_eq!(sql(&pg, "fresh", "select count(*) from decision_vault"), "1");
}

#[test]
fn upgrades_the_seed_table_and_keeps_its_rows() {
    let pg = cluster();
    pg.create_database("seed").unwrap();
    sql(&pg, "seed", SEED_TABLE);
    pg.apply_migration("seed").unwrap();
    assert_shape(&pg, "seed");
    assert_eq!(
        sql(&pg, "seed", "select string_agg(id::text || ' ' || decision || ' ' || coalesce(notion_page_id, '-') || ' ' || notion_synced || ' ' || (created_at is not null) || ' ' || (updated_at is not null), E'\\n' order by id) from decision_vault"),
        "00000000-0000-0000-0000-000000000001 Adopt Rust page-1 true true true\n\
         00000000-0000-0000-0000-000000000002 Weekly ops review - false true true\n\
         00000000-0000-0000-0000-000000000003 Dark mode - false true true"
    );
    // The first row's updated_at starts from its created_at.
    assert_eq!(
        sql(
            &pg,
            "seed",
            "select updated_at = created_at from decision_vault where id = '00000000-0000-0000-0000-000000000001'"
        ),
        "t"
    );
    pg.apply_migration("seed").unwrap();
    assert_shape(&pg, "seed");
}

#[test]
fn keeps_an_existing_unique_index_and_refuses_duplicate_links_clearly() {
    let pg = cluster();
    pg.create_database("uniq").unwrap();
    sql(&pg, "uniq", SEED_TABLE);
    sql(&pg, "uniq", "create unique index my_own_page_index on decision_vault (notion_page_id)");
    pg.apply_migration("uniq").unwrap();
    assert_eq!(
        sql(&pg, "uniq", "select string_agg(indexname, ',' order by indexname) from pg_indexes where tablename = 'decision_vault' and indexdef like '%UNIQUE%'"),
        "decision_vault_pkey,my_own_page_index"
    );

    pg.create_database("dups").unwrap();
    sql(&pg, "dups", SEED_TABLE);
    sql(&pg, "dups", "update decision_vault set notion_page_id = 'page-1'");
    let error = pg.apply_migration("dups").unwrap_err().to_string();
    assert!(error.contains("several rows share the same notion_page_id"), "{error}");
    assert!(error.contains("then clear notion_page_id on all but one row"), "{error}");
    // Nothing was half-applied (one transaction).
    assert_eq!(sql(&pg, "dups", "select count(*) from information_schema.columns where table_name = 'decision_vault' and column_name = 'checksum'"), "0");
}

#[test]
fn applies_on_a_bare_postgres_without_supabase_roles() {
    let pg = cluster();
    pg.create_bare_database("bare").unwrap();
    assert_eq!(
        sql(&pg, "bare", "select count(*) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')"),
        "0"
    );
    pg.apply_migration("bare").unwrap();
    pg.apply_migration("bare").unwrap();
    assert_shape(&pg, "bare");
}

#[test]
fn only_service_role_reaches_the_table_and_the_function() {
    let pg = cluster();
    pg.create_database("grants").unwrap();
    pg.apply_migration("grants").unwrap();
    let privileges = sql(
        &pg,
        "grants",
        "select string_agg(r || ':' || has_table_privilege(r, 'public.decision_vault', 'select') || has_table_privilege(r, 'public.decision_vault', 'insert') \
           || has_table_privilege(r, 'public.decision_vault', 'update') || has_table_privilege(r, 'public.decision_vault', 'delete') \
           || ':' || has_function_privilege(r, 'public.decision_vault_sync_write_back(jsonb)', 'execute'), ',' order by r) \
         from unnest(array['anon', 'authenticated', 'service_role']) as r",
    );
    assert_eq!(
        privileges,
        "anon:falsefalsefalsefalse:false,authenticated:falsefalsefalsefalse:false,service_role:truetruetruetrue:true"
    );
    // service_role bypasses RLS (as on Supabase) and can use the function; anon cannot.
    sql(&pg, "grants", "insert into decision_vault (id, decision, type, date) values ('00000000-0000-0000-0000-00000000000a', 'x', 'Ops', '2025-01-01')");
    assert_eq!(
        sql(&pg, "grants", "set local role service_role; select applied from public.decision_vault_sync_write_back('[{\"id\":\"00000000-0000-0000-0000-00000000000a\",\"checksum\":\"c\"}]')"),
        "t"
    );
    let denied =
        pg.psql("grants", "set local role anon; select count(*) from public.decision_vault").unwrap_err().to_string();
    assert!(denied.contains("permission denied"), "{denied}");
}

#[test]
fn trigger_keeps_updated_at_and_notion_synced_truthful() {
    let pg = cluster();
    pg.create_database("trig").unwrap();
    pg.apply_migration("trig").unwrap();
    let id = "00000000-0000-0000-0000-0000000000b1";
    sql(&pg, "trig", &format!("insert into decision_vault (id, decision, type, date, notion_synced, updated_at) values ('{id}', 'x', 'Ops', '2025-01-01', true, '2020-01-01+00')"));
    let synced =
        |pg: &PgCluster| sql(pg, "trig", &format!("select notion_synced from decision_vault where id = '{id}'"));
    let touched = |pg: &PgCluster| {
        sql(pg, "trig", &format!("select updated_at > '2021-01-01+00' from decision_vault where id = '{id}'"))
    };

    // Columns that are not content leave notion_synced alone, but updated_at moves on any update.
    sql(&pg, "trig", &format!("update decision_vault set checksum = 'abc', notion_page_id = 'p' where id = '{id}'"));
    assert_eq!((synced(&pg), touched(&pg)), ("t".to_string(), "t".to_string()));
    // Each of decision, type, date, deleted_at edited by a user resets it.
    for change in ["decision = 'y'", "type = 'UX'", "date = '2025-02-02'", "deleted_at = now()", "deleted_at = null"] {
        sql(&pg, "trig", &format!("update decision_vault set notion_synced = true where id = '{id}'"));
        sql(&pg, "trig", &format!("update decision_vault set {change} where id = '{id}'"));
        assert_eq!(synced(&pg), "f", "after a user's `{change}`");
    }
    // An update that writes the same value is not a change.
    sql(&pg, "trig", &format!("update decision_vault set notion_synced = true where id = '{id}'"));
    sql(&pg, "trig", &format!("update decision_vault set decision = decision where id = '{id}'"));
    assert_eq!(synced(&pg), "t");
    // The sync's own writes (the function, or the PATCH header PostgREST exposes) do not.
    sql(&pg, "trig", &format!("select * from decision_vault_sync_write_back('[{{\"id\":\"{id}\",\"decision\":\"z\",\"notion_synced\":true}}]')"));
    assert_eq!(synced(&pg), "t");
    sql(&pg, "trig", &format!("select set_config('request.headers', '{{\"x-decision-sync-writer\":\"on\"}}', true); update decision_vault set decision = 'w', notion_synced = true where id = '{id}'"));
    assert_eq!(synced(&pg), "t");
    // The marker does not outlive the function call.
    sql(&pg, "trig", &format!("select * from decision_vault_sync_write_back('[]'); update decision_vault set decision = 'v' where id = '{id}'"));
    assert_eq!(synced(&pg), "f");
    // A PATCH marked by the header may carry its precondition in the body: a stale updated_at
    // leaves the row alone, the current one applies.
    let current = sql(&pg, "trig", &format!("select updated_at from decision_vault where id = '{id}'"));
    let marked = "select set_config('request.headers', '{\"x-decision-sync-writer\":\"on\"}', true);";
    let stale = sql(&pg, "trig", &format!("{marked} update decision_vault set decision = 'stale', updated_at = '2020-01-01+00' where id = '{id}' returning id"));
    assert_eq!(stale.lines().count(), 1, "only set_config's line: no row updated ({stale})");
    let fresh = sql(&pg, "trig", &format!("{marked} update decision_vault set decision = 'fresh', notion_synced = true, updated_at = '{current}' where id = '{id}' returning updated_at > '{current}'"));
    assert_eq!(fresh.lines().last(), Some("t"), "applied, and updated_at moved on");
    assert_eq!(synced(&pg), "t");
    // A user's explicit updated_at is simply replaced.
    sql(&pg, "trig", &format!("update decision_vault set updated_at = '2020-01-01+00' where id = '{id}'"));
    assert_eq!(touched(&pg), "t");
    sql(&pg, "trig", &format!("update decision_vault set decision = 'v' where id = '{id}'"));
    // A malformed request.headers is no reason to fail a user's update.
    sql(&pg, "trig", &format!("select set_config('request.headers', 'not json', true); update decision_vault set decision = 'u' where id = '{id}'"));
    assert_eq!(synced(&pg), "f");
}

#[test]
fn write_back_function_semantics() {
    let pg = cluster();
    pg.create_database("fn").unwrap();
    pg.apply_migration("fn").unwrap();
    let a = "00000000-0000-0000-0000-0000000000c1";
    let b = "00000000-0000-0000-0000-0000000000c2";
    sql(&pg, "fn", &format!(
        "insert into decision_vault (id, decision, type, date, checksum, updated_at) values \
         ('{a}', 'a', 'Ops', '2025-01-01', 'old', '2025-11-23 10:49:00.123456+00'), ('{b}', 'b', 'UX', '2025-01-02', 'old', '2025-11-23 10:49:00.123456+00')"
    ));
    let out = sql(&pg, "fn", &format!(
        "select string_agg(id::text || '=' || applied, ',') from decision_vault_sync_write_back('[\
           {{\"id\":\"{a}\",\"expected_updated_at\":\"2025-11-23T10:49:00.123456+00:00\",\"checksum\":null,\"deleted_at\":\"2025-11-24T00:00:00Z\"}},\
           {{\"id\":\"{b}\",\"expected_updated_at\":\"2025-11-23T10:49:00.123457+00:00\",\"decision\":\"nope\"}},\
           {{\"id\":\"00000000-0000-0000-0000-0000000000ff\",\"expected_updated_at\":null,\"decision\":\"ghost\"}}]')"
    ));
    assert_eq!(out, format!("{a}=true,{b}=false,00000000-0000-0000-0000-0000000000ff=false"));
    assert_eq!(
        sql(&pg, "fn", &format!("select decision || ' ' || coalesce(checksum, 'NULL') || ' ' || deleted_at from decision_vault where id = '{a}'")),
        "a NULL 2025-11-24 00:00:00+00",
        "absent keys are left alone, JSON null sets NULL"
    );
    assert_eq!(sql(&pg, "fn", &format!("select decision from decision_vault where id = '{b}'")), "b");
    let error = pg.psql("fn", "select * from decision_vault_sync_write_back('{}')").unwrap_err().to_string();
    assert!(error.contains("must be a JSON array"), "{error}");
    let error = pg
        .psql("fn", "select * from decision_vault_sync_write_back('[{\"decision\":\"x\"}]')")
        .unwrap_err()
        .to_string();
    assert!(error.contains("with an \"id\""), "{error}");
}
