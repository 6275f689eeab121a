//! DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER: a remembered device proves itself after
//! the password step it continues.

use super::grant::tokens;
use super::srp::{check_claim, client_public, parse_claim, srp_challenge};
use super::state::{self, State, Step};
use super::{check_status, non_empty, param, Outcome};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{check_secret_hash, Client};
use crate::ops::{devices, users};
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;

/// DEVICE_SRP_AUTH: the client starts proving its device; answer DEVICE_PASSWORD_VERIFIER.
pub(super) async fn srp_auth(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let key = param(responses, "DEVICE_KEY")?;
    let srp_a = param(responses, "SRP_A")?;
    let incorrect = CognitoError::incorrect_credentials;
    let user = users::find(ctx, pool, name).await?.ok_or_else(incorrect)?;
    check_secret_hash(
        client,
        &[name, &user.username],
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    let device = devices::presented(ctx, pool, &user, key).await?;
    // The Session, when the client sends one, must be this user's DEVICE_SRP_AUTH state
    // through this client for this device; its nonce names the password step it continues.
    let expected = match session {
        Some(s) => {
            let st = state::open(ctx, s)
                .filter(|st| st.is_for(pool.id(), client.id()) && st.user == user.username_key)
                .filter(|st| matches!(&st.step, Step::DeviceSrpAuth { device: d } if *d == device.device_key))
                .ok_or_else(|| CognitoError::not_authorized("Invalid session for the user."))?;
            Some(st.nonce_bytes())
        }
        None => None,
    };
    let password_step = devices::check_password_step(ctx, &user, client.id(), key, expected.as_deref()).await?;
    let (Some(salt), Some(verifier)) = (&device.salt, &device.verifier) else {
        return Err(incorrect());
    };
    let a = client_public(srp_a)?;
    let v = userpool_srp::from_bytes_be(verifier);
    let (srp, big_b) = srp_challenge(&v, &a);
    let next = |srp| {
        State::new(
            ctx,
            Step::DevicePasswordVerifier {
                device: device.device_key.clone(),
                password_step: hex::encode(&password_step),
                srp,
            },
            pool.id(),
            &user.username_key,
            client.id(),
            client.session_ttl_ms(),
        )
    };
    // The Session (at most 2048 characters on the wire) names the challenge; the SRP
    // values ride in SECRET_BLOCK only.
    let sealed = state::seal(ctx, &next(Some(srp)));
    Ok(Outcome {
        challenge_name: Some(ChallengeNameType::DevicePasswordVerifier),
        session: Some(state::seal(ctx, &next(None))),
        challenge_parameters: Some(HashMap::from([
            ("SALT".to_string(), hex::encode(salt)),
            ("SRP_B".to_string(), userpool_srp::to_hex(&big_b)),
            ("SECRET_BLOCK".to_string(), sealed),
            ("USERNAME".to_string(), user.username.clone()),
            ("DEVICE_KEY".to_string(), device.device_key.clone()),
        ])),
        authentication_result: None,
        signed_in: None,
        available_challenges: None,
    })
}

/// DEVICE_PASSWORD_VERIFIER: the device's SRP proof; tokens bound to the device.
pub(super) async fn password_verifier(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let incorrect = CognitoError::incorrect_credentials;
    let state = state::open(ctx, block)
        .filter(|s| s.is_for(pool.id(), client.id()))
        .ok_or_else(incorrect)?;
    let Step::DevicePasswordVerifier {
        device: key,
        password_step,
        srp: Some(srp),
    } = &state.step
    else {
        return Err(incorrect());
    };
    let Some(user) = ctx.store().get_user(pool.id(), &state.user).await? else {
        return Err(incorrect());
    };
    check_secret_hash(
        client,
        &[name, &user.username],
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    if non_empty(responses, "DEVICE_KEY").is_some_and(|k| k != key) {
        return Err(incorrect());
    }
    let device = devices::presented(ctx, pool, &user, key).await?;
    let Some(verifier) = &device.verifier else {
        return Err(incorrect());
    };
    let v = userpool_srp::from_bytes_be(verifier);
    let claim = parse_claim(responses)?;
    if !check_claim(ctx, &claim, srp, &v, &device.device_group_key, &device.device_key) {
        return Err(incorrect());
    }
    // The password step this continues is taken once: one password step, one set of tokens.
    let password_step = hex::decode(password_step).unwrap_or_default();
    devices::take_password_step(ctx, &user, client.id(), key, &password_step).await?;
    if !ctx.store().consume_state(&state.nonce_bytes(), state.exp).await? {
        return Err(incorrect());
    }
    check_status(ctx, pool, &user)?;
    tokens(
        ctx,
        pool,
        client,
        &user,
        Some(device),
        super::grant::Source::AuthenticateDevice,
    )
    .await
}
