//! PostgREST query-string pieces: percent-encoding, timestamps, quoted values, keyset filters.
use chrono::{DateTime, Utc};

use crate::clients::postgrest::config::COLUMNS;
use crate::core::model::RowCursor;

/// Percent-encodes a query value: everything but unreserved characters and PostgREST's own
/// punctuation `(),:*` is escaped (so `+` is `%2B`, `"` is `%22`, a space is `%20`).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'(' | b')' | b',' | b':' | b'*' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A timestamp as PostgreSQL prints a `timestamptz` in UTC, to the microsecond
/// (`2025-11-23T10:49:00.123456+00:00`): equal to the stored value, so `eq.` matches.
pub fn timestamp(value: &DateTime<Utc>) -> String {
    value.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// A double-quoted operand for logic trees and `in.(...)` lists (`"` and `\` escaped).
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `select=` with every column the sync reads.
pub fn select_all() -> String {
    format!("select={}", COLUMNS.join(","))
}

/// The keyset condition "strictly after `(ts, id)` in `(column, id)` order", as an `or=` param:
/// `or=(column.gt."ts",and(column.eq."ts",id.gt."id"))`, encoded.
pub fn keyset_after(column: &str, after: &RowCursor) -> String {
    let ts = quoted(&timestamp(&after.updated_at));
    let id = quoted(&after.id);
    let tree = format!("({column}.gt.{ts},and({column}.eq.{ts},id.gt.{id}))");
    format!("or={}", encode(&tree))
}

/// `column=in.("a","b")`, encoded.
pub fn in_list(column: &str, values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| quoted(v)).collect();
    format!("{column}=in.{}", encode(&format!("({})", list.join(","))))
}

/// `column=eq.value` (outside a logic tree: no quotes), encoded.
pub fn eq(column: &str, value: &str) -> String {
    format!("{column}=eq.{}", encode(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(micros: i64) -> DateTime<Utc> {
        Utc.timestamp_micros(micros).single().unwrap()
    }

    #[test]
    fn encoding_escapes_plus_quotes_and_spaces_and_keeps_punctuation() {
        assert_eq!(encode("a+b \"c\"&d=e#f%"), "a%2Bb%20%22c%22%26d%3De%23f%25");
        assert_eq!(encode("(x.gt.1,y:2)*"), "(x.gt.1,y:2)*");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn timestamps_keep_microseconds_and_say_utc() {
        assert_eq!(timestamp(&at(1_763_894_940_123_456)), "2025-11-23T10:49:00.123456+00:00");
        assert_eq!(timestamp(&at(1_763_894_940_000_000)), "2025-11-23T10:49:00.000000+00:00");
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn keyset_filter_shape() {
        let cursor = RowCursor { updated_at: at(1_763_894_940_123_456), id: "0b7e-1".into() };
        assert_eq!(
            keyset_after("updated_at", &cursor),
            "or=(updated_at.gt.%222025-11-23T10:49:00.123456%2B00:00%22,\
             and(updated_at.eq.%222025-11-23T10:49:00.123456%2B00:00%22,id.gt.%220b7e-1%22))"
        );
    }

    #[test]
    fn in_list_and_eq_shapes() {
        assert_eq!(in_list("notion_page_id", &["p-1".into(), "p,2".into()]), "notion_page_id=in.(%22p-1%22,%22p,2%22)");
        assert_eq!(
            eq("updated_at", "2025-11-23T10:49:00.123456+00:00"),
            "updated_at=eq.2025-11-23T10:49:00.123456%2B00:00"
        );
        assert_eq!(
            select_all(),
            "select=id,decision,type,date,created_at,updated_at,notion_page_id,notion_synced,checksum,deleted_at"
        );
    }
}
