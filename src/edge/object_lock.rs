//! The run lock inside the coordinator Durable Object: the core's one lock
//! ([`StoredLock`], rules in [`crate::core::lease`]) on the object's own storage. Runs happen only
//! inside the object (its alarm, or `/sync-now` and the cron through its fetch), so the object
//! knows which run is alive: the [`Alive`] mark in its memory.
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::Storage;

use crate::core::error::PortError;
use crate::core::lock_store::{Key, LockStorage, StoredLock};

pub use crate::core::lock_store::Alive;

/// The run lock of one run attempt (dropping it clears the alive mark of the run it granted).
pub type ObjectLock = StoredLock<ObjectStorage>;

/// The lock of one run attempt on `storage`, with the object's alive mark.
pub fn object_lock(storage: Storage, alive: Alive) -> ObjectLock {
    StoredLock::new(ObjectStorage(storage), alive)
}

/// [`LockStorage`] on the Durable Object's storage (values stored as structured clones).
pub struct ObjectStorage(Storage);

fn storage_error(error: worker::Error) -> PortError {
    PortError::transient("the coordinator's Durable Object storage", error.to_string())
}

impl LockStorage for ObjectStorage {
    async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<Option<T>, PortError> {
        self.0.get(key.name()).await.map_err(storage_error)
    }

    async fn put<T: Serialize>(&self, key: &Key<T>, value: &T) -> Result<(), PortError> {
        self.0.put(key.name(), value).await.map_err(storage_error)
    }

    async fn delete<T>(&self, key: &Key<T>) -> Result<(), PortError> {
        self.0.delete(key.name()).await.map(|_| ()).map_err(storage_error)
    }
}
