//! The embedded store: one SQLite file in WAL mode.
//!
//! - One writer connection (SQLite admits one writer at a time anyway) and a small set of
//!   reader connections: in WAL mode readers never wait for the writer nor for each other,
//!   so no global lock stands in front of a read.
//! - Every write is one transaction committed before the verb returns. With
//!   `synchronous=NORMAL` (the default) a committed transaction survives the process
//!   being killed (`kill -9`), since the WAL is in the OS's hands; `Durability::Full`
//!   also fsyncs each commit, for power loss.
//! - Migrations in `migrations/sqlite/` are applied at open, forward only, tracked by
//!   `PRAGMA user_version`.
//! - The blocking SQLite calls run under `block_in_place` on the multi-threaded runtime:
//!   they take microseconds (the pages are cached), cheaper than a hop to the blocking
//!   pool; on a current-thread runtime (some tests) they simply run inline.

use crate::{page_of, ClientRecord, Page, PoolRecord, Store, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The forward-only migrations, in order; `user_version` is the count applied.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/sqlite/0001_pools_and_clients.sql")];

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives a process crash; the last commits may be lost on power loss.
    Normal,
    /// `synchronous=FULL`: every commit is fsynced.
    Full,
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    /// The one connection that writes. A `std` mutex: it is held only inside a blocking
    /// section, never across an `.await`.
    writer: Mutex<Connection>,
    /// Connections that only read; chosen round-robin, skipping busy ones.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn open_connection(path: &Path, durability: Durability) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
    ))
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "ST0004 the data file is at schema version {applied}, newer than this binary knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}

/// Runs a short blocking section without stalling the runtime (see the module docs).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the data file and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(format!("ST0005 {}: {e}", dir.display())))?;
        }
        let mut writer = open_connection(path, durability)?;
        migrate(&mut writer)?;
        let readers = (0..4)
            .map(|_| open_connection(path, durability).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| {
            let mut conn = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn)
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| {
            let n = self.readers.len();
            let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
            for i in 0..n {
                if let Some(m) = self.readers.get((start + i) % n) {
                    if let Ok(conn) = m.try_lock() {
                        return f(&conn);
                    }
                }
            }
            match self.readers.get(start % n) {
                Some(m) => f(&m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
                None => Err(StoreError::Backend("ST0006 no reader connection".into())),
            }
        })
    }
}

fn pool_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PoolRecord> {
    Ok(PoolRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: r.get(2)?,
        modified_ms: r.get(3)?,
        settings: r.get(4)?,
    })
}

fn client_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRecord> {
    Ok(ClientRecord {
        client_id: r.get(0)?,
        pool_id: r.get(1)?,
        name: r.get(2)?,
        created_ms: r.get(3)?,
        modified_ms: r.get(4)?,
        sealed_secret: r.get(5)?,
        settings: r.get(6)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn is_fk_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn limit_plus_one(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

const POOL_COLUMNS: &str = "id, name, created_ms, modified_ms, settings";
const CLIENT_COLUMNS: &str = "client_id, pool_id, name, created_ms, modified_ms, secret, settings";

#[async_trait]
impl Store for SqliteStore {
    async fn create_pool(&self, pool: &PoolRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO user_pools (id, name, created_ms, modified_ms, settings) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    pool.id,
                    pool.name,
                    pool.created_ms,
                    pool.modified_ms,
                    pool.settings
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("user pool id")
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<PoolRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {POOL_COLUMNS} FROM user_pools WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id], pool_from_row).optional())
                .map_err(backend)
        })
    }

    async fn update_pool(&self, pool: &PoolRecord) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("UPDATE user_pools SET name = ?2, modified_ms = ?3, settings = ?4 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![pool.id, pool.name, pool.modified_ms, pool.settings]))
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
    }

    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<PoolRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {POOL_COLUMNS} FROM user_pools WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![after.unwrap_or(""), limit_plus_one(limit)], pool_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |p| p.id.clone()))
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("DELETE FROM user_pools WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
    }

    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(&format!(
                "INSERT INTO app_clients ({CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    client.client_id,
                    client.pool_id,
                    client.name,
                    client.created_ms,
                    client.modified_ms,
                    client.sealed_secret,
                    client.settings
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("client id")
                } else if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn get_client(&self, pool_id: &str, client_id: &str) -> StoreResult<Option<ClientRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM app_clients WHERE client_id = ?1 AND pool_id = ?2"
            ))
            .and_then(|mut s| s.query_row([client_id, pool_id], client_from_row).optional())
            .map_err(backend)
        })
    }

    async fn update_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE app_clients SET name = ?3, modified_ms = ?4, settings = ?5 WHERE client_id = ?1 AND pool_id = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![client.client_id, client.pool_id, client.name, client.modified_ms, client.settings])
                })
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
    }

    async fn list_clients(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<ClientRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM app_clients WHERE pool_id = ?1 AND client_id > ?2 ORDER BY client_id LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![pool_id, after.unwrap_or(""), limit_plus_one(limit)], client_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |c| c.client_id.clone()))
    }

    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("DELETE FROM app_clients WHERE client_id = ?1 AND pool_id = ?2")
                .and_then(|mut s| s.execute([client_id, pool_id]))
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(id: &str) -> PoolRecord {
        PoolRecord {
            id: id.into(),
            name: "p".into(),
            created_ms: 1,
            modified_ms: 1,
            settings: "{}".into(),
        }
    }

    fn client(pool_id: &str, id: &str) -> ClientRecord {
        ClientRecord {
            client_id: id.into(),
            pool_id: pool_id.into(),
            name: "c".into(),
            created_ms: 1,
            modified_ms: 1,
            sealed_secret: Some(vec![1, 2, 3]),
            settings: "{}".into(),
        }
    }

    #[tokio::test]
    async fn pools_clients_pages_and_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        for i in 0..5 {
            store.create_pool(&pool(&format!("us-east-1_{i}"))).await.unwrap();
        }
        assert!(matches!(
            store.create_pool(&pool("us-east-1_0")).await,
            Err(StoreError::Conflict(_))
        ));
        let p1 = store.list_pools(None, 2).await.unwrap();
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.next_after.as_deref(), Some("us-east-1_1"));
        let p3 = store.list_pools(Some("us-east-1_3"), 2).await.unwrap();
        assert_eq!(p3.items.len(), 1);
        assert_eq!(p3.next_after, None);

        store.create_client(&client("us-east-1_0", "a")).await.unwrap();
        assert!(matches!(
            store.create_client(&client("us-east-1_9", "b")).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.create_client(&client("us-east-1_1", "a")).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(store.get_client("us-east-1_1", "a").await.unwrap().is_none());
        store.delete_pool("us-east-1_0").await.unwrap();
        assert!(store.get_client("us-east-1_0", "a").await.unwrap().is_none());
        assert!(matches!(
            store.delete_pool("us-east-1_0").await,
            Err(StoreError::NotFound)
        ));
        drop(store);

        // Reopening applies no migration twice and keeps the data.
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        assert_eq!(store.list_pools(None, 60).await.unwrap().items.len(), 4);
    }
}
