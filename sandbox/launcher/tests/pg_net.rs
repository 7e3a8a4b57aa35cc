//! The sandbox's pg_net stand-in against a real PostgreSQL 15: Supabase's
//! `supabase_functions.http_request` trigger queues requests, the launcher's delivery loop POSTs
//! them to a local HTTP server with their headers, records the outcome in `net._http_response`,
//! retries what may pass later, and refuses URLs off the loopback.
#[path = "support/hook_server.rs"]
mod hook_server;

use std::time::Duration;

use hook_server::HookServer;
use serde_json::{json, Value};
use sync_sandbox::postgres::PsqlRunner;
use sync_sandbox::webhook_delivery::{self, DeliveryOptions, WebhookDelivery};
use sync_sandbox::PgCluster;

fn cluster(db: &str) -> PgCluster {
    let pg = PgCluster::start().unwrap_or_else(|e| panic!("cannot start PostgreSQL for the pg_net tests: {e}"));
    pg.create_database(db).unwrap();
    webhook_delivery::install(&pg, db).unwrap();
    pg
}

fn sql(pg: &PgCluster, db: &str, statement: &str) -> String {
    pg.psql(db, statement).unwrap_or_else(|e| panic!("SQL failed: {e}\n--- statement:\n{statement}"))
}

fn fast() -> DeliveryOptions {
    DeliveryOptions {
        poll: Duration::from_millis(50),
        idle_poll: Duration::from_millis(100),
        max_attempts: 3,
        retry_delay: Duration::from_millis(100),
        batch: 20,
    }
}

fn delivery(pg: &PgCluster, db: &str) -> WebhookDelivery {
    let runner: PsqlRunner = pg.psql_runner("postgres", db);
    WebhookDelivery::start(runner, fast()).unwrap()
}

/// Waits until the queue is empty (every request delivered or given up).
fn drained(pg: &PgCluster, db: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sql(pg, db, "select count(*) from net.http_request_queue") != "0" {
        assert!(std::time::Instant::now() < deadline, "the queue did not drain");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const TABLE: &str = "create table public.items (id int primary key, name text not null, note text);";

fn webhook(url: &str) -> String {
    format!(
        "create trigger items_webhook after insert or update or delete on public.items for each row \
         execute function supabase_functions.http_request('{url}', 'POST', \
         '{{\"Content-Type\":\"application/json\",\"x-sync-webhook-secret\":\"s3cret-s3cret-s3cret\"}}', '{{}}', '5000');"
    )
}

#[test]
fn insert_update_delete_deliver_supabase_payloads_with_their_headers() {
    let server = HookServer::start(vec![]);
    let pg = cluster("hooks");
    sql(&pg, "hooks", TABLE);
    sql(&pg, "hooks", &webhook(&server.url("/webhooks/supabase")));
    let _delivery = delivery(&pg, "hooks");

    sql(&pg, "hooks", "insert into public.items values (1, 'first', null)");
    sql(&pg, "hooks", "update public.items set name = 'second' where id = 1");
    sql(&pg, "hooks", "delete from public.items where id = 1");
    let got = server.wait_for(3, Duration::from_secs(20));

    assert_eq!(got.len(), 3, "{got:?}");
    for hook in &got {
        assert_eq!(hook.method, "POST");
        assert_eq!(hook.path, "/webhooks/supabase");
        assert_eq!(hook.header("x-sync-webhook-secret"), Some("s3cret-s3cret-s3cret"));
        assert_eq!(hook.header("content-type"), Some("application/json"));
    }
    let bodies: Vec<Value> = got.iter().map(|h| serde_json::from_str(&h.body).unwrap()).collect();
    let row = |name: &str| json!({"id": 1, "name": name, "note": null});
    assert_eq!(
        bodies[0],
        json!({"type": "INSERT", "table": "items", "schema": "public", "record": row("first"), "old_record": null})
    );
    assert_eq!(
        bodies[1],
        json!({"type": "UPDATE", "table": "items", "schema": "public", "record": row("second"), "old_record": row("first")})
    );
    assert_eq!(
        bodies[2],
        json!({"type": "DELETE", "table": "items", "schema": "public", "record": null, "old_record": row("second")})
    );

    drained(&pg, "hooks");
    assert_eq!(
        sql(
            &pg,
            "hooks",
            "select string_agg(status_code::text || ':' || attempts, ',' order by id) from net._http_response"
        ),
        "200:1,200:1,200:1"
    );
    assert_eq!(
        sql(&pg, "hooks", "select count(*) from supabase_functions.hooks where hook_name = 'items_webhook'"),
        "3"
    );
}

#[test]
fn a_rolled_back_change_sends_nothing() {
    let server = HookServer::start(vec![]);
    let pg = cluster("rollback");
    sql(&pg, "rollback", TABLE);
    sql(&pg, "rollback", &webhook(&server.url("/hook")));
    let _delivery = delivery(&pg, "rollback");
    assert!(pg.psql("rollback", "insert into public.items values (1, 'x', null); select 1/0;").is_err());
    sql(&pg, "rollback", "insert into public.items values (2, 'kept', null)");
    let got = server.wait_for(1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.received().len(), 1, "{got:?}");
    assert!(got[0].body.contains("kept"));
}

#[test]
fn server_errors_are_retried_and_client_errors_are_final() {
    // First request: 503 then 200 (retried); second request: 401 (final, e.g. a wrong secret).
    let server = HookServer::start(vec![503, 200, 401]);
    let pg = cluster("retries");
    sql(&pg, "retries", TABLE);
    sql(&pg, "retries", &webhook(&server.url("/hook")));
    let _delivery = delivery(&pg, "retries");
    sql(&pg, "retries", "insert into public.items values (1, 'a', null)");
    server.wait_for(2, Duration::from_secs(20));
    drained(&pg, "retries");
    sql(&pg, "retries", "insert into public.items values (2, 'b', null)");
    server.wait_for(3, Duration::from_secs(20));
    drained(&pg, "retries");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.received().len(), 3, "401 is not retried");
    assert_eq!(
        sql(
            &pg,
            "retries",
            "select string_agg(status_code::text || ':' || attempts, ',' order by id) from net._http_response"
        ),
        "200:2,401:1"
    );
}

#[test]
fn an_unreachable_endpoint_is_retried_then_given_up_with_its_error() {
    let port = sync_sandbox::util::free_port().unwrap();
    let pg = cluster("unreachable");
    sql(&pg, "unreachable", TABLE);
    sql(&pg, "unreachable", &webhook(&format!("http://127.0.0.1:{port}/hook")));
    let _delivery = delivery(&pg, "unreachable");
    sql(&pg, "unreachable", "insert into public.items values (1, 'a', null)");
    drained(&pg, "unreachable");
    let row = sql(&pg, "unreachable", "select coalesce(status_code::text, 'none') || '|' || attempts || '|' || (error_msg is not null) from net._http_response");
    assert_eq!(row, "none|3|true", "three attempts (max_attempts), then the error is kept");
}

#[test]
fn urls_off_the_loopback_are_refused_without_a_request() {
    let pg = cluster("remote");
    sql(&pg, "remote", TABLE);
    sql(&pg, "remote", &webhook("http://example.com/hook"));
    let _delivery = delivery(&pg, "remote");
    sql(&pg, "remote", "insert into public.items values (1, 'a', null)");
    drained(&pg, "remote");
    let error = sql(&pg, "remote", "select attempts || '|' || error_msg from net._http_response");
    assert!(error.starts_with("1|refused"), "{error}");
    assert!(error.contains("127.0.0.1"), "{error}");
}

#[test]
fn net_http_post_is_callable_directly_as_on_supabase() {
    let server = HookServer::start(vec![]);
    let pg = cluster("direct");
    let _delivery = delivery(&pg, "direct");
    let id = sql(
        &pg,
        "direct",
        &format!(
            "select net.http_post(url := '{}', body := '{{\"hello\": \"world\"}}'::jsonb, params := '{{\"a b\": \"é&\"}}'::jsonb)",
            server.url("/direct")
        ),
    );
    assert!(id.parse::<i64>().is_ok(), "{id}");
    let got = server.wait_for(1, Duration::from_secs(20));
    assert_eq!(got[0].path, "/direct?a%20b=%C3%A9%26");
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(serde_json::from_str::<Value>(&got[0].body).unwrap(), json!({"hello": "world"}));
    // Installing again is harmless (the launcher may run it on an existing database).
    webhook_delivery::install(&pg, "direct").unwrap();
}
