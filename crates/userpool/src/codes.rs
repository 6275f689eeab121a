//! One-time codes (sign-up confirmation, password reset, attribute verification, SMS and
//! email MFA) and the temporary passwords of invitations. A code is kept sealed in the
//! store, where `userpool codes` reads it, and sent through the outbox
//! ([`crate::outbox`]), where `userpool outbox` reads the message as rendered. Sign-up,
//! reset and verification codes are also written to the log (short-lived, single-use
//! secrets meant for the developer); MFA codes and temporary passwords never are.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::outbox;
use rand::Rng as _;
use userpool_model::types::{CodeDeliveryDetailsType, DeliveryMediumType};
use userpool_model::ErrorCode;
use userpool_store::{CodeRecord, UserRecord};

/// How long a code lives: Cognito's confirmation codes are valid for 24 hours.
const CODE_TTL_MS: i64 = 24 * 3600 * 1000;

/// `a***@e***` / `+*******1234`, as Cognito masks a destination.
pub fn mask(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        format!("{}***@{}***", first(local), first(domain))
    } else {
        let n = value.chars().count();
        let tail: String = value.chars().skip(n.saturating_sub(4)).collect();
        format!("+{}{tail}", "*".repeat(n.saturating_sub(5)))
    }
}

fn attribute<'a>(user: &'a UserRecord, name: &str) -> Option<&'a str> {
    user.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Where a code for this user would go: email if they have one, else the phone.
pub fn delivery(user: &UserRecord, prefer: Option<&str>) -> Option<CodeDeliveryDetailsType> {
    fn pick<'a>(user: &'a UserRecord, name: &'a str) -> Option<(&'a str, &'a str)> {
        attribute(user, name).map(|v| (name, v))
    }
    let chosen = match prefer {
        Some(name) => pick(user, name),
        None => pick(user, "email").or_else(|| pick(user, "phone_number")),
    }?;
    Some(CodeDeliveryDetailsType {
        destination: Some(mask(chosen.1)),
        delivery_medium: Some(if chosen.0 == "email" {
            DeliveryMediumType::Email
        } else {
            DeliveryMediumType::Sms
        }),
        attribute_name: Some(chosen.0.to_string()),
    })
}

/// Issues a fresh six-digit code for `purpose`, logs it, stores it sealed, and sends it
/// (the outbox, [`crate::outbox`]) to where `to` names (`email` or `phone_number`);
/// refused past the per-user request limit ([`limits::CODE_REQUESTS_PER_WINDOW`]), so a
/// new code with fresh attempts cannot be had without end. `source` names the message for
/// a CustomMessage trigger (`SignUp`, `ResendCode`, `ForgotPassword`, ...).
pub async fn issue(
    ctx: &Ctx,
    user: &UserRecord,
    purpose: &str,
    to: Option<&CodeDeliveryDetailsType>,
    source: &str,
) -> OpResult<()> {
    limits::count(
        ctx,
        "code-request",
        &user.pool_id,
        &user.username_key,
        purpose,
        limits::CODE_REQUESTS_PER_WINDOW,
    )
    .await?;
    // USER_AUTH's sign-in codes (`otp:`) have eight digits, as Cognito's; the others six.
    let sign_in_code = purpose.starts_with("otp:");
    let code = if sign_in_code {
        format!("{:08}", rand::thread_rng().gen_range(0..100_000_000))
    } else {
        format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
    };
    if purpose.starts_with("mfa:") || sign_in_code || ctx.app.mailer.is_some() {
        // A second factor is never written to the log (whoever reads the log would pass
        // it), and no code is when real mail goes out (--smtp-url): it is in the outbox,
        // as a phone or mailbox would receive it.
        tracing::info!(pool = %user.pool_id, username = %user.username, purpose, "code sent (read it in the outbox)");
    } else {
        tracing::info!(
            pool = %user.pool_id, username = %user.username, purpose, code = %code,
            "one-time code (also in the outbox: `userpool codes`, `userpool outbox`)"
        );
    }
    let destination = to.and_then(|d| d.destination.as_deref()).unwrap_or_default();
    store_secret(ctx, user, purpose, &code, destination, CODE_TTL_MS).await?;
    if let Some(attribute) = to.and_then(|d| d.attribute_name.as_deref()) {
        let kind = if purpose.starts_with("mfa:") || sign_in_code {
            outbox::Kind::Mfa
        } else {
            outbox::Kind::Verification
        };
        outbox::deliver(ctx, user, kind, (purpose, source), attribute, &code).await?;
    }
    Ok(())
}

/// Keeps a temporary password (invitation) readable by `userpool codes`, never logged, and
/// sends the invitation to each of `mediums` the user has an address for (the outbox).
pub async fn keep_temporary_password(
    ctx: &Ctx,
    user: &UserRecord,
    password: &str,
    ttl_ms: i64,
    mediums: &[DeliveryMediumType],
) -> OpResult<()> {
    tracing::info!(pool = %user.pool_id, username = %user.username, "invitation with a temporary password (read it with `userpool codes` or `userpool outbox`)");
    store_secret(ctx, user, "temporary_password", password, "", ttl_ms).await?;
    for medium in mediums {
        let attribute = match medium {
            DeliveryMediumType::Email => "email",
            DeliveryMediumType::Sms => "phone_number",
        };
        outbox::deliver(
            ctx,
            user,
            outbox::Kind::Invitation,
            ("invitation", "AdminCreateUser"),
            attribute,
            password,
        )
        .await?;
    }
    Ok(())
}

async fn store_secret(
    ctx: &Ctx,
    user: &UserRecord,
    purpose: &str,
    secret: &str,
    destination: &str,
    ttl_ms: i64,
) -> OpResult<()> {
    ctx.store()
        .put_code(&CodeRecord {
            pool_id: user.pool_id.clone(),
            username_key: user.username_key.clone(),
            purpose: purpose.to_string(),
            sealed_code: ctx.app.sealer.seal(secret.as_bytes()),
            destination: destination.to_string(),
            expires_ms: ctx.now_ms + ttl_ms,
            attempts_left: limits::CODE_ATTEMPTS,
        })
        .await?;
    Ok(())
}

/// Voids the codes sent to an address that changed from `before`: the attribute's
/// verification code (`verify:email`, `verify:phone_number`), and the sign-up and
/// password-reset codes, which may have gone to it. A code proves the address it was sent
/// to, never one set after it (or VerifyUserAttribute would mark an address nobody
/// received a code at as verified, and an old mailbox could still reset the password).
pub async fn void_changed_verifications(ctx: &Ctx, user: &UserRecord, before: &[(String, String)]) -> OpResult<()> {
    let mut changed = false;
    for attr in ["email", "phone_number"] {
        let was = before.iter().find(|(n, _)| n == attr).map(|(_, v)| v.as_str());
        let now = user.attributes.iter().find(|(n, _)| n == attr).map(|(_, v)| v.as_str());
        if was != now {
            changed = true;
            ctx.store()
                .delete_code(&user.pool_id, &user.username_key, &format!("verify:{attr}"))
                .await?;
            // A sign-in code sent to the old address proves nothing of the new one.
            let sign_in = if attr == "email" {
                "otp:EMAIL_OTP"
            } else {
                "otp:SMS_OTP"
            };
            ctx.store()
                .delete_code(&user.pool_id, &user.username_key, sign_in)
                .await?;
        }
    }
    if changed {
        for purpose in ["signup", "forgot_password"] {
            ctx.store()
                .delete_code(&user.pool_id, &user.username_key, purpose)
                .await?;
        }
    }
    Ok(())
}

/// Checks and consumes a code. A guess first spends one of the code's attempts in one
/// store statement, so parallel guesses never check more than [`limits::CODE_ATTEMPTS`];
/// a right code is then taken (deleted) by one statement that succeeds once.
/// - a guess that spent an attempt then counts against the user's per-purpose window
///   ([`limits::GUESSES_PER_WINDOW`]) before it is compared (guesses refused without
///   spending an attempt do not count);
/// - CodeMismatchException for a wrong code;
/// - LimitExceededException once the code's attempts or the window are spent;
/// - ExpiredCodeException for an expired, used or never-issued code.
pub async fn redeem(ctx: &Ctx, user: &UserRecord, purpose: &str, given: &str) -> OpResult<()> {
    let expired = || {
        CognitoError::new(
            ErrorCode::ExpiredCodeException,
            "Invalid code provided, please request a code again.",
        )
    };
    let spent = ctx
        .store()
        .spend_code_attempt(&user.pool_id, &user.username_key, purpose, ctx.now_ms)
        .await?;
    let Some(record) = spent else {
        // No attempt was spent: say why without checking anything.
        return match ctx.store().get_code(&user.pool_id, &user.username_key, purpose).await? {
            Some(c) if c.expires_ms > ctx.now_ms && c.attempts_left <= 0 => Err(limits::exceeded()),
            _ => Err(expired()),
        };
    };
    limits::count(
        ctx,
        "code-guess",
        &user.pool_id,
        &user.username_key,
        purpose,
        limits::GUESSES_PER_WINDOW,
    )
    .await?;
    let stored = ctx.app.sealer.open(&record.sealed_code).unwrap_or_default();
    if userpool_sigv4::ct_eq(&stored, given.as_bytes()) {
        if ctx
            .store()
            .take_code(&user.pool_id, &user.username_key, purpose, &record.sealed_code)
            .await?
        {
            return Ok(());
        }
        // Another request used it first.
        return Err(expired());
    }
    Err(CognitoError::new(
        ErrorCode::CodeMismatchException,
        "Invalid verification code provided, please try again.",
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks() {
        assert_eq!(super::mask("alice@example.com"), "a***@e***");
        assert_eq!(super::mask("+15555551234"), "+*******1234");
    }
}
