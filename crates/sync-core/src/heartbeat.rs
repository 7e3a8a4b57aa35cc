//! A run's side of the lease: renew it while working, and know when it was lost.
//!
//! [`LeaseKeeper::keep`] is called before each write (each bulk Supabase write, each Notion write,
//! the saving of the state). It asks the lock to renew only once a quarter of the TTL has passed
//! since the last renewal, so a run makes one extra lock call per 15 s of run time at the default
//! TTL (a free-plan run of 45 subrequests lasts about 15 s: zero to two). Lock calls are Durable
//! Object calls, not Supabase/Notion subrequests, and are not counted in the run's budget (the
//! other lock calls are not either). When the lock says another run holds the lease, `keep`
//! fails with [`PortError::LeaseLost`] and the run stops before that write, saves nothing and
//! leaves the create-intent journal to the run that holds the lease now. [`Renewing`] does the
//! same before each read, so a long read phase keeps the lease too. The rules behind it are in
//! [`crate::lease`].
use std::cell::{Cell, RefCell};

use chrono::{DateTime, Utc};

use crate::content::Content;
use crate::error::PortError;
use crate::lease::{renew_every_ms, renewal_grace_ms, Renewal};
use crate::mass_delete::LinkedCounts;
use crate::model::{Page, Row, RowCursor};
use crate::ports::{
    Clock, IdBatch, LinkedBatch, NewRow, NotionPort, PageBatch, PageQuery, PageWrite, RowBatch, RowWrite, RunLock,
    SupabasePort, WriteResult,
};

/// Renews one run's lease when due; remembers a loss.
#[derive(Debug)]
pub struct LeaseKeeper {
    run_id: String,
    ttl_seconds: i64,
    /// Start of the last successful renewal (or of the acquire).
    renewed_at: Cell<DateTime<Utc>>,
    lost: RefCell<Option<PortError>>,
    renewals: Cell<u32>,
    /// False for a dry run, which holds no lease: `keep` never calls the lock.
    active: bool,
}

impl LeaseKeeper {
    /// For a lease acquired at `acquired_at` (the time just before the acquire was sent).
    pub fn new(run_id: &str, ttl_seconds: i64, acquired_at: DateTime<Utc>) -> Self {
        LeaseKeeper {
            run_id: run_id.to_string(),
            ttl_seconds,
            renewed_at: Cell::new(acquired_at),
            lost: RefCell::new(None),
            renewals: Cell::new(0),
            active: true,
        }
    }

    /// For a run without a lease (a dry run): keeps nothing, never fails.
    pub fn without_lease(run_id: &str, now: DateTime<Utc>) -> Self {
        LeaseKeeper { active: false, ..LeaseKeeper::new(run_id, 0, now) }
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl_seconds).unwrap_or(0).saturating_mul(1000)
    }

    /// The error that ended the lease, once lost.
    pub fn lost(&self) -> Option<PortError> {
        self.lost.borrow().clone()
    }

    /// Renewals made so far.
    pub fn renewals(&self) -> u32 {
        self.renewals.get()
    }

    /// `Ok` when the run still holds its lease (renewing it if due); `Err(LeaseLost)` otherwise
    /// (and `Err(Crash)` when the process dies).
    pub async fn keep<L: RunLock, C: Clock>(&self, lock: &L, clock: &C) -> Result<(), PortError> {
        if !self.active {
            return Ok(());
        }
        if let Some(error) = self.lost() {
            return Err(error);
        }
        let now = clock.now();
        let silent_ms = u64::try_from((now - self.renewed_at.get()).num_milliseconds()).unwrap_or(0);
        if silent_ms < renew_every_ms(self.ttl_ms()) {
            return Ok(());
        }
        match lock.renew(&self.run_id, now, self.ttl_seconds).await {
            Ok(Renewal::Renewed) => {
                self.renewed_at.set(now);
                self.renewals.set(self.renewals.get() + 1);
                Ok(())
            }
            Ok(Renewal::Lost { holder }) => Err(self.lose(self.lost_message(holder.as_deref(), silent_ms))),
            Err(error @ PortError::Crash { .. }) => Err(error),
            // Nobody can take the lease before its TTL of silence: try again at the next write.
            Err(_) if silent_ms < renewal_grace_ms(self.ttl_ms()) => Ok(()),
            Err(error) => Err(self.lose(format!(
                "run {} could not renew its lease for {} s ({error}); it stopped before its next write so that no other run overlaps it; the next run continues",
                self.run_id,
                silent_ms / 1000
            ))),
        }
    }

    fn lose(&self, message: String) -> PortError {
        let error = PortError::LeaseLost { message };
        *self.lost.borrow_mut() = Some(error.clone());
        error
    }

    fn lost_message(&self, holder: Option<&str>, silent_ms: u64) -> String {
        let by = match holder {
            Some(holder) => format!("run {holder} holds it now"),
            None => "the lock no longer names it".to_string(),
        };
        format!(
            "run {} lost its lease after {} s without a renewal ({by}; SYNC_LEASE_TTL_SECONDS is {} s); it stopped before its next write",
            self.run_id,
            silent_ms / 1000,
            self.ttl_seconds
        )
    }
}

/// A port whose every call first keeps the run's lease (renewing it when due): wraps the ports
/// the reader uses, so a long read phase (a paid plan's budget, `Retry-After` waits) renews the
/// lease too. A lost lease makes the call fail with [`PortError::LeaseLost`], which ends the read.
pub struct Renewing<'a, P, L, C> {
    pub inner: &'a P,
    pub keeper: &'a LeaseKeeper,
    pub lock: &'a L,
    pub clock: &'a C,
}

impl<P, L: RunLock, C: Clock> Renewing<'_, P, L, C> {
    async fn keep(&self) -> Result<(), PortError> {
        self.keeper.keep(self.lock, self.clock).await
    }
}

impl<P: SupabasePort, L: RunLock, C: Clock> SupabasePort for Renewing<'_, P, L, C> {
    async fn check_schema(&self) -> Result<(), PortError> {
        self.keep().await?;
        self.inner.check_schema().await
    }
    async fn rows_changed_after(&self, after: Option<&RowCursor>, limit: usize) -> Result<Vec<Row>, PortError> {
        self.keep().await?;
        self.inner.rows_changed_after(after, limit).await
    }
    async fn unlinked_rows(&self, after: Option<&RowCursor>, limit: usize) -> Result<RowBatch, PortError> {
        self.keep().await?;
        self.inner.unlinked_rows(after, limit).await
    }
    async fn rows_by_page_ids(&self, page_ids: &[String]) -> Result<Vec<Row>, PortError> {
        self.keep().await?;
        self.inner.rows_by_page_ids(page_ids).await
    }
    async fn insert_rows(&self, rows: &[NewRow]) -> Result<Vec<Row>, PortError> {
        self.keep().await?;
        self.inner.insert_rows(rows).await
    }
    async fn write_rows(&self, writes: &[RowWrite]) -> Result<Vec<WriteResult>, PortError> {
        self.keep().await?;
        self.inner.write_rows(writes).await
    }
    async fn count_unlinked(&self) -> Result<u32, PortError> {
        self.inner.count_unlinked().await
    }
    async fn count_linked(&self) -> Result<LinkedCounts, PortError> {
        self.keep().await?;
        self.inner.count_linked().await
    }
    async fn linked_page_ids(&self, after: Option<&str>, limit: usize) -> Result<LinkedBatch, PortError> {
        self.keep().await?;
        self.inner.linked_page_ids(after, limit).await
    }
    fn schema_warning(&self) -> Option<String> {
        self.inner.schema_warning()
    }
}

impl<P: NotionPort, L: RunLock, C: Clock> NotionPort for Renewing<'_, P, L, C> {
    async fn check_schema(&self) -> Result<(), PortError> {
        self.keep().await?;
        self.inner.check_schema().await
    }
    async fn query(&self, query: &PageQuery, cursor: Option<&str>) -> Result<PageBatch, PortError> {
        self.keep().await?;
        self.inner.query(query, cursor).await
    }
    async fn live_page_ids(&self, from: Option<DateTime<Utc>>, cursor: Option<&str>) -> Result<IdBatch, PortError> {
        self.keep().await?;
        self.inner.live_page_ids(from, cursor).await
    }
    async fn get_page(&self, page_id: &str) -> Result<Option<Page>, PortError> {
        self.keep().await?;
        self.inner.get_page(page_id).await
    }
    async fn create_page(&self, content: &Content, base: &str) -> Result<Page, PortError> {
        self.keep().await?;
        self.inner.create_page(content, base).await
    }
    async fn update_page(&self, page_id: &str, write: &PageWrite) -> Result<Page, PortError> {
        self.keep().await?;
        self.inner.update_page(page_id, write).await
    }
    fn data_source_id(&self) -> Option<String> {
        self.inner.data_source_id()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::lease::LockStatus;
    use crate::ports::{CreateIntent, Lease};

    /// Answers every renewal with `answer`, counting them.
    struct Lock {
        answer: RefCell<Result<Renewal, PortError>>,
        renewals: Cell<u32>,
    }

    impl RunLock for Lock {
        async fn acquire(&self, _: &str, _: &str, _: DateTime<Utc>, _: i64) -> Result<Lease, PortError> {
            Ok(Lease::Acquired)
        }
        async fn renew(&self, _: &str, _: DateTime<Utc>, _: i64) -> Result<Renewal, PortError> {
            self.renewals.set(self.renewals.get() + 1);
            self.answer.borrow().clone()
        }
        async fn release(&self, _: &str) -> Result<(), PortError> {
            Ok(())
        }
        async fn status(&self) -> Result<LockStatus, PortError> {
            Ok(LockStatus::default())
        }
        async fn record_intents(&self, _: &[CreateIntent]) -> Result<(), PortError> {
            Ok(())
        }
        async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
            Ok(Vec::new())
        }
        async fn clear_intents(&self, _: &[String]) -> Result<(), PortError> {
            Ok(())
        }
    }

    struct At(Cell<DateTime<Utc>>);

    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0.get()
        }
    }

    fn ready<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the test lock never waits"),
        }
    }

    fn setup(answer: Result<Renewal, PortError>) -> (LeaseKeeper, Lock, At) {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let lock = Lock { answer: RefCell::new(answer), renewals: Cell::new(0) };
        (LeaseKeeper::new("run-1", 60, start), lock, At(Cell::new(start)))
    }

    fn advance(clock: &At, seconds: i64) {
        clock.0.set(clock.0.get() + Duration::seconds(seconds));
    }

    #[test]
    fn renews_once_a_quarter_of_the_ttl_has_passed() {
        let (keeper, lock, clock) = setup(Ok(Renewal::Renewed));
        advance(&clock, 14);
        assert_eq!(ready(keeper.keep(&lock, &clock)), Ok(()));
        assert_eq!(lock.renewals.get(), 0, "no lock call within 15 s of the acquire");
        advance(&clock, 1);
        assert_eq!(ready(keeper.keep(&lock, &clock)), Ok(()));
        advance(&clock, 10);
        assert_eq!(ready(keeper.keep(&lock, &clock)), Ok(()));
        assert_eq!((lock.renewals.get(), keeper.renewals()), (1, 1), "the next one is due 15 s after the renewal");
    }

    #[test]
    fn a_lease_held_by_another_run_is_lost_for_good() {
        let (keeper, lock, clock) = setup(Ok(Renewal::Lost { holder: Some("run-2".into()) }));
        advance(&clock, 40);
        let Err(PortError::LeaseLost { message }) = ready(keeper.keep(&lock, &clock)) else { panic!("not lost") };
        assert_eq!(message, "run run-1 lost its lease after 40 s without a renewal (run run-2 holds it now; SYNC_LEASE_TTL_SECONDS is 60 s); it stopped before its next write");
        *lock.answer.borrow_mut() = Ok(Renewal::Renewed);
        assert!(matches!(ready(keeper.keep(&lock, &clock)), Err(PortError::LeaseLost { .. })));
        assert_eq!(lock.renewals.get(), 1, "no further lock call once lost");
        assert!(keeper.lost().is_some());
    }

    #[test]
    fn an_unreachable_lock_is_tolerated_until_half_the_ttl_has_passed() {
        let (keeper, lock, clock) = setup(Err(PortError::transient("SyncLock Durable Object", "timeout")));
        advance(&clock, 20);
        assert_eq!(ready(keeper.keep(&lock, &clock)), Ok(()), "nobody can take it before 30 s");
        advance(&clock, 10);
        let Err(PortError::LeaseLost { message }) = ready(keeper.keep(&lock, &clock)) else { panic!("not lost") };
        assert!(message.contains("could not renew its lease for 30 s"), "{message}");
    }
}
