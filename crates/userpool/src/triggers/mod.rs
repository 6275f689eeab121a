//! Lambda triggers: the events Cognito sends to the functions a pool's `LambdaConfig`
//! names, and what it does with their answers. One file per trigger family; each builds
//! its event's `request` (member by member as the developer guide documents it), calls
//! [`invoke`], and reads the `response` it applies.
//!
//! [`invoke`] wraps the envelope every trigger shares (`version`, `triggerSource`,
//! `region`, `userPoolId`, `userName`, `callerContext`, `request`, `response`), calls the
//! function through [`crate::lambda::Invoker`], and maps failures to Cognito's errors:
//!
//! | what happened | error |
//! |---|---|
//! | the function failed (`X-Amz-Function-Error`) | `UserLambdaValidationException: <Trigger> failed with error <errorMessage>.` |
//! | no answer in 5 s, 3 attempts | `UnexpectedLambdaException: <Trigger> invocation failed due to error Socket timeout while invoking Lambda function.` |
//! | Lambda refused the call, or is unreachable | `UnexpectedLambdaException: <Trigger> invocation failed due to error <code>.` |
//! | the answer is not a JSON object | `InvalidLambdaResponseException: Invalid lambda function output : Invalid JSON` |
//! | a `response` member of the wrong type | `InvalidLambdaResponseException: Unrecognizable lambda output` |
//!
//! A pool with no function for a trigger makes no call. Payloads are never logged (a
//! UserMigration event carries the password).

pub mod auth;
pub mod challenge;
pub mod message;
pub mod migration;
pub mod sign_up;
pub mod tokens;

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::lambda::InvokeError;
use crate::ops::users::{self, Pool};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// The `clientId` of events from operations without an app client (AdminCreateUser).
pub const NO_CLIENT: &str = "CLIENT_ID_NOT_APPLICABLE";

/// A trigger of `LambdaConfig`, named as Cognito names it in its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// PreSignUp.
    PreSignUp,
    /// PostConfirmation.
    PostConfirmation,
    /// PreAuthentication.
    PreAuthentication,
    /// PostAuthentication.
    PostAuthentication,
    /// PreTokenGeneration (or PreTokenGenerationConfig).
    PreTokenGeneration,
    /// CustomMessage.
    CustomMessage,
    /// UserMigration.
    UserMigration,
    /// DefineAuthChallenge.
    DefineAuthChallenge,
    /// CreateAuthChallenge.
    CreateAuthChallenge,
    /// VerifyAuthChallengeResponse.
    VerifyAuthChallengeResponse,
}

impl Trigger {
    /// The name in `LambdaConfig` and in Cognito's error messages.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::PreSignUp => "PreSignUp",
            Trigger::PostConfirmation => "PostConfirmation",
            Trigger::PreAuthentication => "PreAuthentication",
            Trigger::PostAuthentication => "PostAuthentication",
            Trigger::PreTokenGeneration => "PreTokenGeneration",
            Trigger::CustomMessage => "CustomMessage",
            Trigger::UserMigration => "UserMigration",
            Trigger::DefineAuthChallenge => "DefineAuthChallenge",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge",
            Trigger::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
        }
    }

    /// The function the pool names for this trigger, if any.
    pub fn function(self, pool: &Pool) -> Option<&str> {
        let c = pool.settings().lambda_config.as_ref()?;
        let arn = match self {
            Trigger::PreSignUp => c.pre_sign_up.as_deref(),
            Trigger::PostConfirmation => c.post_confirmation.as_deref(),
            Trigger::PreAuthentication => c.pre_authentication.as_deref(),
            Trigger::PostAuthentication => c.post_authentication.as_deref(),
            Trigger::PreTokenGeneration => c
                .pre_token_generation_config
                .as_ref()
                .map(|p| p.lambda_arn.as_str())
                .or(c.pre_token_generation.as_deref()),
            Trigger::CustomMessage => c.custom_message.as_deref(),
            Trigger::UserMigration => c.user_migration.as_deref(),
            Trigger::DefineAuthChallenge => c.define_auth_challenge.as_deref(),
            Trigger::CreateAuthChallenge => c.create_auth_challenge.as_deref(),
            Trigger::VerifyAuthChallengeResponse => c.verify_auth_challenge_response.as_deref(),
        };
        arn.filter(|a| !a.is_empty())
    }
}

/// One invocation: whose event, from where, with what.
pub struct Call<'a> {
    /// The trigger.
    pub trigger: Trigger,
    /// `triggerSource`.
    pub source: &'a str,
    /// `userName`: the user's username (the name typed, for a user not found).
    pub user_name: &'a str,
    /// `callerContext.clientId` ([`NO_CLIENT`] for admin operations without a client).
    pub client_id: &'a str,
    /// `request`.
    pub request: Value,
    /// `response` as Cognito fills it before the call.
    pub response: Value,
}

/// `version` of an event: "1", or the PreTokenGeneration version's digit.
fn version(call: &Call<'_>, pool: &Pool) -> &'static str {
    if call.trigger != Trigger::PreTokenGeneration {
        return "1";
    }
    match tokens::lambda_version(pool) {
        tokens::Version::V1 => "1",
        tokens::Version::V2 => "2",
        tokens::Version::V3 => "3",
    }
}

/// Calls the pool's function for `call.trigger` and answers its `response` member
/// (`None` when the pool names no function: no call is made). An empty or `null`
/// `response` is an empty object.
pub async fn invoke(ctx: &Ctx, pool: &Pool, call: Call<'_>) -> OpResult<Option<Map<String, Value>>> {
    let Some(function) = call.trigger.function(pool) else {
        return Ok(None);
    };
    let name = call.trigger.name();
    let event = json!({
        "version": version(&call, pool),
        "triggerSource": call.source,
        "region": ctx.pool_region(pool.id()),
        "userPoolId": pool.id(),
        "userName": call.user_name,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": call.client_id},
        "request": call.request,
        "response": call.response,
    });
    let payload = serde_json::to_vec(&event).map_err(|e| {
        tracing::error!(error = %e, "IE0030 a trigger event does not serialise");
        CognitoError::internal()
    })?;
    // The function's region is the ARN's fourth field; a bare name runs in the pool's. It
    // becomes part of the Lambda endpoint's host name, so only a region's shape is taken.
    let region = function
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .unwrap_or(ctx.pool_region(pool.id()));
    if !crate::ids::is_region(region) {
        tracing::warn!(trigger = name, function, "a trigger's ARN names no region");
        return Err(CognitoError::new(
            ErrorCode::UnexpectedLambdaException,
            format!("{name} invocation failed due to error ResourceNotFoundException."),
        ));
    }
    tracing::info!(trigger = name, source = call.source, function, "invoking a trigger");
    let invoked = ctx
        .app
        .lambda
        .invoke(function, region, payload, false)
        .await
        .map_err(|e| {
            let reason = match e {
                InvokeError::Timeout => "Socket timeout while invoking Lambda function".to_string(),
                InvokeError::Failed(code) => code,
            };
            tracing::warn!(trigger = name, function, %reason, "a trigger could not be invoked");
            CognitoError::new(
                ErrorCode::UnexpectedLambdaException,
                format!("{name} invocation failed due to error {reason}."),
            )
        })?;
    let answer: Option<Value> = serde_json::from_slice(&invoked.payload).ok();
    if invoked.function_error.is_some() {
        let message = answer
            .as_ref()
            .and_then(|a| a.get("errorMessage"))
            .and_then(Value::as_str)
            .unwrap_or("Unknown error")
            .to_string();
        tracing::info!(trigger = name, function, "a trigger failed");
        return Err(CognitoError::new(
            ErrorCode::UserLambdaValidationException,
            format!("{name} failed with error {message}."),
        ));
    }
    let Some(Value::Object(mut answer)) = answer else {
        return Err(invalid_json());
    };
    match answer.remove("response") {
        Some(Value::Object(r)) => Ok(Some(r)),
        None | Some(Value::Null) => Ok(Some(Map::new())),
        Some(_) => Err(unrecognizable()),
    }
}

/// `InvalidLambdaResponseException: Invalid lambda function output : Invalid JSON`.
pub fn invalid_json() -> CognitoError {
    CognitoError::new(
        ErrorCode::InvalidLambdaResponseException,
        "Invalid lambda function output : Invalid JSON",
    )
}

/// `InvalidLambdaResponseException: Unrecognizable lambda output`.
pub fn unrecognizable() -> CognitoError {
    CognitoError::new(
        ErrorCode::InvalidLambdaResponseException,
        "Unrecognizable lambda output",
    )
}

/// A boolean member of a response (`null` or absent: `false`; another type is refused).
pub fn flag(response: &Map<String, Value>, name: &str) -> OpResult<bool> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(unrecognizable()),
    }
}

/// A string member of a response (`null` or absent: `None`; another type is refused).
pub fn text<'a>(response: &'a Map<String, Value>, name: &str) -> OpResult<Option<&'a str>> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(unrecognizable()),
    }
}

/// A map of strings in a response (`null` or absent: empty; another type is refused).
pub fn string_map(response: &Map<String, Value>, name: &str) -> OpResult<Vec<(String, String)>> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(unrecognizable()),
            })
            .collect(),
        Some(_) => Err(unrecognizable()),
    }
}

/// `clientMetadata` / `validationData` as an event member: the map, or absent.
pub fn metadata(m: Option<&HashMap<String, String>>) -> Option<Value> {
    m.map(|m| Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()))
}

/// `request.userAttributes` of a stored user: every attribute as a string, `sub`, the
/// `cognito:user_status` pseudo-attribute, and `cognito:email_alias` /
/// `cognito:phone_number_alias` when that address identifies the user.
pub fn user_attributes(pool: &Pool, user: &UserRecord) -> Value {
    let mut m = Map::new();
    m.insert("sub".into(), Value::String(user.sub.clone()));
    for (n, v) in &user.attributes {
        m.insert(n.clone(), Value::String(v.clone()));
    }
    m.insert(
        "cognito:user_status".into(),
        Value::String(users::status(user).as_str().to_string()),
    );
    for key in pool.alias_keys(&user.attributes) {
        if let Some((attr, _)) = key.split_once(':') {
            if attr == "email" || attr == "phone_number" {
                if let Some(v) = users::attr(user, attr) {
                    m.insert(format!("cognito:{attr}_alias"), Value::String(v.to_string()));
                }
            }
        }
    }
    Value::Object(m)
}

/// Inserts `key: value` when `value` is present.
pub fn put(request: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(v), Some(obj)) = (value, request.as_object_mut()) {
        obj.insert(key.to_string(), v);
    }
}
