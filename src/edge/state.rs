//! Sync state in Workers KV (binding [`KV_BINDING`]): typed keys, JSON values.
//!
//! Every key the Worker uses is a [`StateKey`] variant, so key names are spelled once and a value's
//! type is named next to its key. Values are JSON; a value that does not parse is an error naming the
//! key, never silently treated as absent.
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, KvStore};

use super::run::RunRecord;

/// Name of the KV namespace binding in `wrangler.toml`.
pub const KV_BINDING: &str = "SYNC_STATE";

/// The keys of the sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKey {
    /// [`RunRecord`] of the latest run, whatever its outcome.
    LastRun,
    /// `DateTime<Utc>` (RFC 3339) when the latest successful run finished.
    LastSuccess,
}

impl StateKey {
    /// The KV key name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateKey::LastRun => "last_run",
            StateKey::LastSuccess => "last_success",
        }
    }
}

/// A state-store failure, with the key and the action it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the KV namespace binding `{binding}` is not configured ({detail}); declare it in wrangler.toml")]
    Binding {
        binding: &'static str,
        detail: String,
    },
    #[error("reading `{key}` from KV failed: {detail}")]
    Read { key: &'static str, detail: String },
    #[error(
        "the value stored under `{key}` in KV is not valid JSON of the expected shape: {detail}"
    )]
    Decode { key: &'static str, detail: String },
    #[error("encoding `{key}` for KV failed: {detail}")]
    Encode { key: &'static str, detail: String },
    #[error("writing `{key}` to KV failed: {detail}")]
    Write { key: &'static str, detail: String },
}

/// The sync state, over one KV namespace.
pub struct KvStateStore {
    kv: KvStore,
}

impl KvStateStore {
    /// The store behind the `SYNC_STATE` binding.
    pub fn from_env(env: &Env) -> Result<Self, StateError> {
        let kv = env.kv(KV_BINDING).map_err(|e| StateError::Binding {
            binding: KV_BINDING,
            detail: e.to_string(),
        })?;
        Ok(Self { kv })
    }

    /// The value under `key`, `None` when nothing is stored.
    pub async fn get<T: DeserializeOwned>(&self, key: StateKey) -> Result<Option<T>, StateError> {
        let name = key.as_str();
        let text = self
            .kv
            .get(name)
            .text()
            .await
            .map_err(|e| StateError::Read {
                key: name,
                detail: e.to_string(),
            })?;
        match text {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StateError::Decode {
                    key: name,
                    detail: e.to_string(),
                }),
        }
    }

    /// Stores `value` as JSON under `key`.
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        key: StateKey,
        value: &T,
    ) -> Result<(), StateError> {
        let name = key.as_str();
        let text = serde_json::to_string(value).map_err(|e| StateError::Encode {
            key: name,
            detail: e.to_string(),
        })?;
        self.kv
            .put(name, text)
            .map_err(|e| StateError::Write {
                key: name,
                detail: e.to_string(),
            })?
            .execute()
            .await
            .map_err(|e| StateError::Write {
                key: name,
                detail: e.to_string(),
            })
    }

    /// The latest run, if any.
    pub async fn last_run(&self) -> Result<Option<RunRecord>, StateError> {
        self.get(StateKey::LastRun).await
    }

    /// When the latest successful run finished, if any.
    pub async fn last_success(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, StateError> {
        self.get(StateKey::LastSuccess).await
    }

    /// Records a finished run: `last_run` always, `last_success` when it succeeded.
    pub async fn record_run(&self, record: &RunRecord) -> Result<(), StateError> {
        self.put(StateKey::LastRun, record).await?;
        if record.outcome == super::run::Outcome::Ok {
            self.put(StateKey::LastSuccess, &record.finished_at).await?;
        }
        Ok(())
    }
}
