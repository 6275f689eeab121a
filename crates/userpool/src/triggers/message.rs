//! CustomMessage: `CustomMessage_SignUp`, `_AdminCreateUser`, `_ResendCode`,
//! `_ForgotPassword`, `_UpdateUserAttribute`, `_VerifyUserAttribute`, `_Authentication`.
//!
//! The function gets the placeholders (`codeParameter` "{####}", `linkParameter`
//! "{##Click Here##}", `usernameParameter` "{username}" for invitations) and answers the
//! message with them in it; Cognito puts the code in afterwards. An empty answer for the
//! channel keeps the pool's template. An invitation without both `{username}` and
//! `{####}` falls back to the template (Cognito: "the default response will be used");
//! any other message without `{####}` is refused with the validation error Cognito gives
//! for it. userpool applies `emailMessage` whatever the pool's `EmailSendingAccount`.

use super::{invoke, metadata, put, text, user_attributes, Call, Trigger};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::users::Pool;
use serde_json::{json, Value};
use userpool_store::UserRecord;

/// A message the function wrote: the body, and for email the subject (if it gave one).
pub struct Custom {
    /// The body, placeholders still in it.
    pub body: String,
    /// The subject, for email.
    pub subject: Option<String>,
}

const EMAIL_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]*\{####\}[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]*";
const SMS_PATTERN: &str = r".*\{####\}.*";

/// Calls CustomMessage for a message to `user` from `source` (the part after
/// `CustomMessage_`) over email or SMS; `None` when the pool has no function or it kept
/// the template.
pub async fn custom_message(
    ctx: &Ctx,
    pool: &Pool,
    user: &UserRecord,
    source: &str,
    email: bool,
) -> OpResult<Option<Custom>> {
    if Trigger::CustomMessage.function(pool).is_none() {
        return Ok(None);
    }
    let invitation = source == "AdminCreateUser";
    let mut request = json!({
        "userAttributes": user_attributes(pool, user),
        "codeParameter": "{####}",
        "linkParameter": "{##Click Here##}",
        "usernameParameter": if invitation { Value::String("{username}".into()) } else { Value::Null },
    });
    put(&mut request, "clientMetadata", metadata(ctx.client_metadata.as_ref()));
    let trigger_source = format!("CustomMessage_{source}");
    let client_id = ctx.client_id.clone().unwrap_or_else(|| super::NO_CLIENT.to_string());
    let call = Call {
        trigger: Trigger::CustomMessage,
        source: &trigger_source,
        user_name: &user.username,
        client_id: &client_id,
        request,
        response: json!({"smsMessage": null, "emailMessage": null, "emailSubject": null}),
    };
    let Some(r) = invoke(ctx, pool, call).await? else {
        return Ok(None);
    };
    let body = text(&r, if email { "emailMessage" } else { "smsMessage" })?.filter(|b| !b.is_empty());
    let subject = text(&r, "emailSubject")?.filter(|s| email && !s.is_empty());
    let Some(body) = body else {
        return Ok(None);
    };
    let has_code = body.contains("{####}");
    if invitation {
        if !has_code || !body.contains("{username}") {
            tracing::info!(pool = %pool.id(), "CustomMessage invitation without {{username}} and {{####}}: the template is used");
            return Ok(None);
        }
    } else if !has_code {
        let (member, pattern) = if email {
            ("emailBody", EMAIL_PATTERN)
        } else {
            ("smsMessage", SMS_PATTERN)
        };
        return Err(CognitoError::invalid_parameter(format!(
            "1 validation error detected: Value '{body}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
        )));
    }
    Ok(Some(Custom {
        body: body.to_string(),
        subject: subject.map(str::to_string),
    }))
}
