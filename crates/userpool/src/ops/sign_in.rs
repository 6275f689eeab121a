//! Sign-in: InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge,
//! AdminRespondToAuthChallenge.
//!
//! Flows: USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH / ADMIN_NO_SRP_AUTH, USER_SRP_AUTH
//! (PASSWORD_VERIFIER), REFRESH_TOKEN_AUTH / REFRESH_TOKEN; challenges
//! NEW_PASSWORD_REQUIRED, DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER.
//!
//! Decisions where Cognito's behaviour is inferred (see `../shared/notes/`):
//! - the SRP state between InitiateAuth and PASSWORD_VERIFIER rides sealed in SECRET_BLOCK
//!   ([`crate::session`]); it expires with the client's AuthSessionValidity and yields
//!   tokens once;
//! - a TIMESTAMP further than 5 minutes from the server clock is refused like a wrong
//!   signature ("Incorrect username or password.");
//! - after the password step, a DEVICE_KEY naming a confirmed, remembered device of the
//!   user always leads to DEVICE_SRP_AUTH (MFA is not implemented, so there is no MFA
//!   order to choose); an unknown or forgotten DEVICE_KEY is "Device does not exist."
//!   *before* the SRP state is used, so the clients' retry without it succeeds;
//! - the device step continues one password step: that step leaves a marker holding its
//!   nonce, keyed by user, client and device; DEVICE_SRP_AUTH must name it (through its
//!   Session, or, for clients that send none such as pycognito, by being the live marker
//!   of that user, client and device), and DEVICE_PASSWORD_VERIFIER takes it once before
//!   any tokens are issued;
//! - every password check (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, PASSWORD_VERIFIER)
//!   spends a sign-in attempt *before* the password is checked, in one store statement,
//!   and a correct password gives it back ([`crate::limits`]): the lockout holds however
//!   many guesses are in flight;
//! - with PreventUserExistenceErrors, USER_SRP_AUTH for an unknown user answers a decoy
//!   PASSWORD_VERIFIER challenge (confirmed: "Amazon Cognito returns a simulated
//!   response"), stable per username (SALT, and USER_ID_FOR_SRP, derived with the data
//!   key) and indistinguishable in shape from a real one; RespondToAuthChallenge then
//!   answers "Incorrect username or password.".

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::ops::{devices, permissions, users};
use crate::passwords;
use crate::session::{self, State};
use crate::tokens::jwt;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::HashMap;
use userpool_model::types::{
    AdminInitiateAuthRequest, AdminInitiateAuthResponse, AdminRespondToAuthChallengeRequest,
    AdminRespondToAuthChallengeResponse, AuthFlowType, AuthenticationResultType, ChallengeNameType,
    ExplicitAuthFlowsType, InitiateAuthRequest, InitiateAuthResponse, PreventUserExistenceErrorTypes,
    RespondToAuthChallengeRequest, RespondToAuthChallengeResponse, TimeUnitsType, UserPoolClientType,
};
use userpool_model::ErrorCode;
use userpool_store::{ClientRecord, DeviceRecord, RefreshRecord, UserRecord};

/// Clock skew allowed on an SRP TIMESTAMP, seconds.
const TIMESTAMP_SKEW_SECS: i64 = 300;

/// An app client with its settings and (opened) secret.
pub struct Client {
    /// The stored record.
    pub record: ClientRecord,
    /// Its configuration.
    pub settings: UserPoolClientType,
    /// The client secret in clear, if it has one.
    pub secret: Option<String>,
}

impl Client {
    /// The client id.
    pub fn id(&self) -> &str {
        &self.record.client_id
    }

    fn flows(&self) -> Vec<ExplicitAuthFlowsType> {
        self.settings.explicit_auth_flows.clone().unwrap_or_else(|| {
            // "If you don't specify a value for ExplicitAuthFlows, your app client supports
            // ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_SRP_AUTH, and ALLOW_CUSTOM_AUTH."
            vec![
                ExplicitAuthFlowsType::AllowRefreshTokenAuth,
                ExplicitAuthFlowsType::AllowUserSrpAuth,
                ExplicitAuthFlowsType::AllowCustomAuth,
            ]
        })
    }

    /// Whether the client allows a flow (new `ALLOW_*` names and the legacy ones).
    pub fn allows(&self, flow: AuthFlowType) -> bool {
        use ExplicitAuthFlowsType as E;
        let flows = self.flows();
        let has = |f: E| flows.contains(&f);
        let legacy_only = !flows.iter().any(|f| f.as_str().starts_with("ALLOW_"));
        match flow {
            AuthFlowType::UserPasswordAuth => has(E::AllowUserPasswordAuth) || has(E::UserPasswordAuth),
            AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth => {
                has(E::AllowAdminUserPasswordAuth) || has(E::AdminNoSrpAuth)
            }
            AuthFlowType::UserSrpAuth => has(E::AllowUserSrpAuth) || legacy_only,
            AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => has(E::AllowRefreshTokenAuth) || legacy_only,
            AuthFlowType::CustomAuth => has(E::AllowCustomAuth) || has(E::CustomAuthFlowOnly),
            AuthFlowType::UserAuth => has(E::AllowUserAuth),
        }
    }

    fn validity_secs(
        &self,
        value: Option<i32>,
        unit: Option<TimeUnitsType>,
        default_unit: TimeUnitsType,
        default: i64,
    ) -> i64 {
        let unit = unit.unwrap_or(default_unit);
        let mult = match unit {
            TimeUnitsType::Seconds => 1,
            TimeUnitsType::Minutes => 60,
            TimeUnitsType::Hours => 3600,
            TimeUnitsType::Days => 86_400,
        };
        value.map_or(default, |v| i64::from(v) * mult)
    }

    /// Access token lifetime, seconds (default one hour).
    pub fn access_validity(&self) -> i64 {
        let units = self.settings.token_validity_units.clone().unwrap_or_default();
        self.validity_secs(
            self.settings.access_token_validity,
            units.access_token,
            TimeUnitsType::Hours,
            3600,
        )
    }

    /// ID token lifetime, seconds (default one hour).
    pub fn id_validity(&self) -> i64 {
        let units = self.settings.token_validity_units.clone().unwrap_or_default();
        self.validity_secs(
            self.settings.id_token_validity,
            units.id_token,
            TimeUnitsType::Hours,
            3600,
        )
    }

    /// Refresh token lifetime, seconds (default 30 days).
    pub fn refresh_validity(&self) -> i64 {
        let units = self.settings.token_validity_units.clone().unwrap_or_default();
        self.validity_secs(
            self.settings.refresh_token_validity,
            units.refresh_token,
            TimeUnitsType::Days,
            30 * 86_400,
        )
    }

    /// How long a challenge session lives, ms.
    pub fn session_ttl_ms(&self) -> i64 {
        self.settings
            .auth_session_validity
            .map_or(session::DEFAULT_TTL_MS, |m| i64::from(m) * 60_000)
    }

    /// PreventUserExistenceErrors = ENABLED.
    pub fn hides_users(&self) -> bool {
        self.settings.prevent_user_existence_errors == Some(PreventUserExistenceErrorTypes::Enabled)
    }
}

/// The client a request names (any pool), or ResourceNotFoundException.
pub async fn load_client(ctx: &Ctx, client_id: &str) -> OpResult<Client> {
    let record = ctx
        .store()
        .find_client(client_id)
        .await?
        .ok_or_else(|| CognitoError::client_not_found(client_id))?;
    let settings = crate::ops::app_clients::client_view(ctx, &record)?;
    let secret = settings.client_secret.clone();
    Ok(Client {
        record,
        settings,
        secret,
    })
}

fn not_authorized(msg: &str) -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, msg)
}

/// "Incorrect username or password."
pub fn incorrect() -> CognitoError {
    not_authorized("Incorrect username or password.")
}

/// Checks SECRET_HASH for clients with a secret. `names` are the usernames the hash may
/// have been computed with (what the user typed, the internal username).
pub fn check_secret_hash(client: &Client, names: &[&str], given: Option<&str>) -> OpResult<()> {
    let Some(secret) = &client.secret else { return Ok(()) };
    let Some(given) = given else {
        return Err(not_authorized(&format!(
            "Client {} is configured for secret but secret was not received",
            client.id()
        )));
    };
    let given = STANDARD.decode(given.as_bytes()).unwrap_or_default();
    let ok = names
        .iter()
        .any(|n| userpool_srp::signature_matches(&userpool_srp::secret_hash(secret, n, client.id()), &given));
    if ok {
        Ok(())
    } else {
        Err(not_authorized(&format!(
            "Unable to verify secret hash for client {}",
            client.id()
        )))
    }
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> OpResult<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| CognitoError::invalid_parameter(format!("Missing required parameter {name}")))
}

fn flow_not_enabled(flow: AuthFlowType) -> CognitoError {
    match flow {
        AuthFlowType::UserPasswordAuth => {
            CognitoError::invalid_parameter("USER_PASSWORD_AUTH flow not enabled for this client")
        }
        AuthFlowType::UserSrpAuth => CognitoError::invalid_parameter("USER_SRP_AUTH is not enabled for the client."),
        AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => {
            CognitoError::invalid_parameter("Refresh Token flow not enabled for this client")
        }
        _ => CognitoError::invalid_parameter("Auth flow not enabled for this client"),
    }
}

/// What a sign-in step answers: a challenge, or tokens.
#[derive(Default)]
pub struct Outcome {
    challenge_name: Option<ChallengeNameType>,
    session: Option<String>,
    challenge_parameters: Option<HashMap<String, String>>,
    authentication_result: Option<AuthenticationResultType>,
}

/// The user a sign-in names, or the error Cognito gives (hiding existence when asked).
async fn sign_in_user(ctx: &Ctx, pool: &users::Pool, client: &Client, name: &str) -> OpResult<UserRecord> {
    match users::find(ctx, pool, name).await? {
        Some(u) => Ok(u),
        None if client.hides_users() => Err(incorrect()),
        None => Err(users::user_not_found()),
    }
}

fn check_not_locked(ctx: &Ctx, user: &UserRecord) -> OpResult<()> {
    if user.locked_until_ms > ctx.now_ms {
        return Err(not_authorized("Password attempts exceeded"));
    }
    Ok(())
}

/// Spends one sign-in attempt before a password is checked (see [`crate::limits`]);
/// refused while the user is locked out. The failures counted so far, this one included.
async fn spend_attempt(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<i64> {
    ctx.store()
        .spend_password_attempt(
            pool.id(),
            &user.username_key,
            ctx.now_ms,
            limits::FREE_PASSWORD_ATTEMPTS,
            limits::MAX_LOCK_MS,
        )
        .await
        .map_err(|e| users::write_error(e, pool))?
        .ok_or_else(|| not_authorized("Password attempts exceeded"))
}

/// The answer to a wrong password whose attempt was spent: past the free attempts,
/// "Password attempts exceeded" (the user is locked now).
fn wrong_password(failures: i64) -> CognitoError {
    if failures > limits::FREE_PASSWORD_ATTEMPTS {
        not_authorized("Password attempts exceeded")
    } else {
        incorrect()
    }
}

/// A correct password: the attempts spent are given back.
async fn password_proven(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<()> {
    ctx.store()
        .clear_password_failures(pool.id(), &user.username_key)
        .await?;
    Ok(())
}

/// After a correct password: the user's state decides what follows.
fn check_status(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<()> {
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    match user.status.as_str() {
        "UNCONFIRMED" => Err(CognitoError::new(
            ErrorCode::UserNotConfirmedException,
            "User is not confirmed.",
        )),
        "RESET_REQUIRED" => Err(CognitoError::new(
            ErrorCode::PasswordResetRequiredException,
            "Password reset required for the user",
        )),
        "FORCE_CHANGE_PASSWORD"
            if user.password_set_ms + users::temporary_ttl_ms(&pool.password_policy()) < ctx.now_ms =>
        {
            Err(not_authorized(
                "Temporary password has expired and must be reset by an administrator.",
            ))
        }
        _ => Ok(()),
    }
}

async fn password_sign_in(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    name: &str,
    password: &str,
) -> OpResult<UserRecord> {
    let user = sign_in_user(ctx, pool, client, name).await?;
    let failures = spend_attempt(ctx, pool, &user).await?;
    let ok = user
        .password
        .as_ref()
        .is_some_and(|v| passwords::matches(pool.id(), &user.username, v, password));
    if !ok {
        return Err(wrong_password(failures));
    }
    password_proven(ctx, pool, &user).await?;
    check_status(ctx, pool, &user)?;
    Ok(user)
}

/// What follows a proven password: NEW_PASSWORD_REQUIRED, the device challenge, or tokens.
async fn after_password(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<&str>,
) -> OpResult<Outcome> {
    if user.status == "FORCE_CHANGE_PASSWORD" {
        let state = State::new(
            ctx,
            "NEW_PASSWORD_REQUIRED",
            pool.id(),
            &user.username_key,
            client.id(),
            client.session_ttl_ms(),
        );
        let attrs: serde_json::Map<String, serde_json::Value> = user
            .attributes
            .iter()
            .filter(|(n, _)| n != "sub")
            .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let required: Vec<String> = pool
            .settings()
            .schema_attributes
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|s| s.required == Some(true))
            .filter_map(|s| s.name.clone())
            .filter(|n| n != "sub" && users::attr(user, n).is_none())
            .map(|n| format!("userAttributes.{n}"))
            .collect();
        return Ok(Outcome {
            challenge_name: Some(ChallengeNameType::NewPasswordRequired),
            session: Some(session::seal(ctx, &state)),
            challenge_parameters: Some(HashMap::from([
                ("USER_ID_FOR_SRP".to_string(), user.username.clone()),
                (
                    "requiredAttributes".to_string(),
                    serde_json::to_string(&required).unwrap_or_default(),
                ),
                (
                    "userAttributes".to_string(),
                    serde_json::Value::Object(attrs).to_string(),
                ),
            ])),
            authentication_result: None,
        });
    }
    if let Some(key) = device_key {
        let device = devices::presented(ctx, pool, user, key).await?;
        if device.confirmed && device.remembered && device.verifier.is_some() {
            let mut state = State::new(
                ctx,
                "DEVICE_SRP_AUTH",
                pool.id(),
                &user.username_key,
                client.id(),
                client.session_ttl_ms(),
            );
            state.device = Some(device.device_key.clone());
            devices::note_password_step(
                ctx,
                user,
                client.id(),
                &device.device_key,
                &state.nonce_bytes(),
                client.session_ttl_ms(),
            )
            .await?;
            return Ok(Outcome {
                challenge_name: Some(ChallengeNameType::DeviceSrpAuth),
                session: Some(session::seal(ctx, &state)),
                challenge_parameters: Some(HashMap::from([("USERNAME".to_string(), user.username.clone())])),
                authentication_result: None,
            });
        }
        return tokens(ctx, pool, client, user, Some(device)).await;
    }
    tokens(ctx, pool, client, user, None).await
}

/// Tokens for a finished sign-in; a new device when the pool tracks devices and none was
/// presented.
async fn tokens(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device: Option<DeviceRecord>,
) -> OpResult<Outcome> {
    let (device_key, new_device) = match device {
        Some(d) => {
            devices::authenticated(ctx, &d).await?;
            (Some(d.device_key), None)
        }
        None if pool.settings().device_configuration.is_some() => {
            let meta = devices::issue(ctx, pool, user).await?;
            (meta.device_key.clone(), Some(meta))
        }
        None => (None, None),
    };
    let origin_jti = crate::ids::uuid().to_string();
    let now = ctx.now_ms.div_euclid(1000);
    let mut result = grant(ctx, pool, client, user, device_key.as_deref(), now, &origin_jti).await?;
    let (refresh, hash) = jwt::new_refresh_token();
    ctx.store()
        .put_refresh_token(&RefreshRecord {
            token_hash: hash,
            pool_id: pool.id().to_string(),
            username_key: user.username_key.clone(),
            client_id: client.id().to_string(),
            device_key,
            origin_jti,
            auth_time: now,
            created_ms: ctx.now_ms,
            expires_ms: ctx.now_ms + client.refresh_validity() * 1000,
        })
        .await?;
    result.refresh_token = Some(refresh);
    result.new_device_metadata = new_device;
    Ok(Outcome {
        challenge_parameters: Some(HashMap::new()),
        authentication_result: Some(result),
        ..Outcome::default()
    })
}

/// Signs the ID and access tokens (no refresh token).
async fn grant(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<&str>,
    auth_time: i64,
    origin_jti: &str,
) -> OpResult<AuthenticationResultType> {
    let keys = ctx
        .app
        .keys
        .get(ctx.store(), &ctx.app.sealer, pool.id(), ctx.now_ms)
        .await?;
    let issuer = ctx.app.config.issuer(pool.id());
    let groups = crate::ops::groups::token_groups(ctx, user).await?;
    // The ID token carries the attributes the client may read (ReadAttributes).
    let filtered;
    let user = if client.settings.read_attributes.as_ref().is_some_and(|l| !l.is_empty()) {
        let mut u = user.clone();
        u.attributes = permissions::filter_readable(&client.settings, &user.attributes);
        filtered = u;
        &filtered
    } else {
        user
    };
    let g = jwt::Grant {
        issuer: &issuer,
        client_id: client.id(),
        user,
        groups: &groups,
        device_key,
        auth_time,
        origin_jti,
        now: ctx.now_ms.div_euclid(1000),
        access_validity: client.access_validity(),
        id_validity: client.id_validity(),
    };
    let (access, id) = crate::clock::blocking(|| jwt::sign_pair(&keys, &g))?;
    Ok(AuthenticationResultType {
        access_token: Some(access),
        expires_in: i32::try_from(client.access_validity()).ok(),
        token_type: Some("Bearer".into()),
        refresh_token: None,
        id_token: Some(id),
        new_device_metadata: None,
    })
}

/// REFRESH_TOKEN_AUTH: new ID and access tokens for a valid refresh token.
async fn refresh(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let invalid = || not_authorized("Invalid Refresh Token.");
    let token = param(params, "REFRESH_TOKEN")?;
    let record = match ctx.store().get_refresh_token(&jwt::refresh_hash(token)).await? {
        Some(r) => r,
        None => return Err(invalid()),
    };
    if record.client_id != client.id() || record.pool_id != pool.id() {
        return Err(invalid());
    }
    if record.expires_ms <= ctx.now_ms {
        return Err(not_authorized("Refresh Token has expired"));
    }
    if ctx.store().is_origin_revoked(&record.origin_jti).await? {
        return Err(not_authorized("Refresh Token has been revoked"));
    }
    let Some(user) = ctx.store().get_user(pool.id(), &record.username_key).await? else {
        return Err(invalid());
    };
    check_secret_hash(
        client,
        &[&user.username, &user.sub],
        params.get("SECRET_HASH").map(String::as_str),
    )?;
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    if record.created_ms < user.tokens_valid_after_ms {
        return Err(not_authorized("Refresh Token has been revoked"));
    }
    // A refresh token issued with a device works only with that device, confirmed and
    // not forgotten (device-tracking.md §6).
    if let Some(bound) = &record.device_key {
        let given = params.get("DEVICE_KEY").map(String::as_str);
        if given != Some(bound.as_str()) {
            return Err(invalid());
        }
        match ctx.store().get_device(pool.id(), bound).await? {
            Some(d) if d.confirmed && d.username_key == user.username_key => {
                devices::authenticated(ctx, &d).await?;
            }
            _ => return Err(invalid()),
        }
    }
    let result = grant(
        ctx,
        pool,
        client,
        &user,
        record.device_key.as_deref(),
        record.auth_time,
        &record.origin_jti,
    )
    .await?;
    Ok(Outcome {
        challenge_parameters: Some(HashMap::new()),
        authentication_result: Some(result),
        ..Outcome::default()
    })
}

/// The client's SRP_A, refused when it is not a number or is 0 mod N.
fn client_public(srp_a: &str) -> OpResult<userpool_srp::Int> {
    let a = userpool_srp::from_hex(srp_a).ok_or_else(|| CognitoError::invalid_parameter("Invalid SRP_A value."))?;
    userpool_srp::check_a(&a).map_err(|_| CognitoError::invalid_parameter("SRP_A cannot be 0 mod N."))?;
    Ok(a)
}

/// A fresh server SRP half (`b`, `B`) against verifier `v`, sealed into the state of
/// `challenge` with the client's `A`; the state and `B`.
fn srp_challenge(
    ctx: &Ctx,
    challenge: &str,
    pool: &users::Pool,
    user: &UserRecord,
    client: &Client,
    v: &userpool_srp::Int,
    a: &userpool_srp::Int,
) -> (State, userpool_srp::Int) {
    let (b, big_b) = crate::clock::blocking(|| {
        let b = userpool_srp::new_private();
        let big_b = userpool_srp::server_public(v, &b);
        (b, big_b)
    });
    let mut state = State::new(
        ctx,
        challenge,
        pool.id(),
        &user.username_key,
        client.id(),
        client.session_ttl_ms(),
    );
    state.srp = Some((
        userpool_srp::to_hex(&b),
        userpool_srp::to_hex(&big_b),
        userpool_srp::to_hex(a),
    ));
    (state, big_b)
}

/// USER_SRP_AUTH: the PASSWORD_VERIFIER challenge.
async fn srp_start(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(params, "USERNAME")?;
    let srp_a = param(params, "SRP_A")?;
    check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
    let a = client_public(srp_a)?;
    let user = match users::find(ctx, pool, name).await? {
        Some(u) => u,
        None if client.hides_users() => return Ok(decoy_challenge(ctx, pool, client, name, &a)),
        None => return Err(users::user_not_found()),
    };
    check_not_locked(ctx, &user)?;
    let Some(stored) = &user.password else {
        return Err(incorrect());
    };
    let (state, big_b) = srp_challenge(
        ctx,
        "PASSWORD_VERIFIER",
        pool,
        &user,
        client,
        &passwords::verifier_int(stored),
        &a,
    );
    Ok(Outcome {
        challenge_name: Some(ChallengeNameType::PasswordVerifier),
        // The real service sends no Session here; the state rides in SECRET_BLOCK.
        session: None,
        challenge_parameters: Some(HashMap::from([
            ("SALT".to_string(), hex::encode(&stored.salt)),
            ("SRP_B".to_string(), userpool_srp::to_hex(&big_b)),
            ("SECRET_BLOCK".to_string(), session::seal(ctx, &state)),
            ("USERNAME".to_string(), user.username.clone()),
            ("USER_ID_FOR_SRP".to_string(), user.username.clone()),
        ])),
        authentication_result: None,
    })
}

/// The PASSWORD_VERIFIER challenge for a user who does not exist, when the client hides
/// existence: the same members, lengths and work as a real one. SALT and (for pools
/// whose usernames are emails or phones, where the real value is a UUID) USER_ID_FOR_SRP
/// are derived from the data key and the name, so asking twice gives the same answer as
/// for a real user; B is made from a derived verifier. Its state names no user, so the
/// answer to it is "Incorrect username or password.".
fn decoy_challenge(ctx: &Ctx, pool: &users::Pool, client: &Client, name: &str, a: &userpool_srp::Int) -> Outcome {
    let seed = ctx
        .app
        .sealer
        .derive(format!("decoy-srp\0{}\0{}", pool.id(), pool.username_key(name)).as_bytes());
    let salt = seed.get(..16).unwrap_or_default();
    let user_id = if pool.email_or_phone_usernames() {
        uuid::Builder::from_random_bytes(seed.get(16..32).and_then(|b| b.try_into().ok()).unwrap_or([0; 16]))
            .into_uuid()
            .to_string()
    } else {
        name.to_string()
    };
    let v = userpool_srp::pow_g(&userpool_srp::from_bytes_be(&seed));
    let decoy = UserRecord {
        pool_id: pool.id().to_string(),
        username_key: String::new(),
        username: user_id.clone(),
        sub: String::new(),
        status: String::new(),
        enabled: false,
        created_ms: 0,
        modified_ms: 0,
        attributes: Vec::new(),
        password: None,
        password_set_ms: 0,
        failed_attempts: 0,
        locked_until_ms: 0,
        tokens_valid_after_ms: 0,
        version: 0,
        lookups: None,
    };
    let (state, big_b) = srp_challenge(ctx, "PASSWORD_VERIFIER", pool, &decoy, client, &v, a);
    Outcome {
        challenge_name: Some(ChallengeNameType::PasswordVerifier),
        session: None,
        challenge_parameters: Some(HashMap::from([
            ("SALT".to_string(), hex::encode(salt)),
            ("SRP_B".to_string(), userpool_srp::to_hex(&big_b)),
            ("SECRET_BLOCK".to_string(), session::seal(ctx, &state)),
            ("USERNAME".to_string(), user_id.clone()),
            ("USER_ID_FOR_SRP".to_string(), user_id),
        ])),
        authentication_result: None,
    }
}

/// Checks an SRP claim: TIMESTAMP format and freshness, then the signature.
fn check_claim(
    ctx: &Ctx,
    state: &State,
    verifier: &userpool_srp::Int,
    pool_name: &str,
    user_id: &str,
    responses: &HashMap<String, String>,
) -> OpResult<bool> {
    let ts = param(responses, "TIMESTAMP")?;
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let claimed = STANDARD
        .decode(param(responses, "PASSWORD_CLAIM_SIGNATURE")?.as_bytes())
        .unwrap_or_default();
    let Some(at) = userpool_srp::timestamp::parse(ts) else {
        return Err(CognitoError::invalid_parameter(
            "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
        ));
    };
    if (at - ctx.now_ms.div_euclid(1000)).abs() > TIMESTAMP_SKEW_SECS {
        tracing::info!(
            skew_s = at - ctx.now_ms.div_euclid(1000),
            "SRP TIMESTAMP outside the clock window"
        );
        return Ok(false);
    }
    // The signature is checked over the canonical text: a padded day or a wrong weekday
    // fails as on the real service.
    let Some(canonical) = userpool_srp::timestamp::canonical(at) else {
        return Ok(false);
    };
    let Some((b, big_b, a)) = &state.srp else {
        return Ok(false);
    };
    let (Some(b), Some(big_b), Some(a)) = (
        userpool_srp::from_hex(b),
        userpool_srp::from_hex(big_b),
        userpool_srp::from_hex(a),
    ) else {
        return Ok(false);
    };
    let block_bytes = STANDARD.decode(block.as_bytes()).unwrap_or_default();
    let ok = crate::clock::blocking(|| match userpool_srp::server_key(&a, &big_b, &b, verifier) {
        Ok(key) => {
            let expected = userpool_srp::claim_signature(&key, pool_name, user_id, &block_bytes, &canonical);
            userpool_srp::signature_matches(&expected, &claimed) && canonical == ts
        }
        Err(_) => false,
    });
    Ok(ok)
}

fn non_empty<'a>(responses: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    responses.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// PASSWORD_VERIFIER: the user's SRP proof.
async fn password_verifier(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    check_secret_hash(client, &[name], responses.get("SECRET_HASH").map(String::as_str))?;
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let state = session::open(ctx, block)
        .filter(|s| s.challenge == "PASSWORD_VERIFIER")
        .ok_or_else(incorrect)?;
    if state.client != client.id() || state.pool != pool.id() {
        return Err(incorrect());
    }
    // A decoy state (an unknown user, PreventUserExistenceErrors) names no user.
    if state.user.is_empty() {
        return Err(incorrect());
    }
    let Some(user) = ctx.store().get_user(pool.id(), &state.user).await? else {
        return Err(incorrect());
    };
    // An unknown or forgotten device is refused before the SRP state is used, so the
    // clients' retry of this same request without DEVICE_KEY succeeds.
    let device_key = non_empty(responses, "DEVICE_KEY");
    if let Some(key) = device_key {
        devices::presented(ctx, pool, &user, key).await?;
    }
    let Some(stored) = &user.password else {
        return Err(incorrect());
    };
    let failures = spend_attempt(ctx, pool, &user).await?;
    let v = passwords::verifier_int(stored);
    if !check_claim(
        ctx,
        &state,
        &v,
        passwords::srp_pool_name(pool.id()),
        &user.username,
        responses,
    )? {
        return Err(wrong_password(failures));
    }
    password_proven(ctx, pool, &user).await?;
    if !ctx.store().consume_state(&state.nonce_bytes(), state.exp).await? {
        return Err(incorrect());
    }
    check_status(ctx, pool, &user)?;
    after_password(ctx, pool, client, &user, device_key).await
}

/// DEVICE_SRP_AUTH: the client starts proving its device; answer DEVICE_PASSWORD_VERIFIER.
async fn device_srp_auth(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let key = param(responses, "DEVICE_KEY")?;
    let srp_a = param(responses, "SRP_A")?;
    let user = users::find(ctx, pool, name).await?.ok_or_else(incorrect)?;
    check_secret_hash(
        client,
        &[name, &user.username],
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    let device = devices::presented(ctx, pool, &user, key).await?;
    // The Session, when the client sends one, must be this user's DEVICE_SRP_AUTH state
    // through this client for this device, and names the password step it continues.
    let expected = match session {
        Some(s) => {
            let st = session::open(ctx, s)
                .filter(|st| st.challenge == "DEVICE_SRP_AUTH")
                .filter(|st| st.pool == pool.id() && st.client == client.id() && st.user == user.username_key)
                .filter(|st| st.device.as_deref() == Some(device.device_key.as_str()))
                .ok_or_else(|| not_authorized("Invalid session for the user."))?;
            Some(st.nonce_bytes())
        }
        None => None,
    };
    let step = devices::check_password_step(ctx, &user, client.id(), key, expected.as_deref()).await?;
    let (Some(salt), Some(verifier)) = (&device.salt, &device.verifier) else {
        return Err(incorrect());
    };
    let a = client_public(srp_a)?;
    let v = userpool_srp::from_bytes_be(verifier);
    let (mut state, big_b) = srp_challenge(ctx, "DEVICE_PASSWORD_VERIFIER", pool, &user, client, &v, &a);
    state.device = Some(device.device_key.clone());
    state.step = Some(hex::encode(step));
    let sealed = session::seal(ctx, &state);
    // The Session (at most 2048 characters on the wire) names the challenge; the SRP
    // values ride in SECRET_BLOCK only.
    let mut light = state.clone();
    light.srp = None;
    Ok(Outcome {
        challenge_name: Some(ChallengeNameType::DevicePasswordVerifier),
        session: Some(session::seal(ctx, &light)),
        challenge_parameters: Some(HashMap::from([
            ("SALT".to_string(), hex::encode(salt)),
            ("SRP_B".to_string(), userpool_srp::to_hex(&big_b)),
            ("SECRET_BLOCK".to_string(), sealed),
            ("USERNAME".to_string(), user.username.clone()),
            ("DEVICE_KEY".to_string(), device.device_key.clone()),
        ])),
        authentication_result: None,
    })
}

/// DEVICE_PASSWORD_VERIFIER: the device's SRP proof; tokens bound to the device.
async fn device_password_verifier(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let state = session::open(ctx, block)
        .filter(|s| s.challenge == "DEVICE_PASSWORD_VERIFIER")
        .ok_or_else(incorrect)?;
    if state.client != client.id() || state.pool != pool.id() {
        return Err(incorrect());
    }
    let Some(user) = ctx.store().get_user(pool.id(), &state.user).await? else {
        return Err(incorrect());
    };
    check_secret_hash(
        client,
        &[name, &user.username],
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    let key = state.device.clone().unwrap_or_default();
    if non_empty(responses, "DEVICE_KEY").is_some_and(|k| k != key) {
        return Err(incorrect());
    }
    let device = devices::presented(ctx, pool, &user, &key).await?;
    let Some(verifier) = &device.verifier else {
        return Err(incorrect());
    };
    let v = userpool_srp::from_bytes_be(verifier);
    if !check_claim(ctx, &state, &v, &device.device_group_key, &device.device_key, responses)? {
        return Err(incorrect());
    }
    // The password step this continues is taken once: one password step, one set of tokens.
    let step = state
        .step
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    devices::take_password_step(ctx, &user, client.id(), &key, &step).await?;
    if !ctx.store().consume_state(&state.nonce_bytes(), state.exp).await? {
        return Err(incorrect());
    }
    check_status(ctx, pool, &user)?;
    tokens(ctx, pool, client, &user, Some(device)).await
}

/// NEW_PASSWORD_REQUIRED: the user sets a permanent password (and required attributes).
async fn new_password(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let new = param(responses, "NEW_PASSWORD")?;
    let invalid_session = || not_authorized("Invalid session for the user.");
    let state = session
        .and_then(|s| session::open(ctx, s))
        .filter(|s| s.challenge == "NEW_PASSWORD_REQUIRED")
        .ok_or_else(invalid_session)?;
    if state.client != client.id() || state.pool != pool.id() {
        return Err(invalid_session());
    }
    let user = ctx
        .store()
        .get_user(pool.id(), &state.user)
        .await?
        .ok_or_else(invalid_session)?;
    check_secret_hash(
        client,
        &[name, &user.username],
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    if user.status != "FORCE_CHANGE_PASSWORD" {
        return Err(invalid_session());
    }
    // The user may have been disabled since the password step.
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    passwords::check_policy(&pool.password_policy(), new)?;
    let attrs: Vec<userpool_model::types::AttributeType> = responses
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("userAttributes.")
                .map(|n| userpool_model::types::AttributeType {
                    name: n.to_string(),
                    value: Some(v.clone()),
                })
        })
        .collect();
    permissions::check_writable(&client.settings, attrs.iter().map(|a| a.name.as_str()))?;
    users::check_attributes(pool, &attrs, false)?;
    let mut with = user.attributes.clone();
    users::set_attributes(&mut with, &attrs);
    users::check_required(pool, &with)?;
    if !ctx.store().consume_state(&state.nonce_bytes(), state.exp).await? {
        return Err(invalid_session());
    }
    let verifier = passwords::make_verifier(pool.id(), &user.username, new);
    let (user, ()) = users::modify(ctx, pool, user, |user| {
        if user.status != "FORCE_CHANGE_PASSWORD" {
            return Err(invalid_session());
        }
        if !user.enabled {
            return Err(not_authorized("User is disabled."));
        }
        users::set_attributes(&mut user.attributes, &attrs);
        user.password = Some(verifier.clone());
        user.password_set_ms = ctx.now_ms;
        user.modified_ms = ctx.now_ms;
        user.status = "CONFIRMED".into();
        users::refresh_lookups(pool, user);
        Ok(())
    })
    .await?;
    let device_key = non_empty(responses, "DEVICE_KEY");
    after_password(ctx, pool, client, &user, device_key).await
}

async fn initiate(
    ctx: &Ctx,
    client: &Client,
    flow: AuthFlowType,
    params: &HashMap<String, String>,
    admin: bool,
) -> OpResult<Outcome> {
    let pool = users::load(ctx, &client.record.pool_id).await?;
    if !client.allows(flow) {
        return Err(flow_not_enabled(flow));
    }
    match flow {
        AuthFlowType::UserPasswordAuth | AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth => {
            let is_admin_flow = flow != AuthFlowType::UserPasswordAuth;
            if is_admin_flow != admin {
                return Err(CognitoError::invalid_parameter(format!(
                    "Initiate Auth method not supported: {} is not a valid flow for this operation.",
                    flow.as_str()
                )));
            }
            let name = param(params, "USERNAME")?;
            let password = param(params, "PASSWORD")?;
            check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
            let user = password_sign_in(ctx, &pool, client, name, password).await?;
            let device_key = non_empty(params, "DEVICE_KEY");
            after_password(ctx, &pool, client, &user, device_key).await
        }
        AuthFlowType::UserSrpAuth => srp_start(ctx, &pool, client, params).await,
        AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => refresh(ctx, &pool, client, params).await,
        AuthFlowType::CustomAuth | AuthFlowType::UserAuth => Err(CognitoError::new(
            ErrorCode::UnsupportedOperationException,
            format!("userpool does not implement the {} flow yet.", flow.as_str()),
        )),
    }
}

async fn respond(
    ctx: &Ctx,
    client: &Client,
    challenge: ChallengeNameType,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let pool = users::load(ctx, &client.record.pool_id).await?;
    match challenge {
        ChallengeNameType::PasswordVerifier => password_verifier(ctx, &pool, client, responses).await,
        ChallengeNameType::NewPasswordRequired => new_password(ctx, &pool, client, session, responses).await,
        ChallengeNameType::DeviceSrpAuth => device_srp_auth(ctx, &pool, client, session, responses).await,
        ChallengeNameType::DevicePasswordVerifier => device_password_verifier(ctx, &pool, client, responses).await,
        other => Err(CognitoError::new(
            ErrorCode::UnsupportedOperationException,
            format!("userpool does not implement the {} challenge yet.", other.as_str()),
        )),
    }
}

/// InitiateAuth
pub async fn initiate_auth(ctx: &Ctx, req: InitiateAuthRequest) -> OpResult<InitiateAuthResponse> {
    let client = load_client(ctx, &req.client_id).await?;
    let o = initiate(
        ctx,
        &client,
        req.auth_flow,
        &req.auth_parameters.unwrap_or_default(),
        false,
    )
    .await?;
    Ok(InitiateAuthResponse {
        challenge_name: o.challenge_name,
        session: o.session,
        challenge_parameters: o.challenge_parameters,
        authentication_result: o.authentication_result,
        available_challenges: None,
    })
}

/// AdminInitiateAuth
pub async fn admin_initiate_auth(ctx: &Ctx, req: AdminInitiateAuthRequest) -> OpResult<AdminInitiateAuthResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let client = load_client(ctx, &req.client_id).await?;
    if client.record.pool_id != req.user_pool_id {
        return Err(CognitoError::client_not_found(&req.client_id));
    }
    let o = initiate(
        ctx,
        &client,
        req.auth_flow,
        &req.auth_parameters.unwrap_or_default(),
        true,
    )
    .await?;
    Ok(AdminInitiateAuthResponse {
        challenge_name: o.challenge_name,
        session: o.session,
        challenge_parameters: o.challenge_parameters,
        authentication_result: o.authentication_result,
        available_challenges: None,
    })
}

/// RespondToAuthChallenge
pub async fn respond_to_auth_challenge(
    ctx: &Ctx,
    req: RespondToAuthChallengeRequest,
) -> OpResult<RespondToAuthChallengeResponse> {
    let client = load_client(ctx, &req.client_id).await?;
    let o = respond(
        ctx,
        &client,
        req.challenge_name,
        req.session.as_deref(),
        &req.challenge_responses.unwrap_or_default(),
    )
    .await?;
    Ok(RespondToAuthChallengeResponse {
        challenge_name: o.challenge_name,
        session: o.session,
        challenge_parameters: o.challenge_parameters,
        authentication_result: o.authentication_result,
    })
}

/// AdminRespondToAuthChallenge
pub async fn admin_respond_to_auth_challenge(
    ctx: &Ctx,
    req: AdminRespondToAuthChallengeRequest,
) -> OpResult<AdminRespondToAuthChallengeResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let client = load_client(ctx, &req.client_id).await?;
    if client.record.pool_id != req.user_pool_id {
        return Err(CognitoError::client_not_found(&req.client_id));
    }
    let o = respond(
        ctx,
        &client,
        req.challenge_name,
        req.session.as_deref(),
        &req.challenge_responses.unwrap_or_default(),
    )
    .await?;
    Ok(AdminRespondToAuthChallengeResponse {
        challenge_name: o.challenge_name,
        session: o.session,
        challenge_parameters: o.challenge_parameters,
        authentication_result: o.authentication_result,
    })
}
