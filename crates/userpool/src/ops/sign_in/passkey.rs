//! USER_AUTH's WEB_AUTHN first factor: `CREDENTIAL_REQUEST_OPTIONS` (a JSON string, the
//! browser's `PublicKeyCredentialRequestOptions`), answered with `CREDENTIAL` (the
//! assertion as a JSON string, binary members base64url, as Amplify serialises it). The
//! verification is [`crate::ops::passkeys`]'s; the verifier's state (challenge, allowed
//! credentials) rides sealed in the Session, which yields tokens once. No MFA follows.

use super::state::{self, State, Step};
use super::{mfa, non_empty, param, Outcome};
use crate::app::Ctx;
use crate::error::OpResult;
use crate::ops::app_clients::Client;
use crate::ops::{devices, passkeys, users};
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;
use userpool_store::UserRecord;

/// Asks `user` for a passkey assertion.
pub(super) async fn challenge(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device: Option<&str>,
) -> OpResult<Outcome> {
    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), Some(user), &user.username).await?;
    let (options, verifier_state) = passkeys::assertion_options(ctx, pool, user).await?;
    let state = State::new(
        ctx,
        Step::WebAuthn {
            state: verifier_state,
            device: device.map(str::to_string),
        },
        pool.id(),
        &user.username_key,
        client.id(),
        client.session_ttl_ms(),
    );
    Ok(Outcome {
        challenge_name: Some(ChallengeNameType::WebAuthn),
        session: Some(state::seal(ctx, &state)),
        challenge_parameters: Some(HashMap::from([("CREDENTIAL_REQUEST_OPTIONS".to_string(), options)])),
        ..Outcome::default()
    })
}

/// WEB_AUTHN answered with `CREDENTIAL`.
pub(super) async fn answer(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let (st, user) = mfa::open(ctx, pool, client, session, responses).await?;
    let Step::WebAuthn {
        state: verifier_state,
        device,
    } = &st.step
    else {
        return Err(mfa::expired());
    };
    let credential = param(responses, "CREDENTIAL")?;
    passkeys::verify_assertion(ctx, pool, &user, verifier_state, credential).await?;
    mfa::consume(ctx, &st).await?;
    let device = match non_empty(responses, "DEVICE_KEY").or(device.as_deref()) {
        Some(key) => Some(devices::presented(ctx, pool, &user, key).await?),
        None => None,
    };
    super::grant::tokens(ctx, pool, client, &user, device, super::grant::Source::Authentication).await
}
