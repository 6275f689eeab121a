//! The load generator: `conns` keep-alive connections, each running one iteration after
//! another until the time or the count is used up. Bounded in both, loopback only.

use crate::client::Conn;
use hdrhistogram::Histogram;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub hist: Histogram<u64>,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn p50_ms(&self) -> f64 {
        self.hist.value_at_quantile(0.50) as f64 / 1000.0
    }
    pub fn p99_ms(&self) -> f64 {
        self.hist.value_at_quantile(0.99) as f64 / 1000.0
    }
}

/// The error text with which an iteration ends its connection's loop, uncounted (a
/// scenario whose supply of work ran out before the time did).
pub const STOP: &str = "\u{0}stop";

/// Runs `f(conn, i)` in a loop on `conns` connections, connection k to `addrs[k % n]` (the
/// nodes of a target). `f` returns the connection and `Ok(())` or the error text
/// ([`STOP`]: this connection stops, the iteration uncounted).
pub async fn run<F, Fut>(addrs: &[SocketAddr], conns: usize, duration: Duration, max: u64, f: F) -> Stats
where
    F: Fn(Conn, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = (Conn, Result<(), String>)> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for k in 0..conns {
        let addr = addrs[k % addrs.len()];
        let f = f.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let Ok(mut conn) = Conn::connect(addr).await else {
                return (hist, ok, 1, Some("connect failed".to_string()));
            };
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= max || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let (c, r) = f(conn, i).await;
                conn = c;
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
                match r {
                    Err(e) if e == STOP => break,
                    Ok(()) => {
                        ok += 1;
                        let _ = hist.record(us.min(60_000_000));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (hist, ok, errors, first_error)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    for t in tasks {
        if let Ok((h, o, e, fe)) = t.await {
            let _ = hist.add(&h);
            ok += o;
            errors += e;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    Stats {
        ok,
        errors,
        elapsed: start.elapsed(),
        hist,
        first_error,
    }
}

/// CPU seconds (user + system) and RSS of a process, from /proc.
pub fn proc_cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of a process and its children: its own, those of the children it has
/// waited for, and those of its children now running (the PostgreSQL server: the
/// postmaster, its backends, WAL writer and checkpointer).
pub fn tree_cpu_secs(pid: u32) -> f64 {
    let fields = |pid: u32| -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.split_whitespace().map(str::to_string).collect())
            })
            .unwrap_or_default()
    };
    let ticks = |f: &[String], i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let own = fields(pid);
    // utime, stime, cutime, cstime: 12 to 15 after the name.
    let mut total = ticks(&own, 11) + ticks(&own, 12) + ticks(&own, 13) + ticks(&own, 14);
    let parent = pid.to_string();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let f = fields(child);
            if f.get(1) == Some(&parent) {
                total += ticks(&f, 11) + ticks(&f, 12);
            }
        }
    }
    total / 100.0
}

/// The machine's CPU time so far, in clock ticks: (busy, all), over every core.
pub fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is within user).
    let all: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (all.saturating_sub(idle), all)
}

/// Resident set size in KiB (`VmRSS`) and its peak (`VmHWM`).
pub fn proc_rss_kib(pid: u32) -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (0, 0);
    };
    let get = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
