//! `GET /`: a small HTML page showing `/health` to a person; refreshes every 30 seconds.
//! Static HTML (no script), everything escaped; the raw status is in `data-status` of `#status`.
use crate::coordinator_status::{CoordinatorStatus, WebhookSide};
use crate::core::report::{RunCounts, RunOutcome, RunSummary};
use crate::health::{
    count_of, issue_line, orphan_line, Health, InterruptedRun, SchemaAge, SchemaCheck, FIX_ITEMS_PER_KIND,
};

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

fn row(id: &str, label: &str, value: &str) -> String {
    format!("<tr id=\"{id}\"><th scope=\"row\">{}</th><td>{}</td></tr>", escape(label), escape(value))
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "never".into())
}

/// The status as a person reads it (the badge); `/health` has the raw value.
fn label(status: &str) -> &str {
    match status {
        "ok" => "in sync",
        "never_run" => "never run",
        "attention" => "needs attention",
        "partial" => "catching up",
        "halted" => "deletes on hold",
        "interrupted" => "interrupted",
        "stale" => "stale",
        "failing" => "failing",
        "not_configured" => "not configured",
        other => other,
    }
}

fn color(status: &str) -> &'static str {
    match status {
        "ok" => "#1a7f37",
        "partial" | "never_run" => "#0969da",
        "attention" | "stale" | "halted" | "interrupted" => "#9a6700",
        _ => "#cf222e",
    }
}

fn outcome(run: &RunSummary) -> String {
    let duration = (run.finished_at - run.started_at).num_milliseconds().max(0) as f64 / 1000.0;
    let result = match &run.outcome {
        RunOutcome::Ok => "finished".to_string(),
        RunOutcome::Partial { reason } => format!("stopped early: {reason}"),
        RunOutcome::NotConfigured { .. } => "stopped on a configuration problem (see What to fix)".to_string(),
        RunOutcome::Failed { .. } => "failed (see What to fix)".to_string(),
        RunOutcome::Skipped { running_run_id } => format!("skipped: run {running_run_id} was still running"),
    };
    let kind = if run.dry_run {
        ", dry run"
    } else if run.full_pass {
        ", full reconciliation"
    } else {
        ""
    };
    format!("{} ({}{kind}): {result} in {duration:.1} s", when(Some(run.finished_at)), run.trigger)
}

/// A run that started and did not finish, with what it left.
fn interrupted(run: &InterruptedRun) -> String {
    format!(
        "{} ({}) started {}, did not finish; {} not linked yet (the next run links them)",
        run.run_id,
        run.trigger,
        when(Some(run.started_at)),
        count_of(run.unlinked_creates, "page create", "page creates")
    )
}

/// What a run changed, naming only what happened.
fn changes(c: &RunCounts) -> String {
    let items = [
        (c.pages_created, "page created", "pages created"),
        (c.rows_inserted, "row inserted", "rows inserted"),
        (c.pages_updated, "page updated", "pages updated"),
        (c.rows_updated, "row updated", "rows updated"),
        (c.links, "pair linked", "pairs linked"),
        (c.pages_trashed, "page moved to the trash", "pages moved to the trash"),
        (c.pages_restored, "page restored", "pages restored"),
        (c.rows_deleted, "row soft-deleted", "rows soft-deleted"),
        (c.rows_restored, "row restored", "rows restored"),
        (c.conflicts, "conflict resolved", "conflicts resolved"),
        (
            c.skipped_concurrent_edits,
            "row edited meanwhile, left for the next run",
            "rows edited meanwhile, left for the next run",
        ),
    ];
    let done: Vec<String> =
        items.iter().filter(|(n, _, _)| *n > 0).map(|(n, one, many)| count_of(*n as usize, one, many)).collect();
    if done.is_empty() {
        "no changes".to_string()
    } else {
        done.join(", ")
    }
}

fn schema(check: &SchemaCheck) -> String {
    match check {
        SchemaCheck::Ok => "ok".to_string(),
        SchemaCheck::Problem { .. } => "problem (see What to fix)".to_string(),
        SchemaCheck::Warning { .. } => "works, with a warning (see What to fix)".to_string(),
        SchemaCheck::Unreachable { .. } => "unreachable (see What to fix)".to_string(),
        SchemaCheck::NotChecked { reason } => format!("not checked ({reason})"),
    }
}

/// ` (checked 5 min ago)`: when a run (or the admin check) last checked this side.
fn checked_ago(age: &SchemaAge) -> String {
    match age.age_seconds {
        None => String::new(),
        Some(seconds) if seconds < 60 => format!(" (checked {seconds} s ago)"),
        Some(seconds) if seconds < 2 * 3600 => format!(" (checked {} min ago)", seconds / 60),
        Some(seconds) if seconds < 2 * 86_400 => format!(" (checked {} h ago)", seconds / 3600),
        Some(seconds) => format!(" (checked {} days ago)", seconds / 86_400),
    }
}

fn facts(health: &Health) -> String {
    let mut facts = Vec::new();
    match &health.last_run {
        Some(run) => {
            facts.push(row("last-run", "Last run", &outcome(run)));
            facts.push(row(
                "last-run-did",
                "Last run did",
                &format!(
                    "{} · read {} and {} · {}",
                    changes(&run.counts),
                    count_of(run.counts.rows_read as usize, "row", "rows"),
                    count_of(run.counts.pages_read as usize, "page", "pages"),
                    count_of(run.subrequests as usize, "subrequest", "subrequests"),
                ),
            ));
        }
        None => facts.push(row("last-run", "Last run", "never")),
    }
    if let Some(run) = &health.interrupted_run {
        facts.push(row("interrupted-run", "Interrupted run", &interrupted(run)));
    }
    facts.push(row("last-success", "Last success", &when(health.last_success)));
    let t = &health.totals;
    facts.push(row(
        "totals",
        "Since install",
        &format!(
            "{}, {}, {}, {}, {}, {}",
            count_of(t.runs as usize, "run", "runs"),
            count_of(t.pages_created as usize, "page created", "pages created"),
            count_of(t.rows_inserted as usize, "row inserted", "rows inserted"),
            count_of(t.pages_updated as usize, "page updated", "pages updated"),
            count_of(t.rows_updated as usize, "row updated", "rows updated"),
            count_of(t.conflicts as usize, "conflict", "conflicts"),
        ),
    ));
    if let Some(halt) = &health.mass_delete_halt {
        let mut held =
            format!("{} of {} linked records held since {}", halt.deletes, halt.linked, when(Some(halt.since)));
        if !halt.sample_rows.is_empty() {
            held.push_str(&format!(" · rows e.g. {}", halt.sample_rows.join(", ")));
        }
        if !halt.sample_pages.is_empty() {
            held.push_str(&format!(" · pages e.g. {}", halt.sample_pages.join(", ")));
        }
        facts.push(row("mass-delete", "Safety halt", &held));
    }
    facts.push(row("record-errors", "Record errors", &health.errors.len().to_string()));
    facts.push(row("orphans", "Orphans", &health.orphans.len().to_string()));
    // `pending` is a lower bound: a run stopped by its budget may not know how much is left.
    let stopped_early = matches!(health.last_run.as_ref().map(|run| &run.outcome), Some(RunOutcome::Partial { .. }));
    let pending = match (health.pending, stopped_early) {
        (0, false) => "nothing left for the next run".to_string(),
        (0, true) => "more than one run's work: the next run continues where the last one stopped".to_string(),
        (n, false) => format!("{} left for the next run", count_of(n as usize, "item", "items")),
        (n, true) => format!(
            "at least {} left; the next run continues where the last one stopped",
            count_of(n as usize, "item", "items")
        ),
    };
    facts.push(row("pending", "Backlog", &pending));
    if let Some(coordinator) = &health.coordinator {
        facts.push(row("next-run", "Next run", &next_run(coordinator)));
        facts.push(row("webhooks", "Webhooks", &webhooks(coordinator)));
    }
    let full = if health.full_pass_in_progress {
        "in progress (paged across runs)".to_string()
    } else {
        match health.last_full_pass {
            Some(at) => format!("last finished {}", when(Some(at))),
            None => "not finished yet".to_string(),
        }
    };
    facts.push(row("full-pass", "Full reconciliation", &full));
    facts.push(row(
        "schema",
        "Schema check",
        &format!(
            "Supabase: {}{} · Notion: {}{}",
            schema(&health.schema.supabase),
            checked_ago(&health.schema_checked.supabase),
            schema(&health.schema.notion),
            checked_ago(&health.schema_checked.notion)
        ),
    ));
    let admin = if health.config.admin_routes_enabled {
        "enabled (/sync-now, /dry-run, /conflicts)"
    } else {
        "disabled until SYNC_ADMIN_TOKEN is set"
    };
    facts.push(row("admin", "Admin routes", admin));
    format!("<table class=\"facts\">{}</table>", facts.concat())
}

/// When the next run happens, and a drain's progress.
fn next_run(status: &CoordinatorStatus) -> String {
    let next = if status.running {
        "running now".to_string()
    } else {
        match status.next_run_at {
            Some(at) => when(Some(at)),
            None => "idle: at the next cron run or webhook".to_string(),
        }
    };
    match &status.drain {
        Some(drain) => format!(
            "{next} · draining: {} left after {}, {:.2} requests/s (limit {}){}",
            count_of(drain.items_left as usize, "item", "items"),
            count_of(drain.runs as usize, "run", "runs"),
            drain.requests_per_second,
            drain.rate_limit_per_second,
            drain.expected_finish.map(|at| format!(", expected to finish {}", when(Some(at)))).unwrap_or_default()
        ),
        None => next,
    }
}

/// Each side's webhook: on (with its last delivery) or not set up.
fn webhooks(status: &CoordinatorStatus) -> String {
    let side = |name: &str, side: &WebhookSide| {
        if side.ready {
            format!("{name}: on, last delivery {}", when(side.last_delivery_at))
        } else {
            format!("{name}: not set up")
        }
    };
    format!("{} · {}", side("Notion", &status.webhooks.notion), side("Supabase", &status.webhooks.supabase))
}

/// "What to fix": the general items (settings, schema, the last run's failure), then the record
/// errors and orphans as tables (the same items `fix` lists, with their columns apart).
fn fixes(health: &Health) -> String {
    let per_record: Vec<String> = health
        .errors
        .iter()
        .take(FIX_ITEMS_PER_KIND)
        .map(issue_line)
        .chain(health.orphans.iter().take(FIX_ITEMS_PER_KIND).map(orphan_line))
        .collect();
    let general: Vec<&String> = health.fix.iter().filter(|line| !per_record.contains(line)).collect();
    if general.is_empty() && health.errors.is_empty() && health.orphans.is_empty() {
        return "<p class=\"fine\" id=\"nothing-to-fix\">Nothing to fix.</p>".to_string();
    }
    let mut out = String::new();
    if !general.is_empty() {
        let items: String = general.iter().map(|fix| format!("<li>{}</li>", escape(fix))).collect();
        out.push_str(&format!("<ol class=\"fix\" id=\"fix\">{items}</ol>"));
    }
    if !health.errors.is_empty() {
        let rows: String = health
            .errors
            .iter()
            .map(|issue| {
                format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    escape(&issue.side.to_string()),
                    escape(&issue.id),
                    escape(issue.field.as_deref().unwrap_or("")),
                    escape(&issue.reason)
                )
            })
            .collect();
        out.push_str(&format!(
            "<h3>{} (skipped until corrected; the other records sync)</h3>\
             <table class=\"list\" id=\"errors\"><thead><tr><th>Side</th><th>Record</th><th>Field</th><th>Problem and fix</th></tr></thead>\
             <tbody>{rows}</tbody></table>",
            escape(&count_of(health.errors.len(), "record error", "record errors"))
        ));
    }
    if !health.orphans.is_empty() {
        let rows: String = health
            .orphans
            .iter()
            .map(|orphan| {
                format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    escape(&orphan.side.to_string()),
                    escape(&orphan.id),
                    escape(&orphan.reason)
                )
            })
            .collect();
        out.push_str(&format!(
            "<h3>{} (never deleted by the sync)</h3>\
             <table class=\"list\" id=\"orphans\"><thead><tr><th>Side</th><th>Id</th><th>Why and what to do</th></tr></thead>\
             <tbody>{rows}</tbody></table>",
            escape(&count_of(health.orphans.len(), "orphan", "orphans"))
        ));
    }
    out
}

fn warnings(health: &Health) -> String {
    match &health.last_run {
        Some(run) if !run.warnings.is_empty() => {
            let items: String = run.warnings.iter().map(|w| format!("<li>{}</li>", escape(w))).collect();
            format!("<h2>Warnings from the last run</h2><ul id=\"warnings\">{items}</ul>")
        }
        _ => String::new(),
    }
}

const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}\
h1{font-size:1.6rem;margin:0 0 .4rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .4rem}\
.status{display:inline-block;padding:.15rem .6rem;border-radius:.4rem;color:#fff;font-size:1rem;vertical-align:.2rem;margin-left:.4rem}\
.summary{margin:.2rem 0 1.2rem;font-size:1.05rem}\
table{border-collapse:collapse}.facts th{text-align:left;white-space:nowrap;padding:.3rem 1.5rem .3rem 0;vertical-align:top;font-weight:600}\
.facts td{padding:.3rem 0}.fix li{margin:.3rem 0}.fine{color:#1a7f37}\
.list{width:100%;font-size:.95rem}.list th,.list td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}\
.list th{background:#f6f8fa}code{font:.85rem ui-monospace,monospace;white-space:nowrap}\
footer{margin-top:2rem;color:#59636e;font-size:.85rem}";

/// Renders the dashboard.
/// The page shown when the report itself cannot be built (refreshes every 30 s).
pub fn error_page(message: &str) -> String {
    format!(
        "<!doctype html><html><head><meta http-equiv=\"refresh\" content=\"30\"><title>Decision sync: error</title></head>\
         <body><h1>Decision sync: error</h1><p>{}</p></body></html>",
        escape(message)
    )
}

pub fn render(health: &Health) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Decision sync: {label}</title>\
<style>{STYLE}</style></head>\
<body><h1>Supabase ⇄ Notion sync <span class=\"status\" id=\"status\" data-status=\"{status}\" style=\"background:{color}\">{label}</span></h1>\
<p class=\"summary\" id=\"summary\">{summary}</p>\
{facts}<h2>What to fix</h2>{fixes}{warnings}\
<footer>Refreshes every 30 s · JSON at <a href=\"/health\">/health</a> · checked {checked}</footer></body></html>",
        status = escape(&health.status),
        label = escape(label(&health.status)),
        color = color(&health.status),
        // The JSON's `fix` is this page's "What to fix".
        summary = escape(&health.summary.replace("see `fix`", "see What to fix below").replace("`fix`", "What to fix")),
        facts = facts(health),
        fixes = fixes(health),
        warnings = warnings(health),
        checked = when(Some(health.checked_at)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Side;
    use crate::core::state::{Orphan, RecordIssue, SyncState};
    use crate::health::{build, ConfigStatus, SchemaCheck, SchemaStatus};

    #[test]
    fn shows_the_next_run_a_drain_and_the_webhooks() {
        use crate::coordinator_status::{status, Readiness};
        use crate::core::coordinator::{CoordinatorConfig, RunDone, RunEnd, Schedule};
        let config = CoordinatorConfig::default();
        let mut schedule = Schedule::default();
        let run =
            RunDone { started_ms: 0, finished_ms: 5_000, subrequests: 45, end: RunEnd::MoreWork { pending: 500 } };
        schedule.finish_run(&run, &config);
        let ready = Readiness { supabase_secret_set: true, ..Readiness::default() };
        let state = SyncState::default();
        let config_status = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
        let schema = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let mut health = build(&state, config_status, schema, chrono::Utc::now());
        health.coordinator = Some(status(&schedule, 6_000, &config, ready));
        let html = render(&health);
        assert!(html.contains("draining: 500 items left after 1 run"), "{html}");
        assert!(html.contains("Notion: not set up · Supabase: on, last delivery never"), "{html}");
    }

    #[test]
    fn shows_status_and_escapes_what_it_prints() {
        let mut state = SyncState::default();
        state.errors.push(RecordIssue {
            side: Side::Supabase,
            id: "<script>".into(),
            field: Some("type".into()),
            reason: "comma".into(),
        });
        let config =
            ConfigStatus { missing: vec!["NOTION_API_KEY".into()], invalid: vec![], admin_routes_enabled: false };
        let schema = SchemaStatus {
            supabase: SchemaCheck::NotChecked { reason: "not configured".into() },
            notion: SchemaCheck::Ok,
        };
        let html = render(&build(&state, config, schema, chrono::Utc::now()));
        assert!(html.contains("http-equiv=\"refresh\" content=\"30\""));
        assert!(html.contains("not_configured"));
        assert!(html.contains("wrangler secret put NOTION_API_KEY"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    }

    #[test]
    fn record_errors_and_orphans_are_tables_not_repeated_in_the_list() {
        let mut state = SyncState::default();
        state.errors.push(RecordIssue {
            side: Side::Supabase,
            id: "row-1".into(),
            field: Some("type".into()),
            reason: "use one value".into(),
        });
        state.orphans.push(Orphan { side: Side::Notion, id: "page-1".into(), reason: "trash the page".into() });
        let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
        let schema = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let health = build(&state, config, schema, chrono::Utc::now());
        assert_eq!(health.fix.len(), 2, "{:?}", health.fix);
        let html = render(&health);
        assert!(html.contains("<td><code>row-1</code></td><td>type</td><td>use one value</td>"), "{html}");
        assert!(html.contains("<td><code>page-1</code></td><td>trash the page</td>"), "{html}");
        assert!(html.contains("1 record error (") && html.contains("1 orphan ("), "{html}");
        assert!(!html.contains("id=\"fix\""), "per-record items are only in the tables: {html}");
        assert!(!html.contains("Nothing to fix"));
    }

    #[test]
    fn shows_the_stored_schema_check_and_its_age() {
        let now = chrono::Utc::now();
        let mut state = SyncState::default();
        state.schema.record_notion(SchemaCheck::Ok, now - chrono::Duration::seconds(150));
        state.schema.record_supabase(SchemaCheck::Ok, now - chrono::Duration::hours(5));
        let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
        let health = build(&state, config, crate::health::stored_schema(&state), now);
        let html = render(&health);
        assert!(html.contains("Supabase: ok (checked 5 h ago) · Notion: ok (checked 2 min ago)"), "{html}");
        let never = render(&build(
            &SyncState::default(),
            health.config.clone(),
            crate::health::stored_schema(&SyncState::default()),
            now,
        ));
        assert!(never.contains("Supabase: not checked (no run has checked it yet)"), "{never}");
    }

    #[test]
    fn a_mass_delete_halt_shows_its_count_sample_and_fix() {
        let mut state = SyncState::default();
        let now = chrono::Utc::now();
        state.mass_delete.halt = Some(crate::core::mass_delete::MassDeleteHalt {
            since: now,
            deletes: 20,
            linked: 20,
            share_percent: 50,
            pages_to_trash: 0,
            rows_to_delete: 20,
            sample_rows: vec![],
            sample_pages: vec!["page-<1>".into()],
        });
        state.last_success = Some(now);
        state.last_run =
            Some(crate::core::report::RunSummary::started("r", "cron", false, now).finished(RunOutcome::Ok, now));
        let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
        let schema = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let html = render(&build(&state, config, schema, now));
        assert!(html.contains("data-status=\"halted\"") && html.contains("deletes on hold"), "{html}");
        assert!(html.contains("id=\"mass-delete\"") && html.contains("20 of 20 linked records held since"), "{html}");
        assert!(html.contains("pages e.g. page-&lt;1&gt;"), "{html}");
        assert!(
            html.contains("allow-mass-delete=1") && html.contains("restore them from Notion&#39;s trash"),
            "{html}"
        );
    }

    #[test]
    fn an_interrupted_run_is_shown_with_its_unlinked_creates_and_its_fix() {
        use crate::core::lease::{LockStatus, RunStart};
        let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
        let schema = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let mut health = build(&SyncState::default(), config, schema, chrono::Utc::now());
        let start = RunStart { run_id: "r1".into(), trigger: "cron".into(), started_at: chrono::Utc::now() };
        crate::health::add_lock_status(
            &mut health,
            &LockStatus { last_started: Some(start), pending_intents: 15, ..LockStatus::default() },
        );
        let html = render(&health);
        assert!(html.contains("data-status=\"interrupted\""), "{html}");
        assert!(html.contains("id=\"interrupted-run\"") && html.contains("15 page creates not linked yet"), "{html}");
        assert!(html.contains("was interrupted before it finished") && !html.contains("Nothing to fix"), "{html}");
        assert!(html.contains("15 items left for the next run"), "{html}");
    }

    #[test]
    fn changes_name_only_what_happened() {
        let mut counts = RunCounts::default();
        assert_eq!(changes(&counts), "no changes");
        counts.pages_created = 3;
        counts.rows_inserted = 1;
        assert_eq!(changes(&counts), "3 pages created, 1 row inserted");
    }
}
