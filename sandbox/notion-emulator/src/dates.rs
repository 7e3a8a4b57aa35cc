//! Dates and timestamps: ISO 8601 parsing, Notion's minute rounding.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use std::cmp::Ordering;

/// A date as written in a request: a calendar day, a date-time with offset, or a naive
/// date-time (Notion pairs those with `time_zone`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IsoDate {
    Day(NaiveDate),
    Offset(DateTime<FixedOffset>),
    Naive(NaiveDateTime),
}

impl IsoDate {
    pub fn parse(s: &str) -> Option<IsoDate> {
        let s = s.trim();
        if s.len() == 10 {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(IsoDate::Day);
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(IsoDate::Offset(dt));
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(IsoDate::Naive(n));
            }
        }
        for fmt in ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M%z"] {
            if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
                return Some(IsoDate::Offset(dt));
            }
        }
        None
    }

    /// The form Notion echoes back: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS.mmm+HH:MM`.
    pub fn normalized(&self) -> String {
        match self {
            IsoDate::Day(d) => d.format("%Y-%m-%d").to_string(),
            IsoDate::Offset(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
            IsoDate::Naive(n) => n.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        }
    }

    /// The calendar day as written (never converted to UTC).
    pub fn day(&self) -> NaiveDate {
        match self {
            IsoDate::Day(d) => *d,
            IsoDate::Offset(dt) => dt.date_naive(),
            IsoDate::Naive(n) => n.date(),
        }
    }

    /// An instant for ordering: days at 00:00 UTC, naive date-times taken as UTC.
    pub fn instant(&self) -> DateTime<Utc> {
        match self {
            IsoDate::Day(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            IsoDate::Offset(dt) => dt.with_timezone(&Utc),
            IsoDate::Naive(n) => n.and_utc(),
        }
    }

    /// Compares a value to a filter argument: a day argument compares calendar days,
    /// a date-time argument compares instants.
    pub fn cmp_to(&self, arg: &IsoDate) -> Ordering {
        match arg {
            IsoDate::Day(d) => self.day().cmp(d),
            _ => self.instant().cmp(&arg.instant()),
        }
    }
}

/// Compares a timestamp (UTC) with a filter argument, like [`IsoDate::cmp_to`].
pub fn cmp_ts(ts: DateTime<Utc>, arg: &IsoDate) -> Ordering {
    match arg {
        IsoDate::Day(d) => ts.date_naive().cmp(d),
        _ => ts.cmp(&arg.instant()),
    }
}

/// Notion reports `created_time` / `last_edited_time` rounded down to the minute.
pub fn round_to_minute(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(ts)
}

/// `2024-05-01T10:42:00.000Z`
pub fn fmt_ts(ts: DateTime<Utc>) -> String {
    round_to_minute(ts).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Full-precision form for admin output.
pub fn fmt_exact(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_notion_accepts() {
        assert_eq!(IsoDate::parse("2024-02-29").map(|d| d.normalized()).as_deref(), Some("2024-02-29"));
        assert_eq!(
            IsoDate::parse("2024-02-29T10:00:00Z").map(|d| d.normalized()).as_deref(),
            Some("2024-02-29T10:00:00.000+00:00")
        );
        assert_eq!(
            IsoDate::parse("2024-02-29T23:30:00-05:00").map(|d| d.day().to_string()).as_deref(),
            Some("2024-02-29")
        );
        assert!(IsoDate::parse("2024-02-30").is_none());
        assert!(IsoDate::parse("yesterday").is_none());
    }

    #[test]
    fn rounds_down_to_minute() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:42:59.999Z").map(|d| d.with_timezone(&Utc));
        assert_eq!(t.map(fmt_ts).ok().as_deref(), Some("2024-05-01T10:42:00.000Z"));
    }
}
