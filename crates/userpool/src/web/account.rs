//! The hosted pages that make and mend accounts: sign-up (`/signup`), its code
//! (`/confirm`), and a forgotten password (`/forgotPassword`, `/confirmForgotPassword`).
//!
//! They call the same operations as the API (SignUp, ConfirmSignUp, ForgotPassword,
//! ConfirmForgotPassword), so the pool's rules (password policy, required attributes,
//! PreSignUp, PreventUserExistenceErrors, attempt limits, the codes and the outbox) hold
//! here as there. For a client with a secret the page computes the SECRET_HASH itself.
//!
//! Decided where Cognito's documentation is silent: a confirmed sign-up and a finished
//! reset return to the sign-in form with a notice (the password is not kept between
//! pages), except a sign-up that PreSignUp confirmed at once, which signs the user in.

use super::authorize::{self, AuthRequest};
use super::login::{self, Field, FormPage};
use super::{Reply, Request};
use crate::ops::{self_service, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::StatusCode;
use userpool_model::types::{
    AttributeType, ConfirmForgotPasswordRequest, ConfirmSignUpRequest, ForgotPasswordRequest, SignUpRequest,
    UsernameAttributeType,
};

/// " We have sent a code to a***@e***." (the masked destination), or nothing.
fn sent_to(details: Option<userpool_model::types::CodeDeliveryDetailsType>) -> String {
    details
        .and_then(|d| d.destination)
        .map_or_else(String::new, |d| format!(" We have sent a code to {d}."))
}

fn secret_hash(auth: &AuthRequest, username: &str) -> Option<String> {
    auth.client
        .secret
        .as_ref()
        .map(|s| STANDARD.encode(userpool_srp::secret_hash(s, username, auth.client.id())))
}

struct Form<'a> {
    path: &'a str,
    heading: &'a str,
    description: &'a str,
    button: &'a str,
    hidden: Vec<(String, String)>,
    fields: Vec<Field>,
    notice: Option<String>,
    error: Option<String>,
}

async fn show(req: &Request<'_>, auth: &AuthRequest, f: Form<'_>) -> Reply {
    let token = login::csrf(req);
    let look = match login::look(req, Some(auth.client.id())).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = login::render(&FormPage {
        look: &look,
        action: req.site.url(&format!("{}?{}", f.path, auth.query)),
        csrf: &token.form,
        heading: f.heading,
        description: f.description,
        notice: f.notice,
        error: f.error,
        error_id: "errorMessage",
        hidden: f.hidden,
        fields: f.fields,
        button: f.button,
        links: vec![(
            req.site.url(&format!("/login?{}", auth.query)),
            "Back to sign in".to_string(),
        )],
    });
    login::page(req, StatusCode::OK, body, &token)
}

fn field(name: &str, label: &str, kind: &'static str, autocomplete: &'static str, value: &str) -> Field {
    Field {
        name: name.into(),
        label: label.into(),
        kind,
        autocomplete,
        value: value.into(),
    }
}

/// The checks every POST of these pages makes: the authorization request, the CSRF token.
async fn begin(req: &Request<'_>) -> Result<AuthRequest, Reply> {
    let auth = match authorize::check(&req.ctx, req.site, &req.query).await {
        Ok(a) => a,
        Err(r) => return Err(r.reply(req.site, req.query("client_id"))),
    };
    if !authorize::allows_cognito(&auth) {
        return Err(login::error_reply(
            req,
            StatusCode::BAD_REQUEST,
            "This client does not sign in users of the pool here.",
        ));
    }
    if req.method == http::Method::POST && !login::csrf_ok(req) {
        return Err(login::error_reply(
            req,
            StatusCode::FORBIDDEN,
            "The form has expired: reload the page and try again.",
        ));
    }
    Ok(auth)
}

/// The sign-up form's fields: the username (an email or phone number where the pool signs
/// in with those), each other required attribute and each attribute the pool verifies
/// (where its codes go), the password.
async fn signup_fields(req: &Request<'_>) -> Vec<Field> {
    let keep = |n: &str| req.form(n).unwrap_or_default().to_string();
    let Ok(pool) = users::load(&req.ctx, &req.site.pool_id).await else {
        return Vec::new();
    };
    let by_email = pool.username_attributes().contains(&UsernameAttributeType::Email);
    let by_phone = pool.username_attributes().contains(&UsernameAttributeType::PhoneNumber);
    let label = match (by_email, by_phone) {
        (true, true) => "Email or phone number",
        (true, false) => "Email",
        (false, true) => "Phone number",
        _ => "Username",
    };
    let mut fields = vec![field("username", label, "text", "username", &keep("username"))];
    let verified: Vec<&str> = pool
        .settings()
        .auto_verified_attributes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|a| a.as_str())
        .collect();
    for s in pool.settings().schema_attributes.as_deref().unwrap_or_default() {
        let Some(name) = s.name.as_deref() else { continue };
        let username_attr = (by_email && name == "email") || (by_phone && name == "phone_number");
        // Required attributes, and the address the pool sends its codes to.
        let asked = s.required == Some(true) || verified.contains(&name);
        if asked && name != "sub" && !username_attr {
            let (kind, auto) = match name {
                "email" => ("email", "email"),
                "phone_number" => ("tel", "tel"),
                _ => ("text", "on"),
            };
            fields.push(field(name, &name.replace('_', " "), kind, auto, &keep(name)));
        }
    }
    fields.push(field("password", "Password", "password", "new-password", ""));
    fields
}

/// `GET, POST /signup`
pub async fn signup(req: &Request<'_>) -> Reply {
    let auth = match begin(req).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let form = |error: Option<String>, fields: Vec<Field>| Form {
        path: "/signup",
        heading: "Sign up",
        description: "Sign up with a new account",
        button: "Sign up",
        hidden: Vec::new(),
        fields,
        notice: None,
        error,
    };
    if req.method == http::Method::GET {
        return show(req, &auth, form(None, signup_fields(req).await)).await;
    }
    let username = req.form("username").unwrap_or_default().trim().to_string();
    let password = req.form("password").unwrap_or_default().to_string();
    let fields = signup_fields(req).await;
    let attributes: Vec<AttributeType> = fields
        .iter()
        .filter(|f| f.name != "username" && f.name != "password")
        .filter_map(|f| {
            req.form(&f.name).map(|v| AttributeType {
                name: f.name.clone(),
                value: Some(v.trim().to_string()),
            })
        })
        .collect();
    let ctx = login::client_ctx(req, &auth);
    let request = SignUpRequest {
        client_id: auth.client.id().to_string(),
        secret_hash: secret_hash(&auth, &username),
        username: username.clone(),
        password: Some(password.clone()),
        user_attributes: Some(attributes),
        ..SignUpRequest::default()
    };
    match self_service::sign_up(&ctx, request).await {
        Ok(r) if r.user_confirmed => {
            match crate::ops::sign_in::hosted_password(&ctx, &auth.client, &username, &password).await {
                Ok(outcome) => login::next(req, &auth, outcome, &username).await,
                Err(e) => login::login_page(req, &auth, &username, None, Some(e.message)).await,
            }
        }
        Ok(r) => {
            let sent = sent_to(r.code_delivery_details);
            confirm_form(
                req,
                &auth,
                &username,
                Some(format!("Enter the code to confirm your account.{sent}")),
                None,
            )
            .await
        }
        Err(e) => show(req, &auth, form(Some(e.message), fields)).await,
    }
}

async fn confirm_form(
    req: &Request<'_>,
    auth: &AuthRequest,
    username: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Reply {
    show(
        req,
        auth,
        Form {
            path: "/confirm",
            heading: "Confirm your account",
            description: "Enter the code we sent you.",
            button: "Confirm account",
            hidden: vec![("username".into(), username.to_string())],
            fields: vec![field("code", "Verification code", "text", "one-time-code", "")],
            notice,
            error,
        },
    )
    .await
}

/// `POST /confirm`: the sign-up's code.
pub async fn confirm(req: &Request<'_>) -> Reply {
    let auth = match begin(req).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let username = req.form("username").unwrap_or_default().to_string();
    let code = req.form("code").unwrap_or_default().trim().to_string();
    let ctx = login::client_ctx(req, &auth);
    let request = ConfirmSignUpRequest {
        client_id: auth.client.id().to_string(),
        secret_hash: secret_hash(&auth, &username),
        username: username.clone(),
        confirmation_code: code,
        ..ConfirmSignUpRequest::default()
    };
    match self_service::confirm_sign_up(&ctx, request).await {
        Ok(_) => {
            login::login_page(
                req,
                &auth,
                &username,
                Some("Your account is confirmed: sign in.".into()),
                None,
            )
            .await
        }
        Err(e) => confirm_form(req, &auth, &username, None, Some(e.message)).await,
    }
}

/// `GET, POST /forgotPassword`
pub async fn forgot(req: &Request<'_>) -> Reply {
    let auth = match begin(req).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let form = |error: Option<String>, value: &str| Form {
        path: "/forgotPassword",
        heading: "Forgot your password?",
        description: "Enter your username and we will send you a code to reset your password.",
        button: "Reset my password",
        hidden: Vec::new(),
        fields: vec![field("username", "Username", "text", "username", value)],
        notice: None,
        error,
    };
    if req.method == http::Method::GET {
        return show(req, &auth, form(None, "")).await;
    }
    let username = req.form("username").unwrap_or_default().trim().to_string();
    let ctx = login::client_ctx(req, &auth);
    let request = ForgotPasswordRequest {
        client_id: auth.client.id().to_string(),
        secret_hash: secret_hash(&auth, &username),
        username: username.clone(),
        ..ForgotPasswordRequest::default()
    };
    match self_service::forgot_password(&ctx, request).await {
        Ok(r) => {
            let sent = sent_to(r.code_delivery_details);
            reset_form(
                req,
                &auth,
                &username,
                Some(format!("Enter the code and a new password.{sent}")),
                None,
            )
            .await
        }
        Err(e) => show(req, &auth, form(Some(e.message), &username)).await,
    }
}

async fn reset_form(
    req: &Request<'_>,
    auth: &AuthRequest,
    username: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Reply {
    show(
        req,
        auth,
        Form {
            path: "/confirmForgotPassword",
            heading: "Reset your password",
            description: "Enter the code we sent you and a new password.",
            button: "Change Password",
            hidden: vec![("username".into(), username.to_string())],
            fields: vec![
                field("code", "Code", "text", "one-time-code", ""),
                field("password", "New Password", "password", "new-password", ""),
            ],
            notice,
            error,
        },
    )
    .await
}

/// `POST /confirmForgotPassword`
pub async fn confirm_forgot(req: &Request<'_>) -> Reply {
    let auth = match begin(req).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let username = req.form("username").unwrap_or_default().to_string();
    let ctx = login::client_ctx(req, &auth);
    let request = ConfirmForgotPasswordRequest {
        client_id: auth.client.id().to_string(),
        secret_hash: secret_hash(&auth, &username),
        username: username.clone(),
        confirmation_code: req.form("code").unwrap_or_default().trim().to_string(),
        password: req.form("password").unwrap_or_default().to_string(),
        ..ConfirmForgotPasswordRequest::default()
    };
    match self_service::confirm_forgot_password(&ctx, request).await {
        Ok(_) => {
            login::login_page(
                req,
                &auth,
                &username,
                Some("Your password is changed: sign in with it.".into()),
                None,
            )
            .await
        }
        Err(e) => reset_form(req, &auth, &username, None, Some(e.message)).await,
    }
}
