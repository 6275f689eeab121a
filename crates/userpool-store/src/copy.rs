//! `userpool copy`: a whole store from one engine to another (SQLite file ⇄ PostgreSQL
//! URL, and SQLite → SQLite, PostgreSQL → PostgreSQL).
//!
//! The rows travel in a neutral form ([`Cell`]): every table of [`TABLES`] is read whole
//! from the source, in dependency order, and written into the target in one transaction
//! (batched on PostgreSQL). A flag is `BOOLEAN` in PostgreSQL and `INTEGER` 0/1 in
//! SQLite; the column list says which, so both sides read it as [`Cell::Bool`]. The
//! outbox ids are copied as they are; PostgreSQL's identity sequence is then moved past
//! the largest (SQLite's `AUTOINCREMENT` follows an explicit id by itself).
//!
//! The copy is verified: each table's row count and SHA-256 over the canonical encoding of
//! its rows (sorted, so the engines' orders do not matter) are computed on both sides after
//! the commit and must agree. A target that holds any row is refused unless `force`, which
//! empties it (in the same transaction) first.

use crate::postgres::{PgOptions, PostgresStore};
use crate::sqlite::{Durability, SqliteStore};
use crate::{StoreError, StoreResult};
use sha2::{Digest, Sha256};
use std::path::Path;

/// One value of a row, as both engines can hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// `INTEGER` / `BIGINT`.
    Int(i64),
    /// `TEXT`.
    Text(String),
    /// `BLOB` / `BYTEA`.
    Bytes(Vec<u8>),
    /// `INTEGER` 0/1 in SQLite, `BOOLEAN` in PostgreSQL.
    Bool(bool),
}

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
    Bool,
}

/// A table copied: its name and columns (each engine's schema has exactly these).
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
}

use Kind::{Bool, Bytes, Int, Text};

/// Every table of the store, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "user_pools",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("created_ms", Int),
            ("modified_ms", Int),
            ("settings", Text),
        ],
    },
    Table {
        name: "app_clients",
        columns: &[
            ("client_id", Text),
            ("pool_id", Text),
            ("name", Text),
            ("created_ms", Int),
            ("modified_ms", Int),
            ("secret", Bytes),
            ("settings", Text),
        ],
    },
    Table {
        name: "users",
        columns: &[
            ("pool_id", Text),
            ("username_key", Text),
            ("username", Text),
            ("sub", Text),
            ("status", Text),
            ("enabled", Bool),
            ("created_ms", Int),
            ("modified_ms", Int),
            ("attributes", Text),
            ("password_salt", Bytes),
            ("password_verifier", Bytes),
            ("password_set_ms", Int),
            ("failed_attempts", Int),
            ("locked_until_ms", Int),
            ("tokens_valid_after_ms", Int),
            ("version", Int),
            ("checking_until_ms", Int),
            ("mfa", Text),
            ("totp_last_step", Int),
        ],
    },
    Table {
        name: "user_aliases",
        columns: &[("pool_id", Text), ("alias_key", Text), ("username_key", Text)],
    },
    Table {
        name: "user_search",
        columns: &[
            ("pool_id", Text),
            ("name", Text),
            ("value", Text),
            ("username_key", Text),
        ],
    },
    Table {
        name: "codes",
        columns: &[
            ("pool_id", Text),
            ("username_key", Text),
            ("purpose", Text),
            ("sealed_code", Bytes),
            ("destination", Text),
            ("expires_ms", Int),
            ("attempts_left", Int),
        ],
    },
    Table {
        name: "refresh_tokens",
        columns: &[
            ("token_hash", Bytes),
            ("pool_id", Text),
            ("username_key", Text),
            ("client_id", Text),
            ("device_key", Text),
            ("origin_jti", Text),
            ("auth_time", Int),
            ("created_ms", Int),
            ("expires_ms", Int),
            ("rotated_at_ms", Int),
            ("scope", Text),
        ],
    },
    Table {
        name: "revoked_origins",
        columns: &[("origin_jti", Text), ("expires_ms", Int)],
    },
    Table {
        name: "signing_keys",
        columns: &[
            ("pool_id", Text),
            ("kid", Text),
            ("token_use", Text),
            ("sealed_private", Bytes),
            ("public_n", Bytes),
            ("public_e", Bytes),
            ("created_ms", Int),
        ],
    },
    Table {
        name: "devices",
        columns: &[
            ("pool_id", Text),
            ("device_key", Text),
            ("username_key", Text),
            ("device_group_key", Text),
            ("confirmed", Bool),
            ("remembered", Bool),
            ("name", Text),
            ("salt", Bytes),
            ("verifier", Bytes),
            ("last_ip", Text),
            ("sdk", Text),
            ("created_ms", Int),
            ("modified_ms", Int),
            ("last_auth_ms", Int),
            ("version", Int),
        ],
    },
    Table {
        name: "consumed_states",
        columns: &[("nonce", Bytes), ("expires_ms", Int)],
    },
    Table {
        name: "groups",
        columns: &[
            ("pool_id", Text),
            ("name", Text),
            ("description", Text),
            ("role_arn", Text),
            ("precedence", Int),
            ("created_ms", Int),
            ("modified_ms", Int),
        ],
    },
    Table {
        name: "group_members",
        columns: &[("pool_id", Text), ("group_name", Text), ("username_key", Text)],
    },
    Table {
        name: "rate_counters",
        columns: &[
            ("key", Text),
            ("window_start", Int),
            ("count", Int),
            ("expires_ms", Int),
        ],
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("pool_id", Text),
            ("username_key", Text),
            ("username", Text),
            ("channel", Text),
            ("destination", Text),
            ("subject", Text),
            ("sealed_body", Bytes),
            ("kind", Text),
            ("created_ms", Int),
            ("expires_ms", Int),
        ],
    },
    Table {
        name: "pool_objects",
        columns: &[
            ("kind", Text),
            ("scope", Text),
            ("name", Text),
            ("pool_id", Text),
            ("body", Text),
            ("created_ms", Int),
            ("modified_ms", Int),
        ],
    },
    Table {
        name: "auth_events",
        columns: &[
            ("pool_id", Text),
            ("username_key", Text),
            ("event_id", Text),
            ("created_ms", Int),
            ("body", Text),
            ("expires_ms", Int),
        ],
    },
];

/// Rows rendered per PostgreSQL `INSERT` (bounded by the 65535 parameters a statement takes).
const PG_BATCH_ROWS: usize = 500;

/// One table's verified copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table.
    pub table: &'static str,
    /// Its rows, the same on both sides.
    pub rows: u64,
    /// The SHA-256 of its rows' canonical encoding, hex, the same on both sides.
    pub checksum: String,
}

/// What [`copy_store`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Every table, in copy order.
    pub tables: Vec<TableReport>,
}

impl CopyReport {
    /// The report as JSON (`{"tables": [{"table", "rows", "checksum"}, ...]}`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "tables": self.tables.iter().map(|t| serde_json::json!({
                "table": t.table,
                "rows": t.rows,
                "checksum": t.checksum,
            })).collect::<Vec<_>>(),
        })
    }
}

/// One side of a copy: an open store of either engine.
pub enum Endpoint<'a> {
    /// An SQLite store.
    Sqlite(&'a SqliteStore),
    /// A PostgreSQL store.
    Postgres(&'a PostgresStore),
}

fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

enum Opened {
    Sqlite(Box<SqliteStore>),
    Postgres(PostgresStore),
}

impl Opened {
    async fn open(location: &str, options: &PgOptions) -> StoreResult<Self> {
        if is_url(location) {
            Ok(Opened::Postgres(
                PostgresStore::connect_with(location, None, options).await?,
            ))
        } else {
            Ok(Opened::Sqlite(Box::new(SqliteStore::open(
                Path::new(location),
                Durability::Full,
            )?)))
        }
    }

    fn endpoint(&self) -> Endpoint<'_> {
        match self {
            Opened::Sqlite(s) => Endpoint::Sqlite(s),
            Opened::Postgres(s) => Endpoint::Postgres(s),
        }
    }
}

/// Copies the whole store at `from` into the store at `to`, each an SQLite file path or a
/// `postgres://` URL (the target is created and migrated if needed), then verifies both
/// hold the same rows. Refuses a target holding any row unless `force` (which replaces its
/// content). `options` apply to each PostgreSQL side.
pub async fn copy_store(from: &str, to: &str, force: bool, options: &PgOptions) -> StoreResult<CopyReport> {
    if from == to {
        return Err(StoreError::Backend(
            "ST0030 the source and the target are the same store".into(),
        ));
    }
    if !is_url(from) && !Path::new(from).exists() {
        return Err(StoreError::Backend(format!("ST0034 no data file at {from}")));
    }
    let source = Opened::open(from, options).await?;
    let target = Opened::open(to, options).await?;
    copy_between(source.endpoint(), target.endpoint(), force).await
}

/// [`copy_store`] between stores already open.
pub async fn copy_between(from: Endpoint<'_>, to: Endpoint<'_>, force: bool) -> StoreResult<CopyReport> {
    if !force {
        for t in TABLES {
            if count(&to, t).await? > 0 {
                return Err(StoreError::Backend(format!(
                    "ST0031 the target store is not empty (table {} has rows); --force replaces its content",
                    t.name
                )));
            }
        }
    }
    let mut data = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        data.push(read_all(&from, t).await?);
    }
    write_all(&to, &data, force).await?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for (t, rows) in TABLES.iter().zip(&data) {
        let (n, sum) = digest(rows);
        let (tn, tsum) = digest(&read_all(&to, t).await?);
        // Re-read the source too: a store changed under the copy shows here.
        let (sn, ssum) = digest(&read_all(&from, t).await?);
        if (n, &sum) != (tn, &tsum) || (n, &sum) != (sn, &ssum) {
            return Err(StoreError::Backend(format!(
                "ST0032 table {} differs after the copy: source {sn} rows ({ssum}), target {tn} rows ({tsum})",
                t.name
            )));
        }
        tables.push(TableReport {
            table: t.name,
            rows: n,
            checksum: sum,
        });
    }
    Ok(CopyReport { tables })
}

/// The row count and hex SHA-256 of `rows`, independent of their order.
fn digest(rows: &[Vec<Cell>]) -> (u64, String) {
    let mut encoded: Vec<Vec<u8>> = rows.iter().map(|r| encode(r)).collect();
    encoded.sort_unstable();
    let mut h = Sha256::new();
    for e in &encoded {
        h.update((e.len() as u64).to_be_bytes());
        h.update(e);
    }
    let sum = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (encoded.len() as u64, sum)
}

fn encode(row: &[Cell]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in row {
        match c {
            Cell::Null => out.push(0),
            Cell::Int(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_be_bytes());
            }
            Cell::Text(s) => {
                out.push(2);
                out.extend_from_slice(&(s.len() as u64).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Cell::Bytes(b) => {
                out.push(3);
                out.extend_from_slice(&(b.len() as u64).to_be_bytes());
                out.extend_from_slice(b);
            }
            Cell::Bool(b) => {
                out.push(4);
                out.push(u8::from(*b));
            }
        }
    }
    out
}

fn column_list(t: &Table) -> String {
    t.columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn count(side: &Endpoint<'_>, t: &Table) -> StoreResult<i64> {
    let sql = format!("SELECT COUNT(*) FROM {}", t.name);
    match side {
        Endpoint::Sqlite(s) => s.read_conn(|c| c.query_row(&sql, [], |r| r.get(0)).map_err(sqlite_err)),
        Endpoint::Postgres(s) => {
            let c = s.raw_client().await?;
            let row = c.query_one(sql.as_str(), &[]).await.map_err(pg_err)?;
            row.try_get(0).map_err(pg_err)
        }
    }
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("{}: {}", db.code().code(), db.message())),
        None => StoreError::Backend(e.to_string()),
    }
}

async fn read_all(side: &Endpoint<'_>, t: &Table) -> StoreResult<Vec<Vec<Cell>>> {
    let sql = format!("SELECT {} FROM {}", column_list(t), t.name);
    match side {
        Endpoint::Sqlite(s) => s.read_conn(|c| {
            let mut stmt = c.prepare(&sql).map_err(sqlite_err)?;
            let mut rows = stmt.query([]).map_err(sqlite_err)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(sqlite_err)? {
                let mut row = Vec::with_capacity(t.columns.len());
                for (i, (name, kind)) in t.columns.iter().enumerate() {
                    use rusqlite::types::Value;
                    let v: Value = r.get(i).map_err(sqlite_err)?;
                    row.push(match (v, kind) {
                        (Value::Null, _) => Cell::Null,
                        (Value::Integer(n), Kind::Int) => Cell::Int(n),
                        (Value::Integer(n), Kind::Bool) => Cell::Bool(n != 0),
                        (Value::Text(s), Kind::Text) => Cell::Text(s),
                        (Value::Blob(b), Kind::Bytes) => Cell::Bytes(b),
                        (v, _) => {
                            return Err(StoreError::Backend(format!(
                                "ST0033 {}.{name} holds an unexpected value {v:?}",
                                t.name
                            )))
                        }
                    });
                }
                out.push(row);
            }
            Ok(out)
        }),
        Endpoint::Postgres(s) => {
            let c = s.raw_client().await?;
            let rows = c.query(sql.as_str(), &[]).await.map_err(pg_err)?;
            rows.iter()
                .map(|r| {
                    t.columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, kind))| {
                            Ok(match kind {
                                Kind::Int => r.try_get::<_, Option<i64>>(i).map_err(pg_err)?.map(Cell::Int),
                                Kind::Text => r.try_get::<_, Option<String>>(i).map_err(pg_err)?.map(Cell::Text),
                                Kind::Bytes => r.try_get::<_, Option<Vec<u8>>>(i).map_err(pg_err)?.map(Cell::Bytes),
                                Kind::Bool => r.try_get::<_, Option<bool>>(i).map_err(pg_err)?.map(Cell::Bool),
                            }
                            .unwrap_or(Cell::Null))
                        })
                        .collect()
                })
                .collect()
        }
    }
}

async fn write_all(side: &Endpoint<'_>, data: &[Vec<Vec<Cell>>], replace: bool) -> StoreResult<()> {
    match side {
        Endpoint::Sqlite(s) => s.write_conn(|c| {
            let tx = c.transaction().map_err(sqlite_err)?;
            if replace {
                for t in TABLES.iter().rev() {
                    tx.execute(&format!("DELETE FROM {}", t.name), []).map_err(sqlite_err)?;
                }
            }
            for (t, rows) in TABLES.iter().zip(data) {
                let marks = vec!["?"; t.columns.len()].join(", ");
                let sql = format!("INSERT INTO {} ({}) VALUES ({marks})", t.name, column_list(t));
                let mut stmt = tx.prepare(&sql).map_err(sqlite_err)?;
                for row in rows {
                    let values = row.iter().map(|c| match c {
                        Cell::Null => rusqlite::types::Value::Null,
                        Cell::Int(i) => rusqlite::types::Value::Integer(*i),
                        Cell::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
                        Cell::Text(s) => rusqlite::types::Value::Text(s.clone()),
                        Cell::Bytes(b) => rusqlite::types::Value::Blob(b.clone()),
                    });
                    stmt.execute(rusqlite::params_from_iter(values)).map_err(sqlite_err)?;
                }
            }
            tx.commit().map_err(sqlite_err)
        }),
        Endpoint::Postgres(s) => {
            let mut c = s.raw_client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            if replace {
                let names = TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
                tx.batch_execute(&format!("TRUNCATE {names}")).await.map_err(pg_err)?;
            }
            for (t, rows) in TABLES.iter().zip(data) {
                let per = t.columns.len().max(1);
                for chunk in rows.chunks(PG_BATCH_ROWS) {
                    let values = (0..chunk.len())
                        .map(|r| {
                            let marks = (1..=per).map(|i| format!("${}", r * per + i)).collect::<Vec<_>>();
                            format!("({})", marks.join(", "))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!("INSERT INTO {} ({}) VALUES {values}", t.name, column_list(t));
                    let mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
                    for row in chunk {
                        for (cell, (_, kind)) in row.iter().zip(t.columns) {
                            params.push(pg_param(cell, *kind));
                        }
                    }
                    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                        .iter()
                        .map(|p| &**p as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    tx.execute(sql.as_str(), &refs).await.map_err(pg_err)?;
                }
            }
            // The next outbox id follows the largest copied.
            tx.batch_execute(
                "SELECT setval(pg_get_serial_sequence('outbox', 'id'), COALESCE((SELECT MAX(id) FROM outbox), 0) + 1, false)",
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)
        }
    }
}

/// A cell as a parameter typed by its column (a NULL must still carry the column's type).
fn pg_param(cell: &Cell, kind: Kind) -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
    match (cell, kind) {
        (Cell::Int(i), _) => Box::new(*i),
        (Cell::Bool(b), _) => Box::new(*b),
        (Cell::Text(s), _) => Box::new(s.clone()),
        (Cell::Bytes(b), _) => Box::new(b.clone()),
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
    }
}
