//! The sync state inside the coordinator Durable Object, mirrored to Workers KV at a bounded rate.
//!
//! Runs come every few seconds while a backlog drains or webhooks arrive; a KV write per run would
//! spend the free plan's 1,000 KV writes a day in under an hour. So the working copy lives in the
//! object's storage (cheap, strongly consistent, and read by `/health` through the object), and
//! the state (`last_success`, cursors, last run…) is copied to KV at most once per
//! [`KV_MIRROR_INTERVAL_MS`] (5 minutes): at most 288 writes a day for the state, plus at most as
//! many for the conflicts kept meanwhile (one key per copy). The object arms an alarm for the
//! next copy when one is pending, so KV is never more than 5 minutes behind.
//!
//! A new object (first deploy of this version) starts from what KV holds.
//!
//! The state is stored as one value while it fits, and in chunks past that
//! ([`crate::stored_chunks`]: Cloudflare's 2 MB limit on a key and its value).
use worker::js_sys::{Object, Reflect};
use worker::wasm_bindgen::JsValue;
use worker::Storage;

use crate::core::error::PortError;
use crate::core::ports::StateStore;
use crate::core::state::{ConflictRecord, SyncState};
use crate::stored_chunks::{self, chunk_key, count_key};

use super::kv_state::KvStateStore;

/// Most often the state is copied to KV.
pub const KV_MIRROR_INTERVAL_MS: u64 = 5 * 60 * 1000;

const STATE_KEY: &str = "state";
const CONFLICTS_KEY: &str = "conflicts_pending";
const DIRTY_KEY: &str = "kv_dirty";
const MIRRORED_AT_KEY: &str = "kv_mirrored_at";

/// When the next copy to KV may happen, given the last one (`None`: never).
pub fn next_mirror_at(last_ms: Option<u64>) -> u64 {
    last_ms.map_or(0, |last| last.saturating_add(KV_MIRROR_INTERVAL_MS))
}

/// [`StateStore`] on the object's storage, with KV behind it.
pub struct ObjectState {
    storage: Storage,
    kv: KvStateStore,
}

fn storage_error(action: &str, error: impl std::fmt::Display) -> PortError {
    PortError::transient("the coordinator's Durable Object storage", format!("{action}: {error}"))
}

impl ObjectState {
    pub fn new(storage: Storage, kv: KvStateStore) -> Self {
        ObjectState { storage, kv }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PortError> {
        let text: Option<String> = self.storage.get(key).await.map_err(|e| storage_error("reading", e))?;
        match text {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| storage_error("decoding", e)),
        }
    }

    async fn put_json<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), PortError> {
        let text = serde_json::to_string(value).map_err(|e| storage_error("encoding", e))?;
        self.storage.put(key, text).await.map_err(|e| storage_error("writing", e))
    }

    /// The state's JSON text: one value, or its chunks joined.
    async fn state_text(&self) -> Result<Option<String>, PortError> {
        let count: Option<usize> =
            self.storage.get(&count_key(STATE_KEY)).await.map_err(|e| storage_error("reading", e))?;
        let count = count.unwrap_or(0);
        if count == 0 {
            return self.storage.get(STATE_KEY).await.map_err(|e| storage_error("reading", e));
        }
        let mut text = String::new();
        for index in 0..count {
            let key = chunk_key(STATE_KEY, index);
            let chunk: Option<String> = self.storage.get(&key).await.map_err(|e| storage_error("reading", e))?;
            match chunk {
                Some(chunk) => text.push_str(&chunk),
                None => return Err(storage_error("reading", format!("`{key}` is missing ({count} chunks)"))),
            }
        }
        Ok(Some(text))
    }

    async fn stored_state(&self) -> Result<Option<SyncState>, PortError> {
        match self.state_text().await? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| storage_error("decoding", e)),
        }
    }

    /// Writes the state (one value or chunks, with their count) and the KV-copy mark in one
    /// atomic write, then drops what an earlier, differently sized state left behind.
    async fn put_state(&self, state: &SyncState) -> Result<(), PortError> {
        let text = serde_json::to_string(state).map_err(|e| storage_error("encoding", e))?;
        let previous: Option<usize> =
            self.storage.get(&count_key(STATE_KEY)).await.map_err(|e| storage_error("reading", e))?;
        let layout = stored_chunks::layout(STATE_KEY, &text);
        let entries = Object::new();
        let set = |key: &str, value: JsValue| {
            Reflect::set(&entries, &JsValue::from_str(key), &value).map(|_| ()).map_err(|e| {
                storage_error("writing", e.as_string().unwrap_or_else(|| "cannot build the entries".into()))
            })
        };
        for (key, value) in &layout.values {
            set(key, JsValue::from_str(value))?;
        }
        set(&count_key(STATE_KEY), JsValue::from_f64(layout.count as f64))?;
        set(DIRTY_KEY, JsValue::TRUE)?;
        self.storage.put_multiple_raw(entries).await.map_err(|e| storage_error("writing", e))?;
        let stale = layout.stale_keys(STATE_KEY, previous.unwrap_or(0));
        if !stale.is_empty() {
            // Left behind on failure: the count written above says which keys hold the state.
            let _ = self.storage.delete_multiple(stale).await;
        }
        Ok(())
    }

    async fn pending_conflicts(&self) -> Result<Vec<ConflictRecord>, PortError> {
        Ok(self.get_json(CONFLICTS_KEY).await?.unwrap_or_default())
    }

    /// Whether something waits to be copied to KV, and when it may be.
    pub async fn mirror_due_at(&self) -> Result<Option<u64>, PortError> {
        let dirty: Option<bool> = self.storage.get(DIRTY_KEY).await.map_err(|e| storage_error("reading", e))?;
        if dirty != Some(true) {
            return Ok(None);
        }
        let last: Option<u64> = self.storage.get(MIRRORED_AT_KEY).await.map_err(|e| storage_error("reading", e))?;
        Ok(Some(next_mirror_at(last)))
    }

    /// Copies the state (and the conflicts kept since the last copy) to KV when due at `now_ms`.
    /// Returns the number of KV writes made.
    pub async fn mirror_if_due(&self, now_ms: u64, run_id: &str) -> Result<u32, PortError> {
        match self.mirror_due_at().await? {
            Some(due) if due <= now_ms => {}
            _ => return Ok(0),
        }
        let mut writes = 0;
        if let Some(state) = self.stored_state().await? {
            self.kv.save(&state).await?;
            writes += 1;
        }
        let conflicts = self.pending_conflicts().await?;
        if !conflicts.is_empty() {
            self.kv.save_conflicts(run_id, &conflicts).await?;
            self.storage.delete(CONFLICTS_KEY).await.map_err(|e| storage_error("writing", e))?;
            writes += 1;
        }
        self.storage.put(DIRTY_KEY, false).await.map_err(|e| storage_error("writing", e))?;
        self.storage.put(MIRRORED_AT_KEY, now_ms).await.map_err(|e| storage_error("writing", e))?;
        Ok(writes)
    }
}

impl StateStore for ObjectState {
    async fn load(&self) -> Result<SyncState, PortError> {
        match self.stored_state().await? {
            Some(state) => Ok(state),
            // First run of this object: the state the Worker kept in KV before.
            None => self.kv.load().await,
        }
    }

    async fn save(&self, state: &SyncState) -> Result<(), PortError> {
        self.put_state(state).await
    }

    async fn save_conflicts(&self, _run_id: &str, conflicts: &[ConflictRecord]) -> Result<(), PortError> {
        let mut pending = self.pending_conflicts().await?;
        pending.extend(conflicts.iter().cloned());
        self.put_json(CONFLICTS_KEY, &pending).await?;
        self.storage.put(DIRTY_KEY, true).await.map_err(|e| storage_error("writing", e))
    }

    async fn conflicts(&self) -> Result<Vec<ConflictRecord>, PortError> {
        let mut all = self.kv.conflicts().await?;
        all.extend(self.pending_conflicts().await?);
        all.sort_by_key(|conflict| std::cmp::Reverse(conflict.detected_at));
        Ok(all)
    }
}
