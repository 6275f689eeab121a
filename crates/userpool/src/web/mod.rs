//! The hosted pages and the OAuth 2.0 / OpenID Connect endpoints of a pool's domain: a
//! layer beside the API (ARCHITECTURE: kanidm's `https/views`), calling the same sign-in
//! steps (`ops::sign_in`), so each rule has one implementation.
//!
//! A domain is reached on the API's port in two forms:
//! - by host name: `http://<prefix>.auth.<region>.localhost:<port>/...` (browsers resolve
//!   `*.localhost` to the loopback address), or a custom domain's name;
//! - by path, with any host: `<public URL>/<domain>/...` (`http://127.0.0.1:9229/myapp/oauth2/authorize`).
//!   A domain never holds `_` and a pool id always does, so `/<poolId>/.well-known/...`
//!   and `/<domain>/...` never meet.
//!
//! | path | file |
//! |---|---|
//! | `GET /oauth2/authorize` | [`authorize`] |
//! | `GET /oauth2/authorize?identity_provider=`, `GET /oauth2/idpresponse` | [`federation`] |
//! | `GET, POST /login`, `POST /changePassword`, `POST /mfa`, `GET /logout`, `GET /error` | [`login`] |
//! | `GET, POST /signup`, `POST /confirm`, `GET, POST /forgotPassword`, `POST /confirmForgotPassword` | [`account`] |
//! | `POST /oauth2/token`, `GET, POST /oauth2/userInfo`, `POST /oauth2/revoke` | [`token`] |
//!
//! Beside the domains, on the API's host: `PUT /_userpool/import/<poolId>/<jobId>` takes
//! a user import job's CSV file through its PreSignedUrl ([`import`]).
//!
//! Errors: the token, userInfo and revocation endpoints answer OAuth's JSON
//! (`{"error":"invalid_grant"}`); the browser endpoints redirect to the client's
//! `redirect_uri` with `?error=` when it is a registered one, and otherwise answer an
//! error page (Cognito's `/error?error=redirect_mismatch`).

pub mod account;
pub mod authorize;
pub mod federation;
pub mod import;
pub mod login;
pub mod token;

use crate::app::{App, Ctx};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use std::sync::Arc;
use userpool_store::ObjectKind;

/// A page or endpoint's answer.
pub type Reply = Response<Full<Bytes>>;

/// The domain a request came to, and how to name its URLs.
#[derive(Debug, Clone)]
pub struct Site {
    /// The domain (`myapp`, `auth.example.com`).
    pub domain: String,
    /// The pool it belongs to.
    pub pool_id: String,
    /// The URL the domain's paths hang from, without a trailing slash
    /// (`http://myapp.auth.us-east-1.localhost:9229` or `http://127.0.0.1:9229/myapp`).
    pub base: String,
    /// The cookie path (`/` or `/myapp`).
    pub cookie_path: String,
    /// The domain's ManagedLoginVersion: 1 shows the classic hosted UI's branding
    /// (SetUICustomization), 2 the clients' managed login branding styles.
    pub managed_login_version: i32,
}

impl Site {
    /// An absolute URL of this domain.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The domain's URL in the path form, for the discovery document.
pub fn path_form_base(app: &App, domain: &str) -> String {
    format!("{}/{domain}", app.config.public_url)
}

/// The paths a domain serves: only requests for these look a domain up (one store read),
/// so no other request pays for it.
fn is_web_path(p: &str) -> bool {
    p.starts_with("/oauth2/")
        || matches!(
            p,
            "/login"
                | "/logout"
                | "/error"
                | "/mfa"
                | "/changePassword"
                | "/signup"
                | "/confirm"
                | "/forgotPassword"
                | "/confirmForgotPassword"
        )
}

/// The request's domain and the path below it, when it is addressed to one.
pub async fn site(app: &App, host: Option<&str>, path: &str) -> Option<(Site, String)> {
    let host = host.unwrap_or_default();
    let (bare, port) = host.rsplit_once(':').map_or((host, ""), |(h, p)| (h, p));
    // A host with anything but digits after its colon is not taken (it would reach the
    // pages' URLs).
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bare = bare.to_ascii_lowercase();
    let ip_literal = bare.parse::<std::net::IpAddr>().is_ok() || bare.starts_with('[');
    // `<prefix>.auth.<region>.localhost`, for any region (the pool's, checked below).
    let prefix_form = bare
        .strip_suffix(".localhost")
        .and_then(|h| h.rsplit_once(".auth."))
        .filter(|(prefix, region)| !prefix.is_empty() && !prefix.contains('.') && crate::ids::is_region(region));
    let host_region = prefix_form.map(|(_, region)| region.to_string());
    let by_host = match prefix_form {
        Some((prefix, _)) => Some(prefix.to_string()),
        // A custom domain, when the host is a name other than this server's own.
        _ if bare.contains('.') && !ip_literal && !app.config.public_host().starts_with(&bare) => Some(bare.clone()),
        _ => None,
    };
    if let Some(domain) = by_host.filter(|_| is_web_path(path)) {
        let found = app.store.get_object(ObjectKind::Domain, "", &domain).await;
        let region_ok = |pool: &str| {
            host_region
                .as_deref()
                .is_none_or(|r| crate::ids::region_of(pool) == Some(r))
        };
        if let Ok(Some(o)) = found.map(|o| o.filter(|o| region_ok(&o.pool_id))) {
            return Some((
                Site {
                    domain,
                    managed_login_version: crate::ops::domains::managed_login_version_of(&o),
                    pool_id: o.pool_id,
                    base: format!("http://{host}"),
                    cookie_path: "/".into(),
                },
                path.to_string(),
            ));
        }
    }
    let rest = path.strip_prefix('/')?;
    let (first, below) = rest.split_once('/').map_or((rest, ""), |(f, b)| (f, b));
    let below = format!("/{below}");
    if first.is_empty() || first.contains('_') || !is_web_path(&below) {
        return None;
    }
    let o = app.store.get_object(ObjectKind::Domain, "", first).await.ok()??;
    Some((
        Site {
            domain: first.to_string(),
            managed_login_version: crate::ops::domains::managed_login_version_of(&o),
            pool_id: o.pool_id,
            base: format!("{}/{first}", app.config.public_url),
            cookie_path: format!("/{first}"),
        },
        below,
    ))
}

/// What a page handler gets: the request's context, its domain, its query and form.
pub struct Request<'a> {
    /// The request's context (`hosted` set).
    pub ctx: Ctx,
    /// The domain.
    pub site: &'a Site,
    /// GET, POST.
    pub method: &'a http::Method,
    /// The query's pairs.
    pub query: Vec<(String, String)>,
    /// The form body's pairs (POST).
    pub form: Vec<(String, String)>,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
}

impl Request<'_> {
    /// A query parameter (the first of its name).
    pub fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// A form field (the first of its name).
    pub fn form(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

/// The first value of `name` in `pairs`.
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `application/x-www-form-urlencoded` pairs.
pub fn pairs(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

/// Serves a request to a domain.
pub async fn serve(app: Arc<App>, req: Request<'_>, path: &str) -> Reply {
    use http::Method;
    match (req.method, path) {
        (&Method::GET, "/oauth2/authorize") => authorize::authorize(&req).await,
        (&Method::GET, "/oauth2/idpresponse") => federation::idp_response(&req).await,
        (&Method::GET | &Method::POST, "/login") => login::login(&req).await,
        (&Method::POST, "/changePassword" | "/mfa") => login::challenge(&req, path).await,
        (&Method::GET, "/logout") => login::logout(&req).await,
        (&Method::GET | &Method::POST, "/signup") => account::signup(&req).await,
        (&Method::POST, "/confirm") => account::confirm(&req).await,
        (&Method::GET | &Method::POST, "/forgotPassword") => account::forgot(&req).await,
        (&Method::POST, "/confirmForgotPassword") => account::confirm_forgot(&req).await,
        (&Method::GET, "/error") => login::error_page(&req),
        (&Method::POST, "/oauth2/token") => token::token(&req).await,
        (&Method::GET | &Method::POST, "/oauth2/userInfo") => token::user_info(&req).await,
        (&Method::POST, "/oauth2/revoke") => token::revoke(&req).await,
        _ => {
            drop(app);
            json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "This URL doesn't exist on the authorization server."}),
            )
        }
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

/// An empty answer.
pub fn empty(status: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

/// An HTML page.
pub fn html(status: StatusCode, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The pages run no script and are never framed.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; form-action 'self' http: https:; frame-ancestors 'none'"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// A 302 to `location`.
pub fn redirect(location: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r.headers_mut()
        .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Adds a `Set-Cookie` (HttpOnly, SameSite=Lax, the site's path; `max_age` 0 clears it).
pub fn set_cookie(r: &mut Reply, site: &Site, name: &str, value: &str, max_age: i64) {
    let c = format!(
        "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        site.cookie_path
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(http::header::SET_COOKIE, v);
    }
}
