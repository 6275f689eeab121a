//! `GET /<poolId>/.well-known/jwks.json` and `GET /<poolId>/.well-known/openid-configuration`.

use crate::app::App;
use crate::error::{CognitoError, OpResult};

/// The JWKS document of a pool.
pub async fn jwks(app: &App, pool_id: &str, now_ms: i64) -> OpResult<Vec<u8>> {
    if app.store.get_pool(pool_id).await?.is_none() {
        return Err(CognitoError::pool_not_found(pool_id));
    }
    let keys = app.keys.get(app.store.as_ref(), &app.sealer, pool_id, now_ms).await?;
    Ok(keys.jwks.clone())
}

/// The OpenID Connect discovery document of a pool.
pub async fn openid_configuration(app: &App, pool_id: &str) -> OpResult<Vec<u8>> {
    if app.store.get_pool(pool_id).await?.is_none() {
        return Err(CognitoError::pool_not_found(pool_id));
    }
    let issuer = app.config.issuer(pool_id);
    let doc = serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "token_use", "cognito:username", "email", "email_verified", "phone_number", "phone_number_verified"],
    });
    Ok(serde_json::to_vec(&doc).unwrap_or_default())
}
