//! The PostgreSQL server behind the `userpool-pg` targets (`--postgres URL`, a database
//! on it to connect to, e.g. `postgres`): a fresh database per target and scenario, the
//! server's counters around a measurement (its CPU, write transactions, WAL), and a
//! sampler of what the target's backends are doing (on CPU, waiting for the WAL flush of
//! a commit, for a row lock, ...), so the report can name what bounds a figure.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub struct Server {
    url: String,
    client: Arc<Client>,
    /// The postmaster's pid when the server runs on this machine (its CPU is read from
    /// /proc, summed with its children's: backends, WAL writer, checkpointer).
    postmaster: Option<u32>,
    /// "PostgreSQL 15.18, fsync on, synchronous_commit on".
    pub describe: String,
}

/// The server's counters at one moment.
pub struct Counters {
    cpu: f64,
    xid: i64,
    wal: i64,
}

/// What the server did between two [`Counters`], with the sampled backend states.
pub struct Use {
    pub cpu: f64,
    /// Write transactions (transaction ids assigned): commits, and the rare rollback.
    pub commits: u64,
    pub wal_bytes: u64,
    pub waits: Waits,
}

/// Samples of the target database's client backends, by state: "on CPU", "WAL flush",
/// "row lock", ..., "waiting for userpool" (in a transaction, between statements), and
/// how many sampling rounds there were.
#[derive(Default)]
pub struct Waits {
    pub rounds: u64,
    pub by_state: BTreeMap<String, u64>,
}

impl Waits {
    /// The busy states (all but idle), most frequent first, as shares of the busy samples.
    pub fn busy_shares(&self) -> Vec<(String, f64)> {
        let total: u64 = self.by_state.values().sum();
        let mut v: Vec<(String, f64)> = self
            .by_state
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.clone(), *n as f64 / total.max(1) as f64))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    /// Backends busy on average (not idle): the work in PostgreSQL at any moment.
    pub fn mean_busy(&self) -> f64 {
        self.by_state.values().sum::<u64>() as f64 / self.rounds.max(1) as f64
    }
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("--postgres {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// `url` with its database replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let query = url.find('?').unwrap_or(url.len());
    let path = url[scheme_end..query].find('/').map_or(query, |i| scheme_end + i);
    format!("{}/{db}{}", &url[..path], &url[query..])
}

impl Server {
    pub async fn connect(url: &str) -> Server {
        let client = connect(url).await;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), current_setting('fsync'), \
                 current_setting('synchronous_commit'), pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        let describe = format!(
            "PostgreSQL {}, fsync {}, synchronous_commit {}",
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2)
        );
        // The backend's parent is the postmaster, if the server is on this machine.
        let backend = u32::try_from(row.get::<_, i32>(3)).unwrap_or(0);
        let postmaster = std::fs::read_to_string(format!("/proc/{backend}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok())
            })
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim().starts_with("postgres"))
            });
        Server {
            url: url.to_string(),
            client: Arc::new(client),
            postmaster,
            describe,
        }
    }

    /// A fresh, empty database: its name and URL.
    pub async fn create_db(&self) -> (String, String) {
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        self.client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = with_db(&self.url, &name);
        (name, url)
    }

    /// Drops a database of [`Server::create_db`] (its nodes stopped).
    pub async fn drop_db(&self, name: &str) {
        let _ = self
            .client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }

    /// Writes the dirty pages out now, so a measurement does not pay for its set-up's.
    pub async fn checkpoint(&self) {
        let _ = self.client.batch_execute("CHECKPOINT").await;
    }

    pub fn has_cpu(&self) -> bool {
        self.postmaster.is_some()
    }

    pub async fn counters(&self) -> Counters {
        let row = self
            .client
            .query_one(
                "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                 pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
                &[],
            )
            .await
            .unwrap();
        Counters {
            cpu: self.postmaster.map_or(0.0, crate::load::tree_cpu_secs),
            xid: row.get(0),
            wal: row.get(1),
        }
    }

    pub fn since(&self, before: &Counters, after: &Counters, waits: Waits) -> Use {
        Use {
            cpu: after.cpu - before.cpu,
            commits: u64::try_from(after.xid - before.xid).unwrap_or(0),
            wal_bytes: u64::try_from(after.wal - before.wal).unwrap_or(0),
            waits,
        }
    }

    /// Samples `db`'s client backends every 20 ms until `stop` is set.
    pub fn sample(&self, db: &str, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Waits> {
        let (client, db) = (self.client.clone(), db.to_string());
        tokio::spawn(async move {
            let mut w = Waits::default();
            let stmt = client
                .prepare(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity \
                     WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                )
                .await
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(rows) = client.query(&stmt, &[&db]).await {
                    w.rounds += 1;
                    for r in rows {
                        let state: Option<String> = r.get(0);
                        let kind: Option<String> = r.get(1);
                        let event: Option<String> = r.get(2);
                        let label = classify(state.as_deref(), kind.as_deref(), event.as_deref());
                        if let Some(label) = label {
                            *w.by_state.entry(label).or_insert(0) += 1;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            w
        })
    }
}

/// A backend's state as the report names it; None for an idle one (no work for it).
fn classify(state: Option<&str>, kind: Option<&str>, event: Option<&str>) -> Option<String> {
    match (state, kind, event) {
        (Some("idle"), ..) | (None, ..) => None,
        // Between two statements of a transaction, or between the messages of one.
        (Some("idle in transaction"), ..) | (Some("active"), Some("Client"), Some("ClientRead")) => {
            Some("waiting for userpool".into())
        }
        (Some("active"), None, _) => Some("on CPU".into()),
        (Some("active"), Some("IO"), Some("WALSync" | "WALWrite"))
        | (Some("active"), Some("LWLock"), Some("WALWrite")) => Some("WAL flush (commit)".into()),
        // Waiting for the writer of a row to commit, or queued behind others for it.
        (Some("active"), Some("Lock"), Some("transactionid" | "tuple")) => Some("row lock".into()),
        (Some("active"), Some("Lock"), Some(e)) => Some(format!("lock ({e})")),
        (Some("active"), Some(k), Some(e)) => Some(format!("{k}:{e}")),
        (Some(s), ..) => Some(s.to_string()),
    }
}
