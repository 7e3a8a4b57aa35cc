//! The resumable scan of the unlinked-row pool, kept in the state between runs, and the compact
//! set of the checksums it saw ([`PrefixSet`]).
//!
//! A page may be imported only when no unlinked row has its content (or the row would get a
//! second page later). When the row pool is too large to read in one run, the scan reads it in
//! keyset order (`(created_at, id)`) over several runs and keeps the first 32 bits of the checksum
//! of every unlinked row it sees. Once it reaches the end, that set becomes the *digest*: it covers
//! every row that was unlinked while the scan ran. Rows that appear later are covered too: rows
//! created since (keyset after the digest's `end`) are read by every run (the *tail*), and a row
//! unlinked or restored by an update is read by the row window; every unlinked row any reader sees
//! adds its prefix. A page whose prefix is absent from the digest can then be imported; a page
//! whose prefix is present waits until its row is read in the same run (they match) or a later
//! scan no longer has it. The scan starts over at once (rotation), so a stale prefix (its row got
//! its page) is dropped after one more cycle.
//!
//! Size: 8 hex characters per row and set; the state holds at most two sets (the digest and the
//! scan in progress): about 16 bytes per unlinked row (32 KB at 2,000 rows, 160 KB at 10,000),
//! and never more than 800 KB: past [`MAX_PREFIXES`] rows a set keeps fewer bits per prefix.
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::RowCursor;

/// Hex characters of a checksum kept per row (32 bits: a false match between two different
/// contents is one in 4 billion per pair; it only makes a page wait, never a duplicate).
pub const PREFIX_HEX: usize = 8;

/// Most prefixes one set keeps: beyond, the set coarsens (see [`PrefixSet`]), so the state stays
/// under 1 MB (two sets of at most 400 KB of hex) whatever the number of rows: a Durable Object
/// value holds at most 2 MB (<https://developers.cloudflare.com/durable-objects/platform/limits/>).
pub const MAX_PREFIXES: usize = 50_000;

/// Sorted, deduplicated checksum prefixes of `bits` bits (32 until the set would exceed
/// [`MAX_PREFIXES`], then 4 bits fewer at a time: at most 2^bits entries, more false matches,
/// never a missed one), stored as one string: 8 hex digits per prefix, after `<bits>:` when
/// coarsened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSet {
    bits: u32,
    prefixes: Vec<u32>,
}

impl Default for PrefixSet {
    fn default() -> Self {
        PrefixSet { bits: 32, prefixes: Vec::new() }
    }
}

/// The 32-bit prefix of a checksum (a lowercase hex SHA-256); `None` when it is not hex.
pub fn prefix_of(checksum: &str) -> Option<u32> {
    checksum.get(..PREFIX_HEX).and_then(|hex| u32::from_str_radix(hex, 16).ok())
}

fn shorten(prefix: u32, bits: u32) -> u32 {
    prefix.checked_shr(32 - bits).unwrap_or(0)
}

impl PrefixSet {
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
    /// Bits kept per prefix (32 unless the set coarsened).
    pub fn bits(&self) -> u32 {
        self.bits
    }
    /// True when a checksum with the same prefix was added (or the checksum is not hex: unknown
    /// content is never taken as absent).
    pub fn contains_sum(&self, checksum: &str) -> bool {
        prefix_of(checksum).is_none_or(|prefix| self.prefixes.binary_search(&shorten(prefix, self.bits)).is_ok())
    }
    pub fn add_sums<'a>(&mut self, checksums: impl IntoIterator<Item = &'a str>) {
        let bits = self.bits;
        self.prefixes.extend(checksums.into_iter().filter_map(prefix_of).map(|prefix| shorten(prefix, bits)));
        self.settle();
    }
    /// Every prefix of both sets, at the coarser precision of the two.
    pub fn union(&self, other: &PrefixSet) -> PrefixSet {
        let bits = self.bits.min(other.bits);
        let coarse = |set: &PrefixSet| {
            set.prefixes.iter().map(move |prefix| prefix.checked_shr(set.bits - bits).unwrap_or(0)).collect::<Vec<_>>()
        };
        let mut all = PrefixSet { bits, prefixes: coarse(self) };
        all.prefixes.extend(coarse(other));
        all.settle();
        all
    }
    /// Sorts, deduplicates and coarsens until the set fits in [`MAX_PREFIXES`].
    fn settle(&mut self) {
        self.prefixes.sort_unstable();
        self.prefixes.dedup();
        while self.prefixes.len() > MAX_PREFIXES && self.bits > 4 {
            self.bits -= 4;
            self.prefixes.iter_mut().for_each(|prefix| *prefix >>= 4);
            self.prefixes.dedup();
        }
    }
}

impl Serialize for PrefixSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = if self.bits == 32 { String::new() } else { format!("{}:", self.bits) };
        self.prefixes.iter().for_each(|prefix| text.push_str(&format!("{prefix:08x}")));
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for PrefixSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (bits, hex) = match text.split_once(':') {
            Some((bits, hex)) => (bits.parse::<u32>().map_err(serde::de::Error::custom)?, hex),
            None => (32, text.as_str()),
        };
        if hex.len() % PREFIX_HEX != 0 || !hex.is_ascii() || !(4..=32).contains(&bits) {
            return Err(serde::de::Error::custom("a checksum prefix set is `[bits:]` then 8 hex digits per prefix"));
        }
        let mut prefixes = Vec::with_capacity(hex.len() / PREFIX_HEX);
        for start in (0..hex.len()).step_by(PREFIX_HEX) {
            let chunk = hex.get(start..start + PREFIX_HEX).unwrap_or_default();
            prefixes.push(u32::from_str_radix(chunk, 16).map_err(serde::de::Error::custom)?);
        }
        let mut set = PrefixSet { bits, prefixes };
        set.settle();
        Ok(set)
    }
}

/// A scan of the unlinked rows in progress: where it stopped and what it saw so far.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowScan {
    /// Keyset position (`updated_at` holds the row's `created_at`); `None` = from the start.
    pub after: Option<RowCursor>,
    pub sums: PrefixSet,
}

/// What the last complete scan saw, kept up to date with the rows created since.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowDigest {
    pub sums: PrefixSet,
    /// The last key read: rows after it appeared after the scan (the tail every run reads).
    pub end: Option<RowCursor>,
}

/// The pool scans kept between runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PoolScans {
    pub rows: RowScan,
    pub row_digest: Option<RowDigest>,
    /// Notion's cursor where the last run's read of the unsynced-page pool stopped: the next run
    /// goes on from there (so pages that wait at the head cannot starve the rest), then starts over.
    #[serde(default)]
    pub pages_resume: Option<String>,
}

impl PoolScans {
    /// Records the checksums of unlinked rows read this run outside the scan (row window, tail).
    pub fn saw_unlinked<'a>(&mut self, checksums: impl IntoIterator<Item = &'a str> + Clone) {
        self.rows.sums.add_sums(checksums.clone());
        if let Some(digest) = self.row_digest.as_mut() {
            digest.sums.add_sums(checksums);
        }
    }

    /// Every prefix known to belong to an unlinked row (the digest and the scan in progress).
    pub fn known_sums(&self) -> PrefixSet {
        match &self.row_digest {
            Some(digest) => digest.sums.union(&self.rows.sums),
            None => self.rows.sums.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "f3bf0a3b8ff79a86a598d64f118f4e7f9c9220a795e52105e4f63e9c7f9e458a";
    const B: &str = "0000000100000000000000000000000000000000000000000000000000000000";
    const A_TWIN: &str = "f3bf0a3b00000000000000000000000000000000000000000000000000000000";

    #[test]
    fn membership_is_by_prefix_and_unknown_content_is_never_absent() {
        let mut set = PrefixSet::default();
        set.add_sums([A, A, B]);
        assert_eq!(set.len(), 2);
        assert!(set.contains_sum(A));
        assert!(set.contains_sum(A_TWIN), "same first 32 bits: taken as present (the page waits)");
        assert!(!set.contains_sum("1234567800000000"));
        assert!(set.contains_sum("not hex"), "a checksum that is not hex is never taken as absent");
    }

    #[test]
    fn serialises_as_one_hex_string_and_back() {
        let mut set = PrefixSet::default();
        set.add_sums([A, B]);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "\"00000001f3bf0a3b\"");
        assert_eq!(serde_json::from_str::<PrefixSet>(&json).unwrap(), set);
        assert!(serde_json::from_str::<PrefixSet>("\"abc\"").is_err());
        assert!(serde_json::from_str::<PrefixSet>("\"zzzzzzzz\"").is_err());
    }

    /// Past the cap the set coarsens: bounded, and every checksum added is still found.
    #[test]
    fn a_set_larger_than_the_cap_coarsens_and_still_finds_every_checksum() {
        let sums: Vec<String> = (0..(MAX_PREFIXES as u64 + 10))
            .map(|n| format!("{:08x}{}", n.wrapping_mul(2_654_435_761) as u32, "0".repeat(56)))
            .collect();
        let mut set = PrefixSet::default();
        set.add_sums(sums.iter().map(String::as_str));
        // Evenly spread prefixes (a Weyl sequence) keep colliding little: coarsened until they fit.
        assert!(set.len() <= MAX_PREFIXES && set.bits() < 32, "{} prefixes of {} bits", set.len(), set.bits());
        assert!(sums.iter().all(|sum| set.contains_sum(sum)), "no checksum is ever lost");
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.starts_with(&format!("\"{}:", set.bits())));
        assert_eq!(serde_json::from_str::<PrefixSet>(&json).unwrap(), set);
        let mut fine = PrefixSet::default();
        fine.add_sums([B]);
        let union = fine.union(&set);
        assert_eq!(union.bits(), set.bits());
        assert!(union.contains_sum(B) && sums.iter().all(|sum| union.contains_sum(sum)));
    }

    #[test]
    fn rows_seen_outside_the_scan_join_the_scan_and_the_digest() {
        let mut scans = PoolScans { row_digest: Some(RowDigest::default()), ..PoolScans::default() };
        scans.saw_unlinked([A]);
        assert!(scans.rows.sums.contains_sum(A));
        assert!(scans.row_digest.as_ref().unwrap().sums.contains_sum(A));
        scans.rows.sums.add_sums([B]);
        let known = scans.known_sums();
        assert!(known.contains_sum(A) && known.contains_sum(B));
    }
}
