//! One-to-one matching of unlinked rows and never-synced pages by checksum of the normal form.
//! Duplicates on one side are matched oldest first; the rest stay unmatched.
use std::collections::BTreeMap;

use crate::model::{Page, Row};

/// Pairs `(row, page)` with equal checksums, plus what is left on each side (order kept).
#[derive(Debug, Default)]
pub struct Matches<'a> {
    pub pairs: Vec<(&'a Row, &'a Page, String)>,
    pub rows: Vec<(&'a Row, String)>,
    pub pages: Vec<(&'a Page, String)>,
}

/// Matches rows and pages (each already sorted oldest first) by checksum.
pub fn match_by_checksum<'a>(rows: Vec<(&'a Row, String)>, pages: Vec<(&'a Page, String)>) -> Matches<'a> {
    let mut pages_by_sum: BTreeMap<String, Vec<&'a Page>> = BTreeMap::new();
    for (page, sum) in &pages {
        pages_by_sum.entry(sum.clone()).or_default().push(page);
    }
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let mut matches = Matches::default();
    for (row, sum) in rows {
        let used = taken.entry(sum.clone()).or_insert(0);
        match pages_by_sum.get(&sum).and_then(|candidates| candidates.get(*used)) {
            Some(page) => {
                *used += 1;
                matches.pairs.push((row, page, sum));
            }
            None => matches.rows.push((row, sum)),
        }
    }
    for (page, sum) in pages {
        let used = taken.get(&sum).copied().unwrap_or(0);
        let position = pages_by_sum
            .get(&sum)
            .and_then(|candidates| candidates.iter().position(|candidate| candidate.id == page.id))
            .unwrap_or(0);
        if position >= used {
            matches.pages.push((page, sum));
        }
    }
    matches
}

/// Sorts rows oldest first: `(created_at, id)`.
pub fn oldest_rows_first(rows: &mut [(&Row, String)]) {
    rows.sort_by(|(a, _), (b, _)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
}

/// Sorts pages oldest first: `(created_time, id)`.
pub fn oldest_pages_first(pages: &mut [(&Page, String)]) {
    pages.sort_by(|(a, _), (b, _)| (a.created_time, &a.id).cmp(&(b.created_time, &b.id)));
}
