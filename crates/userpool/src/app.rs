//! The state every request shares ([`App`], one `Arc`, cheap to clone) and the per-request
//! context handed to each operation ([`Ctx`]).

use crate::auth::sigv4::Authenticator;
use crate::seal::Sealer;
use std::net::IpAddr;
use std::sync::Arc;
use userpool_store::Store;

/// Settings fixed at start-up, validated once.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region pool ids and ARNs carry.
    pub region: String,
    /// The account id in ARNs.
    pub account_id: String,
    /// Largest request body accepted.
    pub max_body_bytes: u64,
    /// The URL clients reach this server at (no trailing slash); issuers are
    /// `<public_url>/<poolId>`.
    pub public_url: String,
    /// Trust `X-Forwarded-For` for the client address (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Where the pools' exported logs are appended (`--log-delivery-dir`), one file per
    /// destination ARN (see `ops::log_delivery`); `None`: only the tracing target.
    pub log_delivery_dir: Option<std::path::PathBuf>,
    /// How long a running user import job's lease lasts (`--import-lease-seconds`).
    pub import_lease_ms: i64,
}

impl Config {
    /// The `iss` of a pool's tokens.
    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.public_url)
    }

    /// The host (and port) of the public URL.
    pub fn public_host(&self) -> &str {
        let rest = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// A pool's record and its decoded settings.
pub type PoolEntry = (userpool_store::PoolRecord, userpool_model::types::UserPoolType);

/// Everything the server shares across requests.
pub struct App {
    /// Where state lives.
    pub store: Arc<dyn Store>,
    /// Start-up settings.
    pub config: Config,
    /// Seals the secrets the store keeps.
    pub sealer: Sealer,
    /// Verifies SigV4 and evaluates IAM policies.
    pub auth: Authenticator,
    /// Per-pool token signing keys.
    pub keys: crate::tokens::keys::KeyRing,
    /// Email to a real SMTP server (`--smtp-url`), besides the outbox.
    pub mailer: Option<crate::outbox::Mailer>,
    /// Calls the pools' Lambda triggers.
    pub lambda: Arc<dyn crate::lambda::Invoker>,
    /// Decoded pool settings by pool id, so a request does not re-parse a pool's JSON: the
    /// row is still read (another node may have changed it) and compared with the one
    /// decoded (a 3 KB comparison, 100x cheaper than the parse); any change means a fresh parse.
    pub pools: std::sync::RwLock<std::collections::HashMap<String, Arc<PoolEntry>>>,
    /// This process's name among the nodes sharing a store (random at each start): the
    /// owner a user import job's lease names.
    pub node_id: String,
    /// The user import jobs (`<poolId>/<jobId>`) a task of this process is running: the
    /// sweep never takes one of them over (`ops::import::runner`).
    pub import_runs: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// What an operation knows about the request it serves.
#[derive(Clone)]
pub struct Ctx {
    /// The shared state.
    pub app: Arc<App>,
    /// The instant of the request (epoch ms), read once.
    pub now_ms: i64,
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// The client's address.
    pub peer: IpAddr,
    /// The first `X-Forwarded-For` address, when the server is told to trust it.
    pub forwarded_for: Option<IpAddr>,
    /// The app client the request names, for the triggers' `callerContext.clientId`.
    pub client_id: Option<String>,
    /// The request's `ClientMetadata`, for the triggers' `clientMetadata` (or
    /// `validationData`, where Cognito passes it so).
    pub client_metadata: Option<std::collections::HashMap<String, String>>,
    /// A sign-in through the hosted pages: it ends in an authorization code, not tokens.
    pub hosted: bool,
    /// The request's region: its SigV4 scope's, else the server's `--region`. What belongs
    /// to a pool (ARNs, device keys, trigger events) takes the region of the pool's id.
    pub region: String,
    /// What the request's `ContextData` / `UserContextData` say of the user's device, for
    /// threat protection's event history (`ops::auth_events`).
    pub context: Option<std::sync::Arc<crate::ops::auth_events::RequestContext>>,
}

impl Ctx {
    /// A context for what no API request carries (a page, an upload, work in the
    /// background): the loopback peer, no client, the server's region.
    pub fn internal(app: &Arc<App>, now_ms: i64, request_id: &str) -> Ctx {
        Ctx {
            app: app.clone(),
            now_ms,
            request_id: request_id.to_string(),
            peer: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            forwarded_for: None,
            client_id: None,
            client_metadata: None,
            hosted: false,
            context: None,
            region: app.config.region.clone(),
        }
    }

    /// This context for an operation that names `client_id` and carries `metadata`.
    pub fn with_client(
        &self,
        client_id: Option<&str>,
        metadata: Option<std::collections::HashMap<String, String>>,
    ) -> Ctx {
        Ctx {
            client_id: client_id.map(str::to_string),
            client_metadata: metadata,
            ..self.clone()
        }
    }

    /// The address the client used, as `last_ip_used` records it.
    pub fn client_ip(&self) -> String {
        self.forwarded_for.unwrap_or(self.peer).to_string()
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    /// `arn:aws:cognito-idp:<region>:<account>:userpool/<id>`.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/{pool_id}",
            self.pool_region(pool_id),
            self.app.config.account_id
        )
    }

    /// The region of a pool: the one its id carries.
    pub fn pool_region<'a>(&'a self, pool_id: &'a str) -> &'a str {
        crate::ids::region_of(pool_id).unwrap_or(&self.region)
    }
}
