//! Sign-in state between InitiateAuth and RespondToAuthChallenge. It rides with the client
//! (`Session`, and SRP's `SECRET_BLOCK`, which the clients echo as
//! `PASSWORD_CLAIM_SECRET_BLOCK` even when they send no Session), sealed with AES-256-GCM
//! under the data key: opaque, tamper-evident, and readable by any node sharing the key.
//! Each state carries a nonce; the store marks it used when it yields tokens, so a state
//! yields tokens once.

use crate::app::Ctx;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// How long a challenge may stay unanswered: Cognito's default AuthSessionValidity is 3
/// minutes; the client's setting (3..15) is used when it has one.
pub const DEFAULT_TTL_MS: i64 = 3 * 60 * 1000;

/// What a challenge remembers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// The challenge this state answers (`PASSWORD_VERIFIER`, `NEW_PASSWORD_REQUIRED`, ...).
    pub challenge: String,
    /// The pool.
    pub pool: String,
    /// The user's lookup key.
    pub user: String,
    /// The app client.
    pub client: String,
    /// Expiry, epoch ms.
    pub exp: i64,
    /// Single-use marker (hex of 16 random bytes).
    pub nonce: String,
    /// SRP: the server's private `b`, its `B` and the client's `A` (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srp: Option<(String, String, String)>,
    /// The device presented, for DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// DEVICE_PASSWORD_VERIFIER: the nonce (hex) of the password step this device step
    /// continues, taken once when the device proof succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl State {
    /// A new state for `challenge`, expiring `ttl_ms` from now.
    pub fn new(ctx: &Ctx, challenge: &str, pool: &str, user: &str, client: &str, ttl_ms: i64) -> Self {
        State {
            challenge: challenge.to_string(),
            pool: pool.to_string(),
            user: user.to_string(),
            client: client.to_string(),
            exp: ctx.now_ms + ttl_ms,
            nonce: hex::encode(rand::random::<[u8; 16]>()),
            srp: None,
            device: None,
            step: None,
        }
    }

    /// The nonce bytes.
    pub fn nonce_bytes(&self) -> Vec<u8> {
        hex::decode(&self.nonce).unwrap_or_default()
    }
}

/// The sealed, base64 form.
pub fn seal(ctx: &Ctx, state: &State) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    STANDARD.encode(ctx.app.sealer.seal(&json))
}

/// Opens a sealed state; `None` if it is not ours, was altered, or has expired.
pub fn open(ctx: &Ctx, sealed: &str) -> Option<State> {
    let bytes = STANDARD.decode(sealed.as_bytes()).ok()?;
    let json = ctx.app.sealer.open(&bytes)?;
    let state: State = serde_json::from_slice(&json).ok()?;
    (state.exp > ctx.now_ms).then_some(state)
}
