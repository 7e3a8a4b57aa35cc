//! The subscription and its delivery queue, shared by the API handlers (which [`Hub::emit`]
//! changes, never waiting for a delivery) and one background thread (which delivers).
//!
//! Life of an event: a change of a page enters the aggregation window of its page (events that
//! aggregate) or the queue at once; when its window ends it is queued, unless `drop_next` loses
//! it or the queue is full; the thread takes every due delivery (shuffled with `reorder`), POSTs
//! it (twice with `duplicate`), and on failure queues the next attempt after a doubling delay
//! until `max_attempts`. Replacing the subscription, or `/__admin/reset`, discards what is queued.

use super::event::{Author, Change, Envelope, Event};
use super::options::{DeliveryOptions, SubscriptionSpec};
use super::send::{self, Outcome};
use super::stats::{Attempt, Stats};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest wait between retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3_600);

/// Handle to the webhook machinery (cheap to clone; every clone is the same hub).
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

struct Subscription {
    id: String,
    url: String,
    token: String,
    options: DeliveryOptions,
}

enum Payload {
    Verification,
    Event(Event),
}

struct Delivery {
    payload: Payload,
    attempt: u32,
    due: Instant,
}

/// What the workspace looks like in payloads.
struct Identity {
    workspace_id: String,
    workspace_name: String,
    integration_id: String,
    accessible_by: Vec<Author>,
}

struct State {
    identity: Identity,
    subscription: Option<Subscription>,
    /// `page.properties_updated` (and content) events waiting for their window to end.
    aggregating: Vec<(Instant, Event)>,
    queue: VecDeque<Delivery>,
    in_flight: usize,
    /// Bumped when the subscription changes or the hub is reset: older attempts are forgotten.
    generation: u64,
    stats: Stats,
    stopping: bool,
    thread_started: bool,
}

/// A delivery taken by the thread, with everything it needs outside the lock.
struct Ready {
    delivery: Delivery,
    url: String,
    /// The signing key (`None` for the unsigned verification request).
    token: Option<String>,
    body: Vec<u8>,
    copies: u32,
    timeout: Duration,
    generation: u64,
}

impl Hub {
    /// A hub without a subscription. `bot_user_id` / `human_user_id` fill `accessible_by`.
    pub fn new(bot_user_id: &str, human_user_id: &str) -> Hub {
        let identity = Identity {
            workspace_id: uuid::Uuid::new_v4().to_string(),
            workspace_name: "Notion Emulator Workspace".to_string(),
            integration_id: uuid::Uuid::new_v4().to_string(),
            accessible_by: vec![Author::bot(bot_user_id), Author::person(human_user_id)],
        };
        let state = State {
            identity,
            subscription: None,
            aggregating: Vec::new(),
            queue: VecDeque::new(),
            in_flight: 0,
            generation: 0,
            stats: Stats::default(),
            stopping: false,
            thread_started: false,
        };
        Hub { shared: Arc::new(Shared { state: Mutex::new(state), wake: Condvar::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Creates (or replaces) the subscription and queues the verification request first.
    pub fn subscribe(&self, spec: SubscriptionSpec) -> Value {
        let mut st = self.lock();
        st.discard_queued();
        st.stats = Stats { verification: "pending", ..Stats::default() };
        let token = spec.verification_token.unwrap_or_else(random_token);
        st.subscription =
            Some(Subscription { id: uuid::Uuid::new_v4().to_string(), url: spec.url, token, options: spec.options });
        st.queue.push_front(Delivery { payload: Payload::Verification, attempt: 1, due: Instant::now() });
        self.ensure_thread(&mut st);
        self.shared.wake.notify_all();
        st.subscription_json()
    }

    /// Removes the subscription (queued events are discarded). False when there was none.
    pub fn unsubscribe(&self) -> bool {
        let mut st = self.lock();
        st.discard_queued();
        st.subscription.take().is_some()
    }

    /// Changes delivery options of the current subscription (no new verification request).
    pub fn update_options(&self, body: &Value) -> Result<Value, String> {
        let mut st = self.lock();
        let sub = st.subscription.as_mut().ok_or("no webhook subscription: POST /__admin/webhooks first")?;
        sub.options = sub.options.patch_from_json(body)?;
        self.shared.wake.notify_all();
        Ok(st.subscription_json())
    }

    /// `{"subscription": {...} | null, "stats": {...}}`.
    pub fn to_json(&self) -> Value {
        let st = self.lock();
        json!({"subscription": st.subscription_json(), "stats": st.stats.to_json(st.pending())})
    }

    pub fn stats(&self) -> Value {
        let st = self.lock();
        st.stats.to_json(st.pending())
    }

    /// Events waiting: in an aggregation window, queued or being delivered.
    pub fn pending(&self) -> usize {
        self.lock().pending()
    }

    pub fn reset_stats(&self) {
        let mut st = self.lock();
        let verification = st.stats.verification;
        st.stats = Stats { verification, ..Stats::default() };
    }

    /// `/__admin/reset`: queued events and counters go, the subscription stays.
    pub fn reset(&self) {
        let mut st = self.lock();
        st.discard_queued();
        let verification = st.stats.verification;
        st.stats = Stats { verification, ..Stats::default() };
    }

    /// Ends every aggregation window now.
    pub fn flush(&self) {
        let mut st = self.lock();
        let now = Instant::now();
        for (due, _) in &mut st.aggregating {
            *due = now;
        }
        self.shared.wake.notify_all();
    }

    /// Records a change; returns at once (delivery happens on the hub's thread).
    pub fn emit(&self, change: Change) {
        let mut st = self.lock();
        let Some(window) = st.subscription.as_ref().map(|s| s.options.aggregation_ms) else {
            return;
        };
        if change.kind.aggregates() && window > 0 {
            st.aggregate(change, Duration::from_millis(window));
        } else {
            st.enqueue(Event::new(change));
        }
        self.shared.wake.notify_all();
    }

    /// Stops the delivery thread (after the attempt in progress, if any).
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.shared.wake.notify_all();
    }

    fn ensure_thread(&self, st: &mut State) {
        if st.thread_started || st.stopping {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new().name("notion-webhooks".into()).spawn(move || shared.run());
        st.thread_started = spawned.is_ok();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The delivery thread.
    fn run(&self) {
        while let Some(batch) = self.next_batch() {
            for ready in batch {
                let outcome = deliver(&ready);
                self.lock().finish(ready, &outcome);
            }
        }
    }

    /// Waits for due deliveries; `None` once the hub is stopped.
    fn next_batch(&self) -> Option<Vec<Ready>> {
        let mut st = self.lock();
        loop {
            if st.stopping {
                return None;
            }
            let now = Instant::now();
            st.close_windows(now);
            let ready = st.take_due(now);
            if !ready.is_empty() {
                return Some(ready);
            }
            let wait = st.next_due().map_or(Duration::from_secs(60), |due| due.saturating_duration_since(now));
            st = match self.wake.wait_timeout(st, wait.max(Duration::from_millis(1))) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// Sends one delivery (`copies` times); a success of any copy counts.
fn deliver(ready: &Ready) -> Vec<Outcome> {
    (0..ready.copies).map(|_| send::post(&ready.url, &ready.body, ready.token.as_deref(), ready.timeout)).collect()
}

impl State {
    fn pending(&self) -> usize {
        self.aggregating.len()
            + self.queue.iter().filter(|d| matches!(d.payload, Payload::Event(_))).count()
            + self.in_flight
    }

    fn discard_queued(&mut self) {
        self.aggregating.clear();
        self.queue.clear();
        self.in_flight = 0;
        self.generation += 1;
    }

    fn subscription_json(&self) -> Value {
        match &self.subscription {
            None => Value::Null,
            Some(s) => json!({
                "id": s.id,
                "url": s.url,
                "verification_token": s.token,
                "workspace_id": self.identity.workspace_id,
                "integration_id": self.identity.integration_id,
                "options": s.options.to_json(),
            }),
        }
    }

    fn envelope(&self, sub: &Subscription) -> Envelope {
        Envelope {
            workspace_id: self.identity.workspace_id.clone(),
            workspace_name: self.identity.workspace_name.clone(),
            subscription_id: sub.id.clone(),
            integration_id: self.identity.integration_id.clone(),
            accessible_by: self.identity.accessible_by.clone(),
            api_version: sub.options.api_version.clone(),
        }
    }

    fn aggregate(&mut self, change: Change, window: Duration) {
        let open = self.aggregating.iter_mut().find(|(_, e)| e.entity_id == change.entity_id && e.kind == change.kind);
        match open {
            Some((_, event)) => {
                event.absorb(change);
                self.stats.aggregated += 1;
            }
            None => self.aggregating.push((Instant::now() + window, Event::new(change))),
        }
    }

    /// Queues events whose aggregation window has ended.
    fn close_windows(&mut self, now: Instant) {
        let (due, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.aggregating).into_iter().partition(|(d, _)| *d <= now);
        self.aggregating = waiting;
        for (_, event) in due {
            self.enqueue(event);
        }
    }

    /// An event leaves aggregation: lost (`drop_next`, full queue) or queued.
    fn enqueue(&mut self, event: Event) {
        let Some(sub) = self.subscription.as_mut() else {
            return;
        };
        self.stats.emitted += 1;
        if sub.options.drop_next > 0 {
            sub.options.drop_next -= 1;
            self.stats.dropped += 1;
            return;
        }
        if self.queue.len() >= sub.options.queue_capacity {
            self.stats.overflowed += 1;
            return;
        }
        self.queue.push_back(Delivery { payload: Payload::Event(event), attempt: 1, due: Instant::now() });
    }

    fn next_due(&self) -> Option<Instant> {
        let queued = self.queue.iter().map(|d| d.due);
        queued.chain(self.aggregating.iter().map(|(d, _)| *d)).min()
    }

    /// Takes every due delivery, rendered; events shuffled with `reorder`, the verification
    /// request always first.
    fn take_due(&mut self, now: Instant) -> Vec<Ready> {
        let Some(sub) = self.subscription.as_ref() else {
            self.queue.clear();
            return Vec::new();
        };
        let (due, later): (VecDeque<_>, VecDeque<_>) =
            std::mem::take(&mut self.queue).into_iter().partition(|d| d.due <= now);
        self.queue = later;
        let mut due: Vec<Delivery> = due.into_iter().collect();
        if sub.options.reorder {
            shuffle(&mut due);
        }
        due.sort_by_key(|d| !matches!(d.payload, Payload::Verification));
        let envelope = self.envelope(sub);
        let ready: Vec<Ready> = due.into_iter().map(|d| render(d, sub, &envelope, self.generation)).collect();
        self.in_flight += ready.iter().filter(|r| matches!(r.delivery.payload, Payload::Event(_))).count();
        ready
    }

    /// Records what an attempt gave and schedules the next one if it failed.
    fn finish(&mut self, ready: Ready, outcomes: &[Outcome]) {
        if ready.generation != self.generation {
            return; // the subscription changed (or the hub was reset) meanwhile
        }
        let is_event = matches!(ready.delivery.payload, Payload::Event(_));
        if is_event {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        self.log(&ready, outcomes);
        let successes = outcomes.iter().filter(|o| o.is_success()).count() as u64;
        self.stats.sent += successes;
        self.stats.duplicated += outcomes.len().saturating_sub(1) as u64;
        self.stats.attempts_failed += outcomes.len() as u64 - successes;
        if successes > 0 {
            self.delivered(is_event);
        } else {
            self.retry_or_give_up(ready.delivery, is_event);
        }
    }

    fn delivered(&mut self, is_event: bool) {
        self.stats.delivered += u64::from(is_event);
        if !is_event {
            self.stats.verification = "delivered";
        }
    }

    fn retry_or_give_up(&mut self, mut delivery: Delivery, is_event: bool) {
        let Some(options) = self.subscription.as_ref().map(|s| &s.options) else {
            return;
        };
        if options.retry && delivery.attempt < options.max_attempts {
            let delay = retry_delay(options.retry_base_ms, delivery.attempt);
            delivery.attempt += 1;
            delivery.due = Instant::now() + delay;
            self.stats.retried += 1;
            self.queue.push_back(delivery);
        } else if is_event {
            self.stats.failed += 1;
        } else {
            self.stats.verification = "failed";
        }
    }

    fn log(&mut self, ready: &Ready, outcomes: &[Outcome]) {
        let event = match &ready.delivery.payload {
            Payload::Event(e) => Some(e),
            Payload::Verification => None,
        };
        for outcome in outcomes {
            self.stats.log(Attempt {
                event_id: event.map(|e| e.id.as_str()),
                kind: event.map_or("verification", |e| e.kind.as_str()),
                entity_id: event.map(|e| e.entity_id.as_str()),
                attempt: ready.delivery.attempt,
                status: outcome.status(),
                error: outcome.error(),
            });
        }
    }
}

fn render(delivery: Delivery, sub: &Subscription, envelope: &Envelope, generation: u64) -> Ready {
    let (body, token, copies) = match &delivery.payload {
        Payload::Verification => (json!({"verification_token": sub.token}), None, 1),
        Payload::Event(e) => {
            let copies = if sub.options.duplicate { 2 } else { 1 };
            (e.to_json(envelope, delivery.attempt), Some(sub.token.clone()), copies)
        }
    };
    Ready {
        delivery,
        url: sub.url.clone(),
        token,
        body: body.to_string().into_bytes(),
        copies,
        timeout: Duration::from_millis(sub.options.timeout_ms),
        generation,
    }
}

/// `base`, `2 × base`, `4 × base`, … after attempts 1, 2, 3, …
pub fn retry_delay(base_ms: u64, attempt: u32) -> Duration {
    let factor = 1u64.checked_shl(attempt.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_millis(base_ms.saturating_mul(factor)).min(MAX_RETRY_DELAY)
}

/// `secret_` and 43 random alphanumerics, like the tokens Notion sends.
fn random_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("secret_{a}{}", &b[..11])
}

/// Random order (by random keys: the crate has no RNG of its own).
fn shuffle<T>(items: &mut Vec<T>) {
    let mut keyed: Vec<(u128, T)> = items.drain(..).map(|t| (uuid::Uuid::new_v4().as_u128(), t)).collect();
    keyed.sort_by_key(|(k, _)| *k);
    items.extend(keyed.into_iter().map(|(_, t)| t));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double() {
        let ms: Vec<u128> = (1..=4).map(|a| retry_delay(500, a).as_millis()).collect();
        assert_eq!(ms, [500, 1_000, 2_000, 4_000]);
        assert_eq!(retry_delay(500, 200), MAX_RETRY_DELAY);
    }

    #[test]
    fn tokens_look_like_notions() {
        let t = random_token();
        assert!(t.starts_with("secret_") && t.len() == 50, "{t}");
        assert_ne!(t, random_token());
    }
}
