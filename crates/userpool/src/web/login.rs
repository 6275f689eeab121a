//! The hosted pages: sign-in (`/login`), the challenges a sign-in can meet there (a new
//! password for a user created with a temporary one, `/changePassword`; an MFA code,
//! `/mfa`), sign-out (`/logout`) and the error page (`/error`).
//!
//! Plain HTML forms that need no JavaScript. Each form carries a CSRF token derived with
//! the data key from the `XSRF-TOKEN` cookie set with the page (a signed double submit; the
//! cookie is HttpOnly and SameSite=Lax), and the authorization request's query, checked
//! again on every POST. A challenge's state is the API's own sealed Session, in a hidden field: the
//! pages run the same sign-in steps as InitiateAuth and RespondToAuthChallenge.

use super::authorize::{self, AuthRequest, SESSION_COOKIE};
use super::{html, redirect, Reply, Request};
use crate::ops::app_clients;
use crate::ops::sign_in::{self, Outcome};
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::StatusCode;
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;

/// The CSRF cookie (its value is also the form's `_csrf`).
const CSRF_COOKIE: &str = "XSRF-TOKEN";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    look: &'a Look,
    action: String,
    csrf: &'a str,
    username: &'a str,
    notice: Option<String>,
    error: Option<String>,
    forgot: String,
    signup: Option<String>,
}

/// A field of a [`FormPage`].
pub(super) struct Field {
    /// The input's name (and id).
    pub name: String,
    /// Its label.
    pub label: String,
    /// `text`, `password`, `email`, `tel`.
    pub kind: &'static str,
    /// Its `autocomplete`.
    pub autocomplete: &'static str,
    /// What it shows (kept after a refusal; never a password).
    pub value: String,
}

/// Every other page: a heading, hidden state, fields, a button, links.
#[derive(Template)]
#[template(path = "form.html")]
pub(super) struct FormPage<'a> {
    pub look: &'a Look,
    pub action: String,
    pub csrf: &'a str,
    pub heading: &'a str,
    pub description: &'a str,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub error_id: &'a str,
    pub hidden: Vec<(String, String)>,
    pub fields: Vec<Field>,
    pub button: &'a str,
    pub links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    look: &'a Look,
    message: &'a str,
}

pub(super) fn render(page: &impl Template) -> String {
    page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "IE0040 a hosted page did not render");
        "An error was encountered with the requested page.".to_string()
    })
}

/// The request's CSRF token, or a fresh one (then set as a cookie with the page).
/// A page's CSRF pair: the cookie's random value, and the form's token derived from it
/// with the data key (so a cookie planted by another site on this host, which shares
/// cookies across ports, is useless without a token only this server can compute).
pub(super) struct Csrf {
    cookie: String,
    /// The form's `_csrf`.
    pub form: String,
    fresh: bool,
}

fn csrf_token(req: &Request<'_>, cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(req.ctx.app.sealer.derive(format!("csrf\0{cookie}").as_bytes()))
}

/// The request's CSRF cookie, or a fresh one (set with the page), and its form token.
pub(super) fn csrf(req: &Request<'_>) -> Csrf {
    let (cookie, fresh) = match req.cookie(CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => (c, false),
        None => (URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()), true),
    };
    Csrf {
        form: csrf_token(req, &cookie),
        cookie,
        fresh,
    }
}

pub(super) fn csrf_ok(req: &Request<'_>) -> bool {
    match (req.cookie(CSRF_COOKIE), req.form("_csrf")) {
        (Some(c), Some(f)) if c.len() >= 32 => userpool_sigv4::ct_eq(csrf_token(req, &c).as_bytes(), f.as_bytes()),
        _ => false,
    }
}

pub(super) fn page(req: &Request<'_>, status: StatusCode, body: String, csrf: &Csrf) -> Reply {
    let mut r = html(status, body);
    if csrf.fresh {
        super::set_cookie(&mut r, req.site, CSRF_COOKIE, &csrf.cookie, 3_600);
    }
    r
}

/// What every page shows of its pool and client: the pool's name, and the look of the
/// domain's branding version: the client's (else the pool's) SetUICustomization branding
/// on a classic hosted UI domain (ManagedLoginVersion 1), the client's managed login
/// branding style on a managed login domain (2).
#[derive(Default)]
pub struct Look {
    /// The pool's name, in the banner.
    pub pool_name: String,
    /// The page's CSS: the classic branding's (allowed classes only: `ops::ui` checked
    /// it), or the one a branding style gives (`ops::branding::page_look`).
    pub css: String,
    /// The logo, as a `data:` URL.
    pub logo: Option<String>,
    /// The dark-mode logo, as a `data:` URL, when the page follows the browser's scheme.
    pub logo_dark: Option<String>,
    /// The favicon, as a `data:` URL.
    pub favicon: Option<String>,
}

/// The look of the pages of `client_id`; on a managed login domain, a client without a
/// branding style gets Cognito's "Login pages unavailable" page instead.
pub(super) async fn look(req: &Request<'_>, client_id: Option<&str>) -> Result<Look, Reply> {
    let pool_name = crate::ops::users::load(&req.ctx, &req.site.pool_id)
        .await
        .map(|p| p.record().name.clone())
        .unwrap_or_default();
    if req.site.managed_login_version == 2 {
        let style = match client_id {
            Some(c) => crate::ops::branding::style_of_client(&req.ctx, &req.site.pool_id, c).await,
            None => Ok(None),
        };
        return match style {
            Ok(Some((_, style))) => {
                let l = crate::ops::branding::page_look(&style);
                Ok(Look {
                    pool_name,
                    css: l.css,
                    logo: l.logo,
                    logo_dark: l.logo_dark,
                    favicon: l.favicon,
                })
            }
            Ok(None) => Err(error_reply(req, StatusCode::BAD_REQUEST, "Login pages unavailable")),
            Err(_) => Err(error_reply(
                req,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )),
        };
    }
    let branding = match crate::ops::ui::branding(&req.ctx, &req.site.pool_id, client_id.unwrap_or("ALL")).await {
        Ok(Some(o)) => crate::ops::domains::decode::<crate::ops::ui::Branding>(&o).unwrap_or_default(),
        _ => crate::ops::ui::Branding::default(),
    };
    Ok(Look {
        pool_name,
        css: branding.css.clone().unwrap_or_default(),
        logo: branding.logo_data_url(),
        ..Look::default()
    })
}

pub(super) fn error_reply(_req: &Request<'_>, status: StatusCode, message: &str) -> Reply {
    let look = Look::default();
    html(status, render(&ErrorPage { look: &look, message }))
}

/// The sign-in form (`notice`: what a finished sign-up or reset says).
pub(super) async fn login_page(
    req: &Request<'_>,
    auth: &AuthRequest,
    username: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Reply {
    let token = csrf(req);
    let look = match look(req, Some(auth.client.id())).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let signup_allowed = crate::ops::users::load(&req.ctx, &req.site.pool_id)
        .await
        .map(|p| {
            p.settings()
                .admin_create_user_config
                .as_ref()
                .and_then(|c| c.allow_admin_create_user_only)
                != Some(true)
        })
        .unwrap_or(false);
    let body = render(&LoginPage {
        look: &look,
        action: req.site.url(&format!("/login?{}", auth.query)),
        csrf: &token.form,
        username,
        notice,
        error,
        forgot: req.site.url(&format!("/forgotPassword?{}", auth.query)),
        signup: signup_allowed.then(|| req.site.url(&format!("/signup?{}", auth.query))),
    });
    page(req, StatusCode::OK, body, &token)
}

/// What each challenge page asks.
struct Ask {
    path: &'static str,
    heading: &'static str,
    description: &'static str,
    field: &'static str,
    label: &'static str,
    input_type: &'static str,
    autocomplete: &'static str,
    button: &'static str,
    /// The ChallengeResponses key the field answers.
    key: &'static str,
}

fn ask(challenge: ChallengeNameType) -> Option<Ask> {
    let mfa = |description, key| Ask {
        path: "/mfa",
        heading: "Multi-factor authentication",
        description,
        field: "authentication_code",
        label: "Code",
        input_type: "text",
        autocomplete: "one-time-code",
        button: "Sign in",
        key,
    };
    match challenge {
        ChallengeNameType::NewPasswordRequired => Some(Ask {
            path: "/changePassword",
            heading: "Change Password",
            description: "Please enter a new password.",
            field: "new_password",
            label: "New Password",
            input_type: "password",
            autocomplete: "new-password",
            button: "Send",
            key: "NEW_PASSWORD",
        }),
        ChallengeNameType::SoftwareTokenMfa => Some(mfa(
            "Enter the code from your authenticator app.",
            "SOFTWARE_TOKEN_MFA_CODE",
        )),
        ChallengeNameType::SmsMfa => Some(mfa("Enter the code sent to your phone.", "SMS_MFA_CODE")),
        ChallengeNameType::EmailOtp => Some(mfa("Enter the code sent to your email address.", "EMAIL_OTP_CODE")),
        _ => None,
    }
}

async fn challenge_page(
    req: &Request<'_>,
    auth: &AuthRequest,
    challenge: ChallengeNameType,
    session: &str,
    username: &str,
    error: Option<String>,
) -> Reply {
    let Some(a) = ask(challenge) else {
        // MFA set-up and the other challenges are answered through the API only.
        return error_reply(
            req,
            StatusCode::BAD_REQUEST,
            &format!(
                "The sign-in needs {}, which the hosted pages do not offer.",
                challenge.as_str()
            ),
        );
    };
    let token = csrf(req);
    let look = match look(req, Some(auth.client.id())).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = render(&FormPage {
        look: &look,
        action: req.site.url(&format!("{}?{}", a.path, auth.query)),
        csrf: &token.form,
        heading: a.heading,
        description: a.description,
        notice: None,
        error,
        error_id: "challengeErrorMessage",
        hidden: vec![
            ("session".into(), session.to_string()),
            ("challenge".into(), challenge.as_str().to_string()),
            ("username".into(), username.to_string()),
        ],
        fields: vec![Field {
            name: a.field.into(),
            label: a.label.into(),
            kind: a.input_type,
            autocomplete: a.autocomplete,
            value: String::new(),
        }],
        button: a.button,
        links: Vec::new(),
    });
    page(req, StatusCode::OK, body, &token)
}

/// What follows a step: the next challenge's page, or the browser back to the client.
pub(super) async fn next(req: &Request<'_>, auth: &AuthRequest, outcome: Outcome, typed: &str) -> Reply {
    if let Some(user) = outcome.signed_in {
        return authorize::finish(req, auth, &user, req.ctx.now_ms.div_euclid(1000)).await;
    }
    let params = outcome.challenge_parameters.unwrap_or_default();
    let username = params
        .get("USERNAME")
        .or_else(|| params.get("USER_ID_FOR_SRP"))
        .map_or(typed, String::as_str);
    match (outcome.challenge_name, outcome.session) {
        (Some(c), Some(session)) => challenge_page(req, auth, c, &session, username, None).await,
        _ => error_reply(req, StatusCode::BAD_REQUEST, "The sign-in cannot go on here."),
    }
}

pub(super) fn client_ctx(req: &Request<'_>, auth: &AuthRequest) -> crate::app::Ctx {
    crate::app::Ctx {
        hosted: true,
        ..req.ctx.with_client(Some(auth.client.id()), None)
    }
}

/// `GET /login`: the sign-in form. `POST /login`: the username and password.
pub async fn login(req: &Request<'_>) -> Reply {
    let auth = match authorize::check(&req.ctx, req.site, &req.query).await {
        Ok(a) => a,
        Err(r) => return r.reply(req.site, req.query("client_id")),
    };
    if !authorize::allows_cognito(&auth) {
        return error_reply(
            req,
            StatusCode::BAD_REQUEST,
            "This client does not sign in users of the pool here.",
        );
    }
    if req.method == http::Method::GET {
        return login_page(req, &auth, "", None, None).await;
    }
    if !csrf_ok(req) {
        return error_reply(
            req,
            StatusCode::FORBIDDEN,
            "The form has expired: reload the page and try again.",
        );
    }
    let username = req.form("username").unwrap_or_default().trim().to_string();
    let password = req.form("password").unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return login_page(
            req,
            &auth,
            &username,
            None,
            Some("Username and password are required.".into()),
        )
        .await;
    }
    let ctx = client_ctx(req, &auth);
    match sign_in::hosted_password(&ctx, &auth.client, &username, password).await {
        Ok(outcome) => next(req, &auth, outcome, &username).await,
        Err(e) => login_page(req, &auth, &username, None, Some(e.message)).await,
    }
}

/// `POST /changePassword`, `POST /mfa`: an answer to the sign-in's challenge.
pub async fn challenge(req: &Request<'_>, path: &str) -> Reply {
    let auth = match authorize::check(&req.ctx, req.site, &req.query).await {
        Ok(a) => a,
        Err(r) => return r.reply(req.site, req.query("client_id")),
    };
    if !csrf_ok(req) {
        return error_reply(
            req,
            StatusCode::FORBIDDEN,
            "The form has expired: reload the page and try again.",
        );
    }
    let challenge = req
        .form("challenge")
        .and_then(|c| serde_json::from_value::<ChallengeNameType>(serde_json::Value::String(c.to_string())).ok());
    let (Some(challenge), Some(session)) = (challenge, req.form("session")) else {
        return error_reply(req, StatusCode::BAD_REQUEST, "The sign-in has expired: start again.");
    };
    let Some(a) = ask(challenge).filter(|a| a.path == path) else {
        return error_reply(req, StatusCode::BAD_REQUEST, "The sign-in has expired: start again.");
    };
    let username = req.form("username").unwrap_or_default();
    let answer = req.form(a.field).unwrap_or_default();
    let responses = HashMap::from([
        ("USERNAME".to_string(), username.to_string()),
        (a.key.to_string(), answer.to_string()),
    ]);
    let ctx = client_ctx(req, &auth);
    match sign_in::hosted_respond(&ctx, &auth.client, challenge, session, &responses).await {
        Ok(outcome) => next(req, &auth, outcome, username).await,
        Err(e) => challenge_page(req, &auth, challenge, session, username, Some(e.message)).await,
    }
}

/// `GET /logout`: ends the hosted session; then to `logout_uri` (one of the client's
/// LogoutURLs), or, with `redirect_uri` and `response_type`, to the sign-in page.
pub async fn logout(req: &Request<'_>) -> Reply {
    let client_id = req.query("client_id").unwrap_or_default();
    let client = match app_clients::find_client(&req.ctx, client_id).await {
        Ok(c) if c.record.pool_id == req.site.pool_id => c,
        _ => return redirect(&req.site.url("/error?error=invalid_request")),
    };
    let mut reply = if let Some(uri) = req.query("logout_uri") {
        if client
            .settings
            .logout_urls
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|u| u == uri)
        {
            redirect(uri)
        } else {
            redirect(&req.site.url(&format!(
                "/error?error=Required+String+parameter+%27redirect_uri%27+is+not+present&client_id={client_id}"
            )))
        }
    } else {
        match authorize::check(&req.ctx, req.site, &req.query).await {
            Ok(auth) => redirect(&req.site.url(&format!("/login?{}", auth.query))),
            Err(r) => r.reply(req.site, Some(client_id)),
        }
    };
    super::set_cookie(&mut reply, req.site, SESSION_COOKIE, "", 0);
    reply
}

/// `GET /error`: the page a request that cannot be sent back to its client ends on.
pub fn error_page(req: &Request<'_>) -> Reply {
    // Only the errors this server sends here are shown (no text of the caller's choosing).
    let message = match req.query("error") {
        Some("redirect_mismatch") => "redirect_mismatch",
        Some(e) if e.starts_with("Required String parameter") => {
            "Required String parameter 'redirect_uri' is not present"
        }
        _ => "invalid_request",
    };
    error_reply(req, StatusCode::BAD_REQUEST, message)
}
