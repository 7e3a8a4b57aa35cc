//! Minute rounding: Notion reports `last_edited_time` rounded down to the minute.
use chrono::{DateTime, Duration, DurationRound, Utc};

/// `at` rounded down to the minute.
pub fn floor_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).unwrap_or(at)
}

/// How far before the Notion cursor a query starts, to cover minute rounding.
pub fn notion_overlap() -> Duration {
    Duration::minutes(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_to_the_minute() {
        let at: DateTime<Utc> = "2025-08-07T10:05:59.999999Z".parse().unwrap();
        assert_eq!(floor_minute(at).to_rfc3339(), "2025-08-07T10:05:00+00:00");
    }
}
