//! Threat protection's user event history: the recording of auth events, and
//! AdminListUserAuthEvents, AdminUpdateAuthEventFeedback, UpdateAuthEventFeedback.
//!
//! **What is recorded**, when the pool's threat protection is on (AdvancedSecurityMode
//! `AUDIT` or `ENFORCED`; otherwise nothing, and the three operations answer
//! `UserPoolAddOnNotEnabledException`):
//! - `SignIn`: `Fail` with `Password`/`Failure` for a wrong password (any password flow,
//!   SRP's too); `InProgress` with `Password`/`Success` when a proven password is followed
//!   by a challenge (MFA, NEW_PASSWORD_REQUIRED); `Pass` when tokens are issued (the
//!   hosted pages' sign-in too): the same client's sign-in in progress for that user (the
//!   newest event, at most 15 minutes old: the longest AuthSessionValidity) becomes
//!   `Pass`, with `Mfa`/`Success` after an MFA challenge; else a new `Pass` event. A
//!   sign-in abandoned at its challenge stays `InProgress`; a wrong MFA code leaves it so
//!   (the session may be answered again);
//! - `SignUp` (SignUp), `ResendCode` (ResendConfirmationCode), `ForgotPassword`
//!   (ForgotPassword): `Pass` once the user is made or the code sent;
//! - `PasswordChange`: ChangePassword (`Fail` for a wrong previous password) and
//!   ConfirmForgotPassword (`Fail` for a wrong code): `Pass` once the new password is set.
//!   An administrator's AdminSetUserPassword is not the user's activity: not recorded
//!   (inferred; nor are other admin operations).
//!
//! Every event is kept two years (Cognito's retention), newest first per user, and goes
//! with its user. **Storage**: a table of its own on both engines (`auth_events`), not
//! pool objects, because a user's events must go with the user whichever operation
//! deletes it (a foreign key cascades them), expire (pruned with the other expiring
//! rows), page newest first per user (an index on the time) and be found by EventId for
//! feedback; the pool-objects verbs give none of these. Recording never fails the user's request (a failure is logged), and with
//! threat protection off it costs one look at the pool already loaded.
//!
//! **Risk.** Adaptive scoring is not emulated: every event's EventRisk is `RiskDecision`
//! `NoRisk`, `CompromisedCredentialsDetected` false, and, for a sign-in (the events
//! adaptive authentication scores), `RiskLevel` `Low`. No automatic response (block, MFA)
//! is applied, in AUDIT or ENFORCED mode. Feedback is kept on its event (EventFeedback,
//! `Provider` `Admin` or `User`) and changes no risk. When the configuration that applies
//! to the sign-in (`ops::threat_protection::effective`) notifies on `LowAction`, a
//! finished sign-in sends the user the notification email (its `NoActionEmail` template,
//! or Cognito's default text, through the outbox) with `{one-click-link-valid}` and
//! `{one-click-link-invalid}` links carrying the event's feedback token, to
//! `GET <public URL>/_userpool/auth-event-feedback?...` (which acts as
//! UpdateAuthEventFeedback).
//!
//! **EventContextData.** `IpAddress`: the request's `ContextData.IpAddress`
//! (AdminInitiateAuth, AdminRespondToAuthChallenge), or `UserContextData.IpAddress` when
//! the client has `EnablePropagateAdditionalUserContextData`, else the caller's address.
//! `DeviceName`: the `User-Agent` header `ContextData.HttpHeaders` carries (the encoded
//! device fingerprint is not read). `City`, `Country`, `Timezone`: absent (no
//! geolocation).
//!
//! **The feedback token** is never stored: it is HMAC-SHA256, under a key derived from the
//! server's data key, of the pool, the username's lookup key (the username, lowercased
//! where the pool's usernames are case-insensitive) and the event id, base64url.
//! UpdateAuthEventFeedback (and its GET link) checks the token before it looks anything
//! up, so it reveals nothing of which users exist: a bad token, an unknown user (or a
//! `Username` that is not the user's username, such as an alias) and an unknown event all
//! answer NotAuthorizedException "The feedback token is not valid.". Inferred where
//! Cognito is silent: the messages of the refusals; for AdminUpdateAuthEventFeedback, an
//! unknown event id is ResourceNotFoundException "Auth event <id> does not exist.".

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{app_clients, log_delivery, threat_protection, token, users};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use userpool_model::types::{
    AdminListUserAuthEventsRequest, AdminListUserAuthEventsResponse, AdminUpdateAuthEventFeedbackRequest,
    AdminUpdateAuthEventFeedbackResponse, AuthEventType, ChallengeName, ChallengeResponse, ChallengeResponseType,
    EventContextDataType, EventFeedbackType, EventResponseType, EventRiskType, EventSourceName, EventType,
    FeedbackValueType, LogLevel, RiskDecisionType, RiskLevelType, UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
};
use userpool_model::Timestamp;
use userpool_store::{AuthEventRecord, StoreError, UserRecord};

/// How long an event is kept: "Amazon Cognito retains user event history for two years."
const KEEP_MS: i64 = 2 * 365 * 86_400_000;
/// How long a sign-in in progress may be finished (the longest AuthSessionValidity).
const PENDING_MS: i64 = 15 * 60_000;
/// Events per page when MaxResults is absent or 0.
const DEFAULT_PAGE: usize = 60;

/// What a request's `ContextData` (server-side callers) or `UserContextData` (apps) say
/// of the user's device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// `ContextData.IpAddress`.
    pub ip: Option<IpAddr>,
    /// `UserContextData.IpAddress` (used only when the client propagates it).
    pub user_ip: Option<IpAddr>,
    /// The `User-Agent` header of `ContextData.HttpHeaders`.
    pub device_name: Option<String>,
}

impl RequestContext {
    /// The context a request body carries, if it has `ContextData` or `UserContextData`.
    pub fn from_body(body: &Value) -> Option<Arc<Self>> {
        let admin = body.get("ContextData").filter(|v| v.is_object());
        let user = body.get("UserContextData").filter(|v| v.is_object());
        if admin.is_none() && user.is_none() {
            return None;
        }
        let ip_of = |c: Option<&Value>| {
            c.and_then(|c| c.get("IpAddress"))
                .and_then(Value::as_str)
                .and_then(|s| s.trim().parse().ok())
        };
        let device_name = admin
            .and_then(|c| c.get("HttpHeaders"))
            .and_then(Value::as_array)
            .and_then(|headers| {
                headers.iter().find(|h| {
                    h.get("headerName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("user-agent"))
                })
            })
            .and_then(|h| h.get("headerValue"))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        Some(Arc::new(RequestContext {
            ip: ip_of(admin),
            user_ip: ip_of(user),
            device_name,
        }))
    }
}

/// What a sign-in in progress waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pending {
    /// A second factor.
    Mfa,
    /// A new password (NEW_PASSWORD_REQUIRED).
    NewPassword,
}

/// An event as stored: what AdminListUserAuthEvents shows, and what finishing it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "Event")]
    event: AuthEventType,
    #[serde(rename = "ClientId", default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(rename = "Pending", default, skip_serializing_if = "Option::is_none")]
    pending: Option<Pending>,
}

fn decode(r: &AuthEventRecord) -> OpResult<Stored> {
    serde_json::from_str(&r.body).map_err(|e| {
        tracing::error!(error = %e, event = %r.event_id, "IE0020 a stored auth event does not decode");
        CognitoError::internal()
    })
}

fn encode(s: &Stored) -> OpResult<String> {
    serde_json::to_string(s).map_err(|e| {
        tracing::error!(error = %e, "IE0021 an auth event does not encode");
        CognitoError::internal()
    })
}

fn challenge(name: ChallengeName, ok: bool) -> ChallengeResponseType {
    ChallengeResponseType {
        challenge_name: Some(name),
        challenge_response: Some(if ok {
            ChallengeResponse::Success
        } else {
            ChallengeResponse::Failure
        }),
    }
}

/// The address and device of the request.
async fn context_data(ctx: &Ctx) -> EventContextDataType {
    let given = ctx.context.as_deref();
    let mut ip = given.and_then(|c| c.ip);
    if ip.is_none() {
        if let (Some(user_ip), Some(client_id)) = (given.and_then(|c| c.user_ip), ctx.client_id.as_deref()) {
            let propagates = app_clients::find_client(ctx, client_id)
                .await
                .is_ok_and(|c| c.settings.enable_propagate_additional_user_context_data == Some(true));
            if propagates {
                ip = Some(user_ip);
            }
        }
    }
    EventContextDataType {
        ip_address: Some(ip.map_or_else(|| ctx.client_ip(), |i| i.to_string())),
        device_name: given.and_then(|c| c.device_name.clone()),
        timezone: None,
        city: None,
        country: None,
    }
}

async fn new_event(
    ctx: &Ctx,
    event_type: EventType,
    response: EventResponseType,
    challenges: Vec<ChallengeResponseType>,
) -> AuthEventType {
    AuthEventType {
        event_id: Some(crate::ids::uuid().to_string()),
        event_type: Some(event_type),
        creation_date: Some(Timestamp(ctx.now_ms)),
        event_response: Some(response),
        event_risk: Some(EventRiskType {
            risk_decision: Some(RiskDecisionType::Norisk),
            risk_level: (event_type == EventType::Signin).then_some(RiskLevelType::Low),
            compromised_credentials_detected: Some(false),
        }),
        challenge_responses: Some(challenges),
        event_context_data: Some(context_data(ctx).await),
        event_feedback: None,
    }
}

/// Stores a new event, then exports it.
async fn insert(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, stored: Stored) -> OpResult<()> {
    let event_id = stored.event.event_id.clone().unwrap_or_default();
    ctx.store()
        .put_auth_event(&AuthEventRecord {
            pool_id: pool.id().to_string(),
            username_key: user.username_key.clone(),
            event_id,
            created_ms: ctx.now_ms,
            body: encode(&stored)?,
            expires_ms: ctx.now_ms.saturating_add(KEEP_MS),
        })
        .await?;
    export(ctx, pool, user, &stored).await;
    Ok(())
}

/// The `userAuthEvents` log event of an event.
async fn export(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, stored: &Stored) {
    let Some(sink) = log_delivery::sink(ctx, pool.id(), EventSourceName::Userauthevents, LogLevel::Info).await else {
        return;
    };
    let mut message = serde_json::to_value(&stored.event).unwrap_or_default();
    if let Some(m) = message.as_object_mut() {
        m.insert("UserPoolId".into(), pool.id().into());
        m.insert("UserName".into(), user.username.clone().into());
        m.insert("UserSub".into(), user.sub.clone().into());
        if let Some(c) = &stored.client_id {
            m.insert("ClientId".into(), c.clone().into());
        }
    }
    sink.write(ctx.now_ms, LogLevel::Info, message).await;
}

/// Records an event of `user` (not a sign-in: see [`sign_in_failed`] and the two after
/// it). Never fails; does nothing while threat protection is off.
pub async fn record(
    ctx: &Ctx,
    pool: &users::Pool,
    user: &UserRecord,
    event_type: EventType,
    response: EventResponseType,
) {
    if !threat_protection::enabled(pool.settings()) {
        return;
    }
    let stored = Stored {
        event: new_event(ctx, event_type, response, Vec::new()).await,
        client_id: ctx.client_id.clone(),
        pending: None,
    };
    if let Err(e) = insert(ctx, pool, user, stored).await {
        tracing::warn!(pool = %pool.id(), error = %e.message, "AE0001 an auth event was not recorded");
    }
}

/// What a sign-in step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Failed,
    Challenged(Pending),
    Passed,
}

/// A wrong password in a sign-in (`SignIn` `Fail`). Never fails.
pub async fn sign_in_failed(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) {
    sign_in(ctx, pool, user, Step::Failed).await;
}

/// A proven password followed by a challenge (`SignIn` `InProgress`). Never fails.
pub async fn sign_in_challenged(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, waits_for: Pending) {
    sign_in(ctx, pool, user, Step::Challenged(waits_for)).await;
}

/// Tokens issued (`SignIn` `Pass`). Never fails.
pub async fn sign_in_passed(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) {
    sign_in(ctx, pool, user, Step::Passed).await;
}

async fn sign_in(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, step: Step) {
    if !threat_protection::enabled(pool.settings()) {
        return;
    }
    if let Err(e) = record_sign_in(ctx, pool, user, step).await {
        tracing::warn!(pool = %pool.id(), error = %e.message, "AE0002 a sign-in event was not recorded");
    }
}

/// The same client's sign-in in progress for `user`: the newest event, if it is one.
async fn in_progress(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<Option<(AuthEventRecord, Stored)>> {
    let page = ctx
        .store()
        .list_auth_events(pool.id(), &user.username_key, None, 1)
        .await?;
    let Some(newest) = page.items.into_iter().next() else {
        return Ok(None);
    };
    let stored = decode(&newest)?;
    let open = stored.pending.is_some()
        && stored.event.event_type == Some(EventType::Signin)
        && stored.event.event_response == Some(EventResponseType::Inprogress)
        && stored.client_id == ctx.client_id
        && ctx.now_ms.saturating_sub(newest.created_ms) <= PENDING_MS;
    Ok(open.then_some((newest, stored)))
}

async fn record_sign_in(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, step: Step) -> OpResult<()> {
    let open = match step {
        Step::Failed => None,
        _ => in_progress(ctx, pool, user).await?,
    };
    let (response, challenges, pending) = match step {
        Step::Failed => (
            EventResponseType::Fail,
            vec![challenge(ChallengeName::Password, false)],
            None,
        ),
        Step::Challenged(p) => (
            EventResponseType::Inprogress,
            vec![challenge(ChallengeName::Password, true)],
            Some(p),
        ),
        Step::Passed => {
            let mut c = vec![challenge(ChallengeName::Password, true)];
            if open.as_ref().is_some_and(|(_, s)| s.pending == Some(Pending::Mfa)) {
                c.push(challenge(ChallengeName::Mfa, true));
            }
            (EventResponseType::Pass, c, None)
        }
    };
    let stored = match open {
        Some((mut record, mut stored)) => {
            stored.event.event_response = Some(response);
            stored.event.challenge_responses = Some(challenges);
            stored.pending = pending;
            record.body = encode(&stored)?;
            ctx.store().replace_auth_event(&record).await?;
            if step == Step::Passed {
                export(ctx, pool, user, &stored).await;
            }
            stored
        }
        None => {
            let stored = Stored {
                event: new_event(ctx, EventType::Signin, response, challenges).await,
                client_id: ctx.client_id.clone(),
                pending,
            };
            insert(ctx, pool, user, stored.clone()).await?;
            stored
        }
    };
    if step == Step::Passed {
        notify(ctx, pool, user, &stored).await?;
    }
    Ok(())
}

/// The feedback token of an event of the user whose username's lookup key is `key`.
fn feedback_token(ctx: &Ctx, pool_id: &str, key: &str, event_id: &str) -> String {
    let label = format!("auth event feedback v2\0{pool_id}\0{key}\0{event_id}");
    URL_SAFE_NO_PAD.encode(ctx.app.sealer.derive(label.as_bytes()))
}

/// Cognito's notification text when the configuration has no template of its own
/// (inferred from the console's default).
const DEFAULT_SUBJECT: &str = "New sign-in attempt";
const DEFAULT_BODY: &str = "We observed an unrecognized sign-in to your account with this information:\n\
Time: {login-time}\nDevice: {device-name}\nLocation: {city}, {country}\n\
If this sign-in was not by you, you should change your password and notify us by clicking on {one-click-link-invalid}.\n\
If this sign-in was by you, you can follow {one-click-link-valid} to let us know.";

/// The notification of a finished sign-in, when the configuration that applies to it
/// notifies at its risk level (always Low here).
async fn notify(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, stored: &Stored) -> OpResult<()> {
    let Some(config) = threat_protection::effective(ctx, pool.id(), stored.client_id.as_deref()).await? else {
        return Ok(());
    };
    let Some(takeover) = config.account_takeover_risk_configuration else {
        return Ok(());
    };
    let notifies = takeover.actions.low_action.as_ref().is_some_and(|a| a.notify);
    let Some(notice) = takeover.notify_configuration.filter(|_| notifies) else {
        return Ok(());
    };
    let event_id = stored.event.event_id.clone().unwrap_or_default();
    let token = feedback_token(ctx, pool.id(), &user.username_key, &event_id);
    let link = |value: &str| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("userPoolId", pool.id())
            .append_pair("username", &user.username)
            .append_pair("eventId", &event_id)
            .append_pair("feedbackToken", &token)
            .append_pair("feedbackValue", value)
            .finish();
        format!("{}/_userpool/auth-event-feedback?{query}", ctx.app.config.public_url)
    };
    let template = notice.no_action_email.clone();
    let subject = template
        .as_ref()
        .map_or_else(|| DEFAULT_SUBJECT.to_string(), |t| t.subject.clone());
    let body = template
        .as_ref()
        .and_then(|t| t.text_body.clone().or_else(|| t.html_body.clone()))
        .unwrap_or_else(|| DEFAULT_BODY.to_string());
    let context = stored.event.event_context_data.clone().unwrap_or_default();
    let login_time = stored.event.creation_date.map(|t| utc(t.millis())).unwrap_or_default();
    let fill = |s: &str| {
        s.replace("{username}", &user.username)
            .replace("{ip-address}", context.ip_address.as_deref().unwrap_or_default())
            .replace("{device-name}", context.device_name.as_deref().unwrap_or("Unknown"))
            .replace("{city}", context.city.as_deref().unwrap_or("Unknown"))
            .replace("{country}", context.country.as_deref().unwrap_or("Unknown"))
            .replace("{login-time}", &login_time)
            .replace("{one-click-link-valid}", &link("Valid"))
            .replace("{one-click-link-invalid}", &link("Invalid"))
    };
    crate::outbox::deliver_notice(
        ctx,
        user,
        "risk_notification",
        notice.from.as_deref(),
        fill(&subject),
        fill(&body),
    )
    .await
}

/// `YYYY-MM-DD HH:MM:SS UTC` of an instant (epoch ms).
fn utc(ms: i64) -> String {
    let t = crate::clock::utc(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A page token: the position of the last event shown.
fn page_after(next: Option<&str>) -> OpResult<Option<(i64, String)>> {
    let Some(t) = next else {
        return Ok(None);
    };
    token::decode(t)
        .and_then(|k| {
            let (ms, id) = k.split_once(':')?;
            Some((ms.parse::<i64>().ok()?, id.to_string()))
        })
        .map(Some)
        .ok_or_else(|| CognitoError::invalid_parameter("Invalid pagination token."))
}

/// AdminListUserAuthEvents
pub async fn admin_list_user_auth_events(
    ctx: &Ctx,
    req: AdminListUserAuthEventsRequest,
) -> OpResult<AdminListUserAuthEventsResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    threat_protection::require_enabled(&pool)?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let limit = match req.max_results {
        None | Some(0) => DEFAULT_PAGE,
        Some(n) => usize::try_from(n).unwrap_or(DEFAULT_PAGE),
    };
    let after = page_after(req.next_token.as_deref())?;
    let page = ctx
        .store()
        .list_auth_events(
            pool.id(),
            &user.username_key,
            after.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            limit,
        )
        .await?;
    let events = page
        .items
        .iter()
        .map(|r| decode(r).map(|s| s.event))
        .collect::<OpResult<Vec<_>>>()?;
    Ok(AdminListUserAuthEventsResponse {
        auth_events: Some(events),
        next_token: page.next_after.as_deref().map(token::encode),
    })
}

/// Sets the feedback on an event of `user`.
async fn give_feedback(
    ctx: &Ctx,
    pool: &users::Pool,
    user: &UserRecord,
    event_id: &str,
    value: FeedbackValueType,
    provider: &str,
) -> OpResult<()> {
    let not_found = || CognitoError::not_found(format!("Auth event {event_id} does not exist."));
    let mut record = ctx
        .store()
        .get_auth_event(pool.id(), &user.username_key, event_id)
        .await?
        .ok_or_else(not_found)?;
    let mut stored = decode(&record)?;
    stored.event.event_feedback = Some(EventFeedbackType {
        feedback_value: value,
        provider: provider.to_string(),
        feedback_date: Some(Timestamp(ctx.now_ms)),
    });
    record.body = encode(&stored)?;
    ctx.store().replace_auth_event(&record).await.map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })
}

/// AdminUpdateAuthEventFeedback
pub async fn admin_update_auth_event_feedback(
    ctx: &Ctx,
    req: AdminUpdateAuthEventFeedbackRequest,
) -> OpResult<AdminUpdateAuthEventFeedbackResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    threat_protection::require_enabled(&pool)?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    give_feedback(ctx, &pool, &user, &req.event_id, req.feedback_value, "Admin").await?;
    Ok(AdminUpdateAuthEventFeedbackResponse {})
}

/// UpdateAuthEventFeedback
pub async fn update_auth_event_feedback(
    ctx: &Ctx,
    req: UpdateAuthEventFeedbackRequest,
) -> OpResult<UpdateAuthEventFeedbackResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    threat_protection::require_enabled(&pool)?;
    let invalid = || CognitoError::not_authorized("The feedback token is not valid.");
    // The token first: nothing is looked up for a caller without it.
    let key = pool.username_key(&req.username);
    let expected = feedback_token(ctx, pool.id(), &key, &req.event_id);
    let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), req.feedback_token.as_bytes()).into();
    if !same {
        return Err(invalid());
    }
    let user = match users::find(ctx, &pool, &req.username).await? {
        Some(u) if u.username_key == key => u,
        _ => return Err(invalid()),
    };
    give_feedback(ctx, &pool, &user, &req.event_id, req.feedback_value, "User")
        .await
        .map_err(|e| {
            if e.code == userpool_model::ErrorCode::ResourceNotFoundException {
                invalid()
            } else {
                e
            }
        })?;
    Ok(UpdateAuthEventFeedbackResponse {})
}

/// `GET /_userpool/auth-event-feedback?userPoolId=…&username=…&eventId=…&feedbackToken=…&feedbackValue=Valid|Invalid`:
/// the links of the notification email, acting as UpdateAuthEventFeedback.
pub async fn feedback_link(ctx: &Ctx, query: &str) -> OpResult<Vec<u8>> {
    let mut req = UpdateAuthEventFeedbackRequest::default();
    let mut value = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "userPoolId" => req.user_pool_id = v.into_owned(),
            "username" => req.username = v.into_owned(),
            "eventId" => req.event_id = v.into_owned(),
            "feedbackToken" => req.feedback_token = v.into_owned(),
            "feedbackValue" => {
                value = match v.as_ref() {
                    "Valid" => Some(FeedbackValueType::Valid),
                    "Invalid" => Some(FeedbackValueType::Invalid),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    req.feedback_value =
        value.ok_or_else(|| CognitoError::invalid_parameter("feedbackValue must be Valid or Invalid."))?;
    if req.user_pool_id.is_empty() || req.username.is_empty() || req.event_id.is_empty() {
        return Err(CognitoError::invalid_parameter(
            "userPoolId, username and eventId are required.",
        ));
    }
    let value = req.feedback_value;
    update_auth_event_feedback(ctx, req).await?;
    Ok(serde_json::json!({ "FeedbackValue": value.as_str() })
        .to_string()
        .into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_715_100_742_022), "2024-05-07 16:52:22 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn context_from_the_request_body() {
        let body = serde_json::json!({
            "ContextData": {
                "IpAddress": "192.0.2.1", "ServerName": "s", "ServerPath": "/",
                "HttpHeaders": [{"headerName": "user-agent", "headerValue": "Firefox 128"}]
            }
        });
        let c = RequestContext::from_body(&body).unwrap();
        assert_eq!(c.ip, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(c.device_name.as_deref(), Some("Firefox 128"));
        let c =
            RequestContext::from_body(&serde_json::json!({"UserContextData": {"IpAddress": "2001:db8::1"}})).unwrap();
        assert_eq!((c.ip, c.user_ip), (None, Some("2001:db8::1".parse().unwrap())));
        assert!(RequestContext::from_body(&serde_json::json!({"Username": "u"})).is_none());
        let c = RequestContext::from_body(&serde_json::json!({"UserContextData": {"IpAddress": "nope"}})).unwrap();
        assert_eq!(c.user_ip, None);
    }
}
