//! The shared store: PostgreSQL, for several stateless nodes on one database.
//!
//! - `tokio-postgres` behind a `deadpool-postgres` pool ([`PgOptions::pool_size`]
//!   connections per node); statements are prepared once per connection (`prepare_cached`).
//! - TLS when the URL says `sslmode=require`: rustls, the server's certificate verified
//!   against the system's roots or [`PgOptions::ca_file`]. Any other `sslmode` connects in
//!   the clear (libpq's `prefer` would try TLS without verifying it: userpool does not).
//! - The same semantics as [`crate::sqlite`], verb by verb, with the database enforcing
//!   them for every node at once: uniqueness by primary keys and unique constraints (their
//!   names tell a username clash from a `sub` or an alias clash), cascades by foreign keys
//!   `ON DELETE CASCADE`, limits and single-use takes by single statements.
//! - Isolation: READ COMMITTED (the default) everywhere. A single statement is atomic, and
//!   an `UPDATE`/`DELETE` that waits for a concurrent writer of its row re-checks its
//!   `WHERE` on the row as committed (so `attempts_left > 0`, `version = $n` and
//!   `rotated_at_ms IS NULL` are compare-and-set). Each multi-statement verb says why
//!   READ COMMITTED is enough for it: its first statement locks the row the rest depend on.
//! - Migrations in `migrations/postgres/` are applied at [`PostgresStore::connect`],
//!   forward only, in one transaction holding an advisory lock, so several nodes starting
//!   at once migrate once; `schema_migrations` records them.
//! - Nothing is cached in the process: another node may have written any row.

use crate::{
    page_of, AuthEventRecord, ClientRecord, CodeRecord, DeviceRecord, GroupRecord, ImportOutcome, JobBody,
    MessageRecord, ObjectKind, ObjectRecord, Page, PasswordSpend, PasswordVerifier, PoolRecord, RefreshRecord,
    SigningKeyRecord, Store, StoreError, StoreResult, UserFilter, UserRecord,
};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

/// The forward-only migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "0001_schema", include_str!("../migrations/postgres/0001_schema.sql")),
    (
        2,
        "0002_pool_objects",
        include_str!("../migrations/postgres/0002_pool_objects.sql"),
    ),
    (
        3,
        "0003_auth_events",
        include_str!("../migrations/postgres/0003_auth_events.sql"),
    ),
];

/// How many migrations this build applies.
pub const MIGRATION_COUNT: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key the migrations are applied under ("userpool" in ASCII).
const MIGRATION_LOCK: i64 = 0x7573_6572_706f_6f6c;

/// How a node connects: the pool size and the CA for TLS.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections this node keeps open at most (default 16).
    pub pool_size: usize,
    /// PEM certificates to trust for `sslmode=require` instead of the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            ca_file: None,
        }
    }
}

/// The TLS connector for `sslmode=require`.
fn tls_connector(options: &PgOptions) -> StoreResult<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::{pem::PemObject as _, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    match &options.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::Backend(format!("ST0014 the CA file {}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Backend(format!(
                    "ST0014 the CA file {}: no certificate in it",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("ST0015 TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: Pool,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

fn pg(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("{}: {}", db.code().code(), db.message())),
        // The driver's message names the step ("error performing TLS handshake"); its
        // sources say why ("invalid peer certificate: UnknownIssuer").
        None => StoreError::Backend(crate::error_chain(&e)),
    }
}

/// The constraint a unique violation broke (`""` when the server did not name one).
fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        Some(e.as_db_error().and_then(|d| d.constraint()).unwrap_or(""))
    } else {
        None
    }
}

fn is_fk_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// A write whose only expected failures are a clash (`Conflict(what)`) and a missing
/// parent (`NotFound`).
fn insert_error(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        if unique_violation(&e).is_some() {
            StoreError::Conflict(what)
        } else if is_fk_violation(&e) {
            StoreError::NotFound
        } else {
            pg(e)
        }
    }
}

fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(pg)
}

fn limit_plus_one(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

fn one_row(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The first string after every string starting with `prefix` (for an indexed range scan).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    end.push(char::MAX);
    end
}

async fn execute<C: GenericClient>(c: &C, sql: &str, params: &Params<'_>) -> Result<u64, tokio_postgres::Error> {
    let s = c.prepare_cached(sql).await?;
    c.execute(&s, params).await
}

async fn query<C: GenericClient>(c: &C, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, tokio_postgres::Error> {
    let s = c.prepare_cached(sql).await?;
    c.query(&s, params).await
}

async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, tokio_postgres::Error> {
    let s = c.prepare_cached(sql).await?;
    c.query_opt(&s, params).await
}

fn rows<T>(rows: Vec<Row>, f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`) and
    /// applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, None, &PgOptions::default()).await
    }

    /// Like [`PostgresStore::connect_with`] with the default options.
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> StoreResult<Self> {
        Self::connect_with(url, schema, &PgOptions::default()).await
    }

    /// Connects with `options`; with a `schema`, every table is in it (created if
    /// missing): each connection's `search_path` is set to it. The tests give each store
    /// its own schema of one database. A schema name is ASCII letters, digits and `_`.
    pub async fn connect_with(url: &str, schema: Option<&str>, options: &PgOptions) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("ST0010 the database URL: {e}")))?;
        if let Some(s) = schema {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::Backend(format!("ST0011 not a schema name: {s:?}")));
            }
            let options = match config.get_options() {
                Some(o) if !o.is_empty() => format!("{o} -c search_path={s}"),
                _ => format!("-c search_path={s}"),
            };
            config.options(options);
        }
        if config.get_application_name().is_none() {
            config.application_name("userpool");
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            Manager::from_config(config, tls_connector(options)?, manager_config)
        } else {
            Manager::from_config(config, NoTls, manager_config)
        };
        if options.pool_size == 0 {
            return Err(StoreError::Backend("ST0016 the pool size must be at least 1".into()));
        }
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .build()
            .map_err(|e| StoreError::Backend(format!("ST0012 connection pool: {e}")))?;
        let store = PostgresStore { pool };
        store.migrate(schema).await?;
        Ok(store)
    }

    /// A pooled connection, for `copy`.
    pub(crate) async fn raw_client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.client().await
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg(e),
            e => StoreError::Backend(format!("ST0013 no database connection: {e}")),
        })
    }

    /// Applies the pending migrations in one transaction holding a transaction-scoped
    /// advisory lock: a node that starts while another migrates waits for it, then finds
    /// nothing left to do. DDL is transactional in PostgreSQL, so a failed migration
    /// leaves nothing half-applied.
    async fn migrate(&self, schema: Option<&str>) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?;
        if let Some(s) = schema {
            // Checked to be letters, digits and `_` by `connect_in_schema`.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{s}\""))
                .await
                .map_err(pg)?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
        )
        .await
        .map_err(pg)?;
        let applied: Vec<i64> = rows(
            tx.query("SELECT version FROM schema_migrations ORDER BY version", &[])
                .await
                .map_err(pg)?,
            |r| col(r, 0),
        )?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if let Some(newest) = applied.iter().copied().max().filter(|v| *v > known) {
            return Err(StoreError::Backend(format!(
                "ST0004 the database is at schema version {newest}, newer than this binary knows ({known})"
            )));
        }
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tx.batch_execute(sql).await.map_err(pg)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_ms) \
                 VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                &[version, name],
            )
            .await
            .map_err(pg)?;
            tracing::info!(version, name, "applied store migration");
        }
        tx.commit().await.map_err(pg)
    }
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
macro_rules! code_columns {
    () => {
        "pool_id, username_key, purpose, sealed_code, destination, expires_ms, attempts_left"
    };
}
macro_rules! refresh_columns {
    () => {
        "token_hash, pool_id, username_key, client_id, device_key, origin_jti, auth_time, created_ms, expires_ms, \
         rotated_at_ms, scope"
    };
}
macro_rules! device_columns {
    () => {
        "pool_id, device_key, username_key, device_group_key, confirmed, remembered, name, \
     salt, verifier, last_ip, sdk, created_ms, modified_ms, last_auth_ms, version"
    };
}
macro_rules! group_columns {
    () => {
        "pool_id, name, description, role_arn, precedence, created_ms, modified_ms"
    };
}
macro_rules! group_columns_g {
    () => {
        "g.pool_id, g.name, g.description, g.role_arn, g.precedence, g.created_ms, g.modified_ms"
    };
}
macro_rules! message_columns {
    () => {
        "id, pool_id, username_key, username, channel, destination, subject, sealed_body, kind, created_ms, expires_ms"
    };
}

fn pool_from_row(r: &Row) -> StoreResult<PoolRecord> {
    Ok(PoolRecord {
        id: col(r, 0)?,
        name: col(r, 1)?,
        created_ms: col(r, 2)?,
        modified_ms: col(r, 3)?,
        settings: col(r, 4)?,
    })
}

fn client_from_row(r: &Row) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: col(r, 0)?,
        pool_id: col(r, 1)?,
        name: col(r, 2)?,
        created_ms: col(r, 3)?,
        modified_ms: col(r, 4)?,
        sealed_secret: col(r, 5)?,
        settings: col(r, 6)?,
    })
}

fn user_from_row(r: &Row) -> StoreResult<UserRecord> {
    let attributes: String = col(r, 8)?;
    let salt: Option<Vec<u8>> = col(r, 9)?;
    let verifier: Option<Vec<u8>> = col(r, 10)?;
    Ok(UserRecord {
        pool_id: col(r, 0)?,
        username_key: col(r, 1)?,
        username: col(r, 2)?,
        sub: col(r, 3)?,
        status: col(r, 4)?,
        enabled: col(r, 5)?,
        created_ms: col(r, 6)?,
        modified_ms: col(r, 7)?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| StoreError::Backend(format!("ST0014 a user's attributes: {e}")))?,
        password: match (salt, verifier) {
            (Some(salt), Some(verifier)) => Some(PasswordVerifier { salt, verifier }),
            _ => None,
        },
        password_set_ms: col(r, 11)?,
        failed_attempts: col(r, 12)?,
        locked_until_ms: col(r, 13)?,
        tokens_valid_after_ms: col(r, 14)?,
        version: col(r, 15)?,
        mfa: col(r, 16)?,
        lookups: None,
    })
}

fn code_from_row(r: &Row) -> StoreResult<CodeRecord> {
    Ok(CodeRecord {
        pool_id: col(r, 0)?,
        username_key: col(r, 1)?,
        purpose: col(r, 2)?,
        sealed_code: col(r, 3)?,
        destination: col(r, 4)?,
        expires_ms: col(r, 5)?,
        attempts_left: col(r, 6)?,
    })
}

fn refresh_from_row(r: &Row) -> StoreResult<RefreshRecord> {
    Ok(RefreshRecord {
        token_hash: col(r, 0)?,
        pool_id: col(r, 1)?,
        username_key: col(r, 2)?,
        client_id: col(r, 3)?,
        device_key: col(r, 4)?,
        origin_jti: col(r, 5)?,
        auth_time: col(r, 6)?,
        created_ms: col(r, 7)?,
        expires_ms: col(r, 8)?,
        rotated_at_ms: col(r, 9)?,
        scope: col(r, 10)?,
    })
}

fn device_from_row(r: &Row) -> StoreResult<DeviceRecord> {
    Ok(DeviceRecord {
        pool_id: col(r, 0)?,
        device_key: col(r, 1)?,
        username_key: col(r, 2)?,
        device_group_key: col(r, 3)?,
        confirmed: col(r, 4)?,
        remembered: col(r, 5)?,
        name: col(r, 6)?,
        salt: col(r, 7)?,
        verifier: col(r, 8)?,
        last_ip: col(r, 9)?,
        sdk: col(r, 10)?,
        created_ms: col(r, 11)?,
        modified_ms: col(r, 12)?,
        last_auth_ms: col(r, 13)?,
        version: col(r, 14)?,
    })
}

fn object_from_row(r: &Row) -> StoreResult<ObjectRecord> {
    let kind: String = col(r, 0)?;
    Ok(ObjectRecord {
        kind: ObjectKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("ST0004 unknown object kind {kind}")))?,
        pool_id: col(r, 1)?,
        name: col(r, 2)?,
        body: col(r, 3)?,
        created_ms: col(r, 4)?,
        modified_ms: col(r, 5)?,
    })
}

const OBJECT_COLUMNS: &str = "kind, pool_id, name, body, created_ms, modified_ms";

const AUTH_EVENT_COLUMNS: &str = "pool_id, username_key, event_id, created_ms, body, expires_ms";

fn auth_event_from_row(r: &Row) -> StoreResult<AuthEventRecord> {
    Ok(AuthEventRecord {
        pool_id: col(r, 0)?,
        username_key: col(r, 1)?,
        event_id: col(r, 2)?,
        created_ms: col(r, 3)?,
        body: col(r, 4)?,
        expires_ms: col(r, 5)?,
    })
}

fn group_from_row(r: &Row) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        pool_id: col(r, 0)?,
        name: col(r, 1)?,
        description: col(r, 2)?,
        role_arn: col(r, 3)?,
        precedence: col(r, 4)?,
        created_ms: col(r, 5)?,
        modified_ms: col(r, 6)?,
    })
}

fn message_from_row(r: &Row) -> StoreResult<MessageRecord> {
    Ok(MessageRecord {
        id: col(r, 0)?,
        pool_id: col(r, 1)?,
        username_key: col(r, 2)?,
        username: col(r, 3)?,
        channel: col(r, 4)?,
        destination: col(r, 5)?,
        subject: col(r, 6)?,
        sealed_body: col(r, 7)?,
        kind: col(r, 8)?,
        created_ms: col(r, 9)?,
        expires_ms: col(r, 10)?,
    })
}

/// Writes a user's lookup entries when the caller (re)computed them (`replace`: first
/// deleting the old ones). Inside the transaction of `create_user` / `update_user`, after
/// the statement that wrote (and so locked) the user's row.
async fn write_lookups<C: GenericClient>(tx: &C, user: &UserRecord, replace: bool) -> StoreResult<()> {
    let Some(lookups) = &user.lookups else { return Ok(()) };
    if replace {
        execute(
            tx,
            "DELETE FROM user_aliases WHERE pool_id = $1 AND username_key = $2",
            &[&user.pool_id, &user.username_key],
        )
        .await
        .map_err(pg)?;
        execute(
            tx,
            "DELETE FROM user_search WHERE pool_id = $1 AND username_key = $2",
            &[&user.pool_id, &user.username_key],
        )
        .await
        .map_err(pg)?;
    }
    if !lookups.aliases.is_empty() {
        execute(
            tx,
            "INSERT INTO user_aliases (pool_id, alias_key, username_key) \
             SELECT $1, a, $3 FROM unnest($2::text[]) AS a",
            &[&user.pool_id, &lookups.aliases, &user.username_key],
        )
        .await
        .map_err(|e| {
            if unique_violation(&e).is_some() {
                StoreError::Conflict("alias")
            } else {
                pg(e)
            }
        })?;
    }
    if !lookups.search.is_empty() {
        let names: Vec<&str> = lookups.search.iter().map(|(n, _)| n.as_str()).collect();
        let values: Vec<&str> = lookups.search.iter().map(|(_, v)| v.as_str()).collect();
        execute(
            tx,
            "INSERT INTO user_search (pool_id, name, value, username_key) \
             SELECT $1, n, v, $4 FROM unnest($2::text[], $3::text[]) AS t(n, v) ON CONFLICT DO NOTHING",
            &[&user.pool_id, &names, &values, &user.username_key],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Inserts a user's row (its lookups are [`write_lookups`]'s).
async fn insert_user<C: GenericClient>(tx: &C, user: &UserRecord, attributes: &str) -> StoreResult<()> {
    let (salt, verifier) = match &user.password {
        Some(p) => (Some(&p.salt), Some(&p.verifier)),
        None => (None, None),
    };
    execute(
        tx,
        concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16)"
        ),
        &[
            &user.pool_id,
            &user.username_key,
            &user.username,
            &user.sub,
            &user.status,
            &user.enabled,
            &user.created_ms,
            &user.modified_ms,
            &attributes,
            &salt,
            &verifier,
            &user.password_set_ms,
            &user.failed_attempts,
            &user.locked_until_ms,
            &user.tokens_valid_after_ms,
            &user.mfa,
        ],
    )
    .await
    .map(|_| ())
    .map_err(|e| match unique_violation(&e) {
        Some("users_by_sub") => StoreError::Conflict("sub"),
        Some(_) => StoreError::Conflict("username"),
        None if is_fk_violation(&e) => StoreError::NotFound,
        None => pg(e),
    })
}

/// The compare-and-set of an object's body (see [`Store::replace_object_if`]): one
/// statement, which re-checks `body = $4` on the row as committed if it waited for
/// another writer of it.
async fn set_object_if<C: GenericClient>(c: &C, o: &ObjectRecord, body: &str, expected: &str) -> StoreResult<()> {
    let n = execute(
        c,
        "UPDATE pool_objects SET body = $5, modified_ms = $6 \
         WHERE kind = $1 AND scope = $2 AND name = $3 AND body = $4",
        &[
            &o.kind.as_str(),
            &o.kind.scope(&o.pool_id),
            &o.name,
            &expected,
            &body,
            &o.modified_ms,
        ],
    )
    .await
    .map_err(pg)?;
    if n > 0 {
        return Ok(());
    }
    match query_opt(
        c,
        "SELECT 1 FROM pool_objects WHERE kind = $1 AND scope = $2 AND name = $3",
        &[&o.kind.as_str(), &o.kind.scope(&o.pool_id), &o.name],
    )
    .await
    {
        Ok(Some(_)) => Err(StoreError::Conflict(crate::VERSION_CONFLICT)),
        Ok(None) => Err(StoreError::NotFound),
        Err(e) => Err(pg(e)),
    }
}

/// After a compare-and-set wrote no row: `Conflict(VERSION_CONFLICT)` if the row is
/// there (another write came first), `NotFound` if it is gone.
async fn lost_or_gone<C: GenericClient>(c: &C, exists_sql: &str, a: &str, b: &str) -> StoreError {
    match query_opt(c, exists_sql, &[&a, &b]).await {
        Ok(Some(_)) => StoreError::Conflict(crate::VERSION_CONFLICT),
        Ok(None) => StoreError::NotFound,
        Err(e) => pg(e),
    }
}

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, pool_id, username_key, client_id, device_key, \
     origin_jti, auth_time, created_ms, expires_ms, scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

fn refresh_params(t: &RefreshRecord) -> [&(dyn ToSql + Sync); 10] {
    [
        &t.token_hash,
        &t.pool_id,
        &t.username_key,
        &t.client_id,
        &t.device_key,
        &t.origin_jti,
        &t.auth_time,
        &t.created_ms,
        &t.expires_ms,
        &t.scope,
    ]
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_pool(&self, pool: &PoolRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            concat!(
                "INSERT INTO user_pools (",
                pool_columns!(),
                ") VALUES ($1, $2, $3, $4, $5)"
            ),
            &[
                &pool.id,
                &pool.name,
                &pool.created_ms,
                &pool.modified_ms,
                &pool.settings,
            ],
        )
        .await
        .map(|_| ())
        .map_err(insert_error("user pool id"))
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<PoolRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!("SELECT ", pool_columns!(), " FROM user_pools WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(pool_from_row)
        .transpose()
    }

    async fn update_pool(&self, pool: &PoolRecord) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE user_pools SET name = $2, modified_ms = $3, settings = $4 WHERE id = $1",
            &[&pool.id, &pool.name, &pool.modified_ms, &pool.settings],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<PoolRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    pool_columns!(),
                    " FROM user_pools WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                &[&after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            pool_from_row,
        )?;
        Ok(page_of(items, limit, |p| p.id.clone()))
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<()> {
        let c = self.client().await?;
        // One statement: the pool (its children cascade) and its outbox messages.
        let rows = query(
            &c,
            "WITH gone AS (DELETE FROM user_pools WHERE id = $1 RETURNING 1), \
             messages AS (DELETE FROM outbox WHERE pool_id = $1 AND EXISTS (SELECT 1 FROM gone)) \
             SELECT 1 FROM gone",
            &[&id],
        )
        .await
        .map_err(pg)?;
        one_row(u64::try_from(rows.len()).unwrap_or(0))
    }

    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            concat!(
                "INSERT INTO app_clients (",
                client_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            &[
                &client.client_id,
                &client.pool_id,
                &client.name,
                &client.created_ms,
                &client.modified_ms,
                &client.sealed_secret,
                &client.settings,
            ],
        )
        .await
        .map(|_| ())
        .map_err(insert_error("client id"))
    }

    async fn get_client(&self, pool_id: &str, client_id: &str) -> StoreResult<Option<ClientRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                client_columns!(),
                " FROM app_clients WHERE client_id = $1 AND pool_id = $2"
            ),
            &[&client_id, &pool_id],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(client_from_row)
        .transpose()
    }

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<ClientRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!("SELECT ", client_columns!(), " FROM app_clients WHERE client_id = $1"),
            &[&client_id],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(client_from_row)
        .transpose()
    }

    async fn update_client(&self, client: &ClientRecord) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE app_clients SET name = $3, modified_ms = $4, settings = $5, secret = $6 \
             WHERE client_id = $1 AND pool_id = $2",
            &[
                &client.client_id,
                &client.pool_id,
                &client.name,
                &client.modified_ms,
                &client.settings,
                &client.sealed_secret,
            ],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn list_clients(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<ClientRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM app_clients WHERE pool_id = $1 AND client_id > $2 ORDER BY client_id LIMIT $3"
                ),
                &[&pool_id, &after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            client_from_row,
        )?;
        Ok(page_of(items, limit, |c| c.client_id.clone()))
    }

    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "DELETE FROM app_clients WHERE client_id = $1 AND pool_id = $2",
            &[&client_id, &pool_id],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        let attributes = serde_json::to_string(&user.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
        // READ COMMITTED: the row and its lookups commit together; a concurrent create of
        // the same username, sub or alias waits on the unique index entry and then fails.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        insert_user(&tx, user, &attributes).await?;
        write_lookups(&tx, user, false).await?;
        tx.commit().await.map_err(pg)
    }

    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<UserRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE pool_id = $1 AND username_key = $2"
            ),
            &[&pool_id, &username_key],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn find_user_by_alias(&self, pool_id: &str, alias_key: &str) -> StoreResult<Option<UserRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                user_columns_u!(),
                " FROM user_aliases a JOIN users u ON u.pool_id = a.pool_id AND u.username_key = a.username_key \
                 WHERE a.pool_id = $1 AND a.alias_key = $2"
            ),
            &[&pool_id, &alias_key],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn find_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<UserRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE pool_id = $1 AND sub = $2"
            ),
            &[&pool_id, &sub],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn update_user(&self, user: &UserRecord) -> StoreResult<()> {
        let attributes = serde_json::to_string(&user.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
        let (salt, verifier) = match &user.password {
            Some(p) => (Some(&p.salt), Some(&p.verifier)),
            None => (None, None),
        };
        // READ COMMITTED: the compare-and-set UPDATE locks the user's row until commit, so
        // the lookups rewritten after it cannot interleave with another update of the user;
        // an UPDATE that waited re-checks `version` on the committed row and writes nothing.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let n = execute(
            &tx,
            "UPDATE users SET username = $3, status = $4, enabled = $5, modified_ms = $6, attributes = $7, \
             password_salt = $8, password_verifier = $9, password_set_ms = $10, mfa = $12, \
             version = version + 1 \
             WHERE pool_id = $1 AND username_key = $2 AND version = $11",
            &[
                &user.pool_id,
                &user.username_key,
                &user.username,
                &user.status,
                &user.enabled,
                &user.modified_ms,
                &attributes,
                &salt,
                &verifier,
                &user.password_set_ms,
                &user.version,
                &user.mfa,
            ],
        )
        .await
        .map_err(pg)?;
        if n == 0 {
            return Err(lost_or_gone(
                &tx,
                "SELECT 1 FROM users WHERE pool_id = $1 AND username_key = $2",
                &user.pool_id,
                &user.username_key,
            )
            .await);
        }
        write_lookups(&tx, user, true).await?;
        tx.commit().await.map_err(pg)
    }

    async fn spend_password_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        now_ms: i64,
        free: i64,
        check_ms: i64,
    ) -> StoreResult<PasswordSpend> {
        // One statement: the spend, and (when it was refused) the lock that refused it,
        // read from the statement's snapshot; no row at all is NotFound.
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "WITH spent AS ( \
               UPDATE users SET failed_attempts = failed_attempts + 1, checking_until_ms = $3::bigint + $5::bigint \
               WHERE pool_id = $1 AND username_key = $2 AND locked_until_ms <= $3::bigint \
                 AND (failed_attempts < $4::bigint OR checking_until_ms <= $3::bigint) \
               RETURNING failed_attempts) \
             SELECT (SELECT failed_attempts FROM spent), \
                    (SELECT locked_until_ms FROM users WHERE pool_id = $1 AND username_key = $2)",
            &[&pool_id, &username_key, &now_ms, &free, &check_ms],
        )
        .await
        .map_err(pg)?
        .ok_or(StoreError::NotFound)?;
        let spent: Option<i64> = col(&row, 0)?;
        let locked_until: Option<i64> = col(&row, 1)?;
        Ok(match (spent, locked_until) {
            (Some(n), _) => PasswordSpend::Spent(n),
            (None, None) => return Err(StoreError::NotFound),
            (None, Some(until)) if until > now_ms => PasswordSpend::Locked,
            (None, Some(_)) => PasswordSpend::Busy,
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
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE users SET checking_until_ms = 0, \
             locked_until_ms = CASE WHEN failed_attempts >= $4::bigint \
               THEN GREATEST(locked_until_ms, $3::bigint + \
                 LEAST($5::bigint, 1000::bigint << LEAST(failed_attempts - $4::bigint, 20)::int)) \
               ELSE locked_until_ms END \
             WHERE pool_id = $1 AND username_key = $2",
            &[&pool_id, &username_key, &now_ms, &free, &max_lock_ms],
        )
        .await
        .map(|_| ())
        .map_err(pg)
    }

    async fn use_totp_step(&self, pool_id: &str, username_key: &str, step: i64) -> StoreResult<bool> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE users SET totp_last_step = $3 WHERE pool_id = $1 AND username_key = $2 AND totp_last_step < $3",
            &[&pool_id, &username_key, &step],
        )
        .await
        .map(|n| n == 1)
        .map_err(pg)
    }

    async fn clear_password_failures(&self, pool_id: &str, username_key: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE users SET failed_attempts = 0, locked_until_ms = 0, checking_until_ms = 0 \
             WHERE pool_id = $1 AND username_key = $2 \
               AND (failed_attempts != 0 OR locked_until_ms != 0 OR checking_until_ms != 0)",
            &[&pool_id, &username_key],
        )
        .await
        .map(|_| ())
        .map_err(pg)
    }

    async fn delete_user(&self, pool_id: &str, username_key: &str) -> StoreResult<()> {
        let c = self.client().await?;
        // One statement: the user (their children cascade) and their outbox messages.
        let rows = query(
            &c,
            "WITH gone AS (DELETE FROM users WHERE pool_id = $1 AND username_key = $2 RETURNING 1), \
             messages AS (DELETE FROM outbox WHERE pool_id = $1 AND username_key = $2 \
                          AND EXISTS (SELECT 1 FROM gone)) \
             SELECT 1 FROM gone",
            &[&pool_id, &username_key],
        )
        .await
        .map_err(pg)?;
        one_row(u64::try_from(rows.len()).unwrap_or(0))
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
        let c = self.client().await?;
        let rows_found: Vec<UserRecord> = match filter {
            None => rows(
                query(
                    &c,
                    concat!(
                        "SELECT ",
                        user_columns_u!(),
                        " FROM users u WHERE u.pool_id = $1 AND u.username_key > $2 ORDER BY u.username_key LIMIT $3"
                    ),
                    &[&pool_id, &after, &lim],
                )
                .await
                .map_err(pg)?,
                user_from_row,
            )?,
            Some(f) if matches!(f.attribute.as_str(), "sub" | "cognito:user_status" | "status") => {
                let column_sql = match f.attribute.as_str() {
                    "sub" => "u.sub",
                    "cognito:user_status" => "u.status",
                    _ => "(CASE WHEN u.enabled THEN 'Enabled' ELSE 'Disabled' END) COLLATE \"C\"",
                };
                let end = prefix_end(&f.value);
                let found = if f.prefix {
                    let sql = format!(
                        "SELECT {USER_COLUMNS_U} FROM users u WHERE u.pool_id = $1 AND u.username_key > $2 \
                         AND {column_sql} >= $4::text AND {column_sql} < $5::text ORDER BY u.username_key LIMIT $3"
                    );
                    query(&c, &sql, &[&pool_id, &after, &lim, &f.value, &end]).await
                } else {
                    let sql = format!(
                        "SELECT {USER_COLUMNS_U} FROM users u WHERE u.pool_id = $1 AND u.username_key > $2 \
                         AND {column_sql} = $4::text ORDER BY u.username_key LIMIT $3"
                    );
                    query(&c, &sql, &[&pool_id, &after, &lim, &f.value]).await
                };
                rows(found.map_err(pg)?, user_from_row)?
            }
            Some(f) => {
                // Attribute filters walk the (name, value, user) index in its order, so a
                // page costs its own rows whatever the pool's size; the resume key is
                // "<value>\0<username_key>" (no text value holds a NUL in PostgreSQL).
                let (after_value, after_key) = after.split_once('\u{0}').unwrap_or(("", ""));
                let end = prefix_end(&f.value);
                let head = format!(
                    "SELECT {USER_COLUMNS_U}, s.value FROM user_search s \
                     JOIN users u ON u.pool_id = s.pool_id AND u.username_key = s.username_key \
                     WHERE s.pool_id = $1 AND s.name = $2 AND (s.value, s.username_key) > ($3, $4)"
                );
                let found = if f.prefix {
                    let sql =
                        format!("{head} AND s.value >= $6 AND s.value < $7 ORDER BY s.value, s.username_key LIMIT $5");
                    query(
                        &c,
                        &sql,
                        &[&pool_id, &f.attribute, &after_value, &after_key, &lim, &f.value, &end],
                    )
                    .await
                } else {
                    let sql = format!("{head} AND s.value = $6 ORDER BY s.value, s.username_key LIMIT $5");
                    query(
                        &c,
                        &sql,
                        &[&pool_id, &f.attribute, &after_value, &after_key, &lim, &f.value],
                    )
                    .await
                };
                let found = rows(found.map_err(pg)?, |r| Ok((user_from_row(r)?, col::<String>(r, 17)?)))?;
                let page = page_of(found, limit, |(u, v)| format!("{v}\u{0}{}", u.username_key));
                return Ok(Page {
                    items: page.items.into_iter().map(|(u, _)| u).collect(),
                    next_after: page.next_after,
                });
            }
        };
        Ok(page_of(rows_found, limit, |u| u.username_key.clone()))
    }

    async fn count_users(&self, pool_id: &str) -> StoreResult<i64> {
        let c = self.client().await?;
        let row = query_opt(&c, "SELECT COUNT(*) FROM users WHERE pool_id = $1", &[&pool_id])
            .await
            .map_err(pg)?
            .ok_or_else(|| StoreError::Backend("ST0015 COUNT gave no row".into()))?;
        col(&row, 0)
    }

    async fn put_code(&self, code: &CodeRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            concat!(
                "INSERT INTO codes (",
                code_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (pool_id, username_key, purpose) DO UPDATE SET sealed_code = excluded.sealed_code, \
                 destination = excluded.destination, expires_ms = excluded.expires_ms, \
                 attempts_left = excluded.attempts_left"
            ),
            &[
                &code.pool_id,
                &code.username_key,
                &code.purpose,
                &code.sealed_code,
                &code.destination,
                &code.expires_ms,
                &code.attempts_left,
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            if is_fk_violation(&e) {
                StoreError::NotFound
            } else {
                pg(e)
            }
        })
    }

    async fn get_code(&self, pool_id: &str, username_key: &str, purpose: &str) -> StoreResult<Option<CodeRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                code_columns!(),
                " FROM codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3"
            ),
            &[&pool_id, &username_key, &purpose],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    async fn list_codes(&self, pool_id: &str, username_key: &str) -> StoreResult<Vec<CodeRecord>> {
        let c = self.client().await?;
        rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    code_columns!(),
                    " FROM codes WHERE pool_id = $1 AND username_key = $2 ORDER BY purpose"
                ),
                &[&pool_id, &username_key],
            )
            .await
            .map_err(pg)?,
            code_from_row,
        )
    }

    async fn spend_code_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CodeRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "UPDATE codes SET attempts_left = attempts_left - 1 \
                 WHERE pool_id = $1 AND username_key = $2 AND purpose = $3 AND attempts_left > 0 AND expires_ms > $4 \
                 RETURNING ",
                code_columns!()
            ),
            &[&pool_id, &username_key, &purpose, &now_ms],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    async fn take_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
        sealed_code: &[u8],
    ) -> StoreResult<bool> {
        let c = self.client().await?;
        execute(
            &c,
            "DELETE FROM codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3 AND sealed_code = $4",
            &[&pool_id, &username_key, &purpose, &sealed_code],
        )
        .await
        .map(|n| n == 1)
        .map_err(pg)
    }

    async fn delete_code(&self, pool_id: &str, username_key: &str, purpose: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "DELETE FROM codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3",
            &[&pool_id, &username_key, &purpose],
        )
        .await
        .map(|_| ())
        .map_err(pg)
    }

    async fn put_refresh_token(&self, token: &RefreshRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(&c, INSERT_REFRESH, &refresh_params(token))
            .await
            .map(|_| ())
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StoreError::NotFound
                } else {
                    pg(e)
                }
            })
    }

    async fn rotate_refresh_token(&self, old_hash: &[u8], new: &RefreshRecord, now_ms: i64) -> StoreResult<bool> {
        // READ COMMITTED: the first UPDATE locks the old token's row; a concurrent rotation
        // of it waits, re-checks `rotated_at_ms IS NULL` on the committed row and answers
        // false. The new token commits with the mark.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let rotated = execute(
            &tx,
            "UPDATE refresh_tokens SET rotated_at_ms = $2 WHERE token_hash = $1 AND rotated_at_ms IS NULL",
            &[&old_hash, &now_ms],
        )
        .await
        .map_err(pg)?
            == 1;
        execute(&tx, INSERT_REFRESH, &refresh_params(new)).await.map_err(|e| {
            if is_fk_violation(&e) {
                StoreError::NotFound
            } else {
                pg(e)
            }
        })?;
        tx.commit().await.map_err(pg)?;
        Ok(rotated)
    }

    async fn get_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                refresh_columns!(),
                " FROM refresh_tokens WHERE token_hash = $1"
            ),
            &[&token_hash],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(refresh_from_row)
        .transpose()
    }

    async fn revoke_refresh_token(&self, token_hash: &[u8], origin_jti: &str, expires_ms: i64) -> StoreResult<()> {
        // One statement: the token goes and its family is revoked together.
        let c = self.client().await?;
        execute(
            &c,
            "WITH gone AS (DELETE FROM refresh_tokens WHERE token_hash = $1) \
             INSERT INTO revoked_origins (origin_jti, expires_ms) VALUES ($2, $3) \
             ON CONFLICT (origin_jti) DO UPDATE SET expires_ms = excluded.expires_ms",
            &[&token_hash, &origin_jti, &expires_ms],
        )
        .await
        .map(|_| ())
        .map_err(pg)
    }

    async fn is_origin_revoked(&self, origin_jti: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT 1 FROM revoked_origins WHERE origin_jti = $1",
            &[&origin_jti],
        )
        .await
        .map(|r| r.is_some())
        .map_err(pg)
    }

    async fn sign_out_user(&self, pool_id: &str, username_key: &str, after_ms: i64) -> StoreResult<()> {
        // READ COMMITTED: the instant is raised first (NotFound if the user is gone), then
        // one statement deletes the user's refresh tokens and revokes the family of each
        // token it deleted, so no token is deleted without its family being revoked, even
        // one committed by another node meanwhile.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let n = execute(
            &tx,
            "UPDATE users SET tokens_valid_after_ms = GREATEST(tokens_valid_after_ms, $3) \
             WHERE pool_id = $1 AND username_key = $2",
            &[&pool_id, &username_key, &after_ms],
        )
        .await
        .map_err(pg)?;
        one_row(n)?;
        execute(
            &tx,
            "WITH gone AS (DELETE FROM refresh_tokens WHERE pool_id = $1 AND username_key = $2 \
               RETURNING origin_jti, expires_ms) \
             INSERT INTO revoked_origins (origin_jti, expires_ms) \
             SELECT origin_jti, MAX(GREATEST(expires_ms, $3::bigint + 86400000)) FROM gone GROUP BY origin_jti \
             ON CONFLICT (origin_jti) DO UPDATE SET expires_ms = excluded.expires_ms",
            &[&pool_id, &username_key, &after_ms],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn put_device(&self, d: &DeviceRecord, stale_before_ms: i64) -> StoreResult<()> {
        // READ COMMITTED: the stale issued devices and the new one are independent rows;
        // the two statements only need to commit together.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        execute(
            &tx,
            "DELETE FROM devices WHERE pool_id = $1 AND username_key = $2 AND NOT confirmed AND created_ms < $3",
            &[&d.pool_id, &d.username_key, &stale_before_ms],
        )
        .await
        .map_err(pg)?;
        execute(
            &tx,
            concat!(
                "INSERT INTO devices (",
                device_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)"
            ),
            &[
                &d.pool_id,
                &d.device_key,
                &d.username_key,
                &d.device_group_key,
                &d.confirmed,
                &d.remembered,
                &d.name,
                &d.salt,
                &d.verifier,
                &d.last_ip,
                &d.sdk,
                &d.created_ms,
                &d.modified_ms,
                &d.last_auth_ms,
            ],
        )
        .await
        .map_err(insert_error("device key"))?;
        tx.commit().await.map_err(pg)
    }

    async fn get_device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<DeviceRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                device_columns!(),
                " FROM devices WHERE pool_id = $1 AND device_key = $2"
            ),
            &[&pool_id, &device_key],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(device_from_row)
        .transpose()
    }

    async fn update_device(&self, d: &DeviceRecord) -> StoreResult<()> {
        // One compare-and-set statement; only when it wrote nothing, a second read tells a
        // lost race from a gone device (no transaction needed: either answer is true of
        // some instant after the write was refused).
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE devices SET confirmed = $3, remembered = $4, name = $5, salt = $6, verifier = $7, \
             sdk = $8, modified_ms = $9, version = version + 1 \
             WHERE pool_id = $1 AND device_key = $2 AND version = $10",
            &[
                &d.pool_id,
                &d.device_key,
                &d.confirmed,
                &d.remembered,
                &d.name,
                &d.salt,
                &d.verifier,
                &d.sdk,
                &d.modified_ms,
                &d.version,
            ],
        )
        .await
        .map_err(pg)?;
        if n == 0 {
            return Err(lost_or_gone(
                &c,
                "SELECT 1 FROM devices WHERE pool_id = $1 AND device_key = $2",
                &d.pool_id,
                &d.device_key,
            )
            .await);
        }
        Ok(())
    }

    async fn touch_device(&self, pool_id: &str, device_key: &str, now_ms: i64, ip: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE devices SET last_auth_ms = GREATEST(last_auth_ms, $3), last_ip = $4 \
             WHERE pool_id = $1 AND device_key = $2",
            &[&pool_id, &device_key, &now_ms, &ip],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn delete_device(&self, pool_id: &str, device_key: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "DELETE FROM devices WHERE pool_id = $1 AND device_key = $2",
            &[&pool_id, &device_key],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn list_devices(
        &self,
        pool_id: &str,
        username_key: &str,
        remembered_only: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<DeviceRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    device_columns!(),
                    " FROM devices WHERE pool_id = $1 AND username_key = $2 AND confirmed \
                     AND (remembered OR NOT $3::boolean) AND device_key > $4 ORDER BY device_key LIMIT $5"
                ),
                &[
                    &pool_id,
                    &username_key,
                    &remembered_only,
                    &after.unwrap_or(""),
                    &limit_plus_one(limit),
                ],
            )
            .await
            .map_err(pg)?,
            device_from_row,
        )?;
        Ok(page_of(items, limit, |d| d.device_key.clone()))
    }

    async fn device_group_key(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT device_group_key FROM devices WHERE pool_id = $1 AND username_key = $2 LIMIT 1",
            &[&pool_id, &username_key],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(|r| col(r, 0))
        .transpose()
    }

    async fn consume_state(&self, nonce: &[u8], expires_ms: i64) -> StoreResult<bool> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO consumed_states (nonce, expires_ms) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
            &[&nonce, &expires_ms],
        )
        .await
        .map(|n| n == 1)
        .map_err(pg)
    }

    async fn count_in_window(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<i64> {
        let window_ms = window_ms.max(1);
        let start = now_ms.div_euclid(window_ms).saturating_mul(window_ms);
        let expires = start.saturating_add(window_ms);
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "INSERT INTO rate_counters AS r (key, window_start, count, expires_ms) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN r.window_start = excluded.window_start THEN r.count + 1 ELSE 1 END, \
               window_start = excluded.window_start, expires_ms = excluded.expires_ms \
             RETURNING count",
            &[&key, &start, &expires],
        )
        .await
        .map_err(pg)?
        .ok_or_else(|| StoreError::Backend("ST0015 an upsert returned no row".into()))?;
        col(&row, 0)
    }

    async fn prune_expired(&self, now_ms: i64, limit: usize) -> StoreResult<u64> {
        // Each batch is its own statement (the rows are refused by their expiry already, so
        // nothing needs them to go together); `SKIP LOCKED` lets several nodes prune at
        // once without waiting on each other's batches.
        const PRUNE: [&str; 7] = [
            "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens \
             WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM revoked_origins WHERE origin_jti IN (SELECT origin_jti FROM revoked_origins \
             WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM codes WHERE (pool_id, username_key, purpose) IN (SELECT pool_id, username_key, purpose \
             FROM codes WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM consumed_states WHERE nonce IN (SELECT nonce FROM consumed_states \
             WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM rate_counters WHERE key IN (SELECT key FROM rate_counters \
             WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM auth_events WHERE (pool_id, event_id) IN (SELECT pool_id, event_id FROM auth_events \
             WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ];
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let c = self.client().await?;
        let mut gone = 0u64;
        for sql in PRUNE {
            let n = execute(&c, sql, &[&now_ms, &limit]).await.map_err(pg)?;
            gone = gone.saturating_add(n);
        }
        Ok(gone)
    }

    async fn create_group(&self, g: &GroupRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            concat!(
                "INSERT INTO groups (",
                group_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            &[
                &g.pool_id,
                &g.name,
                &g.description,
                &g.role_arn,
                &g.precedence,
                &g.created_ms,
                &g.modified_ms,
            ],
        )
        .await
        .map(|_| ())
        .map_err(insert_error("group"))
    }

    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<GroupRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups WHERE pool_id = $1 AND name = $2"
            ),
            &[&pool_id, &name],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(group_from_row)
        .transpose()
    }

    async fn update_group(&self, g: &GroupRecord) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE groups SET description = $3, role_arn = $4, precedence = $5, modified_ms = $6 \
             WHERE pool_id = $1 AND name = $2",
            &[
                &g.pool_id,
                &g.name,
                &g.description,
                &g.role_arn,
                &g.precedence,
                &g.modified_ms,
            ],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "DELETE FROM groups WHERE pool_id = $1 AND name = $2",
            &[&pool_id, &name],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn list_groups(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<GroupRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3"
                ),
                &[&pool_id, &after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            group_from_row,
        )?;
        Ok(page_of(items, limit, |g| g.name.clone()))
    }

    async fn add_to_group(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO group_members (pool_id, group_name, username_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&pool_id, &group, &username_key],
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            if is_fk_violation(&e) {
                StoreError::NotFound
            } else {
                pg(e)
            }
        })
    }

    async fn remove_from_group(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND username_key = $3",
            &[&pool_id, &group, &username_key],
        )
        .await
        .map(|_| ())
        .map_err(pg)
    }

    async fn groups_of_user(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    group_columns_g!(),
                    " FROM group_members m JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name \
                     WHERE m.pool_id = $1 AND m.username_key = $2 AND m.group_name > $3 ORDER BY m.group_name LIMIT $4"
                ),
                &[&pool_id, &username_key, &after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            group_from_row,
        )?;
        Ok(page_of(items, limit, |g| g.name.clone()))
    }

    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    user_columns_u!(),
                    " FROM group_members m JOIN users u ON u.pool_id = m.pool_id AND u.username_key = m.username_key \
                     WHERE m.pool_id = $1 AND m.group_name = $2 AND m.username_key > $3 ORDER BY m.username_key LIMIT $4"
                ),
                &[&pool_id, &group, &after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            user_from_row,
        )?;
        Ok(page_of(items, limit, |u| u.username_key.clone()))
    }

    async fn put_message(&self, m: &MessageRecord) -> StoreResult<i64> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "INSERT INTO outbox (pool_id, username_key, username, channel, destination, subject, sealed_body, \
             kind, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                &m.pool_id,
                &m.username_key,
                &m.username,
                &m.channel,
                &m.destination,
                &m.subject,
                &m.sealed_body,
                &m.kind,
                &m.created_ms,
                &m.expires_ms,
            ],
        )
        .await
        .map_err(pg)?
        .ok_or_else(|| StoreError::Backend("ST0015 an insert returned no row".into()))?;
        col(&row, 0)
    }

    async fn list_messages(
        &self,
        pool_id: &str,
        username_key: Option<&str>,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let c = self.client().await?;
        rows(
            query(
                &c,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM outbox WHERE pool_id = $1 AND ($2::text IS NULL OR username_key = $2::text) AND id > $3 \
                     ORDER BY id LIMIT $4"
                ),
                &[&pool_id, &username_key, &after, &limit],
            )
            .await
            .map_err(pg)?,
            message_from_row,
        )
    }

    async fn put_auth_event(&self, e: &AuthEventRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO auth_events (pool_id, username_key, event_id, created_ms, body, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &e.pool_id,
                &e.username_key,
                &e.event_id,
                &e.created_ms,
                &e.body,
                &e.expires_ms,
            ],
        )
        .await
        .map(|_| ())
        .map_err(insert_error("event"))
    }

    async fn get_auth_event(
        &self,
        pool_id: &str,
        username_key: &str,
        event_id: &str,
    ) -> StoreResult<Option<AuthEventRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!(
                "SELECT {AUTH_EVENT_COLUMNS} FROM auth_events \
                 WHERE pool_id = $1 AND event_id = $2 AND username_key = $3"
            ),
            &[&pool_id, &event_id, &username_key],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(auth_event_from_row)
        .transpose()
    }

    async fn replace_auth_event(&self, e: &AuthEventRecord) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE auth_events SET body = $4 WHERE pool_id = $1 AND event_id = $2 AND username_key = $3",
            &[&e.pool_id, &e.event_id, &e.username_key, &e.body],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn list_auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> StoreResult<Page<AuthEventRecord>> {
        let (after_ms, after_id) = after.unwrap_or((i64::MAX, ""));
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                &format!(
                    "SELECT {AUTH_EVENT_COLUMNS} FROM auth_events \
                     WHERE pool_id = $1 AND username_key = $2 \
                       AND (created_ms < $3 OR (created_ms = $3 AND event_id < $4)) \
                     ORDER BY created_ms DESC, event_id DESC LIMIT $5"
                ),
                &[&pool_id, &username_key, &after_ms, &after_id, &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            auth_event_from_row,
        )?;
        Ok(page_of(items, limit, |e| format!("{}:{}", e.created_ms, e.event_id)))
    }

    async fn create_object(&self, o: &ObjectRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO pool_objects (kind, scope, name, pool_id, body, created_ms, modified_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &o.kind.as_str(),
                &o.kind.scope(&o.pool_id),
                &o.name,
                &o.pool_id,
                &o.body,
                &o.created_ms,
                &o.modified_ms,
            ],
        )
        .await
        .map(|_| ())
        .map_err(insert_error("object"))
    }

    async fn get_object(&self, kind: ObjectKind, pool_id: &str, name: &str) -> StoreResult<Option<ObjectRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {OBJECT_COLUMNS} FROM pool_objects WHERE kind = $1 AND scope = $2 AND name = $3"),
            &[&kind.as_str(), &kind.scope(pool_id), &name],
        )
        .await
        .map_err(pg)?
        .as_ref()
        .map(object_from_row)
        .transpose()
    }

    async fn replace_object(&self, o: &ObjectRecord) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE pool_objects SET body = $4, modified_ms = $5 WHERE kind = $1 AND scope = $2 AND name = $3",
            &[
                &o.kind.as_str(),
                &o.kind.scope(&o.pool_id),
                &o.name,
                &o.body,
                &o.modified_ms,
            ],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn replace_object_if(&self, o: &ObjectRecord, read: &ObjectRecord) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE pool_objects SET body = $4, modified_ms = $5 \
             WHERE kind = $1 AND scope = $2 AND name = $3 AND body = $6 AND modified_ms = $7",
            &[
                &o.kind.as_str(),
                &o.kind.scope(&o.pool_id),
                &o.name,
                &o.body,
                &o.modified_ms,
                &read.body,
                &read.modified_ms,
            ],
        )
        .await
        .map_err(pg)?;
        if n == 0 {
            let found = query_opt(
                &c,
                "SELECT 1 FROM pool_objects WHERE kind = $1 AND scope = $2 AND name = $3",
                &[&o.kind.as_str(), &o.kind.scope(&o.pool_id), &o.name],
            )
            .await
            .map_err(pg)?;
            return Err(match found {
                Some(_) => StoreError::Conflict(crate::VERSION_CONFLICT),
                None => StoreError::NotFound,
            });
        }
        Ok(())
    }

    async fn delete_object(&self, kind: ObjectKind, pool_id: &str, name: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "DELETE FROM pool_objects WHERE kind = $1 AND scope = $2 AND name = $3",
            &[&kind.as_str(), &kind.scope(pool_id), &name],
        )
        .await
        .map_err(pg)?;
        one_row(n)
    }

    async fn list_objects(
        &self,
        kind: ObjectKind,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<ObjectRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM pool_objects WHERE pool_id = $1 AND kind = $2 AND name > $3 \
                     ORDER BY name LIMIT $4"
                ),
                &[&pool_id, &kind.as_str(), &after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            object_from_row,
        )?;
        Ok(page_of(items, limit, |o| o.name.clone()))
    }

    async fn list_global_objects(
        &self,
        kind: ObjectKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<ObjectRecord>> {
        let c = self.client().await?;
        let items = rows(
            query(
                &c,
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM pool_objects WHERE kind = $1 AND scope = '' AND name > $2 \
                     ORDER BY name LIMIT $3"
                ),
                &[&kind.as_str(), &after.unwrap_or(""), &limit_plus_one(limit)],
            )
            .await
            .map_err(pg)?,
            object_from_row,
        )?;
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
        // READ COMMITTED: each user is inserted under a savepoint, so a clash undoes that
        // user alone; the job's compare-and-set comes last and decides for the batch
        // (dropped uncommitted, the transaction rolls back).
        let mut c = self.client().await?;
        let mut tx = c.transaction().await.map_err(pg)?;
        let mut outcomes = Vec::with_capacity(users.len());
        for (user, attributes) in users.iter().zip(&encoded) {
            let sp = tx.transaction().await.map_err(pg)?;
            let written = match insert_user(&sp, user, attributes).await {
                Ok(()) => write_lookups(&sp, user, false).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {
                    sp.commit().await.map_err(pg)?;
                    outcomes.push(ImportOutcome::Created);
                }
                Err(e @ StoreError::Conflict(_)) => {
                    sp.rollback().await.map_err(pg)?;
                    outcomes.push(match e {
                        StoreError::Conflict("alias") => ImportOutcome::AliasExists,
                        _ => ImportOutcome::UsernameExists,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        set_object_if(&tx, job, &job_body(&outcomes), expected).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcomes)
    }

    async fn put_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO signing_keys (pool_id, kid, token_use, sealed_private, public_n, public_e, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &key.pool_id,
                &key.kid,
                &key.token_use,
                &key.sealed_private,
                &key.public_n,
                &key.public_e,
                &key.created_ms,
            ],
        )
        .await
        .map(|_| ())
        .map_err(insert_error("kid"))
    }

    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRecord>> {
        let c = self.client().await?;
        rows(
            query(
                &c,
                "SELECT pool_id, kid, token_use, sealed_private, public_n, public_e, created_ms FROM signing_keys \
                 WHERE pool_id = $1 ORDER BY created_ms, kid",
                &[&pool_id],
            )
            .await
            .map_err(pg)?,
            |r| {
                Ok(SigningKeyRecord {
                    pool_id: col(r, 0)?,
                    kid: col(r, 1)?,
                    token_use: col(r, 2)?,
                    sealed_private: col(r, 3)?,
                    public_n: col(r, 4)?,
                    public_e: col(r, 5)?,
                    created_ms: col(r, 6)?,
                })
            },
        )
    }
}
