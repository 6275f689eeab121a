//! Time is a parameter: the clock is read once per request (in `server`) and the instant is
//! passed down; nothing below reads the clock itself.

/// Milliseconds since the Unix epoch, read from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
