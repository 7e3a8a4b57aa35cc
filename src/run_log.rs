//! What the Worker logs about a run, by `LOG_LEVEL`: pure, so it is tested natively; the edge
//! only prints the lines. Lines name ids, fields and counts, never secrets; a record error is
//! logged by side, id and field only (its reason may quote the refused value: that stays in
//! `/health`). Warnings are logged as they are (a page id and its first Type).
use std::fmt;
use std::str::FromStr;

use crate::core::report::{RunOutcome, RunSummary};

/// `LOG_LEVEL`: how much a run logs. Failed and unconfigured runs are logged at every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Only runs that failed or could not start.
    Error,
    /// Also runs that left record errors or warnings behind.
    Warn,
    /// One line per run (the default).
    #[default]
    Info,
    /// Also one line per record error and warning.
    Debug,
}

impl LogLevel {
    pub const NAMES: &'static str = "error, warn, info, debug";
}

impl FromStr for LogLevel {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            _ => Err(()),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        })
    }
}

/// How a line is printed (`console.error` / `console.warn` / `console.log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
    Info,
}

/// The lines to log for one run at `level`, in order.
pub fn run_log_lines(summary: &RunSummary, level: LogLevel) -> Vec<(Severity, String)> {
    let failed = matches!(summary.outcome, RunOutcome::Failed { .. } | RunOutcome::NotConfigured { .. });
    let needs_a_look = !summary.errors.is_empty() || !summary.warnings.is_empty();
    let mut lines = Vec::new();
    if failed {
        lines.push((Severity::Error, run_line(summary)));
    } else if needs_a_look && level >= LogLevel::Warn {
        lines.push((Severity::Warn, run_line(summary)));
    } else if level >= LogLevel::Info {
        lines.push((Severity::Info, run_line(summary)));
    }
    if let Some(halt) = summary.mass_delete_halt.as_ref().filter(|_| level >= LogLevel::Warn) {
        lines.push((Severity::Warn, format!("decision-sync run {}: {} (see /health)", summary.run_id, halt.summary())));
    }
    if level >= LogLevel::Debug {
        let prefix = format!("decision-sync run {}", summary.run_id);
        for issue in &summary.errors {
            let field = issue.field.as_deref().map(|field| format!(" field {field}")).unwrap_or_default();
            lines.push((
                Severity::Info,
                format!("{prefix}: record error: {} {}{field} (see /health)", issue.side, issue.id),
            ));
        }
        for warning in &summary.warnings {
            lines.push((Severity::Info, format!("{prefix}: warning: {warning}")));
        }
    }
    lines
}

/// One line per run: id, trigger, outcome, counts.
fn run_line(summary: &RunSummary) -> String {
    let outcome = serde_json::to_string(&summary.outcome).unwrap_or_default();
    let counts = serde_json::to_string(&summary.counts).unwrap_or_default();
    format!(
        "decision-sync run {} ({}): {outcome} counts={counts} subrequests={} pending={} errors={}",
        summary.run_id,
        summary.trigger,
        summary.subrequests,
        summary.pending,
        summary.errors.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Side;
    use crate::core::state::RecordIssue;

    fn summary(outcome: RunOutcome) -> RunSummary {
        let at = chrono::DateTime::UNIX_EPOCH;
        let mut summary = RunSummary::started("r1", "cron */15 * * * *", false, at).finished(outcome, at);
        summary.subrequests = 6;
        summary
    }

    fn with_record_error() -> RunSummary {
        let mut s = summary(RunOutcome::Ok);
        s.errors.push(RecordIssue {
            side: Side::Supabase,
            id: "row-1".into(),
            field: Some("type".into()),
            reason: "field `type` is \"UX, Secret plan\": …".into(),
        });
        s
    }

    fn severities(lines: &[(Severity, String)]) -> Vec<Severity> {
        lines.iter().map(|(severity, _)| *severity).collect()
    }

    #[test]
    fn parses_the_four_levels_in_any_case_and_refuses_others() {
        assert_eq!("DEBUG".parse(), Ok(LogLevel::Debug));
        assert_eq!(" warn ".parse(), Ok(LogLevel::Warn));
        assert_eq!("warning".parse(), Ok(LogLevel::Warn));
        assert_eq!("error".parse(), Ok(LogLevel::Error));
        assert_eq!("info".parse(), Ok(LogLevel::Info));
        assert_eq!("verbose".parse::<LogLevel>(), Err(()));
        assert_eq!(LogLevel::default(), LogLevel::Info);
    }

    #[test]
    fn a_quiet_run_logs_one_line_at_info_and_nothing_below() {
        let quiet = summary(RunOutcome::Ok);
        let info = run_log_lines(&quiet, LogLevel::Info);
        assert_eq!(severities(&info), vec![Severity::Info]);
        assert!(
            info[0].1.contains("run r1 (cron */15 * * * *)") && info[0].1.contains("subrequests=6"),
            "{}",
            info[0].1
        );
        assert!(run_log_lines(&quiet, LogLevel::Warn).is_empty());
        assert!(run_log_lines(&quiet, LogLevel::Error).is_empty());
    }

    #[test]
    fn a_failed_run_is_an_error_line_at_every_level() {
        let failed = summary(RunOutcome::Failed { message: "supabase is unavailable".into() });
        for level in [LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug] {
            assert_eq!(severities(&run_log_lines(&failed, level)), vec![Severity::Error], "{level}");
        }
    }

    #[test]
    fn record_errors_make_a_warning_and_debug_names_each_record_without_its_content() {
        let run = with_record_error();
        assert_eq!(severities(&run_log_lines(&run, LogLevel::Warn)), vec![Severity::Warn]);
        assert!(run_log_lines(&run, LogLevel::Error).is_empty());
        let debug = run_log_lines(&run, LogLevel::Debug);
        assert_eq!(debug.len(), 2);
        assert_eq!(debug[1].1, "decision-sync run r1: record error: supabase row-1 field type (see /health)");
        assert!(debug.iter().all(|(_, line)| !line.contains("Secret plan")), "content must not be logged");
    }

    #[test]
    fn a_mass_delete_halt_is_a_warning_line_from_warn_up() {
        let mut halted = summary(RunOutcome::Ok);
        halted.mass_delete_halt = Some(crate::core::mass_delete::MassDeleteHalt {
            since: chrono::DateTime::UNIX_EPOCH,
            deletes: 12,
            linked: 12,
            share_percent: 50,
            pages_to_trash: 12,
            rows_to_delete: 0,
            sample_rows: vec!["row-1".into()],
            sample_pages: vec![],
        });
        let warn = run_log_lines(&halted, LogLevel::Warn);
        assert!(
            warn.iter().any(|(severity, line)| *severity == Severity::Warn && line.contains("safety halt: 12 of 12")),
            "{warn:?}"
        );
        assert!(run_log_lines(&halted, LogLevel::Error).is_empty());
    }
}
