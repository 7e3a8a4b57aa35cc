//! The core's [`Clock`] on the Workers runtime: `Date.now()` and the CPU-limit signal.
use chrono::{DateTime, Utc};

use crate::core::ports::Clock;

#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> DateTime<Utc> {
        super::time::now()
    }

    fn near_cpu_limit(&self) -> bool {
        worker::signal::is_near_cpu_limit()
    }
}
