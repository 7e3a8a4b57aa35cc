//! Ids: Notion accepts UUIDs with or without dashes and answers with dashed lowercase ones.

/// Normalises a UUID given with or without dashes; `None` when it is not a UUID.
pub fn normalize(id: &str) -> Option<String> {
    let t = id.trim();
    let hex: String = if t.len() == 36 {
        let b = t.as_bytes();
        if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
            return None;
        }
        t.chars().filter(|c| *c != '-').collect()
    } else if t.len() == 32 {
        t.to_string()
    } else {
        return None;
    };
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn undashed(id: &str) -> String {
    id.chars().filter(|c| *c != '-').collect()
}

/// A short property id like Notion's (`"title"` for the title property; four characters,
/// URL-encoded where needed, for the others). Deterministic per (data source, name).
pub fn property_id(data_source_id: &str, name: &str, taken: &[String]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%;:=";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data_source_id.bytes().chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    loop {
        let mut raw = String::new();
        let mut x = h;
        for _ in 0..4 {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            raw.push(c);
        }
        let encoded: String = raw
            .chars()
            .map(|c| match c {
                '%' => "%25".to_string(),
                ';' => "%3B".to_string(),
                ':' => "%3A".to_string(),
                '=' => "%3D".to_string(),
                c => c.to_string(),
            })
            .collect();
        if encoded != "title" && !taken.iter().any(|t| t == &encoded) {
            return encoded;
        }
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dashed_and_undashed() {
        let d = "be633bf1-dfa0-436d-b259-571129a590e5";
        assert_eq!(normalize(d).as_deref(), Some(d));
        assert_eq!(normalize("BE633BF1DFA0436DB259571129A590E5").as_deref(), Some(d));
        assert_eq!(normalize("not-a-uuid"), None);
        assert_eq!(normalize("be633bf1-dfa0-436d-b259-571129a590e"), None);
        assert_eq!(normalize("be633bf1dfa0436db259571129a590eZ"), None);
    }

    #[test]
    fn property_ids_are_distinct_and_stable() {
        let a = property_id("ds", "Type", &[]);
        let b = property_id("ds", "Type", &[]);
        assert_eq!(a, b);
        let c = property_id("ds", "Type", std::slice::from_ref(&a));
        assert_ne!(a, c);
    }
}
