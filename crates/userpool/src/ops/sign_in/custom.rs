//! CUSTOM_AUTH: the sign-in the pool's DefineAuthChallenge, CreateAuthChallenge and
//! VerifyAuthChallengeResponse functions run ([`crate::triggers::challenge`]).
//!
//! | request | what happens |
//! |---|---|
//! | InitiateAuth CUSTOM_AUTH | Define with `session: []` |
//! | InitiateAuth CUSTOM_AUTH with `CHALLENGE_NAME: SRP_A` and `SRP_A` (Amplify's `CUSTOM_WITH_SRP`, identity-js with a password) | PreAuthentication, then Define with `[SRP_A]`; a PASSWORD_VERIFIER answer is the SRP challenge ([`super::srp`]), whose proof adds `PASSWORD_VERIFIER` and asks Define again |
//! | Define answers `CUSTOM_CHALLENGE` | Create; the client gets CUSTOM_CHALLENGE with its public parameters and `USERNAME`, and a Session sealing the private ones |
//! | RespondToAuthChallenge CUSTOM_CHALLENGE (`ANSWER`) | Verify; its result joins the history; Define again |
//! | Define answers `issueTokens` | after a password, what any password sign-in does next (NEW_PASSWORD_REQUIRED, MFA, a remembered device); without one, a remembered device's DEVICE_SRP_AUTH or tokens |
//! | Define answers `failAuthentication` | `NotAuthorizedException: Incorrect username or password.` |
//!
//! Every Session is single-use and lives the client's AuthSessionValidity (3 minutes by
//! default); a wrong answer does not end the flow by itself: Define decides, as in
//! Cognito. For a user not found, when the client hides existence, the triggers run with
//! `userNotFound: true` and no tokens can come of it. A flow holds at most
//! [`MAX_CHALLENGES`] answered challenges (Cognito documents no bound; userpool sets one
//! so a function that never decides cannot loop a client forever).

use super::grant::Source;
use super::state::{self, State, Step};
use super::{after_password as password_next, after_second_factor, check_status, non_empty, param, srp, Outcome};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{check_secret_hash, Client};
use crate::ops::users;
use crate::triggers::challenge::{self, ChallengeResult, Decision, Subject};
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;
use userpool_store::UserRecord;

/// The most challenges one CUSTOM_AUTH flow may answer.
pub const MAX_CHALLENGES: usize = 20;

fn result(name: &str, ok: bool, metadata: Option<String>) -> ChallengeResult {
    ChallengeResult {
        name: name.to_string(),
        result: ok,
        metadata,
    }
}

/// InitiateAuth with CUSTOM_AUTH. `ctx` carries InitiateAuth's ClientMetadata (for
/// PreAuthentication); `quiet` does not (the custom-challenge triggers never get it from
/// InitiateAuth).
pub(super) async fn start(
    ctx: &Ctx,
    quiet: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    challenge::check_configured(pool)?;
    let name = param(params, "USERNAME")?;
    check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
    let device = non_empty(params, "DEVICE_KEY").map(str::to_string);
    let user = match users::find(ctx, pool, name).await? {
        Some(u) => Some(u),
        None if client.hides_users() => None,
        None => return Err(users::user_not_found()),
    };
    // Where the client hides users, a disabled user is told so only once signed in (as
    // the password flows do), or the first step would tell who is disabled.
    if let Some(u) = user.as_ref().filter(|_| !client.hides_users()) {
        if !u.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
    }
    if params.get("CHALLENGE_NAME").map(String::as_str) == Some("SRP_A") {
        let a = srp::client_public(param(params, "SRP_A")?)?;
        crate::triggers::auth::pre_authentication(ctx, pool, client.id(), user.as_ref(), name).await?;
        let history = vec![result("SRP_A", true, None)];
        let who = Subject {
            user: user.as_ref(),
            typed: name,
            client_id: client.id(),
        };
        return match challenge::define(quiet, pool, who, &history).await? {
            Decision::Challenge(c) if c == "PASSWORD_VERIFIER" => match &user {
                Some(u) => srp::user_challenge(quiet, pool, client, u, &a, Some(history)),
                None => Ok(srp::decoy_challenge(quiet, pool, client, name, &a)),
            },
            decision => decide(quiet, pool, client, user.as_ref(), name, history, device, decision).await,
        };
    }
    let who = Subject {
        user: user.as_ref(),
        typed: name,
        client_id: client.id(),
    };
    let decision = challenge::define(quiet, pool, who, &[]).await?;
    decide(quiet, pool, client, user.as_ref(), name, Vec::new(), device, decision).await
}

/// PASSWORD_VERIFIER proven in a CUSTOM_AUTH flow: Define decides what follows.
pub(super) async fn after_password(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    mut history: Vec<ChallengeResult>,
    device: Option<&str>,
) -> OpResult<Outcome> {
    history.push(result("PASSWORD_VERIFIER", true, None));
    let who = Subject {
        user: Some(user),
        typed: &user.username,
        client_id: client.id(),
    };
    let decision = challenge::define(ctx, pool, who, &history).await?;
    decide(
        ctx,
        pool,
        client,
        Some(user),
        &user.username,
        history,
        device.map(str::to_string),
        decision,
    )
    .await
}

/// Carries out Define's decision.
#[allow(clippy::too_many_arguments, reason = "the flow's whole state, each used once")]
async fn decide(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: Option<&UserRecord>,
    typed: &str,
    history: Vec<ChallengeResult>,
    device: Option<String>,
    decision: Decision,
) -> OpResult<Outcome> {
    match decision {
        Decision::Fail => Err(challenge::failed()),
        Decision::IssueTokens => {
            let Some(user) = user else {
                return Err(challenge::failed());
            };
            if history.iter().any(|c| c.name == "PASSWORD_VERIFIER" && c.result) {
                // A password was proven: the rest is what follows any password.
                return password_next(ctx, pool, client, user, device.as_deref()).await;
            }
            check_status(ctx, pool, user)?;
            after_second_factor(ctx, pool, client, user, device.as_deref(), Source::Authentication).await
        }
        Decision::Challenge(name) if name == "CUSTOM_CHALLENGE" => {
            if history.len() >= MAX_CHALLENGES {
                return Err(challenge::failed());
            }
            let who = Subject {
                user,
                typed,
                client_id: client.id(),
            };
            let created = challenge::create(ctx, pool, who, &name, &history).await?;
            let username = match user {
                Some(u) => u.username.clone(),
                None => srp::unknown_user_username(ctx, pool, typed),
            };
            let state = State::new(
                ctx,
                Step::CustomChallenge {
                    typed: typed.to_string(),
                    history,
                    private: created.private,
                    metadata: created.metadata,
                    device,
                },
                pool.id(),
                user.map_or("", |u| u.username_key.as_str()),
                client.id(),
                client.session_ttl_ms(),
            );
            let mut parameters: HashMap<String, String> = created.public.into_iter().collect();
            parameters.insert("USERNAME".into(), username);
            Ok(Outcome {
                challenge_name: Some(ChallengeNameType::CustomChallenge),
                session: Some(state::seal(ctx, &state)),
                challenge_parameters: Some(parameters),
                authentication_result: None,
                signed_in: None,
                available_challenges: None,
            })
        }
        // PASSWORD_VERIFIER is possible only right after SRP_A ([`start`]); any other
        // name is not a challenge Define may ask for here.
        Decision::Challenge(_) => Err(crate::triggers::unrecognizable()),
    }
}

/// RespondToAuthChallenge with CUSTOM_CHALLENGE: Verify judges `ANSWER`, then Define
/// decides.
pub(super) async fn answer(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    session: Option<&str>,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    let given = param(responses, "ANSWER")?;
    let invalid_session = || CognitoError::not_authorized("Invalid session for the user.");
    let state = state::open_for(ctx, session, pool.id(), client.id()).ok_or_else(invalid_session)?;
    let Step::CustomChallenge {
        typed,
        mut history,
        private,
        metadata,
        device,
    } = state.step.clone()
    else {
        return Err(invalid_session());
    };
    let user = if state.user.is_empty() {
        None
    } else {
        Some(
            ctx.store()
                .get_user(pool.id(), &state.user)
                .await?
                .ok_or_else(invalid_session)?,
        )
    };
    // USERNAME is the username, or what was typed (identity-js sends the alias it began with).
    let names_it = match &user {
        Some(u) => {
            name == u.username
                || pool.username_key(name) == u.username_key
                || users::find(ctx, pool, name)
                    .await?
                    .is_some_and(|f| f.username_key == u.username_key)
        }
        None => {
            pool.username_key(name) == pool.username_key(&typed)
                || name == srp::unknown_user_username(ctx, pool, &typed)
        }
    };
    if !names_it {
        return Err(invalid_session());
    }
    check_secret_hash(
        client,
        &[name, user.as_ref().map_or(typed.as_str(), |u| u.username.as_str())],
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    // Single use: an answer cannot be tried twice on one challenge.
    if !ctx.store().consume_state(&state.nonce_bytes(), state.exp).await? {
        return Err(invalid_session());
    }
    let who = Subject {
        user: user.as_ref(),
        typed: &typed,
        client_id: client.id(),
    };
    let correct = challenge::verify(ctx, pool, who, &private, given).await?;
    history.push(result("CUSTOM_CHALLENGE", correct, metadata));
    let decision = challenge::define(ctx, pool, who, &history).await?;
    let device = non_empty(responses, "DEVICE_KEY").map(str::to_string).or(device);
    decide(ctx, pool, client, user.as_ref(), &typed, history, device, decision).await
}
