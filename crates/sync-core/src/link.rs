//! A row's link to its Notion page (`notion_page_id`), checked where rows enter the core
//! ([`Snapshot::add_row`]): a value that is not a Notion page id never reaches a request path or
//! a query filter; the row is reported (row id, column, fix) and the other records go on.
//!
//! [`Snapshot::add_row`]: crate::snapshot::Snapshot::add_row
use crate::model::{Row, Side};
use crate::state::RecordIssue;

/// The column holding the link.
pub const LINK_COLUMN: &str = "notion_page_id";

/// Longest part of a malformed value quoted in the error.
const QUOTED_CHARS: usize = 64;

/// True for a Notion id in the form Notion returns and the sync stores: lowercase hexadecimal,
/// dashed 8-4-4-4-12 (`248104cd-477e-80fd-b757-e945d38000bd`).
pub fn is_page_id(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
}

/// The canonical form of a Notion id written another way (bare 32 hex digits, upper case).
fn canonical(raw: &str) -> Option<String> {
    let hex: String = raw.trim().chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// The per-record error for a row whose `notion_page_id` is set but is not a Notion page id;
/// `None` when the row has no link or a well-formed one.
pub fn malformed_link(row: &Row) -> Option<RecordIssue> {
    let raw = row.notion_page_id.as_deref()?;
    if is_page_id(raw) {
        return None;
    }
    let quoted: String = raw.chars().take(QUOTED_CHARS).collect();
    let ellipsis = if raw.chars().count() > QUOTED_CHARS { "…" } else { "" };
    let fix = match canonical(raw) {
        Some(id) => format!("write it as {id:?} (lowercase, with dashes)"),
        None => "set it to the id of the row's Notion page (32 hexadecimal digits, e.g. \
                 248104cd-477e-80fd-b757-e945d38000bd), or to null to create a new page"
            .to_string(),
    };
    Some(RecordIssue {
        side: Side::Supabase,
        id: row.id.clone(),
        field: Some(LINK_COLUMN.to_string()),
        reason: format!(
            "column `{LINK_COLUMN}` is \"{quoted}{ellipsis}\", which is not a Notion page id: {fix}; \
             the row is not synced (and gets no page) until then"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_linked_to(link: Option<&str>) -> Row {
        let at = "2025-01-15T10:00:00Z".parse().expect("timestamp");
        Row {
            id: "0b7e0000-0000-4000-8000-000000000001".into(),
            decision: "x".into(),
            kind: "Ops".into(),
            date: "2025-01-15".into(),
            created_at: at,
            updated_at: at,
            notion_page_id: link.map(str::to_string),
            notion_synced: false,
            checksum: None,
            deleted_at: None,
        }
    }

    #[test]
    fn only_the_canonical_form_is_a_page_id() {
        assert!(is_page_id("248104cd-477e-80fd-b757-e945d38000bd"));
        for bad in [
            "",
            "not-a-page-id",
            "248104cd477e80fdb757e945d38000bd",
            "248104CD-477E-80FD-B757-E945D38000BD",
            "248104cd-477e-80fd-b757-e945d38000bd/",
            "248104cd-477e-80fd-b757-e945d38000b",
            "248104cd-477e-80fd-b757-e945d38000bg",
            "../v1/databases/248104cd-477e-80fd-b757-e945d38000bd",
            "\"),id.gt.(\"",
        ] {
            assert!(!is_page_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_malformed_link_is_a_record_error_naming_the_row_and_column_and_the_fix() {
        assert_eq!(malformed_link(&row_linked_to(None)), None);
        assert_eq!(malformed_link(&row_linked_to(Some("248104cd-477e-80fd-b757-e945d38000bd"))), None);
        let issue = malformed_link(&row_linked_to(Some("not-a-page-id"))).expect("malformed");
        assert_eq!((issue.side, issue.id.as_str()), (Side::Supabase, "0b7e0000-0000-4000-8000-000000000001"));
        assert_eq!(issue.field.as_deref(), Some("notion_page_id"));
        assert!(issue.reason.contains("\"not-a-page-id\"") && issue.reason.contains("null"), "{}", issue.reason);
        let bare = malformed_link(&row_linked_to(Some("248104CD477E80FDB757E945D38000BD"))).expect("not canonical");
        assert!(bare.reason.contains("\"248104cd-477e-80fd-b757-e945d38000bd\""), "{}", bare.reason);
        let long = "x".repeat(500);
        let quoted = malformed_link(&row_linked_to(Some(&long))).expect("malformed");
        assert!(quoted.reason.len() < 400, "a long value is cut: {}", quoted.reason);
    }
}
