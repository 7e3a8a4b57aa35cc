//! The clock and run ids. `std::time::SystemTime` does not exist on `wasm32-unknown-unknown`, so
//! the time comes from the JavaScript `Date` of the Workers runtime.
use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch, as the runtime sees them.
pub fn now_millis() -> u64 {
    worker::Date::now().as_millis()
}

/// The current time (UTC). Falls back to the epoch only if the runtime's clock were out of range.
pub fn now() -> DateTime<Utc> {
    from_millis(now_millis())
}

/// A time given as milliseconds since the Unix epoch.
pub fn from_millis(millis: u64) -> DateTime<Utc> {
    i64::try_from(millis).ok().and_then(DateTime::<Utc>::from_timestamp_millis).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A run id that sorts by start time and is unique across isolates: `<millis hex>-<random hex>`.
pub fn new_run_id() -> String {
    let mut random = [0u8; 6];
    // A failing random source only makes the id less unique; the time part still orders it.
    if getrandom::fill(&mut random).is_err() {
        random = [0; 6];
    }
    format!("{:011x}-{}", now_millis(), hex::encode(random))
}
