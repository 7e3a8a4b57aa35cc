//! `GET /`: a small HTML page showing `/health` to a person; refreshes every 30 seconds.
use crate::health::Health;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

fn row(label: &str, value: &str) -> String {
    format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", escape(label), escape(value))
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "never".into())
}

/// Renders the dashboard.
pub fn render(health: &Health) -> String {
    let mut facts = vec![
        row("Status", &health.status),
        row("Summary", &health.summary),
        row("Last run", &when(health.last_run.as_ref().map(|run| run.finished_at))),
        row("Last success", &when(health.last_success)),
    ];
    if let Some(run) = &health.last_run {
        let c = &run.counts;
        facts.push(row(
            "Last run did",
            &format!(
                "{} pages created, {} rows inserted, {} pages updated, {} rows updated, {} conflicts, {} record errors ({} subrequests)",
                c.pages_created, c.rows_inserted, c.pages_updated, c.rows_updated, c.conflicts, c.record_errors, run.subrequests
            ),
        ));
    }
    let t = &health.totals;
    facts.push(row(
        "Since install",
        &format!("{} runs, {} pages created, {} rows inserted, {} conflicts", t.runs, t.pages_created, t.rows_inserted, t.conflicts),
    ));
    facts.push(row("Pending", &health.pending.to_string()));
    let fixes: String = if health.fix.is_empty() {
        "<p class=\"fine\">Nothing to fix.</p>".to_string()
    } else {
        let items: String = health.fix.iter().map(|fix| format!("<li>{}</li>", escape(fix))).collect();
        format!("<ol class=\"fix\">{items}</ol>")
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Decision sync: {status}</title>\
<style>body{{font:16px system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}}\
.status{{display:inline-block;padding:.2rem .6rem;border-radius:.4rem;background:{color};color:#fff}}\
th{{text-align:left;padding-right:1rem;vertical-align:top}}td,th{{padding:.25rem 0}}.fix li{{margin:.3rem 0}}</style></head>\
<body><h1>Supabase ⇄ Notion sync <span class=\"status\" id=\"status\">{status}</span></h1>\
<table>{facts}</table><h2>What to fix</h2>{fixes}\
<p><small>Refreshes every 30 s · JSON at <a href=\"/health\">/health</a> · checked {checked}</small></p></body></html>",
        status = escape(&health.status),
        color = color(&health.status),
        facts = facts.concat(),
        fixes = fixes,
        checked = when(Some(health.checked_at)),
    )
}

fn color(status: &str) -> &'static str {
    match status {
        "ok" => "#1a7f37",
        "partial" | "never_run" => "#0969da",
        "attention" | "stale" => "#9a6700",
        _ => "#cf222e",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::state::{RecordIssue, SyncState};
    use crate::core::model::Side;
    use crate::health::{build, ConfigStatus, SchemaCheck, SchemaStatus};

    #[test]
    fn shows_status_and_escapes_what_it_prints() {
        let mut state = SyncState::default();
        state.errors.push(RecordIssue { side: Side::Supabase, id: "<script>".into(), field: Some("type".into()), reason: "comma".into() });
        let config = ConfigStatus { missing: vec!["NOTION_API_KEY".into()], invalid: vec![], admin_routes_enabled: false };
        let schema = SchemaStatus { supabase: SchemaCheck::NotChecked { reason: "not configured".into() }, notion: SchemaCheck::Ok };
        let html = render(&build(&state, config, schema, chrono::Utc::now()));
        assert!(html.contains("http-equiv=\"refresh\" content=\"30\""));
        assert!(html.contains("not_configured"));
        assert!(html.contains("wrangler secret put NOTION_API_KEY"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    }
}
