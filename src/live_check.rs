//! `POST /health/check` (admin token): a live schema check of both sides, at most once a minute.
//! Within a minute of the last check (a run's or this route's) the stored result is answered
//! without a request; otherwise both sides are checked and the result is saved for `/health`.
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clients::http::HttpTransport;
use crate::core::error::PortError;
use crate::core::ports::{Clock, RunLock, StateStore};
use crate::core::schema_check::live_check_interval;
use crate::health::{ConfigStatus, Health};
use crate::service::Service;

/// The answer of `POST /health/check`: the full `/health` report (internal URLs included), and
/// whether this call checked live.
#[derive(Debug, Clone, Serialize)]
pub struct LiveCheck {
    /// False when the last check was less than a minute ago: its result is repeated.
    pub live: bool,
    /// When the next live check may be made.
    pub next_live_check_after: DateTime<Utc>,
    #[serde(flatten)]
    pub health: Health,
}

/// The earliest time both sides' last checks allow a new live check.
fn next_allowed(health: &Health) -> Option<DateTime<Utc>> {
    let supabase = health.schema_checked.supabase.at?;
    let notion = health.schema_checked.notion.at?;
    Some(supabase.min(notion) + live_check_interval())
}

impl<'a, T, St, L, C> Service<'a, T, St, L, C>
where
    T: HttpTransport + Clone + 'static,
    St: StateStore,
    L: RunLock,
    C: Clock + Clone + 'static,
{
    /// Checks both schemas live unless both were checked in the last minute. `Err` when the
    /// saved state cannot be read (nothing is checked then: the result could not be kept).
    pub async fn check_now(&self, config: ConfigStatus) -> Result<LiveCheck, PortError> {
        let state = self.store.load().await?;
        let now = self.clock.now();
        if state.schema.fresh(now) {
            let health = self.report(&state, config);
            let next = next_allowed(&health).unwrap_or(now);
            return Ok(LiveCheck { live: false, next_live_check_after: next, health });
        }
        let schema = self.schema_status(state.data_source_id.as_deref()).await;
        let at = self.clock.now();
        // Read again just before writing: a run may have saved its state meanwhile.
        let mut state = self.store.load().await.unwrap_or(state);
        state.schema.record_supabase(schema.supabase, at);
        state.schema.record_notion(schema.notion, at);
        // Unsaved, the check is only repeated sooner; its result is answered all the same.
        let _ = self.store.save(&state).await;
        let health = self.report(&state, config);
        Ok(LiveCheck { live: true, next_live_check_after: at + live_check_interval(), health })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;

    use chrono::Duration;

    use super::*;
    use crate::clients::http::{HttpRequest, HttpResponse, TransportError};
    use crate::core::lease::{LockStatus, Renewal};
    use crate::core::ports::{CreateIntent, Lease};
    use crate::core::schema_check::SchemaCheck;
    use crate::core::state::{ConflictRecord, SyncState};
    use crate::settings::Settings;
    use crate::test_support::block_on as run;

    /// Counts every request; both services answer 503.
    #[derive(Clone, Default)]
    struct Counting(Rc<Cell<u32>>);

    impl HttpTransport for Counting {
        async fn send(&self, _: &HttpRequest) -> Result<HttpResponse, TransportError> {
            self.0.set(self.0.get() + 1);
            Ok(HttpResponse { status: 503, headers: vec![], body: r#"{"message":"down"}"#.into() })
        }
        async fn sleep(&self, _: u64) {}
        fn jitter(&self) -> f64 {
            0.0
        }
    }

    #[derive(Default)]
    struct Store(RefCell<SyncState>, Cell<u32>);

    impl StateStore for Store {
        async fn load(&self) -> Result<SyncState, PortError> {
            Ok(self.0.borrow().clone())
        }
        async fn save(&self, state: &SyncState) -> Result<(), PortError> {
            self.1.set(self.1.get() + 1);
            *self.0.borrow_mut() = state.clone();
            Ok(())
        }
        async fn save_conflicts(&self, _: &str, _: &[ConflictRecord]) -> Result<(), PortError> {
            unreachable!("health never keeps conflicts")
        }
        async fn conflicts(&self) -> Result<Vec<ConflictRecord>, PortError> {
            unreachable!("health never reads conflicts")
        }
    }

    /// Any use of the lock fails the test: health never takes the lease.
    struct NoLock;

    impl RunLock for NoLock {
        async fn acquire(&self, _: &str, _: &str, _: DateTime<Utc>, _: i64) -> Result<Lease, PortError> {
            unreachable!()
        }
        async fn renew(&self, _: &str, _: DateTime<Utc>, _: i64) -> Result<Renewal, PortError> {
            unreachable!()
        }
        async fn status(&self) -> Result<LockStatus, PortError> {
            unreachable!()
        }
        async fn release(&self, _: &str) -> Result<(), PortError> {
            unreachable!()
        }
        async fn record_intents(&self, _: &[CreateIntent]) -> Result<(), PortError> {
            unreachable!()
        }
        async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
            unreachable!()
        }
        async fn clear_intents(&self, _: &[String]) -> Result<(), PortError> {
            unreachable!()
        }
    }

    #[derive(Clone)]
    struct At(Rc<Cell<DateTime<Utc>>>);

    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0.get()
        }
    }

    fn settings() -> Settings {
        let vars: HashMap<&str, &str> = [
            ("SUPABASE_URL", "http://127.0.0.1:54321"),
            ("SUPABASE_SERVICE_ROLE_KEY", "sb_secret_abcdefghijkl"),
            ("NOTION_API_KEY", "ntn_secret_token_value"),
            ("NOTION_DATABASE_ID", "db1"),
            ("NOTION_API_BASE", "http://127.0.0.1:9999"),
            ("SYNC_MAX_RETRIES", "0"),
        ]
        .into_iter()
        .collect();
        Settings::from_lookup(|name| vars.get(name).map(|value| value.to_string())).unwrap()
    }

    fn configured() -> ConfigStatus {
        ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true }
    }

    #[test]
    fn health_makes_no_request_and_shows_the_stored_check_with_its_age() {
        let settings = settings();
        let transport = Counting::default();
        let store = Store::default();
        let now: DateTime<Utc> = "2025-08-07T09:00:00Z".parse().unwrap();
        store.0.borrow_mut().schema.record_notion(SchemaCheck::Ok, now - Duration::seconds(90));
        let clock = At(Rc::new(Cell::new(now)));
        let service =
            Service { settings: &settings, transport: transport.clone(), store: &store, lock: &NoLock, clock: &clock };
        for _ in 0..20 {
            let health = run(service.health(configured()));
            assert_eq!(health.schema.notion, SchemaCheck::Ok);
            assert_eq!(health.schema_checked.notion.age_seconds, Some(90));
            assert!(matches!(health.schema.supabase, SchemaCheck::NotChecked { .. }));
            assert_eq!(health.schema_checked.supabase.at, None);
        }
        assert_eq!(transport.0.get(), 0, "no request to Notion or Supabase");
        assert_eq!(store.1.get(), 0, "no state write");
    }

    #[test]
    fn the_live_check_runs_at_most_once_a_minute() {
        let settings = settings();
        let transport = Counting::default();
        let store = Store::default();
        let now: DateTime<Utc> = "2025-08-07T09:00:00Z".parse().unwrap();
        let clock = At(Rc::new(Cell::new(now)));
        let service =
            Service { settings: &settings, transport: transport.clone(), store: &store, lock: &NoLock, clock: &clock };
        let first = run(service.check_now(configured())).unwrap();
        assert!(first.live);
        let sent = transport.0.get();
        assert!(sent >= 2, "both sides were asked ({sent})");
        assert!(matches!(first.health.schema.supabase, SchemaCheck::Unreachable { .. }), "{:?}", first.health.schema);
        assert_eq!(first.health.schema_checked.notion.at, Some(now));
        assert_eq!(first.next_live_check_after, now + Duration::seconds(60));

        clock.0.set(now + Duration::seconds(59));
        let again = run(service.check_now(configured())).unwrap();
        assert!(!again.live);
        assert_eq!(transport.0.get(), sent, "no request within the minute");
        assert_eq!(again.health.schema.supabase, first.health.schema.supabase, "the stored result is answered");
        assert_eq!(run(service.health(configured())).schema.supabase, first.health.schema.supabase, "/health shows it");

        clock.0.set(now + Duration::seconds(61));
        assert!(run(service.check_now(configured())).unwrap().live);
        assert!(transport.0.get() > sent);
    }
}
