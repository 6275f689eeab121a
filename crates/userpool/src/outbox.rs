//! The outbox: every message a user would have received, by email or SMS, rendered from
//! the pool's templates as Cognito renders them, and kept (its body sealed) for tests to
//! read: with `userpool outbox` on the command line, or over HTTP with credentials that may
//! read the user (`GET /_userpool/outbox/<poolId>?username=…`, SigV4-signed, allowed
//! `cognito-idp:AdminGetUser` on the pool). With `--smtp-url`, email also goes to a real
//! SMTP server (Mailpit, MailHog, a company relay). It is the port through which messages
//! leave: operations call [`deliver`] and never know where a message goes.
//!
//! Templates (the API reference of each member; the texts marked default are the
//! console's defaults, inferred as what the service sends when a member is unset):
//! - sign-up, resend and attribute verification codes: `VerificationMessageTemplate`
//!   (`EmailMessage`, `EmailSubject`, `SmsMessage`), else the older
//!   `EmailVerificationMessage` / `EmailVerificationSubject` / `SmsVerificationMessage`;
//!   default "Your verification code is {####}. ", subject "Your verification code";
//! - forgotten-password and admin-reset codes: the same verification templates;
//! - invitations: `AdminCreateUserConfig.InviteMessageTemplate` with `{username}` and
//!   `{####}` (the temporary password); default "Your username is {username} and
//!   temporary password is {####}. ", subject "Your temporary password";
//! - MFA: `SmsAuthenticationMessage` (default "Your authentication code is {####}. ") and
//!   the email MFA `Message` / `Subject` (default "Your authentication code is {####}. ",
//!   "Your authentication code").
//!
//! The sender is `EmailConfiguration.From`, else Cognito's own
//! `no-reply@verificationemail.com`.

use crate::app::Ctx;
use crate::error::OpResult;
use crate::ops::users;
use userpool_model::types::UserPoolType;
use userpool_store::{MessageRecord, UserRecord};

/// How long a message stays in the outbox.
const KEEP_MS: i64 = 7 * 86_400_000;
/// Cognito's sender when the pool has none of its own.
const DEFAULT_FROM: &str = "no-reply@verificationemail.com";

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A code to confirm a sign-up, reset a password or verify an attribute.
    Verification,
    /// An invitation with a temporary password (AdminCreateUser).
    Invitation,
    /// A second-factor code.
    Mfa,
}

/// A rendered message.
struct Rendered {
    subject: Option<String>,
    body: String,
}

fn fill(template: &str, code: &str, username: &str) -> String {
    template.replace("{####}", code).replace("{username}", username)
}

fn render(
    pool: &UserPoolType,
    mfa: &crate::ops::user_pools::PoolMfa,
    kind: Kind,
    email: bool,
    code: &str,
    username: &str,
) -> Rendered {
    let (body, subject) = match kind {
        Kind::Verification => {
            let t = pool.verification_message_template.clone().unwrap_or_default();
            if email {
                (
                    t.email_message
                        .or_else(|| pool.email_verification_message.clone())
                        .unwrap_or_else(|| "Your verification code is {####}. ".into()),
                    Some(
                        t.email_subject
                            .or_else(|| pool.email_verification_subject.clone())
                            .unwrap_or_else(|| "Your verification code".into()),
                    ),
                )
            } else {
                (
                    t.sms_message
                        .or_else(|| pool.sms_verification_message.clone())
                        .unwrap_or_else(|| "Your verification code is {####}. ".into()),
                    None,
                )
            }
        }
        Kind::Invitation => {
            let t = pool
                .admin_create_user_config
                .as_ref()
                .and_then(|c| c.invite_message_template.clone())
                .unwrap_or_default();
            let default = "Your username is {username} and temporary password is {####}. ";
            if email {
                (
                    t.email_message.unwrap_or_else(|| default.into()),
                    Some(t.email_subject.unwrap_or_else(|| "Your temporary password".into())),
                )
            } else {
                (t.sms_message.unwrap_or_else(|| default.into()), None)
            }
        }
        Kind::Mfa => {
            let default = "Your authentication code is {####}. ";
            if email {
                let e = mfa.email.clone().unwrap_or_default();
                (
                    e.message.unwrap_or_else(|| default.into()),
                    Some(e.subject.unwrap_or_else(|| "Your authentication code".into())),
                )
            } else {
                (
                    mfa.sms
                        .as_ref()
                        .and_then(|s| s.sms_authentication_message.clone())
                        .or_else(|| pool.sms_authentication_message.clone())
                        .unwrap_or_else(|| default.into()),
                    None,
                )
            }
        }
    };
    Rendered {
        subject: subject.map(|s| fill(&s, code, username)),
        body: fill(&body, code, username),
    }
}

/// Sends (keeps, and mails when SMTP is configured) the message of `kind` carrying
/// `secret` to the user's `attribute` (`email` or `phone_number`); `label` is what the
/// outbox calls it (`signup`, `invitation`, `mfa:SMS_MFA`...) and `source` what a
/// CustomMessage trigger is told (`SignUp`, `AdminCreateUser`...): its answer, when the
/// pool has one, replaces the template. A user without that attribute gets nothing.
pub async fn deliver(
    ctx: &Ctx,
    user: &UserRecord,
    kind: Kind,
    (label, source): (&str, &str),
    attribute: &str,
    secret: &str,
) -> OpResult<()> {
    let Some(to) = users::attr(user, attribute).map(str::to_string) else {
        return Ok(());
    };
    let pool = users::load(ctx, &user.pool_id).await?;
    let email = attribute == "email";
    let m = match crate::triggers::message::custom_message(ctx, &pool, user, source, email).await? {
        Some(custom) => {
            let template = render(pool.settings(), &pool.mfa(), kind, email, secret, &user.username);
            Rendered {
                subject: custom
                    .subject
                    .map(|s| fill(&s, secret, &user.username))
                    .or(template.subject),
                body: fill(&custom.body, secret, &user.username),
            }
        }
        None => render(pool.settings(), &pool.mfa(), kind, email, secret, &user.username),
    };
    keep_and_mail(ctx, &pool, user, label, &to, email, m, None).await
}

/// Sends a message already written (threat protection's sign-in notification) to the
/// user's email: kept in the outbox, and mailed when SMTP is configured; `from` is the
/// sender its configuration names, else the pool's. A user without an email gets nothing.
pub async fn deliver_notice(
    ctx: &Ctx,
    user: &UserRecord,
    label: &str,
    from: Option<&str>,
    subject: String,
    body: String,
) -> OpResult<()> {
    let Some(to) = users::attr(user, "email").map(str::to_string) else {
        return Ok(());
    };
    let pool = users::load(ctx, &user.pool_id).await?;
    let m = Rendered {
        subject: Some(subject),
        body,
    };
    keep_and_mail(ctx, &pool, user, label, &to, true, m, from).await
}

/// Keeps a rendered message in the outbox and, for an email with `--smtp-url`, mails it;
/// a message that cannot be mailed is the pool's `userNotification` log event (ERROR).
#[allow(clippy::too_many_arguments, reason = "one message's facts, each used once")]
async fn keep_and_mail(
    ctx: &Ctx,
    pool: &users::Pool,
    user: &UserRecord,
    label: &str,
    to: &str,
    email: bool,
    m: Rendered,
    from: Option<&str>,
) -> OpResult<()> {
    ctx.store()
        .put_message(&MessageRecord {
            id: 0,
            pool_id: user.pool_id.clone(),
            username_key: user.username_key.clone(),
            username: user.username.clone(),
            channel: if email { "EMAIL" } else { "SMS" }.into(),
            destination: to.to_string(),
            subject: m.subject.clone(),
            sealed_body: ctx.app.sealer.seal(m.body.as_bytes()),
            kind: label.to_string(),
            created_ms: ctx.now_ms,
            expires_ms: ctx.now_ms + KEEP_MS,
        })
        .await?;
    if let (true, Some(mailer)) = (email, &ctx.app.mailer) {
        let from = from.map(str::to_string).unwrap_or_else(|| {
            pool.settings()
                .email_configuration
                .as_ref()
                .and_then(|c| c.from.clone())
                .unwrap_or_else(|| DEFAULT_FROM.into())
        });
        let failure = crate::ops::log_delivery::sink(
            ctx,
            pool.id(),
            userpool_model::types::EventSourceName::Usernotification,
            userpool_model::types::LogLevel::Error,
        )
        .await
        .map(|sink| Failure {
            sink,
            username: user.username.clone(),
            kind: label.to_string(),
        });
        mailer.send(from, to.to_string(), m.subject.unwrap_or_default(), m.body, failure);
    }
    Ok(())
}

/// Where a message that cannot be mailed is reported: the pool's `userNotification` log.
pub struct Failure {
    sink: crate::ops::log_delivery::Sink,
    username: String,
    kind: String,
}

impl Failure {
    async fn report(&self, details: &str) {
        self.sink
            .write(
                crate::clock::now_ms(),
                userpool_model::types::LogLevel::Error,
                serde_json::json!({
                    "details": format!("Email message failed to send: {details}"),
                    "deliveryMedium": "EMAIL",
                    "userName": self.username,
                    "messageKind": self.kind,
                }),
            )
            .await;
    }
}

/// A message as `userpool outbox` and the HTTP endpoint show it.
pub fn view(sealer: &crate::seal::Sealer, m: &MessageRecord) -> serde_json::Value {
    let body = sealer
        .open(&m.sealed_body)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    serde_json::json!({
        "id": m.id, "username": m.username, "kind": m.kind, "channel": m.channel,
        "destination": m.destination, "subject": m.subject, "body": body,
        "sentAt": m.created_ms / 1000,
    })
}

/// Messages in flight to the SMTP server at most.
const MAX_IN_FLIGHT: usize = 64;

/// Email through a real SMTP server (`--smtp-url smtp://host:port`), with `lettre`: plain
/// SMTP on the given port, as local relays (Mailpit, MailHog) and test listeners speak it.
/// Sending happens in the background; a failure is logged, never answered to the API
/// caller (the outbox has the message either way).
pub struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    /// At most this many messages in flight to the SMTP server; past it a message is not
    /// mailed (the outbox has it), so a slow server cannot pile up tasks and sockets.
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer")
    }
}

impl Mailer {
    /// A mailer for `smtp://host[:port]` (port 25 when none is given).
    pub fn new(url: &str) -> Result<Mailer, String> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| format!("--smtp-url {url}: only smtp://host[:port] is supported"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("--smtp-url {url}: bad port"))?),
            None => (rest, 25),
        };
        if host.is_empty() {
            return Err(format!("--smtp-url {url}: no host"));
        }
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .build();
        Ok(Mailer {
            transport,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// Sends in the background; a failure is logged, and reported to `failure` if given.
    pub fn send(&self, from: String, to: String, subject: String, body: String, failure: Option<Failure>) {
        use lettre::AsyncTransport as _;
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::warn!("MB0004 not mailed: {MAX_IN_FLIGHT} messages already in flight (the outbox has it)");
            if let Some(f) = failure {
                tokio::spawn(async move { f.report("too many messages in flight").await });
            }
            return;
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let report = |details: &str| {
                let details = details.to_string();
                let failure = &failure;
                async move {
                    if let Some(f) = failure {
                        f.report(&details).await;
                    }
                }
            };
            let message = match (from.parse(), to.parse()) {
                (Ok(f), Ok(t)) => lettre::Message::builder().from(f).to(t).subject(subject).body(body),
                _ => {
                    tracing::warn!("MB0001 not mailed: the sender or recipient is not an email address");
                    report("the sender or recipient is not an email address").await;
                    return;
                }
            };
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "MB0002 not mailed: the message could not be built");
                    report(&e.to_string()).await;
                    return;
                }
            };
            if let Err(e) = transport.send(message).await {
                tracing::warn!(error = %e, "MB0003 SMTP delivery failed (the outbox has the message)");
                report(&e.to_string()).await;
            }
        });
    }
}
