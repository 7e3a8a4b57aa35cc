//! Duplicate deliveries: Notion delivers at least once (retries up to 8 attempts) and Supabase's
//! pg_net may too. A replayed delivery verifies like the original, so recognising it is the
//! caller's job; [`RecentIds`] remembers the last N event ids in bounded memory.
use std::collections::{HashSet, VecDeque};

/// The most recent `capacity` ids seen, oldest forgotten first.
#[derive(Debug, Clone)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl RecentIds {
    /// A memory of at most `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> RecentIds {
        let capacity = capacity.max(1);
        RecentIds { capacity, order: VecDeque::with_capacity(capacity), seen: HashSet::with_capacity(capacity) }
    }

    /// True the first time `id` is offered (and remembers it); false while it is remembered.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        true
    }

    /// How many ids are remembered (never more than the capacity).
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The remembered ids, oldest first (to persist them; [`RecentIds::from_ids`] reads them back).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// A memory holding `ids` (oldest first), keeping only the newest `capacity`.
    pub fn from_ids<'a>(capacity: usize, ids: impl IntoIterator<Item = &'a str>) -> RecentIds {
        let mut recent = RecentIds::new(capacity);
        for id in ids {
            recent.first_time(id);
        }
        recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_id_is_recognised() {
        let mut recent = RecentIds::new(4);
        assert!(recent.first_time("evt-1"));
        assert!(!recent.first_time("evt-1"));
        assert!(recent.first_time("evt-2"));
        assert!(!recent.first_time("evt-1"));
        assert_eq!(recent.len(), 2);
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let mut recent = RecentIds::new(3);
        for i in 0..1000 {
            assert!(recent.first_time(&format!("evt-{i}")));
            assert!(recent.len() <= 3);
        }
        assert_eq!(recent.ids().collect::<Vec<_>>(), ["evt-997", "evt-998", "evt-999"]);
        assert!(!recent.first_time("evt-999"));
        // Forgotten: a very late replay is offered again (the three-way rules make it harmless).
        assert!(recent.first_time("evt-0"));
        assert_eq!(recent.len(), 3);
    }

    #[test]
    fn a_repeated_id_does_not_push_others_out() {
        let mut recent = RecentIds::new(2);
        assert!(recent.first_time("a"));
        assert!(recent.first_time("b"));
        for _ in 0..10 {
            assert!(!recent.first_time("b"));
        }
        assert!(!recent.first_time("a"), "duplicates must not evict the ids still remembered");
    }

    #[test]
    fn round_trips_through_its_ids() {
        let mut recent = RecentIds::new(2);
        recent.first_time("a");
        recent.first_time("b");
        recent.first_time("c");
        let mut restored = RecentIds::from_ids(2, recent.ids());
        assert!(!restored.first_time("b"));
        assert!(!restored.first_time("c"));
        assert!(restored.first_time("a"));
        assert_eq!(RecentIds::new(0).capacity, 1);
    }
}
