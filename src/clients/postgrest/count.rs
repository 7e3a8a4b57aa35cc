//! Counting rows without reading them, for the mass-delete safety halt: PostgREST answers
//! `Prefer: count=exact` with the total in `Content-Range` (`0-0/12`, or `*/0` when nothing
//! matches); see <https://docs.postgrest.org/en/latest/references/api/pagination_count.html>
//! ("Exact Count"). `limit=1` keeps the body to at most one id.
use crate::clients::http::{HttpRequest, HttpResponse, Method};
use crate::clients::postgrest::config::{PostgrestConfig, SERVICE};
use crate::core::error::PortError;

/// Live linked rows.
pub const LIVE_LINKED: &[&str] = &["notion_page_id=not.is.null", "deleted_at=is.null"];
/// Live rows without a page yet: a first sync's backlog on the Supabase side (`/health`'s drain).
pub const LIVE_UNLINKED: &[&str] = &["notion_page_id=is.null", "deleted_at=is.null"];
/// Linked rows soft-deleted (or edited while deleted) and not synced since: deletes not propagated.
pub const DELETED_UNSYNCED: &[&str] =
    &["notion_page_id=not.is.null", "deleted_at=not.is.null", "notion_synced=is.false"];

/// `GET {base}/decision_vault?select=id&<filters>&limit=1` with `Prefer: count=exact`.
pub fn count_request(config: &PostgrestConfig, filters: &[&str]) -> HttpRequest {
    let url = format!("{}?select=id&{}&limit=1", config.table_url(), filters.join("&"));
    let mut request =
        HttpRequest::new(Method::Get, url).header("Accept", "application/json").header("Prefer", "count=exact");
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// The total after the `/` of `Content-Range`.
pub fn parse_count(request: &HttpRequest, response: &HttpResponse) -> Result<u32, PortError> {
    let total = response
        .header("content-range")
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse::<u32>().ok());
    total.ok_or_else(|| {
        PortError::transient(
            SERVICE,
            format!(
                "{}: no row count in the answer (Content-Range {:?}); the mass-delete safety halt needs a PostgREST that honours `Prefer: count=exact`",
                request.describe(),
                response.header("content-range").unwrap_or("missing")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PostgrestConfig {
        PostgrestConfig::new("https://abc.supabase.co/rest/v1", "sb_secret_k", 3).unwrap()
    }

    fn answer(range: Option<&str>) -> HttpResponse {
        let headers = range.map(|range| vec![("Content-Range".to_string(), range.to_string())]).unwrap_or_default();
        HttpResponse { status: 206, headers, body: "[]".into() }
    }

    #[test]
    fn asks_for_an_exact_count_of_one_id() {
        let request = count_request(&config(), DELETED_UNSYNCED);
        assert_eq!(
            request.url,
            "https://abc.supabase.co/rest/v1/decision_vault?select=id&notion_page_id=not.is.null\
             &deleted_at=not.is.null&notion_synced=is.false&limit=1"
        );
        assert!(request.headers.contains(&("Prefer".to_string(), "count=exact".to_string())));
        assert!(request.headers.contains(&("apikey".to_string(), "sb_secret_k".to_string())));
    }

    #[test]
    fn reads_the_total_of_content_range() {
        let request = count_request(&config(), LIVE_LINKED);
        assert_eq!(parse_count(&request, &answer(Some("0-0/12"))), Ok(12));
        assert_eq!(parse_count(&request, &answer(Some("*/0"))), Ok(0));
        let error = parse_count(&request, &answer(Some("0-0/*"))).unwrap_err().to_string();
        assert!(error.contains("count=exact") && !error.contains("sb_secret"), "{error}");
        assert!(parse_count(&request, &answer(None)).is_err());
    }
}
