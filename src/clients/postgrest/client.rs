//! [`PostgrestClient`]: the [`SupabasePort`] over an [`HttpTransport`], with retries and budget.
use std::cell::Cell;

use crate::clients::http::{HttpRequest, HttpResponse, HttpTransport};
use crate::clients::postgrest::config::{PostgrestConfig, COLUMNS, SERVICE};
use crate::clients::postgrest::errors::{self, ApiError};
use crate::clients::postgrest::write_back::{Precondition, WriteBackMode};
use crate::clients::postgrest::{count, insert, reads, rows, schema, write_back};
use crate::clients::retry::{classify_status, Failure, RetryDecision, RetryState};
use crate::core::budget::Budget;
use crate::core::error::PortError;
use crate::core::mass_delete::LinkedCounts;
use crate::core::model::{Row, RowCursor};
use crate::core::ports::{LinkedBatch, NewRow, RowBatch, RowWrite, SupabasePort, WriteResult, PAGE_SIZE};

/// The Supabase table through PostgREST. Every HTTP attempt (retries included) takes one unit of
/// the run's budget; 5xx, 429 and network failures are retried with jittered exponential backoff.
pub struct PostgrestClient<T: HttpTransport> {
    transport: T,
    config: PostgrestConfig,
    budget: Budget,
    mode: Cell<WriteBackMode>,
    precondition: Cell<Precondition>,
}

impl<T: HttpTransport> PostgrestClient<T> {
    pub fn new(transport: T, config: PostgrestConfig, budget: Budget) -> Self {
        PostgrestClient {
            transport,
            config,
            budget,
            mode: Cell::new(WriteBackMode::Unknown),
            precondition: Cell::new(Precondition::Filter),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn config(&self) -> &PostgrestConfig {
        &self.config
    }

    /// Whether the bulk write-back function exists: `None` until `check_schema` or a first
    /// `write_rows` found out.
    pub fn write_back_function(&self) -> Option<bool> {
        match self.mode.get() {
            WriteBackMode::Unknown => None,
            WriteBackMode::Function => Some(true),
            WriteBackMode::Patch => Some(false),
        }
    }

    /// A line for the health report about how rows are written back (when known).
    pub fn write_back_note(&self) -> Option<String> {
        self.write_back_function().map(schema::write_back_note)
    }

    /// Sends `request`, retrying what may pass; returns the first response that is not retried.
    /// A success with a broken JSON body is retried like a 5xx (a web page is returned as is:
    /// the callers name the wrong URL). A budget that ends while a failure is being retried ends
    /// the request as that failure, so the run names it.
    async fn exchange(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
        let mut state = RetryState::default();
        let mut failed: Option<String> = None;
        loop {
            if let Err(spent) = self.budget.take() {
                return Err(match failed {
                    Some(last) => PortError::transient(
                        SERVICE,
                        format!("{}: {last} (the run's budget ended before a retry)", request.describe()),
                    ),
                    None => spent,
                });
            }
            let (failure, last) = match self.transport.send(request).await {
                Ok(response) => {
                    match (broken_json(&response), classify_status(response.status, response.header("retry-after"))) {
                        (Some(error), _) => (
                            Failure::Server { retry_after_ms: None },
                            format!("HTTP {} with a body that is not valid JSON ({error})", response.status),
                        ),
                        (None, None) => return Ok(response),
                        (None, Some(failure)) => (
                            failure,
                            format!("HTTP {}: {}", response.status, ApiError::parse(&response.body).describe()),
                        ),
                    }
                }
                Err(error) => (Failure::Network, error.to_string()),
            };
            failed = Some(last.clone());
            match self.config.retry.next(&mut state, failure, self.transport.jitter()) {
                RetryDecision::Retry { after_ms } => self.transport.sleep(after_ms).await,
                RetryDecision::GiveUp(reason) => {
                    return Err(PortError::transient(SERVICE, format!("{}: {last} ({reason})", request.describe())))
                }
            }
        }
    }

    /// Sends a read and parses the rows.
    async fn fetch_rows(&self, request: HttpRequest) -> Result<Vec<Row>, PortError> {
        let response = self.exchange(&request).await?;
        if !response.is_success() {
            return Err(errors::classify(&request.describe(), &response));
        }
        rows::parse_rows(&response.body)
    }

    /// Rows matching `filters`, counted by PostgREST (`Prefer: count=exact`), none read.
    async fn count(&self, filters: &[&str]) -> Result<u32, PortError> {
        let request = count::count_request(&self.config, filters);
        let response = self.exchange(&request).await?;
        if !response.is_success() {
            return Err(errors::classify(&request.describe(), &response));
        }
        count::parse_count(&request, &response)
    }

    async fn write_rows_with_patch(&self, writes: &[RowWrite]) -> Result<Vec<WriteResult>, PortError> {
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            let mut request = write_back::patch_request(&self.config, write, self.precondition.get());
            let mut response = self.exchange(&request).await?;
            if !response.is_success()
                && self.precondition.get() == Precondition::Filter
                && write_back::is_timestamptz_filter_unsupported(&ApiError::parse(&response.body))
            {
                // This server cannot filter a PATCH on updated_at: carry the precondition in the
                // body (checked by the migration's trigger) from now on.
                self.precondition.set(Precondition::Body);
                request = write_back::patch_request(&self.config, write, Precondition::Body);
                response = self.exchange(&request).await?;
            }
            if !response.is_success() {
                return Err(errors::classify(&format!("{} (row {})", request.describe(), write.id), &response));
            }
            results.push(write_back::parse_patch_response(write, &response.body)?);
        }
        Ok(results)
    }
}

/// Why a success's body is a broken answer (not JSON, and not a web page or an empty body, which
/// the callers explain themselves).
fn broken_json(response: &HttpResponse) -> Option<String> {
    if !response.is_success() || response.body.trim().is_empty() || response.looks_like_html() {
        return None;
    }
    serde_json::from_str::<serde::de::IgnoredAny>(&response.body).err().map(|error| error.to_string())
}

impl<T: HttpTransport> SupabasePort for PostgrestClient<T> {
    async fn check_schema(&self) -> Result<(), PortError> {
        let response = self.exchange(&schema::check_request(&self.config)).await?;
        if schema::needs_column_probe(&response) {
            for column in COLUMNS {
                let probe = self.exchange(&schema::column_probe_request(&self.config, column)).await?;
                if schema::needs_column_probe(&probe) {
                    return Err(schema::missing_column_error(column, &probe));
                }
                schema::interpret_check(&probe)?;
            }
        }
        schema::interpret_check(&response)?;
        if self.mode.get() == WriteBackMode::Unknown {
            let probe = self.exchange(&write_back::probe_request(&self.config)).await?;
            let exists = schema::interpret_probe(&probe)?;
            self.mode.set(if exists { WriteBackMode::Function } else { WriteBackMode::Patch });
        }
        Ok(())
    }

    async fn rows_changed_after(&self, after: Option<&RowCursor>, limit: usize) -> Result<Vec<Row>, PortError> {
        self.fetch_rows(reads::rows_changed_after(&self.config, after, limit)).await
    }

    async fn unlinked_rows(&self, after: Option<&RowCursor>, limit: usize) -> Result<RowBatch, PortError> {
        let request = reads::unlinked_rows(&self.config, after, limit);
        let response = self.exchange(&request).await?;
        if !response.is_success() {
            return Err(errors::classify(&request.describe(), &response));
        }
        let rows = rows::parse_rows(&response.body)?;
        let more = reads::more_unlinked_rows(&response, rows.len());
        Ok(RowBatch { rows, more })
    }

    async fn linked_page_ids(&self, after: Option<&str>, limit: usize) -> Result<LinkedBatch, PortError> {
        let request = reads::linked_page_ids(&self.config, after, limit);
        let response = self.exchange(&request).await?;
        if !response.is_success() {
            return Err(errors::classify(&request.describe(), &response));
        }
        let pages = rows::parse_links(&response.body)?;
        let more = rows::more_rows(&response, pages.len(), limit);
        Ok(LinkedBatch { pages, more })
    }

    async fn rows_by_page_ids(&self, page_ids: &[String]) -> Result<Vec<Row>, PortError> {
        let mut unique: Vec<String> = Vec::with_capacity(page_ids.len());
        for id in page_ids {
            if !id.is_empty() && !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        let mut found = Vec::new();
        for chunk in unique.chunks(PAGE_SIZE) {
            found.extend(self.fetch_rows(reads::rows_by_page_ids(&self.config, chunk)).await?);
        }
        Ok(found)
    }

    async fn insert_rows(&self, new_rows: &[NewRow]) -> Result<Vec<Row>, PortError> {
        if new_rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut linked = self.fetch_rows(insert::insert_rows(&self.config, new_rows)).await?;
        let skipped = insert::missing_page_ids(new_rows, &linked);
        if !skipped.is_empty() {
            linked.extend(self.rows_by_page_ids(&skipped).await?);
        }
        Ok(linked)
    }

    async fn write_rows(&self, writes: &[RowWrite]) -> Result<Vec<WriteResult>, PortError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        if self.mode.get() != WriteBackMode::Patch {
            let request = write_back::rpc_request(&self.config, writes);
            let response = self.exchange(&request).await?;
            if response.is_success() {
                self.mode.set(WriteBackMode::Function);
                return write_back::parse_rpc_response(writes, &response.body);
            }
            let error = ApiError::parse(&response.body);
            if !errors::is_missing_function(response.status, &error) {
                return Err(errors::classify(&request.describe(), &response));
            }
            self.mode.set(WriteBackMode::Patch);
        }
        self.write_rows_with_patch(writes).await
    }

    fn schema_warning(&self) -> Option<String> {
        self.write_back_note().filter(|_| self.write_back_function() == Some(false))
    }

    async fn count_unlinked(&self) -> Result<u32, PortError> {
        self.count(count::LIVE_UNLINKED).await
    }

    async fn count_linked(&self) -> Result<LinkedCounts, PortError> {
        let live = self.count(count::LIVE_LINKED).await?;
        let deleted_unsynced = self.count(count::DELETED_UNSYNCED).await?;
        Ok(LinkedCounts { live, deleted_unsynced })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::http::{Method, TransportError};
    use crate::core::content::Content;
    use crate::test_support::block_on as run;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    #[derive(Default)]
    struct Scripted {
        answers: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
        sent: RefCell<Vec<HttpRequest>>,
        slept: RefCell<Vec<u64>>,
    }

    impl Scripted {
        fn with(answers: Vec<Result<(u16, &str), TransportError>>) -> Self {
            let scripted = Scripted::default();
            for answer in answers {
                scripted.answers.borrow_mut().push_back(answer.map(|(status, body)| HttpResponse {
                    status,
                    headers: vec![],
                    body: body.to_string(),
                }));
            }
            scripted
        }
    }

    impl HttpTransport for Scripted {
        async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
            self.sent.borrow_mut().push(request.clone());
            self.answers.borrow_mut().pop_front().unwrap_or(Err(TransportError::Network("script ended".into())))
        }
        async fn sleep(&self, millis: u64) {
            self.slept.borrow_mut().push(millis);
        }
        fn jitter(&self) -> f64 {
            0.0
        }
    }

    const ROW: &str = r#"{"id":"r1","decision":"D","type":"Ops","date":"2025-11-20","created_at":"2025-11-20T00:00:00+00:00","updated_at":"2025-11-20T00:00:00+00:00","notion_page_id":"p1","notion_synced":true,"checksum":"c","deleted_at":null}"#;

    fn client(answers: Vec<Result<(u16, &str), TransportError>>, budget: Budget) -> PostgrestClient<Scripted> {
        let config = PostgrestConfig::new("https://abc.supabase.co/rest/v1", "sb_secret_k", 3).unwrap();
        PostgrestClient::new(Scripted::with(answers), config, budget)
    }

    fn new_row(page: &str) -> NewRow {
        NewRow {
            content: Content { decision: "D".into(), kind: "Ops".into(), date: "2025-11-20".into() },
            notion_page_id: page.into(),
            checksum: "c".into(),
        }
    }

    #[test]
    fn retries_server_and_network_failures_then_succeeds_taking_budget_per_attempt() {
        let budget = Budget::new(10);
        let client = client(
            vec![Ok((503, r#"{"message":"down"}"#)), Err(TransportError::Timeout(20_000)), Ok((200, "[]"))],
            budget.clone(),
        );
        assert_eq!(run(client.rows_changed_after(None, 100)), Ok(vec![]));
        assert_eq!(budget.used(), 3);
        assert_eq!(*client.transport().slept.borrow(), vec![250, 500]);
    }

    #[test]
    fn gives_up_as_transient_after_max_retries_without_leaking_the_key() {
        let budget = Budget::new(10);
        let client = client(vec![Ok((500, r#"{"message":"boom","code":"XX000"}"#)); 5], budget.clone());
        let error = run(client.rows_changed_after(None, 100)).unwrap_err();
        assert!(matches!(error, PortError::Transient { .. }), "{error}");
        let text = error.to_string();
        assert!(text.contains("boom (code XX000)") && text.contains("gave up after 4 attempts"), "{text}");
        assert!(!text.contains("sb_secret_k") && !text.contains("limit=100"), "{text}");
        assert_eq!(budget.used(), 4);
    }

    #[test]
    fn the_budget_stops_before_an_attempt() {
        let budget = Budget::new(1);
        let retried = client(vec![Ok((503, "")), Ok((200, "[]"))], budget.clone());
        // The budget ended while a 503 was being retried: the run names Supabase's failure
        // (it said only "budget spent" before).
        let error = run(retried.rows_changed_after(None, 10)).unwrap_err();
        assert!(matches!(error, PortError::Transient { ref service, .. } if service == "supabase"), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with("supabase is unavailable: ") && text.contains("HTTP 503"), "{text}");
        assert!(text.contains("budget ended before a retry"), "{text}");
        assert_eq!(retried.transport().sent.borrow().len(), 1);
        let spent = client(vec![], Budget::new(0));
        assert_eq!(run(spent.rows_changed_after(None, 10)), Err(PortError::BudgetExhausted { limit: 0 }));
    }

    #[test]
    fn a_broken_json_success_is_retried_like_a_5xx() {
        let truncated = r#"[{"id":"r1","decision":"D","#;
        let retried = client(vec![Ok((200, truncated)), Ok((200, "[]"))], Budget::new(9));
        assert_eq!(run(retried.rows_changed_after(None, 100)), Ok(vec![]));
        assert_eq!(*retried.transport().slept.borrow(), vec![250]);

        let broken = client(vec![Ok((200, truncated)); 4], Budget::new(9));
        let error = run(broken.rows_changed_after(None, 100)).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, PortError::Transient { .. }), "{text}");
        assert!(text.contains("not valid JSON") && text.contains("gave up after 4 attempts"), "{text}");

        // A web page is not retried: the caller names the wrong URL.
        let page = client(vec![Ok((200, "<html>Welcome</html>"))], Budget::new(9));
        let error = run(page.rows_changed_after(None, 100)).unwrap_err();
        assert!(error.to_string().contains("PostgREST endpoint"), "{error}");
        assert_eq!(page.transport().sent.borrow().len(), 1);
    }

    #[test]
    fn client_errors_are_not_retried() {
        let client = client(
            vec![Ok((400, r#"{"code":"22007","message":"invalid input syntax for type date"}"#))],
            Budget::new(9),
        );
        let error = run(client.insert_rows(&[new_row("p1")])).unwrap_err();
        assert!(matches!(error, PortError::Record { ref field, .. } if field.as_deref() == Some("date")), "{error}");
        assert_eq!(client.transport().sent.borrow().len(), 1);
    }

    #[test]
    fn insert_looks_up_rows_skipped_as_duplicates() {
        let inserted = format!("[{}]", ROW.replace("\"p1\"", "\"p2\"").replace("\"r1\"", "\"r2\""));
        let existing = format!("[{ROW}]");
        let client = client(vec![Ok((201, &inserted)), Ok((200, &existing))], Budget::new(9));
        let rows = run(client.insert_rows(&[new_row("p1"), new_row("p2")])).unwrap();
        let pages: Vec<_> = rows.iter().map(|r| r.notion_page_id.clone().unwrap()).collect();
        assert_eq!(pages, vec!["p2".to_string(), "p1".to_string()]);
        let sent = client.transport().sent.borrow();
        assert_eq!(sent.len(), 2);
        assert!(sent[1].url.contains("notion_page_id=in.(%22p1%22)"), "{}", sent[1].url);
        assert_eq!(run(client.insert_rows(&[])), Ok(vec![]));
    }

    #[test]
    fn write_rows_falls_back_to_patch_and_remembers() {
        let missing = r#"{"code":"PGRST202","message":"Could not find the function public.decision_vault_sync_write_back(updates) in the schema cache"}"#;
        let client = client(
            vec![Ok((404, missing)), Ok((200, r#"[{"id":"a"}]"#)), Ok((200, "[]")), Ok((200, r#"[{"id":"c"}]"#))],
            Budget::new(9),
        );
        let writes = |ids: &[&str]| -> Vec<RowWrite> {
            ids.iter()
                .map(|id| RowWrite { id: id.to_string(), notion_synced: Some(true), ..RowWrite::default() })
                .collect()
        };
        let first = run(client.write_rows(&writes(&["a", "b"]))).unwrap();
        assert_eq!(
            first,
            vec![WriteResult { id: "a".into(), applied: true }, WriteResult { id: "b".into(), applied: false }]
        );
        assert_eq!(client.write_back_function(), Some(false));
        let second = run(client.write_rows(&writes(&["c"]))).unwrap();
        assert_eq!(second, vec![WriteResult { id: "c".into(), applied: true }]);
        let methods: Vec<Method> = client.transport().sent.borrow().iter().map(|r| r.method).collect();
        assert_eq!(methods, vec![Method::Post, Method::Patch, Method::Patch, Method::Patch]);
    }

    #[test]
    fn a_server_that_cannot_filter_patch_on_timestamptz_gets_the_precondition_in_the_body() {
        let missing = r#"{"code":"PGRST202","message":"Could not find the function"}"#;
        let no_operator = r#"{"code":"42883","message":"operator does not exist: timestamp with time zone = text"}"#;
        let client = client(
            vec![Ok((404, missing)), Ok((404, no_operator)), Ok((200, r#"[{"id":"a"}]"#)), Ok((200, "[]"))],
            Budget::new(9),
        );
        let at = chrono::DateTime::parse_from_rfc3339("2025-11-23T10:49:00.5Z").unwrap().with_timezone(&chrono::Utc);
        let writes: Vec<RowWrite> = ["a", "b"]
            .iter()
            .map(|id| RowWrite {
                id: id.to_string(),
                expected_updated_at: Some(at),
                checksum: Some("c".into()),
                ..RowWrite::default()
            })
            .collect();
        let results = run(client.write_rows(&writes)).unwrap();
        assert_eq!(results.iter().map(|r| r.applied).collect::<Vec<_>>(), vec![true, false]);
        let sent = client.transport().sent.borrow();
        assert!(sent[1].url.contains("updated_at=eq."), "{}", sent[1].url);
        for later in &sent[2..] {
            assert!(!later.url.contains("updated_at"), "{}", later.url);
            assert!(later.body.as_deref().unwrap_or("").contains(r#""updated_at":"2025-11-23T10:49:00.500000+00:00""#));
        }
    }

    #[test]
    fn check_schema_probes_the_function_once() {
        let client = client(vec![Ok((200, "[]")), Ok((200, "[]")), Ok((200, "[]"))], Budget::new(9));
        assert_eq!(client.write_back_function(), None);
        assert_eq!(run(client.check_schema()), Ok(()));
        assert_eq!(client.write_back_function(), Some(true));
        assert_eq!(run(client.check_schema()), Ok(()));
        assert_eq!(client.transport().sent.borrow().len(), 3);
        let missing = client_with_table_missing();
        assert!(matches!(run(missing.check_schema()), Err(PortError::Config { .. })));
    }

    fn client_with_table_missing() -> PostgrestClient<Scripted> {
        client(vec![Ok((404, r#"{"code":"PGRST205","message":"Could not find the table"}"#))], Budget::new(9))
    }

    #[test]
    fn page_id_lookups_are_deduplicated_and_chunked() {
        let ids: Vec<String> = (0..150).map(|i| format!("p{}", i % 120)).collect();
        let client = client(vec![Ok((200, "[]")), Ok((200, "[]"))], Budget::new(9));
        assert_eq!(run(client.rows_by_page_ids(&ids)), Ok(vec![]));
        assert_eq!(client.transport().sent.borrow().len(), 2);
        assert_eq!(run(client.rows_by_page_ids(&[])), Ok(vec![]));
        assert_eq!(client.transport().sent.borrow().len(), 2);
    }
}
