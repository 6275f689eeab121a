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
//! - [`sqlite::SqliteStore`] is the embedded default; [`postgres::PostgresStore`] the shared
//!   store several nodes use at once.
//!
//! Rules every implementation keeps:
//! - a write returns only once it is committed (a crash after that loses nothing);
//! - uniqueness (pool ids, client ids) is enforced by the database, so several stateless
//!   nodes sharing one database stay consistent;
//! - pages are ordered by key and resumed *after* a key, never by offset.
//!
//! **The concurrent-write rule.** Several requests (and, on PostgreSQL, several nodes)
//! write the same user and device rows. No acknowledged change may be lost, so:
//! - a user or device row carries a `version`. [`Store::update_user`] and
//!   [`Store::update_device`] write the record only if the row's version is still the one
//!   read (compare-and-set) and bump it; otherwise they answer
//!   `Conflict(VERSION_CONFLICT)` and write nothing. The caller re-reads the row,
//!   re-applies its change and tries again (`ops::users::modify`, `ops::devices::modify`);
//! - the counters that hot paths change without reading the row are owned by atomic
//!   verbs and never written by `update_*`: the failed-password count and lock
//!   ([`Store::spend_password_attempt`], [`Store::record_password_failure`],
//!   [`Store::clear_password_failures`]), the
//!   sign-out instant ([`Store::sign_out_user`]) and a device's last authentication
//!   ([`Store::touch_device`]);
//! - limits are spent by one statement that refuses when none is left
//!   ([`Store::spend_code_attempt`], [`Store::spend_password_attempt`],
//!   [`Store::count_in_window`]), never by a read, a compare and a write;
//! - a single-use thing is taken by one statement that succeeds once
//!   ([`Store::take_code`], [`Store::consume_state`]).
//!
//! This crate knows nothing of HTTP or of the wire types.

pub mod copy;
pub mod postgres;
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

/// The `Conflict` reason of a compare-and-set that lost to another write.
pub const VERSION_CONFLICT: &str = "version";

/// What [`Store::spend_password_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSpend {
    /// An attempt was spent: check the password; the failures counted, this one included.
    Spent(i64),
    /// The user is locked out.
    Locked,
    /// Other checks of this user are in flight; try again shortly.
    Busy,
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

/// A user of a pool.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The pool.
    pub pool_id: String,
    /// The lookup key (lowercased username when the pool is case-insensitive).
    pub username_key: String,
    /// The username as Cognito returns it.
    pub username: String,
    /// The immutable UUID.
    pub sub: String,
    /// UserStatus (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, ...).
    pub status: String,
    /// Enabled (AdminDisableUser clears it).
    pub enabled: bool,
    /// UserCreateDate, epoch ms.
    pub created_ms: i64,
    /// UserLastModifiedDate, epoch ms.
    pub modified_ms: i64,
    /// Attributes in the order they were set (`sub` included).
    pub attributes: Vec<(String, String)>,
    /// The password's SRP salt and verifier, if a password is set.
    pub password: Option<PasswordVerifier>,
    /// When the password was last set, epoch ms.
    pub password_set_ms: i64,
    /// Consecutive failed password attempts.
    pub failed_attempts: i64,
    /// Sign-in refused until this instant (epoch ms) after too many failures.
    pub locked_until_ms: i64,
    /// Tokens issued before this instant are refused (GlobalSignOut), epoch ms.
    pub tokens_valid_after_ms: i64,
    /// The row's version as read (0 for a new user); `update_user` writes only if it is
    /// still current.
    pub version: i64,
    /// MFA settings, encoded by the operations layer (empty: none).
    pub mfa: String,
    /// The user's lookup entries, when the caller (re)computed them: `Some` on create and
    /// whenever attributes change (the store rewrites them), `None` when they are
    /// unchanged (reads do not load them, and writes leave them alone).
    pub lookups: Option<Lookups>,
}

/// The derived lookup entries of a user.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Lookups {
    /// Lookup keys of the user's aliases (`email:a@b.c`, ...), unique per pool.
    pub aliases: Vec<String>,
    /// (attribute, value) pairs ListUsers can filter on.
    pub search: Vec<(String, String)>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("pool_id", &self.pool_id)
            .field("username", &self.username)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// An SRP password verifier: enough to check a password, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordVerifier {
    /// The 16-byte salt.
    pub salt: Vec<u8>,
    /// `v = g^x mod N`, big-endian.
    pub verifier: Vec<u8>,
}

/// A one-time code sent (here: logged) to a user.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// What it is for: `signup`, `forgot_password`, `verify:<attribute>`.
    pub purpose: String,
    /// The code, sealed by the caller.
    pub sealed_code: Vec<u8>,
    /// Where it would have been sent (masked), e.g. `a***@e***`.
    pub destination: String,
    /// Expiry, epoch ms.
    pub expires_ms: i64,
    /// Wrong guesses left before the code is void.
    pub attempts_left: i64,
}

/// A refresh token, by the hash of its value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// The app client it was issued to.
    pub client_id: String,
    /// The device it is bound to, if device tracking issued one.
    pub device_key: Option<String>,
    /// The token family (`origin_jti` of the tokens it yields).
    pub origin_jti: String,
    /// `auth_time` of the original sign-in (epoch s), kept on refresh.
    pub auth_time: i64,
    /// Issued, epoch ms.
    pub created_ms: i64,
    /// Expiry, epoch ms.
    pub expires_ms: i64,
    /// When it was exchanged for a new token (refresh-token rotation), epoch ms.
    pub rotated_at_ms: Option<i64>,
    /// The OAuth scopes granted (space-separated) when the hosted pages or `/oauth2/token`
    /// issued it; `None` for a token from InitiateAuth (its access tokens carry
    /// `aws.cognito.signin.user.admin`).
    pub scope: Option<String>,
}

/// A message a user would have received (the outbox).
#[derive(Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Its number, in the order messages were sent (0 before it is stored).
    pub id: i64,
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// The username when it was sent.
    pub username: String,
    /// `EMAIL` or `SMS`.
    pub channel: String,
    /// The address or phone number, in full.
    pub destination: String,
    /// The email subject.
    pub subject: Option<String>,
    /// The rendered body, sealed by the caller (it holds codes).
    pub sealed_body: Vec<u8>,
    /// `signup`, `forgot_password`, `verify:<attribute>`, `invitation`, `mfa:<factor>`.
    pub kind: String,
    /// Sent, epoch ms.
    pub created_ms: i64,
    /// Pruned after, epoch ms.
    pub expires_ms: i64,
}

impl std::fmt::Debug for MessageRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageRecord")
            .field("id", &self.id)
            .field("pool_id", &self.pool_id)
            .field("kind", &self.kind)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// An authentication event of a user (threat protection's user event history), kept
/// whole as JSON in `body`, which the store does not read. Goes with its user.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthEventRecord {
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// EventId, unique in the pool.
    pub event_id: String,
    /// Recorded, epoch ms (the order of a user's events, newest first).
    pub created_ms: i64,
    /// The event, as the operations layer encodes it.
    pub body: String,
    /// Pruned after, epoch ms.
    pub expires_ms: i64,
}

/// A pool's RSA signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The pool.
    pub pool_id: String,
    /// Key id (the JWT `kid`).
    pub kid: String,
    /// `id` or `access`.
    pub token_use: String,
    /// PKCS#1 DER of the private key, sealed by the caller.
    pub sealed_private: Vec<u8>,
    /// Modulus, big-endian.
    pub public_n: Vec<u8>,
    /// Public exponent, big-endian.
    pub public_e: Vec<u8>,
    /// Created, epoch ms.
    pub created_ms: i64,
}

/// A device of a user.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The pool.
    pub pool_id: String,
    /// `<region>_<uuid>`.
    pub device_key: String,
    /// The owner's lookup key.
    pub username_key: String,
    /// The DeviceGroupKey issued with it.
    pub device_group_key: String,
    /// ConfirmDevice done (before that it was only issued at sign-in).
    pub confirmed: bool,
    /// `remembered` (true) or `not_remembered`.
    pub remembered: bool,
    /// DeviceName.
    pub name: Option<String>,
    /// The device verifier's salt, as the client sent it.
    pub salt: Option<Vec<u8>>,
    /// The device verifier, big-endian.
    pub verifier: Option<Vec<u8>>,
    /// The address of the last authentication with it.
    pub last_ip: Option<String>,
    /// `dev:device_sdk`.
    pub sdk: String,
    /// DeviceCreateDate, epoch ms.
    pub created_ms: i64,
    /// DeviceLastModifiedDate, epoch ms.
    pub modified_ms: i64,
    /// DeviceLastAuthenticatedDate, epoch ms.
    pub last_auth_ms: i64,
    /// The row's version as read (0 for a new device); `update_device` writes only if it
    /// is still current.
    pub version: i64,
}

impl std::fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("device_key", &self.device_key)
            .field("confirmed", &self.confirmed)
            .field("remembered", &self.remembered)
            .finish_non_exhaustive()
    }
}

/// A group of a pool.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GroupRecord {
    /// The pool.
    pub pool_id: String,
    /// GroupName (case-sensitive, unique per pool).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// RoleArn.
    pub role_arn: Option<String>,
    /// Precedence (lower wins).
    pub precedence: Option<i64>,
    /// CreationDate, epoch ms.
    pub created_ms: i64,
    /// LastModifiedDate, epoch ms.
    pub modified_ms: i64,
}

/// What kind of pool configuration object a [`ObjectRecord`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ObjectKind {
    /// A user pool domain; `name` is the domain, unique across every pool.
    Domain,
    /// A resource server; `name` is its identifier, unique in its pool.
    ResourceServer,
    /// An identity provider; `name` is the provider name, unique in its pool.
    IdentityProvider,
    /// A UI customization; `name` is the client id, or `ALL` for the pool's default.
    UiCustomization,
    /// An identity of a provider linked to a native user (AdminLinkProviderForUser);
    /// `name` is `<provider>:<subject>`, unique in its pool.
    ProviderLink,
    /// A client's terms document (CreateTerms); `name` is `<clientId>:<TermsName>`, so a
    /// client has one of each.
    Terms,
    /// A client's further secret (AddUserPoolClientSecret); `name` is
    /// `<clientId>--<created epoch ms>`.
    ClientSecret,
    /// A user's passkey (CompleteWebAuthnRegistration); `name` is
    /// `<sub>/<credential id, base64url>`, so a user's passkeys list together.
    WebAuthnCredential,
    /// A user's passkey registration in progress (StartWebAuthnRegistration); `name` is the
    /// user's sub: one at a time, taken once by CompleteWebAuthnRegistration.
    WebAuthnChallenge,
    /// The pool's SAML signing certificate (GetSigningCertificate); `name` is `saml`, so
    /// the first of two concurrent generations wins.
    SigningCertificate,
    /// A client's managed login branding style; `name` is the client id, so a client has
    /// one.
    ManagedLoginBranding,
    /// Where a ManagedLoginBrandingId points: `name` is the id, the body its client id.
    ManagedLoginBrandingId,
    /// A risk configuration (SetRiskConfiguration); `name` is the client id, or `ALL`
    /// for the pool's.
    RiskConfiguration,
    /// The pool's log delivery configuration (SetLogDeliveryConfiguration); `name` is
    /// `ALL` (one per pool).
    LogDelivery,
    /// A user import job (CreateUserImportJob); `name` is its JobId.
    ImportJob,
    /// A piece of an import job's uploaded CSV file, sealed; `name` is
    /// `<jobId>/<uploadId>/<six-digit sequence>`.
    ImportData,
    /// An import job not yet finished, for the nodes that look for jobs to resume or
    /// expire; `name` is `<poolId>/<jobId>`, unique across every pool (listed with
    /// [`Store::list_global_objects`]).
    ImportRun,
}

impl ObjectKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Domain => "domain",
            ObjectKind::ResourceServer => "resource_server",
            ObjectKind::IdentityProvider => "identity_provider",
            ObjectKind::UiCustomization => "ui_customization",
            ObjectKind::ProviderLink => "provider_link",
            ObjectKind::Terms => "terms",
            ObjectKind::ClientSecret => "client_secret",
            ObjectKind::WebAuthnCredential => "webauthn_credential",
            ObjectKind::WebAuthnChallenge => "webauthn_challenge",
            ObjectKind::SigningCertificate => "signing_certificate",
            ObjectKind::ManagedLoginBranding => "managed_login_branding",
            ObjectKind::ManagedLoginBrandingId => "managed_login_branding_id",
            ObjectKind::RiskConfiguration => "risk_configuration",
            ObjectKind::LogDelivery => "log_delivery",
            ObjectKind::ImportJob => "import_job",
            ObjectKind::ImportData => "import_data",
            ObjectKind::ImportRun => "import_run",
        }
    }

    /// Every kind, for reading the stored name back.
    pub const ALL: [ObjectKind; 17] = [
        ObjectKind::Domain,
        ObjectKind::ResourceServer,
        ObjectKind::IdentityProvider,
        ObjectKind::UiCustomization,
        ObjectKind::ProviderLink,
        ObjectKind::Terms,
        ObjectKind::ClientSecret,
        ObjectKind::WebAuthnCredential,
        ObjectKind::WebAuthnChallenge,
        ObjectKind::SigningCertificate,
        ObjectKind::ManagedLoginBranding,
        ObjectKind::ManagedLoginBrandingId,
        ObjectKind::RiskConfiguration,
        ObjectKind::LogDelivery,
        ObjectKind::ImportJob,
        ObjectKind::ImportData,
        ObjectKind::ImportRun,
    ];

    /// The kind a stored name names.
    pub fn parse(s: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The scope a name is unique in: every pool for domains and import runs, else the pool.
    pub fn scope(self, pool_id: &str) -> &str {
        match self {
            ObjectKind::Domain | ObjectKind::ImportRun => "",
            _ => pool_id,
        }
    }
}

/// A pool's configuration object the operations layer keeps whole (as JSON in `body`,
/// which the store does not read): a domain, a resource server, an identity provider,
/// a UI customization. Deleted with its pool.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ObjectRecord {
    /// What it is.
    pub kind: ObjectKind,
    /// The pool it belongs to.
    pub pool_id: String,
    /// Its key (see [`ObjectKind`]).
    pub name: String,
    /// The configuration, as the operations layer encodes it.
    pub body: String,
    /// Created, epoch ms.
    pub created_ms: i64,
    /// Last modified, epoch ms.
    pub modified_ms: i64,
}

/// What became of one user of [`Store::import_users`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportOutcome {
    /// Created.
    Created,
    /// Not created: a user of this username (or sub) exists.
    UsernameExists,
    /// Not created: another user holds one of its aliases.
    AliasExists,
}

/// How [`Store::import_users`] makes the job's new body from the batch's outcomes.
pub type JobBody = dyn Fn(&[ImportOutcome]) -> String + Send + Sync;

/// A ListUsers filter on one attribute.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UserFilter {
    /// The attribute (`email`, `username`, `sub`, `cognito:user_status`, `status`, ...).
    pub attribute: String,
    /// The value compared.
    pub value: String,
    /// `^=` (starts with) rather than `=`.
    pub prefix: bool,
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
    /// Deletes a pool and everything in it (its outbox too); `NotFound` if absent.
    async fn delete_pool(&self, id: &str) -> StoreResult<()>;

    /// Adds an app client; `NotFound` if its pool is gone, `Conflict` if its id exists.
    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// A client of a pool by id.
    async fn get_client(&self, pool_id: &str, client_id: &str) -> StoreResult<Option<ClientRecord>>;
    /// A client by id alone (sign-in names only the client).
    async fn find_client(&self, client_id: &str) -> StoreResult<Option<ClientRecord>>;
    /// Replaces a client's name, settings, secret and modified date; `NotFound` if absent.
    async fn update_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// A pool's clients in id order, starting after `after`, at most `limit`.
    async fn list_clients(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<ClientRecord>>;
    /// Deletes a client; `NotFound` if absent.
    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()>;

    /// Adds a user with its aliases; `Conflict("username")` / `Conflict("alias")` /
    /// `Conflict("sub")` on a clash, `NotFound` if the pool is gone.
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// A user by lookup key.
    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<UserRecord>>;
    /// A user by an alias lookup key (`email:a@b.c`).
    async fn find_user_by_alias(&self, pool_id: &str, alias_key: &str) -> StoreResult<Option<UserRecord>>;
    /// A user by `sub`.
    async fn find_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<UserRecord>>;
    /// Replaces a user (aliases and search values too) if its row is still at
    /// `user.version`, and bumps the version, atomically. `NotFound` if absent,
    /// `Conflict(VERSION_CONFLICT)` if another write came first (nothing written),
    /// `Conflict("alias")` if a new alias is taken. It never writes `failed_attempts`,
    /// `locked_until_ms` nor `tokens_valid_after_ms` (their own verbs own them).
    async fn update_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// Spends one password attempt before the password is checked, in one statement. The
    /// failure count goes up by one *provisionally* (a correct password then clears it,
    /// [`Store::clear_password_failures`]; a wrong one confirms it,
    /// [`Store::record_password_failure`]), so checks in flight are counted before they
    /// finish:
    /// - `Locked` while `locked_until_ms > now_ms`;
    /// - `Spent(count)` while fewer than `free` are counted (failures and checks in
    ///   flight); past that, for one check at a time: every spend holds the user's check
    ///   slot until `now_ms + check_ms`, and a resolution frees it;
    /// - `Busy` otherwise: other checks are in flight and must finish first (the caller
    ///   waits and tries again; a correct password among them frees everything). A check
    ///   that never resolves (a node died mid-check) frees the slot after `check_ms`, so
    ///   no user is ever stuck.
    ///
    /// So parallel guesses never check more than `free` passwords before the lock, then
    /// one per lock period; parallel correct sign-ins wait for each other, never fail.
    /// `NotFound` if the user is gone.
    async fn spend_password_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        now_ms: i64,
        free: i64,
        check_ms: i64,
    ) -> StoreResult<PasswordSpend>;
    /// A spent attempt's password was wrong: from the `free`-th failure on, the user is
    /// locked for `min(1 s × 2^(count − free), max_lock_ms)` from `now_ms`, and the slot
    /// of the check is freed.
    async fn record_password_failure(
        &self,
        pool_id: &str,
        username_key: &str,
        now_ms: i64,
        free: i64,
        max_lock_ms: i64,
    ) -> StoreResult<()>;
    /// Accepts a TOTP code's step once: raises the user's last accepted step to `step` in
    /// one statement, and answers false if it was already there or beyond (the code, or
    /// a later one, has been used).
    async fn use_totp_step(&self, pool_id: &str, username_key: &str, step: i64) -> StoreResult<bool>;
    /// Resets the failure count, the lock and the check slot (a correct password, a new
    /// password).
    async fn clear_password_failures(&self, pool_id: &str, username_key: &str) -> StoreResult<()>;
    /// Deletes a user and everything of theirs (their outbox messages too); `NotFound` if
    /// absent.
    async fn delete_user(&self, pool_id: &str, username_key: &str) -> StoreResult<()>;
    /// Users in lookup-key order, optionally filtered, after `after`, at most `limit`.
    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>>;
    /// How many users a pool has.
    async fn count_users(&self, pool_id: &str) -> StoreResult<i64>;

    /// Stores (replacing) a code for a user and purpose.
    async fn put_code(&self, code: &CodeRecord) -> StoreResult<()>;
    /// The code of a user for a purpose.
    async fn get_code(&self, pool_id: &str, username_key: &str, purpose: &str) -> StoreResult<Option<CodeRecord>>;
    /// Every live code of a user (for `userpool codes`).
    async fn list_codes(&self, pool_id: &str, username_key: &str) -> StoreResult<Vec<CodeRecord>>;
    /// Spends one guess of a live code, in one statement that refuses when none is left
    /// or the code has expired (`None`); the code as it is after the spend. Parallel
    /// guesses each spend one, so no more guesses than attempts are ever checked.
    async fn spend_code_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CodeRecord>>;
    /// Deletes the code if it is still `sealed_code` (not replaced by a newer one); true
    /// only for the one caller that deleted it (a code is used once).
    async fn take_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
        sealed_code: &[u8],
    ) -> StoreResult<bool>;
    /// Deletes a code (used or void).
    async fn delete_code(&self, pool_id: &str, username_key: &str, purpose: &str) -> StoreResult<()>;

    /// Stores a refresh token.
    async fn put_refresh_token(&self, token: &RefreshRecord) -> StoreResult<()>;
    /// Rotation: stores `new` and marks the token `old_hash` rotated at `now_ms` (the first
    /// rotation's instant is kept), in one transaction; true when this call rotated it,
    /// false when another had already (a concurrent use of the same token).
    async fn rotate_refresh_token(&self, old_hash: &[u8], new: &RefreshRecord, now_ms: i64) -> StoreResult<bool>;
    /// A refresh token by hash.
    async fn get_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>>;
    /// Deletes a refresh token and marks its family revoked until `expires_ms`.
    async fn revoke_refresh_token(&self, token_hash: &[u8], origin_jti: &str, expires_ms: i64) -> StoreResult<()>;
    /// Whether a token family is revoked.
    async fn is_origin_revoked(&self, origin_jti: &str) -> StoreResult<bool>;
    /// Ends every sign-in of a user (GlobalSignOut): revokes each token family, deletes the
    /// refresh tokens, and refuses tokens issued before `after_ms`.
    async fn sign_out_user(&self, pool_id: &str, username_key: &str, after_ms: i64) -> StoreResult<()>;

    /// Adds an issued device, first deleting the same user's issued-but-never-confirmed
    /// devices older than `stale_before_ms` (so sign-ins without ConfirmDevice do not pile
    /// up); `Conflict` if the key exists.
    async fn put_device(&self, device: &DeviceRecord, stale_before_ms: i64) -> StoreResult<()>;
    /// A device by key.
    async fn get_device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<DeviceRecord>>;
    /// Replaces a device if its row is still at `device.version`, and bumps the version,
    /// atomically; `NotFound` if absent, `Conflict(VERSION_CONFLICT)` if another write
    /// came first (nothing written). It never writes `last_auth_ms` nor `last_ip`
    /// ([`Store::touch_device`] owns them).
    async fn update_device(&self, device: &DeviceRecord) -> StoreResult<()>;
    /// Records an authentication with a device (DeviceLastAuthenticatedDate and
    /// `last_ip_used`), touching only those columns; `NotFound` if absent.
    async fn touch_device(&self, pool_id: &str, device_key: &str, now_ms: i64, ip: &str) -> StoreResult<()>;
    /// Deletes a device; `NotFound` if absent.
    async fn delete_device(&self, pool_id: &str, device_key: &str) -> StoreResult<()>;
    /// A user's confirmed devices in key order (only remembered ones when asked).
    async fn list_devices(
        &self,
        pool_id: &str,
        username_key: &str,
        remembered_only: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<DeviceRecord>>;
    /// The DeviceGroupKey of any device of the user, to reuse for a new one.
    async fn device_group_key(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<String>>;
    /// Marks a sign-in state used; false if it already was (it yields tokens once). The
    /// marker is kept until `expires_ms`, when the state itself is refused by its expiry
    /// and `prune_expired` deletes it.
    async fn consume_state(&self, nonce: &[u8], expires_ms: i64) -> StoreResult<bool>;
    /// Counts one event under `key` in the fixed window of `window_ms` that holds
    /// `now_ms`, in one statement; the count in this window including this one. The
    /// caller compares it with its limit (code requests, wrong guesses per user).
    async fn count_in_window(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<i64>;
    /// Deletes up to `limit` expired rows from each of the refresh tokens, revoked token
    /// families, codes, consumed sign-in states, rate counters, outbox messages and auth
    /// events (each refused or forgotten by its expiry already); how many went.
    async fn prune_expired(&self, now_ms: i64, limit: usize) -> StoreResult<u64>;

    /// Adds a group; `Conflict` if the name exists, `NotFound` if the pool is gone.
    async fn create_group(&self, group: &GroupRecord) -> StoreResult<()>;
    /// A group by name.
    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<GroupRecord>>;
    /// Replaces a group's description, role, precedence and modified date.
    async fn update_group(&self, group: &GroupRecord) -> StoreResult<()>;
    /// Deletes a group (its memberships go with it); `NotFound` if absent.
    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<()>;
    /// A pool's groups in name order.
    async fn list_groups(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Page<GroupRecord>>;
    /// Adds a user to a group (idempotent).
    async fn add_to_group(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()>;
    /// Removes a user from a group (idempotent).
    async fn remove_from_group(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()>;
    /// The groups of a user in name order.
    async fn groups_of_user(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupRecord>>;
    /// The users of a group in lookup-key order.
    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>>;

    /// Adds a message to the outbox; its id.
    async fn put_message(&self, message: &MessageRecord) -> StoreResult<i64>;
    /// A pool's messages (one user's, when given) with an id above `after`, oldest first,
    /// at most `limit`.
    async fn list_messages(
        &self,
        pool_id: &str,
        username_key: Option<&str>,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>>;

    /// Adds an auth event of a user; `NotFound` if the user is gone, `Conflict("event")`
    /// if its id exists in the pool.
    async fn put_auth_event(&self, event: &AuthEventRecord) -> StoreResult<()>;
    /// An auth event of a user by id.
    async fn get_auth_event(
        &self,
        pool_id: &str,
        username_key: &str,
        event_id: &str,
    ) -> StoreResult<Option<AuthEventRecord>>;
    /// Replaces an event's body (feedback given, a sign-in finished); `NotFound` if absent.
    async fn replace_auth_event(&self, event: &AuthEventRecord) -> StoreResult<()>;
    /// A user's events, newest first (by `created_ms`, then `event_id`, both descending),
    /// after the `(created_ms, event_id)` of the last event of a previous page, at most
    /// `limit`. `next_after` is `<created_ms>:<event_id>` of the page's last event.
    async fn list_auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> StoreResult<Page<AuthEventRecord>>;

    /// Creates a configuration object. `Conflict("object")` when one of its kind already
    /// has its name in its scope (a domain: in any pool); `NotFound` when the pool does
    /// not exist. Atomic: the database's key decides between concurrent creates.
    async fn create_object(&self, object: &ObjectRecord) -> StoreResult<()>;
    /// The object of `kind` named `name` (`pool_id` scopes every kind but domains).
    async fn get_object(&self, kind: ObjectKind, pool_id: &str, name: &str) -> StoreResult<Option<ObjectRecord>>;
    /// Replaces an object's body and modified date (last write wins: these are whole
    /// configurations an administrator sets). `NotFound` when it does not exist.
    async fn replace_object(&self, object: &ObjectRecord) -> StoreResult<()>;
    /// Replaces an object's body and modified date only if it is still the `read` one
    /// (the same body and modified date: compare-and-set, for objects that updates merge
    /// into). `NotFound` when it does not exist, `Conflict(VERSION_CONFLICT)` when another
    /// write came first (nothing written).
    async fn replace_object_if(&self, object: &ObjectRecord, read: &ObjectRecord) -> StoreResult<()>;
    /// Deletes an object. `NotFound` when it does not exist.
    async fn delete_object(&self, kind: ObjectKind, pool_id: &str, name: &str) -> StoreResult<()>;
    /// A pool's objects of one kind, by name.
    async fn list_objects(
        &self,
        kind: ObjectKind,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<ObjectRecord>>;

    /// The objects of a kind unique across every pool (`scope` is `""`: domains, import
    /// runs), whatever their pool, by name.
    async fn list_global_objects(
        &self,
        kind: ObjectKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<ObjectRecord>>;

    /// One batch of a user import, in one transaction: creates each user in order (with
    /// its lookups) unless its username or sub is taken (`UsernameExists`) or one of its
    /// aliases is (`AliasExists`): that user is left out and the others go on. Then
    /// replaces `job`'s body with `job_body(outcomes)` and its modified date, provided its
    /// stored body is still `expected` (the compare-and-set of [`Store::replace_object_if`]).
    /// If the job changed (`Conflict(VERSION_CONFLICT)`) or is gone (`NotFound`), nothing
    /// of the batch is written. So the users of a batch and the job's progress are
    /// committed together or not at all.
    async fn import_users(
        &self,
        users: &[UserRecord],
        job: &ObjectRecord,
        expected: &str,
        job_body: &JobBody,
    ) -> StoreResult<Vec<ImportOutcome>>;

    /// Adds a signing key.
    async fn put_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// A pool's signing keys, oldest first.
    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRecord>>;
}

/// An error and its sources, `outer: inner: innermost` (the driver's message names the
/// step, its sources say why). Here because the store is the lowest crate both the
/// PostgreSQL engine and the binary's Lambda port use.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
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
