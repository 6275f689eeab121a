//! The custom challenge triggers of CUSTOM_AUTH: DefineAuthChallenge,
//! CreateAuthChallenge, VerifyAuthChallengeResponse (`..._Authentication`).

use super::{flag, invoke, metadata, put, string_map, text, unrecognizable, user_attributes, Call, Trigger};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::users::Pool;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// One entry of the events' `session`: a challenge answered, and how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChallengeResult {
    /// `challengeName` (`SRP_A`, `PASSWORD_VERIFIER`, `CUSTOM_CHALLENGE`...).
    pub name: String,
    /// `challengeResult`.
    pub result: bool,
    /// `challengeMetadata` (CreateAuthChallenge's, for custom challenges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// Who the flow is about: a user, or (the client hiding existence) a name not found.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    /// The user, when found.
    pub user: Option<&'a UserRecord>,
    /// The name typed.
    pub typed: &'a str,
    /// The app client.
    pub client_id: &'a str,
}

fn session(history: &[ChallengeResult]) -> Value {
    Value::Array(
        history
            .iter()
            .map(|c| json!({"challengeName": c.name, "challengeResult": c.result, "challengeMetadata": c.metadata}))
            .collect(),
    )
}

fn base_request(ctx: &Ctx, pool: &Pool, who: Subject<'_>) -> Value {
    let mut request = match who.user {
        Some(u) => json!({"userAttributes": user_attributes(pool, u)}),
        None => json!({"userAttributes": {}, "userNotFound": true}),
    };
    put(&mut request, "clientMetadata", metadata(ctx.client_metadata.as_ref()));
    request
}

/// `Custom auth lambda trigger is not configured for the user pool.` unless all three
/// functions are set.
pub fn check_configured(pool: &Pool) -> OpResult<()> {
    let all = [
        Trigger::DefineAuthChallenge,
        Trigger::CreateAuthChallenge,
        Trigger::VerifyAuthChallengeResponse,
    ]
    .iter()
    .all(|t| t.function(pool).is_some());
    if all {
        Ok(())
    } else {
        Err(CognitoError::invalid_parameter(
            "Custom auth lambda trigger is not configured for the user pool.",
        ))
    }
}

/// What DefineAuthChallenge decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `failAuthentication`.
    Fail,
    /// `issueTokens`.
    IssueTokens,
    /// `challengeName`: the next challenge.
    Challenge(String),
}

/// Calls DefineAuthChallenge with the flow's history.
pub async fn define(ctx: &Ctx, pool: &Pool, who: Subject<'_>, history: &[ChallengeResult]) -> OpResult<Decision> {
    let mut request = base_request(ctx, pool, who);
    put(&mut request, "session", Some(session(history)));
    let call = Call {
        trigger: Trigger::DefineAuthChallenge,
        source: "DefineAuthChallenge_Authentication",
        user_name: who.user.map_or(who.typed, |u| u.username.as_str()),
        client_id: who.client_id,
        request,
        response: json!({"challengeName": null, "issueTokens": null, "failAuthentication": null}),
    };
    let r = invoke(ctx, pool, call).await?.ok_or_else(unrecognizable)?;
    if flag(&r, "failAuthentication")? {
        return Ok(Decision::Fail);
    }
    if flag(&r, "issueTokens")? {
        return Ok(Decision::IssueTokens);
    }
    match text(&r, "challengeName")? {
        Some(name) if !name.is_empty() => Ok(Decision::Challenge(name.to_string())),
        _ => Err(unrecognizable()),
    }
}

/// What CreateAuthChallenge made.
#[derive(Debug, Clone, Default)]
pub struct Created {
    /// `publicChallengeParameters`: the challenge's parameters for the client.
    pub public: Vec<(String, String)>,
    /// `privateChallengeParameters`: kept (sealed in the Session) for Verify.
    pub private: Vec<(String, String)>,
    /// `challengeMetadata`.
    pub metadata: Option<String>,
}

/// Calls CreateAuthChallenge for `challenge`.
pub async fn create(
    ctx: &Ctx,
    pool: &Pool,
    who: Subject<'_>,
    challenge: &str,
    history: &[ChallengeResult],
) -> OpResult<Created> {
    let mut request = base_request(ctx, pool, who);
    put(
        &mut request,
        "challengeName",
        Some(Value::String(challenge.to_string())),
    );
    put(&mut request, "session", Some(session(history)));
    let call = Call {
        trigger: Trigger::CreateAuthChallenge,
        source: "CreateAuthChallenge_Authentication",
        user_name: who.user.map_or(who.typed, |u| u.username.as_str()),
        client_id: who.client_id,
        request,
        response: json!({"publicChallengeParameters": null, "privateChallengeParameters": null, "challengeMetadata": null}),
    };
    let r = invoke(ctx, pool, call).await?.ok_or_else(unrecognizable)?;
    Ok(Created {
        public: string_map(&r, "publicChallengeParameters")?,
        private: string_map(&r, "privateChallengeParameters")?,
        metadata: text(&r, "challengeMetadata")?.map(str::to_string),
    })
}

/// Calls VerifyAuthChallengeResponse with the client's `answer`: whether it is right.
pub async fn verify(
    ctx: &Ctx,
    pool: &Pool,
    who: Subject<'_>,
    private: &[(String, String)],
    answer: &str,
) -> OpResult<bool> {
    let mut request = base_request(ctx, pool, who);
    let private: serde_json::Map<String, Value> = private
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    put(&mut request, "privateChallengeParameters", Some(Value::Object(private)));
    put(&mut request, "challengeAnswer", Some(Value::String(answer.to_string())));
    let call = Call {
        trigger: Trigger::VerifyAuthChallengeResponse,
        source: "VerifyAuthChallengeResponse_Authentication",
        user_name: who.user.map_or(who.typed, |u| u.username.as_str()),
        client_id: who.client_id,
        request,
        response: json!({"answerCorrect": null}),
    };
    let r = invoke(ctx, pool, call).await?.ok_or_else(unrecognizable)?;
    flag(&r, "answerCorrect")
}

/// `NotAuthorizedException: Incorrect username or password.` for a failed custom flow.
pub fn failed() -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, "Incorrect username or password.")
}
