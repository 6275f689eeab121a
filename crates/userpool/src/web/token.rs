//! `POST /oauth2/token`, `GET|POST /oauth2/userInfo`, `POST /oauth2/revoke`.
//!
//! Token endpoint (Cognito's documentation; RFC 6749 where it is silent):
//! - the body is `application/x-www-form-urlencoded`; the client authenticates with HTTP
//!   Basic (`client_secret_basic`) or `client_id` and `client_secret` in the body
//!   (`client_secret_post`); a client without a secret names itself with `client_id`;
//! - `authorization_code`: the code (single use, 5 minutes), the same `redirect_uri`,
//!   the PKCE `code_verifier` when the request had a challenge; answers ID (with
//!   `openid`), access and refresh tokens;
//! - `refresh_token`: new ID and access tokens with the sign-in's scopes (a new refresh
//!   token only when the client rotates them);
//! - `client_credentials`: a client with a secret and that flow; `scope` (custom scopes
//!   the client is allowed; all of them when left out); an access token only;
//! - failures are 400 with `{"error": ...}`: `invalid_request` (a parameter missing),
//!   `invalid_client` (unknown client, wrong or missing secret), `invalid_grant` (a code
//!   unknown, used, expired, for another client or redirect URI, or a wrong PKCE
//!   verifier; a refresh token invalid or revoked), `unauthorized_client` (the flow is
//!   not allowed to the client), `invalid_scope`, `unsupported_grant_type`.

use super::{json, Reply, Request};
use crate::error::CognitoError;
use crate::ops::app_clients::{self, Client};
use crate::tokens::jwt;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{HeaderValue, StatusCode};
use serde_json::{json as j, Map, Value};
use userpool_model::types::{AuthenticationResultType, OAuthFlowType, RevokeTokenRequest};
use userpool_model::ErrorCode;

fn oauth_error(error: &str) -> Reply {
    json(StatusCode::BAD_REQUEST, &j!({ "error": error }))
}

/// The client a token or revocation request authenticates as, or OAuth's error name.
async fn client_of(req: &Request<'_>) -> Result<Client, &'static str> {
    let basic = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b| {
            let decoded = STANDARD.decode(b.trim().as_bytes()).unwrap_or_default();
            let text = String::from_utf8(decoded).unwrap_or_default();
            match text.split_once(':') {
                Some((id, secret)) => (id.to_string(), Some(secret.to_string())),
                None => (String::new(), None),
            }
        });
    let (id, secret) = match (basic, req.form("client_id")) {
        (Some((id, _)), Some(body)) if id != body => return Err("invalid_client"),
        (Some((id, secret)), _) => (id, secret),
        (None, Some(body)) => (body.to_string(), req.form("client_secret").map(str::to_string)),
        (None, None) => return Err("invalid_client"),
    };
    let client = match app_clients::find_client(&req.ctx, &id).await {
        Ok(c) if c.record.pool_id == req.site.pool_id => c,
        _ => return Err("invalid_client"),
    };
    match (&client.secret, secret) {
        (None, _) => Ok(client),
        (Some(_), Some(got)) if client.secret_matches(&got) => Ok(client),
        _ => Err("invalid_client"),
    }
}

fn allows(client: &Client, flow: OAuthFlowType) -> bool {
    client.settings.allowed_oauth_flows_user_pool_client == Some(true)
        && client
            .settings
            .allowed_oauth_flows
            .as_deref()
            .unwrap_or_default()
            .contains(&flow)
}

fn tokens_json(t: AuthenticationResultType) -> Reply {
    let mut m = Map::new();
    if let Some(id) = t.id_token {
        m.insert("id_token".into(), id.into());
    }
    m.insert("access_token".into(), t.access_token.unwrap_or_default().into());
    if let Some(r) = t.refresh_token {
        m.insert("refresh_token".into(), r.into());
    }
    m.insert("expires_in".into(), t.expires_in.unwrap_or(3600).into());
    m.insert("token_type".into(), "Bearer".into());
    json(StatusCode::OK, &Value::Object(m))
}

fn form_content(req: &Request<'_>) -> bool {
    req.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// `POST /oauth2/token`
pub async fn token(req: &Request<'_>) -> Reply {
    if !form_content(req) {
        return oauth_error("invalid_request");
    }
    let Some(grant_type) = req.form("grant_type") else {
        return oauth_error("invalid_request");
    };
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return oauth_error("unsupported_grant_type");
    }
    let client = match client_of(req).await {
        Ok(c) => c,
        Err(e) => return oauth_error(e),
    };
    let ctx = &req.ctx.with_client(Some(client.id()), None);
    match grant_type {
        "authorization_code" => code_grant(req, ctx, &client).await,
        "refresh_token" => {
            let Some(token) = req.form("refresh_token") else {
                return oauth_error("invalid_request");
            };
            match crate::ops::sign_in::oauth_refresh(ctx, &client, token).await {
                Ok(t) => tokens_json(t),
                Err(e) if e.code == ErrorCode::InternalErrorException => oauth_error("server_error"),
                Err(_) => oauth_error("invalid_grant"),
            }
        }
        _ => client_credentials(req, ctx, &client).await,
    }
}

async fn code_grant(req: &Request<'_>, ctx: &crate::app::Ctx, client: &Client) -> Reply {
    let (Some(code), Some(redirect_uri)) = (req.form("code"), req.form("redirect_uri")) else {
        return oauth_error("invalid_request");
    };
    if !allows(client, OAuthFlowType::Code) {
        return oauth_error("unauthorized_client");
    }
    let Some(code) = super::authorize::open_code(ctx, code) else {
        return oauth_error("invalid_grant");
    };
    if code.client != client.id() || code.pool != req.site.pool_id || code.exp <= ctx.now_ms {
        return oauth_error("invalid_grant");
    }
    if code.redirect_uri != redirect_uri {
        return oauth_error("invalid_grant");
    }
    // PKCE (RFC 7636): a code issued with a challenge needs its verifier (43 to 128
    // characters); a verifier for a code issued without one is refused (no downgrade).
    match (&code.challenge, req.form("code_verifier")) {
        (Some(challenge), Some(verifier))
            if (43..=128).contains(&verifier.len()) && super::authorize::pkce_matches(challenge, verifier) => {}
        (None, None) => {}
        _ => return oauth_error("invalid_grant"),
    }
    // Single use: a second exchange of the same code fails, on any node.
    match super::authorize::take(ctx, &code).await {
        Ok(true) => {}
        Ok(false) => return oauth_error("invalid_grant"),
        Err(_) => return oauth_error("server_error"),
    }
    let result = async {
        let pool = crate::ops::users::load(ctx, &code.pool).await?;
        let user = ctx
            .store()
            .get_user(&code.pool, &code.user)
            .await?
            .filter(|u| super::authorize::still_valid(u, &code.sub, code.auth_time))
            .ok_or_else(|| CognitoError::not_authorized("User does not exist."))?;
        let oauth = jwt::OAuth {
            scope: code.scope.clone(),
            nonce: code.oidc_nonce.clone(),
        };
        crate::ops::sign_in::hosted_tokens(ctx, &pool, client, &user, code.auth_time, &oauth, true).await
    }
    .await;
    match result {
        Ok(t) => tokens_json(t),
        Err(e) if e.code == ErrorCode::InternalErrorException => oauth_error("server_error"),
        Err(_) => oauth_error("invalid_grant"),
    }
}

async fn client_credentials(req: &Request<'_>, ctx: &crate::app::Ctx, client: &Client) -> Reply {
    if client.secret.is_none() || !allows(client, OAuthFlowType::ClientCredentials) {
        return oauth_error("unauthorized_client");
    }
    let allowed = client.settings.allowed_oauth_scopes.clone().unwrap_or_default();
    let scope = match req.form("scope").filter(|s| !s.trim().is_empty()) {
        None => allowed.join(" "),
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.iter().any(|s| !allowed.iter().any(|a| a == s)) {
                return oauth_error("invalid_scope");
            }
            asked.join(" ")
        }
    };
    let keys = match ctx
        .app
        .keys
        .get(ctx.store(), &ctx.app.sealer, &req.site.pool_id, ctx.now_ms)
        .await
    {
        Ok(k) => k,
        Err(_) => return oauth_error("server_error"),
    };
    let issuer = ctx.app.config.issuer(&req.site.pool_id);
    let now = ctx.now_ms.div_euclid(1000);
    let validity = client.access_validity();
    match crate::clock::blocking(|| jwt::sign_client_credentials(&keys, &issuer, client.id(), &scope, now, validity)) {
        Ok(access) => json(
            StatusCode::OK,
            &j!({"access_token": access, "expires_in": validity, "token_type": "Bearer"}),
        ),
        Err(_) => oauth_error("server_error"),
    }
}

/// The attributes the `profile` scope opens (besides custom ones).
const PROFILE: [&str; 14] = [
    "name",
    "family_name",
    "given_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
];

fn user_info_error(status: StatusCode, error: &str, description: &str) -> Reply {
    let mut r = json(status, &j!({"error": error, "error_description": description}));
    let h = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    if let Ok(v) = HeaderValue::from_str(&h) {
        r.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
    }
    r
}

/// `GET|POST /oauth2/userInfo`: the user of an access token carrying `openid`, with the
/// attributes its scopes open (the developer guide's table): `openid` alone, every
/// attribute the client may read; otherwise `sub` and `username`, with `profile` the
/// profile attributes and custom ones, `email` email and email_verified, `phone`
/// phone_number and phone_number_verified (`aws.cognito.signin.user.admin` changes
/// nothing). Values are strings.
pub async fn user_info(req: &Request<'_>) -> Reply {
    let token = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return user_info_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Bad OAuth2 request at UserInfo Endpoint",
        );
    };
    let (_, user, claims) = match crate::auth::token::authorize_scope(&req.ctx, token, "openid").await {
        // A token of this domain's pool only.
        Ok((pool, user, claims)) if pool.id() == req.site.pool_id => ((), user, claims),
        Ok(_) => {
            return user_info_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Access token is expired, disabled, or deleted, or the user has globally signed out.",
            )
        }
        Err(e) if e.code == ErrorCode::InternalErrorException => {
            return user_info_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Internal error")
        }
        Err(_) => {
            return user_info_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Access token is expired, disabled, or deleted, or the user has globally signed out.",
            )
        }
    };
    let scopes: Vec<&str> = claims.scope.split(' ').collect();
    let everything = !scopes.iter().any(|s| matches!(*s, "profile" | "email" | "phone"));
    let profile = scopes.contains(&"profile");
    let readable = match app_clients::find_client(&req.ctx, &claims.client_id).await {
        Ok(c) => crate::ops::permissions::filter_readable(&c.settings, &user.attributes),
        Err(_) => Vec::new(),
    };
    let mut m = Map::new();
    for (name, value) in &readable {
        let opened = name == "sub"
            || everything
            || (profile && (PROFILE.contains(&name.as_str()) || name.starts_with("custom:")))
            || (scopes.contains(&"email") && (name == "email" || name == "email_verified"))
            || (scopes.contains(&"phone") && (name == "phone_number" || name == "phone_number_verified"));
        if opened && !name.starts_with("dev:") {
            m.insert(name.clone(), value.clone().into());
        }
    }
    m.insert("sub".into(), user.sub.clone().into());
    m.insert("username".into(), user.username.clone().into());
    json(StatusCode::OK, &Value::Object(m))
}

/// `POST /oauth2/revoke`: revokes a refresh token and the access tokens issued with it.
/// 200 with an empty body, also for a token that is unknown or already revoked.
pub async fn revoke(req: &Request<'_>) -> Reply {
    if !form_content(req) {
        return oauth_error("invalid_request");
    }
    let Some(token) = req.form("token") else {
        return oauth_error("invalid_request");
    };
    let client = match client_of(req).await {
        Ok(c) => c,
        Err(e) => return json(StatusCode::UNAUTHORIZED, &j!({ "error": e })),
    };
    let request = RevokeTokenRequest {
        token: token.to_string(),
        client_id: client.id().to_string(),
        client_secret: client.secret.clone(),
    };
    match crate::ops::access::revoke_token(&req.ctx, request).await {
        Ok(_) => super::empty(StatusCode::OK),
        Err(e) => match e.code {
            ErrorCode::UnsupportedOperationException => oauth_error("invalid_request"),
            ErrorCode::UnsupportedTokenTypeException => oauth_error("unsupported_token_type"),
            // Another client's token: answered as an unknown one (nothing is revoked).
            ErrorCode::NotAuthorizedException => super::empty(StatusCode::OK),
            _ => oauth_error("server_error"),
        },
    }
}
