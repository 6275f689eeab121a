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
    // Cognito's members in its (alphabetical) order, whichever order serde_json keeps.
    let mut doc: std::collections::BTreeMap<&str, serde_json::Value> = std::collections::BTreeMap::new();
    doc.insert("issuer", issuer.clone().into());
    doc.insert("jwks_uri", format!("{issuer}/.well-known/jwks.json").into());
    doc.insert("id_token_signing_alg_values_supported", serde_json::json!(["RS256"]));
    doc.insert("response_types_supported", serde_json::json!(["code", "token"]));
    doc.insert("subject_types_supported", serde_json::json!(["public"]));
    doc.insert(
        "scopes_supported",
        serde_json::json!(["openid", "email", "phone", "profile"]),
    );
    doc.insert(
        "token_endpoint_auth_methods_supported",
        serde_json::json!(["client_secret_basic", "client_secret_post"]),
    );
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
    if let Some(domain) = domain {
        let base = crate::web::path_form_base(app, domain);
        doc.insert("authorization_endpoint", format!("{base}/oauth2/authorize").into());
        doc.insert("end_session_endpoint", format!("{base}/logout").into());
        doc.insert("revocation_endpoint", format!("{base}/oauth2/revoke").into());
        doc.insert("token_endpoint", format!("{base}/oauth2/token").into());
        doc.insert("userinfo_endpoint", format!("{base}/oauth2/userInfo").into());
    }
    Ok(serde_json::to_vec(&doc).unwrap_or_default())
}
