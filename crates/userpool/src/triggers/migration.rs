//! UserMigration: `UserMigration_Authentication` (a password sign-in, USER_PASSWORD_AUTH
//! or ADMIN_USER_PASSWORD_AUTH, naming a user the pool does not have) and
//! `UserMigration_ForgotPassword` (ForgotPassword for such a user).
//!
//! The function answers the user's attributes; the user is created with them, named as
//! typed (a UUID username with the typed address, in pools whose usernames are emails or
//! phone numbers), in `finalUserStatus` (at sign-in `CONFIRMED` when left out, as the
//! developer guide says; for ForgotPassword `RESET_REQUIRED`), with the password typed
//! (sign-in; the pool's policy is not applied, as in Cognito) or none (forgot password).
//! An answer without attributes leaves the user unknown. userpool sends no welcome message
//! for a migrated user (`messageAction` is read and ignored).
//!
//! A function that fails (throws, times out, answers nonsense) is not shown to the caller:
//! Cognito answers `UserNotFoundException` "Exception migrating user in app client <id>",
//! and, where the client hides users (PreventUserExistenceErrors), the answer an unknown
//! user gets; the function's message would otherwise tell who is in the legacy store.

use super::{invoke, metadata, put, string_map, text, unrecognizable, Call, Trigger};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::users::{self, Pool};
use serde_json::json;
use userpool_model::types::AttributeType;
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// Why the user is being looked for.
pub enum Reason<'a> {
    /// A sign-in with this password.
    Authentication {
        /// The password typed.
        password: &'a str,
    },
    /// ForgotPassword.
    ForgotPassword,
}

/// Asks the pool's UserMigration function for `typed`; the user it describes, created
/// (`None`: no function, or it knows no such user).
pub async fn migrate(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    hides_users: bool,
    typed: &str,
    reason: Reason<'_>,
) -> OpResult<Option<UserRecord>> {
    if Trigger::UserMigration.function(pool).is_none() {
        return Ok(None);
    }
    let (source, mut request) = match &reason {
        Reason::Authentication { password } => ("UserMigration_Authentication", json!({"password": password})),
        Reason::ForgotPassword => ("UserMigration_ForgotPassword", json!({})),
    };
    let meta = metadata(ctx.client_metadata.as_ref());
    match reason {
        // InitiateAuth's ClientMetadata reaches this trigger as validationData.
        Reason::Authentication { .. } => put(&mut request, "validationData", meta),
        Reason::ForgotPassword => put(&mut request, "clientMetadata", meta),
    }
    let call = Call {
        trigger: Trigger::UserMigration,
        source,
        user_name: typed,
        client_id,
        request,
        response: json!({"userAttributes": null, "finalUserStatus": null, "messageAction": null,
                         "desiredDeliveryMediums": null, "forceAliasCreation": null, "enableSMSMFA": null}),
    };
    let failed = |e: CognitoError| {
        tracing::info!(pool = %pool.id(), error = %e.message, "UserMigration failed: the user stays unknown");
        if hides_users {
            Ok(None)
        } else {
            Err(CognitoError::new(
                ErrorCode::UserNotFoundException,
                format!("Exception migrating user in app client {client_id}"),
            ))
        }
    };
    let r = match invoke(ctx, pool, call).await {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(e) => return failed(e),
    };
    let attrs = match string_map(&r, "userAttributes") {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    if attrs.is_empty() {
        return Ok(None);
    }
    let status = match (text(&r, "finalUserStatus"), &reason) {
        (Ok(None), Reason::Authentication { .. }) | (Ok(Some("CONFIRMED")), _) => "CONFIRMED",
        (Ok(None | Some("RESET_REQUIRED")), _) => "RESET_REQUIRED",
        (Ok(Some(_)), _) => return failed(unrecognizable()),
        (Err(e), _) => return failed(e),
    };
    let given: Vec<AttributeType> = attrs
        .into_iter()
        .filter(|(n, _)| n != "username" && n != "sub")
        .map(|(name, value)| AttributeType {
            name,
            value: Some(value),
        })
        .collect();
    users::check_attributes(pool, &given, true)?;
    let identity = users::new_identity(pool, typed, &given)?;
    let password = match (&reason, status) {
        (Reason::Authentication { password }, "CONFIRMED") => Some(*password),
        _ => None,
    };
    let user = users::new_user(pool, identity, status, password, ctx.now_ms);
    ctx.store()
        .create_user(&user)
        .await
        .map_err(|e| users::write_error(e, pool))?;
    tracing::info!(pool = %pool.id(), username = %user.username, status, "user migrated by UserMigration");
    Ok(Some(user))
}
