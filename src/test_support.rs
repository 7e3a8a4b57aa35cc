//! Test plumbing shared by the crate's unit tests (compiled only for `cargo test`).
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Runs a future whose awaits never pend: the fakes and scripted transports of the unit tests
/// answer at once. A future that pends is a bug in the test, reported as a panic, not a hang.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a unit test's future pended: its fakes must answer at once"),
    }
}
