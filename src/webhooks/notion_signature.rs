//! Notion's webhook authentication (developers.notion.com → Webhooks → "Step 2: Verifying the
//! subscription" and "Step 3: Validating event payloads"):
//! - when a subscription is created, Notion POSTs `{"verification_token": "secret_…"}` once, unsigned:
//!   the operator pastes that token back into Notion's UI, and it becomes the signing key;
//! - every event delivery then carries `X-Notion-Signature: sha256=<hex HMAC-SHA256 of the raw
//!   request body, keyed with the verification token>`.
//!
//! Check the signature on the raw bytes, before parsing; a replayed delivery verifies too (see
//! [`super::dedupe`]).
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The header Notion signs every event delivery with.
pub const SIGNATURE_HEADER: &str = "X-Notion-Signature";
/// The secret the operator sets to the verification token (or the Worker keeps it once received).
pub const SECRET_SETTING: &str = "NOTION_WEBHOOK_SECRET";

const SCHEME: &str = "sha256=";

/// Why a delivery is refused (401: nothing it says is acted upon).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no verification token is known yet: create the webhook subscription in Notion (it sends the token first), or set the secret {SECRET_SETTING} to the token Notion shows")]
    NoToken,
    #[error("the delivery has no {SIGNATURE_HEADER} header: only signed Notion webhook deliveries are accepted")]
    Missing,
    #[error("the {SIGNATURE_HEADER} header is malformed: expected `sha256=` and 64 hex digits")]
    Malformed,
    #[error("the {SIGNATURE_HEADER} header does not match the body: if Notion sent it, {SECRET_SETTING} is not this subscription's verification token (copy it again from the dashboard, or re-verify the subscription)")]
    Mismatch,
}

/// `sha256=<hex>` for `body` keyed with `token` (what Notion sends; for the emulator and tests).
pub fn sign(body: &[u8], token: &str) -> String {
    format!("{SCHEME}{}", hex::encode(mac(token, body).finalize().into_bytes()))
}

/// Checks `header` (the value of `X-Notion-Signature`, if any) against `body` and the token, in
/// constant time.
pub fn verify(body: &[u8], header: Option<&str>, token: Option<&str>) -> Result<(), SignatureError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(SignatureError::NoToken)?;
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::Missing)?;
    let digest = parse_header(header)?;
    mac(token, body).verify_slice(&digest).map_err(|_| SignatureError::Mismatch)
}

fn parse_header(header: &str) -> Result<Vec<u8>, SignatureError> {
    let hex_digest = header
        .get(..SCHEME.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
        .map(|_| &header[SCHEME.len()..])
        .ok_or(SignatureError::Malformed)?;
    let digest = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if digest.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    Ok(digest)
}

fn mac(token: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac
}

/// The one-time verification request: `{"verification_token": "secret_…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerificationRequest {
    pub verification_token: String,
}

/// The verification request, when `body` is one (a JSON object with a non-empty string
/// `verification_token` and no event `type`); `None` for anything else.
pub fn verification_request(body: &[u8]) -> Option<VerificationRequest> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.contains_key("type") {
        return None;
    }
    let request: VerificationRequest = serde_json::from_value(value).ok()?;
    (!request.verification_token.trim().is_empty()).then_some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "secret_tRS3zwO1cFRg6uu7wGhHKmgaPVYjxDIf0pQjZ0";
    const BODY: &[u8] = br#"{"id":"evt-1","type":"page.properties_updated","entity":{"id":"p1","type":"page"}}"#;

    #[test]
    fn a_valid_signature_passes() {
        let header = sign(BODY, TOKEN);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64, "{header}");
        assert_eq!(verify(BODY, Some(&header), Some(TOKEN)), Ok(()));
        // Hex in capitals and a scheme in any case are the same signature.
        let upper = format!("SHA256={}", header[7..].to_uppercase());
        assert_eq!(verify(BODY, Some(&upper), Some(TOKEN)), Ok(()));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_raw_body() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"what do ya want for nothing?", "Jefe"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_tampered_body_fails() {
        let header = sign(BODY, TOKEN);
        let tampered = String::from_utf8_lossy(BODY).replace("p1", "p2");
        assert_eq!(verify(tampered.as_bytes(), Some(&header), Some(TOKEN)), Err(SignatureError::Mismatch));
        // Re-serialised JSON (same meaning, other bytes) fails too: sign the raw body only.
        let reserialised = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(BODY).unwrap()).unwrap();
        assert_ne!(reserialised, BODY);
        assert_eq!(verify(&reserialised, Some(&header), Some(TOKEN)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_wrong_key_fails() {
        let header = sign(BODY, "secret_someone_else");
        assert_eq!(verify(BODY, Some(&header), Some(TOKEN)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_missing_header_or_token_fails() {
        assert_eq!(verify(BODY, None, Some(TOKEN)), Err(SignatureError::Missing));
        assert_eq!(verify(BODY, Some("  "), Some(TOKEN)), Err(SignatureError::Missing));
        let header = sign(BODY, TOKEN);
        assert_eq!(verify(BODY, Some(&header), None), Err(SignatureError::NoToken));
        assert_eq!(verify(BODY, Some(&header), Some("")), Err(SignatureError::NoToken));
        assert!(SignatureError::NoToken.to_string().contains(SECRET_SETTING));
    }

    #[test]
    fn a_malformed_header_fails() {
        let good = sign(BODY, TOKEN);
        let hex_part = &good[7..];
        for header in [
            hex_part.to_string(),                    // no scheme
            format!("sha1={hex_part}"),              // other scheme
            format!("sha256={}", &hex_part[..62]),   // too short
            format!("sha256={hex_part}00"),          // too long
            format!("sha256={}zz", &hex_part[..62]), // not hex
            "sha256=".to_string(),
            "sha2".to_string(),
            "é".repeat(5),
        ] {
            assert_eq!(verify(BODY, Some(&header), Some(TOKEN)), Err(SignatureError::Malformed), "{header}");
        }
    }

    #[test]
    fn a_replayed_delivery_still_verifies() {
        // Deduplication is the caller's (webhooks::dedupe): the signature cannot tell a replay.
        let header = sign(BODY, TOKEN);
        assert_eq!(verify(BODY, Some(&header), Some(TOKEN)), Ok(()));
        assert_eq!(verify(BODY, Some(&header), Some(TOKEN)), Ok(()));
    }

    #[test]
    fn the_verification_request_is_recognised() {
        let body = br#"{"verification_token":"secret_abc123"}"#;
        assert_eq!(
            verification_request(body),
            Some(VerificationRequest { verification_token: "secret_abc123".into() })
        );
        assert_eq!(verification_request(BODY), None);
        assert_eq!(verification_request(br#"{"verification_token":""}"#), None);
        assert_eq!(verification_request(br#"{"verification_token":42}"#), None);
        assert_eq!(verification_request(br#"{"verification_token":"x","type":"page.created"}"#), None);
        assert_eq!(verification_request(b"not json"), None);
        assert_eq!(verification_request(br#"["verification_token"]"#), None);
    }
}
