//! The second factor: SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP, SELECT_MFA_TYPE and
//! MFA_SETUP.
//!
//! When MFA is due (confirmed from the API reference and the developer guide):
//! - pool `OFF`: never; `OPTIONAL`: when the user enabled a factor; `ON`: always;
//! - the user's preferred factor, or their only one; with several and none preferred,
//!   SELECT_MFA_TYPE (`MFAS_CAN_CHOOSE`, a JSON list in a string);
//! - `ON` and no factor enabled: SMS_MFA to the phone number when the pool has SMS MFA
//!   (the way pools with required SMS MFA worked before per-user preferences), else
//!   EMAIL_OTP to the email address when the pool has email MFA, else MFA_SETUP
//!   (`MFAS_CAN_SETUP: ["SOFTWARE_TOKEN_MFA"]`) when the pool has TOTP; a user with a
//!   verified software token not yet turned on is asked for it instead of setting one up.
//!
//! The challenge parameters and errors are the real service's (research notes):
//! SOFTWARE_TOKEN_MFA carries `FRIENDLY_DEVICE_NAME` and `USER_ID_FOR_SRP`; SMS_MFA and
//! EMAIL_OTP carry `CODE_DELIVERY_DELIVERY_MEDIUM` and the masked
//! `CODE_DELIVERY_DESTINATION`. A wrong TOTP is `CodeMismatchException: Invalid code
//! received for user`, a wrong SMS or email code `Invalid code or auth state for the
//! user.`; the Session stays usable after a wrong code, expires with the client's
//! AuthSessionValidity ("Invalid session for the user, session is expired.") and yields
//! tokens once ("… session can only be used once."). Extra keys in the answer are
//! ignored (amazon-cognito-identity-js sends SMS_MFA_CODE beside SOFTWARE_TOKEN_MFA_CODE).
//!
//! Limits (inferred, as [`crate::limits`]): each code guess counts against the user's
//! per-purpose window; SMS and email codes are one-time codes with their five attempts.

use super::state::{self, State, Step};
use super::{after_second_factor, non_empty, param, Outcome};
use crate::app::Ctx;
use crate::codes;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::ops::app_clients::Client;
use crate::ops::mfa::{self as settings, UserMfa, EMAIL, SMS, TOTP};
use crate::ops::users;
use std::collections::HashMap;
use userpool_model::types::{ChallengeNameType, UserPoolMfaType};
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// The second factor a sign-in must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// One factor (`SOFTWARE_TOKEN_MFA`, `SMS_MFA`, `EMAIL_OTP`).
    Factor(String),
    /// The user chooses among these.
    Select(Vec<String>),
    /// The user must set up TOTP first.
    Setup,
}

/// Whether, and which, second factor is due for this user in this pool.
pub fn due(pool: &users::Pool, user: &UserRecord) -> Option<Due> {
    let mode = pool.settings().mfa_configuration.unwrap_or(UserPoolMfaType::Off);
    if mode == UserPoolMfaType::Off {
        return None;
    }
    let m = UserMfa::of(user);
    if let Some(p) = m.preferred.filter(|p| m.enabled.contains(p)) {
        return Some(Due::Factor(p));
    }
    match m.enabled.as_slice() {
        [one] => return Some(Due::Factor(one.clone())),
        [] => {}
        several => return Some(Due::Select(several.to_vec())),
    }
    if mode != UserPoolMfaType::On {
        return None;
    }
    // A verified software token not yet turned on is still the user's token: asking for it
    // (rather than MFA_SETUP) keeps anyone with only the password from binding their own.
    if m.totp_secret.is_some() {
        return Some(Due::Factor(TOTP.into()));
    }
    let pm = pool.mfa();
    if pm.sms.is_some() && users::attr(user, "phone_number").is_some() {
        return Some(Due::Factor(SMS.into()));
    }
    if pm.email.is_some() && users::attr(user, "email").is_some() {
        return Some(Due::Factor(EMAIL.into()));
    }
    Some(Due::Setup)
}

fn challenge_name(factor: &str) -> ChallengeNameType {
    match factor {
        SMS => ChallengeNameType::SmsMfa,
        EMAIL => ChallengeNameType::EmailOtp,
        _ => ChallengeNameType::SoftwareTokenMfa,
    }
}

/// The code purpose of an SMS or email MFA code.
pub(super) fn code_purpose(factor: &str) -> String {
    format!("mfa:{factor}")
}

/// Asks for the second factor `due`.
pub(super) async fn challenge(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    due: Due,
    device_key: Option<&str>,
) -> OpResult<Outcome> {
    let new_state = |step| {
        State::new(
            ctx,
            step,
            pool.id(),
            &user.username_key,
            client.id(),
            client.session_ttl_ms(),
        )
    };
    let device = device_key.map(str::to_string);
    let (name, params, step) = match due {
        Due::Setup => {
            if !pool.mfa().totp() {
                return Err(CognitoError::new(
                    ErrorCode::InvalidUserPoolConfigurationException,
                    "MFA is required but no MFA type the user can set up is enabled for the user pool.",
                ));
            }
            (
                ChallengeNameType::MfaSetup,
                HashMap::from([("MFAS_CAN_SETUP".to_string(), format!("[\"{TOTP}\"]"))]),
                Step::MfaSetup {
                    secret: None,
                    verified: false,
                    name: None,
                    device,
                },
            )
        }
        Due::Select(factors) => (
            ChallengeNameType::SelectMfaType,
            HashMap::from([(
                "MFAS_CAN_CHOOSE".to_string(),
                serde_json::to_string(&factors).unwrap_or_default(),
            )]),
            Step::SelectMfaType {
                factors,
                addresses: user
                    .attributes
                    .iter()
                    .filter(|(n, _)| n == "email" || n == "phone_number")
                    .cloned()
                    .collect(),
                device,
            },
        ),
        Due::Factor(factor) => {
            let mut params = HashMap::new();
            if factor == TOTP {
                let m = UserMfa::of(user);
                params.insert(
                    "FRIENDLY_DEVICE_NAME".to_string(),
                    m.totp_name.unwrap_or_else(|| "TOTP device".into()),
                );
            } else {
                let attribute = if factor == SMS { "phone_number" } else { "email" };
                let to = codes::delivery(user, Some(attribute));
                let destination = to.as_ref().and_then(|d| d.destination.clone()).unwrap_or_default();
                codes::issue(ctx, user, &code_purpose(&factor), to.as_ref(), "Authentication").await?;
                params.insert(
                    "CODE_DELIVERY_DELIVERY_MEDIUM".to_string(),
                    if factor == SMS { "SMS" } else { "EMAIL" }.to_string(),
                );
                params.insert("CODE_DELIVERY_DESTINATION".to_string(), destination);
            }
            (challenge_name(&factor), params, Step::Mfa { factor, device })
        }
    };
    let mut params = params;
    params.insert("USER_ID_FOR_SRP".to_string(), user.username.clone());
    let state = new_state(step);
    Ok(Outcome {
        challenge_name: Some(name),
        session: Some(state::seal(ctx, &state)),
        challenge_parameters: Some(params),
        authentication_result: None,
        signed_in: None,
        available_challenges: None,
    })
}

pub(super) fn expired() -> CognitoError {
    CognitoError::not_authorized("Invalid session for the user, session is expired.")
}

/// Opens the Session of an MFA step for this pool and client, and its user.
pub(super) async fn open(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<(State, UserRecord)> {
    let st = state::open_for(ctx, session, pool.id(), client.id()).ok_or_else(expired)?;
    let user = ctx.store().get_user(pool.id(), &st.user).await?.ok_or_else(expired)?;
    let name = param(responses, "USERNAME")?;
    super::check_answer_secret(ctx, client, &[name, &user.username], responses)?;
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
    }
    Ok((st, user))
}

/// Marks the Session used (it yields tokens once).
pub(super) async fn consume(ctx: &Ctx, st: &State) -> OpResult<()> {
    if ctx.store().consume_state(&st.nonce_bytes(), st.exp).await? {
        Ok(())
    } else {
        Err(CognitoError::not_authorized(
            "Invalid session for the user, session can only be used once.",
        ))
    }
}

/// SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP: the code of the factor asked for.
pub(super) async fn answer(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    challenge: ChallengeNameType,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let (st, user) = open(ctx, pool, client, session, responses).await?;
    let Step::Mfa { factor, device } = &st.step else {
        return Err(expired());
    };
    if challenge_name(factor) != challenge {
        return Err(expired());
    }
    let (key, mismatch) = match factor.as_str() {
        TOTP => ("SOFTWARE_TOKEN_MFA_CODE", "Invalid code received for user"),
        SMS => ("SMS_MFA_CODE", "Invalid code or auth state for the user."),
        _ => ("EMAIL_OTP_CODE", "Invalid code or auth state for the user."),
    };
    let code = param(responses, key)?;
    if factor == TOTP {
        limits::count(
            ctx,
            "code-guess",
            pool.id(),
            &user.username_key,
            TOTP,
            limits::GUESSES_PER_WINDOW,
        )
        .await?;
        let secret = UserMfa::of(&user)
            .totp_secret
            .and_then(|s| settings::open_secret(ctx, &s))
            .ok_or_else(|| {
                CognitoError::new(
                    ErrorCode::SoftwareTokenMFANotFoundException,
                    "Software Token MFA does not exist for the user.",
                )
            })?;
        let step = crate::totp::matching_step(&secret, code, ctx.now_ms.div_euclid(1000))
            .ok_or_else(|| CognitoError::new(ErrorCode::CodeMismatchException, mismatch))?;
        settings::use_step(ctx, &user, step).await?;
    } else {
        codes::redeem(ctx, &user, &code_purpose(factor), code)
            .await
            .map_err(|e| match e.code {
                ErrorCode::CodeMismatchException => CognitoError::new(ErrorCode::CodeMismatchException, mismatch),
                _ => e,
            })?;
    }
    consume(ctx, &st).await?;
    let device_key = non_empty(responses, "DEVICE_KEY").or(device.as_deref());
    after_second_factor(
        ctx,
        pool,
        client,
        &user,
        device_key,
        super::grant::Source::Authentication,
    )
    .await
}

/// SELECT_MFA_TYPE: the user's choice (`ANSWER`) among the factors offered.
pub(super) async fn select(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let (st, user) = open(ctx, pool, client, session, responses).await?;
    let Step::SelectMfaType {
        factors,
        addresses,
        device,
    } = &st.step
    else {
        return Err(expired());
    };
    let answer = param(responses, "ANSWER")?;
    // Amplify answers EMAIL_OTP; the API reference's text says EMAIL_MFA.
    let answer = if answer == "EMAIL_MFA" { EMAIL } else { answer };
    if !factors.iter().any(|f| f == answer) {
        return Err(CognitoError::invalid_parameter(format!(
            "Invalid ANSWER: {} is not one of the MFA types offered.",
            crate::protocol::printable(answer)
        )));
    }
    consume(ctx, &st).await?;
    // The code goes to the addresses the user had when the choice was offered.
    let mut as_asked = user.clone();
    as_asked.attributes.retain(|(n, _)| n != "email" && n != "phone_number");
    as_asked.attributes.extend(addresses.iter().cloned());
    challenge(
        ctx,
        pool,
        client,
        &as_asked,
        Due::Factor(answer.to_string()),
        device.as_deref(),
    )
    .await
}

/// MFA_SETUP: the Session VerifySoftwareToken returned; TOTP becomes the user's factor.
pub(super) async fn setup(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let (st, user) = open(ctx, pool, client, session, responses).await?;
    let Step::MfaSetup {
        secret: Some(secret),
        verified: true,
        name,
        device,
    } = &st.step
    else {
        return Err(CognitoError::invalid_parameter(
            "User has not verified software token mfa",
        ));
    };
    consume(ctx, &st).await?;
    let (user, ()) = users::modify(ctx, pool, user, |user| {
        let mut m = UserMfa::of(user);
        m.totp_secret = Some(secret.clone());
        m.totp_name.clone_from(name);
        m.pending_secret = None;
        if !m.enabled.iter().any(|f| f == TOTP) {
            m.enabled.push(TOTP.to_string());
        }
        m.preferred = Some(TOTP.to_string());
        m.store(user);
        user.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    let device_key = non_empty(responses, "DEVICE_KEY").or(device.as_deref());
    after_second_factor(
        ctx,
        pool,
        client,
        &user,
        device_key,
        super::grant::Source::Authentication,
    )
    .await
}
