//! The end of every sign-in: tokens (and, when the pool tracks devices and none was
//! presented, a new device).

use crate::app::Ctx;
use crate::error::OpResult;
use crate::ops::app_clients::Client;
use crate::ops::{devices, permissions, users};
use crate::tokens::jwt;
use std::collections::HashMap;
use userpool_model::types::AuthenticationResultType;
use userpool_store::{DeviceRecord, RefreshRecord, UserRecord};

use super::Outcome;

/// What issued a grant's tokens: PreTokenGeneration's `triggerSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A sign-in (password, SRP, MFA, custom challenge).
    Authentication,
    /// A sign-in whose last answer was NEW_PASSWORD_REQUIRED.
    NewPasswordChallenge,
    /// A sign-in whose last answer proved a remembered device.
    AuthenticateDevice,
    /// REFRESH_TOKEN_AUTH, GetTokensFromRefreshToken, `/oauth2/token`'s refresh_token grant.
    RefreshTokens,
    /// The hosted pages' sign-in (the code exchanged at `/oauth2/token`).
    HostedAuth,
}

impl Source {
    fn trigger_source(self) -> &'static str {
        match self {
            Source::Authentication => "TokenGeneration_Authentication",
            Source::NewPasswordChallenge => "TokenGeneration_NewPasswordChallenge",
            Source::AuthenticateDevice => "TokenGeneration_AuthenticateDevice",
            Source::RefreshTokens => "TokenGeneration_RefreshTokens",
            Source::HostedAuth => "TokenGeneration_HostedAuth",
        }
    }
}

/// Tokens for a finished sign-in; a new device when the pool tracks devices and none was
/// presented. PostAuthentication runs first (its error refuses the sign-in), then
/// PreTokenGeneration as the tokens are made.
pub(super) async fn tokens(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device: Option<DeviceRecord>,
    source: Source,
) -> OpResult<Outcome> {
    if ctx.hosted {
        // The hosted pages: the user is signed in; the tokens come with the authorization
        // code's exchange (no device: the hosted pages do not track devices).
        crate::triggers::auth::post_authentication(ctx, pool, client.id(), user, false).await?;
        crate::ops::auth_events::sign_in_passed(ctx, pool, user).await;
        return Ok(Outcome {
            signed_in: Some(user.clone()),
            ..Outcome::default()
        });
    }
    let tracks_devices = pool.settings().device_configuration.is_some();
    crate::triggers::auth::post_authentication(ctx, pool, client.id(), user, tracks_devices && device.is_none())
        .await?;
    crate::ops::auth_events::sign_in_passed(ctx, pool, user).await;
    let (device_key, new_device) = match device {
        Some(d) => {
            devices::authenticated(ctx, &d).await?;
            (Some(d.device_key), None)
        }
        None if pool.settings().device_configuration.is_some() => {
            let meta = devices::issue(ctx, pool, user).await?;
            (meta.device_key.clone(), Some(meta))
        }
        None => (None, None),
    };
    let origin_jti = crate::ids::uuid().to_string();
    let now = ctx.now_ms.div_euclid(1000);
    let mut result = grant(
        ctx,
        pool,
        client,
        user,
        device_key.as_deref(),
        now,
        &origin_jti,
        source,
        None,
    )
    .await?;
    result.refresh_token = Some(new_refresh(ctx, pool, client, user, device_key, origin_jti, now, None).await?);
    result.new_device_metadata = new_device;
    Ok(Outcome {
        challenge_parameters: Some(HashMap::new()),
        authentication_result: Some(result),
        ..Outcome::default()
    })
}

/// Signs the ID and access tokens (no refresh token), as the pool's PreTokenGeneration
/// function changes them.
#[allow(clippy::too_many_arguments, reason = "one grant's facts, each used once")]
pub(super) async fn grant(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<&str>,
    auth_time: i64,
    origin_jti: &str,
    source: Source,
    oauth: Option<&jwt::OAuth>,
) -> OpResult<AuthenticationResultType> {
    let keys = ctx
        .app
        .keys
        .get(ctx.store(), &ctx.app.sealer, pool.id(), ctx.now_ms)
        .await?;
    let issuer = ctx.app.config.issuer(pool.id());
    let groups = crate::ops::groups::token_groups(ctx, user).await?;
    let overrides = crate::triggers::tokens::pre_token_generation(
        ctx,
        pool,
        &crate::triggers::tokens::Grant {
            user,
            client_id: client.id(),
            source: source.trigger_source(),
            groups: &groups,
            roles: &[],
            scopes: &oauth.map_or_else(
                || vec![jwt::ADMIN_SCOPE.to_string()],
                |o| {
                    o.scope
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                },
            ),
        },
    )
    .await?;
    // The ID token carries the attributes the client may read (ReadAttributes).
    let filtered;
    let user = if client.settings.read_attributes.as_ref().is_some_and(|l| !l.is_empty()) {
        let mut u = user.clone();
        u.attributes = permissions::filter_readable(&client.settings, &user.attributes);
        filtered = u;
        &filtered
    } else {
        user
    };
    let g = jwt::Grant {
        issuer: &issuer,
        client_id: client.id(),
        user,
        groups: &groups,
        device_key,
        auth_time,
        origin_jti,
        now: ctx.now_ms.div_euclid(1000),
        access_validity: client.access_validity(),
        id_validity: client.id_validity(),
        overrides: overrides.as_ref(),
        oauth,
    };
    let (access, id) = crate::clock::blocking(|| jwt::sign_pair(&keys, &g))?;
    Ok(AuthenticationResultType {
        access_token: Some(access),
        expires_in: i32::try_from(client.access_validity()).ok(),
        token_type: Some("Bearer".into()),
        refresh_token: None,
        // An OAuth grant has an ID token only with the openid scope.
        id_token: oauth.is_none_or(|o| o.has("openid")).then_some(id),
        new_device_metadata: None,
    })
}

/// The tokens of a hosted sign-in, as `/oauth2/token` exchanges its authorization code:
/// ID (with `openid`), access (with the scopes granted) and, `with_refresh_token` (not
/// for the implicit grant), refresh tokens. `auth_time` is the sign-in's.
pub async fn hosted_tokens(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    auth_time: i64,
    oauth: &jwt::OAuth,
    with_refresh_token: bool,
) -> OpResult<AuthenticationResultType> {
    let origin_jti = crate::ids::uuid().to_string();
    let mut result = grant(
        ctx,
        pool,
        client,
        user,
        None,
        auth_time,
        &origin_jti,
        Source::HostedAuth,
        Some(oauth),
    )
    .await?;
    if !with_refresh_token {
        return Ok(result);
    }
    let scope = Some(oauth.scope.clone());
    result.refresh_token = Some(new_refresh(ctx, pool, client, user, None, origin_jti, auth_time, scope).await?);
    Ok(result)
}

/// A new refresh token of a sign-in (its family is `origin_jti`), stored by its hash.
#[allow(clippy::too_many_arguments, reason = "one sign-in's facts, each used once")]
async fn new_refresh(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    device_key: Option<String>,
    origin_jti: String,
    auth_time: i64,
    scope: Option<String>,
) -> OpResult<String> {
    let (refresh, hash) = jwt::new_refresh_token();
    ctx.store()
        .put_refresh_token(&RefreshRecord {
            token_hash: hash,
            pool_id: pool.id().to_string(),
            username_key: user.username_key.clone(),
            client_id: client.id().to_string(),
            device_key,
            origin_jti,
            auth_time,
            created_ms: ctx.now_ms,
            expires_ms: ctx.now_ms + client.refresh_validity() * 1000,
            rotated_at_ms: None,
            scope,
        })
        .await?;
    Ok(refresh)
}
