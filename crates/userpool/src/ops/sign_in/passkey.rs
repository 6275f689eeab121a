//! USER_AUTH's WEB_AUTHN first factor: `CREDENTIAL_REQUEST_OPTIONS` (a JSON string, the
//! browser's `PublicKeyCredentialRequestOptions`), answered with `CREDENTIAL` (the
//! assertion as a JSON string, binary members base64url, as Amplify serialises it). The
//! verification is [`crate::ops::passkeys`]'s; the verifier's state (challenge, allowed
//! credentials) rides sealed in the Session, which yields tokens once. No MFA follows, and
//! no DEVICE_KEY is taken (a remembered device is proven by DEVICE_SRP_AUTH after a
//! password; a passkey sign-in gets a new device). Every failed assertion is
//! `NotAuthorizedException: Incorrect passkey credential.` (the operation's model lists
//! none of the WebAuthn exceptions), as is any answer to a decoy's challenge.

use super::state::{self, State, Step};
use super::{mfa, param, Outcome};
use crate::app::Ctx;
use crate::error::CognitoError;
use crate::error::OpResult;
use crate::ops::app_clients::Client;
use crate::ops::{passkeys, users};
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;
use userpool_store::UserRecord;

/// Asks `user` for a passkey assertion.
pub(super) async fn challenge(ctx: &Ctx, pool: &users::Pool, client: &Client, user: &UserRecord) -> OpResult<Outcome> {
    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), Some(user), &user.username).await?;
    let (options, verifier_state) = passkeys::assertion_options(ctx, pool, user).await?;
    let state = State::new(
        ctx,
        Step::WebAuthn { state: verifier_state },
        pool.id(),
        &user.username_key,
        client.id(),
        client.session_ttl_ms(),
    );
    Ok(Outcome {
        challenge_name: Some(ChallengeNameType::WebAuthn),
        session: Some(state::seal(ctx, &state)),
        challenge_parameters: Some(HashMap::from([("CREDENTIAL_REQUEST_OPTIONS".to_string(), options)])),
        available_challenges: Some(vec![ChallengeNameType::WebAuthn]),
        ..Outcome::default()
    })
}

/// The simulated WEB_AUTHN challenge of a name that is nobody's, shaped as a real one
/// (`passkeys::decoy_options`); its every answer fails.
pub(super) fn decoy(ctx: &Ctx, pool: &users::Pool, client: &Client, typed: &str, rp: &str) -> Outcome {
    let options = passkeys::decoy_options(ctx, pool, typed, rp);
    let state = State::new(
        ctx,
        Step::WebAuthn { state: String::new() },
        pool.id(),
        "",
        client.id(),
        client.session_ttl_ms(),
    );
    Outcome {
        challenge_name: Some(ChallengeNameType::WebAuthn),
        session: Some(state::seal(ctx, &state)),
        challenge_parameters: Some(HashMap::from([("CREDENTIAL_REQUEST_OPTIONS".to_string(), options)])),
        available_challenges: Some(vec![ChallengeNameType::WebAuthn]),
        ..Outcome::default()
    }
}

/// WEB_AUTHN answered with `CREDENTIAL`.
pub(super) async fn answer(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let st = state::open_for(ctx, session, pool.id(), client.id())
        .filter(|s| matches!(s.step, Step::WebAuthn { .. }))
        .ok_or_else(mfa::expired)?;
    let credential = param(responses, "CREDENTIAL")?;
    passkeys::parse_assertion(credential)?;
    if st.user.is_empty() {
        let name = param(responses, "USERNAME")?;
        super::check_answer_secret(ctx, client, &[name], responses)?;
        return Err(CognitoError::not_authorized("Incorrect passkey credential."));
    }
    let (st, user) = mfa::open(ctx, pool, client, session, responses).await?;
    let Step::WebAuthn { state: verifier_state } = &st.step else {
        return Err(mfa::expired());
    };
    passkeys::verify_assertion(ctx, pool, &user, verifier_state, credential).await?;
    mfa::consume(ctx, &st).await?;
    super::grant::tokens(ctx, pool, client, &user, None, super::grant::Source::Authentication).await
}
