//! `userpool-store`: where userpool keeps its state.
//!
//! Layout:
//! - [`Store`] is the trait the operations call: domain verbs (create a pool, list a pool's
//!   clients, ...), never SQL. It is object-safe (`Arc<dyn Store>`) and async, so an
//!   implementation may talk to a server (PostgreSQL) as well as to a file;
//! - the records ([`PoolRecord`], [`ClientRecord`]) are plain data: the store keys, orders
//!   and dates them, and keeps the configuration the operations layer encodes in
//!   `settings` without reading it;
//! - [`StoreError`] is the typed failure every verb returns;
//! - [`sqlite::SqliteStore`] is the embedded default.
//!
//! Rules every implementation keeps:
//! - a write returns only once it is committed (a crash after that loses nothing);
//! - uniqueness (pool ids, client ids) is enforced by the database, so several stateless
//!   nodes sharing one database stay consistent;
//! - pages are ordered by key and resumed *after* a key, never by offset.
//!
//! This crate knows nothing of HTTP or of the wire types.

pub mod sqlite;

use async_trait::async_trait;

/// Why a store verb failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record named does not exist.
    #[error("ST0001 not found")]
    NotFound,
    /// A record with this key already exists.
    #[error("ST0002 conflict: {0}")]
    Conflict(&'static str),
    /// The database failed (I/O, corruption, a bug); details are logged, not shown.
    #[error("ST0003 database error: {0}")]
    Backend(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A user pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    /// `<region>_<9 alphanumerics>`.
    pub id: String,
    /// The pool's name (not unique, as in Cognito).
    pub name: String,
    /// CreationDate, epoch milliseconds.
    pub created_ms: i64,
    /// LastModifiedDate, epoch milliseconds.
    pub modified_ms: i64,
    /// The pool's configuration, encoded by the operations layer.
    pub settings: String,
}

/// An app client of a pool.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// 26 lowercase alphanumerics; unique across all pools.
    pub client_id: String,
    /// The pool it belongs to.
    pub pool_id: String,
    /// ClientName.
    pub name: String,
    /// CreationDate, epoch milliseconds.
    pub created_ms: i64,
    /// LastModifiedDate, epoch milliseconds.
    pub modified_ms: i64,
    /// The client secret, sealed by the caller (never the clear secret).
    pub sealed_secret: Option<Vec<u8>>,
    /// The client's configuration, encoded by the operations layer.
    pub settings: String,
}

impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("client_id", &self.client_id)
            .field("pool_id", &self.pool_id)
            .field("name", &self.name)
            .field("has_secret", &self.sealed_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// A page of records and the key to resume after, if more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The records of this page, in key order.
    pub items: Vec<T>,
    /// The last key of this page when more records follow.
    pub next_after: Option<String>,
}

/// The persistence verbs of userpool.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds a pool; `Conflict` if its id exists.
    async fn create_pool(&self, pool: &PoolRecord) -> StoreResult<()>;
    /// A pool by id.
    async fn get_pool(&self, id: &str) -> StoreResult<Option<PoolRecord>>;
    /// Replaces a pool's name, settings and modified date; `NotFound` if absent.
    async fn update_pool(&self, pool: &PoolRecord) -> StoreResult<()>;
    /// Pools in id order, starting after `after`, at most `limit`.
    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<PoolRecord>>;
    /// Deletes a pool and everything in it; `NotFound` if absent.
    async fn delete_pool(&self, id: &str) -> StoreResult<()>;

    /// Adds an app client; `NotFound` if its pool is gone, `Conflict` if its id exists.
    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// A client of a pool by id.
    async fn get_client(&self, pool_id: &str, client_id: &str) -> StoreResult<Option<ClientRecord>>;
    /// Replaces a client's name, settings and modified date; `NotFound` if absent.
    async fn update_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// A pool's clients in id order, starting after `after`, at most `limit`.
    async fn list_clients(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<ClientRecord>>;
    /// Deletes a client; `NotFound` if absent.
    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()>;
}

/// Cuts a `limit + 1` fetch into a page (shared by the implementations).
pub fn page_of<T>(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
    if items.len() > limit {
        items.truncate(limit);
        let next_after = items.last().map(key);
        Page { items, next_after }
    } else {
        Page {
            items,
            next_after: None,
        }
    }
}
