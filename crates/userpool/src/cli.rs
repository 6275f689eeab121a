//! The command line (clap). Every flag of `serve` can also come from a `USERPOOL_*`
//! environment variable.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// userpool: Amazon Cognito user pools (cognito-idp), faithful and persistent.
#[derive(Debug, Parser)]
#[command(name = "userpool", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once at start; boxing buys nothing")]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print the live one-time codes and temporary password of a user, as JSON (the
    /// messages that carried them are in `userpool outbox`). Reads the data file
    /// directly; works while the server runs.
    Codes(CodesArgs),
    /// Print the messages a pool's users would have received by email or SMS (codes,
    /// invitations, MFA codes), rendered from the pool's templates, as JSON, oldest first.
    /// Reads the data file directly; works while the server runs.
    Outbox(OutboxArgs),
    /// Copy a whole store to another: SQLite data file ⇄ PostgreSQL URL (or file to file,
    /// database to database), then check each table's row count and checksum on both sides;
    /// prints them as JSON. Stop the server of the source first. Sealed values (client
    /// secrets, codes, keys) are copied as they are: the target's server needs the same
    /// data key file.
    Copy(CopyArgs),
}

/// `userpool copy` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// The store to copy: an SQLite data file path or a `postgres://` URL.
    #[arg(long)]
    pub from: String,
    /// The store to fill (created and migrated if needed): a path or a `postgres://` URL.
    #[arg(long)]
    pub to: String,
    /// Replace the content of a target that is not empty (refused otherwise).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub pg: PgArgs,
}

/// How to connect to PostgreSQL (with `--database`, or a `postgres://` URL to copy).
#[derive(Debug, Clone, clap::Args)]
pub struct PgArgs {
    /// PEM certificates to trust for TLS to PostgreSQL (a URL with `sslmode=require`)
    /// instead of the system's roots.
    #[arg(long, env = "USERPOOL_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
    /// Connections each node keeps open to PostgreSQL at most.
    #[arg(long, env = "USERPOOL_DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub database_pool_size: u16,
}

impl PgArgs {
    /// The store's connection options.
    pub fn options(&self) -> userpool_store::postgres::PgOptions {
        userpool_store::postgres::PgOptions {
            pool_size: usize::from(self.database_pool_size),
            ca_file: self.database_ca_file.clone(),
        }
    }
}

/// `userpool outbox` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct OutboxArgs {
    /// The SQLite data file the server uses.
    #[arg(long, env = "USERPOOL_DATA", default_value = "userpool-data/userpool.db")]
    pub data: PathBuf,
    /// The PostgreSQL database the server uses (instead of `--data`).
    #[arg(long, env = "USERPOOL_DATABASE")]
    pub database: Option<String>,
    #[command(flatten)]
    pub pg: PgArgs,
    /// The data key file (defaults to the data file's path with `.key` appended).
    #[arg(long, env = "USERPOOL_DATA_KEY_FILE")]
    pub data_key_file: Option<PathBuf>,
    /// Only messages with a number above this (to read only what is new).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// The user pool id.
    pub pool_id: String,
    /// Only this user's messages: the username, an alias or the sub.
    pub username: Option<String>,
}

/// `userpool codes` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CodesArgs {
    /// The SQLite data file the server uses.
    #[arg(long, env = "USERPOOL_DATA", default_value = "userpool-data/userpool.db")]
    pub data: PathBuf,
    /// The PostgreSQL database the server uses (instead of `--data`).
    #[arg(long, env = "USERPOOL_DATABASE")]
    pub database: Option<String>,
    #[command(flatten)]
    pub pg: PgArgs,
    /// The data key file (defaults to the data file's path with `.key` appended).
    #[arg(long, env = "USERPOOL_DATA_KEY_FILE")]
    pub data_key_file: Option<PathBuf>,
    /// The user pool id.
    pub pool_id: String,
    /// The username, an alias (email, phone, preferred_username) or the sub.
    pub username: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Commit durability of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sync {
    /// Survives a crash of the process (kill -9); the default.
    Normal,
    /// Also survives power loss: every commit is fsynced.
    Full,
}

/// `userpool serve` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the log line names it).
    #[arg(long, env = "USERPOOL_LISTEN", default_value = "127.0.0.1:9229")]
    pub listen: SocketAddr,
    /// The SQLite data file (created if missing).
    #[arg(long, env = "USERPOOL_DATA", default_value = "userpool-data/userpool.db")]
    pub data: PathBuf,
    /// The file holding the 32-byte key that seals stored secrets (created if missing);
    /// defaults to the data file's path with `.key` appended.
    #[arg(long, env = "USERPOOL_DATA_KEY_FILE")]
    pub data_key_file: Option<PathBuf>,
    /// The region of a request that names none (an unsigned one); a signed request's
    /// region is its SigV4 scope's, and a pool's is the one its id carries.
    #[arg(long, env = "USERPOOL_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The AWS account id in ARNs.
    #[arg(long, env = "USERPOOL_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,
    /// Log format.
    #[arg(long, env = "USERPOOL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes; larger ones are refused unread.
    #[arg(long, env = "USERPOOL_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: u64,
    /// The identities file (access keys and their IAM policies). Without it, one identity
    /// with access key `test`, secret `test` and full access is accepted (local use only).
    #[arg(long, env = "USERPOOL_IAM")]
    pub iam: Option<PathBuf>,
    /// Allow the default `test`/`test` identity on a non-loopback address.
    #[arg(long, env = "USERPOOL_ALLOW_DEFAULT_CREDENTIALS")]
    pub allow_default_credentials: bool,
    /// How far a request's X-Amz-Date may be from the server's clock, in seconds.
    #[arg(long, env = "USERPOOL_MAX_CLOCK_SKEW_SECONDS", default_value_t = 300)]
    pub max_clock_skew_seconds: i64,
    /// The URL clients use to reach this server (token issuers are `<URL>/<poolId>`);
    /// defaults to `http://<listen address>`.
    #[arg(long, env = "USERPOOL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Take the client address (device `last_ip_used`) from `X-Forwarded-For`; only behind a
    /// proxy you trust.
    #[arg(long, env = "USERPOOL_TRUST_X_FORWARDED_FOR")]
    pub trust_x_forwarded_for: bool,
    /// Commit durability of the SQLite store.
    #[arg(long, env = "USERPOOL_SYNC", value_enum, default_value_t = Sync::Normal)]
    pub sync: Sync,
    /// Keep state in this PostgreSQL database (`postgres://user@host:port/db`; add
    /// `?sslmode=require` for TLS) instead of the SQLite file: several nodes can share it. Needs `--data-key-file` (every node
    /// must seal with the same key). Migrations are applied at start, once, under an
    /// advisory lock.
    #[arg(long, env = "USERPOOL_DATABASE")]
    pub database: Option<String>,
    #[command(flatten)]
    pub pg: PgArgs,
    /// Also send email messages to this SMTP server (`smtp://host:port`, plain SMTP, e.g.
    /// Mailpit or MailHog); every message is kept in the outbox either way.
    #[arg(long, env = "USERPOOL_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Append the pools' exported logs (SetLogDeliveryConfiguration: threat protection's
    /// user activity, message-delivery errors) to `DIR/<destination ARN, sanitised>.jsonl`,
    /// one JSON line per log event, besides the `userpool::log_delivery` tracing target.
    #[arg(long, env = "USERPOOL_LOG_DELIVERY_DIR", value_name = "DIR")]
    pub log_delivery_dir: Option<std::path::PathBuf>,
    /// On SIGTERM (or Ctrl-C) new connections are refused and the requests in flight are
    /// finished; connections still open this many seconds later are dropped.
    #[arg(long, env = "USERPOOL_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    /// A running user import job is leased to its node for this long, renewed by every
    /// batch; a job whose node is gone is taken over by another within this and half of it.
    #[arg(long, env = "USERPOOL_IMPORT_LEASE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub import_lease_seconds: u32,
    #[command(flatten)]
    pub lambda: LambdaArgs,
}

/// Where the pools' Lambda triggers are invoked.
#[derive(Clone, clap::Args)]
pub struct LambdaArgs {
    /// The Lambda Invoke API to call triggers at (`sam local start-lambda`'s
    /// `http://127.0.0.1:3001`, LocalStack...); without it, real AWS Lambda in each
    /// function's region. Credentials: the standard AWS chain (AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...) unless the two flags below are given.
    #[arg(long, env = "USERPOOL_LAMBDA_ENDPOINT")]
    pub lambda_endpoint: Option<String>,
    /// Access key id to sign Lambda calls with (with --lambda-secret-access-key).
    #[arg(long, env = "USERPOOL_LAMBDA_ACCESS_KEY_ID", requires = "lambda_secret_access_key")]
    pub lambda_access_key_id: Option<String>,
    /// Secret access key to sign Lambda calls with.
    #[arg(
        long,
        env = "USERPOOL_LAMBDA_SECRET_ACCESS_KEY",
        requires = "lambda_access_key_id",
        hide_env_values = true
    )]
    pub lambda_secret_access_key: Option<String>,
}

/// Printed without the secret.
impl std::fmt::Debug for LambdaArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaArgs")
            .field("lambda_endpoint", &self.lambda_endpoint)
            .field("lambda_access_key_id", &self.lambda_access_key_id)
            .field(
                "lambda_secret_access_key",
                &self.lambda_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl LambdaArgs {
    /// The static credentials the flags give, if any.
    pub fn credentials(&self) -> Option<crate::lambda::StaticCredentials> {
        match (&self.lambda_access_key_id, &self.lambda_secret_access_key) {
            (Some(id), Some(secret)) => Some(crate::lambda::StaticCredentials {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
            }),
            _ => None,
        }
    }
}
