//! Supabase Database Webhooks (supabase.com/docs/guides/database/webhooks): `supabase_functions.http_request`
//! POSTs `{"type": "INSERT"|"UPDATE"|"DELETE", "table", "schema", "record", "old_record"}` (the row
//! after and before the change: `record` is null for DELETE, `old_record` null for INSERT), with
//! the headers given when the webhook was created. Ours is authenticated by a shared secret in
//! [`SECRET_HEADER`] (the migration's `decision_vault_enable_webhook(url, secret)` sets it).
use serde::Deserialize;

use super::secret::secrets_match;

/// The header carrying the shared secret.
pub const SECRET_HEADER: &str = "x-sync-webhook-secret";
/// The Worker's setting holding the same secret.
pub const SECRET_SETTING: &str = "SUPABASE_WEBHOOK_SECRET";

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// 403: the route is closed until the secret is set.
    #[error("Supabase webhooks are off until a secret is set: run `wrangler secret put {SECRET_SETTING}` with the secret given to decision_vault_enable_webhook")]
    NotConfigured,
    /// 401.
    #[error("the delivery has no {SECRET_HEADER} header: create the webhook with decision_vault_enable_webhook(url, secret), which adds it")]
    Missing,
    /// 401.
    #[error("the {SECRET_HEADER} header does not match {SECRET_SETTING}: set both to the same value (run decision_vault_enable_webhook again with the Worker's secret)")]
    Mismatch,
}

/// Checks the secret header (`given`) against the configured secret, in constant time.
pub fn check_secret(given: Option<&str>, configured: Option<&str>) -> Result<(), SecretError> {
    let expected = configured.filter(|s| !s.is_empty()).ok_or(SecretError::NotConfigured)?;
    let given = given.filter(|s| !s.is_empty()).ok_or(SecretError::Missing)?;
    if secrets_match(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(SecretError::Mismatch)
    }
}

/// `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeKind {
    Insert,
    Update,
    Delete,
}

/// The columns of a `decision_vault` row the sync needs from a webhook (others are ignored: the
/// row is read again through PostgREST before anything is written).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookRow {
    pub id: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub notion_page_id: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
}

/// One delivery.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DatabaseChange {
    #[serde(rename = "type")]
    pub kind: ChangeKind,
    pub table: String,
    pub schema: String,
    #[serde(default)]
    pub record: Option<WebhookRow>,
    #[serde(default)]
    pub old_record: Option<WebhookRow>,
}

/// Why a (authenticated) body is not a change we can act on.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the Supabase webhook body is not a Database Webhook payload ({0}); it was ignored")]
    Malformed(#[from] serde_json::Error),
    #[error("the Supabase webhook is for {schema}.{table}, not public.decision_vault: point only decision_vault's webhook at this Worker")]
    OtherTable { schema: String, table: String },
    #[error("the Supabase webhook {kind:?} payload has no row id; it was ignored")]
    NoRow { kind: ChangeKind },
}

/// What the sync does with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// INSERT / UPDATE: sync this row (it is read again first).
    SyncRow(String),
    /// DELETE: a row deleted for real is never propagated; it is reported as an orphan
    /// (soft deletes arrive as UPDATEs setting `deleted_at`).
    Orphan { row_id: String, notion_page_id: Option<String> },
}

/// Parses a delivery for `public.decision_vault` and says what to do.
pub fn parse_change(body: &[u8]) -> Result<(DatabaseChange, Action), ChangeError> {
    let change: DatabaseChange = serde_json::from_slice(body)?;
    if change.schema != "public" || change.table != "decision_vault" {
        return Err(ChangeError::OtherTable { schema: change.schema, table: change.table });
    }
    let action = match change.kind {
        ChangeKind::Insert | ChangeKind::Update => change.record.as_ref().map(|r| Action::SyncRow(r.id.clone())),
        ChangeKind::Delete => change
            .old_record
            .as_ref()
            .map(|r| Action::Orphan { row_id: r.id.clone(), notion_page_id: r.notion_page_id.clone() }),
    };
    let action = action.ok_or(ChangeError::NoRow { kind: change.kind })?;
    Ok((change, action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str) -> serde_json::Value {
        json!({"id": id, "decision": "Adopt Rust", "type": "Architecture", "date": "2025-11-01",
               "created_at": "2025-11-01T09:00:00+00:00", "updated_at": "2025-11-02T09:00:00.123456+00:00",
               "notion_page_id": "page-1", "notion_synced": false, "checksum": null, "deleted_at": null})
    }

    #[test]
    fn the_secret_is_checked() {
        assert_eq!(check_secret(Some("s3cret"), Some("s3cret")), Ok(()));
        assert_eq!(check_secret(Some("wrong"), Some("s3cret")), Err(SecretError::Mismatch));
        assert_eq!(check_secret(Some("s3cret "), Some("s3cret")), Err(SecretError::Mismatch));
        assert_eq!(check_secret(None, Some("s3cret")), Err(SecretError::Missing));
        assert_eq!(check_secret(Some(""), Some("s3cret")), Err(SecretError::Missing));
        assert_eq!(check_secret(Some("s3cret"), None), Err(SecretError::NotConfigured));
        assert_eq!(check_secret(Some(""), Some("")), Err(SecretError::NotConfigured));
        assert!(SecretError::NotConfigured.to_string().contains(SECRET_SETTING));
        assert!(SecretError::Missing.to_string().contains(SECRET_HEADER));
    }

    #[test]
    fn insert_and_update_sync_the_row() {
        let body = json!({"type": "INSERT", "table": "decision_vault", "schema": "public", "record": row("r1"), "old_record": null});
        let (change, action) = parse_change(body.to_string().as_bytes()).unwrap();
        assert_eq!(change.kind, ChangeKind::Insert);
        assert_eq!(
            change.record.as_ref().and_then(|r| r.updated_at.as_deref()),
            Some("2025-11-02T09:00:00.123456+00:00")
        );
        assert_eq!(action, Action::SyncRow("r1".into()));

        let body = json!({"type": "UPDATE", "table": "decision_vault", "schema": "public", "record": row("r2"), "old_record": row("r2")});
        assert_eq!(parse_change(body.to_string().as_bytes()).unwrap().1, Action::SyncRow("r2".into()));
    }

    #[test]
    fn a_delete_is_an_orphan_never_a_sync() {
        let body = json!({"type": "DELETE", "table": "decision_vault", "schema": "public", "record": null, "old_record": row("r3")});
        let (_, action) = parse_change(body.to_string().as_bytes()).unwrap();
        assert_eq!(action, Action::Orphan { row_id: "r3".into(), notion_page_id: Some("page-1".into()) });
    }

    #[test]
    fn other_tables_and_malformed_bodies_are_errors() {
        let body =
            json!({"type": "INSERT", "table": "profiles", "schema": "public", "record": row("r1"), "old_record": null});
        assert!(matches!(parse_change(body.to_string().as_bytes()), Err(ChangeError::OtherTable { .. })));
        let body = json!({"type": "TRUNCATE", "table": "decision_vault", "schema": "public", "record": null, "old_record": null});
        assert!(matches!(parse_change(body.to_string().as_bytes()), Err(ChangeError::Malformed(_))));
        let body = json!({"type": "UPDATE", "table": "decision_vault", "schema": "public", "record": null, "old_record": null});
        assert!(matches!(
            parse_change(body.to_string().as_bytes()),
            Err(ChangeError::NoRow { kind: ChangeKind::Update })
        ));
        assert!(matches!(parse_change(b"{}"), Err(ChangeError::Malformed(_))));
        assert!(matches!(parse_change(b"<html>"), Err(ChangeError::Malformed(_))));
    }
}
