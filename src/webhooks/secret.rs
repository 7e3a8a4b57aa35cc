//! Comparing a secret a request carries with the configured one, in constant time.
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// True when `given` equals `expected`. Both are hashed first, so the comparison takes the same
/// time whatever the lengths and wherever the first difference is.
pub fn secrets_match(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_identical() {
        assert!(secrets_match(b"s3cret", b"s3cret"));
        assert!(!secrets_match(b"s3cret", b"s3creT"));
        assert!(!secrets_match(b"s3cret", b"s3cret "));
        assert!(!secrets_match(b"", b"s3cret"));
        assert!(secrets_match(b"", b""));
    }
}
