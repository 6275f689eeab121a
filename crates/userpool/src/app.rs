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
}

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
}

/// What an operation knows about the request it serves.
pub struct Ctx {
    /// The shared state.
    pub app: Arc<App>,
    /// The instant of the request (epoch ms), read once.
    pub now_ms: i64,
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// The client's address.
    pub peer: IpAddr,
}

impl Ctx {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    /// `arn:aws:cognito-idp:<region>:<account>:userpool/<id>`.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/{pool_id}",
            self.app.config.region, self.app.config.account_id
        )
    }
}
