//! Bearer-token check for the admin routes, in constant time.
use subtle::ConstantTimeEq;

use crate::settings::ADMIN_TOKEN;

/// Whether a request may use an admin route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// 403: no token is configured, so the route is closed; the message names the secret to set.
    NotConfigured(String),
    /// 401: the `Authorization` header is missing or wrong.
    Denied(String),
}

/// Checks `Authorization: Bearer <token>` against the configured token.
pub fn check_bearer(authorization: Option<&str>, configured: Option<&str>) -> Access {
    let Some(expected) = configured.filter(|token| !token.is_empty()) else {
        return Access::NotConfigured(format!(
            "this route is disabled until a token is set: run `wrangler secret put {ADMIN_TOKEN}` (or add it to .dev.vars)"
        ));
    };
    let given = authorization.and_then(bearer_token).unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Access::Allowed
    } else {
        Access::Denied(format!("send the header `Authorization: Bearer <{ADMIN_TOKEN}>`"))
    }
}

/// The credentials of `Bearer <token>`; the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rules() {
        assert!(matches!(check_bearer(Some("Bearer x"), None), Access::NotConfigured(m) if m.contains(ADMIN_TOKEN)));
        assert!(matches!(check_bearer(None, Some("s3cret")), Access::Denied(_)));
        assert!(matches!(check_bearer(Some("Bearer wrong"), Some("s3cret")), Access::Denied(_)));
        assert!(matches!(check_bearer(Some("s3cret"), Some("s3cret")), Access::Denied(_)));
        assert_eq!(check_bearer(Some("Bearer s3cret"), Some("s3cret")), Access::Allowed);
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        for header in ["bearer s3cret", "BEARER s3cret", "BeArEr s3cret", "Bearer  s3cret"] {
            assert_eq!(check_bearer(Some(header), Some("s3cret")), Access::Allowed, "{header}");
        }
        for header in ["Bearers3cret", "Basic s3cret", "bear s3cret", "bearer", "s3cret s3cret"] {
            assert!(matches!(check_bearer(Some(header), Some("s3cret")), Access::Denied(_)), "{header}");
        }
    }
}
