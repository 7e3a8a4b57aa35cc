//! The service key and the headers it becomes.
//!
//! - A legacy key is a JWT (three dot-separated parts): `apikey: <key>` and
//!   `Authorization: Bearer <key>` (PostgREST reads the role from the bearer token).
//! - A new secret key (`sb_secret_…`) is not a JWT: `apikey` only (Supabase's gateway swaps it
//!   for a service-role token; a bearer that is not a JWT would be refused).
//! - A publishable key (`sb_publishable_…`) or a JWT for `anon` / `authenticated` cannot read a
//!   table with RLS and no policies: refused up front with a message saying which key to use.
use crate::core::error::PortError;

/// What kind of key `SUPABASE_SERVICE_ROLE_KEY` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A legacy JWT key.
    Jwt,
    /// An `sb_secret_…` key (or any other opaque key).
    Opaque,
}

/// The service key. `Debug` shows the kind only.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    value: String,
    kind: KeyKind,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({:?}, redacted)", self.kind)
    }
}

impl ApiKey {
    pub fn parse(raw: &str) -> Result<ApiKey, PortError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(PortError::config(
                "SUPABASE_SERVICE_ROLE_KEY is not set: set it to the project's service_role key \
                 (Project Settings > API keys: the secret key `sb_secret_…` or the legacy service_role JWT)",
            ));
        }
        if value.starts_with("sb_publishable_") {
            return Err(PortError::config(
                "SUPABASE_SERVICE_ROLE_KEY holds a publishable key (sb_publishable_…), which cannot \
                 reach decision_vault: use the secret key (sb_secret_…) or the legacy service_role JWT",
            ));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PortError::config(
                "SUPABASE_SERVICE_ROLE_KEY contains whitespace: paste the key again without spaces or line breaks",
            ));
        }
        let kind = if is_jwt(value) { KeyKind::Jwt } else { KeyKind::Opaque };
        if kind == KeyKind::Jwt {
            if let Some(role) = jwt_role(value) {
                if role == "anon" || role == "authenticated" {
                    return Err(PortError::config(format!(
                        "SUPABASE_SERVICE_ROLE_KEY is a key for the `{role}` role, which cannot reach \
                         decision_vault: use the service_role key"
                    )));
                }
            }
        }
        Ok(ApiKey { value: value.to_string(), kind })
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The headers that carry the key.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("apikey".to_string(), self.value.clone())];
        if self.kind == KeyKind::Jwt {
            headers.push(("Authorization".to_string(), format!("Bearer {}", self.value)));
        }
        headers
    }
}

/// Three non-empty dot-separated base64url parts.
fn is_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '='))
}

/// The `role` claim of a JWT, when its payload can be read (the signature is not checked).
fn jwt_role(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("role")?.as_str().map(str::to_string)
}

/// Decodes unpadded (or padded) base64url.
fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in input.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // {"alg":"HS256","typ":"JWT"} . {"role":"service_role"} . signature (not checked here)
    const SERVICE_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl";
    // payload {"role":"anon"}
    const ANON_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl";

    #[test]
    fn a_jwt_goes_in_apikey_and_authorization() {
        let key = ApiKey::parse(&format!("  {SERVICE_JWT}\n")).unwrap();
        assert_eq!(key.kind(), KeyKind::Jwt);
        assert_eq!(
            key.headers(),
            vec![
                ("apikey".to_string(), SERVICE_JWT.to_string()),
                ("Authorization".to_string(), format!("Bearer {SERVICE_JWT}")),
            ]
        );
    }

    #[test]
    fn a_secret_key_goes_in_apikey_only() {
        let key = ApiKey::parse("sb_secret_abc123").unwrap();
        assert_eq!(key.kind(), KeyKind::Opaque);
        assert_eq!(key.headers(), vec![("apikey".to_string(), "sb_secret_abc123".to_string())]);
        // Two dots do not make a JWT when a part is empty.
        assert_eq!(ApiKey::parse("a..b").unwrap().kind(), KeyKind::Opaque);
    }

    #[test]
    fn wrong_keys_are_refused_with_what_to_use_and_never_echoed() {
        for (raw, needle) in [
            ("", "not set"),
            ("sb_publishable_xyz", "publishable"),
            (ANON_JWT, "`anon` role"),
            ("abc def", "whitespace"),
        ] {
            let err = ApiKey::parse(raw).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, PortError::Config { .. }));
            assert!(text.contains(needle), "{text}");
            assert!(text.contains("SUPABASE_SERVICE_ROLE_KEY"), "{text}");
            if !raw.is_empty() {
                assert!(!text.contains(raw), "the key must not appear in the message");
            }
        }
        assert!(!format!("{:?}", ApiKey::parse(SERVICE_JWT).unwrap()).contains("eyJ"));
    }

    #[test]
    fn base64url_decodes_with_and_without_padding() {
        assert_eq!(base64url_decode("eyJyb2xlIjoiYW5vbiJ9").unwrap(), br#"{"role":"anon"}"#.to_vec());
        assert_eq!(base64url_decode("YQ==").unwrap(), b"a".to_vec());
        assert_eq!(base64url_decode("_-8").unwrap(), vec![0xff, 0xef]);
        assert_eq!(base64url_decode("a$"), None);
    }
}
