//! The core's [`StateStore`] on Workers KV, with typed keys. One write per run for the state,
//! one more when a run keeps conflict losers (each run's conflicts live 90 days).
use worker::KvStore;

use crate::core::error::PortError;
use crate::core::ports::StateStore;
use crate::core::state::{ConflictRecord, SyncState};

/// Name of the KV namespace binding in `wrangler.toml`.
pub const KV_BINDING: &str = "SYNC_STATE";
/// How long a conflict's losing version is kept.
pub const CONFLICT_TTL_SECONDS: u64 = 90 * 24 * 60 * 60;

/// Every key the Worker writes; names are spelled here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateKey {
    /// The whole [`SyncState`] (cursors, last run, last success, errors, orphans, totals).
    Sync,
    /// The conflicts kept by one run.
    Conflicts { run_id: String },
}

impl StateKey {
    pub const CONFLICT_PREFIX: &'static str = "conflicts:";

    pub fn name(&self) -> String {
        match self {
            StateKey::Sync => "sync_state:v1".to_string(),
            StateKey::Conflicts { run_id } => format!("{}{run_id}", Self::CONFLICT_PREFIX),
        }
    }
}

/// The sync state in one KV namespace.
pub struct KvStateStore {
    kv: KvStore,
}

fn kv_error(action: &str, key: &str, error: impl std::fmt::Display) -> PortError {
    PortError::transient("Workers KV", format!("{action} `{key}` failed: {error}"))
}

impl KvStateStore {
    pub fn new(kv: KvStore) -> Self {
        KvStateStore { kv }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PortError> {
        let text = self.kv.get(key).text().await.map_err(|error| kv_error("reading", key, error))?;
        match text {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|error| {
                PortError::config(format!(
                    "the value under `{key}` in the {KV_BINDING} KV namespace is not valid ({error}); delete it with \
                     `npx wrangler kv key delete --binding {KV_BINDING} {key}` and the next run rebuilds it"
                ))
            }),
        }
    }

    async fn put_json<T: serde::Serialize>(&self, key: &str, value: &T, ttl: Option<u64>) -> Result<(), PortError> {
        let text = serde_json::to_string(value).map_err(|error| kv_error("encoding", key, error))?;
        let mut put = self.kv.put(key, text).map_err(|error| kv_error("writing", key, error))?;
        if let Some(ttl) = ttl {
            put = put.expiration_ttl(ttl);
        }
        put.execute().await.map_err(|error| kv_error("writing", key, error))
    }
}

impl StateStore for KvStateStore {
    async fn load(&self) -> Result<SyncState, PortError> {
        Ok(self.get_json(&StateKey::Sync.name()).await?.unwrap_or_default())
    }

    async fn save(&self, state: &SyncState) -> Result<(), PortError> {
        self.put_json(&StateKey::Sync.name(), state, None).await
    }

    async fn save_conflicts(&self, run_id: &str, conflicts: &[ConflictRecord]) -> Result<(), PortError> {
        let key = StateKey::Conflicts { run_id: run_id.to_string() }.name();
        self.put_json(&key, &conflicts, Some(CONFLICT_TTL_SECONDS)).await
    }

    async fn conflicts(&self) -> Result<Vec<ConflictRecord>, PortError> {
        let listed = self
            .kv
            .list()
            .prefix(StateKey::CONFLICT_PREFIX.to_string())
            .execute()
            .await
            .map_err(|error| kv_error("listing", StateKey::CONFLICT_PREFIX, error))?;
        let mut all = Vec::new();
        for key in listed.keys {
            let kept: Option<Vec<ConflictRecord>> = self.get_json(&key.name).await?;
            all.extend(kept.unwrap_or_default());
        }
        all.sort_by_key(|conflict| std::cmp::Reverse(conflict.detected_at));
        Ok(all)
    }
}
