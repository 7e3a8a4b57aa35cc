//! A compact set of the page ids a presence sweep saw live (a Bloom filter): "not in it" is
//! certain, "in it" is wrong for about 2% of the ids never inserted (at the capacity it was sized
//! for). The sweep ([`crate::trash_sweep`]) keeps one in the state while it spans runs: 8 bits per
//! page (50,000 pages: 50 KB, 100 KB as hex in the saved state), instead of the ids (36 bytes each).
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bits per page at capacity, and hashes per id: about 2.2% false "present" at capacity.
const BITS_PER_ID: usize = 8;
const HASHES: u64 = 6;
/// Smallest capacity (1 KB of bits).
pub const MIN_CAPACITY: usize = 1024;
/// Largest capacity: 500 KB of bits, 1 MB as hex, so that the state stays under the 2 MB a value
/// of the coordinator's SQLite-backed Durable Object may hold
/// (developers.cloudflare.com/durable-objects/platform/limits). Beyond it, more ids are wrongly
/// "present" (only later found).
pub const MAX_CAPACITY: usize = 500_000;

/// The filter. `seed` differs per sweep, so an id wrongly "present" in one sweep is very likely
/// found absent by the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceFilter {
    pub seed: u64,
    /// The bits, saved as hex.
    #[serde(serialize_with = "to_hex", deserialize_with = "from_hex")]
    bits: Vec<u8>,
}

impl PresenceFilter {
    /// A filter for about `capacity` ids (at least [`MIN_CAPACITY`]).
    pub fn with_capacity(capacity: usize, seed: u64) -> Self {
        let bytes = capacity.clamp(MIN_CAPACITY, MAX_CAPACITY).saturating_mul(BITS_PER_ID) / 8;
        PresenceFilter { seed, bits: vec![0; bytes] }
    }

    /// Size of the bits in bytes.
    pub fn len_bytes(&self) -> usize {
        self.bits.len()
    }

    pub fn insert(&mut self, page_id: &str) {
        for bit in self.positions(page_id) {
            if let Some(byte) = self.bits.get_mut(bit / 8) {
                *byte |= 1 << (bit % 8);
            }
        }
    }

    /// False only when `page_id` was certainly never inserted.
    pub fn contains(&self, page_id: &str) -> bool {
        self.positions(page_id).all(|bit| self.bits.get(bit / 8).is_some_and(|byte| byte & (1 << (bit % 8)) != 0))
    }

    /// Double hashing over the normalized id (Notion ids with or without dashes, any case).
    fn positions(&self, page_id: &str) -> impl Iterator<Item = usize> {
        let m = u64::try_from(self.bits.len().max(1) * 8).unwrap_or(u64::MAX);
        let h1 = fnv1a(page_id, self.seed);
        let h2 = mix(h1 ^ self.seed.rotate_left(32)) | 1;
        (0..HASHES).map(move |i| usize::try_from(h1.wrapping_add(i.wrapping_mul(h2)) % m).unwrap_or(0))
    }
}

fn fnv1a(page_id: &str, seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ mix(seed);
    for byte in page_id.bytes().filter(|byte| *byte != b'-').map(|byte| byte.to_ascii_lowercase()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    mix(hash)
}

/// SplitMix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn to_hex<S: Serializer>(bits: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bits))
}

fn from_hex<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    hex::decode(text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> String {
        format!("{n:08x}-0000-4000-8000-{n:012x}")
    }

    #[test]
    fn every_inserted_id_is_present_whatever_its_dashes_or_case() {
        let mut filter = PresenceFilter::with_capacity(3_000, 7);
        (0..3_000).for_each(|n| filter.insert(&id(n)));
        assert!((0..3_000).all(|n| filter.contains(&id(n))));
        assert!(filter.contains(&id(12).replace('-', "").to_uppercase()));
    }

    #[test]
    fn ids_never_inserted_are_mostly_absent_and_another_seed_finds_the_rest() {
        let build = |seed| {
            let mut filter = PresenceFilter::with_capacity(3_000, seed);
            (0..3_000).for_each(|n| filter.insert(&id(n)));
            filter
        };
        let (first, second) = (build(1), build(2));
        let wrong: Vec<usize> = (3_000..13_000).filter(|n| first.contains(&id(*n))).collect();
        assert!(wrong.len() < 400, "{} of 10,000 wrongly present (about 2% expected)", wrong.len());
        let twice = wrong.iter().filter(|n| second.contains(&id(**n))).count();
        assert!(twice < 20, "{twice} wrongly present in both sweeps");
    }

    #[test]
    fn the_size_is_bounded_for_the_durable_object() {
        assert_eq!(PresenceFilter::with_capacity(10, 1).len_bytes(), MIN_CAPACITY);
        assert_eq!(PresenceFilter::with_capacity(10_000_000, 1).len_bytes(), MAX_CAPACITY);
    }

    #[test]
    fn the_saved_form_is_hex_of_8_bits_per_id_and_reads_back() {
        let mut filter = PresenceFilter::with_capacity(2_000, 3);
        filter.insert(&id(1));
        assert_eq!(filter.len_bytes(), 2_000);
        let json = serde_json::to_string(&filter).unwrap();
        assert!(json.len() < 4_100, "{} bytes", json.len());
        let back: PresenceFilter = serde_json::from_str(&json).unwrap();
        assert_eq!(back, filter);
        assert!(back.contains(&id(1)));
    }
}
