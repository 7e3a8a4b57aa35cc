//! The per-invocation budget of external subrequests, shared by every client of one run.
use std::cell::Cell;
use std::rc::Rc;

use crate::error::PortError;

/// Counts external subrequests (every HTTP attempt, retries included) against a limit.
/// Cloning shares the same counter.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: u32,
    used: Rc<Cell<u32>>,
}

impl Budget {
    pub fn new(limit: u32) -> Self {
        Budget { limit, used: Rc::new(Cell::new(0)) }
    }
    /// A budget that never runs out (native tools, benchmarks).
    pub fn unlimited() -> Self {
        Budget::new(u32::MAX)
    }
    /// Takes one subrequest, or fails with `BudgetExhausted` when none is left.
    pub fn take(&self) -> Result<(), PortError> {
        if self.used.get() >= self.limit {
            return Err(PortError::BudgetExhausted { limit: self.limit });
        }
        self.used.set(self.used.get() + 1);
        Ok(())
    }
    pub fn used(&self) -> u32 {
        self.used.get()
    }
    pub fn limit(&self) -> u32 {
        self.limit
    }
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_counter_and_the_limit_holds() {
        let a = Budget::new(2);
        let b = a.clone();
        assert!(a.take().is_ok());
        assert!(b.take().is_ok());
        assert_eq!(a.take(), Err(PortError::BudgetExhausted { limit: 2 }));
        assert_eq!((b.used(), b.remaining()), (2, 0));
    }
}
