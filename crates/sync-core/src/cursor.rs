//! Moving the cursors: only past items whose outcome is final.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::model::RowCursor;

/// The furthest key of the prefix of `window` (in cursor order) whose items are all final;
/// `current` when the first item is not final.
pub fn advance<K: Clone>(
    current: Option<K>,
    window: &[K],
    id_of: impl Fn(&K) -> &str,
    pending: &BTreeSet<String>,
) -> Option<K> {
    let mut cursor = current;
    for key in window {
        if pending.contains(id_of(key)) {
            break;
        }
        cursor = Some(key.clone());
    }
    cursor
}

/// Row cursor over a keyset window.
pub fn advance_rows(current: Option<RowCursor>, window: &[RowCursor], pending: &BTreeSet<String>) -> Option<RowCursor> {
    advance(current, window, |key| key.id.as_str(), pending)
}

/// Notion cursor over a `last_edited_time`-ordered window: never moves backwards.
pub fn advance_pages(
    current: Option<DateTime<Utc>>,
    window: &[(String, DateTime<Utc>)],
    pending: &BTreeSet<String>,
) -> Option<DateTime<Utc>> {
    let reached = advance(None, window, |(id, _)| id.as_str(), pending).map(|(_, at)| at);
    match (current, reached) {
        (Some(current), Some(reached)) => Some(current.max(reached)),
        (current, reached) => reached.or(current),
    }
}

/// True when every item of the window is final.
pub fn all_final<'a>(ids: impl IntoIterator<Item = &'a str>, pending: &BTreeSet<String>) -> bool {
    ids.into_iter().all(|id| !pending.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2025-01-01T10:{minute:02}:00Z").parse().unwrap()
    }

    #[test]
    fn stops_before_the_first_pending_item() {
        let window = vec![("a".to_string(), at(1)), ("b".to_string(), at(2)), ("c".to_string(), at(3))];
        let pending: BTreeSet<String> = ["b".to_string()].into();
        assert_eq!(advance_pages(None, &window, &pending), Some(at(1)));
        assert_eq!(advance_pages(Some(at(5)), &window, &pending), Some(at(5)));
        assert_eq!(advance_pages(Some(at(0)), &window, &BTreeSet::new()), Some(at(3)));
        let blocked: BTreeSet<String> = ["a".to_string()].into();
        assert_eq!(advance_pages(Some(at(0)), &window, &blocked), Some(at(0)));
    }
}
