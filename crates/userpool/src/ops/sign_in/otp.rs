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
//!
//! Decided here (the review of this flow):
//! - the code proves the address it was sent to, which the Session holds sealed: a code
//!   redeemed after the address changed fails like a wrong one (and changing an address
//!   voids its sign-in code), so no address is marked verified that nobody proved;
//! - the limits answer `TooManyRequestsException` (the operations' model lists no
//!   LimitExceededException);
//! - a DEVICE_KEY is not taken on this factor: a remembered device is proven by
//!   DEVICE_SRP_AUTH after a password, and a code sign-in gets a new device;
//! - the simulated challenge of a name that is nobody's (or of a disabled user, where the
//!   client hides users) is shaped as a real one: `AvailableChallenges`, a destination
//!   masked as an address of its kind, derived from the name, the same per-user request
//!   window and five attempts a code, then every code wrong.

use super::state::{self, State, Step};
use super::{mfa, param, Outcome};
use crate::app::Ctx;
use crate::codes;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::ops::app_clients::Client;
use crate::ops::users;
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

/// The operations' own word for a spent limit.
fn too_many(e: CognitoError) -> CognitoError {
    if e.code == ErrorCode::LimitExceededException {
        CognitoError::new(ErrorCode::TooManyRequestsException, e.message)
    } else {
        e
    }
}

fn outcome(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user_key: &str,
    factor: ChallengeNameType,
    destination: String,
    address: Option<String>,
) -> Outcome {
    let state = State::new(
        ctx,
        Step::SignInCode {
            factor: factor.as_str().to_string(),
            address,
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
        available_challenges: Some(vec![factor]),
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
) -> OpResult<Outcome> {
    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), Some(user), &user.username).await?;
    let address = users::attr(user, attribute(factor)).map(str::to_string);
    let to = codes::delivery(user, Some(attribute(factor)));
    let destination = to.as_ref().and_then(|d| d.destination.clone()).unwrap_or_default();
    codes::issue(ctx, user, &purpose(factor), to.as_ref(), "Authentication")
        .await
        .map_err(too_many)?;
    Ok(outcome(
        ctx,
        pool,
        client,
        &user.username_key,
        factor,
        destination,
        address,
    ))
}

/// Where a decoy's code "went": the typed name when it is an address of the factor's kind,
/// else an address masked the same way, derived from the name (stable, unguessable).
fn decoy_destination(ctx: &Ctx, pool: &users::Pool, typed: &str, factor: ChallengeNameType) -> String {
    let seed = ctx
        .app
        .sealer
        .derive(format!("decoy-otp\0{}\0{}", pool.id(), pool.username_key(typed)).as_bytes());
    let [a, b, c, d, e, ..] = seed;
    if factor == ChallengeNameType::SmsOtp {
        if users::is_phone(typed) {
            return codes::mask(typed);
        }
        let digits: String = [b, c, d, e].iter().map(|x| char::from(b'0' + x % 10)).collect();
        return codes::mask(&format!("+1555555{digits}"));
    }
    if users::is_email(typed) {
        return codes::mask(typed);
    }
    let first = typed.chars().next().filter(char::is_ascii_alphanumeric).unwrap_or('u');
    let domain = char::from(b'a' + a % 26);
    codes::mask(&format!("{first}@{domain}.com"))
}

/// The simulated challenge for a name that is nobody's (see the module's rule).
pub(super) async fn decoy(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    typed: &str,
    factor: ChallengeNameType,
) -> OpResult<Outcome> {
    limits::count(
        ctx,
        "code-request",
        pool.id(),
        &pool.username_key(typed),
        &purpose(factor),
        limits::CODE_REQUESTS_PER_WINDOW,
    )
    .await
    .map_err(too_many)?;
    let destination = decoy_destination(ctx, pool, typed, factor);
    Ok(outcome(ctx, pool, client, "", factor, destination, None))
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
    let st = state::open_for(ctx, session, pool.id(), client.id()).ok_or_else(mfa::expired)?;
    let (factor, address) = match &st.step {
        Step::Mfa { .. } if challenge == ChallengeNameType::EmailOtp => {
            return mfa::answer(ctx, pool, client, challenge, session, responses).await;
        }
        Step::SignInCode { factor, address } if factor == challenge.as_str() => (challenge, address.clone()),
        _ => return Err(mfa::expired()),
    };
    let key = if factor == ChallengeNameType::SmsOtp {
        "SMS_OTP_CODE"
    } else {
        "EMAIL_OTP_CODE"
    };
    let code = param(responses, key)?;
    if st.user.is_empty() {
        // A decoy: five guesses a Session, as a real code has, then the limit; never right.
        let name = param(responses, "USERNAME")?;
        super::check_answer_secret(ctx, client, &[name], responses)?;
        limits::count(
            ctx,
            "decoy-code",
            pool.id(),
            &st.nonce,
            &purpose(factor),
            limits::CODE_ATTEMPTS,
        )
        .await
        .map_err(too_many)?;
        return Err(mismatch());
    }
    let (st, user) = mfa::open(ctx, pool, client, session, responses).await?;
    codes::redeem(ctx, &user, &purpose(factor), code)
        .await
        .map_err(|e| match e.code {
            ErrorCode::CodeMismatchException => mismatch(),
            _ => too_many(e),
        })?;
    let attribute = attribute(factor);
    if address.is_none() || users::attr(&user, attribute) != address.as_deref() {
        // The address changed since the code went out (its code was voided then, so this
        // is a race): the code proves nothing of the address the user has now.
        return Err(mismatch());
    }
    mfa::consume(ctx, &st).await?;
    let verified = format!("{attribute}_verified");
    let needs_change = users::attr(&user, &verified) != Some("true") || user.status == "UNCONFIRMED";
    let user = if needs_change {
        let (user, ()) = users::modify(ctx, pool, user, |user| {
            if users::attr(user, attribute) != address.as_deref() {
                return Err(mismatch());
            }
            user.attributes.retain(|(n, _)| *n != verified);
            user.attributes.push((verified.clone(), "true".to_string()));
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
    super::grant::tokens(ctx, pool, client, &user, None, super::grant::Source::Authentication).await
}
