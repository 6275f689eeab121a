//! `GET /oauth2/authorize`, the authorization request every hosted page carries in its
//! query, the authorization code and the hosted sign-in's session cookie.
//!
//! Rules (Cognito's authorize endpoint documentation, and where it is silent, decided):
//! - `client_id` must name an app client of the domain's pool with OAuth enabled
//!   (`AllowedOAuthFlowsUserPoolClient`), and `redirect_uri` must be one of its
//!   CallbackURLs, compared exactly; otherwise no redirect is made at all: the browser is
//!   sent to `/error?error=redirect_mismatch` (or `invalid_request` for an unknown
//!   client), which answers 400;
//! - the rest is answered by a redirect to `redirect_uri` with `error=`:
//!   `response_type` missing or not `code`/`token` → `invalid_request`; not in the
//!   client's AllowedOAuthFlows → `unauthorized_client`; a scope the client is not
//!   allowed, or `email`/`phone`/`profile` without `openid` → `invalid_scope`; PKCE other
//!   than S256 ("Amazon Cognito supports only S256") or a challenge without its method →
//!   `invalid_request`; `prompt=none` without a hosted session → `login_required`;
//! - no `scope`: every scope the client is allowed;
//! - the code is single use (taken once in the shared store) and lives 5 minutes; it is
//!   sealed with the data key (so any node can redeem it) and binds the client, the
//!   redirect URI, the scopes, the nonce, the PKCE challenge and the user's sign-in time;
//! - the hosted session (cookie, 1 hour, as Cognito's hosted UI) signs the user in again
//!   without a password, unless `prompt=login`; a sign-out, a disabled user or a
//!   deleted one ends it.

use super::{first, redirect, Reply, Request, Site};
use crate::app::Ctx;
use crate::error::OpResult;
use crate::ops::app_clients::{self, Client};
use crate::tokens::jwt;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use userpool_model::types::OAuthFlowType;
use userpool_store::UserRecord;

/// How long a code may be exchanged, ms.
pub const CODE_TTL_MS: i64 = 300_000;
/// How long the hosted session lasts, s.
pub const SESSION_TTL_S: i64 = 3_600;
/// The hosted session cookie.
pub const SESSION_COOKIE: &str = "userpool-session";

/// An authorization request whose client and redirect URI are known good.
pub struct AuthRequest {
    /// The app client.
    pub client: Client,
    /// `redirect_uri`, one of the client's CallbackURLs.
    pub redirect_uri: String,
    /// `code` or `token`.
    pub response_type: String,
    /// The scopes granted, space-separated, in the client's order.
    pub scope: String,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// The authorization request's own query, carried from page to page.
    pub query: String,
}

/// Why an authorization request cannot go on.
pub enum Refusal {
    /// No redirect may be made (unknown client, redirect URI not registered): the error page.
    Page(&'static str),
    /// Back to the client with `error=`.
    Redirect(String),
}

impl Refusal {
    /// The answer for the browser.
    pub fn reply(self, site: &Site, client_id: Option<&str>) -> Reply {
        match self {
            Refusal::Page(error) => {
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("error", error);
                if let Some(c) = client_id {
                    q.append_pair("client_id", c);
                }
                redirect(&site.url(&format!("/error?{}", q.finish())))
            }
            Refusal::Redirect(location) => redirect(&location),
        }
    }
}

/// `redirect_uri` with the given parameters added (in the query for a code, in the
/// fragment for tokens).
pub fn back_to(redirect_uri: &str, fragment: bool, params: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    let q = q.finish();
    let sep = if fragment {
        "#"
    } else if redirect_uri.contains('?') {
        "&"
    } else {
        "?"
    };
    format!("{redirect_uri}{sep}{q}")
}

/// Checks an authorization request's query (on `/oauth2/authorize` and on every hosted
/// page, which carry it along).
pub async fn check(ctx: &Ctx, site: &Site, query: &[(String, String)]) -> Result<AuthRequest, Refusal> {
    let client_id = first(query, "client_id").unwrap_or_default();
    let client = match app_clients::find_client(ctx, client_id).await {
        Ok(c) if c.record.pool_id == site.pool_id => c,
        _ => return Err(Refusal::Page("invalid_request")),
    };
    let redirect_uri = first(query, "redirect_uri").unwrap_or_default().to_string();
    let callbacks = client.settings.callback_urls.as_deref().unwrap_or_default();
    if client.settings.allowed_oauth_flows_user_pool_client != Some(true) || !callbacks.contains(&redirect_uri) {
        return Err(Refusal::Page("redirect_mismatch"));
    }
    let state = first(query, "state").map(str::to_string);
    let refuse = |error: &str, fragment: bool| {
        let mut p = vec![("error", error)];
        if let Some(s) = &state {
            p.push(("state", s.as_str()));
        }
        Refusal::Redirect(back_to(&redirect_uri, fragment, &p))
    };
    let response_type = first(query, "response_type").unwrap_or_default().to_string();
    let flow = match response_type.as_str() {
        "code" => OAuthFlowType::Code,
        "token" => OAuthFlowType::Implicit,
        _ => return Err(refuse("invalid_request", false)),
    };
    let fragment = flow == OAuthFlowType::Implicit;
    if !client
        .settings
        .allowed_oauth_flows
        .as_deref()
        .unwrap_or_default()
        .contains(&flow)
    {
        return Err(refuse("unauthorized_client", fragment));
    }
    let allowed = client.settings.allowed_oauth_scopes.clone().unwrap_or_default();
    let scope = match first(query, "scope").filter(|s| !s.trim().is_empty()) {
        None => allowed.join(" "),
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.iter().any(|s| !allowed.iter().any(|a| a == s)) {
                return Err(refuse("invalid_scope", fragment));
            }
            let needs_openid = ["email", "phone", "profile"];
            if asked.iter().any(|s| needs_openid.contains(s)) && !asked.contains(&"openid") {
                return Err(refuse("invalid_scope", fragment));
            }
            allowed
                .iter()
                .filter(|a| asked.contains(&a.as_str()))
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let code_challenge = match (first(query, "code_challenge"), first(query, "code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => Some(c.to_string()),
        _ => return Err(refuse("invalid_request", fragment)),
    };
    if fragment && code_challenge.is_some() {
        return Err(refuse("invalid_request", fragment));
    }
    let mut carried = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        carried.append_pair(k, v);
    }
    Ok(AuthRequest {
        client,
        redirect_uri,
        response_type,
        scope,
        state,
        nonce: first(query, "nonce").map(str::to_string),
        code_challenge,
        prompt: first(query, "prompt").map(str::to_string),
        query: carried.finish(),
    })
}

/// What an authorization code seals.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// Format version.
    pub v: u8,
    /// Single use: taken once in the store.
    pub nonce: String,
    /// The pool.
    pub pool: String,
    /// The client it was issued to.
    pub client: String,
    /// The user's lookup key.
    pub user: String,
    /// The user's `sub`: a user deleted and created again under the name is another.
    pub sub: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// The scopes granted.
    pub scope: String,
    /// The authorization request's nonce.
    pub oidc_nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub challenge: Option<String>,
    /// When the user signed in, epoch s.
    pub auth_time: i64,
    /// Expiry, epoch ms.
    pub exp: i64,
}

/// The hosted session: who signed in, when, until when (an hour after the sign-in, however
/// often it is used).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Session {
    v: u8,
    pool: String,
    user: String,
    sub: String,
    auth_time: i64,
    exp: i64,
}

/// Whether a user may still be given tokens by a code or a session: enabled, the same
/// `sub`, not signed out since, and in a status that signs in (not waiting for a new or
/// reset password).
pub fn still_valid(user: &UserRecord, sub: &str, auth_time: i64) -> bool {
    user.enabled
        && user.sub == sub
        && user.tokens_valid_after_ms <= auth_time * 1000
        && matches!(user.status.as_str(), "CONFIRMED" | "EXTERNAL_PROVIDER")
}

/// Seals a value with the data key for one `purpose` (base64url): a value sealed for one
/// purpose (a code) never opens as another (a session cookie).
pub fn seal<T: Serialize>(ctx: &Ctx, purpose: &str, value: &T) -> String {
    let clear = serde_json::to_vec(&(purpose, value)).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(ctx.app.sealer.seal(&clear))
}

/// Opens what [`seal`] sealed for `purpose`.
pub fn open<T: for<'de> Deserialize<'de>>(ctx: &Ctx, purpose: &str, sealed: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.as_bytes()).ok()?;
    let (p, value): (String, T) = serde_json::from_slice(&ctx.app.sealer.open(&bytes)?).ok()?;
    (p == purpose).then_some(value)
}

/// Opens a code (not yet taken: [`take`] does).
pub fn open_code(ctx: &Ctx, code: &str) -> Option<Code> {
    open::<Code>(ctx, "code", code).filter(|c| c.v == 1)
}

/// Takes a code once: `false` when it was already exchanged.
pub async fn take(ctx: &Ctx, code: &Code) -> OpResult<bool> {
    let nonce = URL_SAFE_NO_PAD.decode(code.nonce.as_bytes()).unwrap_or_default();
    Ok(ctx.store().consume_state(&nonce, code.exp).await?)
}

/// Whether `verifier` answers an S256 `challenge` (RFC 7636 4.6).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    userpool_sigv4::ct_eq(computed.as_bytes(), challenge.as_bytes())
}

/// The user of a live hosted session of this pool.
async fn session_user(ctx: &Ctx, req: &Request<'_>) -> Option<(UserRecord, i64)> {
    let s: Session = open(ctx, "session", &req.cookie(SESSION_COOKIE)?)?;
    if s.v != 1 || s.pool != req.site.pool_id || s.exp <= ctx.now_ms {
        return None;
    }
    let user = ctx.store().get_user(&s.pool, &s.user).await.ok()??;
    still_valid(&user, &s.sub, s.auth_time).then_some((user, s.auth_time))
}

/// The end of a hosted sign-in: the session cookie, and the browser sent back to the
/// client with a code (or, for `response_type=token`, the tokens in the fragment).
pub async fn finish(req: &Request<'_>, auth: &AuthRequest, user: &UserRecord, auth_time: i64) -> Reply {
    let ctx = &req.ctx;
    let mut reply = match answer(ctx, auth, user, auth_time).await {
        Ok(location) => redirect(&location),
        Err(e) => {
            tracing::warn!(error = %e.message, "a hosted sign-in could not be completed");
            let mut p = vec![("error", "server_error")];
            if let Some(s) = &auth.state {
                p.push(("state", s.as_str()));
            }
            redirect(&back_to(&auth.redirect_uri, auth.response_type == "token", &p))
        }
    };
    let exp = (auth_time + SESSION_TTL_S) * 1000;
    let session = Session {
        v: 1,
        pool: req.site.pool_id.clone(),
        user: user.username_key.clone(),
        sub: user.sub.clone(),
        auth_time,
        exp,
    };
    let max_age = (exp - ctx.now_ms).div_euclid(1000).max(0);
    super::set_cookie(
        &mut reply,
        req.site,
        SESSION_COOKIE,
        &seal(ctx, "session", &session),
        max_age,
    );
    reply
}

async fn answer(ctx: &Ctx, auth: &AuthRequest, user: &UserRecord, auth_time: i64) -> OpResult<String> {
    let mut params: Vec<(&str, String)> = Vec::new();
    if auth.response_type == "token" {
        // Implicit: the tokens themselves, in the fragment (no refresh token).
        let pool = crate::ops::users::load(ctx, &auth.client.record.pool_id).await?;
        let oauth = jwt::OAuth {
            scope: auth.scope.clone(),
            nonce: auth.nonce.clone(),
        };
        let tokens =
            crate::ops::sign_in::hosted_tokens(ctx, &pool, &auth.client, user, auth_time, &oauth, false).await?;
        if let Some(id) = tokens.id_token {
            params.push(("id_token", id));
        }
        params.push(("access_token", tokens.access_token.unwrap_or_default()));
        params.push(("expires_in", auth.client.access_validity().to_string()));
        params.push(("token_type", "Bearer".into()));
    } else {
        let code = Code {
            v: 1,
            nonce: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            pool: auth.client.record.pool_id.clone(),
            client: auth.client.id().to_string(),
            user: user.username_key.clone(),
            sub: user.sub.clone(),
            redirect_uri: auth.redirect_uri.clone(),
            scope: auth.scope.clone(),
            oidc_nonce: auth.nonce.clone(),
            challenge: auth.code_challenge.clone(),
            auth_time,
            exp: ctx.now_ms + CODE_TTL_MS,
        };
        params.push(("code", seal(ctx, "code", &code)));
    }
    if let Some(s) = &auth.state {
        params.push(("state", s.clone()));
    }
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(back_to(&auth.redirect_uri, auth.response_type == "token", &refs))
}

/// Whether the client signs in the pool's own users (`COGNITO` in its
/// SupportedIdentityProviders).
pub fn allows_cognito(auth: &AuthRequest) -> bool {
    auth.client
        .settings
        .supported_identity_providers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|p| p == "COGNITO")
}

/// `GET /oauth2/authorize`: a live hosted session answers at once; otherwise the sign-in
/// page, with the same query.
pub async fn authorize(req: &Request<'_>) -> Reply {
    let auth = match check(&req.ctx, req.site, &req.query).await {
        Ok(a) => a,
        Err(r) => return r.reply(req.site, req.query("client_id")),
    };
    let provider = req.query("identity_provider");
    if provider.is_some_and(|p| p != "COGNITO") || req.query("idp_identifier").is_some() {
        return super::federation::start(req, &auth).await;
    }
    if !allows_cognito(&auth) {
        let mut p = vec![("error", "invalid_request")];
        if let Some(s) = &auth.state {
            p.push(("state", s.as_str()));
        }
        return redirect(&back_to(&auth.redirect_uri, auth.response_type == "token", &p));
    }
    if auth.prompt.as_deref() != Some("login") {
        if let Some((user, auth_time)) = session_user(&req.ctx, req).await {
            return finish(req, &auth, &user, auth_time).await;
        }
    }
    if auth.prompt.as_deref() == Some("none") {
        let mut p = vec![("error", "login_required")];
        if let Some(s) = &auth.state {
            p.push(("state", s.as_str()));
        }
        return redirect(&back_to(&auth.redirect_uri, auth.response_type == "token", &p));
    }
    redirect(&req.site.url(&format!("/login?{}", auth.query)))
}
