//! The state of a sign-in between its requests: one sealed, versioned value.
//!
//! It rides with the client (`Session`, and SRP's `SECRET_BLOCK`, which the clients echo
//! as `PASSWORD_CLAIM_SECRET_BLOCK` even when they send no Session), sealed with
//! AES-256-GCM under the data key: opaque, tamper-evident, and readable by any node
//! sharing the key. Each state carries a nonce; the store marks it used when it yields
//! tokens, so a state yields tokens once. A state of another [`VERSION`] is refused like a
//! forged one (a sign-in in flight across an upgrade starts again).

use crate::app::Ctx;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The layout of [`State`]; bumped when it changes.
pub const VERSION: u8 = 2;

/// The server's half of an SRP exchange and the client's `A`, as hex.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Srp {
    /// The server's private `b`.
    pub b: String,
    /// The server's public `B`.
    pub big_b: String,
    /// The client's public `A`.
    pub a: String,
}

/// Which challenge a state waits for, with what that challenge needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "step", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Step {
    /// USER_SRP_AUTH (or CUSTOM_AUTH with SRP_A) was answered; PASSWORD_VERIFIER proves
    /// the password (SECRET_BLOCK).
    PasswordVerifier {
        /// The SRP exchange.
        srp: Srp,
        /// In a CUSTOM_AUTH flow, the challenges answered so far (DefineAuthChallenge
        /// decides what follows the password).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        custom: Option<Vec<crate::triggers::challenge::ChallengeResult>>,
    },
    /// CUSTOM_AUTH: a CUSTOM_CHALLENGE that VerifyAuthChallengeResponse judges.
    CustomChallenge {
        /// The name the client typed (the event's `userName` for a user not found).
        typed: String,
        /// The challenges answered so far, as the events' `session`.
        history: Vec<crate::triggers::challenge::ChallengeResult>,
        /// CreateAuthChallenge's `privateChallengeParameters` (sealed with the state).
        private: Vec<(String, String)>,
        /// CreateAuthChallenge's `challengeMetadata`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
        /// The DEVICE_KEY the client presented, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// A PASSWORD_VERIFIER challenge for a user who does not exist (the client hides
    /// existence): its answer is always "Incorrect username or password.".
    Decoy,
    /// The password was right but temporary: NEW_PASSWORD_REQUIRED sets a new one.
    NewPasswordRequired,
    /// The password was right and a remembered device was presented: DEVICE_SRP_AUTH.
    DeviceSrpAuth {
        /// The device.
        device: String,
    },
    /// The password was right and MFA is due: SOFTWARE_TOKEN_MFA (or, later, SMS_MFA /
    /// EMAIL_OTP) proves the second factor.
    Mfa {
        /// The factor asked for (`SOFTWARE_TOKEN_MFA`, ...).
        factor: String,
        /// The DEVICE_KEY the client presented, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// The pool requires MFA and the user has no factor: MFA_SETUP (AssociateSoftwareToken
    /// and VerifySoftwareToken with this Session, then RespondToAuthChallenge).
    MfaSetup {
        /// The secret AssociateSoftwareToken issued, sealed (base64).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
        /// Whether VerifySoftwareToken accepted a code of it.
        #[serde(default)]
        verified: bool,
        /// FriendlyDeviceName given to VerifySoftwareToken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The DEVICE_KEY the client presented, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// The user has several factors and prefers none: SELECT_MFA_TYPE.
    SelectMfaType {
        /// The factors offered.
        factors: Vec<String>,
        /// The email address and phone number the chosen factor's code goes to, as they
        /// were when the challenge was asked (an answer in between cannot redirect it).
        #[serde(default)]
        addresses: Vec<(String, String)>,
        /// The DEVICE_KEY the client presented, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// USER_AUTH without a preferred challenge the user can use: SELECT_CHALLENGE offers
    /// `available` (the state's user is empty for an unknown user in a pool that hides
    /// users: every answer then fails as it would for a wrong factor).
    SelectChallenge {
        /// The challenges offered, by name.
        available: Vec<String>,
        /// The name the client typed.
        typed: String,
        /// The DEVICE_KEY the client presented, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// USER_AUTH's EMAIL_OTP or SMS_OTP first factor: a sign-in code was sent (the
    /// state's user is empty for a decoy).
    SignInCode {
        /// `EMAIL_OTP` or `SMS_OTP`.
        factor: String,
        /// The address the code went to (sealed with the state): the code proves it, and
        /// only while it is still the user's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// ConfirmSignUp's Session: the confirmation code was the first factor; InitiateAuth
    /// USER_AUTH with it signs the user in once.
    SignedUp,
    /// USER_AUTH's WEB_AUTHN: the verifier's state for the request options sent.
    WebAuthn {
        /// The verifier's authentication state (challenge, allowed credentials), JSON;
        /// empty for a decoy.
        state: String,
    },
    /// DEVICE_SRP_AUTH was answered; DEVICE_PASSWORD_VERIFIER proves the device.
    DevicePasswordVerifier {
        /// The device.
        device: String,
        /// The nonce (hex) of the password step this continues, taken once.
        password_step: String,
        /// The SRP exchange (in SECRET_BLOCK only; the Session carries none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        srp: Option<Srp>,
    },
}

/// What a sign-in remembers between two requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// [`VERSION`].
    pub v: u8,
    /// The pool.
    pub pool: String,
    /// The user's lookup key (empty for [`Step::Decoy`]).
    pub user: String,
    /// The app client.
    pub client: String,
    /// Expiry, epoch ms.
    pub exp: i64,
    /// Single-use marker (hex of 16 random bytes).
    pub nonce: String,
    /// The challenge it waits for.
    pub step: Step,
    /// Begun on the hosted pages: such a state is answered there only, and an API state
    /// only through the API (a page's hidden Session must not yield API tokens, which
    /// the client's OAuth scopes and redirect checks would not bound).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hosted: bool,
}

impl State {
    /// A new state for `step`, expiring `ttl_ms` from now.
    pub fn new(ctx: &Ctx, step: Step, pool: &str, user: &str, client: &str, ttl_ms: i64) -> Self {
        State {
            v: VERSION,
            pool: pool.to_string(),
            user: user.to_string(),
            client: client.to_string(),
            exp: ctx.now_ms + ttl_ms,
            nonce: hex::encode(rand::random::<[u8; 16]>()),
            step,
            hosted: ctx.hosted,
        }
    }

    /// The nonce bytes.
    pub fn nonce_bytes(&self) -> Vec<u8> {
        hex::decode(&self.nonce).unwrap_or_default()
    }

    /// Whether it was issued for this pool and client.
    pub fn is_for(&self, pool_id: &str, client_id: &str) -> bool {
        self.pool == pool_id && self.client == client_id
    }
}

/// The sealed, base64 form.
pub fn seal(ctx: &Ctx, state: &State) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    STANDARD.encode(ctx.app.sealer.seal(&json))
}

/// Opens a sealed state; `None` if it is not ours, was altered, is of another version, has
/// expired, or was begun on the other side (hosted pages, API) of the request.
pub fn open(ctx: &Ctx, sealed: &str) -> Option<State> {
    let bytes = STANDARD.decode(sealed.as_bytes()).ok()?;
    let json = ctx.app.sealer.open(&bytes)?;
    let state: State = serde_json::from_slice(&json).ok()?;
    (state.v == VERSION && state.exp > ctx.now_ms && state.hosted == ctx.hosted).then_some(state)
}

/// [`open`] a request's Session (if any) issued for this pool and client.
pub fn open_for(ctx: &Ctx, session: Option<&str>, pool_id: &str, client_id: &str) -> Option<State> {
    session
        .and_then(|s| open(ctx, s))
        .filter(|s| s.is_for(pool_id, client_id))
}
