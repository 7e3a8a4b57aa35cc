//! A large JSON text stored under several keys of a Durable Object's storage.
//!
//! Cloudflare documents, for SQLite-backed Durable Objects, that "key and value combined cannot
//! exceed 2 MB" (developers.cloudflare.com → Durable Objects → Platform → Limits). The sync state
//! is one JSON text that a large first sync or a long full pass can grow past that (the pool
//! scan's checksum prefixes, the full pass's page fingerprints, the presence sweep's filter: each
//! bounded to about 1 MB). So a text longer than [`CHUNK_BYTES`] is split, at character
//! boundaries, into chunks stored as `{key}.0`, `{key}.1`, … with their count under `{key}.chunks`;
//! a shorter one stays a single value under `{key}` (count 0), as earlier versions stored it.
//!
//! A value is a JavaScript string once stored, which V8 keeps as one byte per character when every
//! character is Latin-1 and two bytes otherwise: a chunk of at most 512 KiB of UTF-8 has at most
//! as many characters, so at most 1 MiB stored, well under the limit whatever the text holds.

/// Longest chunk, in UTF-8 bytes.
pub const CHUNK_BYTES: usize = 512 * 1024;

/// The key holding the number of chunks of `key` (0 or absent: the text is under `key` itself).
pub fn count_key(key: &str) -> String {
    format!("{key}.chunks")
}

/// The key of chunk `index` of `key`.
pub fn chunk_key(key: &str, index: usize) -> String {
    format!("{key}.{index}")
}

/// Splits `text` into chunks of at most `max_bytes` bytes each, never inside a character.
/// An empty text is one empty chunk. `max_bytes` below 4 is taken as 4 (the longest character).
pub fn split(text: &str, max_bytes: usize) -> Vec<&str> {
    let max_bytes = max_bytes.max(4);
    let mut chunks = Vec::with_capacity(text.len() / max_bytes + 1);
    let mut rest = text;
    while rest.len() > max_bytes {
        let mut end = max_bytes;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);
    chunks
}

/// What to write for `text` stored under `key`: `(key, value)` pairs, the count last.
/// A text that fits is written under `key` with a count of 0, so that a reader never takes stale
/// chunks of an earlier, longer text for the value.
pub fn layout(key: &str, text: &str) -> Layout {
    if text.len() <= CHUNK_BYTES {
        return Layout { values: vec![(key.to_string(), text.to_string())], count: 0 };
    }
    let values = split(text, CHUNK_BYTES)
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| (chunk_key(key, index), chunk.to_string()))
        .collect::<Vec<_>>();
    let count = values.len();
    Layout { values, count }
}

/// The values to write and the chunk count to store with them (in the same atomic write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub values: Vec<(String, String)>,
    pub count: usize,
}

impl Layout {
    /// Keys an earlier layout of `key` with `previous` chunks used that this one does not.
    pub fn stale_keys(&self, key: &str, previous: usize) -> Vec<String> {
        let mut stale: Vec<String> = (self.count..previous).map(|index| chunk_key(key, index)).collect();
        if self.count > 0 {
            stale.push(key.to_string());
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_short_text_stays_one_value_under_its_key() {
        let layout = layout("state", "{\"a\":1}");
        assert_eq!(layout, Layout { values: vec![("state".into(), "{\"a\":1}".into())], count: 0 });
        assert_eq!(layout.stale_keys("state", 3), vec!["state.0", "state.1", "state.2"]);
        assert!(layout.stale_keys("state", 0).is_empty());
    }

    #[test]
    fn a_long_text_is_chunked_under_numbered_keys_and_the_single_value_goes() {
        let text = "x".repeat(CHUNK_BYTES * 2 + 10);
        let layout = layout("state", &text);
        let keys: Vec<&str> = layout.values.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!((keys, layout.count), (vec!["state.0", "state.1", "state.2"], 3));
        assert!(layout.values.iter().all(|(_, value)| value.len() <= CHUNK_BYTES));
        assert_eq!(layout.values.iter().map(|(_, value)| value.as_str()).collect::<String>(), text);
        assert_eq!(layout.stale_keys("state", 5), vec!["state.3", "state.4", "state"]);
        assert_eq!(count_key("state"), "state.chunks");
    }

    #[test]
    fn chunks_never_cut_a_character() {
        let text = "é😀a".repeat(10);
        for max in 1..12 {
            let chunks = split(&text, max);
            assert_eq!(chunks.concat(), text, "max {max}");
            assert!(chunks.iter().all(|chunk| chunk.len() <= max.max(4)), "max {max}: {chunks:?}");
        }
        assert_eq!(split("", 8), vec![""]);
    }

    proptest! {
        #[test]
        fn split_then_join_gives_the_text_back(text in "\\PC{0,400}", max in 4usize..64) {
            let chunks = split(&text, max);
            prop_assert_eq!(chunks.concat(), text.clone());
            prop_assert!(chunks.iter().all(|chunk| chunk.len() <= max));
            prop_assert!(chunks.iter().rev().skip(1).all(|chunk| !chunk.is_empty()));
        }
    }
}
