//! PreSignUp (`PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`) and PostConfirmation
//! (`PostConfirmation_ConfirmSignUp`, `PostConfirmation_ConfirmForgotPassword`).
//!
//! - PreSignUp runs before the user is written; a function error refuses the sign-up and
//!   nothing is kept. Its `autoConfirmUser`, `autoVerifyEmail` and `autoVerifyPhone` apply
//!   to SignUp only (Cognito ignores them for AdminCreateUser). Auto-verifying an address
//!   the user has not given is refused (`InvalidParameterException`; Cognito's guide says
//!   only that "an error will occur"), each flag applying on its own.
//! - PostConfirmation runs after the confirmation is written: a function error is
//!   returned to the caller, and the user stays confirmed (as in Cognito).

use super::{flag, invoke, metadata, put, user_attributes, Call, Trigger, NO_CLIENT};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::users::Pool;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use userpool_model::types::AttributeType;
use userpool_store::UserRecord;

/// What a PreSignUp function decided for a SignUp.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignUpDecision {
    /// `autoConfirmUser`.
    pub confirm: bool,
    /// `autoVerifyEmail`.
    pub verify_email: bool,
    /// `autoVerifyPhone`.
    pub verify_phone: bool,
}

/// Where a sign-up comes from.
pub enum Source<'a> {
    /// SignUp through this client.
    SignUp {
        /// The app client.
        client_id: &'a str,
    },
    /// AdminCreateUser.
    AdminCreateUser,
    /// The first sign-in of a federated user (an identity provider's), through this client.
    ExternalProvider {
        /// The app client.
        client_id: &'a str,
    },
}

fn attributes_map(attrs: &[(String, String)]) -> Value {
    Value::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// `ValidationData` (a list) as the event's `validationData` map.
pub fn validation_data(list: Option<&[AttributeType]>) -> Option<HashMap<String, String>> {
    list.map(|l| {
        l.iter()
            .map(|a| (a.name.clone(), a.value.clone().unwrap_or_default()))
            .collect()
    })
}

/// Calls PreSignUp for a user about to be created with `attributes` (as submitted, with
/// `sub` for AdminCreateUser); what it decided (nothing for AdminCreateUser).
pub async fn pre_sign_up(
    ctx: &Ctx,
    pool: &Pool,
    source: Source<'_>,
    username: &str,
    attributes: &[(String, String)],
    validation: Option<&HashMap<String, String>>,
) -> OpResult<SignUpDecision> {
    if Trigger::PreSignUp.function(pool).is_none() {
        return Ok(SignUpDecision::default());
    }
    let mut request = json!({
        "userAttributes": attributes_map(attributes),
        "validationData": metadata(validation).unwrap_or(Value::Null),
    });
    put(&mut request, "clientMetadata", metadata(ctx.client_metadata.as_ref()));
    let (trigger_source, client_id, applies) = match source {
        Source::SignUp { client_id } => ("PreSignUp_SignUp", client_id, true),
        Source::AdminCreateUser => ("PreSignUp_AdminCreateUser", NO_CLIENT, false),
        Source::ExternalProvider { client_id } => ("PreSignUp_ExternalProvider", client_id, true),
    };
    let call = Call {
        trigger: Trigger::PreSignUp,
        source: trigger_source,
        user_name: username,
        client_id,
        request,
        response: json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}),
    };
    let Some(r) = invoke(ctx, pool, call).await? else {
        return Ok(SignUpDecision::default());
    };
    let decision = SignUpDecision {
        confirm: flag(&r, "autoConfirmUser")?,
        verify_email: flag(&r, "autoVerifyEmail")?,
        verify_phone: flag(&r, "autoVerifyPhone")?,
    };
    if !applies {
        return Ok(SignUpDecision::default());
    }
    let has = |n: &str| attributes.iter().any(|(k, v)| k == n && !v.is_empty());
    if decision.verify_email && !has("email") {
        return Err(CognitoError::invalid_parameter(
            "PreSignUp answered autoVerifyEmail for a user without an email address.",
        ));
    }
    if decision.verify_phone && !has("phone_number") {
        return Err(CognitoError::invalid_parameter(
            "PreSignUp answered autoVerifyPhone for a user without a phone number.",
        ));
    }
    Ok(decision)
}

/// Where a confirmation comes from.
#[derive(Debug, Clone, Copy)]
pub enum Confirmed {
    /// ConfirmSignUp, AdminConfirmSignUp.
    SignUp,
    /// ConfirmForgotPassword.
    ForgotPassword,
}

/// Calls PostConfirmation for `user`, just confirmed (`client_id`: the client of the
/// request, [`NO_CLIENT`] for AdminConfirmSignUp).
pub async fn post_confirmation(
    ctx: &Ctx,
    pool: &Pool,
    user: &UserRecord,
    client_id: &str,
    how: Confirmed,
) -> OpResult<()> {
    if Trigger::PostConfirmation.function(pool).is_none() {
        return Ok(());
    }
    let mut request = json!({"userAttributes": user_attributes(pool, user)});
    put(&mut request, "clientMetadata", metadata(ctx.client_metadata.as_ref()));
    let call = Call {
        trigger: Trigger::PostConfirmation,
        source: match how {
            Confirmed::SignUp => "PostConfirmation_ConfirmSignUp",
            Confirmed::ForgotPassword => "PostConfirmation_ConfirmForgotPassword",
        },
        user_name: &user.username,
        client_id,
        request,
        response: json!({}),
    };
    invoke(ctx, pool, call).await.map(|_| ())
}
