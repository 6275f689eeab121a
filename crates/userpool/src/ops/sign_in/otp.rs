//! USER_AUTH's one-time-code first factors, EMAIL_OTP and SMS_OTP; and the routing of an
//! EMAIL_OTP answer, which is a second factor when the Session is an MFA step.
//!
//! Confirmed from real responses (research notes): the challenge carries only
//! `CODE_DELIVERY_DELIVERY_MEDIUM` and the masked `CODE_DELIVERY_DESTINATION`; the code
//! has 8 digits; a wrong code is `CodeMismatchException: Invalid code or auth state for
//! the user.` and leaves the Session usable; tokens follow a right code, once. A code
//! sign-in marks the address verified and confirms an UNCONFIRMED user (the developer
//! guide). The code is one of [`crate::codes`]: sealed, five attempts, never logged; the
//! message is the pool's EmailMfaConfiguration / SMS authentication message.

use super::state::{self, State, Step};
use super::{mfa, non_empty, param, Outcome};
use crate::app::Ctx;
use crate::codes;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::Client;
use crate::ops::{devices, users};
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// The code purpose of a sign-in code (8 digits, see [`codes::issue`]).
pub(super) fn purpose(factor: ChallengeNameType) -> String {
    format!("otp:{}", factor.as_str())
}

fn attribute(factor: ChallengeNameType) -> &'static str {
    if factor == ChallengeNameType::SmsOtp {
        "phone_number"
    } else {
        "email"
    }
}

fn medium(factor: ChallengeNameType) -> &'static str {
    if factor == ChallengeNameType::SmsOtp {
        "SMS"
    } else {
        "EMAIL"
    }
}

fn outcome(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user_key: &str,
    factor: ChallengeNameType,
    destination: String,
    device: Option<&str>,
) -> Outcome {
    let state = State::new(
        ctx,
        Step::SignInCode {
            factor: factor.as_str().to_string(),
            device: device.map(str::to_string),
        },
        pool.id(),
        user_key,
        client.id(),
        client.session_ttl_ms(),
    );
    Outcome {
        challenge_name: Some(factor),
        session: Some(state::seal(ctx, &state)),
        challenge_parameters: Some(HashMap::from([
            ("CODE_DELIVERY_DELIVERY_MEDIUM".to_string(), medium(factor).to_string()),
            ("CODE_DELIVERY_DESTINATION".to_string(), destination),
        ])),
        ..Outcome::default()
    }
}

/// Sends `user` a sign-in code and asks for it.
pub(super) async fn challenge(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    factor: ChallengeNameType,
    device: Option<&str>,
) -> OpResult<Outcome> {
    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), Some(user), &user.username).await?;
    let to = codes::delivery(user, Some(attribute(factor)));
    let destination = to.as_ref().and_then(|d| d.destination.clone()).unwrap_or_default();
    codes::issue(ctx, user, &purpose(factor), to.as_ref(), "Authentication").await?;
    Ok(outcome(
        ctx,
        pool,
        client,
        &user.username_key,
        factor,
        destination,
        device,
    ))
}

/// The simulated challenge for a name that is nobody's (a pool that hides users): masked
/// from the typed name, no message sent, every code wrong.
pub(super) fn decoy(ctx: &Ctx, pool: &users::Pool, client: &Client, typed: &str, factor: ChallengeNameType) -> Outcome {
    outcome(ctx, pool, client, "", factor, codes::mask(typed), None)
}

fn mismatch() -> CognitoError {
    CognitoError::new(
        ErrorCode::CodeMismatchException,
        "Invalid code or auth state for the user.",
    )
}

/// EMAIL_OTP / SMS_OTP answered: a sign-in code, or (EMAIL_OTP) an MFA code.
pub(super) async fn answer(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    challenge: ChallengeNameType,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let st = session
        .and_then(|s| state::open(ctx, s))
        .filter(|s| s.is_for(pool.id(), client.id()))
        .ok_or_else(mfa::expired)?;
    let (factor, device) = match &st.step {
        Step::Mfa { .. } if challenge == ChallengeNameType::EmailOtp => {
            return mfa::answer(ctx, pool, client, challenge, session, responses).await;
        }
        Step::SignInCode { factor, device } if factor == challenge.as_str() => (challenge, device.clone()),
        _ => return Err(mfa::expired()),
    };
    let key = if factor == ChallengeNameType::SmsOtp {
        "SMS_OTP_CODE"
    } else {
        "EMAIL_OTP_CODE"
    };
    let code = param(responses, key)?;
    if st.user.is_empty() {
        let name = param(responses, "USERNAME")?;
        super::check_answer_secret(ctx, client, &[name], responses)?;
        return Err(mismatch());
    }
    let (st, user) = mfa::open(ctx, pool, client, session, responses).await?;
    codes::redeem(ctx, &user, &purpose(factor), code)
        .await
        .map_err(|e| match e.code {
            ErrorCode::CodeMismatchException => mismatch(),
            _ => e,
        })?;
    mfa::consume(ctx, &st).await?;
    let verified = if factor == ChallengeNameType::SmsOtp {
        "phone_number_verified"
    } else {
        "email_verified"
    };
    let needs_change = users::attr(&user, verified) != Some("true") || user.status == "UNCONFIRMED";
    let user = if needs_change {
        let (user, ()) = users::modify(ctx, pool, user, |user| {
            user.attributes.retain(|(n, _)| n != verified);
            user.attributes.push((verified.to_string(), "true".to_string()));
            if user.status == "UNCONFIRMED" {
                user.status = "CONFIRMED".to_string();
            }
            users::refresh_lookups(pool, user);
            user.modified_ms = ctx.now_ms;
            Ok(())
        })
        .await?;
        user
    } else {
        user
    };
    let device = match non_empty(responses, "DEVICE_KEY").or(device.as_deref()) {
        Some(key) => Some(devices::presented(ctx, pool, &user, key).await?),
        None => None,
    };
    super::grant::tokens(ctx, pool, client, &user, device, super::grant::Source::Authentication).await
}
