//! Splitting long text into Notion rich-text segments.
//!
//! Notion rejects a rich-text object whose `text.content` is longer than 2,000 characters
//! (counted in UTF-16 code units) and an array of more than 100 objects.
use crate::content::ContentError;

/// Longest `text.content` Notion accepts in one rich-text object, in UTF-16 code units.
pub const MAX_SEGMENT_UNITS: usize = 2_000;
/// Most rich-text objects Notion accepts in one property value.
pub const MAX_SEGMENTS: usize = 100;

/// Splits `text` into segments of at most [`MAX_SEGMENT_UNITS`] UTF-16 units without splitting a
/// surrogate pair (a `char` is never cut). Empty text gives no segments.
pub fn chunk(text: &str) -> Result<Vec<&str>, ContentError> {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut units = 0;
    for (index, ch) in text.char_indices() {
        let width = ch.len_utf16();
        if units + width > MAX_SEGMENT_UNITS {
            segments.push(&text[start..index]);
            start = index;
            units = 0;
        }
        units += width;
    }
    if start < text.len() {
        segments.push(&text[start..]);
    }
    if segments.len() > MAX_SEGMENTS {
        return Err(ContentError::DecisionTooLong {
            units: text.encode_utf16().count(),
            max: MAX_SEGMENT_UNITS * MAX_SEGMENTS,
        });
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn short_text_is_one_segment_and_empty_is_none() {
        assert_eq!(chunk("hello").unwrap(), vec!["hello"]);
        assert!(chunk("").unwrap().is_empty());
    }

    #[test]
    fn five_thousand_chars_make_three_segments() {
        let text = "a".repeat(5_000);
        let parts = chunk(&text).unwrap();
        assert_eq!(parts.iter().map(|p| units(p)).collect::<Vec<_>>(), vec![2_000, 2_000, 1_000]);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn surrogate_pairs_are_never_split() {
        // 1,999 ASCII units then an emoji (2 units): the emoji must move to the next segment.
        let text = format!("{}😀tail", "a".repeat(1_999));
        let parts = chunk(&text).unwrap();
        assert_eq!(units(parts[0]), 1_999);
        assert!(parts[1].starts_with('😀'));
        assert_eq!(parts.concat(), text);
        let emojis = "😀".repeat(1_500);
        for part in chunk(&emojis).unwrap() {
            assert!(units(part) <= MAX_SEGMENT_UNITS);
        }
    }

    #[test]
    fn exactly_the_limit_fits_and_one_more_unit_fails() {
        let max = "b".repeat(MAX_SEGMENT_UNITS * MAX_SEGMENTS);
        assert_eq!(chunk(&max).unwrap().len(), MAX_SEGMENTS);
        let over = format!("{max}b");
        assert!(matches!(chunk(&over), Err(ContentError::DecisionTooLong { .. })));
    }
}
