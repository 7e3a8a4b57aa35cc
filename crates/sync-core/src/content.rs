//! Normal form and checksum of a decision's content (DESIGN.md, "Content, normal form, checksum").
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The options of the Notion `Type` multi_select, in their canonical spelling.
pub const KNOWN_TYPES: [&str; 5] = ["Policy", "Architecture", "Ops", "UX", "Other"];

/// Content in normal form: the only thing both sides must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Content {
    pub decision: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub date: String,
}

/// Why a record's content cannot be synced; always reported per record, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", content = "detail", rename_all = "snake_case")]
pub enum ContentError {
    #[error("field `date` is empty: give the record a date (YYYY-MM-DD)")]
    MissingDate,
    #[error("field `date` is {0:?}, not a calendar date in YYYY-MM-DD form: correct it")]
    BadDate(String),
    #[error(
        "field `type` is {0:?}: a Notion multi_select option cannot contain a comma; use one value without commas"
    )]
    CommaInType(String),
    #[error("field `decision` is {units} UTF-16 units long; Notion accepts at most {max} (100 rich-text segments of 2,000): shorten it")]
    DecisionTooLong { units: usize, max: usize },
}

impl ContentError {
    /// The field the error is about, for reports.
    pub fn field(&self) -> &'static str {
        match self {
            ContentError::MissingDate | ContentError::BadDate(_) => "date",
            ContentError::CommaInType(_) => "type",
            ContentError::DecisionTooLong { .. } => "decision",
        }
    }
}

/// `decision`: trim and collapse runs of whitespace to one space; case is kept.
pub fn normalize_decision(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `type`: trim; a known option matched case-insensitively is written in its canonical spelling,
/// anything else is kept as written (trimmed).
pub fn normalize_type(raw: &str) -> String {
    let trimmed = raw.trim();
    KNOWN_TYPES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(trimmed))
        .map(|known| (*known).to_string())
        .unwrap_or_else(|| trimmed.to_string())
}

/// `date`: the `YYYY-MM-DD` date part of what was written (a Notion `date.start` may carry a time
/// and an offset: the date part is taken as written, never converted to UTC).
pub fn normalize_date(raw: &str) -> Result<String, ContentError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ContentError::MissingDate);
    }
    let day = trimmed.get(..10).ok_or_else(|| ContentError::BadDate(trimmed.to_string()))?;
    let rest = &trimmed[10..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return Err(ContentError::BadDate(trimmed.to_string()));
    }
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| ContentError::BadDate(trimmed.to_string()))?;
    Ok(day.to_string())
}

impl Content {
    /// Builds the normal form from raw field values.
    pub fn normalize(decision: &str, kind: &str, date: &str) -> Result<Content, ContentError> {
        Ok(Content { decision: normalize_decision(decision), kind: normalize_type(kind), date: normalize_date(date)? })
    }

    /// `hex(sha256("{decision}|{type}|{date}"))` over the normal form.
    pub fn checksum(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.decision.as_bytes());
        hasher.update(b"|");
        hasher.update(self.kind.as_bytes());
        hasher.update(b"|");
        hasher.update(self.date.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Checks that Notion will accept this content; errors are per-record.
    pub fn validate_for_notion(&self) -> Result<(), ContentError> {
        if self.kind.contains(',') {
            return Err(ContentError::CommaInType(self.kind.clone()));
        }
        crate::rich_text::chunk(&self.decision).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_vector() {
        let c = Content::normalize("Implement user authentication", "Architecture", "2025-08-07").unwrap();
        // sha256("Implement user authentication|Architecture|2025-08-07"), computed independently.
        assert_eq!(c.checksum(), "f3bf0a3b8ff79a86a598d64f118f4e7f9c9220a795e52105e4f63e9c7f9e458a");
        let messy =
            Content::normalize("  Implement   user authentication ", "architecture", "2025-08-07T09:00:00+02:00")
                .unwrap();
        assert_eq!(messy.checksum(), c.checksum());
    }

    #[test]
    fn decision_whitespace_collapses_and_case_is_kept() {
        assert_eq!(normalize_decision("  Use   Postgres\n\tfor  OLTP "), "Use Postgres for OLTP");
        assert_ne!(normalize_decision("use postgres"), normalize_decision("Use Postgres"));
    }

    #[test]
    fn type_matches_known_options_case_insensitively() {
        assert_eq!(normalize_type(" ops "), "Ops");
        assert_eq!(normalize_type("ux"), "UX");
        assert_eq!(normalize_type("ARCHITECTURE"), "Architecture");
        assert_eq!(normalize_type("  Security "), "Security");
        assert_eq!(normalize_type(""), "");
    }

    #[test]
    fn date_part_is_taken_as_written() {
        assert_eq!(normalize_date("2025-08-07").unwrap(), "2025-08-07");
        assert_eq!(normalize_date("2025-08-07T23:30:00.000-05:00").unwrap(), "2025-08-07");
        assert_eq!(normalize_date("2025-08-07T01:00:00+09:00").unwrap(), "2025-08-07");
        assert_eq!(normalize_date(""), Err(ContentError::MissingDate));
        assert!(matches!(normalize_date("2025-02-30"), Err(ContentError::BadDate(_))));
        assert!(matches!(normalize_date("07/08/2025"), Err(ContentError::BadDate(_))));
        assert!(matches!(normalize_date("2025-08-07x"), Err(ContentError::BadDate(_))));
    }

    #[test]
    fn comma_in_type_is_a_per_record_error() {
        let c = Content::normalize("x", "Ops, UX", "2025-01-01").unwrap();
        assert_eq!(c.validate_for_notion(), Err(ContentError::CommaInType("Ops, UX".into())));
        assert_eq!(ContentError::CommaInType(String::new()).field(), "type");
    }
}
