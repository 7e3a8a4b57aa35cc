//! The Notion API version the client speaks (`NOTION_VERSION`), and what differs between them.
//!
//! [Upgrade guide 2026-03-11](https://developers.notion.com/guides/get-started/upgrade-guide-2026-03-11),
//! step 2: "*The `archived` field has been renamed to `in_trash` across all API responses and
//! request parameters. This applies to pages, databases, blocks, and data sources.*" Under
//! 2026-03-11 an `archived` in a request body is refused (400), so the client never sends it (it
//! sends `in_trash` under both versions) and reads only `in_trash`; under 2025-09-03 it also
//! reads the deprecated twin `archived`. The other two changes of 2026-03-11 (Append block
//! children's `position`, `transcription` → `meeting_notes`) touch blocks, which the sync never
//! reads or writes.
use serde_json::Value;

/// A Notion API version the sync is tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotionVersion {
    /// Data sources; `archived` is the deprecated twin of `in_trash`.
    V2025_09_03,
    /// Notion's current version: `archived` is gone, `in_trash` everywhere (the default).
    #[default]
    V2026_03_11,
}

impl NotionVersion {
    /// Every supported version, oldest first.
    pub const ALL: [NotionVersion; 2] = [NotionVersion::V2025_09_03, NotionVersion::V2026_03_11];

    /// The `Notion-Version` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotionVersion::V2025_09_03 => "2025-09-03",
            NotionVersion::V2026_03_11 => "2026-03-11",
        }
    }

    /// The supported versions as text: `2025-09-03, 2026-03-11`.
    pub fn allowed() -> String {
        NotionVersion::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// A supported version from its name (surrounding blanks ignored); `None` otherwise.
    pub fn parse(raw: &str) -> Option<NotionVersion> {
        NotionVersion::ALL.into_iter().find(|v| v.as_str() == raw.trim())
    }

    /// Whether answers may carry the deprecated `archived` flag (read as `in_trash`).
    pub fn has_archived(self) -> bool {
        self == NotionVersion::V2025_09_03
    }

    /// Makes an answer's trash flags read as this version defines them: under 2025-09-03 an
    /// `archived: true` means trashed (folded into `in_trash`); under 2026-03-11 `archived` is not
    /// part of the API and is dropped unread. Applies to the object itself and to each item of a
    /// list's `results`.
    pub fn normalize_trash(self, value: &mut Value) {
        if let Some(results) = value.get_mut("results").and_then(Value::as_array_mut) {
            for item in results {
                self.normalize_object(item);
            }
        }
        self.normalize_object(value);
    }

    fn normalize_object(self, value: &mut Value) {
        let Some(object) = value.as_object_mut() else { return };
        let Some(archived) = object.remove("archived") else { return };
        if self.has_archived() && archived.as_bool() == Some(true) {
            object.insert("in_trash".into(), Value::Bool(true));
        }
    }
}

impl std::fmt::Display for NotionVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_supported_versions_only() {
        assert_eq!(NotionVersion::default().as_str(), "2026-03-11");
        assert_eq!(NotionVersion::parse(" 2025-09-03 "), Some(NotionVersion::V2025_09_03));
        assert_eq!(NotionVersion::parse("2026-03-11"), Some(NotionVersion::V2026_03_11));
        for bad in ["2022-06-28", "2026-12-01", "latest", ""] {
            assert_eq!(NotionVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(NotionVersion::allowed(), "2025-09-03, 2026-03-11");
    }

    #[test]
    fn archived_is_read_only_under_2025_09_03() {
        let answer = json!({ "object": "list", "results": [
            { "object": "page", "id": "a", "archived": true, "in_trash": false },
            { "object": "page", "id": "b", "in_trash": true },
        ] });
        let mut old = answer.clone();
        NotionVersion::V2025_09_03.normalize_trash(&mut old);
        assert_eq!(old["results"][0], json!({ "object": "page", "id": "a", "in_trash": true }));
        assert_eq!(old["results"][1]["in_trash"], json!(true));
        let mut new = answer;
        NotionVersion::V2026_03_11.normalize_trash(&mut new);
        assert_eq!(new["results"][0], json!({ "object": "page", "id": "a", "in_trash": false }));
        let mut page = json!({ "object": "page", "archived": false, "in_trash": true });
        NotionVersion::V2025_09_03.normalize_trash(&mut page);
        assert_eq!(page, json!({ "object": "page", "in_trash": true }));
    }
}
