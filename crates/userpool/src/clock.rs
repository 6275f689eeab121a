//! Time is a parameter: the clock is read once per request (in `server`) and the instant is
//! passed down; nothing below reads the clock itself.

/// Milliseconds since the Unix epoch, read from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The UTC date and time of an instant (epoch ms), to the second; the epoch for one out of
/// `time`'s range (years -9999 to 9999).
pub fn utc(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Runs a CPU-heavy or blocking section without stalling the other tasks of a worker
/// (`block_in_place` on the multi-threaded runtime; inline on a current-thread one).
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
