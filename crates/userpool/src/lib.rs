//! userpool: one binary that speaks the Amazon Cognito user pools API (`cognito-idp`,
//! AWS JSON 1.1) faithfully enough that the AWS SDKs, the AWS CLI and the Cognito client
//! libraries work against it unchanged.
//!
//! Architecture (each layer knows only the one below it):
//! - [`server`]: HTTP/1.1, body limit, request id, panic catching; hands
//!   `(Operation, JSON)` on;
//! - [`protocol`]: AWS JSON 1.1 framing and the one rendering of errors;
//! - [`ops`]: one plain async function per operation, typed request → typed response or
//!   [`error::CognitoError`], in area files (`ops/user_pools.rs`, `ops/app_clients.rs`);
//! - `userpool-store`: the `Store` trait and its SQLite implementation;
//! - `userpool-model`: the wire types, generated from the pinned model.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod codes;
pub mod error;
pub mod ids;
pub mod lambda;
pub mod limits;
pub mod ops;
pub mod outbox;
pub mod passwords;
pub mod protocol;
pub mod seal;
pub mod server;
pub mod tokens;
pub mod totp;
pub mod triggers;
pub mod web;

use app::{App, Config};
use cli::ServeArgs;
use std::sync::Arc;
use userpool_store::postgres::PostgresStore;
use userpool_store::sqlite::{Durability, SqliteStore};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("cannot open the store {path}: {source}")]
    Store {
        /// The data file or the database URL (without its password).
        path: String,
        /// The cause.
        source: userpool_store::StoreError,
    },
    /// `userpool copy` failed.
    #[error("cannot copy {from} to {to}: {source}")]
    Copy {
        /// The source store.
        from: String,
        /// The target store.
        to: String,
        /// The cause.
        source: userpool_store::StoreError,
    },
    /// The data key could not be loaded.
    #[error(transparent)]
    Key(#[from] seal::SealError),
    /// The identities file was refused.
    #[error("identities file {path}: {message}")]
    Iam {
        /// The file.
        path: String,
        /// What is wrong, with the place in the file.
        message: String,
    },
    /// The default credentials on a non-loopback address.
    #[error(
        "refusing to listen on {0} with the default test/test credentials: give --iam PATH, or --allow-default-credentials"
    )]
    DefaultCredentialsExposed(std::net::SocketAddr),
    /// `--database` without a shared data key.
    #[error("--database needs --data-key-file (or USERPOOL_DATA_KEY_FILE): every node must seal with the same key")]
    NoSharedKey,
    /// `--smtp-url` was refused.
    #[error("{0}")]
    Smtp(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Opens the store, binds the address, logs the endpoint and serves until `shutdown`,
/// then finishes the requests in flight (see [`server::serve`]).
pub async fn run(args: ServeArgs, shutdown: impl std::future::Future<Output = ()>) -> Result<(), StartError> {
    let durability = match args.sync {
        cli::Sync::Normal => Durability::Normal,
        cli::Sync::Full => Durability::Full,
    };
    let store: Arc<dyn userpool_store::Store> = match &args.database {
        Some(url) => {
            if args.data_key_file.is_none() {
                return Err(StartError::NoSharedKey);
            }
            Arc::new(
                PostgresStore::connect_with(url, None, &args.pg.options())
                    .await
                    .map_err(|source| StartError::Store {
                        path: redact(url),
                        source,
                    })?,
            )
        }
        None => Arc::new(
            SqliteStore::open(&args.data, durability).map_err(|source| StartError::Store {
                path: args.data.display().to_string(),
                source,
            })?,
        ),
    };
    let key_file = key_file(&args.data, args.data_key_file.as_ref());
    let sealer = seal::Sealer::load_or_create(&key_file)?;
    let identities = load_identities(&args)?;
    let mailer = match &args.smtp_url {
        Some(url) => Some(outbox::Mailer::new(url).map_err(StartError::Smtp)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: args.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: args.listen,
        source,
    })?;
    let public_url = match &args.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{addr}"),
    };
    let app = Arc::new(App {
        store,
        config: Config {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            max_body_bytes: args.max_body_bytes,
            public_url,
            trust_forwarded_for: args.trust_x_forwarded_for,
            log_delivery_dir: args.log_delivery_dir.clone(),
            import_lease_ms: i64::from(args.import_lease_seconds) * 1000,
        },
        sealer,
        auth: auth::sigv4::Authenticator::new(identities, &args.account_id, args.max_clock_skew_seconds),
        keys: tokens::keys::KeyRing::default(),
        mailer,
        lambda: Arc::new(lambda::AwsLambda::new(
            args.lambda.lambda_endpoint.clone(),
            args.lambda.credentials(),
        )),
        pools: std::sync::RwLock::default(),
        node_id: ids::uuid().to_string(),
        import_runs: std::sync::Mutex::default(),
    });
    let data = match &args.database {
        Some(url) => redact(url),
        None => args.data.display().to_string(),
    };
    tracing::info!(endpoint = %format!("http://{addr}"), data = %data, region = %args.region, "userpool listening");
    let pruner = tokio::spawn(prune_expired(app.store.clone()));
    // SQLite: this process holds the data file's lock, so an unfinished import job's
    // lease is a dead process's.
    let imports = tokio::spawn(ops::import::runner::supervise(app.clone(), args.database.is_none()));
    let grace = std::time::Duration::from_secs(args.shutdown_grace_seconds);
    server::serve(app, listener, shutdown, grace).await;
    pruner.abort();
    imports.abort();
    tracing::info!("userpool stopped");
    Ok(())
}

/// Once a minute, deletes the rows that only their expiry still refuses (refresh tokens,
/// revoked token families, codes, consumed sign-in states), a batch of 1,000 per table in
/// one short write at a time, so a long-running server's tables hold only live rows.
async fn prune_expired(store: Arc<dyn userpool_store::Store>) {
    const BATCH: usize = 1000;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        // The clock is read once per pass: rows expiring during it wait for the next one.
        let now_ms = clock::now_ms();
        let mut total = 0u64;
        loop {
            match store.prune_expired(now_ms, BATCH).await {
                Ok(0) => break,
                Ok(n) => total = total.saturating_add(n),
                Err(e) => {
                    tracing::warn!(error = %e, "pruning expired rows failed; retrying in a minute");
                    break;
                }
            }
            // Let requests in between batches.
            tokio::task::yield_now().await;
        }
        if total > 0 {
            tracing::info!(rows = total, "pruned expired rows");
        }
    }
}

/// The identities of `--iam`, or the default one (refused off loopback unless allowed).
fn load_identities(args: &ServeArgs) -> Result<Vec<userpool_iam::Identity>, StartError> {
    match &args.iam {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| StartError::Iam {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let ids = userpool_iam::load(&text).map_err(|e| StartError::Iam {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            tracing::info!(identities = ids.len(), file = %path.display(), "loaded IAM identities");
            Ok(ids)
        }
        None => {
            if !args.listen.ip().is_loopback() && !args.allow_default_credentials {
                return Err(StartError::DefaultCredentialsExposed(args.listen));
            }
            tracing::warn!(
                "no --iam file: accepting access key 'test' with secret 'test' and full access (local use only)"
            );
            Ok(vec![userpool_iam::default_identity()])
        }
    }
}

fn key_file(data: &std::path::Path, given: Option<&std::path::PathBuf>) -> std::path::PathBuf {
    given.cloned().unwrap_or_else(|| {
        let mut p = data.to_path_buf().into_os_string();
        p.push(".key");
        p.into()
    })
}

/// A database URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_string(),
    }
}

/// Opens the store for reading beside a running server (the SQLite file, or the
/// PostgreSQL database), with its data key.
async fn open_for_reading(
    data: &std::path::Path,
    database: Option<&str>,
    pg: &cli::PgArgs,
    key: Option<&std::path::PathBuf>,
) -> Result<(Arc<dyn userpool_store::Store>, seal::Sealer), StartError> {
    let store: Arc<dyn userpool_store::Store> = match database {
        Some(url) => Arc::new(
            PostgresStore::connect_with(url, None, &pg.options())
                .await
                .map_err(|source| StartError::Store {
                    path: redact(url),
                    source,
                })?,
        ),
        None => Arc::new(SqliteStore::open_for_reading(data).map_err(|source| StartError::Store {
            path: data.display().to_string(),
            source,
        })?),
    };
    let sealer = seal::Sealer::load_or_create(&key_file(data, key))?;
    Ok((store, sealer))
}

/// The user a command names: the username (as given, then lowercased), an alias or the sub.
async fn find_user(
    store: &dyn userpool_store::Store,
    pool: &str,
    name: &str,
) -> Result<Option<userpool_store::UserRecord>, userpool_store::StoreError> {
    let mut user = store.get_user(pool, name).await?;
    if user.is_none() {
        user = store.get_user(pool, &name.to_lowercase()).await?;
    }
    for attr in ["email", "phone_number", "preferred_username"] {
        if user.is_none() {
            user = store
                .find_user_by_alias(pool, &ops::users::alias_key(attr, name))
                .await?;
        }
    }
    if user.is_none() {
        user = store.find_user_by_sub(pool, name).await?;
    }
    Ok(user)
}

/// `userpool codes`: the live codes of a user, as a JSON array.
pub async fn codes(args: cli::CodesArgs, now_ms: i64) -> Result<String, StartError> {
    let (store, sealer) = open_for_reading(
        &args.data,
        args.database.as_deref(),
        &args.pg,
        args.data_key_file.as_ref(),
    )
    .await?;
    let store_err = |source| StartError::Store {
        path: args.data.display().to_string(),
        source,
    };
    let Some(user) = find_user(store.as_ref(), &args.pool_id, &args.username)
        .await
        .map_err(store_err)?
    else {
        return Ok("[]".into());
    };
    let mut out = Vec::new();
    for c in store
        .list_codes(&args.pool_id, &user.username_key)
        .await
        .map_err(store_err)?
    {
        if c.expires_ms <= now_ms || c.purpose.starts_with("device_auth:") {
            continue;
        }
        let Some(code) = sealer.open(&c.sealed_code).and_then(|b| String::from_utf8(b).ok()) else {
            continue;
        };
        out.push(serde_json::json!({
            "purpose": c.purpose, "code": code, "destination": c.destination,
            "username": user.username, "expiresAt": c.expires_ms / 1000,
        }));
    }
    Ok(serde_json::to_string_pretty(&out).unwrap_or_default())
}

/// `userpool outbox`: the messages of a pool (or of one user), as a JSON array.
pub async fn outbox(args: cli::OutboxArgs) -> Result<String, StartError> {
    let (store, sealer) = open_for_reading(
        &args.data,
        args.database.as_deref(),
        &args.pg,
        args.data_key_file.as_ref(),
    )
    .await?;
    let store_err = |source| StartError::Store {
        path: args.data.display().to_string(),
        source,
    };
    let key = match &args.username {
        Some(name) => match find_user(store.as_ref(), &args.pool_id, name)
            .await
            .map_err(store_err)?
        {
            Some(u) => Some(u.username_key),
            None => return Ok("[]".into()),
        },
        None => None,
    };
    let messages = store
        .list_messages(&args.pool_id, key.as_deref(), args.after, 10_000)
        .await
        .map_err(store_err)?;
    let out: Vec<serde_json::Value> = messages.iter().map(|m| outbox::view(&sealer, m)).collect();
    Ok(serde_json::to_string_pretty(&out).unwrap_or_default())
}

/// `userpool copy`: copies the store at `--from` into `--to` and answers the per-table row
/// counts and checksums, verified equal on both sides, as JSON.
pub async fn copy(args: cli::CopyArgs) -> Result<String, StartError> {
    let report = userpool_store::copy::copy_store(&args.from, &args.to, args.force, &args.pg.options())
        .await
        .map_err(|source| StartError::Copy {
            from: redact(&args.from),
            to: redact(&args.to),
            source,
        })?;
    Ok(serde_json::to_string_pretty(&report.to_json()).unwrap_or_default())
}
