//! Choice-based sign-in (AuthFlow `USER_AUTH`): the first factor the user picks, and
//! GetUserAuthFactors, which lists the same choices.
//!
//! | request | next |
//! |---|---|
//! | USER_AUTH, PREFERRED_CHALLENGE=PASSWORD (+PASSWORD) | [`super::after_password`] (MFA as for USER_PASSWORD_AUTH) |
//! | USER_AUTH, PREFERRED_CHALLENGE=PASSWORD_SRP (+SRP_A) | PASSWORD_VERIFIER ([`super::srp`]) |
//! | USER_AUTH, PREFERRED_CHALLENGE=EMAIL_OTP / SMS_OTP | EMAIL_OTP / SMS_OTP ([`super::otp`]) |
//! | USER_AUTH, PREFERRED_CHALLENGE=WEB_AUTHN | WEB_AUTHN ([`super::passkey`]) |
//! | USER_AUTH otherwise (no preference, or one the user cannot use) | SELECT_CHALLENGE (`Step::SelectChallenge`) |
//! | SELECT_CHALLENGE, ANSWER=PASSWORD (+PASSWORD) / PASSWORD_SRP (+SRP_A) / EMAIL_OTP / SMS_OTP / WEB_AUTHN | as the preferred challenge of that name |
//!
//! Which challenges a user is offered (confirmed from the developer guide and real
//! responses, see the research notes; the rest inferred and written here):
//! - only the factors in the pool's `AllowedFirstAuthFactors` (PASSWORD offers both
//!   PASSWORD and PASSWORD_SRP), through a client with ALLOW_USER_AUTH;
//! - with MFA required, only the password factors, and WEB_AUTHN when a passkey with user
//!   verification counts as MFA (`MULTI_FACTOR_WITH_USER_VERIFICATION`); with MFA
//!   optional, a user with an MFA factor gets only the password factors;
//! - PASSWORD / PASSWORD_SRP: every user but one who signed up without a password (a user
//!   with a temporary password or one to reset is offered them, and told so when answering);
//! - EMAIL_OTP: an email address; SMS_OTP: a phone number and the pool's SMS
//!   configuration; both only for CONFIRMED or UNCONFIRMED users (a user with a temporary
//!   password is not offered them, as Cognito does); a code sign-in verifies the address
//!   and confirms an UNCONFIRMED user (the developer guide);
//! - WEB_AUTHN: a CONFIRMED user with a passkey for the pool's relying party;
//! - the order is fixed: PASSWORD, PASSWORD_SRP, EMAIL_OTP, SMS_OTP, WEB_AUTHN (Cognito's
//!   varies; clients must not depend on it);
//! - no MFA follows a code or a passkey (they are the whole sign-in);
//! - where the client hides users (PreventUserExistenceErrors), a name that is nobody's,
//!   or a disabled user's, gets a SELECT_CHALLENGE of the pool's factors (WEB_AUTHN for
//!   about half the names, stable per name), and simulated EMAIL_OTP / SMS_OTP / WEB_AUTHN
//!   challenges shaped as real ones (see `otp.rs`, `passkey.rs`) whose every answer fails;
//!   "User is disabled." only follows a proven password there. A decoy costs less work
//!   (no code is written): timing is not equalised;
//! - a SELECT_CHALLENGE Session is spent by its first choice (by the password choice
//!   once the password is proven);
//! - DEVICE_KEY counts after a password (DEVICE_SRP_AUTH proves the device); a code or
//!   passkey sign-in gets a new device;
//! - PREFERRED_CHALLENGE=PASSWORD without PASSWORD, or PASSWORD_SRP without SRP_A, is
//!   `InvalidParameterException: Missing required parameter ...`.

use super::state::{self, State, Step};
use super::{after_password, non_empty, otp, param, passkey, password, srp, Outcome};
use crate::app::Ctx;
use crate::auth::token as access_token;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{self, Client};
use crate::ops::mfa::UserMfa;
use crate::ops::{passkeys, user_pools, users};
use std::collections::HashMap;
use userpool_model::types::{
    AuthFactorType, ChallengeNameType, GetUserAuthFactorsRequest, GetUserAuthFactorsResponse, UserPoolMfaType,
    WebAuthnFactorConfigurationType,
};
use userpool_store::UserRecord;

const ORDER: [ChallengeNameType; 5] = [
    ChallengeNameType::Password,
    ChallengeNameType::PasswordSrp,
    ChallengeNameType::EmailOtp,
    ChallengeNameType::SmsOtp,
    ChallengeNameType::WebAuthn,
];

fn parse(name: &str) -> Option<ChallengeNameType> {
    ORDER.into_iter().find(|c| c.as_str() == name)
}

/// The first factors `user` can sign in with, in [`ORDER`].
pub(super) async fn available(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<Vec<ChallengeNameType>> {
    let allowed = user_pools::first_factors(pool.settings());
    let mode = pool.settings().mfa_configuration.unwrap_or(UserPoolMfaType::Off);
    let has_mfa = !UserMfa::of(user).enabled.is_empty();
    let passwordless = match mode {
        UserPoolMfaType::On => false,
        UserPoolMfaType::Optional => !has_mfa,
        UserPoolMfaType::Off => true,
    };
    let passkey_is_mfa = pool.mfa().web_authn.and_then(|w| w.factor_configuration)
        == Some(WebAuthnFactorConfigurationType::MultiFactorWithUserVerification);
    let code_status = matches!(user.status.as_str(), "CONFIRMED" | "UNCONFIRMED");
    let mut out = Vec::new();
    // A CONFIRMED or UNCONFIRMED user without a password signed up without one; any other
    // (a temporary password, one to reset) is asked for a password, and told why.
    let passwordless_user = user.password.is_none() && code_status;
    if allowed.contains(&AuthFactorType::Password) && !passwordless_user {
        out.extend([ChallengeNameType::Password, ChallengeNameType::PasswordSrp]);
    }
    if allowed.contains(&AuthFactorType::EmailOtp)
        && passwordless
        && code_status
        && users::attr(user, "email").is_some()
    {
        out.push(ChallengeNameType::EmailOtp);
    }
    if allowed.contains(&AuthFactorType::SmsOtp)
        && passwordless
        && code_status
        && users::attr(user, "phone_number").is_some()
        && pool.settings().sms_configuration.is_some()
    {
        out.push(ChallengeNameType::SmsOtp);
    }
    if allowed.contains(&AuthFactorType::WebAuthn)
        && (passwordless || (mode == UserPoolMfaType::On && passkey_is_mfa))
        && user.status == "CONFIRMED"
        && passkeys::has_passkey(ctx, pool, user).await?
    {
        out.push(ChallengeNameType::WebAuthn);
    }
    Ok(out)
}

/// What a pool that hides users offers a name that is nobody's: the pool's factors, and
/// WEB_AUTHN for about half the names (stable per name, as a user has a passkey or not).
async fn decoy_available(ctx: &Ctx, pool: &users::Pool, typed: &str) -> Vec<ChallengeNameType> {
    let allowed = user_pools::first_factors(pool.settings());
    let mut out = Vec::new();
    if allowed.contains(&AuthFactorType::Password) {
        out.extend([ChallengeNameType::Password, ChallengeNameType::PasswordSrp]);
    }
    if allowed.contains(&AuthFactorType::EmailOtp) {
        out.push(ChallengeNameType::EmailOtp);
    }
    if allowed.contains(&AuthFactorType::SmsOtp) && pool.settings().sms_configuration.is_some() {
        out.push(ChallengeNameType::SmsOtp);
    }
    let coin = ctx
        .app
        .sealer
        .derive(format!("decoy-factors\0{}\0{}", pool.id(), pool.username_key(typed)).as_bytes());
    let has_rp = passkeys::relying_party(ctx, pool).await.is_ok();
    if allowed.contains(&AuthFactorType::WebAuthn) && has_rp && coin.first().is_some_and(|b| b & 1 == 1) {
        out.push(ChallengeNameType::WebAuthn);
    }
    out
}

fn select_outcome(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user_key: &str,
    typed: &str,
    available: Vec<ChallengeNameType>,
    device: Option<&str>,
) -> Outcome {
    let state = State::new(
        ctx,
        Step::SelectChallenge {
            available: available.iter().map(|c| c.as_str().to_string()).collect(),
            typed: typed.to_string(),
            device: device.map(str::to_string),
        },
        pool.id(),
        user_key,
        client.id(),
        client.session_ttl_ms(),
    );
    Outcome {
        challenge_name: Some(ChallengeNameType::SelectChallenge),
        session: Some(state::seal(ctx, &state)),
        challenge_parameters: Some(HashMap::new()),
        available_challenges: Some(available),
        ..Outcome::default()
    }
}

/// Starts the factor `chosen` for `user` (or for a name that is nobody's), with the
/// request's (or the answer's) parameters.
#[allow(clippy::too_many_arguments)]
async fn begin(
    ctx: &Ctx,
    without_metadata: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: Option<&UserRecord>,
    typed: &str,
    chosen: ChallengeNameType,
    params: &HashMap<String, String>,
    device: Option<&str>,
) -> OpResult<Outcome> {
    match chosen {
        ChallengeNameType::Password => {
            let password = param(params, "PASSWORD")?;
            let user = password::sign_in(ctx, pool, client, typed, password).await?;
            after_password(without_metadata, pool, client, &user, device).await
        }
        ChallengeNameType::PasswordSrp => {
            let mut srp_params = HashMap::from([
                ("USERNAME".to_string(), typed.to_string()),
                ("SRP_A".to_string(), param(params, "SRP_A")?.to_string()),
            ]);
            if let Some(hash) = params.get("SECRET_HASH") {
                srp_params.insert("SECRET_HASH".to_string(), hash.clone());
            }
            srp::start(ctx, pool, client, &srp_params).await
        }
        ChallengeNameType::EmailOtp | ChallengeNameType::SmsOtp => match user {
            Some(user) => otp::challenge(ctx, pool, client, user, chosen).await,
            None => otp::decoy(ctx, pool, client, typed, chosen).await,
        },
        ChallengeNameType::WebAuthn => match user {
            Some(user) => passkey::challenge(ctx, pool, client, user).await,
            None => {
                let rp = passkeys::relying_party(ctx, pool).await?;
                Ok(passkey::decoy(ctx, pool, client, typed, &rp))
            }
        },
        _ => Err(CognitoError::internal()),
    }
}

/// InitiateAuth / AdminInitiateAuth with USER_AUTH.
pub(super) async fn start(
    ctx: &Ctx,
    without_metadata: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(params, "USERNAME")?;
    app_clients::check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
    let preferred = match non_empty(params, "PREFERRED_CHALLENGE") {
        Some(p) => Some(parse(p).ok_or_else(|| {
            CognitoError::invalid_parameter(format!(
                "Invalid PREFERRED_CHALLENGE: {} is not one of PASSWORD, PASSWORD_SRP, EMAIL_OTP, SMS_OTP, WEB_AUTHN.",
                crate::protocol::printable(p)
            ))
        })?),
        None => None,
    };
    let device = non_empty(params, "DEVICE_KEY");
    // A disabled user, where the client hides users, is answered as a name that is
    // nobody's: "User is disabled." only follows a proven factor (the password steps).
    let found = users::find(ctx, pool, name)
        .await?
        .filter(|u| u.enabled || !client.hides_users());
    let Some(user) = found else {
        if !client.hides_users() {
            // The password flows consult a UserMigration function for an unknown name.
            if preferred == Some(ChallengeNameType::Password) {
                return begin(
                    ctx,
                    without_metadata,
                    pool,
                    client,
                    None,
                    name,
                    ChallengeNameType::Password,
                    params,
                    device,
                )
                .await;
            }
            return Err(users::user_not_found());
        }
        let available = decoy_available(ctx, pool, name).await;
        return match preferred.filter(|p| available.contains(p)) {
            Some(p) => begin(ctx, without_metadata, pool, client, None, name, p, params, device).await,
            None => Ok(select_outcome(ctx, pool, client, "", name, available, device)),
        };
    };
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
    }
    let available = available(ctx, pool, &user).await?;
    match preferred.filter(|p| available.contains(p)) {
        Some(p) => {
            begin(
                ctx,
                without_metadata,
                pool,
                client,
                Some(&user),
                name,
                p,
                params,
                device,
            )
            .await
        }
        None => Ok(select_outcome(
            ctx,
            pool,
            client,
            &user.username_key,
            name,
            available,
            device,
        )),
    }
}

/// SELECT_CHALLENGE: the user's `ANSWER`, with what that factor needs (PASSWORD, SRP_A).
pub(super) async fn select(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let st = state::open_for(ctx, session, pool.id(), client.id()).ok_or_else(super::mfa::expired)?;
    let Step::SelectChallenge {
        available,
        typed,
        device,
    } = &st.step
    else {
        return Err(super::mfa::expired());
    };
    let name = param(responses, "USERNAME")?;
    super::check_answer_secret(ctx, client, &[name, typed], responses)?;
    let answer = param(responses, "ANSWER")?;
    let chosen = parse(answer)
        .filter(|c| available.iter().any(|a| a == c.as_str()))
        .ok_or_else(|| {
            CognitoError::invalid_parameter(format!(
                "Invalid ANSWER: {} is not one of the available challenges.",
                crate::protocol::printable(answer)
            ))
        })?;
    let user = if st.user.is_empty() {
        None
    } else {
        let user = ctx
            .store()
            .get_user(pool.id(), &st.user)
            .await?
            .ok_or_else(super::mfa::expired)?;
        if !user.enabled && !client.hides_users() {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        Some(user).filter(|u| u.enabled)
    };
    let device = non_empty(responses, "DEVICE_KEY").or(device.as_deref());
    if chosen == ChallengeNameType::Password {
        // Tokens may follow directly: this Session is spent once the password is proven
        // (a wrong one leaves it: the password's own lockout bounds the guesses).
        let password = param(responses, "PASSWORD")?;
        let user = password::sign_in(ctx, pool, client, typed, password).await?;
        super::mfa::consume(ctx, &st).await?;
        return after_password(ctx, pool, client, &user, device).await;
    }
    // Every other choice is made once: one Session does not send code after code.
    super::mfa::consume(ctx, &st).await?;
    begin(ctx, ctx, pool, client, user.as_ref(), typed, chosen, responses, device).await
}

/// ConfirmSignUp's Session for `user` (see [`after_sign_up`]).
pub fn signed_up_session(ctx: &Ctx, pool: &users::Pool, client: &Client, user: &UserRecord) -> String {
    let state = State::new(
        ctx,
        Step::SignedUp,
        pool.id(),
        &user.username_key,
        client.id(),
        client.session_ttl_ms(),
    );
    state::seal(ctx, &state)
}

/// InitiateAuth USER_AUTH with ConfirmSignUp's Session: the confirmation code was the
/// first factor, so the user is signed in (AuthParameters other than USERNAME and
/// SECRET_HASH are ignored, as the API reference says), once, within the client's session
/// validity, for the user it names only.
pub(super) async fn after_sign_up(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
    session: &str,
) -> OpResult<Outcome> {
    let name = param(params, "USERNAME")?;
    app_clients::check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
    let invalid = || CognitoError::not_authorized("Invalid session for the user.");
    let st = state::open(ctx, session)
        .filter(|s| s.is_for(pool.id(), client.id()) && matches!(s.step, Step::SignedUp))
        .ok_or_else(invalid)?;
    let user = users::find(ctx, pool, name)
        .await?
        .filter(|u| u.username_key == st.user)
        .ok_or_else(invalid)?;
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
    }
    if user.status != "CONFIRMED" {
        return Err(invalid());
    }
    super::mfa::consume(ctx, &st).await?;
    super::grant::tokens(ctx, pool, client, &user, None, super::grant::Source::Authentication).await
}

/// GetUserAuthFactors
pub async fn get_user_auth_factors(ctx: &Ctx, req: GetUserAuthFactorsRequest) -> OpResult<GetUserAuthFactorsResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let mut factors = Vec::new();
    for c in available(ctx, &pool, &user).await? {
        let f = match c {
            ChallengeNameType::Password | ChallengeNameType::PasswordSrp => AuthFactorType::Password,
            ChallengeNameType::EmailOtp => AuthFactorType::EmailOtp,
            ChallengeNameType::SmsOtp => AuthFactorType::SmsOtp,
            _ => AuthFactorType::WebAuthn,
        };
        if !factors.contains(&f) {
            factors.push(f);
        }
    }
    let (user_mfa_setting_list, preferred_mfa_setting) = crate::ops::mfa::wire_settings(&user);
    Ok(GetUserAuthFactorsResponse {
        username: user.username.clone(),
        preferred_mfa_setting,
        user_mfa_setting_list,
        configured_user_auth_factors: Some(factors),
    })
}
