//! The composition root of the coordinator: what one request or alarm uses, built once at its
//! start ([`App::build`]): the settings (parsed once), the state store, the run lock, the clock
//! and `fetch`. Handlers take the `App`; [`App::service`] wires them to the clients (built from
//! the settings only, see [`crate::service`]).
use worker::{Env, State};

use super::clock::WorkerClock;
use super::env;
use super::object_lock::{object_lock, Alive, ObjectLock};
use super::object_state::ObjectState;
use super::sync::kv_store;
use super::transport::FetchTransport;
use crate::health::ConfigStatus;
use crate::service::Service;
use crate::settings::{Settings, SettingsError};

/// The service the coordinator runs: `fetch`, its storage, its lock, the Worker's clock.
pub type EdgeService<'a> = Service<'a, FetchTransport, ObjectState, ObjectLock, WorkerClock>;

/// Everything one request or alarm of the coordinator uses.
pub struct App {
    settings: Result<Settings, SettingsError>,
    config: ConfigStatus,
    store: Result<ObjectState, String>,
    /// The lock of this request's run attempt (dropping the app clears the alive mark of the
    /// run it granted).
    pub lock: ObjectLock,
    pub clock: WorkerClock,
}

impl App {
    /// Parses the settings once and opens the store and the lock.
    pub fn build(state: &State, env: &Env, alive: &Alive) -> App {
        let (settings, config) = env::status(env);
        let store = kv_store(env).map(|kv| ObjectState::new(state.storage(), kv));
        App { settings, config, store, lock: object_lock(state.storage(), alive.clone()), clock: WorkerClock }
    }

    /// The settings, or why they are missing or invalid (names only).
    pub fn settings_result(&self) -> &Result<Settings, SettingsError> {
        &self.settings
    }

    pub fn settings(&self) -> Option<&Settings> {
        self.settings.as_ref().ok()
    }

    /// Which settings are missing or invalid, for `/health`.
    pub fn config(&self) -> ConfigStatus {
        self.config.clone()
    }

    /// The state store; `Err` says which binding to declare.
    pub fn store(&self) -> Result<&ObjectState, String> {
        self.store.as_ref().map_err(Clone::clone)
    }

    /// The clients, store, lock and clock wired together, when the settings and the store are there.
    pub fn service(&self) -> Option<EdgeService<'_>> {
        Some(self.wire(self.settings()?, self.store().ok()?))
    }

    /// [`App::service`] once the caller holds the settings and the store.
    pub fn wire<'a>(&'a self, settings: &'a Settings, store: &'a ObjectState) -> EdgeService<'a> {
        Service { settings, transport: FetchTransport, store, lock: &self.lock, clock: &self.clock }
    }
}
