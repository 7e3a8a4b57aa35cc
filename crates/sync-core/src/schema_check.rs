//! The schema checks of both sides as runs (and the admin check) last saw them, kept in the sync
//! state so `/health` can show them without asking Notion or Supabase.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;

/// Result of a schema check of one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SchemaCheck {
    Ok,
    /// Set up wrongly: the sync cannot run until this is fixed.
    Problem {
        message: String,
    },
    /// Works, in a degraded way (e.g. the write-back function is missing: one request per row).
    Warning {
        message: String,
    },
    /// The service could not be reached or failed (not a configuration problem).
    Unreachable {
        message: String,
    },
    NotChecked {
        reason: String,
    },
}

impl SchemaCheck {
    /// What a failed check means: a configuration problem to fix, or a service that did not
    /// answer. `None` when the check did not finish for another reason (budget, crash).
    pub fn from_error(error: &PortError) -> Option<SchemaCheck> {
        let message = error.to_string();
        match error {
            PortError::Config { .. } | PortError::Record { .. } => Some(SchemaCheck::Problem { message }),
            PortError::Transient { .. } => Some(SchemaCheck::Unreachable { message }),
            // A rate limit that asked for a long wait is not a broken service: the check did not finish.
            PortError::BudgetExhausted { .. }
            | PortError::RateLimited { .. }
            | PortError::Crash { .. }
            | PortError::LeaseLost { .. } => None,
        }
    }
}

/// One side's last check and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedSchema {
    pub check: SchemaCheck,
    pub checked_at: DateTime<Utc>,
}

/// The last check of each side (`None`: never checked yet).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SchemaChecks {
    #[serde(default)]
    pub supabase: Option<CheckedSchema>,
    #[serde(default)]
    pub notion: Option<CheckedSchema>,
}

/// A live check (the admin's `POST /health/check`) is made at most this often.
pub fn live_check_interval() -> Duration {
    Duration::seconds(60)
}

impl SchemaChecks {
    /// Records `check` for Supabase at `at`.
    pub fn record_supabase(&mut self, check: SchemaCheck, at: DateTime<Utc>) {
        self.supabase = Some(CheckedSchema { check, checked_at: at });
    }

    /// Records `check` for Notion at `at`.
    pub fn record_notion(&mut self, check: SchemaCheck, at: DateTime<Utc>) {
        self.notion = Some(CheckedSchema { check, checked_at: at });
    }

    /// True when both sides were checked within [`live_check_interval`] before `now`: a new live
    /// check would only repeat them.
    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        let recent = |side: &Option<CheckedSchema>| {
            side.as_ref().is_some_and(|side| now - side.checked_at < live_check_interval())
        };
        recent(&self.supabase) && recent(&self.notion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_problems_or_unreachable_and_freshness_needs_both_sides() {
        let config = SchemaCheck::from_error(&PortError::config("table missing"));
        assert_eq!(config, Some(SchemaCheck::Problem { message: "table missing".into() }));
        let down = SchemaCheck::from_error(&PortError::transient("supabase", "503"));
        assert_eq!(down, Some(SchemaCheck::Unreachable { message: "supabase is unavailable: 503".into() }));
        assert_eq!(SchemaCheck::from_error(&PortError::BudgetExhausted { limit: 1 }), None);
        let limited = PortError::RateLimited { service: "notion".into(), retry_after_ms: 90_000, message: "x".into() };
        assert_eq!(SchemaCheck::from_error(&limited), None, "a long rate-limit wait is not an unreachable service");

        let now: DateTime<Utc> = "2025-08-07T09:00:00Z".parse().unwrap();
        let mut checks = SchemaChecks::default();
        assert!(!checks.fresh(now));
        checks.record_notion(SchemaCheck::Ok, now - Duration::seconds(10));
        assert!(!checks.fresh(now), "Supabase was never checked");
        checks.record_supabase(SchemaCheck::Ok, now - Duration::seconds(59));
        assert!(checks.fresh(now));
        assert!(!checks.fresh(now + Duration::seconds(1)));
    }

    #[test]
    fn an_old_state_without_checks_still_loads() {
        let checks: SchemaChecks = serde_json::from_str("{}").unwrap();
        assert_eq!(checks, SchemaChecks::default());
    }
}
