//! Fidelity: the Worker's real PostgREST client against PostgreSQL 15 + postrust-server, with
//! the shipped migration. Each test owns its sandbox (processes and temp dirs go on drop, also
//! when the test fails). Missing PostgreSQL or postrust fails the tests, saying how to install.
use chrono::{DateTime, TimeZone, Utc};
use decision_sync::clients::http::Method;
use decision_sync::clients::postgrest::PostgrestClient;
use decision_sync::core::budget::Budget;
use decision_sync::core::content::Content;
use decision_sync::core::error::PortError;
use decision_sync::core::model::{Row, RowCursor};
use decision_sync::core::ports::{NewRow, RowWrite, SupabasePort, WriteResult};
use futures::executor::block_on;
use sync_sandbox::{SupabaseOptions, SupabaseSandbox, UreqTransport};

fn sandbox_with(options: SupabaseOptions) -> SupabaseSandbox {
    match SupabaseSandbox::start(options) {
        Ok(sandbox) => sandbox,
        Err(e) => panic!("cannot start the Supabase sandbox (PostgreSQL 15 + postrust-server): {e}"),
    }
}

fn sandbox() -> SupabaseSandbox {
    sandbox_with(SupabaseOptions::default())
}

fn client(sandbox: &SupabaseSandbox) -> PostgrestClient<UreqTransport> {
    sandbox.client(Budget::unlimited()).unwrap()
}

fn sql(sandbox: &SupabaseSandbox, statement: &str) -> String {
    match sandbox.sql(statement) {
        Ok(out) => out,
        Err(e) => {
            panic!("SQL failed: {e}\n--- statement:\n{statement}\n--- postrust log:\n{}", sandbox.rest().log_tail())
        }
    }
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012x}")
}

fn content(decision: &str) -> Content {
    Content { decision: decision.into(), kind: "Ops".into(), date: "2025-11-20".into() }
}

fn row(sandbox: &SupabaseSandbox, client: &PostgrestClient<UreqTransport>, id: &str) -> Row {
    let rows = block_on(client.rows_changed_after(None, 1000)).unwrap();
    match rows.into_iter().find(|r| r.id == id) {
        Some(row) => row,
        None => panic!("row {id} not found; table: {}", sql(sandbox, "select count(*) from decision_vault")),
    }
}

fn micros(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn keyset_paging_sees_every_row_once_across_equal_timestamps() {
    let sandbox = sandbox();
    // 150 rows share one updated_at, 100 share another, 3 are alone; ids interleave.
    sql(
        &sandbox,
        &format!(
            "insert into decision_vault (id, decision, type, date, updated_at) \
             select ('00000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, 'd' || n, 'Ops', '2025-11-20', \
                    case when n % 5 < 3 then timestamptz '2025-11-23 10:49:00.123456+00' \
                         when n % 5 < 5 then timestamptz '2025-11-23 10:49:00.123457+00' end \
             from generate_series(1, 250) n; \
             insert into decision_vault (id, decision, type, date, updated_at) values \
             ('{}', 'early', 'Ops', '2025-11-20', '2025-11-23 10:48:59.999999+00'), \
             ('{}', 'late', 'Ops', '2025-11-20', '2025-11-24 00:00:00+00'), \
             ('{}', 'offset', 'Ops', '2025-11-20', '2025-11-23 12:49:00.123456+02');",
            uuid(0x1001),
            uuid(0x1002),
            uuid(0x1003)
        ),
    );
    let client = client(&sandbox);
    let mut seen: Vec<Row> = Vec::new();
    let mut cursor: Option<RowCursor> = None;
    let mut pages = 0;
    loop {
        let page = block_on(client.rows_changed_after(cursor.as_ref(), 100)).unwrap();
        if page.is_empty() {
            break;
        }
        pages += 1;
        assert!(page.len() <= 100);
        cursor = page.last().map(Row::cursor);
        seen.extend(page);
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 253);
    let mut keys: Vec<(DateTime<Utc>, String)> = seen.iter().map(|r| (r.updated_at, r.id.clone())).collect();
    let in_order = keys.windows(2).all(|w| w[0] < w[1]);
    assert!(in_order, "rows come strictly in (updated_at, id) order");
    keys.dedup();
    assert_eq!(keys.len(), 253, "no row twice");
    assert_eq!(seen[0].decision, "early");
    assert_eq!(seen.last().map(|r| r.decision.as_str()), Some("late"));
    // The "+02" row is the same instant as the 150 shared-timestamp rows.
    let offset = seen.iter().find(|r| r.decision == "offset").unwrap();
    assert_eq!(offset.updated_at, micros("2025-11-23T10:49:00.123456Z"));
    // A cursor in the middle of a run of equal timestamps resumes exactly after it.
    let middle = seen[120].cursor();
    let rest = block_on(client.rows_changed_after(Some(&middle), 1000)).unwrap();
    assert_eq!(rest.len(), 253 - 121);
    assert_eq!(rest[0].id, seen[121].id);
}

#[test]
fn unlinked_rows_are_the_live_rows_without_a_page_oldest_first() {
    let sandbox = sandbox();
    sql(
        &sandbox,
        "insert into decision_vault (id, decision, type, date, created_at) \
         select ('00000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, 'u' || n, 'UX', '2025-11-20', \
                timestamptz '2025-11-01 00:00:00+00' + (n / 50) * interval '1 microsecond' \
         from generate_series(1, 130) n; \
         update decision_vault set notion_page_id = 'page-' || decision where decision in ('u3', 'u60', 'u129'); \
         update decision_vault set deleted_at = now() where decision in ('u4', 'u61');",
    );
    let client = client(&sandbox);
    let mut seen: Vec<Row> = Vec::new();
    let mut cursor: Option<RowCursor> = None;
    loop {
        let batch = block_on(client.unlinked_rows(cursor.as_ref(), 40)).unwrap();
        let Some(last) = batch.rows.last() else { break };
        // The cursor of this query is (created_at, id).
        cursor = Some(RowCursor { updated_at: last.created_at, id: last.id.clone() });
        seen.extend(batch.rows);
        assert!(seen.len() <= 130);
        // `Prefer: count=exact`: the total after the cursor says whether more follow.
        assert_eq!(batch.more, seen.len() < 125, "more rows follow until the last page ({} seen)", seen.len());
        if !batch.more {
            break;
        }
    }
    assert_eq!(seen.len(), 125);
    assert!(seen.iter().all(|r| r.notion_page_id.is_none() && r.deleted_at.is_none()));
    let keys: Vec<(DateTime<Utc>, String)> = seen.iter().map(|r| (r.created_at, r.id.clone())).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "strictly (created_at, id) order");
}

#[test]
fn rows_by_page_ids_matches_exactly_and_quotes_odd_ids() {
    let sandbox = sandbox();
    sql(
        &sandbox,
        r#"insert into decision_vault (decision, type, date, notion_page_id) values
           ('a', 'Ops', '2025-11-20', 'p-1'), ('b', 'Ops', '2025-11-20', 'p-2'),
           ('c', 'Ops', '2025-11-20', 'we"ird,(id)'), ('d', 'Ops', '2025-11-20', 'p-1x'), ('e', 'Ops', '2025-11-20', null)"#,
    );
    let client = client(&sandbox);
    let ids = vec!["p-1".to_string(), "we\"ird,(id)".to_string(), "absent".to_string(), "p-1".to_string()];
    let rows = block_on(client.rows_by_page_ids(&ids)).unwrap();
    let mut decisions: Vec<&str> = rows.iter().map(|r| r.decision.as_str()).collect();
    decisions.sort();
    assert_eq!(decisions, vec!["a", "c"]);
    // 150 ids: two requests of at most 100.
    let many: Vec<String> = (0..150).map(|i| format!("p-{i}")).collect();
    client.transport().clear();
    let rows = block_on(client.rows_by_page_ids(&many)).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(client.transport().exchanges().len(), 2);
}

#[test]
fn bulk_insert_skips_linked_pages_and_returns_every_linked_row() {
    let sandbox = sandbox();
    sql(&sandbox, "insert into decision_vault (decision, type, date, notion_page_id, checksum) values ('existing', 'UX', '2025-01-01', 'page-1', 'base-1')");
    let client = client(&sandbox);
    let new_row = |page: &str, decision: &str| NewRow {
        content: content(decision),
        notion_page_id: page.into(),
        checksum: format!("sum-{decision}"),
    };
    let inserted = block_on(client.insert_rows(&[
        new_row("page-1", "from notion 1"),
        new_row("page-2", "from notion 2"),
        new_row("page-3", "from notion 3"),
        new_row("page-3", "page-3 again in the same batch"),
    ]))
    .unwrap();
    let mut got: Vec<(String, String)> =
        inserted.iter().map(|r| (r.notion_page_id.clone().unwrap_or_default(), r.decision.clone())).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("page-1".to_string(), "existing".to_string()),
            ("page-2".to_string(), "from notion 2".to_string()),
            ("page-3".to_string(), "from notion 3".to_string()),
        ]
    );
    let fresh = inserted.iter().find(|r| r.notion_page_id.as_deref() == Some("page-2")).unwrap();
    assert!(fresh.notion_synced);
    assert_eq!(fresh.checksum.as_deref(), Some("sum-from notion 2"));
    assert_eq!((fresh.kind.as_str(), fresh.date.as_str()), ("Ops", "2025-11-20"));
    assert_eq!(sql(&sandbox, "select count(*) from decision_vault"), "3");
    assert_eq!(sql(&sandbox, "select decision from decision_vault where notion_page_id = 'page-1'"), "existing");
    // Methods: the insert, then one lookup of the page skipped as a duplicate.
    let methods: Vec<Method> = client.transport().exchanges().iter().map(|e| e.method).collect();
    assert_eq!(methods, vec![Method::Post, Method::Get]);
    // Inserting only duplicates is not an error either.
    let again = block_on(client.insert_rows(&[new_row("page-2", "x")])).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].decision, "from notion 2");
}

#[test]
fn write_back_is_conditional_on_updated_at() {
    let sandbox = sandbox();
    let (a, b, c) = (uuid(1), uuid(2), uuid(3));
    sql(&sandbox, &format!(
        "insert into decision_vault (id, decision, type, date) values ('{a}', 'a', 'Ops', '2025-01-01'), ('{b}', 'b', 'Ops', '2025-01-01'), ('{c}', 'c', 'Ops', '2025-01-01')"
    ));
    let client = client(&sandbox);
    let read_a = row(&sandbox, &client, &a);
    let read_b = row(&sandbox, &client, &b);
    // A user edits b after the sync read it.
    sql(&sandbox, &format!("update decision_vault set decision = 'b by user' where id = '{b}'"));
    let write = |r: &Row, decision: &str| RowWrite {
        id: r.id.clone(),
        expected_updated_at: Some(r.updated_at),
        content: Some(content(decision)),
        notion_page_id: Some(format!("page-{}", r.decision)),
        checksum: Some(format!("sum-{decision}")),
        notion_synced: Some(true),
        deleted_at: None,
    };
    let results = block_on(client.write_rows(&[
        write(&read_a, "a from notion"),
        write(&read_b, "b from notion"),
        RowWrite {
            id: uuid(99),
            expected_updated_at: Some(read_a.updated_at),
            notion_synced: Some(true),
            ..RowWrite::default()
        },
        RowWrite { id: c.clone(), expected_updated_at: None, checksum: Some("sum-c".into()), ..RowWrite::default() },
    ]))
    .unwrap();
    assert_eq!(
        results,
        vec![
            WriteResult { id: a.clone(), applied: true },
            WriteResult { id: b.clone(), applied: false },
            WriteResult { id: uuid(99), applied: false },
            WriteResult { id: c.clone(), applied: true },
        ]
    );
    assert_eq!(client.write_back_function(), Some(true));
    let now_a = row(&sandbox, &client, &a);
    assert_eq!(
        (now_a.decision.as_str(), now_a.notion_page_id.as_deref(), now_a.checksum.as_deref()),
        ("a from notion", Some("page-a"), Some("sum-a from notion"))
    );
    assert!(now_a.notion_synced, "the sync's own write keeps notion_synced");
    assert!(now_a.updated_at > read_a.updated_at, "the trigger moved updated_at");
    let now_b = row(&sandbox, &client, &b);
    assert_eq!((now_b.decision.as_str(), now_b.notion_synced), ("b by user", false), "the user's edit is kept");
    // Writing again with the stale updated_at of a is refused; with the new one it applies.
    let stale = block_on(client.write_rows(&[write(&read_a, "stale")])).unwrap();
    assert!(!stale[0].applied);
    let fresh = block_on(client.write_rows(&[write(&now_a, "fresh")])).unwrap();
    assert!(fresh[0].applied);
    // One RPC per call, no PATCH.
    assert!(client.transport().exchanges().iter().all(|e| e.method != Method::Patch));
}

#[test]
fn deleted_at_is_set_and_cleared_and_user_deletes_reset_notion_synced() {
    let sandbox = sandbox();
    let id = uuid(7);
    sql(&sandbox, &format!("insert into decision_vault (id, decision, type, date, notion_synced) values ('{id}', 'x', 'Ops', '2025-01-01', true)"));
    let client = client(&sandbox);
    let trashed_at = Utc.timestamp_micros(1_763_894_940_654_321).single().unwrap();
    let read = row(&sandbox, &client, &id);
    let set = block_on(client.write_rows(&[RowWrite {
        id: id.clone(),
        expected_updated_at: Some(read.updated_at),
        deleted_at: Some(Some(trashed_at)),
        notion_synced: Some(true),
        ..RowWrite::default()
    }]))
    .unwrap();
    assert!(set[0].applied);
    let deleted = row(&sandbox, &client, &id);
    assert_eq!(deleted.deleted_at, Some(trashed_at), "microseconds survive the round trip");
    assert!(deleted.notion_synced);
    assert!(
        block_on(client.unlinked_rows(None, 100)).unwrap().rows.is_empty(),
        "deleted rows are not unlinked candidates"
    );
    let cleared = block_on(client.write_rows(&[RowWrite {
        id: id.clone(),
        expected_updated_at: Some(deleted.updated_at),
        deleted_at: Some(None),
        ..RowWrite::default()
    }]))
    .unwrap();
    assert!(cleared[0].applied);
    let restored = row(&sandbox, &client, &id);
    assert_eq!((restored.deleted_at, restored.notion_synced), (None, true));
    // A user's soft delete (any writer but the sync) resets notion_synced.
    sql(&sandbox, &format!("update decision_vault set deleted_at = now() where id = '{id}'"));
    let by_user = row(&sandbox, &client, &id);
    assert!(by_user.deleted_at.is_some());
    assert!(!by_user.notion_synced, "the engine notices user deletes by notion_synced = false");
}

#[test]
fn patch_fallback_when_the_function_is_missing() {
    let sandbox = sandbox_with(SupabaseOptions {
        setup_sql: Some("drop function public.decision_vault_sync_write_back(jsonb);".into()),
        ..SupabaseOptions::default()
    });
    let (a, b) = (uuid(1), uuid(2));
    sql(&sandbox, &format!(
        "insert into decision_vault (id, decision, type, date, notion_synced) values ('{a}', 'a', 'Ops', '2025-01-01', true), ('{b}', 'b', 'Ops', '2025-01-01', true)"
    ));
    // Without a schema check: the first write tries the function, then falls back for good.
    let client = client(&sandbox);
    let read_a = row(&sandbox, &client, &a);
    let read_b = row(&sandbox, &client, &b);
    sql(&sandbox, &format!("update decision_vault set type = 'UX' where id = '{b}'"));
    client.transport().clear();
    let results = block_on(client.write_rows(&[
        RowWrite {
            id: a.clone(),
            expected_updated_at: Some(read_a.updated_at),
            content: Some(content("a by sync")),
            checksum: Some("sum".into()),
            notion_synced: Some(true),
            deleted_at: Some(Some(read_a.updated_at)),
            ..RowWrite::default()
        },
        RowWrite {
            id: b.clone(),
            expected_updated_at: Some(read_b.updated_at),
            content: Some(content("b by sync")),
            ..RowWrite::default()
        },
    ]))
    .unwrap();
    assert_eq!(
        results,
        vec![WriteResult { id: a.clone(), applied: true }, WriteResult { id: b.clone(), applied: false }]
    );
    assert_eq!(client.write_back_function(), Some(false));
    let statuses: Vec<(Method, Option<u16>)> =
        client.transport().exchanges().iter().map(|e| (e.method, e.status)).collect();
    assert_eq!(statuses[0], (Method::Post, Some(404)), "{statuses:?}");
    assert!(statuses[1..].iter().all(|(method, _)| *method == Method::Patch), "{statuses:?}");
    // postrust-server 3.1 cannot filter a PATCH on a timestamptz (`42883 operator does not
    // exist: timestamp with time zone = text`; PostgREST can): the client then moves the
    // precondition into the body, where the migration's trigger checks it. One extra request.
    assert!(statuses.len() == 3 || (statuses.len() == 4 && statuses[1] == (Method::Patch, Some(404))), "{statuses:?}");
    let now_a = row(&sandbox, &client, &a);
    assert_eq!(
        (now_a.decision.as_str(), now_a.checksum.as_deref(), now_a.deleted_at),
        ("a by sync", Some("sum"), Some(read_a.updated_at))
    );
    assert!(now_a.notion_synced, "the writer header marks the PATCH as the sync's own write");
    assert_eq!(row(&sandbox, &client, &b).decision, "b", "the user's concurrent edit is kept");
    // Later calls go straight to PATCH.
    client.transport().clear();
    let again = block_on(client.write_rows(&[RowWrite {
        id: a.clone(),
        expected_updated_at: Some(now_a.updated_at),
        deleted_at: Some(None),
        ..RowWrite::default()
    }]))
    .unwrap();
    assert!(again[0].applied);
    assert_eq!(client.transport().exchanges().iter().map(|e| e.method).collect::<Vec<_>>(), vec![Method::Patch]);
    assert_eq!(row(&sandbox, &client, &a).deleted_at, None);

    // With a schema check first, the missing function is known before any write.
    let checked = sandbox.client(Budget::unlimited()).unwrap();
    block_on(checked.check_schema()).unwrap();
    assert_eq!(checked.write_back_function(), Some(false));
    assert!(checked.write_back_note().unwrap_or_default().contains("PATCH"));
    checked.transport().clear();
    let read = row(&sandbox, &checked, &a);
    checked.transport().clear();
    let applied = block_on(checked.write_rows(&[RowWrite {
        id: a.clone(),
        expected_updated_at: Some(read.updated_at),
        notion_synced: Some(true),
        ..RowWrite::default()
    }]))
    .unwrap();
    assert!(applied[0].applied);
    let methods: Vec<Method> = checked.transport().exchanges().iter().map(|e| e.method).collect();
    assert!(!methods.is_empty() && methods.iter().all(|m| *m == Method::Patch), "no RPC attempt: {methods:?}");
}

#[test]
fn schema_check_names_what_to_fix() {
    let sandbox = sandbox();
    let ok = client(&sandbox);
    assert_eq!(block_on(ok.check_schema()), Ok(()));
    assert_eq!(ok.write_back_function(), Some(true));

    let config_message = |result: Result<(), PortError>| match result {
        Err(PortError::Config { message }) => message,
        other => panic!("expected a Config error, got {other:?}"),
    };

    // No table at all.
    let no_table =
        sandbox.extra_rest(&SupabaseOptions { database: "no_table".into(), migrate: false, setup_sql: None }).unwrap();
    let client =
        sync_sandbox::supabase::client_for(&no_table.base_url(), sandbox.service_role_key(), Budget::unlimited())
            .unwrap();
    let message = config_message(block_on(client.check_schema()));
    assert!(
        message.contains("run the migration supabase/migrations/20251123000000_decision_vault_sync.sql"),
        "{message}"
    );
    assert!(message.contains("PGRST205"), "{message}");

    // A column missing (the migration applied, then the column dropped).
    let no_column = sandbox
        .extra_rest(&SupabaseOptions {
            database: "no_column".into(),
            migrate: true,
            setup_sql: Some("alter table decision_vault drop column checksum;".into()),
        })
        .unwrap();
    let client =
        sync_sandbox::supabase::client_for(&no_column.base_url(), sandbox.service_role_key(), Budget::unlimited())
            .unwrap();
    let message = config_message(block_on(client.check_schema()));
    assert!(message.starts_with("the column `checksum` is missing from public.decision_vault"), "{message}");
    assert!(message.contains("run the migration"), "{message}");

    // A key signed with another secret.
    let forged = sync_sandbox::jwt::supabase_key("not-the-secret", "service_role");
    let client = sync_sandbox::supabase::client_for(&sandbox.rest_url(), &forged, Budget::unlimited()).unwrap();
    let message = config_message(block_on(client.check_schema()));
    assert!(message.starts_with("SUPABASE_SERVICE_ROLE_KEY is wrong or lacks access"), "{message}");
    assert!(!message.contains(&forged), "the key never appears in messages");
}

#[test]
fn every_attempt_takes_budget_and_a_dead_server_is_transient() {
    let sandbox = sandbox();
    let budget = Budget::new(3);
    let client = sandbox.client(budget.clone()).unwrap();
    assert_eq!(block_on(client.rows_changed_after(None, 10)), Ok(vec![]));
    block_on(client.check_schema()).unwrap();
    assert_eq!(budget.used(), 3);
    assert_eq!(block_on(client.rows_changed_after(None, 10)), Err(PortError::BudgetExhausted { limit: 3 }));

    // PostgREST gone: network errors are retried (max_retries = 2 here), then transient.
    let url = sandbox.rest_url();
    let mut sandbox = sandbox;
    sandbox.stop();
    let config = decision_sync::clients::postgrest::PostgrestConfig::new(&url, sandbox.service_role_key(), 2).unwrap();
    let budget = Budget::unlimited();
    let client = PostgrestClient::new(UreqTransport::new().without_sleep(), config, budget.clone());
    let error = block_on(client.rows_changed_after(None, 10)).unwrap_err();
    assert!(matches!(error, PortError::Transient { .. }), "{error}");
    assert_eq!(budget.used(), 3);
}
