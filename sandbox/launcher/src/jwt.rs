//! HS256 JSON Web Tokens, as Supabase's legacy API keys are.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs `claims` with `secret` (HS256).
pub fn sign_hs256(secret: &str, claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let signature = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{signing_input}.{signature}")
}

/// A Supabase-style API key for `role` (`service_role`, `anon`), valid for ten years.
pub fn supabase_key(secret: &str, role: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    sign_hs256(
        secret,
        &serde_json::json!({ "iss": "supabase-sandbox", "role": role, "iat": now, "exp": now + 10 * 365 * 24 * 3600 }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc7515_style_reference() {
        // Reference value computed with Python's hmac/hashlib (keys sorted, as serde_json writes them).
        let token = sign_hs256(
            "your-256-bit-secret",
            &serde_json::json!({"sub":"1234567890","name":"John Doe","iat":1516239022}),
        );
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
             eyJpYXQiOjE1MTYyMzkwMjIsIm5hbWUiOiJKb2huIERvZSIsInN1YiI6IjEyMzQ1Njc4OTAifQ.\
             fdOPQ05ZfRhkST2-rIWgUpbqUsVhkkNVNcuG7Ki0s-8"
        );
    }
}
