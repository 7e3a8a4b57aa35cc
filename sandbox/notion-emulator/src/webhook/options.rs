//! A webhook subscription's settings: where deliveries go, the verification token, and the
//! delivery behaviours tests switch on (aggregation window, retries, reordering, duplicates,
//! lost events). Read from the JSON of `POST`/`PATCH /__admin/webhooks` or `--webhook-options`.

use serde_json::{json, Map, Value};

/// Window over which `page.properties_updated` events of one page are merged (ms).
pub const DEFAULT_AGGREGATION_MS: u64 = 1_000;
/// Deliveries per event, the first included (Notion: up to 8).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Delay before the first retry (ms); doubled for each further one.
pub const DEFAULT_RETRY_BASE_MS: u64 = 500;
/// How long one delivery may take before it counts as failed (ms).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Events waiting for delivery at most; further ones are counted as `overflowed` and lost.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// `api_version` of the payloads.
pub const DEFAULT_API_VERSION: &str = "2025-09-03";

/// Keys a subscription body may carry besides the delivery options.
const SUBSCRIPTION_KEYS: &[&str] = &["url", "verification_token"];
/// Keys of the delivery options.
const OPTION_KEYS: &[&str] = &[
    "aggregation_ms",
    "retry",
    "max_attempts",
    "retry_base_ms",
    "timeout_ms",
    "reorder",
    "duplicate",
    "drop_next",
    "queue_capacity",
    "api_version",
];

/// How events are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOptions {
    pub aggregation_ms: u64,
    /// Retry failed deliveries (non-2xx answer, connection error, timeout).
    pub retry: bool,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub timeout_ms: u64,
    /// Deliver the events due together in shuffled order.
    pub reorder: bool,
    /// Send every delivery twice (same event id, same attempt number).
    pub duplicate: bool,
    /// Lose the next N events entirely (never sent).
    pub drop_next: u64,
    pub queue_capacity: usize,
    pub api_version: String,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            aggregation_ms: DEFAULT_AGGREGATION_MS,
            retry: true,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_base_ms: DEFAULT_RETRY_BASE_MS,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            reorder: false,
            duplicate: false,
            drop_next: 0,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            api_version: DEFAULT_API_VERSION.to_string(),
        }
    }
}

fn uint(body: &Map<String, Value>, key: &str, max: u64) -> Result<Option<u64>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" must be a whole number from 0 to {max}")),
    }
}

fn flag(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("\"{key}\" must be a boolean")),
    }
}

fn object(body: &Value) -> Result<&Map<String, Value>, String> {
    body.as_object().ok_or_else(|| "the body must be a JSON object".to_string())
}

fn no_unknown_keys(body: &Map<String, Value>, allowed: &[&[&str]]) -> Result<(), String> {
    match body.keys().find(|k| !allowed.iter().any(|set| set.contains(&k.as_str()))) {
        Some(k) => Err(format!("unknown key {k:?}; known: {}", allowed.concat().join(", "))),
        None => Ok(()),
    }
}

impl DeliveryOptions {
    /// Applies the option keys present in `body` (others keep their value).
    pub fn apply_json(&mut self, body: &Value) -> Result<(), String> {
        let o = object(body)?;
        self.apply_numbers(o)?;
        self.retry = flag(o, "retry")?.unwrap_or(self.retry);
        self.reorder = flag(o, "reorder")?.unwrap_or(self.reorder);
        self.duplicate = flag(o, "duplicate")?.unwrap_or(self.duplicate);
        if let Some(v) = o.get("api_version").filter(|v| !v.is_null()) {
            let s = v.as_str().filter(|s| !s.trim().is_empty());
            self.api_version = s.ok_or("\"api_version\" must be a non-empty string")?.trim().to_string();
        }
        Ok(())
    }

    fn apply_numbers(&mut self, o: &Map<String, Value>) -> Result<(), String> {
        self.aggregation_ms = uint(o, "aggregation_ms", 600_000)?.unwrap_or(self.aggregation_ms);
        self.retry_base_ms = uint(o, "retry_base_ms", 60_000)?.unwrap_or(self.retry_base_ms);
        self.drop_next = uint(o, "drop_next", 1_000_000)?.unwrap_or(self.drop_next);
        if let Some(n) = uint(o, "max_attempts", 20)? {
            self.max_attempts = u32::try_from(n.max(1)).unwrap_or(DEFAULT_MAX_ATTEMPTS);
        }
        if let Some(n) = uint(o, "timeout_ms", 120_000)? {
            self.timeout_ms = n.max(1);
        }
        if let Some(n) = uint(o, "queue_capacity", 1_000_000)? {
            self.queue_capacity = usize::try_from(n.max(1)).unwrap_or(DEFAULT_QUEUE_CAPACITY);
        }
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "aggregation_ms": self.aggregation_ms,
            "retry": self.retry,
            "max_attempts": self.max_attempts,
            "retry_base_ms": self.retry_base_ms,
            "timeout_ms": self.timeout_ms,
            "reorder": self.reorder,
            "duplicate": self.duplicate,
            "drop_next": self.drop_next,
            "queue_capacity": self.queue_capacity,
            "api_version": self.api_version,
        })
    }

    /// `PATCH /__admin/webhooks`: only option keys are allowed.
    pub fn patch_from_json(&self, body: &Value) -> Result<DeliveryOptions, String> {
        no_unknown_keys(object(body)?, &[OPTION_KEYS])?;
        let mut next = self.clone();
        next.apply_json(body)?;
        Ok(next)
    }
}

/// A subscription to create: the endpoint, an optional fixed verification token (random when
/// absent) and the delivery options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub url: String,
    pub verification_token: Option<String>,
    pub options: DeliveryOptions,
}

impl SubscriptionSpec {
    /// `{"url": "http://127.0.0.1:8787/webhooks/notion", "verification_token"?: "...", ...options}`.
    pub fn from_json(body: &Value) -> Result<SubscriptionSpec, String> {
        let o = object(body)?;
        no_unknown_keys(o, &[SUBSCRIPTION_KEYS, OPTION_KEYS])?;
        let url = o.get("url").and_then(Value::as_str).map(str::trim).ok_or("\"url\" must be a string")?;
        check_url(url)?;
        let token = match o.get("verification_token") {
            None | Some(Value::Null) => None,
            Some(v) => Some(check_token(v.as_str().ok_or("\"verification_token\" must be a string")?)?),
        };
        let mut options = DeliveryOptions::default();
        options.apply_json(body)?;
        Ok(SubscriptionSpec { url: url.to_string(), verification_token: token, options })
    }
}

/// Plain `http://` URLs only: the emulator is a local tool and has no TLS client.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..]).ok_or_else(|| {
        format!("\"url\" must be an http:// URL (the emulator delivers over plain HTTP), not {url:?}")
    })?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(format!("\"url\" {url:?} has no host"));
    }
    Ok(())
}

fn check_token(token: &str) -> Result<String, String> {
    let ok = !token.is_empty() && token.len() <= 256 && !token.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(token.to_string())
    } else {
        Err("\"verification_token\" must be 1-256 characters without spaces".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let spec = SubscriptionSpec::from_json(&json!({"url": "http://127.0.0.1:1/x"})).expect("valid");
        assert_eq!(spec.options, DeliveryOptions::default());
        assert_eq!(spec.verification_token, None);
        let spec = SubscriptionSpec::from_json(&json!({
            "url": "http://localhost:8787/webhooks/notion", "verification_token": "secret_abc",
            "aggregation_ms": 0, "retry": false, "reorder": true, "duplicate": true, "drop_next": 2,
        }))
        .expect("valid");
        assert_eq!(spec.verification_token.as_deref(), Some("secret_abc"));
        assert_eq!((spec.options.aggregation_ms, spec.options.retry, spec.options.drop_next), (0, false, 2));
        assert!(spec.options.reorder && spec.options.duplicate);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            json!({"url": "https://example.com"}),
            json!({"url": "http://"}),
            json!({}),
            json!({"url": "http://h", "retry": "yes"}),
            json!({"url": "http://h", "aggregation_ms": -1}),
            json!({"url": "http://h", "verification_token": "has space"}),
            json!({"url": "http://h", "surprise": 1}),
        ] {
            assert!(SubscriptionSpec::from_json(&bad).is_err(), "{bad}");
        }
        assert!(DeliveryOptions::default().patch_from_json(&json!({"url": "http://h"})).is_err());
    }
}
