//! Sign-in: InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge,
//! AdminRespondToAuthChallenge.
//!
//! Flows: USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH / ADMIN_NO_SRP_AUTH, USER_SRP_AUTH
//! (PASSWORD_VERIFIER), REFRESH_TOKEN_AUTH / REFRESH_TOKEN; challenges
//! NEW_PASSWORD_REQUIRED, DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER.
//!
//! **A state machine.** The state between two requests is one sealed, versioned
//! [`state::State`] whose [`state::Step`] names the challenge it waits for; each step is
//! one file, taking the state and the answer and returning the next state or tokens:
//!
//! | request | step (file) | next |
//! |---|---|---|
//! | USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH / ADMIN_NO_SRP_AUTH | [`password`] | [`after_password`] |
//! | USER_SRP_AUTH | [`srp::start`] | PASSWORD_VERIFIER (`Step::PasswordVerifier`, or `Step::Decoy` for an unknown user, in SECRET_BLOCK) |
//! | PASSWORD_VERIFIER | [`srp::password_verifier`] | [`after_password`] |
//! | *after_password* | [`after_password`] | NEW_PASSWORD_REQUIRED (`Step::NewPasswordRequired`), DEVICE_SRP_AUTH (`Step::DeviceSrpAuth`) for a remembered device, or tokens |
//! | NEW_PASSWORD_REQUIRED | [`new_password`] | [`after_password`] |
//! | DEVICE_SRP_AUTH | [`device::srp_auth`] | DEVICE_PASSWORD_VERIFIER (`Step::DevicePasswordVerifier`) |
//! | DEVICE_PASSWORD_VERIFIER | [`device::password_verifier`] | tokens bound to the device |
//! | REFRESH_TOKEN_AUTH / REFRESH_TOKEN | [`refresh`] | tokens (no refresh token) |
//!
//! Tokens are issued in one place ([`grant`]). A state yields tokens once (its nonce is
//! consumed in the store) and expires with the client's AuthSessionValidity.
//!
//! Decisions where Cognito's behaviour is inferred (see `../shared/notes/`):
//! - the SRP state between InitiateAuth and PASSWORD_VERIFIER rides sealed in SECRET_BLOCK
//!   (clients that send no Session, such as pycognito, echo it);
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

mod choice;
mod custom;
mod device;
mod grant;
mod mfa;
mod new_password;
mod otp;
mod passkey;
mod password;
mod refresh;
mod srp;
pub mod state;

pub use choice::{get_user_auth_factors, signed_up_session};
pub use grant::hosted_tokens;
pub use refresh::{get_tokens_from_refresh_token, oauth_refresh};

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{self, Client};
use crate::ops::{devices, permissions, users};
use state::{State, Step};
use std::collections::HashMap;
use userpool_model::types::{
    AdminInitiateAuthRequest, AdminInitiateAuthResponse, AdminRespondToAuthChallengeRequest,
    AdminRespondToAuthChallengeResponse, AuthFlowType, AuthenticationResultType, ChallengeNameType,
    InitiateAuthRequest, InitiateAuthResponse, RespondToAuthChallengeRequest, RespondToAuthChallengeResponse,
};
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

pub(super) fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> OpResult<&'a str> {
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
        AuthFlowType::UserAuth => CognitoError::invalid_parameter("USER_AUTH flow not enabled for this client"),
        AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => {
            CognitoError::invalid_parameter("Refresh Token flow not enabled for this client")
        }
        _ => CognitoError::invalid_parameter("Auth flow not enabled for this client"),
    }
}

/// SECRET_HASH on a challenge's answer, except from the hosted pages, which send none (the
/// client's secret guards the code exchange there).
pub(super) fn check_answer_secret(
    ctx: &Ctx,
    client: &Client,
    names: &[&str],
    responses: &HashMap<String, String>,
) -> OpResult<()> {
    if ctx.hosted {
        return Ok(());
    }
    app_clients::check_secret_hash(client, names, responses.get("SECRET_HASH").map(String::as_str))
}

pub(super) fn non_empty<'a>(responses: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    responses.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// What a sign-in step answers: a challenge, or tokens.
#[derive(Default)]
pub struct Outcome {
    /// The next challenge, if any.
    pub challenge_name: Option<ChallengeNameType>,
    /// The sealed state for the next request, when it rides in the Session.
    pub session: Option<String>,
    /// The challenge's parameters (empty with tokens).
    pub challenge_parameters: Option<HashMap<String, String>>,
    /// The tokens, when the sign-in is done.
    pub authentication_result: Option<AuthenticationResultType>,
    /// The user, when a hosted sign-in (`Ctx::hosted`) is done: the hosted pages then
    /// issue an authorization code instead of tokens.
    pub signed_in: Option<UserRecord>,
    /// USER_AUTH's `AvailableChallenges` (InitiateAuth and AdminInitiateAuth only).
    pub available_challenges: Option<Vec<ChallengeNameType>>,
}

/// The user a sign-in names, or the error Cognito gives (hiding existence when asked).
pub(super) async fn sign_in_user(ctx: &Ctx, pool: &users::Pool, client: &Client, name: &str) -> OpResult<UserRecord> {
    match users::find(ctx, pool, name).await? {
        Some(u) => Ok(u),
        None if client.hides_users() => Err(CognitoError::incorrect_credentials()),
        None => Err(users::user_not_found()),
    }
}

/// A user imported from a CSV file (`RESET_REQUIRED`, no password yet) signing in with
/// any password: the developer guide's "Requiring imported users to reset their
/// passwords" answer, PasswordResetRequiredException, or NotAuthorizedException where
/// the client hides users' existence (PreventUserExistenceErrors).
pub(super) fn check_imported(client: &Client, user: &UserRecord) -> OpResult<()> {
    if user.status != "RESET_REQUIRED" || user.password.is_some() {
        return Ok(());
    }
    if client.hides_users() {
        return Err(CognitoError::incorrect_credentials());
    }
    Err(CognitoError::new(
        ErrorCode::PasswordResetRequiredException,
        "Password reset required for the user",
    ))
}

/// After a correct password: the user's state decides what follows.
pub(super) fn check_status(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<()> {
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
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
            Err(CognitoError::not_authorized(
                "Temporary password has expired and must be reset by an administrator.",
            ))
        }
        _ => Ok(()),
    }
}

/// What follows a proven password, the one transition every password step shares:
/// NEW_PASSWORD_REQUIRED for a temporary password; then the second factor when MFA is due
/// ([`mfa::due`]), unless the pool lets a remembered device stand in for it
/// (`ChallengeRequiredOnNewDevice`) and one is presented; then
/// [`after_second_factor`].
pub(super) async fn after_password(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<&str>,
) -> OpResult<Outcome> {
    if user.status == "FORCE_CHANGE_PASSWORD" {
        let state = State::new(
            ctx,
            Step::NewPasswordRequired,
            pool.id(),
            &user.username_key,
            client.id(),
            client.session_ttl_ms(),
        );
        // The attributes the client may read (never developer-only ones).
        let attrs: serde_json::Map<String, serde_json::Value> =
            permissions::filter_readable(&client.settings, &user.attributes)
                .into_iter()
                .filter(|(n, _)| n != "sub")
                .map(|(n, v)| (n, serde_json::Value::String(v)))
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
        crate::ops::auth_events::sign_in_challenged(ctx, pool, user, crate::ops::auth_events::Pending::NewPassword)
            .await;
        return Ok(Outcome {
            challenge_name: Some(ChallengeNameType::NewPasswordRequired),
            session: Some(state::seal(ctx, &state)),
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
            signed_in: None,
            available_challenges: None,
        });
    }
    if let Some(challenge) = second_factor(ctx, pool, client, user, device_key).await? {
        return Ok(challenge);
    }
    after_second_factor(ctx, pool, client, user, device_key, grant::Source::Authentication).await
}

/// The second-factor challenge when MFA is due for `user` ([`mfa::due`]), unless a
/// remembered device stands in for it (`ChallengeRequiredOnNewDevice`); `None` when
/// nothing is asked. SMS and email codes go to `user`'s addresses as given here.
pub(super) async fn second_factor(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<&str>,
) -> OpResult<Option<Outcome>> {
    let Some(due) = mfa::due(pool, user) else {
        return Ok(None);
    };
    let device = match device_key {
        Some(key) => Some(devices::presented(ctx, pool, user, key).await?),
        None => None,
    };
    let replaces_mfa = pool
        .settings()
        .device_configuration
        .as_ref()
        .and_then(|c| c.challenge_required_on_new_device)
        == Some(true);
    if replaces_mfa && device.as_ref().is_some_and(devices::is_remembered) {
        return Ok(None);
    }
    crate::ops::auth_events::sign_in_challenged(ctx, pool, user, crate::ops::auth_events::Pending::Mfa).await;
    mfa::challenge(ctx, pool, client, user, due, device_key).await.map(Some)
}

/// What follows the password and, when due, the second factor: DEVICE_SRP_AUTH for a
/// remembered device, else tokens (bound to the device presented, or with a new one).
pub(super) async fn after_second_factor(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<&str>,
    source: grant::Source,
) -> OpResult<Outcome> {
    if let Some(key) = device_key {
        let device = devices::presented(ctx, pool, user, key).await?;
        if devices::is_remembered(&device) {
            let state = State::new(
                ctx,
                Step::DeviceSrpAuth {
                    device: device.device_key.clone(),
                },
                pool.id(),
                &user.username_key,
                client.id(),
                client.session_ttl_ms(),
            );
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
                session: Some(state::seal(ctx, &state)),
                challenge_parameters: Some(HashMap::from([("USERNAME".to_string(), user.username.clone())])),
                authentication_result: None,
                signed_in: None,
                available_challenges: None,
            });
        }
        return grant::tokens(ctx, pool, client, user, Some(device), source).await;
    }
    grant::tokens(ctx, pool, client, user, None, source).await
}

/// InitiateAuth's `ClientMetadata` reaches PreSignUp, PreAuthentication and UserMigration
/// only (the API reference): `ctx` carries it for the steps that call them, and
/// [`after_password`] and the custom-challenge steps get a context without it.
async fn initiate(
    ctx: &Ctx,
    client: &Client,
    flow: AuthFlowType,
    params: &HashMap<String, String>,
    admin: bool,
    session: Option<&str>,
) -> OpResult<Outcome> {
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let without_metadata = &ctx.with_client(Some(client.id()), None);
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
            app_clients::check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
            let user = password::sign_in(ctx, &pool, client, name, password).await?;
            let device_key = non_empty(params, "DEVICE_KEY");
            after_password(without_metadata, &pool, client, &user, device_key).await
        }
        AuthFlowType::UserSrpAuth => srp::start(ctx, &pool, client, params).await,
        AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => {
            refresh::refresh(without_metadata, &pool, client, params).await
        }
        AuthFlowType::CustomAuth => custom::start(ctx, without_metadata, &pool, client, params).await,
        AuthFlowType::UserAuth => match session {
            Some(session) => choice::after_sign_up(ctx, &pool, client, params, session).await,
            None => choice::start(ctx, without_metadata, &pool, client, params).await,
        },
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
        ChallengeNameType::PasswordVerifier => srp::password_verifier(ctx, &pool, client, responses).await,
        ChallengeNameType::NewPasswordRequired => new_password::respond(ctx, &pool, client, session, responses).await,
        ChallengeNameType::DeviceSrpAuth => device::srp_auth(ctx, &pool, client, session, responses).await,
        ChallengeNameType::DevicePasswordVerifier => device::password_verifier(ctx, &pool, client, responses).await,
        ChallengeNameType::SoftwareTokenMfa | ChallengeNameType::SmsMfa => {
            mfa::answer(ctx, &pool, client, challenge, session, responses).await
        }
        // EMAIL_OTP is a second factor (MFA) or USER_AUTH's first; the Session tells.
        ChallengeNameType::EmailOtp | ChallengeNameType::SmsOtp => {
            otp::answer(ctx, &pool, client, challenge, session, responses).await
        }
        ChallengeNameType::SelectChallenge => choice::select(ctx, &pool, client, session, responses).await,
        ChallengeNameType::WebAuthn => passkey::answer(ctx, &pool, client, session, responses).await,
        ChallengeNameType::SelectMfaType => mfa::select(ctx, &pool, client, session, responses).await,
        ChallengeNameType::MfaSetup => mfa::setup(ctx, &pool, client, session, responses).await,
        ChallengeNameType::CustomChallenge => custom::answer(ctx, &pool, client, session, responses).await,
        other => Err(CognitoError::new(
            ErrorCode::UnsupportedOperationException,
            format!("userpool does not implement the {} challenge yet.", other.as_str()),
        )),
    }
}

/// The hosted pages' password step (`web::login`): the password, then what follows it
/// (a challenge, or the user signed in). `ctx.hosted` is set.
pub async fn hosted_password(ctx: &Ctx, client: &Client, name: &str, password: &str) -> OpResult<Outcome> {
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let user = password::sign_in(ctx, &pool, client, name, password).await?;
    after_password(ctx, &pool, client, &user, None).await
}

/// The hosted pages' answer to a challenge (a new password, an MFA code).
pub async fn hosted_respond(
    ctx: &Ctx,
    client: &Client,
    challenge: ChallengeNameType,
    session: &str,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    respond(ctx, client, challenge, Some(session), responses).await
}

/// InitiateAuth
pub async fn initiate_auth(ctx: &Ctx, req: InitiateAuthRequest) -> OpResult<InitiateAuthResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    let o = initiate(
        ctx,
        &client,
        req.auth_flow,
        &req.auth_parameters.unwrap_or_default(),
        false,
        req.session.as_deref(),
    )
    .await?;
    Ok(InitiateAuthResponse {
        challenge_name: o.challenge_name,
        session: o.session,
        challenge_parameters: o.challenge_parameters,
        authentication_result: o.authentication_result,
        available_challenges: o.available_challenges,
    })
}

/// AdminInitiateAuth
pub async fn admin_initiate_auth(ctx: &Ctx, req: AdminInitiateAuthRequest) -> OpResult<AdminInitiateAuthResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    users::load(ctx, &req.user_pool_id).await?;
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    if client.record.pool_id != req.user_pool_id {
        return Err(CognitoError::client_not_found(&req.client_id));
    }
    let o = initiate(
        ctx,
        &client,
        req.auth_flow,
        &req.auth_parameters.unwrap_or_default(),
        true,
        req.session.as_deref(),
    )
    .await?;
    Ok(AdminInitiateAuthResponse {
        challenge_name: o.challenge_name,
        session: o.session,
        challenge_parameters: o.challenge_parameters,
        authentication_result: o.authentication_result,
        available_challenges: o.available_challenges,
    })
}

/// RespondToAuthChallenge
pub async fn respond_to_auth_challenge(
    ctx: &Ctx,
    req: RespondToAuthChallengeRequest,
) -> OpResult<RespondToAuthChallengeResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
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
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    users::load(ctx, &req.user_pool_id).await?;
    let client = app_clients::find_client(ctx, &req.client_id).await?;
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
