//! A page's whole `Date` value, and what a push writes to it (DESIGN.md, "Content, normal form,
//! checksum"). The row holds a date only; a page's Date may also hold an `end`, a time and a time
//! zone. A push writes the row's date as `start`, keeps the page's `end` while it is still on or
//! after the new start, leaves the Date untouched when the row's date is the page's, and says
//! which part it dropped (a time, a time zone, an end) in a warning naming the page: nothing is
//! narrowed silently. The normal form and the checksum see the date part of `start` only.
use serde::{Deserialize, Serialize};

use crate::content::normalize_date;

/// A Notion date property value as Notion returned it (strings as written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotionDate {
    /// `YYYY-MM-DD`, or a date-time (`2025-08-07T23:30:00.000-05:00`).
    pub start: String,
    /// The end of a range; `None` when the value is a single date.
    #[serde(default)]
    pub end: Option<String>,
    /// An IANA time zone name (only with a time).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// True when a date string carries a time (`YYYY-MM-DDT…`).
fn has_time(date: &str) -> bool {
    date.trim().len() > 10
}

/// The date part of a date string, as written (`None` when it is not a date).
fn day(date: &str) -> Option<String> {
    normalize_date(date).ok()
}

/// What a page write does to the page's `Date` when it writes content.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum DateWrite {
    /// `{start: content.date}` alone: a new page, or a page whose Date was a date only.
    #[default]
    Start,
    /// Not written: the page's Date already holds the row's date (its time, end and time zone stay).
    Keep,
    /// This whole value: the row's date as `start`, with what of the page's Date can stay.
    Value(NotionDate),
}

/// What a push of a row dated `date` (`YYYY-MM-DD`) writes to a page whose Date is `page`.
///
/// When the end carries a time and the new start cannot, the end keeps its day and loses its
/// time. Notion's API documents no mix of a date-only `start` and a date-time `end`; it does
/// document that start and end go together: with a `time_zone`, "start and end cannot contain UTC
/// offsets" and "cannot be dates without time information"
/// (https://developers.notion.com/changelog/time-zone-support; the value's fields:
/// https://developers.notion.com/reference/page-property-values). Two dates without a time and
/// no time zone is a form those documents accept whatever the mix rules are, and the least lossy
/// one: the end's day stays, only its time goes (and the warning says so).
pub fn date_for_push(page: Option<&NotionDate>, date: &str) -> DateWrite {
    let Some(page) = page else { return DateWrite::Start };
    if day(&page.start).as_deref() == Some(date) {
        return DateWrite::Keep;
    }
    let end = page.end.as_deref().and_then(day).filter(|end| end.as_str() >= date);
    if end.is_none() && page.end.is_none() && page.time_zone.is_none() && !has_time(&page.start) {
        return DateWrite::Start;
    }
    DateWrite::Value(NotionDate { start: date.to_string(), end, time_zone: None })
}

impl DateWrite {
    /// What of `before` (the page's Date) this write drops, in words; empty when nothing.
    pub fn dropped(&self, before: &NotionDate) -> Vec<&'static str> {
        let (start, end, time_zone) = match self {
            DateWrite::Keep => return Vec::new(),
            DateWrite::Start => ("", None, None),
            DateWrite::Value(after) => (after.start.as_str(), after.end.as_deref(), after.time_zone.as_deref()),
        };
        let mut lost = Vec::new();
        if has_time(&before.start) && !has_time(start) {
            lost.push("the time of its start");
        }
        if before.time_zone.is_some() && time_zone.is_none() {
            lost.push("its time zone");
        }
        match (before.end.as_deref(), end) {
            (Some(_), None) => lost.push("its end date (before the new date)"),
            (Some(was), Some(now)) if has_time(was) && !has_time(now) => lost.push("the time of its end"),
            _ => {}
        }
        lost
    }

    /// The run-report warning for a push that drops part of a page's Date, naming the page.
    pub fn warning(&self, page_id: &str, before: &NotionDate) -> Option<String> {
        let lost = self.dropped(before);
        if lost.is_empty() {
            return None;
        }
        Some(format!(
            "page {page_id}: its Date was set to the row's new date and lost {}, which a row cannot hold (a date only); set it again in Notion if it matters",
            lost.join(" and ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(start: &str, end: Option<&str>, time_zone: Option<&str>) -> NotionDate {
        NotionDate { start: start.into(), end: end.map(Into::into), time_zone: time_zone.map(Into::into) }
    }

    #[test]
    fn unchanged_date_leaves_the_page_date_untouched() {
        for page in [
            date("2025-03-01", Some("2025-03-05"), None),
            date("2025-03-01T23:30:00.000-05:00", None, None),
            date("2025-03-01T09:00:00.000", Some("2025-03-02T17:00:00.000"), Some("Europe/Paris")),
        ] {
            assert_eq!(date_for_push(Some(&page), "2025-03-01"), DateWrite::Keep, "{page:?}");
            assert!(DateWrite::Keep.warning("p", &page).is_none());
        }
    }

    #[test]
    fn range_keeps_its_end_on_or_after_the_new_start() {
        let page = date("2025-03-01", Some("2025-03-05"), None);
        for new in ["2025-03-03", "2025-03-05", "2025-02-20"] {
            let write = date_for_push(Some(&page), new);
            assert_eq!(write, DateWrite::Value(date(new, Some("2025-03-05"), None)), "{new}");
            assert_eq!(write.warning("p", &page), None, "nothing lost for {new}");
        }
    }

    #[test]
    fn end_before_the_new_start_is_dropped_with_a_warning() {
        let page = date("2025-03-01", Some("2025-03-05"), None);
        let write = date_for_push(Some(&page), "2025-03-09");
        assert_eq!(write, DateWrite::Value(date("2025-03-09", None, None)));
        let warning = write.warning("page-1", &page).unwrap();
        assert!(warning.contains("page-1") && warning.contains("end date"), "{warning}");
    }

    #[test]
    fn a_time_is_dropped_only_with_a_warning() {
        let page = date("2025-08-07T23:30:00.000-05:00", None, None);
        let write = date_for_push(Some(&page), "2025-08-10");
        assert_eq!(write, DateWrite::Value(date("2025-08-10", None, None)));
        let warning = write.warning("page-2", &page).unwrap();
        assert!(warning.starts_with("page page-2:") && warning.contains("the time of its start"), "{warning}");

        // A time zone goes with the time (Notion takes a time zone only with a time).
        let zoned = date("2025-08-07T09:00:00.000", Some("2025-08-09T17:00:00.000"), Some("Europe/Paris"));
        let write = date_for_push(Some(&zoned), "2025-08-08");
        assert_eq!(write, DateWrite::Value(date("2025-08-08", Some("2025-08-09"), None)), "the end keeps its day");
        assert_eq!(write.dropped(&zoned), vec!["the time of its start", "its time zone", "the time of its end"]);
    }

    #[test]
    fn a_plain_date_or_no_date_is_written_as_start_alone() {
        assert_eq!(date_for_push(None, "2025-01-02"), DateWrite::Start);
        let page = date("2025-01-01", None, None);
        assert_eq!(date_for_push(Some(&page), "2025-01-02"), DateWrite::Start);
        assert_eq!(DateWrite::Start.warning("p", &page), None);
        assert!(DateWrite::Start.warning("p", &date("2025-01-01", Some("2025-01-03"), None)).is_some());
    }
}
