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

/// The OpenID Connect discovery document of a pool: Cognito's twelve members (no
/// `code_challenge_methods_supported`, `userInfo` spelled so). The endpoints are on the
/// pool's domain (its prefix domain, else its custom domain) in the path form that works
/// from any client (`<public URL>/<domain>/oauth2/...`, see `web/`); a pool without a
/// domain has none to list, and its document names the issuer and keys only.
pub async fn openid_configuration(app: &App, pool_id: &str) -> OpResult<Vec<u8>> {
    if app.store.get_pool(pool_id).await?.is_none() {
        return Err(CognitoError::pool_not_found(pool_id));
    }
    let issuer = app.config.issuer(pool_id);
    let mut doc = serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    let mut domains = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .list_objects(userpool_store::ObjectKind::Domain, pool_id, after.as_deref(), 10)
            .await?;
        domains.extend(page.items.into_iter().map(|o| o.name));
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let domain = domains.iter().find(|d| !d.contains('.')).or_else(|| domains.first());
    if let (Some(domain), Some(m)) = (domain, doc.as_object_mut()) {
        let base = crate::web::path_form_base(app, domain);
        m.insert(
            "authorization_endpoint".into(),
            format!("{base}/oauth2/authorize").into(),
        );
        m.insert("end_session_endpoint".into(), format!("{base}/logout").into());
        m.insert("revocation_endpoint".into(), format!("{base}/oauth2/revoke").into());
        m.insert("token_endpoint".into(), format!("{base}/oauth2/token").into());
        m.insert("userinfo_endpoint".into(), format!("{base}/oauth2/userInfo").into());
    }
    Ok(serde_json::to_vec(&doc).unwrap_or_default())
}
