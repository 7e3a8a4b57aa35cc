//! The pages a full pass has seen, kept small. The state is one Durable Object storage value,
//! and Cloudflare limits a key and its value to 2 MB together
//! (<https://developers.cloudflare.com/durable-objects/platform/limits/>): as a JSON list of ids
//! (39 bytes each) the pass's pages alone passed that at about 53,000 pages. Here a page is a
//! 40-bit fingerprint of its id, written as 10 hex characters in one string: 1 MB at 100,000
//! pages. Two ids share a fingerprint with a chance of about n / 2⁴⁰ per id checked (1 in 11
//! million at 100,000 pages); such a row, linked to a page that is gone, would not be reported
//! as an orphan by that pass.
use std::collections::BTreeSet;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Bytes of an id's SHA-256 kept as its fingerprint.
const FINGERPRINT_BYTES: usize = 5;
/// Hex characters of one fingerprint in the saved form.
const FINGERPRINT_HEX: usize = FINGERPRINT_BYTES * 2;

/// A set of page ids, by fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeenPages(BTreeSet<u64>);

fn fingerprint(id: &str) -> u64 {
    Sha256::digest(id.as_bytes())[..FINGERPRINT_BYTES].iter().fold(0, |acc, byte| (acc << 8) | u64::from(*byte))
}

impl SeenPages {
    pub fn insert(&mut self, id: &str) -> bool {
        self.0.insert(fingerprint(id))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(&fingerprint(id))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: AsRef<str>> Extend<S> for SeenPages {
    fn extend<I: IntoIterator<Item = S>>(&mut self, ids: I) {
        self.0.extend(ids.into_iter().map(|id| fingerprint(id.as_ref())));
    }
}

impl<S: AsRef<str>> FromIterator<S> for SeenPages {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let mut seen = SeenPages::default();
        seen.extend(ids);
        seen
    }
}

impl Serialize for SeenPages {
    fn serialize<Se: Serializer>(&self, serializer: Se) -> Result<Se::Ok, Se::Error> {
        let packed: String = self.0.iter().map(|print| format!("{print:0width$x}", width = FINGERPRINT_HEX)).collect();
        serializer.serialize_str(&packed)
    }
}

/// The saved forms: the packed fingerprints, or (states saved before) the list of ids.
#[derive(Deserialize)]
#[serde(untagged)]
enum Saved {
    Packed(String),
    Ids(Vec<String>),
}

impl<'de> Deserialize<'de> for SeenPages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Saved::deserialize(deserializer)? {
            Saved::Ids(ids) => Ok(ids.iter().collect()),
            Saved::Packed(packed) => {
                if packed.len() % FINGERPRINT_HEX != 0 || !packed.is_ascii() {
                    return Err(de::Error::custom("seen_pages: not a list of 10-hex-digit fingerprints"));
                }
                let prints = (0..packed.len()).step_by(FINGERPRINT_HEX).map(|at| {
                    u64::from_str_radix(&packed[at..at + FINGERPRINT_HEX], 16)
                        .map_err(|_| de::Error::custom("seen_pages: not a list of 10-hex-digit fingerprints"))
                });
                Ok(SeenPages(prints.collect::<Result<_, D::Error>>()?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> String {
        format!("{n:08x}-0000-4000-8000-000000000000")
    }

    #[test]
    fn holds_what_was_inserted_and_nothing_else() {
        let seen: SeenPages = (0..1000).map(id).collect();
        assert_eq!(seen.len(), 1000);
        assert!((0..1000).all(|n| seen.contains(&id(n))));
        assert!((1000..2000).all(|n| !seen.contains(&id(n))));
    }

    #[test]
    fn saves_ten_hex_digits_a_page_and_reads_them_back() {
        let seen: SeenPages = (0..100).map(id).collect();
        let json = serde_json::to_string(&seen).unwrap();
        assert_eq!(json.len(), 100 * FINGERPRINT_HEX + 2);
        assert_eq!(serde_json::from_str::<SeenPages>(&json).unwrap(), seen);
        assert!(serde_json::from_str::<SeenPages>("\"12345\"").is_err());
    }

    #[test]
    fn reads_the_list_of_ids_states_saved_before() {
        let old = serde_json::to_string(&[id(1), id(2)]).unwrap();
        let seen: SeenPages = serde_json::from_str(&old).unwrap();
        assert!(seen.contains(&id(1)) && seen.contains(&id(2)) && !seen.contains(&id(3)));
    }

    /// 100,000 pages, as the bench's scale phase holds them: 1 MB, half the storage value limit.
    #[test]
    fn a_hundred_thousand_pages_take_a_megabyte() {
        let seen: SeenPages = (0..100_000).map(id).collect();
        assert_eq!(seen.len(), 100_000, "no two of these ids share a fingerprint");
        assert_eq!(serde_json::to_string(&seen).unwrap().len(), 1_000_002);
    }
}
