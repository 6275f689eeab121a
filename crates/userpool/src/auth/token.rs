//! Access tokens: the one check every token-authorised operation (GetUser, the device
//! operations, ...) goes through before it acts.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::users;
use crate::tokens::jwt::{self, invalid_access_token, ADMIN_SCOPE};
use serde_json::Value;
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// What an access token says, once verified.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    /// The app client it was issued to.
    pub client_id: String,
    /// The device of the sign-in, if any.
    pub device_key: Option<String>,
    /// The token family.
    pub origin_jti: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: String,
}

fn revoked() -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, "Access Token has been revoked")
}

/// Verifies an access token this server signed: signature with the pool's key, expiry
/// (against the request's `now`), `token_use`, scope, and that neither a sign-out nor a
/// revocation came after it. The pool, the user and the claims.
pub async fn authorize(ctx: &Ctx, token: &str) -> OpResult<(users::Pool, UserRecord, AccessClaims)> {
    authorize_scope(ctx, token, ADMIN_SCOPE).await
}

/// [`authorize`], for a token that must carry `scope` (`openid` for `/oauth2/userInfo`).
pub async fn authorize_scope(ctx: &Ctx, token: &str, scope: &str) -> OpResult<(users::Pool, UserRecord, AccessClaims)> {
    let peeked = jwt::peek(token).ok_or_else(invalid_access_token)?;
    let iss = peeked
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(invalid_access_token)?;
    let pool_id = iss.rsplit('/').next().ok_or_else(invalid_access_token)?;
    let pool = match users::load(ctx, pool_id).await {
        Ok(p) => p,
        Err(e) if e.code == ErrorCode::ResourceNotFoundException => return Err(invalid_access_token()),
        Err(e) => return Err(e),
    };
    let keys = ctx
        .app
        .keys
        .get(ctx.store(), &ctx.app.sealer, pool.id(), ctx.now_ms)
        .await?;
    let claims = jwt::verify(&keys, token, ctx.now_ms.div_euclid(1000))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("token_use") != Some("access") || text("iss") != Some(ctx.app.config.issuer(pool.id()).as_str()) {
        return Err(invalid_access_token());
    }
    if !text("scope").is_some_and(|s| s.split(' ').any(|s| s == scope)) {
        return Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            "Access Token does not have required scopes",
        ));
    }
    let username = text("username").ok_or_else(invalid_access_token)?;
    let user = ctx
        .store()
        .get_user(pool.id(), &pool.username_key(username))
        .await?
        .ok_or_else(users::user_not_found)?;
    if text("sub") != Some(user.sub.as_str()) {
        return Err(revoked());
    }
    let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    if iat * 1000 < user.tokens_valid_after_ms - 999 {
        return Err(revoked());
    }
    let origin_jti = text("origin_jti").map(str::to_string);
    if let Some(o) = &origin_jti {
        if ctx.store().is_origin_revoked(o).await? {
            return Err(revoked());
        }
    }
    if !user.enabled {
        return Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    let access = AccessClaims {
        client_id: text("client_id").unwrap_or_default().to_string(),
        device_key: text("device_key").map(str::to_string),
        origin_jti,
        scope: text("scope").unwrap_or_default().to_string(),
    };
    Ok((pool, user, access))
}
