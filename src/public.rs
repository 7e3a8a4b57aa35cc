//! What anonymous visitors of `/health` and `/` may read: the report without internal URLs
//! (`SUPABASE_URL`, the REST URL, `NOTION_API_BASE`, any other address a message quotes). The
//! admin's `POST /health/check` answers the same report with them.
use crate::core::report::RunOutcome;
use crate::health::{Health, SchemaCheck};

/// Shown instead of an internal URL.
pub const HIDDEN_URL: &str = "[URL hidden]";

/// Hosts whose links are public help, kept in messages ("copy the secret from https://www.notion.so/…").
const PUBLIC_HOSTS: [&str; 5] =
    ["www.notion.so", "notion.so", "developers.notion.com", "api.notion.com", "supabase.com"];

/// Characters that end a URL quoted in a message.
fn ends_url(ch: char) -> bool {
    ch.is_whitespace() || matches!(ch, ')' | ']' | '>' | '<' | '"' | '\'' | '`' | ',' | ';')
}

fn is_public(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("").to_ascii_lowercase();
    PUBLIC_HOSTS.contains(&host.as_str())
}

/// Start of the next `http://` or `https://` in `text` (any case), from byte `from`.
fn next_url(text: &str, from: usize) -> Option<usize> {
    let lower = text[from..].to_ascii_lowercase();
    let http = lower.find("http://");
    let https = lower.find("https://");
    let found = match (http, https) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return None,
    };
    Some(from + found)
}

/// `text` with every non-public `http(s)://` URL replaced by [`HIDDEN_URL`] (trailing `.` or
/// `:` of the sentence kept).
pub fn without_internal_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    while let Some(start) = next_url(text, position) {
        out.push_str(&text[position..start]);
        let length = text[start..].find(ends_url).unwrap_or(text.len() - start);
        let url = text[start..start + length].trim_end_matches(['.', ':']);
        out.push_str(if is_public(url) { url } else { HIDDEN_URL });
        position = start + url.len();
    }
    out.push_str(&text[position..]);
    out
}

fn map_check(check: &mut SchemaCheck, clean: &dyn Fn(&str) -> String) {
    match check {
        SchemaCheck::Problem { message } | SchemaCheck::Warning { message } | SchemaCheck::Unreachable { message } => {
            *message = clean(message)
        }
        SchemaCheck::NotChecked { reason } => *reason = clean(reason),
        SchemaCheck::Ok => {}
    }
}

/// Applies `clean` to every message of the report (ids, counts and times are left as they are).
pub fn map_text(mut health: Health, clean: &dyn Fn(&str) -> String) -> Health {
    health.summary = clean(&health.summary);
    health.fix.iter_mut().for_each(|line| *line = clean(line));
    if let Some(run) = health.last_run.as_mut() {
        match &mut run.outcome {
            RunOutcome::NotConfigured { message } | RunOutcome::Failed { message } => *message = clean(message),
            RunOutcome::Partial { reason } => *reason = clean(reason),
            RunOutcome::Ok | RunOutcome::Skipped { .. } => {}
        }
        run.warnings.iter_mut().for_each(|warning| *warning = clean(warning));
        run.errors.iter_mut().for_each(|issue| issue.reason = clean(&issue.reason));
    }
    health.errors.iter_mut().for_each(|issue| issue.reason = clean(&issue.reason));
    health.orphans.iter_mut().for_each(|orphan| orphan.reason = clean(&orphan.reason));
    map_check(&mut health.schema.supabase, clean);
    map_check(&mut health.schema.notion, clean);
    health.config.invalid.iter_mut().for_each(|line| *line = clean(line));
    health
}

/// The report as anonymous visitors see it.
pub fn for_visitors(health: Health) -> Health {
    map_text(health, &without_internal_urls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::state::{RecordIssue, SyncState};
    use crate::health::{build, ConfigStatus, SchemaStatus};

    #[test]
    fn internal_urls_are_hidden_public_help_links_kept() {
        assert_eq!(
            without_internal_urls(
                "supabase is unavailable: PATCH http://127.0.0.1:54321/rest/v1/decision_vault: HTTP 503"
            ),
            "supabase is unavailable: PATCH [URL hidden]: HTTP 503"
        );
        assert_eq!(
            without_internal_urls("check that NOTION_API_BASE (HTTPS://notion-proxy.internal:8443) points at the API."),
            "check that NOTION_API_BASE ([URL hidden]) points at the API."
        );
        let help = "copy it from https://www.notion.so/profile/integrations and set it again";
        assert_eq!(without_internal_urls(help), help);
        assert_eq!(without_internal_urls("https://abc.supabase.co/rest/v1"), "[URL hidden]");
        assert_eq!(without_internal_urls("no url here: http:/ nor https:"), "no url here: http:/ nor https:");
        assert_eq!(without_internal_urls("émoji ✓ then http://10.0.0.1/x."), "émoji ✓ then [URL hidden].");
    }

    #[test]
    fn anonymous_health_has_no_internal_url_anywhere() {
        let url = "http://127.0.0.1:54321/rest/v1/decision_vault";
        let message = format!("supabase is unavailable: GET {url}: HTTP 503 (gave up after 4 attempts)");
        let mut state = SyncState::default();
        let mut run = crate::core::report::RunSummary::failed("r", "cron", false, chrono::Utc::now(), message.clone());
        run.warnings.push(format!("warning about {url}"));
        state.last_run = Some(run);
        state.errors.push(RecordIssue {
            side: crate::core::model::Side::Supabase,
            id: "r1".into(),
            field: None,
            reason: message.clone(),
        });
        let down = SchemaCheck::Unreachable { message: message.clone() };
        let config = ConfigStatus {
            missing: vec![],
            invalid: vec![format!("setting SUPABASE_URL is {url}")],
            admin_routes_enabled: true,
        };
        let health =
            build(&state, config, SchemaStatus { supabase: down, notion: SchemaCheck::Ok }, chrono::Utc::now());
        assert!(serde_json::to_string(&health).unwrap().contains(url), "the full report names it");
        let public = serde_json::to_string(&for_visitors(health)).unwrap();
        assert!(!public.contains("127.0.0.1") && !public.contains("http://"), "{public}");
        assert!(public.contains("supabase is unavailable: GET [URL hidden]: HTTP 503"), "{public}");
    }
}
