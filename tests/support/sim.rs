//! Simulated time, the fake clock, and fault injection shared by both service fakes.
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use decision_sync::clients::notion::config::DEFAULT_MAX_RETRY_AFTER_MS;
use decision_sync::clients::notion::rate_limit_wait_too_long;
use decision_sync::core::budget::Budget;
use decision_sync::core::error::PortError;
use decision_sync::core::ports::Clock;

/// The one simulated "now" every fake reads. Cloning shares it.
#[derive(Debug, Clone)]
pub struct SimTime(Rc<Cell<DateTime<Utc>>>);

impl SimTime {
    pub fn new(start: DateTime<Utc>) -> Self {
        SimTime(Rc::new(Cell::new(start)))
    }
    pub fn starting_2025() -> Self {
        SimTime::new("2025-08-07T09:00:00Z".parse().expect("a valid start time"))
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.0.get()
    }
    pub fn advance(&self, by: Duration) {
        self.0.set(self.0.get() + by);
    }
    pub fn advance_secs(&self, seconds: i64) {
        self.advance(Duration::seconds(seconds));
    }
}

/// The engine's clock: reads the simulated time (which every external call advances a little,
/// so a run takes some seconds). `near_cpu_limit` can be switched on by tests.
#[derive(Debug, Clone)]
pub struct FakeClock {
    pub time: SimTime,
    pub cpu_limit: Rc<Cell<bool>>,
}

impl FakeClock {
    pub fn new(time: SimTime) -> Self {
        FakeClock { time, cpu_limit: Rc::new(Cell::new(false)) }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        self.time.now()
    }
    fn near_cpu_limit(&self) -> bool {
        self.cpu_limit.get()
    }
}

/// Which service a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Supabase,
    Notion,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Supabase => "supabase",
            Service::Notion => "notion",
        }
    }
}

/// What happens at an injected call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `PortError::Transient` before the request has any effect (e.g. 503, connection refused).
    Fail,
    /// The request takes effect but the answer is lost: `PortError::Transient` (e.g. a timeout).
    FailAfterEffect,
    /// The process dies before the request has any effect: `PortError::Crash`.
    Crash,
    /// The process dies after the request took effect, before the answer is seen.
    CrashAfterEffect,
    /// The service refuses this one record (a 4xx validation error): `PortError::Record`.
    Reject,
    /// A 429 whose `Retry-After` (seconds) is longer than one run waits, before any effect:
    /// `PortError::RateLimited`, as the Notion client reports it.
    RateLimited { retry_after_secs: u64 },
}

impl Fault {
    fn after_effect(self) -> bool {
        matches!(self, Fault::FailAfterEffect | Fault::CrashAfterEffect)
    }
    fn error(self, service: Service, what: &str) -> PortError {
        match self {
            Fault::Fail | Fault::FailAfterEffect => {
                PortError::transient(service.name(), format!("injected failure in {what}"))
            }
            Fault::Crash | Fault::CrashAfterEffect => {
                PortError::Crash { message: format!("injected crash in {} {what}", service.name()) }
            }
            Fault::Reject => PortError::record(service.name(), None, format!("injected validation error in {what}")),
            Fault::RateLimited { retry_after_secs } => rate_limit_wait_too_long(
                &format!("injected 429 in {what}"),
                retry_after_secs * 1000,
                DEFAULT_MAX_RETRY_AFTER_MS,
            ),
        }
    }
}

/// Counters of one service's calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Every request sent (reads and writes, failed ones included).
    pub calls: u64,
    /// Write requests sent (insert/update/create), whatever their outcome.
    pub write_calls: u64,
    /// Records actually changed by the sync's writes.
    pub records_written: u64,
}

#[derive(Debug)]
struct FaultsInner {
    budget: Option<Budget>,
    /// External calls made since the fakes were built (both services).
    calls: u64,
    schedule: BTreeMap<u64, Fault>,
    /// Faults at the n-th call of one operation (`"create_page"`, `"write_rows"`, …) from now.
    named: Vec<(&'static str, u64, Fault)>,
    counts: BTreeMap<Service, CallCounts>,
    /// Every n-th Notion request answers 429 once; the client retries it (one more subrequest).
    notion_429_every: Option<u64>,
    /// Simulated duration of one request.
    call_cost: Duration,
    log: Vec<String>,
    keep_log: bool,
}

/// A call in progress: carries an after-effect fault to raise once the effect is applied.
#[must_use]
pub struct Ticket {
    service: Service,
    what: &'static str,
    after: Option<Fault>,
}

/// Fault injection and call counting, shared by [`FakeSupabase`](super::FakeSupabase) and
/// [`FakeNotion`](super::FakeNotion). Cloning shares it.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Rc<RefCell<FaultsInner>>,
    time: SimTime,
}

impl Faults {
    pub fn new(time: SimTime) -> Self {
        Faults {
            inner: Rc::new(RefCell::new(FaultsInner {
                budget: None,
                calls: 0,
                schedule: BTreeMap::new(),
                named: Vec::new(),
                counts: BTreeMap::new(),
                notion_429_every: None,
                call_cost: Duration::milliseconds(150),
                log: Vec::new(),
                keep_log: false,
            })),
            time,
        }
    }

    /// The budget of the run about to start (the real clients hold a clone of it).
    pub fn set_budget(&self, budget: Option<Budget>) {
        self.inner.borrow_mut().budget = budget;
    }

    /// Makes the `k`-th external call from now (1 = the next one, either service) fail or crash.
    pub fn inject(&self, k: u64, fault: Fault) {
        let mut inner = self.inner.borrow_mut();
        let at = inner.calls + k.max(1);
        inner.schedule.insert(at, fault);
    }

    /// Makes the `n`-th call (1 = the next one) of one operation fail or crash, e.g.
    /// `inject_on("create_page", 1, Fault::CrashAfterEffect)`.
    pub fn inject_on(&self, what: &'static str, n: u64, fault: Fault) {
        self.inner.borrow_mut().named.push((what, n.max(1), fault));
    }

    /// Drops every injected fault that has not fired yet.
    pub fn clear(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.schedule.clear();
        inner.named.clear();
    }

    pub fn pending_faults(&self) -> usize {
        let inner = self.inner.borrow();
        inner.schedule.len() + inner.named.len()
    }

    /// Simulated duration of one request from now on (150 ms by default).
    pub fn set_call_cost(&self, cost: Duration) {
        self.inner.borrow_mut().call_cost = cost;
    }

    /// Every `n`-th Notion request gets a 429 first and is retried by the client.
    pub fn rate_limit_notion_every(&self, n: Option<u64>) {
        self.inner.borrow_mut().notion_429_every = n.filter(|n| *n > 0);
    }

    pub fn keep_log(&self, keep: bool) {
        self.inner.borrow_mut().keep_log = keep;
    }

    pub fn log(&self) -> Vec<String> {
        self.inner.borrow().log.clone()
    }

    /// External calls made so far (both services).
    pub fn calls(&self) -> u64 {
        self.inner.borrow().calls
    }

    pub fn counts(&self, service: Service) -> CallCounts {
        self.inner.borrow().counts.get(&service).copied().unwrap_or_default()
    }

    /// Write requests sent to either service so far.
    pub fn write_calls(&self) -> u64 {
        self.counts(Service::Supabase).write_calls + self.counts(Service::Notion).write_calls
    }

    /// Starts one request: takes the budget (like the real clients, one unit per HTTP attempt),
    /// advances the simulated time, counts it, and raises a before-effect fault.
    pub fn begin(&self, service: Service, what: &'static str, write: bool) -> Result<Ticket, PortError> {
        let mut inner = self.inner.borrow_mut();
        let budget = inner.budget.clone();
        let mut attempts = 1;
        if service == Service::Notion {
            if let Some(every) = inner.notion_429_every {
                let notion_calls = inner.counts.get(&service).map_or(0, |c| c.calls) + 1;
                if notion_calls.is_multiple_of(every) {
                    attempts = 2;
                }
            }
        }
        for _ in 0..attempts {
            if let Some(budget) = &budget {
                budget.take()?;
            }
            self.time.advance(inner.call_cost);
        }
        inner.calls += 1;
        let calls = inner.calls;
        let counts = inner.counts.entry(service).or_default();
        counts.calls += 1;
        if write {
            counts.write_calls += 1;
        }
        if inner.keep_log {
            inner.log.push(format!("#{calls} {} {what}", service.name()));
        }
        let mut named = None;
        for entry in inner.named.iter_mut().filter(|(name, _, _)| *name == what) {
            entry.1 -= 1;
            if entry.1 == 0 {
                named = Some(entry.2);
            }
        }
        inner.named.retain(|(_, left, _)| *left > 0);
        match inner.schedule.remove(&calls).or(named) {
            Some(fault) if fault.after_effect() => Ok(Ticket { service, what, after: Some(fault) }),
            Some(fault) => Err(fault.error(service, what)),
            None => Ok(Ticket { service, what, after: None }),
        }
    }

    /// Ends a request whose effect is applied: raises an after-effect fault, if one was set.
    pub fn end<T>(&self, ticket: Ticket, value: T) -> Result<T, PortError> {
        match ticket.after {
            Some(fault) => Err(fault.error(ticket.service, ticket.what)),
            None => Ok(value),
        }
    }

    /// Counts records changed by a sync write.
    pub fn wrote(&self, service: Service, records: u64) {
        self.inner.borrow_mut().counts.entry(service).or_default().records_written += records;
    }
}
