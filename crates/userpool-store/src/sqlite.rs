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
//! - The SQLite calls run inline on the async worker: an indexed read or a one-row write
//!   from cached pages takes microseconds, less than handing the worker off
//!   (`block_in_place` measured 2x slower per request here; `spawn_blocking` more still).

use crate::{
    page_of, AuthEventRecord, ClientRecord, CodeRecord, DeviceRecord, GroupRecord, ImportOutcome, JobBody,
    MessageRecord, ObjectKind, ObjectRecord, Page, PasswordSpend, PasswordVerifier, PoolRecord, RefreshRecord,
    SigningKeyRecord, Store, StoreError, StoreResult, UserFilter, UserRecord,
};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The forward-only migrations, in order; `user_version` is the count applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_pools_and_clients.sql"),
    include_str!("../migrations/sqlite/0002_users_tokens_keys.sql"),
    include_str!("../migrations/sqlite/0003_devices.sql"),
    include_str!("../migrations/sqlite/0004_groups.sql"),
    include_str!("../migrations/sqlite/0005_rowid_tables.sql"),
    include_str!("../migrations/sqlite/0006_versions_and_limits.sql"),
    include_str!("../migrations/sqlite/0007_mfa.sql"),
    include_str!("../migrations/sqlite/0008_refresh_rotation.sql"),
    include_str!("../migrations/sqlite/0009_outbox.sql"),
    include_str!("../migrations/sqlite/0010_pool_objects.sql"),
    include_str!("../migrations/sqlite/0011_auth_events.sql"),
];

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
    readers: Vec<Mutex<Reader>>,
    next_reader: AtomicUsize,
    /// Bumped after every write section ends (committed or not). A reader keeps its read
    /// transaction open while this is unchanged (see [`Reader`]).
    commits: AtomicU64,
    /// Pool rows by id. This process is the only writer of its file (the embedded store
    /// is single-node; several nodes share PostgreSQL), so a cache updated by its own
    /// writes is never stale, and the read every pool-scoped request makes costs no
    /// SQLite transaction (whose shared-memory locks were 11% of a read's CPU).
    pools: std::sync::RwLock<std::collections::HashMap<String, PoolRecord>>,
    /// Bumped by every pool write; a read caches its row only if no write began or ended
    /// while it read.
    pool_generation: std::sync::atomic::AtomicU64,
    /// The held lock file of a serving store (see [`SqliteStore::open`]); released last.
    lock: Option<std::fs::File>,
}

/// A reader connection and the read snapshot it holds.
///
/// Beginning and ending an SQLite read transaction takes and drops the WAL locks (`fcntl`
/// on the database and its shared-memory file, under SQLite's process-wide VFS mutex):
/// measured at 16% of an AdminGetDevice's CPU, more than the query. This process is the
/// only writer of its file (`userpool serve` holds the data file's lock; several nodes
/// share PostgreSQL instead), so while no write section has ended since a snapshot
/// began, that snapshot is the latest state and the next read may use it as it is. Every
/// write bumps [`SqliteStore::commits`] after it commits, before the caller hears of it,
/// so a read that begins after any acknowledged write sees a new count and begins a new
/// snapshot: reads never miss an acknowledged write. A write also ends the snapshots of
/// the idle readers, so none holds the WAL back from its checkpoint. A store opened
/// without the lock ([`SqliteStore::open_for_reading`]) keeps no snapshot.
struct Reader {
    conn: Connection,
    /// The commit count the open read transaction began at; `None` when none is open.
    snapshot: Option<u64>,
}

impl Reader {
    fn end_snapshot(&mut self) {
        if self.snapshot.take().is_some() {
            // A read-only transaction: COMMIT only drops its locks. If it fails the
            // connection is left in autocommit by SQLite's own rollback.
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::warn!(error = %e, "ending a read snapshot failed");
            }
        }
    }

    fn begin_snapshot(&mut self, at: u64) -> StoreResult<()> {
        self.end_snapshot();
        self.conn
            .prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(backend)?;
        self.snapshot = Some(at);
        Ok(())
    }
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
    if applied == MIGRATIONS.len() {
        return Ok(());
    }
    // Foreign keys are off while migrating (a table rebuild drops a parent under its
    // children; SQLite ignores this pragma inside a transaction) and each migration is
    // checked before it commits.
    conn.execute_batch("PRAGMA foreign_keys=OFF").map_err(backend)?;
    let result = (|| {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = conn.transaction().map_err(backend)?;
            tx.execute_batch(sql).map_err(backend)?;
            let broken: i64 = tx
                .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
                .map_err(backend)?;
            if broken != 0 {
                return Err(StoreError::Backend(format!(
                    "ST0009 migration {} would leave {broken} rows without their parent",
                    i + 1
                )));
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            tracing::info!(version = i + 1, "applied store migration");
        }
        Ok(())
    })();
    conn.execute_batch("PRAGMA foreign_keys=ON").map_err(backend)?;
    result
}

/// Runs a short SQLite section (see the module docs).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    f()
}

impl SqliteStore {
    /// Opens (creating if needed) the data file as its one writer: takes the lock file
    /// `<path>.lock` (refusing a second server on the same file, whose writes this one's
    /// snapshots and caches would not see) and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(format!("ST0005 {}: {e}", dir.display())))?;
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Backend(format!("ST0007 {}: {e}", Path::new(&lock_path).display())))?;
        // Released by the OS when the process ends, however it ends.
        lock.try_lock().map_err(|e| {
            StoreError::Backend(format!(
                "ST0008 another process is serving this data file (lock {}: {e})",
                Path::new(&lock_path).display()
            ))
        })?;
        let mut store = Self::open_unlocked(path, durability)?;
        let mut writer = store.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        migrate(&mut writer)?;
        drop(writer);
        store.lock = Some(lock);
        Ok(store)
    }

    /// Opens an existing data file to read it beside the server that owns it (`userpool
    /// codes`): no lock, no migration. Its reads see the file as of each read.
    pub fn open_for_reading(path: &Path) -> StoreResult<Self> {
        if !path.exists() {
            return Err(StoreError::NotFound);
        }
        Self::open_unlocked(path, Durability::Normal)
    }

    fn open_unlocked(path: &Path, durability: Durability) -> StoreResult<Self> {
        let writer = open_connection(path, durability)?;
        let readers = (0..4)
            .map(|_| {
                let conn = open_connection(path, durability)?;
                // A write on a reader would hold the write lock for as long as the reader
                // keeps its snapshot; `query_only` turns that bug into an error.
                conn.execute_batch("PRAGMA query_only=ON").map_err(backend)?;
                Ok(Mutex::new(Reader { conn, snapshot: None }))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            pools: std::sync::RwLock::default(),
            pool_generation: std::sync::atomic::AtomicU64::new(0),
            lock: None,
        })
    }

    fn forget_pool(&self, id: &str) {
        self.pool_generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.pools.write() {
            cache.remove(id);
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let result = blocking(|| {
            let mut conn = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn)
        });
        // Before the caller hears of the write: every later read begins a new snapshot.
        self.commits.fetch_add(1, Ordering::SeqCst);
        for m in &self.readers {
            // A busy reader sees the new count when its read ends (see `read`).
            if let Ok(mut reader) = m.try_lock() {
                reader.end_snapshot();
            }
        }
        result
    }

    /// The writer connection, for `copy` (its section must leave no transaction open).
    pub(crate) fn write_conn<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let result = self.write(f);
        // The copy may have written any pool row.
        self.pool_generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.pools.write() {
            cache.clear();
        }
        result
    }

    /// A reader connection, for `copy`.
    pub(crate) fn read_conn<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.read(f)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| {
            let n = self.readers.len();
            let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
            let mut reader = None;
            for i in 0..n {
                if let Some(Ok(r)) = self.readers.get((start + i) % n).map(Mutex::try_lock) {
                    reader = Some(r);
                    break;
                }
            }
            let mut reader = match reader {
                Some(r) => r,
                None => match self.readers.get(start % n) {
                    Some(m) => m.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
                    None => return Err(StoreError::Backend("ST0006 no reader connection".into())),
                },
            };
            let at = self.commits.load(Ordering::SeqCst);
            if reader.snapshot != Some(at) {
                reader.begin_snapshot(at)?;
            }
            let result = f(&reader.conn);
            // Only the lock holder sees every write; a store opened beside it (for
            // reading) must take a new snapshot each time.
            if result.is_err() || self.lock.is_none() || self.commits.load(Ordering::SeqCst) != at {
                reader.end_snapshot();
            }
            result
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

macro_rules! user_columns {
    () => {
        "pool_id, username_key, username, sub, status, enabled, created_ms, modified_ms, \
     attributes, password_salt, password_verifier, password_set_ms, failed_attempts, locked_until_ms, tokens_valid_after_ms, \
     version, mfa"
    };
}
/// The same columns of `users u`, for joins.
macro_rules! user_columns_u {
    () => {
        "u.pool_id, u.username_key, u.username, u.sub, u.status, u.enabled, u.created_ms, u.modified_ms, \
     u.attributes, u.password_salt, u.password_verifier, u.password_set_ms, u.failed_attempts, u.locked_until_ms, \
     u.tokens_valid_after_ms, u.version, u.mfa"
    };
}
const USER_COLUMNS_U: &str = user_columns_u!();

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    let attributes: String = r.get(8)?;
    let salt: Option<Vec<u8>> = r.get(9)?;
    let verifier: Option<Vec<u8>> = r.get(10)?;
    Ok(UserRecord {
        pool_id: r.get(0)?,
        username_key: r.get(1)?,
        username: r.get(2)?,
        sub: r.get(3)?,
        status: r.get(4)?,
        enabled: r.get::<_, i64>(5)? != 0,
        created_ms: r.get(6)?,
        modified_ms: r.get(7)?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e)))?,
        password: match (salt, verifier) {
            (Some(salt), Some(verifier)) => Some(PasswordVerifier { salt, verifier }),
            _ => None,
        },
        password_set_ms: r.get(11)?,
        failed_attempts: r.get(12)?,
        locked_until_ms: r.get(13)?,
        tokens_valid_after_ms: r.get(14)?,
        version: r.get(15)?,
        mfa: r.get(16)?,
        lookups: None,
    })
}

fn write_lookups(tx: &Connection, user: &UserRecord) -> StoreResult<()> {
    let Some(lookups) = &user.lookups else { return Ok(()) };
    tx.prepare_cached("DELETE FROM user_aliases WHERE pool_id = ?1 AND username_key = ?2")
        .and_then(|mut s| s.execute([&user.pool_id, &user.username_key]))
        .map_err(backend)?;
    tx.prepare_cached("DELETE FROM user_search WHERE pool_id = ?1 AND username_key = ?2")
        .and_then(|mut s| s.execute([&user.pool_id, &user.username_key]))
        .map_err(backend)?;
    for alias in &lookups.aliases {
        tx.prepare_cached("INSERT INTO user_aliases (pool_id, alias_key, username_key) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute([&user.pool_id, alias, &user.username_key]))
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("alias")
                } else {
                    backend(e)
                }
            })?;
    }
    for (name, value) in &lookups.search {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO user_search (pool_id, name, value, username_key) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute([&user.pool_id, name, value, &user.username_key]))
        .map_err(backend)?;
    }
    Ok(())
}

/// Inserts a user's row (its lookups are [`write_lookups`]'s).
fn insert_user(tx: &Connection, user: &UserRecord, attributes: &str) -> StoreResult<()> {
    let (salt, verifier) = match &user.password {
        Some(p) => (Some(&p.salt), Some(&p.verifier)),
        None => (None, None),
    };
    tx.prepare_cached(concat!(
        "INSERT INTO users (",
        user_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0, ?16)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            user.pool_id,
            user.username_key,
            user.username,
            user.sub,
            user.status,
            i64::from(user.enabled),
            user.created_ms,
            user.modified_ms,
            attributes,
            salt,
            verifier,
            user.password_set_ms,
            user.failed_attempts,
            user.locked_until_ms,
            user.tokens_valid_after_ms,
            user.mfa
        ])
    })
    .map(|_| ())
    .map_err(|e| {
        if is_unique_violation(&e) {
            if e.to_string().contains("sub") {
                StoreError::Conflict("sub")
            } else {
                StoreError::Conflict("username")
            }
        } else if is_fk_violation(&e) {
            StoreError::NotFound
        } else {
            backend(e)
        }
    })
}

/// The compare-and-set of an object's body (see [`Store::replace_object_if`]).
fn set_object_if(c: &Connection, o: &ObjectRecord, body: &str, expected: &str) -> StoreResult<()> {
    let n = c
        .prepare_cached(
            "UPDATE pool_objects SET body = ?5, modified_ms = ?6 \
             WHERE kind = ?1 AND scope = ?2 AND name = ?3 AND body = ?4",
        )
        .and_then(|mut s| {
            s.execute(params![
                o.kind.as_str(),
                o.kind.scope(&o.pool_id),
                o.name,
                expected,
                body,
                o.modified_ms
            ])
        })
        .map_err(backend)?;
    if n > 0 {
        return Ok(());
    }
    let exists = c
        .prepare_cached("SELECT 1 FROM pool_objects WHERE kind = ?1 AND scope = ?2 AND name = ?3")
        .and_then(|mut s| {
            s.query_row(params![o.kind.as_str(), o.kind.scope(&o.pool_id), o.name], |_| Ok(()))
                .optional()
        })
        .map_err(backend)?;
    Err(match exists {
        Some(()) => StoreError::Conflict(crate::VERSION_CONFLICT),
        None => StoreError::NotFound,
    })
}

fn code_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CodeRecord> {
    Ok(CodeRecord {
        pool_id: r.get(0)?,
        username_key: r.get(1)?,
        purpose: r.get(2)?,
        sealed_code: r.get(3)?,
        destination: r.get(4)?,
        expires_ms: r.get(5)?,
        attempts_left: r.get(6)?,
    })
}

macro_rules! code_columns {
    () => {
        "pool_id, username_key, purpose, sealed_code, destination, expires_ms, attempts_left"
    };
}

fn refresh_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RefreshRecord> {
    Ok(RefreshRecord {
        token_hash: r.get(0)?,
        pool_id: r.get(1)?,
        username_key: r.get(2)?,
        client_id: r.get(3)?,
        device_key: r.get(4)?,
        origin_jti: r.get(5)?,
        auth_time: r.get(6)?,
        created_ms: r.get(7)?,
        expires_ms: r.get(8)?,
        rotated_at_ms: r.get(9)?,
        scope: r.get(10)?,
    })
}

/// The first string after every string starting with `prefix` (for an indexed range scan).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    end.push(char::MAX);
    end
}

/// After a compare-and-set wrote no row: `Conflict(VERSION_CONFLICT)` if the row is
/// there (another write came first), `NotFound` if it is gone.
fn lost_or_gone(tx: &rusqlite::Transaction<'_>, exists_sql: &str, key: [&String; 2]) -> StoreError {
    match tx
        .prepare_cached(exists_sql)
        .and_then(|mut s| s.query_row(key, |_| Ok(())).optional())
    {
        Ok(Some(())) => StoreError::Conflict(crate::VERSION_CONFLICT),
        Ok(None) => StoreError::NotFound,
        Err(e) => backend(e),
    }
}

fn one_row(n: usize) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

macro_rules! device_columns {
    () => {
        "pool_id, device_key, username_key, device_group_key, confirmed, remembered, name, \
     salt, verifier, last_ip, sdk, created_ms, modified_ms, last_auth_ms, version"
    };
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        pool_id: r.get(0)?,
        device_key: r.get(1)?,
        username_key: r.get(2)?,
        device_group_key: r.get(3)?,
        confirmed: r.get::<_, i64>(4)? != 0,
        remembered: r.get::<_, i64>(5)? != 0,
        name: r.get(6)?,
        salt: r.get(7)?,
        verifier: r.get(8)?,
        last_ip: r.get(9)?,
        sdk: r.get(10)?,
        created_ms: r.get(11)?,
        modified_ms: r.get(12)?,
        last_auth_ms: r.get(13)?,
        version: r.get(14)?,
    })
}

macro_rules! group_columns {
    () => {
        "pool_id, name, description, role_arn, precedence, created_ms, modified_ms"
    };
}
/// The same columns of `groups g`, for joins.
macro_rules! group_columns_g {
    () => {
        "g.pool_id, g.name, g.description, g.role_arn, g.precedence, g.created_ms, g.modified_ms"
    };
}

fn object_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRecord> {
    let kind: String = r.get(0)?;
    Ok(ObjectRecord {
        kind: ObjectKind::parse(&kind).ok_or(rusqlite::Error::InvalidColumnType(
            0,
            kind,
            rusqlite::types::Type::Text,
        ))?,
        pool_id: r.get(1)?,
        name: r.get(2)?,
        body: r.get(3)?,
        created_ms: r.get(4)?,
        modified_ms: r.get(5)?,
    })
}

const OBJECT_COLUMNS: &str = "kind, pool_id, name, body, created_ms, modified_ms";

const AUTH_EVENT_COLUMNS: &str = "pool_id, username_key, event_id, created_ms, body, expires_ms";

fn auth_event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuthEventRecord> {
    Ok(AuthEventRecord {
        pool_id: r.get(0)?,
        username_key: r.get(1)?,
        event_id: r.get(2)?,
        created_ms: r.get(3)?,
        body: r.get(4)?,
        expires_ms: r.get(5)?,
    })
}

fn group_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRecord> {
    Ok(GroupRecord {
        pool_id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        role_arn: r.get(3)?,
        precedence: r.get(4)?,
        created_ms: r.get(5)?,
        modified_ms: r.get(6)?,
    })
}

/// Forgets a cached pool again when a write to it ends (also bumping the generation, so
/// a read that raced the write does not cache the old row).
struct PoolForget<'a>(&'a SqliteStore, &'a str);

impl Drop for PoolForget<'_> {
    fn drop(&mut self) {
        self.0.forget_pool(self.1);
    }
}

/// A ListUsers page before it is cut: by username key, or by (search value, username key).
enum FilteredPage {
    Keyed(Vec<UserRecord>),
    Search(Vec<(UserRecord, String)>),
}

macro_rules! pool_columns {
    () => {
        "id, name, created_ms, modified_ms, settings"
    };
}
macro_rules! client_columns {
    () => {
        "client_id, pool_id, name, created_ms, modified_ms, secret, settings"
    };
}

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
        if let Ok(cache) = self.pools.read() {
            if let Some(p) = cache.get(id) {
                return Ok(Some(p.clone()));
            }
        }
        let generation = self.pool_generation.load(Ordering::SeqCst);
        let found = self.read(|c| {
            c.prepare_cached(concat!("SELECT ", pool_columns!(), " FROM user_pools WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id], pool_from_row).optional())
                .map_err(backend)
        })?;
        if let (Some(p), Ok(mut cache)) = (&found, self.pools.write()) {
            // Under the write lock: a pool write bumps the generation before and after it
            // commits, so an unchanged generation means this row is current.
            if self.pool_generation.load(Ordering::SeqCst) == generation {
                cache.insert(p.id.clone(), p.clone());
            }
        }
        Ok(found)
    }

    async fn update_pool(&self, pool: &PoolRecord) -> StoreResult<()> {
        self.forget_pool(&pool.id);
        let _guard = PoolForget(self, &pool.id);
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
            c.prepare_cached(concat!(
                "SELECT ",
                pool_columns!(),
                " FROM user_pools WHERE id > ?1 ORDER BY id LIMIT ?2"
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
        self.forget_pool(id);
        let _guard = PoolForget(self, id);
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .prepare_cached("DELETE FROM user_pools WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.prepare_cached("DELETE FROM outbox WHERE pool_id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(concat!(
                "INSERT INTO app_clients (",
                client_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
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
            c.prepare_cached(concat!(
                "SELECT ",
                client_columns!(),
                " FROM app_clients WHERE client_id = ?1 AND pool_id = ?2"
            ))
            .and_then(|mut s| s.query_row([client_id, pool_id], client_from_row).optional())
            .map_err(backend)
        })
    }

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<ClientRecord>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                client_columns!(),
                " FROM app_clients WHERE client_id = ?1"
            ))
            .and_then(|mut s| s.query_row([client_id], client_from_row).optional())
            .map_err(backend)
        })
    }

    async fn update_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE app_clients SET name = ?3, modified_ms = ?4, settings = ?5, secret = ?6 \
                     WHERE client_id = ?1 AND pool_id = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        client.client_id,
                        client.pool_id,
                        client.name,
                        client.modified_ms,
                        client.settings,
                        client.sealed_secret
                    ])
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
            c.prepare_cached(concat!(
                "SELECT ",
                client_columns!(),
                " FROM app_clients WHERE pool_id = ?1 AND client_id > ?2 ORDER BY client_id LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![pool_id, after.unwrap_or(""), limit_plus_one(limit)],
                    client_from_row,
                )?
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

    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        let attributes = serde_json::to_string(&user.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            insert_user(&tx, user, &attributes)?;
            write_lookups(&tx, user)?;
            tx.commit().map_err(backend)
        })
    }

    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<UserRecord>> {
        self.read(|c| {
            let user = c
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE pool_id = ?1 AND username_key = ?2"
                ))
                .and_then(|mut s| s.query_row([pool_id, username_key], user_from_row).optional())
                .map_err(backend)?;
            Ok(user)
        })
    }

    async fn find_user_by_alias(&self, pool_id: &str, alias_key: &str) -> StoreResult<Option<UserRecord>> {
        self.read(|c| {
            let user = c
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns_u!(),
                    " FROM user_aliases a JOIN users u ON u.pool_id = a.pool_id AND u.username_key = a.username_key \
                     WHERE a.pool_id = ?1 AND a.alias_key = ?2"
                ))
                .and_then(|mut s| s.query_row([pool_id, alias_key], user_from_row).optional())
                .map_err(backend)?;
            Ok(user)
        })
    }

    async fn find_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<UserRecord>> {
        self.read(|c| {
            let user = c
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE pool_id = ?1 AND sub = ?2"
                ))
                .and_then(|mut s| s.query_row([pool_id, sub], user_from_row).optional())
                .map_err(backend)?;
            Ok(user)
        })
    }

    async fn update_user(&self, user: &UserRecord) -> StoreResult<()> {
        let attributes = serde_json::to_string(&user.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let (salt, verifier) = match &user.password {
                Some(p) => (Some(&p.salt), Some(&p.verifier)),
                None => (None, None),
            };
            let n = tx
                .prepare_cached(
                    "UPDATE users SET username = ?3, status = ?4, enabled = ?5, modified_ms = ?6, attributes = ?7, \
                     password_salt = ?8, password_verifier = ?9, password_set_ms = ?10, mfa = ?12, \
                     version = version + 1 \
                     WHERE pool_id = ?1 AND username_key = ?2 AND version = ?11",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        user.pool_id,
                        user.username_key,
                        user.username,
                        user.status,
                        i64::from(user.enabled),
                        user.modified_ms,
                        attributes,
                        salt,
                        verifier,
                        user.password_set_ms,
                        user.version,
                        user.mfa
                    ])
                })
                .map_err(backend)?;
            if n == 0 {
                return Err(lost_or_gone(
                    &tx,
                    "SELECT 1 FROM users WHERE pool_id = ?1 AND username_key = ?2",
                    [&user.pool_id, &user.username_key],
                ));
            }
            write_lookups(&tx, user)?;
            tx.commit().map_err(backend)
        })
    }

    async fn spend_password_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        now_ms: i64,
        free: i64,
        check_ms: i64,
    ) -> StoreResult<PasswordSpend> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let spent: Option<i64> = tx
                .prepare_cached(
                    "UPDATE users SET failed_attempts = failed_attempts + 1, checking_until_ms = ?3 + ?5 \
                     WHERE pool_id = ?1 AND username_key = ?2 AND locked_until_ms <= ?3 \
                       AND (failed_attempts < ?4 OR checking_until_ms <= ?3) \
                     RETURNING failed_attempts",
                )
                .and_then(|mut s| {
                    s.query_row(params![pool_id, username_key, now_ms, free, check_ms], |r| r.get(0))
                        .optional()
                })
                .map_err(backend)?;
            let outcome = match spent {
                Some(n) => PasswordSpend::Spent(n),
                None => {
                    let locked_until: i64 = tx
                        .prepare_cached("SELECT locked_until_ms FROM users WHERE pool_id = ?1 AND username_key = ?2")
                        .and_then(|mut s| s.query_row([pool_id, username_key], |r| r.get(0)).optional())
                        .map_err(backend)?
                        .ok_or(StoreError::NotFound)?;
                    if locked_until > now_ms {
                        PasswordSpend::Locked
                    } else {
                        PasswordSpend::Busy
                    }
                }
            };
            tx.commit().map_err(backend)?;
            Ok(outcome)
        })
    }

    async fn record_password_failure(
        &self,
        pool_id: &str,
        username_key: &str,
        now_ms: i64,
        free: i64,
        max_lock_ms: i64,
    ) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "UPDATE users SET checking_until_ms = 0, \
                 locked_until_ms = CASE WHEN failed_attempts >= ?4 \
                   THEN MAX(locked_until_ms, ?3 + MIN(?5, 1000 << MIN(failed_attempts - ?4, 20))) \
                   ELSE locked_until_ms END \
                 WHERE pool_id = ?1 AND username_key = ?2",
            )
            .and_then(|mut s| s.execute(params![pool_id, username_key, now_ms, free, max_lock_ms]))
            .map(|_| ())
            .map_err(backend)
        })
    }

    async fn use_totp_step(&self, pool_id: &str, username_key: &str, step: i64) -> StoreResult<bool> {
        self.write(|c| {
            c.prepare_cached(
                "UPDATE users SET totp_last_step = ?3 WHERE pool_id = ?1 AND username_key = ?2 AND totp_last_step < ?3",
            )
            .and_then(|mut s| s.execute(params![pool_id, username_key, step]))
            .map(|n| n == 1)
            .map_err(backend)
        })
    }

    async fn clear_password_failures(&self, pool_id: &str, username_key: &str) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "UPDATE users SET failed_attempts = 0, locked_until_ms = 0, checking_until_ms = 0 \
                 WHERE pool_id = ?1 AND username_key = ?2 \
                   AND (failed_attempts != 0 OR locked_until_ms != 0 OR checking_until_ms != 0)",
            )
            .and_then(|mut s| s.execute([pool_id, username_key]))
            .map(|_| ())
            .map_err(backend)
        })
    }

    async fn delete_user(&self, pool_id: &str, username_key: &str) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .prepare_cached("DELETE FROM users WHERE pool_id = ?1 AND username_key = ?2")
                .and_then(|mut s| s.execute([pool_id, username_key]))
                .map_err(backend)?;
            one_row(n)?;
            // Its messages go with it (a user made again under the name sees none of them).
            tx.prepare_cached("DELETE FROM outbox WHERE pool_id = ?1 AND username_key = ?2")
                .and_then(|mut s| s.execute([pool_id, username_key]))
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let after = after.unwrap_or("");
        let lim = limit_plus_one(limit);
        let items = self.read(|c| {
            let rows: Vec<UserRecord> = match filter {
                None => c
                    .prepare_cached(concat!(
                        "SELECT ",
                        user_columns_u!(),
                        " FROM users u WHERE u.pool_id = ?1 AND u.username_key > ?2 ORDER BY u.username_key LIMIT ?3"
                    ))
                    .and_then(|mut s| s.query_map(params![pool_id, after, lim], user_from_row)?.collect())
                    .map_err(backend)?,
                Some(f) if matches!(f.attribute.as_str(), "sub" | "cognito:user_status" | "status") => {
                    let column_sql = match f.attribute.as_str() {
                        "sub" => "u.sub",
                        "cognito:user_status" => "u.status",
                        _ => "CASE u.enabled WHEN 1 THEN 'Enabled' ELSE 'Disabled' END",
                    };
                    let cond = if f.prefix {
                        format!("{column_sql} >= ?4 AND {column_sql} < ?5")
                    } else {
                        format!("{column_sql} = ?4 AND ?5 = ?5")
                    };
                    let sql = format!(
                        "SELECT {USER_COLUMNS_U} FROM users u WHERE u.pool_id = ?1 AND u.username_key > ?2 AND {cond} \
                         ORDER BY u.username_key LIMIT ?3"
                    );
                    let end = prefix_end(&f.value);
                    c.prepare_cached(&sql)
                        .and_then(|mut s| {
                            s.query_map(params![pool_id, after, lim, f.value, end], user_from_row)?
                                .collect()
                        })
                        .map_err(backend)?
                }
                Some(f) => {
                    // Attribute filters walk the (name, value, user) index in its order, so a
                    // page costs its own rows whatever the pool's size; the resume key is
                    // "<value>\0<username_key>".
                    let (after_value, after_key) = after.split_once('\u{0}').unwrap_or(("", ""));
                    let cond = if f.prefix {
                        "s.value >= ?5 AND s.value < ?6"
                    } else {
                        "s.value = ?5 AND ?6 = ?6"
                    };
                    let sql = format!(
                        "SELECT {USER_COLUMNS_U}, s.value FROM user_search s CROSS JOIN users u \
                         ON u.pool_id = s.pool_id AND u.username_key = s.username_key \
                         WHERE s.pool_id = ?1 AND s.name = ?2 AND {cond} AND (s.value, s.username_key) > (?3, ?4) \
                         ORDER BY s.value, s.username_key LIMIT ?7"
                    );
                    let end = prefix_end(&f.value);
                    let rows: Vec<(UserRecord, String)> = c
                        .prepare_cached(&sql)
                        .and_then(|mut s| {
                            s.query_map(
                                params![pool_id, f.attribute, after_value, after_key, f.value, end, lim],
                                |r| Ok((user_from_row(r)?, r.get::<_, String>(17)?)),
                            )?
                            .collect()
                        })
                        .map_err(backend)?;
                    return Ok(FilteredPage::Search(rows));
                }
            };
            Ok(FilteredPage::Keyed(rows))
        })?;
        Ok(match items {
            FilteredPage::Keyed(rows) => page_of(rows, limit, |u| u.username_key.clone()),
            FilteredPage::Search(rows) => {
                let page = page_of(rows, limit, |(u, v)| format!("{v}\u{0}{}", u.username_key));
                Page {
                    items: page.items.into_iter().map(|(u, _)| u).collect(),
                    next_after: page.next_after,
                }
            }
        })
    }

    async fn count_users(&self, pool_id: &str) -> StoreResult<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM users WHERE pool_id = ?1")
                .and_then(|mut s| s.query_row([pool_id], |r| r.get(0)))
                .map_err(backend)
        })
    }

    async fn put_code(&self, code: &CodeRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(concat!(
                "INSERT OR REPLACE INTO codes (",
                code_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    code.pool_id,
                    code.username_key,
                    code.purpose,
                    code.sealed_code,
                    code.destination,
                    code.expires_ms,
                    code.attempts_left
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn get_code(&self, pool_id: &str, username_key: &str, purpose: &str) -> StoreResult<Option<CodeRecord>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                code_columns!(),
                " FROM codes WHERE pool_id = ?1 AND username_key = ?2 AND purpose = ?3"
            ))
            .and_then(|mut s| s.query_row([pool_id, username_key, purpose], code_from_row).optional())
            .map_err(backend)
        })
    }

    async fn list_codes(&self, pool_id: &str, username_key: &str) -> StoreResult<Vec<CodeRecord>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                code_columns!(),
                " FROM codes WHERE pool_id = ?1 AND username_key = ?2 ORDER BY purpose"
            ))
            .and_then(|mut s| s.query_map([pool_id, username_key], code_from_row)?.collect())
            .map_err(backend)
        })
    }

    async fn spend_code_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CodeRecord>> {
        self.write(|c| {
            c.prepare_cached(concat!(
                "UPDATE codes SET attempts_left = attempts_left - 1 \
                 WHERE pool_id = ?1 AND username_key = ?2 AND purpose = ?3 AND attempts_left > 0 AND expires_ms > ?4 \
                 RETURNING ",
                code_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(params![pool_id, username_key, purpose, now_ms], code_from_row)
                    .optional()
            })
            .map_err(backend)
        })
    }

    async fn take_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
        sealed_code: &[u8],
    ) -> StoreResult<bool> {
        self.write(|c| {
            c.prepare_cached(
                "DELETE FROM codes WHERE pool_id = ?1 AND username_key = ?2 AND purpose = ?3 AND sealed_code = ?4",
            )
            .and_then(|mut s| s.execute(params![pool_id, username_key, purpose, sealed_code]))
            .map(|n| n == 1)
            .map_err(backend)
        })
    }

    async fn delete_code(&self, pool_id: &str, username_key: &str, purpose: &str) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached("DELETE FROM codes WHERE pool_id = ?1 AND username_key = ?2 AND purpose = ?3")
                .and_then(|mut s| s.execute([pool_id, username_key, purpose]))
                .map(|_| ())
                .map_err(backend)
        })
    }

    async fn put_refresh_token(&self, token: &RefreshRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO refresh_tokens (token_hash, pool_id, username_key, client_id, device_key, origin_jti, \
                 auth_time, created_ms, expires_ms, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    token.token_hash,
                    token.pool_id,
                    token.username_key,
                    token.client_id,
                    token.device_key,
                    token.origin_jti,
                    token.auth_time,
                    token.created_ms,
                    token.expires_ms,
                    token.scope
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn rotate_refresh_token(&self, old_hash: &[u8], new: &RefreshRecord, now_ms: i64) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let rotated = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET rotated_at_ms = ?2 WHERE token_hash = ?1 AND rotated_at_ms IS NULL",
                )
                .and_then(|mut s| s.execute(params![old_hash, now_ms]))
                .map_err(backend)?
                == 1;
            tx.prepare_cached(
                "INSERT INTO refresh_tokens (token_hash, pool_id, username_key, client_id, device_key, origin_jti, \
                 auth_time, created_ms, expires_ms, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    new.token_hash,
                    new.pool_id,
                    new.username_key,
                    new.client_id,
                    new.device_key,
                    new.origin_jti,
                    new.auth_time,
                    new.created_ms,
                    new.expires_ms,
                    new.scope
                ])
            })
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })?;
            tx.commit().map_err(backend)?;
            Ok(rotated)
        })
    }

    async fn get_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT token_hash, pool_id, username_key, client_id, device_key, origin_jti, auth_time, created_ms, \
                 expires_ms, rotated_at_ms, scope FROM refresh_tokens WHERE token_hash = ?1",
            )
            .and_then(|mut s| s.query_row([token_hash], refresh_from_row).optional())
            .map_err(backend)
        })
    }

    async fn revoke_refresh_token(&self, token_hash: &[u8], origin_jti: &str, expires_ms: i64) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            tx.prepare_cached("DELETE FROM refresh_tokens WHERE token_hash = ?1")
                .and_then(|mut s| s.execute([token_hash]))
                .map_err(backend)?;
            tx.prepare_cached("INSERT OR REPLACE INTO revoked_origins (origin_jti, expires_ms) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![origin_jti, expires_ms]))
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    async fn is_origin_revoked(&self, origin_jti: &str) -> StoreResult<bool> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM revoked_origins WHERE origin_jti = ?1")
                .and_then(|mut s| s.exists([origin_jti]))
                .map_err(backend)
        })
    }

    async fn sign_out_user(&self, pool_id: &str, username_key: &str, after_ms: i64) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .prepare_cached(
                    "UPDATE users SET tokens_valid_after_ms = MAX(tokens_valid_after_ms, ?3) WHERE pool_id = ?1 AND username_key = ?2",
                )
                .and_then(|mut s| s.execute(params![pool_id, username_key, after_ms]))
                .map_err(backend)?;
            one_row(n)?;
            // Every sign-in of the user ends: its token family is revoked (access tokens
            // carry origin_jti), then its refresh tokens go.
            tx.prepare_cached(
                "INSERT OR REPLACE INTO revoked_origins (origin_jti, expires_ms) \
                 SELECT origin_jti, MAX(expires_ms, ?3 + 86400000) FROM refresh_tokens WHERE pool_id = ?1 AND username_key = ?2",
            )
            .and_then(|mut s| s.execute(params![pool_id, username_key, after_ms]))
            .map_err(backend)?;
            tx.prepare_cached("DELETE FROM refresh_tokens WHERE pool_id = ?1 AND username_key = ?2")
                .and_then(|mut s| s.execute([pool_id, username_key]))
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    async fn put_device(&self, d: &DeviceRecord, stale_before_ms: i64) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            tx.prepare_cached(
                "DELETE FROM devices WHERE pool_id = ?1 AND username_key = ?2 AND confirmed = 0 AND created_ms < ?3",
            )
            .and_then(|mut s| s.execute(params![d.pool_id, d.username_key, stale_before_ms]))
            .map_err(backend)?;
            tx.prepare_cached(concat!(
                "INSERT INTO devices (",
                device_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    d.pool_id,
                    d.device_key,
                    d.username_key,
                    d.device_group_key,
                    i64::from(d.confirmed),
                    i64::from(d.remembered),
                    d.name,
                    d.salt,
                    d.verifier,
                    d.last_ip,
                    d.sdk,
                    d.created_ms,
                    d.modified_ms,
                    d.last_auth_ms
                ])
            })
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("device key")
                } else if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })?;
            tx.commit().map_err(backend)
        })
    }

    async fn get_device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<DeviceRecord>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                device_columns!(),
                " FROM devices WHERE pool_id = ?1 AND device_key = ?2"
            ))
            .and_then(|mut s| s.query_row([pool_id, device_key], device_from_row).optional())
            .map_err(backend)
        })
    }

    async fn update_device(&self, d: &DeviceRecord) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .prepare_cached(
                    "UPDATE devices SET confirmed = ?3, remembered = ?4, name = ?5, salt = ?6, verifier = ?7, \
                     sdk = ?8, modified_ms = ?9, version = version + 1 \
                     WHERE pool_id = ?1 AND device_key = ?2 AND version = ?10",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        d.pool_id,
                        d.device_key,
                        i64::from(d.confirmed),
                        i64::from(d.remembered),
                        d.name,
                        d.salt,
                        d.verifier,
                        d.sdk,
                        d.modified_ms,
                        d.version
                    ])
                })
                .map_err(backend)?;
            if n == 0 {
                return Err(lost_or_gone(
                    &tx,
                    "SELECT 1 FROM devices WHERE pool_id = ?1 AND device_key = ?2",
                    [&d.pool_id, &d.device_key],
                ));
            }
            tx.commit().map_err(backend)
        })
    }

    async fn touch_device(&self, pool_id: &str, device_key: &str, now_ms: i64, ip: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE devices SET last_auth_ms = MAX(last_auth_ms, ?3), last_ip = ?4 WHERE pool_id = ?1 AND device_key = ?2",
                )
                .and_then(|mut s| s.execute(params![pool_id, device_key, now_ms, ip]))
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn delete_device(&self, pool_id: &str, device_key: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("DELETE FROM devices WHERE pool_id = ?1 AND device_key = ?2")
                .and_then(|mut s| s.execute([pool_id, device_key]))
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn list_devices(
        &self,
        pool_id: &str,
        username_key: &str,
        remembered_only: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<DeviceRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                device_columns!(),
                " FROM devices WHERE pool_id = ?1 AND username_key = ?2 AND confirmed = 1 \
                 AND remembered >= ?3 AND device_key > ?4 ORDER BY device_key LIMIT ?5"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![
                        pool_id,
                        username_key,
                        i64::from(remembered_only),
                        after.unwrap_or(""),
                        limit_plus_one(limit)
                    ],
                    device_from_row,
                )?
                .collect()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |d| d.device_key.clone()))
    }

    async fn device_group_key(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT device_group_key FROM devices WHERE pool_id = ?1 AND username_key = ?2 LIMIT 1")
                .and_then(|mut s| s.query_row([pool_id, username_key], |r| r.get(0)).optional())
                .map_err(backend)
        })
    }

    async fn prune_expired(&self, now_ms: i64, limit: usize) -> StoreResult<u64> {
        const PRUNE: [&str; 7] = [
            "DELETE FROM refresh_tokens WHERE rowid IN \
             (SELECT rowid FROM refresh_tokens WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
            "DELETE FROM revoked_origins WHERE origin_jti IN \
             (SELECT origin_jti FROM revoked_origins WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
            "DELETE FROM codes WHERE (pool_id, username_key, purpose) IN \
             (SELECT pool_id, username_key, purpose FROM codes WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
            "DELETE FROM consumed_states WHERE nonce IN \
             (SELECT nonce FROM consumed_states WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
            "DELETE FROM rate_counters WHERE key IN \
             (SELECT key FROM rate_counters WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
            "DELETE FROM outbox WHERE id IN \
             (SELECT id FROM outbox WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
            "DELETE FROM auth_events WHERE (pool_id, event_id) IN \
             (SELECT pool_id, event_id FROM auth_events WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT ?2)",
        ];
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let mut gone = 0u64;
            for sql in PRUNE {
                let n = tx
                    .prepare_cached(sql)
                    .and_then(|mut s| s.execute(params![now_ms, limit]))
                    .map_err(backend)?;
                gone = gone.saturating_add(u64::try_from(n).unwrap_or(0));
            }
            tx.commit().map_err(backend)?;
            Ok(gone)
        })
    }

    async fn count_in_window(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<i64> {
        let window_ms = window_ms.max(1);
        let start = now_ms.div_euclid(window_ms).saturating_mul(window_ms);
        let expires = start.saturating_add(window_ms);
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO rate_counters (key, window_start, count, expires_ms) VALUES (?1, ?2, 1, ?3) \
                 ON CONFLICT (key) DO UPDATE SET \
                   count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, \
                   window_start = excluded.window_start, expires_ms = excluded.expires_ms \
                 RETURNING count",
            )
            .and_then(|mut s| s.query_row(params![key, start, expires], |r| r.get(0)))
            .map_err(backend)
        })
    }

    async fn consume_state(&self, nonce: &[u8], expires_ms: i64) -> StoreResult<bool> {
        self.write(|c| {
            match c
                .prepare_cached("INSERT INTO consumed_states (nonce, expires_ms) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![nonce, expires_ms]))
            {
                Ok(_) => Ok(true),
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(backend(e)),
            }
        })
    }

    async fn create_group(&self, g: &GroupRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(concat!(
                "INSERT INTO groups (",
                group_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    g.pool_id,
                    g.name,
                    g.description,
                    g.role_arn,
                    g.precedence,
                    g.created_ms,
                    g.modified_ms
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("group")
                } else if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<GroupRecord>> {
        self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups WHERE pool_id = ?1 AND name = ?2"
            ))
            .and_then(|mut s| s.query_row([pool_id, name], group_from_row).optional())
            .map_err(backend)
        })
    }

    async fn update_group(&self, g: &GroupRecord) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE groups SET description = ?3, role_arn = ?4, precedence = ?5, modified_ms = ?6 \
                     WHERE pool_id = ?1 AND name = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        g.pool_id,
                        g.name,
                        g.description,
                        g.role_arn,
                        g.precedence,
                        g.modified_ms
                    ])
                })
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("DELETE FROM groups WHERE pool_id = ?1 AND name = ?2")
                .and_then(|mut s| s.execute([pool_id, name]))
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn list_groups(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<GroupRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups WHERE pool_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![pool_id, after.unwrap_or(""), limit_plus_one(limit)],
                    group_from_row,
                )?
                .collect()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |g| g.name.clone()))
    }

    async fn add_to_group(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO group_members (pool_id, group_name, username_key) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute([pool_id, group, username_key]))
            .map(|_| ())
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn remove_from_group(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached("DELETE FROM group_members WHERE pool_id = ?1 AND group_name = ?2 AND username_key = ?3")
                .and_then(|mut s| s.execute([pool_id, group, username_key]))
                .map(|_| ())
                .map_err(backend)
        })
    }

    async fn groups_of_user(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                group_columns_g!(),
                " FROM group_members m JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name \
                 WHERE m.pool_id = ?1 AND m.username_key = ?2 AND m.group_name > ?3 ORDER BY m.group_name LIMIT ?4"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![pool_id, username_key, after.unwrap_or(""), limit_plus_one(limit)],
                    group_from_row,
                )?
                .collect()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |g| g.name.clone()))
    }

    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let items = self.read(|c| {
            let rows: Vec<UserRecord> = c
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns_u!(),
                    " FROM group_members m JOIN users u ON u.pool_id = m.pool_id AND u.username_key = m.username_key \
                     WHERE m.pool_id = ?1 AND m.group_name = ?2 AND m.username_key > ?3 ORDER BY m.username_key LIMIT ?4"
                ))
                .and_then(|mut s| {
                    s.query_map(params![pool_id, group, after.unwrap_or(""), limit_plus_one(limit)], user_from_row)?
                        .collect()
                })
                .map_err(backend)?;
            Ok(FilteredPage::Keyed(rows))
        })?;
        Ok(match items {
            FilteredPage::Keyed(rows) => page_of(rows, limit, |u| u.username_key.clone()),
            FilteredPage::Search(rows) => {
                let page = page_of(rows, limit, |(u, v)| format!("{v}\u{0}{}", u.username_key));
                Page {
                    items: page.items.into_iter().map(|(u, _)| u).collect(),
                    next_after: page.next_after,
                }
            }
        })
    }

    async fn put_message(&self, m: &MessageRecord) -> StoreResult<i64> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO outbox (pool_id, username_key, username, channel, destination, subject, sealed_body, \
                 kind, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        m.pool_id,
                        m.username_key,
                        m.username,
                        m.channel,
                        m.destination,
                        m.subject,
                        m.sealed_body,
                        m.kind,
                        m.created_ms,
                        m.expires_ms
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(backend)
        })
    }

    async fn list_messages(
        &self,
        pool_id: &str,
        username_key: Option<&str>,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, pool_id, username_key, username, channel, destination, subject, sealed_body, kind, \
                 created_ms, expires_ms FROM outbox \
                 WHERE pool_id = ?1 AND (?2 IS NULL OR username_key = ?2) AND id > ?3 ORDER BY id LIMIT ?4",
            )
            .and_then(|mut s| {
                s.query_map(params![pool_id, username_key, after, limit], |r| {
                    Ok(MessageRecord {
                        id: r.get(0)?,
                        pool_id: r.get(1)?,
                        username_key: r.get(2)?,
                        username: r.get(3)?,
                        channel: r.get(4)?,
                        destination: r.get(5)?,
                        subject: r.get(6)?,
                        sealed_body: r.get(7)?,
                        kind: r.get(8)?,
                        created_ms: r.get(9)?,
                        expires_ms: r.get(10)?,
                    })
                })?
                .collect()
            })
            .map_err(backend)
        })
    }

    async fn put_auth_event(&self, e: &AuthEventRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO auth_events (pool_id, username_key, event_id, created_ms, body, expires_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.pool_id,
                    e.username_key,
                    e.event_id,
                    e.created_ms,
                    e.body,
                    e.expires_ms
                ])
            })
            .map(|_| ())
            .map_err(|err| {
                if is_unique_violation(&err) {
                    StoreError::Conflict("event")
                } else if is_fk_violation(&err) {
                    StoreError::NotFound
                } else {
                    backend(err)
                }
            })
        })
    }

    async fn get_auth_event(
        &self,
        pool_id: &str,
        username_key: &str,
        event_id: &str,
    ) -> StoreResult<Option<AuthEventRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {AUTH_EVENT_COLUMNS} FROM auth_events \
                 WHERE pool_id = ?1 AND event_id = ?2 AND username_key = ?3"
            ))
            .and_then(|mut s| {
                s.query_row(params![pool_id, event_id, username_key], auth_event_from_row)
                    .optional()
            })
            .map_err(backend)
        })
    }

    async fn replace_auth_event(&self, e: &AuthEventRecord) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE auth_events SET body = ?4 WHERE pool_id = ?1 AND event_id = ?2 AND username_key = ?3",
                )
                .and_then(|mut s| s.execute(params![e.pool_id, e.event_id, e.username_key, e.body]))
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn list_auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> StoreResult<Page<AuthEventRecord>> {
        let (after_ms, after_id) = after.unwrap_or((i64::MAX, ""));
        let items = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {AUTH_EVENT_COLUMNS} FROM auth_events \
                 WHERE pool_id = ?1 AND username_key = ?2 \
                   AND (created_ms < ?3 OR (created_ms = ?3 AND event_id < ?4)) \
                 ORDER BY created_ms DESC, event_id DESC LIMIT ?5"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![pool_id, username_key, after_ms, after_id, limit_plus_one(limit)],
                    auth_event_from_row,
                )?
                .collect()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |e| format!("{}:{}", e.created_ms, e.event_id)))
    }

    async fn create_object(&self, o: &ObjectRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO pool_objects (kind, scope, name, pool_id, body, created_ms, modified_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    o.kind.as_str(),
                    o.kind.scope(&o.pool_id),
                    o.name,
                    o.pool_id,
                    o.body,
                    o.created_ms,
                    o.modified_ms
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("object")
                } else if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn get_object(&self, kind: ObjectKind, pool_id: &str, name: &str) -> StoreResult<Option<ObjectRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM pool_objects WHERE kind = ?1 AND scope = ?2 AND name = ?3"
            ))
            .and_then(|mut s| {
                s.query_row(params![kind.as_str(), kind.scope(pool_id), name], object_from_row)
                    .optional()
            })
            .map_err(backend)
        })
    }

    async fn replace_object(&self, o: &ObjectRecord) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE pool_objects SET body = ?4, modified_ms = ?5 WHERE kind = ?1 AND scope = ?2 AND name = ?3",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        o.kind.as_str(),
                        o.kind.scope(&o.pool_id),
                        o.name,
                        o.body,
                        o.modified_ms
                    ])
                })
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn replace_object_if(&self, o: &ObjectRecord, read: &ObjectRecord) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .prepare_cached(
                    "UPDATE pool_objects SET body = ?4, modified_ms = ?5 \
                     WHERE kind = ?1 AND scope = ?2 AND name = ?3 AND body = ?6 AND modified_ms = ?7",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        o.kind.as_str(),
                        o.kind.scope(&o.pool_id),
                        o.name,
                        o.body,
                        o.modified_ms,
                        read.body,
                        read.modified_ms
                    ])
                })
                .map_err(backend)?;
            if n == 0 {
                let kind = o.kind.as_str().to_string();
                let scope = o.kind.scope(&o.pool_id).to_string();
                let found = tx
                    .prepare_cached("SELECT 1 FROM pool_objects WHERE kind = ?1 AND scope = ?2 AND name = ?3")
                    .and_then(|mut s| s.query_row(params![kind, scope, o.name], |_| Ok(())).optional())
                    .map_err(backend)?;
                return Err(match found {
                    Some(()) => StoreError::Conflict(crate::VERSION_CONFLICT),
                    None => StoreError::NotFound,
                });
            }
            tx.commit().map_err(backend)
        })
    }

    async fn delete_object(&self, kind: ObjectKind, pool_id: &str, name: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("DELETE FROM pool_objects WHERE kind = ?1 AND scope = ?2 AND name = ?3")
                .and_then(|mut s| s.execute(params![kind.as_str(), kind.scope(pool_id), name]))
                .map_err(backend)?;
            one_row(n)
        })
    }

    async fn list_objects(
        &self,
        kind: ObjectKind,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<ObjectRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM pool_objects WHERE pool_id = ?1 AND kind = ?2 AND name > ?3 \
                 ORDER BY name LIMIT ?4"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![pool_id, kind.as_str(), after.unwrap_or(""), limit_plus_one(limit)],
                    object_from_row,
                )?
                .collect()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |o| o.name.clone()))
    }

    async fn list_global_objects(
        &self,
        kind: ObjectKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<ObjectRecord>> {
        let items = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM pool_objects WHERE kind = ?1 AND scope = '' AND name > ?2 \
                 ORDER BY name LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![kind.as_str(), after.unwrap_or(""), limit_plus_one(limit)],
                    object_from_row,
                )?
                .collect()
            })
            .map_err(backend)
        })?;
        Ok(page_of(items, limit, |o| o.name.clone()))
    }

    async fn import_users(
        &self,
        users: &[UserRecord],
        job: &ObjectRecord,
        expected: &str,
        job_body: &JobBody,
    ) -> StoreResult<Vec<ImportOutcome>> {
        let encoded = users
            .iter()
            .map(|u| serde_json::to_string(&u.attributes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.write(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            let mut outcomes = Vec::with_capacity(users.len());
            for (user, attributes) in users.iter().zip(&encoded) {
                // A savepoint per user: a clash undoes that user alone (rolled back when
                // dropped uncommitted).
                let sp = tx.savepoint().map_err(backend)?;
                match insert_user(&sp, user, attributes).and_then(|()| write_lookups(&sp, user)) {
                    Ok(()) => {
                        sp.commit().map_err(backend)?;
                        outcomes.push(ImportOutcome::Created);
                    }
                    Err(StoreError::Conflict("alias")) => outcomes.push(ImportOutcome::AliasExists),
                    Err(StoreError::Conflict(_)) => outcomes.push(ImportOutcome::UsernameExists),
                    Err(e) => return Err(e),
                }
            }
            // Uncommitted on error: the transaction rolls back when dropped.
            set_object_if(&tx, job, &job_body(&outcomes), expected)?;
            tx.commit().map_err(backend)?;
            Ok(outcomes)
        })
    }

    async fn put_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO signing_keys (pool_id, kid, token_use, sealed_private, public_n, public_e, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key.pool_id,
                    key.kid,
                    key.token_use,
                    key.sealed_private,
                    key.public_n,
                    key.public_e,
                    key.created_ms
                ])
            })
            .map(|_| ())
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StoreError::NotFound
                } else if is_unique_violation(&e) {
                    StoreError::Conflict("kid")
                } else {
                    backend(e)
                }
            })
        })
    }

    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT pool_id, kid, token_use, sealed_private, public_n, public_e, created_ms FROM signing_keys \
                 WHERE pool_id = ?1 ORDER BY created_ms, kid",
            )
            .and_then(|mut s| {
                s.query_map([pool_id], |r| {
                    Ok(SigningKeyRecord {
                        pool_id: r.get(0)?,
                        kid: r.get(1)?,
                        token_use: r.get(2)?,
                        sealed_private: r.get(3)?,
                        public_n: r.get(4)?,
                        public_e: r.get(5)?,
                        created_ms: r.get(6)?,
                    })
                })?
                .collect()
            })
            .map_err(backend)
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
    async fn migration_5_keeps_users_devices_and_their_children() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            // A data file as a binary of schema version 4 left it.
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS.iter().take(4).enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1)).unwrap();
            }
            conn.execute_batch(
                "PRAGMA foreign_keys=ON;
                 INSERT INTO user_pools VALUES ('p', 'pool', 1, 1, '{}');
                 INSERT INTO users (pool_id, username_key, username, sub, status, enabled, created_ms, modified_ms,
                     attributes, password_salt, password_verifier)
                     VALUES ('p', 'alice', 'Alice', 'sub-1', 'CONFIRMED', 1, 2, 3,
                     '[[\"email\",\"a@example.com\"]]', x'0102', x'0304');
                 INSERT INTO user_aliases VALUES ('p', 'email:a@example.com', 'alice');
                 INSERT INTO user_search VALUES ('p', 'email', 'a@example.com', 'alice');
                 INSERT INTO devices VALUES ('p', 'us-east-1_d1', 'alice', '-g', 1, 1, 'phone', x'05', x'06',
                     '127.0.0.1', 'sdk', 4, 5, 6);
                 INSERT INTO refresh_tokens VALUES (x'aabb', 'p', 'alice', 'client', 'us-east-1_d1', 'o1', 7, 8, 9);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        let user = store.get_user("p", "alice").await.unwrap().unwrap();
        assert_eq!(user.username, "Alice");
        assert_eq!(
            user.attributes,
            vec![("email".to_string(), "a@example.com".to_string())]
        );
        assert_eq!(user.password.unwrap().verifier, vec![3, 4]);
        let by_alias = store.find_user_by_alias("p", "email:a@example.com").await.unwrap();
        assert_eq!(by_alias.unwrap().sub, "sub-1");
        assert_eq!(
            store.find_user_by_sub("p", "sub-1").await.unwrap().unwrap().username,
            "Alice"
        );
        let device = store.get_device("p", "us-east-1_d1").await.unwrap().unwrap();
        assert_eq!(device.username_key, "alice");
        let token = store.get_refresh_token(&[0xaa, 0xbb]).await.unwrap().unwrap();
        assert_eq!((token.origin_jti.as_str(), token.expires_ms), ("o1", 9));
        // The children's references name the rebuilt tables: deleting the user cascades.
        store.delete_user("p", "alice").await.unwrap();
        assert!(store.get_device("p", "us-east-1_d1").await.unwrap().is_none());
        assert!(store
            .find_user_by_alias("p", "email:a@example.com")
            .await
            .unwrap()
            .is_none());
        assert!(store.get_refresh_token(&[0xaa, 0xbb]).await.unwrap().is_none());
        let writer = store.writer.lock().unwrap();
        let left: i64 = writer
            .query_row(
                "SELECT (SELECT count(*) FROM user_aliases) + (SELECT count(*) FROM user_search)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
        let version: i64 = writer.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let fks: i64 = writer.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fks, 1);
    }

    #[test]
    fn the_prefixed_column_lists_are_the_plain_ones() {
        // `user_from_row` and `group_from_row` read by position from either list.
        let prefixed = |cols: &str, p: &str| {
            cols.split(", ")
                .map(|c| format!("{p}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(USER_COLUMNS_U, prefixed(user_columns!(), "u"));
        assert_eq!(group_columns_g!(), prefixed(group_columns!(), "g"));
    }

    #[tokio::test]
    async fn prune_expired_deletes_only_expired_rows_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db"), Durability::Normal).unwrap();
        store.create_pool(&pool("p")).await.unwrap();
        store
            .writer
            .lock()
            .unwrap()
            .execute_batch(
                "INSERT INTO users (pool_id, username_key, username, sub, status, enabled, created_ms, modified_ms, \
                 attributes) VALUES ('p', 'alice', 'alice', 's1', 'CONFIRMED', 1, 1, 1, '[]')",
            )
            .unwrap();
        let token = |i: u8, expires_ms: i64| RefreshRecord {
            token_hash: vec![i],
            pool_id: "p".into(),
            username_key: "alice".into(),
            client_id: "c".into(),
            device_key: None,
            origin_jti: format!("o{i}"),
            auth_time: 1,
            created_ms: 1,
            expires_ms,
            rotated_at_ms: None,
            scope: None,
        };
        for i in 0..5 {
            store.put_refresh_token(&token(i, 100)).await.unwrap();
        }
        store.put_refresh_token(&token(9, 10_000)).await.unwrap();
        store.revoke_refresh_token(&[0], "o0", 150).await.unwrap();
        store.revoke_refresh_token(&[9], "o9", 20_000).await.unwrap();
        store.put_refresh_token(&token(9, 10_000)).await.unwrap();
        let code = |purpose: &str, expires_ms: i64| CodeRecord {
            pool_id: "p".into(),
            username_key: "alice".into(),
            purpose: purpose.into(),
            sealed_code: vec![1],
            destination: String::new(),
            expires_ms,
            attempts_left: 5,
        };
        store.put_code(&code("old", 100)).await.unwrap();
        store.put_code(&code("live", 10_000)).await.unwrap();
        assert!(store.consume_state(&[7], 100).await.unwrap());

        // Nothing has expired at 50.
        assert_eq!(store.prune_expired(50, 1000).await.unwrap(), 0);
        // At 1,000: 4 refresh tokens (the fifth was revoked), 1 revocation, 1 code and 1
        // state have expired; two per table per call.
        assert_eq!(store.prune_expired(1_000, 2).await.unwrap(), 2 + 1 + 1 + 1);
        assert_eq!(store.prune_expired(1_000, 2).await.unwrap(), 2);
        assert_eq!(store.prune_expired(1_000, 2).await.unwrap(), 0);
        assert!(store.get_refresh_token(&[1]).await.unwrap().is_none());
        assert!(store.get_refresh_token(&[9]).await.unwrap().is_some());
        assert!(!store.is_origin_revoked("o0").await.unwrap());
        assert!(store.is_origin_revoked("o9").await.unwrap());
        assert!(store.get_code("p", "alice", "old").await.unwrap().is_none());
        assert!(store.get_code("p", "alice", "live").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn one_server_per_file_and_reads_see_every_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        let second = SqliteStore::open(&path, Durability::Normal);
        assert!(matches!(second, Err(StoreError::Backend(m)) if m.starts_with("ST0008")));
        // `userpool codes` reads beside the server.
        let inspector = SqliteStore::open_for_reading(&path).unwrap();
        // Readers cannot write (a write would sit under a kept snapshot).
        let refused = store.read(|c| c.execute_batch("DELETE FROM user_pools").map_err(backend));
        assert!(matches!(refused, Err(StoreError::Backend(m)) if m.contains("readonly")));
        // Every reader takes a snapshot, then each write must be seen by the next read on
        // any reader, whichever one the round-robin picks.
        for i in 0..12 {
            store.create_pool(&pool(&format!("us-east-1_{i:02}"))).await.unwrap();
            for _ in 0..5 {
                assert_eq!(store.list_pools(None, 60).await.unwrap().items.len(), i + 1);
            }
            assert_eq!(inspector.list_pools(None, 60).await.unwrap().items.len(), i + 1);
        }
        store.delete_pool("us-east-1_00").await.unwrap();
        assert_eq!(store.list_pools(None, 60).await.unwrap().items.len(), 11);
        drop(store);
        SqliteStore::open(&path, Durability::Normal).unwrap();
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
