//! The read requests: incremental keyset, unlinked rows, rows by page id.
use crate::clients::http::{HttpRequest, HttpResponse, Method};
use crate::clients::postgrest::config::PostgrestConfig;
use crate::clients::postgrest::query;
use crate::core::model::RowCursor;

fn get(config: &PostgrestConfig, params: &[String]) -> HttpRequest {
    let url = format!("{}?{}", config.table_url(), params.join("&"));
    let mut request = HttpRequest::new(Method::Get, url).header("Accept", "application/json");
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// `GET {base}/decision_vault?select=…&or=(updated_at.gt."T",and(updated_at.eq."T",id.gt."ID"))
/// &order=updated_at.asc,id.asc&limit=N` (no `or` from the beginning). Deleted rows included.
pub fn rows_changed_after(config: &PostgrestConfig, after: Option<&RowCursor>, limit: usize) -> HttpRequest {
    let mut params = vec![query::select_all()];
    if let Some(after) = after {
        params.push(query::keyset_after("updated_at", after));
    }
    params.push("order=updated_at.asc,id.asc".into());
    params.push(format!("limit={}", limit.max(1)));
    get(config, &params)
}

/// `GET {base}/decision_vault?select=…&notion_page_id=is.null&deleted_at=is.null
/// &or=(created_at.gt."T",and(created_at.eq."T",id.gt."ID"))&order=created_at.asc,id.asc&limit=N`
/// with `Prefer: count=exact`. The cursor's `updated_at` holds the `created_at` of the last row seen.
///
/// Supabase returns at most the project's API "Max rows" (1,000 by default) whatever `limit`
/// asks (<https://supabase.com/docs/reference/javascript/select>), so a short answer is not the
/// end: the total in `Content-Range` is (see [`more_unlinked_rows`]).
pub fn unlinked_rows(config: &PostgrestConfig, after: Option<&RowCursor>, limit: usize) -> HttpRequest {
    let mut params = vec![query::select_all(), "notion_page_id=is.null".into(), "deleted_at=is.null".into()];
    if let Some(after) = after {
        params.push(query::keyset_after("created_at", after));
    }
    params.push("order=created_at.asc,id.asc".into());
    params.push(format!("limit={}", limit.max(1)));
    get(config, &params).header("Prefer", "count=exact")
}

/// Whether more unlinked rows follow an answer of `returned` rows: PostgREST answers
/// `Prefer: count=exact` with `Content-Range: 0-999/2500` (the total matching the filters, the
/// keyset included) or `*/0` when nothing matches
/// (<https://docs.postgrest.org/en/latest/references/api/pagination_count.html>, "Exact Count").
/// Without a total (`0-99/*`, no header), any non-empty answer may have more after it: the next
/// request (empty) tells.
pub fn more_unlinked_rows(response: &HttpResponse, returned: usize) -> bool {
    let total = response
        .header("content-range")
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse::<usize>().ok());
    match total {
        Some(total) => total > returned,
        None => returned > 0,
    }
}

/// `GET {base}/decision_vault?select=…&notion_page_id=in.("p1","p2")&order=created_at.asc,id.asc`.
pub fn rows_by_page_ids(config: &PostgrestConfig, page_ids: &[String]) -> HttpRequest {
    let params =
        vec![query::select_all(), query::in_list("notion_page_id", page_ids), "order=created_at.asc,id.asc".into()];
    get(config, &params)
}

/// `GET {base}/decision_vault?select=id,notion_page_id&notion_page_id=not.is.null
/// &deleted_at=is.null&id=gt."ID"&order=id.asc&limit=N` with `Prefer: count=exact`: a presence
/// sweep's page of live linked rows, ids only; the count (in `Content-Range`) tells whether more
/// follow even when the server's "Max rows" is below `N`
/// (<https://docs.postgrest.org/en/latest/references/api/pagination_count.html>).
pub fn linked_page_ids(config: &PostgrestConfig, after: Option<&str>, limit: usize) -> HttpRequest {
    let mut params =
        vec!["select=id,notion_page_id".to_string(), "notion_page_id=not.is.null".into(), "deleted_at=is.null".into()];
    if let Some(after) = after {
        params.push(format!("id=gt.{}", query::encode(&query::quoted(after))));
    }
    params.push("order=id.asc".into());
    params.push(format!("limit={}", limit.max(1)));
    get(config, &params).header("Prefer", "count=exact")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SELECT: &str =
        "select=id,decision,type,date,created_at,updated_at,notion_page_id,notion_synced,checksum,deleted_at";

    fn config() -> PostgrestConfig {
        PostgrestConfig::new("https://abc.supabase.co/rest/v1", "sb_secret_k", 3).unwrap()
    }

    fn cursor() -> RowCursor {
        RowCursor {
            updated_at: chrono::Utc.timestamp_micros(1_763_894_940_123_456).single().unwrap(),
            id: "id-9".into(),
        }
    }

    #[test]
    fn changed_after_from_the_start_and_after_a_cursor() {
        let first = rows_changed_after(&config(), None, 100);
        assert_eq!(first.method, Method::Get);
        assert_eq!(
            first.url,
            format!("https://abc.supabase.co/rest/v1/decision_vault?{SELECT}&order=updated_at.asc,id.asc&limit=100")
        );
        assert!(first.headers.contains(&("apikey".to_string(), "sb_secret_k".to_string())));
        assert!(first.headers.contains(&("Accept".to_string(), "application/json".to_string())));
        assert_eq!(first.body, None);
        let next = rows_changed_after(&config(), Some(&cursor()), 50);
        assert_eq!(
            next.url,
            format!(
                "https://abc.supabase.co/rest/v1/decision_vault?{SELECT}\
                 &or=(updated_at.gt.%222025-11-23T10:49:00.123456%2B00:00%22,and(updated_at.eq.%222025-11-23T10:49:00.123456%2B00:00%22,id.gt.%22id-9%22))\
                 &order=updated_at.asc,id.asc&limit=50"
            )
        );
    }

    #[test]
    fn unlinked_rows_filter_and_keyset_on_created_at() {
        let request = unlinked_rows(&config(), Some(&cursor()), 100);
        assert_eq!(
            request.url,
            format!(
                "https://abc.supabase.co/rest/v1/decision_vault?{SELECT}&notion_page_id=is.null&deleted_at=is.null\
                 &or=(created_at.gt.%222025-11-23T10:49:00.123456%2B00:00%22,and(created_at.eq.%222025-11-23T10:49:00.123456%2B00:00%22,id.gt.%22id-9%22))\
                 &order=created_at.asc,id.asc&limit=100"
            )
        );
    }

    #[test]
    fn linked_page_ids_reads_ids_only_in_id_order() {
        let first = linked_page_ids(&config(), None, 1000);
        assert_eq!(
            first.url,
            "https://abc.supabase.co/rest/v1/decision_vault?select=id,notion_page_id&notion_page_id=not.is.null\
             &deleted_at=is.null&order=id.asc&limit=1000"
        );
        assert!(first.headers.contains(&("Prefer".to_string(), "count=exact".to_string())));
        let next = linked_page_ids(&config(), Some("id-9"), 1000);
        assert!(next.url.contains("&deleted_at=is.null&id=gt.%22id-9%22&order=id.asc&limit=1000"), "{}", next.url);
    }

    #[test]
    fn unlinked_rows_ask_for_the_exact_count() {
        let request = unlinked_rows(&config(), None, 1000);
        assert!(request.url.ends_with("&order=created_at.asc,id.asc&limit=1000"));
        assert!(request.headers.contains(&("Prefer".to_string(), "count=exact".to_string())));
    }

    /// The end of the pool is the total in `Content-Range`, not a short page (max-rows caps it).
    #[test]
    fn more_rows_follow_when_the_total_is_larger_than_the_answer() {
        let answer = |range: Option<&str>| HttpResponse {
            status: 200,
            headers: range.map(|range| vec![("Content-Range".to_string(), range.to_string())]).unwrap_or_default(),
            body: "[]".into(),
        };
        assert!(more_unlinked_rows(&answer(Some("0-499/2000")), 500), "capped below the limit: more follow");
        assert!(!more_unlinked_rows(&answer(Some("0-499/500")), 500));
        assert!(!more_unlinked_rows(&answer(Some("*/0")), 0));
        assert!(more_unlinked_rows(&answer(Some("0-99/*")), 100), "no total: not proof of the end");
        assert!(more_unlinked_rows(&answer(None), 3));
        assert!(!more_unlinked_rows(&answer(None), 0));
    }

    #[test]
    fn by_page_ids_quotes_each_id() {
        let request = rows_by_page_ids(&config(), &["a-1".into(), "b\"2".into()]);
        assert_eq!(
            request.url,
            format!(
                "https://abc.supabase.co/rest/v1/decision_vault?{SELECT}\
                 &notion_page_id=in.(%22a-1%22,%22b%5C%222%22)&order=created_at.asc,id.asc"
            )
        );
    }
}
