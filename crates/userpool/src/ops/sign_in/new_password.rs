//! NEW_PASSWORD_REQUIRED: a user whose password is temporary sets a permanent one.

use super::state::{self, Step};
use super::{after_second_factor, non_empty, param, second_factor, Outcome};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::Client;
use crate::ops::{permissions, users};
use crate::passwords;
use std::collections::HashMap;

/// NEW_PASSWORD_REQUIRED: the user sets a permanent password (and required attributes).
pub(super) async fn respond(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let new = param(responses, "NEW_PASSWORD")?;
    let invalid_session = || CognitoError::not_authorized("Invalid session for the user.");
    let state = state::open_for(ctx, session, pool.id(), client.id())
        .filter(|s| s.step == Step::NewPasswordRequired)
        .ok_or_else(invalid_session)?;
    let user = ctx
        .store()
        .get_user(pool.id(), &state.user)
        .await?
        .ok_or_else(invalid_session)?;
    super::check_answer_secret(ctx, client, &[name, &user.username], responses)?;
    if user.status != "FORCE_CHANGE_PASSWORD" {
        return Err(invalid_session());
    }
    // The user may have been disabled since the password step.
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
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
    let attributes_before = user.attributes.clone();
    let (user, ()) = users::modify(ctx, pool, user, |user| {
        if user.status != "FORCE_CHANGE_PASSWORD" {
            return Err(invalid_session());
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
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
    // The second factor is asked of the user as they were before this answer: its SMS or
    // email code goes to the phone or address stored before, never to one this answer
    // just set (which would let whoever knows the temporary password receive it).
    let mut before = user.clone();
    before.attributes = attributes_before;
    if let Some(challenge) = second_factor(ctx, pool, client, &before, device_key).await? {
        return Ok(challenge);
    }
    after_second_factor(
        ctx,
        pool,
        client,
        &user,
        device_key,
        super::grant::Source::NewPasswordChallenge,
    )
    .await
}
