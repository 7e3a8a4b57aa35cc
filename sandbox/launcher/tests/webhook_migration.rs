//! The migration's opt-in Database Webhook (`decision_vault_enable_webhook(url, secret)` /
//! `decision_vault_disable_webhook()`) against a real PostgreSQL 15 with the sandbox's pg_net
//! stand-in: enabling it makes changes to `decision_vault` reach `<url>/webhooks/supabase` as
//! Supabase's payload with the secret header, which the Worker's own parser accepts.
#[path = "support/hook_server.rs"]
mod hook_server;

use std::time::Duration;

use decision_sync::webhooks::supabase::{check_secret, parse_change, Action, ChangeKind, SECRET_HEADER};
use hook_server::HookServer;
use sync_sandbox::postgres::MIGRATIONS;
use sync_sandbox::webhook_delivery::{self, DeliveryOptions, WebhookDelivery};
use sync_sandbox::{PgCluster, SupabaseOptions, SupabaseSandbox};

const SECRET: &str = "0123456789abcdef-webhook";
const ROW: &str = "00000000-0000-0000-0000-0000000000a1";

fn sql(pg: &PgCluster, db: &str, statement: &str) -> String {
    pg.psql(db, statement).unwrap_or_else(|e| panic!("SQL failed: {e}\n--- statement:\n{statement}"))
}

fn sql_err(pg: &PgCluster, db: &str, statement: &str) -> String {
    match pg.psql(db, statement) {
        Ok(out) => panic!("expected an error, got {out:?}\n--- statement:\n{statement}"),
        Err(e) => e.to_string(),
    }
}

fn migrated(db: &str, with_standin: bool) -> PgCluster {
    let pg = PgCluster::start().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"));
    pg.create_database(db).unwrap();
    if with_standin {
        webhook_delivery::install(&pg, db).unwrap();
    }
    pg.apply_migration(db).unwrap();
    pg
}

fn delivery(pg: &PgCluster, db: &str) -> WebhookDelivery {
    let options = DeliveryOptions {
        poll: Duration::from_millis(50),
        idle_poll: Duration::from_millis(100),
        ..DeliveryOptions::default()
    };
    WebhookDelivery::start(pg.psql_runner("postgres", db), options).unwrap()
}

#[test]
fn enabling_the_webhook_delivers_user_changes_and_not_the_syncs_echo() {
    let server = HookServer::start(vec![]);
    let pg = migrated("hooked", true);
    let _delivery = delivery(&pg, "hooked");
    let base = server.url("");
    let url = sql(&pg, "hooked", &format!("select public.decision_vault_enable_webhook('{base}/', '{SECRET}')"));
    assert_eq!(url, format!("{base}/webhooks/supabase"));
    // Enabling again (same URL given with the path) replaces the trigger: still one webhook.
    sql(&pg, "hooked", &format!("select public.decision_vault_enable_webhook('{base}/webhooks/supabase', '{SECRET}')"));
    assert_eq!(
        sql(&pg, "hooked", "select count(*) from pg_trigger where tgrelid = 'public.decision_vault'::regclass and tgname = 'decision_vault_webhook'"),
        "1"
    );

    sql(&pg, "hooked", &format!("insert into public.decision_vault (id, decision, type, date) values ('{ROW}', 'Adopt Rust', 'Architecture', '2025-11-01')"));
    let got = server.wait_for(1, Duration::from_secs(20));
    assert_eq!(got[0].path, "/webhooks/supabase");
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(check_secret(got[0].header(SECRET_HEADER), Some(SECRET)), Ok(()));
    let (change, action) = parse_change(got[0].body.as_bytes()).expect("the Worker's parser accepts the payload");
    assert_eq!(change.kind, ChangeKind::Insert);
    assert_eq!(action, Action::SyncRow(ROW.into()));
    assert!(change.record.as_ref().and_then(|r| r.updated_at.clone()).is_some());

    // The sync's own write-back (decision_sync.writer = 'on') is its echo: no webhook.
    sql(&pg, "hooked", &format!(
        "select * from public.decision_vault_sync_write_back('[{{\"id\": \"{ROW}\", \"notion_page_id\": \"p1\", \"checksum\": \"c\", \"notion_synced\": true}}]'::jsonb)"
    ));
    // A person's edit is not.
    sql(&pg, "hooked", &format!("update public.decision_vault set decision = 'Adopt Rust 2' where id = '{ROW}'"));
    let got = server.wait_for(2, Duration::from_secs(20));
    let (change, action) = parse_change(got[1].body.as_bytes()).unwrap();
    assert_eq!(change.kind, ChangeKind::Update, "the write-back sent nothing: the next webhook is the edit");
    assert_eq!(action, Action::SyncRow(ROW.into()));

    sql(&pg, "hooked", &format!("delete from public.decision_vault where id = '{ROW}'"));
    let got = server.wait_for(3, Duration::from_secs(20));
    let (_, action) = parse_change(got[2].body.as_bytes()).unwrap();
    assert_eq!(action, Action::Orphan { row_id: ROW.into(), notion_page_id: Some("p1".into()) });

    assert_eq!(sql(&pg, "hooked", "select public.decision_vault_disable_webhook()"), "t");
    assert_eq!(sql(&pg, "hooked", "select public.decision_vault_disable_webhook()"), "f");
    sql(
        &pg,
        "hooked",
        "insert into public.decision_vault (decision, type, date) values ('after', 'Ops', '2025-11-02')",
    );
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(server.received().len(), 3, "nothing is sent once disabled");
    assert_eq!(sql(&pg, "hooked", "select count(*) from net.http_request_queue"), "0");
}

#[test]
fn applying_the_migration_creates_no_webhook_and_enabling_checks_its_input() {
    // Without Supabase's webhook functions (a plain PostgreSQL, or Webhooks not enabled yet).
    let pg = migrated("plain", false);
    assert_eq!(
        sql(&pg, "plain", "select count(*) from pg_trigger where tgrelid = 'public.decision_vault'::regclass and tgname = 'decision_vault_webhook'"),
        "0",
        "opt-in: the migration alone creates no webhook"
    );
    let missing = sql_err(
        &pg,
        "plain",
        &format!("select public.decision_vault_enable_webhook('https://w.example.workers.dev', '{SECRET}')"),
    );
    assert!(
        missing.contains("supabase_functions.http_request() does not exist") && missing.contains("Database → Webhooks"),
        "{missing}"
    );
    for (url, secret, expected) in [
        ("not a url", SECRET, "is not a URL"),
        ("", SECRET, "is not a URL"),
        ("https://user@w.example.workers.dev", SECRET, "is not a URL"),
        ("https://w.example.workers.dev", "short", "at least 16 characters"),
        ("https://w.example.workers.dev", "with a space in the secret", "at least 16 characters"),
    ] {
        let err = sql_err(&pg, "plain", &format!("select public.decision_vault_enable_webhook('{url}', '{secret}')"));
        assert!(err.contains(expected), "{url} / {secret}: {err}");
    }
    let err =
        sql_err(&pg, "plain", "select public.decision_vault_enable_webhook('https://w.example.workers.dev', null)");
    assert!(err.contains("at least 16 characters"), "{err}");
    // Administrators only: the API roles cannot create or drop the webhook.
    for role in ["anon", "authenticated", "service_role"] {
        let err = sql_err(&pg, "plain", &format!("set role {role}; select public.decision_vault_disable_webhook();"));
        assert!(err.contains("permission denied"), "{role}: {err}");
    }
}

#[test]
fn the_sandbox_applies_every_migration_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../supabase/migrations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| format!("supabase/migrations/{}", e.file_name().to_string_lossy()))
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let applied: Vec<&str> = MIGRATIONS.iter().map(|(path, _)| *path).collect();
    assert_eq!(files, applied, "add the new migration to sync_sandbox::postgres::MIGRATIONS, in file-name order");
}

#[test]
fn a_change_through_the_rest_api_reaches_the_worker_url_in_the_full_sandbox() {
    let server = HookServer::start(vec![]);
    let sandbox = SupabaseSandbox::start(SupabaseOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the Supabase sandbox (PostgreSQL 15 + postrust-server): {e}"));
    sandbox.sql(&format!("select public.decision_vault_enable_webhook('{}', '{SECRET}')", server.url(""))).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let response = agent
        .post(&format!("{}/decision_vault", sandbox.rest_url()))
        .header("apikey", sandbox.service_role_key())
        .header("Authorization", &format!("Bearer {}", sandbox.service_role_key()))
        .header("Content-Type", "application/json")
        .send(format!(r#"{{"id": "{ROW}", "decision": "Via REST", "type": "Ops", "date": "2025-11-03"}}"#).as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 201, "insert as service_role through postrust");
    let got = server.wait_for(1, Duration::from_secs(20));
    assert_eq!(check_secret(got[0].header(SECRET_HEADER), Some(SECRET)), Ok(()));
    assert_eq!(parse_change(got[0].body.as_bytes()).unwrap().1, Action::SyncRow(ROW.into()));
}
