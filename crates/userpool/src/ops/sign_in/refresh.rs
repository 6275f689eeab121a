//! REFRESH_TOKEN_AUTH / REFRESH_TOKEN: new ID and access tokens for a refresh token.

use super::grant::grant;
use super::{param, Outcome};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{check_secret_hash, Client};
use crate::ops::{devices, users};
use crate::tokens::jwt;
use std::collections::HashMap;

/// REFRESH_TOKEN_AUTH: new ID and access tokens for a valid refresh token.
pub(super) async fn refresh(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let invalid = || CognitoError::not_authorized("Invalid Refresh Token.");
    let token = param(params, "REFRESH_TOKEN")?;
    let record = match ctx.store().get_refresh_token(&jwt::refresh_hash(token)).await? {
        Some(r) => r,
        None => return Err(invalid()),
    };
    if record.client_id != client.id() || record.pool_id != pool.id() {
        return Err(invalid());
    }
    if record.expires_ms <= ctx.now_ms {
        return Err(CognitoError::not_authorized("Refresh Token has expired"));
    }
    if ctx.store().is_origin_revoked(&record.origin_jti).await? {
        return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
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
        return Err(CognitoError::not_authorized("User is disabled."));
    }
    if record.created_ms < user.tokens_valid_after_ms {
        return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
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
