//! In-memory fakes of the core's ports, with fault injection, for the native integration and
//! model tests (`tests/scenarios.rs`, `tests/model.rs`) and the benchmark.
//!
//! - [`sim`]: the simulated time shared by every fake, [`sim::FakeClock`], and [`sim::Faults`]
//!   (call counting against the run's `Budget`, injected failures and crashes, write counters).
//! - [`supabase::FakeSupabase`]: the `decision_vault` table with the migration's trigger semantics.
//! - [`notion::FakeNotion`]: the data source with Notion's behaviour where it matters.
//! - [`store::FakeState`], [`store::FakeLock`]: KV state and the Durable Object lease + intents.
//! - [`world::World`]: all of the above wired to the engine, plus the convergence checks.
//! - [`scale`]: many linked pairs seeded at once, and the counts of a full reconciliation.
#![allow(dead_code, unused_imports)]

pub mod notion;
pub mod scale;
pub mod sim;
pub mod store;
pub mod supabase;
pub mod world;

pub use notion::FakeNotion;
pub use sim::{FakeClock, Fault, Faults, Service, SimTime};
pub use store::{FakeLock, FakeState};
pub use supabase::FakeSupabase;
pub use world::World;

/// Runs a future to completion. The fakes never wait, so every future is ready when polled;
/// a future that stays pending is a bug in a fake (it would hang the real Worker too).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000_000 {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
    panic!("a future never completed: the fakes are synchronous, so something awaits forever");
}
