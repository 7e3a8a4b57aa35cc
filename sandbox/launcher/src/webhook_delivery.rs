//! The sandbox's stand-in for pg_net's background worker: installs `net.http_post` /
//! `supabase_functions.http_request` (sql/pg_net_standin.sql) into a database, then delivers the
//! requests they queue in `net.http_request_queue`, recording each outcome in
//! `net._http_response` as pg_net does. So Supabase Database Webhooks (and the migration's opt-in
//! `decision_vault_enable_webhook`) run unmodified on the sandbox's plain PostgreSQL.
//!
//! Differences from pg_net, on purpose: only `http://127.0.0.1`, `localhost` or `[::1]` URLs are
//! delivered (anything else is refused and recorded as an error: the sandbox never calls out), and a
//! delivery that failed for a reason that may pass (network error, timeout, 429, 5xx) is retried a
//! few times with a growing delay. Other statuses (e.g. 401 for a wrong secret) are final.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use decision_sync::clients::http::{HttpRequest, Method, TransportError};
use serde::Deserialize;

use crate::postgres::{PgCluster, PsqlRunner};
use crate::transport::UreqTransport;
use crate::SandboxError;

/// The stand-in's SQL (schema `net` and `supabase_functions`).
pub const PG_NET_STANDIN_SQL: &str = include_str!("../sql/pg_net_standin.sql");

/// Installs the stand-in into `database` (idempotent).
pub fn install(pg: &PgCluster, database: &str) -> Result<(), SandboxError> {
    pg.psql(database, PG_NET_STANDIN_SQL)
        .map(|_| ())
        .map_err(|e| SandboxError::Sql(format!("installing the pg_net stand-in failed: {e}")))
}

/// How the delivery loop behaves.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Poll interval while requests keep coming; it grows to `idle_poll` while the queue is empty.
    pub poll: Duration,
    pub idle_poll: Duration,
    /// Deliveries per request, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    /// Requests taken per poll.
    pub batch: u32,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            poll: Duration::from_millis(100),
            idle_poll: Duration::from_millis(500),
            max_attempts: 4,
            retry_delay: Duration::from_millis(500),
            batch: 20,
        }
    }
}

/// A queued request, as `claim_sql` reads it.
#[derive(Debug, Clone, Deserialize)]
struct Queued {
    id: i64,
    method: String,
    url: String,
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    body: Option<String>,
    timeout_milliseconds: i64,
    attempts: i32,
}

/// What one delivery attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Response { status: u16, content_type: Option<String>, headers: serde_json::Value, content: String },
    Failed { error: String, timed_out: bool },
    Refused(String),
}

impl Outcome {
    fn may_pass_later(&self) -> bool {
        match self {
            Outcome::Response { status, .. } => *status == 429 || *status >= 500,
            Outcome::Failed { .. } => true,
            Outcome::Refused(_) => false,
        }
    }
}

/// True for `http://` URLs on the loopback interface (no user info, which could hide the host).
pub fn is_local_url(url: &str) -> bool {
    let Some(rest) = url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..]) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// The delivery loop, on its own thread until stopped (or dropped).
pub struct WebhookDelivery {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery").field("running", &self.thread.is_some()).finish()
    }
}

impl WebhookDelivery {
    /// Starts delivering what `psql`'s database queues.
    pub fn start(psql: PsqlRunner, options: DeliveryOptions) -> Result<WebhookDelivery, SandboxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pg_net stand-in".into())
            .spawn(move || run(&psql, &options, &flag))
            .map_err(|e| SandboxError::Setup(format!("cannot start the webhook delivery thread: {e}")))?;
        Ok(WebhookDelivery { stop, thread: Some(thread) })
    }

    /// Stops the loop after the delivery in flight, and waits for it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WebhookDelivery {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(psql: &PsqlRunner, options: &DeliveryOptions, stop: &AtomicBool) {
    let transport = UreqTransport::new();
    let mut wait = options.poll;
    while !stop.load(Ordering::SeqCst) {
        // While PostgreSQL is down (an outage test), polls fail: keep polling, quietly.
        let handled = poll_once(psql, &transport, options).unwrap_or(0);
        wait = if handled > 0 { options.poll } else { (wait * 2).min(options.idle_poll.max(options.poll)) };
        let until = Instant::now() + wait;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20).min(wait));
        }
    }
}

/// Delivers the requests that are due; returns how many were handled.
fn poll_once(psql: &PsqlRunner, transport: &UreqTransport, options: &DeliveryOptions) -> Result<usize, SandboxError> {
    let out = psql.run(&claim_sql(options.batch))?;
    let mut handled = 0;
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let queued: Queued =
            serde_json::from_str(line).map_err(|e| SandboxError::Sql(format!("unreadable queue row ({e}): {line}")))?;
        let outcome = deliver(transport, &queued);
        if let Outcome::Refused(reason) | Outcome::Failed { error: reason, .. } = &outcome {
            // Never the headers: they carry the webhook's secret.
            eprintln!("sandbox: pg_net stand-in: request {} to {}: {reason}", queued.id, queued.url);
        }
        psql.run(&record_sql(&queued, &outcome, options))?;
        handled += 1;
    }
    Ok(handled)
}

fn claim_sql(batch: u32) -> String {
    format!(
        "select json_build_object('id', id, 'method', method, 'url', url, 'headers', headers, \
         'body', encode(body, 'base64'), 'timeout_milliseconds', timeout_milliseconds, 'attempts', attempts)::text \
         from net.http_request_queue where next_attempt_at <= clock_timestamp() order by id limit {batch}"
    )
}

fn deliver(transport: &UreqTransport, queued: &Queued) -> Outcome {
    if !is_local_url(&queued.url) {
        return Outcome::Refused(format!(
            "refused: the sandbox's pg_net stand-in delivers only to http://127.0.0.1, localhost or [::1], not {}",
            queued.url
        ));
    }
    let method = match queued.method.to_ascii_uppercase().as_str() {
        "POST" => Method::Post,
        "GET" => Method::Get,
        other => return Outcome::Refused(format!("refused: method {other} is not supported")),
    };
    let body =
        match queued.body.as_deref().map(|b| base64::engine::general_purpose::STANDARD.decode(b.replace('\n', ""))) {
            None => None,
            Some(Ok(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Some(Err(e)) => return Outcome::Refused(format!("refused: unreadable body ({e})")),
        };
    let mut request = HttpRequest::new(method, queued.url.clone());
    request.headers = queued
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())))
        .collect();
    request.body = body;
    request.timeout_ms = u64::try_from(queued.timeout_milliseconds).unwrap_or(5000).clamp(100, 30_000);
    match transport.send_blocking(&request) {
        Ok(response) => {
            let content_type = response
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                .map(|(_, value)| value.clone());
            let headers = serde_json::Value::Object(
                response.headers.iter().map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone()))).collect(),
            );
            Outcome::Response { status: response.status, content_type, headers, content: response.body }
        }
        Err(TransportError::Timeout(ms)) => {
            Outcome::Failed { error: format!("timed out after {ms} ms"), timed_out: true }
        }
        Err(e) => Outcome::Failed { error: e.to_string(), timed_out: false },
    }
}

/// A SQL string literal (standard_conforming_strings is on; NUL cannot be stored in text).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\0', "").replace('\'', "''"))
}

fn optional(value: Option<&str>) -> String {
    value.map(literal).unwrap_or_else(|| "null".into())
}

/// Records the attempt's outcome, then either removes the request (done) or schedules a retry.
fn record_sql(queued: &Queued, outcome: &Outcome, options: &DeliveryOptions) -> String {
    let attempts = queued.attempts.saturating_add(1);
    let (status, content_type, headers, content, timed_out, error) = match outcome {
        Outcome::Response { status, content_type, headers, content } => (
            status.to_string(),
            optional(content_type.as_deref()),
            format!("{}::jsonb", literal(&headers.to_string())),
            literal(&content.chars().take(10_000).collect::<String>()),
            "false".to_string(),
            "null".to_string(),
        ),
        Outcome::Failed { error, timed_out } => {
            ("null".into(), "null".into(), "null".into(), "null".into(), timed_out.to_string(), literal(error))
        }
        Outcome::Refused(reason) => {
            ("null".into(), "null".into(), "null".into(), "null".into(), "false".into(), literal(reason))
        }
    };
    let retry = outcome.may_pass_later() && u32::try_from(attempts).unwrap_or(u32::MAX) < options.max_attempts;
    let next = if retry {
        let delay = options.retry_delay.saturating_mul(1u32 << (attempts - 1).clamp(0, 10) as u32);
        format!(
            "update net.http_request_queue set attempts = {attempts}, \
             next_attempt_at = clock_timestamp() + interval '{} milliseconds' where id = {};",
            delay.as_millis(),
            queued.id
        )
    } else {
        format!("delete from net.http_request_queue where id = {};", queued.id)
    };
    format!(
        "insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg, attempts, created) \
         values ({id}, {status}, {content_type}, {headers}, {content}, {timed_out}, {error}, {attempts}, now()) \
         on conflict (id) do update set status_code = excluded.status_code, content_type = excluded.content_type, \
         headers = excluded.headers, content = excluded.content, timed_out = excluded.timed_out, \
         error_msg = excluded.error_msg, attempts = excluded.attempts, created = excluded.created;\n{next}",
        id = queued.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_local() {
        for url in [
            "http://127.0.0.1:8787/webhooks/supabase",
            "http://localhost:8787/webhooks/supabase",
            "HTTP://LOCALHOST/x",
            "http://[::1]:9000/",
            "http://127.0.0.1",
            "http://localhost?x=1",
        ] {
            assert!(is_local_url(url), "{url}");
        }
        for url in [
            "https://127.0.0.1/", // no TLS in the sandbox
            "http://example.com/",
            "http://127.0.0.1.example.com/",
            "http://localhost.example.com/",
            "http://127.0.0.1@example.com/", // user info hiding the host
            "http://example.com#@127.0.0.1/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "127.0.0.1:8787",
            "",
        ] {
            assert!(!is_local_url(url), "{url}");
        }
    }

    #[test]
    fn retries_only_what_may_pass_later() {
        let response = |status| Outcome::Response {
            status,
            content_type: None,
            headers: serde_json::json!({}),
            content: String::new(),
        };
        assert!(response(500).may_pass_later());
        assert!(response(503).may_pass_later());
        assert!(response(429).may_pass_later());
        assert!(!response(200).may_pass_later());
        assert!(!response(401).may_pass_later());
        assert!(Outcome::Failed { error: "refused".into(), timed_out: false }.may_pass_later());
        assert!(!Outcome::Refused("remote".into()).may_pass_later());
    }

    #[test]
    fn literals_are_quoted() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\0b\\c"), "'ab\\c'");
        assert_eq!(optional(None), "null");
    }
}
