//! Refreshing a sign-in: REFRESH_TOKEN_AUTH / REFRESH_TOKEN (InitiateAuth) and
//! GetTokensFromRefreshToken, which Amplify v6 uses since `@aws-amplify/auth` 6.14.
//!
//! Confirmed (API reference, the model's documentation): GetTokensFromRefreshToken takes
//! the refresh token, the client (and its secret when it has one) and the `DeviceKey` the
//! token is bound to; with the client's `RefreshTokenRotation` enabled it answers a new
//! refresh token too, the old one staying usable for `RetryGracePeriodSeconds` (0..60),
//! and refresh tokens are then refreshed with this operation only.
//!
//! Inferred: a rotated token used after its grace period is `RefreshTokenReuseException`
//! ("Refresh token has already been used.") and its whole sign-in is revoked, as OAuth's
//! reuse detection does; REFRESH_TOKEN_AUTH on a rotating client is
//! `NotAuthorizedException` ("Refresh token rotation is enabled for this client: use
//! GetTokensFromRefreshToken.").

use super::grant::grant;
use super::{param, Outcome};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{self, check_secret_hash, Client};
use crate::ops::{devices, users};
use crate::tokens::jwt;
use std::collections::HashMap;
use userpool_model::types::{
    AuthenticationResultType, FeatureType, GetTokensFromRefreshTokenRequest, GetTokensFromRefreshTokenResponse,
};
use userpool_model::ErrorCode;
use userpool_store::{RefreshRecord, UserRecord};

fn invalid() -> CognitoError {
    CognitoError::not_authorized("Invalid Refresh Token.")
}

/// A rotated refresh token used again: the whole sign-in (token family) is revoked.
async fn reused(ctx: &Ctx, record: &RefreshRecord) -> CognitoError {
    let until = (ctx.now_ms + 86_400_000).max(record.expires_ms);
    if let Err(e) = ctx
        .store()
        .revoke_refresh_token(&record.token_hash, &record.origin_jti, until)
        .await
    {
        return e.into();
    }
    CognitoError::new(
        ErrorCode::RefreshTokenReuseException,
        "Refresh token has already been used.",
    )
}

/// The client's rotation grace period in ms, when it rotates refresh tokens.
fn rotation_grace_ms(client: &Client) -> Option<i64> {
    client
        .settings
        .refresh_token_rotation
        .as_ref()
        .filter(|r| r.feature == FeatureType::Enabled)
        .map(|r| i64::from(r.retry_grace_period_seconds.unwrap_or(0)).clamp(0, 60) * 1000)
}

/// Checks a refresh token for this pool and client and the device it is bound to; the
/// record and its user. `secret` checks the client's secret (a SECRET_HASH or the secret).
async fn check(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    token: &str,
    device_key: Option<&str>,
    secret: impl FnOnce(&UserRecord) -> OpResult<()>,
) -> OpResult<(RefreshRecord, UserRecord)> {
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
    secret(&user)?;
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
    }
    if record.created_ms < user.tokens_valid_after_ms {
        return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
    }
    // A rotated token: usable for the grace period, then its reuse ends the sign-in.
    if let Some(at) = record.rotated_at_ms {
        let grace = rotation_grace_ms(client).unwrap_or(0);
        // Without a grace period any second use is a reuse, however close in time.
        if grace == 0 || ctx.now_ms > at.saturating_add(grace) {
            return Err(reused(ctx, &record).await);
        }
    }
    // A refresh token issued with a device works only with that device, confirmed and
    // not forgotten (device-tracking.md §6).
    if let Some(bound) = &record.device_key {
        if device_key != Some(bound.as_str()) {
            return Err(invalid());
        }
        match ctx.store().get_device(pool.id(), bound).await? {
            Some(d) if d.confirmed && d.username_key == user.username_key => {
                devices::authenticated(ctx, &d).await?;
            }
            _ => return Err(invalid()),
        }
    }
    Ok((record, user))
}

/// New ID and access tokens for a checked refresh token, and (rotation) a new refresh
/// token of the same sign-in.
async fn refreshed(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    record: &RefreshRecord,
    user: &UserRecord,
) -> OpResult<AuthenticationResultType> {
    // A hosted sign-in's token keeps its scopes (and has no nonce after the first grant),
    // less any the client is no longer allowed.
    let allowed = client.settings.allowed_oauth_scopes.as_deref().unwrap_or_default();
    let oauth = record.scope.as_ref().map(|scope| jwt::OAuth {
        scope: scope
            .split(' ')
            .filter(|s| allowed.iter().any(|a| a == s))
            .collect::<Vec<_>>()
            .join(" "),
        nonce: None,
    });
    let mut result = grant(
        ctx,
        pool,
        client,
        user,
        record.device_key.as_deref(),
        record.auth_time,
        &record.origin_jti,
        super::grant::Source::RefreshTokens,
        oauth.as_ref(),
    )
    .await?;
    if let Some(grace) = rotation_grace_ms(client) {
        let (token, hash) = jwt::new_refresh_token();
        let next = RefreshRecord {
            token_hash: hash,
            created_ms: ctx.now_ms,
            expires_ms: ctx.now_ms + client.refresh_validity() * 1000,
            rotated_at_ms: None,
            ..record.clone()
        };
        let rotated = ctx
            .store()
            .rotate_refresh_token(&record.token_hash, &next, ctx.now_ms)
            .await
            .map_err(|e| users::write_error(e, pool))?;
        // Two uses of one token at once: the second is a reuse unless a grace period
        // allows retries (the check above read the token before either rotated it).
        if !rotated && grace == 0 {
            return Err(reused(ctx, record).await);
        }
        result.refresh_token = Some(token);
    }
    Ok(result)
}

/// REFRESH_TOKEN_AUTH: new ID and access tokens for a valid refresh token.
pub(super) async fn refresh(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    if rotation_grace_ms(client).is_some() {
        return Err(CognitoError::not_authorized(
            "Refresh token rotation is enabled for this client: use GetTokensFromRefreshToken.",
        ));
    }
    let token = param(params, "REFRESH_TOKEN")?;
    let device_key = params.get("DEVICE_KEY").map(String::as_str);
    let (record, user) = check(ctx, pool, client, token, device_key, |user| {
        check_secret_hash(
            client,
            &[&user.username, &user.sub],
            params.get("SECRET_HASH").map(String::as_str),
        )
    })
    .await?;
    let result = refreshed(ctx, pool, client, &record, &user).await?;
    Ok(Outcome {
        challenge_parameters: Some(HashMap::new()),
        authentication_result: Some(result),
        ..Outcome::default()
    })
}

/// `/oauth2/token`'s refresh_token grant, for a client already authenticated there: new
/// ID and access tokens with the scopes of the sign-in (and, when the client rotates
/// refresh tokens, a new refresh token).
pub async fn oauth_refresh(ctx: &Ctx, client: &Client, token: &str) -> OpResult<AuthenticationResultType> {
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let (record, user) = check(ctx, &pool, client, token, None, |_| Ok(())).await?;
    refreshed(ctx, &pool, client, &record, &user).await
}

/// GetTokensFromRefreshToken
pub async fn get_tokens_from_refresh_token(
    ctx: &Ctx,
    req: GetTokensFromRefreshTokenRequest,
) -> OpResult<GetTokensFromRefreshTokenResponse> {
    // Its ClientMetadata reaches PreTokenGeneration.
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let (record, user) = check(
        ctx,
        &pool,
        &client,
        &req.refresh_token,
        req.device_key.as_deref(),
        |_| match (&client.secret, req.client_secret.as_deref()) {
            (None, _) => Ok(()),
            (Some(_), Some(got)) if client.secret_matches(got) => Ok(()),
            (Some(_), Some(_)) => Err(CognitoError::not_authorized(format!(
                "Unable to verify secret hash for client {}",
                client.id()
            ))),
            (Some(_), None) => Err(CognitoError::not_authorized(format!(
                "Client {} is configured for secret but secret was not received",
                client.id()
            ))),
        },
    )
    .await?;
    let result = refreshed(ctx, &pool, &client, &record, &user).await?;
    Ok(GetTokensFromRefreshTokenResponse {
        authentication_result: Some(result),
    })
}
