//! Attempt limits: how many guesses and code requests a user gets, and the one error each
//! limit answers. Every limit is spent by one atomic store statement before the thing it
//! guards is checked (see the concurrent-write rule of `userpool_store::Store`), so
//! parallel requests cannot each read "one left" and all go through.
//!
//! Confirmed (Cognito developer guide, "Amazon Cognito user pools authentication flow":
//! lockout): after five failed sign-in attempts the user is locked out for one second,
//! doubling with each further failure up to about fifteen minutes; the answer is
//! `NotAuthorizedException: Password attempts exceeded`.
//!
//! Inferred (Cognito publishes no per-user numbers for codes; these are reported by users
//! and chosen to be as strict as what they report):
//! - a code takes [`CODE_ATTEMPTS`] wrong guesses, then it is void and a guess answers
//!   `LimitExceededException` until a new code is requested;
//! - a user may request [`CODE_REQUESTS_PER_WINDOW`] codes per purpose (SignUp resend,
//!   ForgotPassword, GetUserAttributeVerificationCode) and make [`GUESSES_PER_WINDOW`]
//!   wrong guesses per purpose in [`WINDOW_MS`]; past either, `LimitExceededException`
//!   ("Attempt limit exceeded, please try after some time.", the text Cognito gives for
//!   ChangePassword and ForgotPassword);
//! - ChangePassword's previous password spends a sign-in attempt like any other password
//!   check; once locked it answers `LimitExceededException` as Cognito does.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use userpool_model::ErrorCode;
use userpool_store::PasswordSpend;

/// Consecutive wrong passwords before the lock starts (the fifth failure locks for 1 s).
pub const FREE_PASSWORD_ATTEMPTS: i64 = 5;
/// The longest lock, ms (Cognito: "about 15 minutes").
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// Wrong guesses one code takes before it is void.
pub const CODE_ATTEMPTS: i64 = 5;
/// The window code requests and wrong guesses are counted in.
pub const WINDOW_MS: i64 = 3600 * 1000;
/// Codes a user may request per purpose in a window.
pub const CODE_REQUESTS_PER_WINDOW: i64 = 10;
/// Code guesses (right or wrong; each one that spent a code attempt) a user may make per purpose in a window.
pub const GUESSES_PER_WINDOW: i64 = 20;

/// `LimitExceededException: Attempt limit exceeded, please try after some time.`
pub fn exceeded() -> CognitoError {
    CognitoError::new(
        ErrorCode::LimitExceededException,
        "Attempt limit exceeded, please try after some time.",
    )
}

/// How long one password check may hold the one-at-a-time slot past the free attempts
/// (a node that dies mid-check frees it after this).
pub const CHECK_SLOT_MS: i64 = 10_000;
/// How long a password check waits for the other checks of the same user in flight.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Spends one password attempt of a user before a password is checked; `None` while the
/// user is locked out, else the failures counted so far, this one included. When the
/// user's budget is taken by checks in flight (parallel sign-ins), waits for them with a
/// short backoff: they finish in milliseconds, a correct one frees everything, wrong ones
/// start the lock. The caller then gives the attempt back ([`password_proven`]) or
/// confirms it ([`password_failed`]).
pub async fn spend_password_attempt(ctx: &Ctx, pool_id: &str, username_key: &str) -> OpResult<Option<i64>> {
    let started = std::time::Instant::now();
    let mut pause_ms = 1u64;
    loop {
        let waited = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = ctx.now_ms.saturating_add(waited);
        let spend = ctx
            .store()
            .spend_password_attempt(pool_id, username_key, now, FREE_PASSWORD_ATTEMPTS, CHECK_SLOT_MS)
            .await;
        match spend {
            Ok(PasswordSpend::Spent(n)) => return Ok(Some(n)),
            Ok(PasswordSpend::Locked) => return Ok(None),
            Ok(PasswordSpend::Busy) if started.elapsed() < BUSY_WAIT => {
                // Jitter keeps waiters from retrying in step.
                let jitter = rand::random::<u64>() % pause_ms.max(1);
                tokio::time::sleep(std::time::Duration::from_millis(pause_ms + jitter)).await;
                pause_ms = (pause_ms * 2).min(25);
            }
            Ok(PasswordSpend::Busy) => {
                return Err(CognitoError::new(
                    ErrorCode::TooManyRequestsException,
                    "Too many requests",
                ))
            }
            Err(userpool_store::StoreError::NotFound) => return Err(crate::ops::users::user_not_found()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The password of a spent attempt was wrong: the failure stands (and may start the lock).
pub async fn password_failed(ctx: &Ctx, pool_id: &str, username_key: &str) -> OpResult<()> {
    ctx.store()
        .record_password_failure(pool_id, username_key, ctx.now_ms, FREE_PASSWORD_ATTEMPTS, MAX_LOCK_MS)
        .await?;
    Ok(())
}

/// The password of a spent attempt was right: the attempts are given back.
pub async fn password_proven(ctx: &Ctx, pool_id: &str, username_key: &str) -> OpResult<()> {
    ctx.store().clear_password_failures(pool_id, username_key).await?;
    Ok(())
}

/// Counts one event of `kind` for a user and purpose in the current window; refused once
/// past `limit`.
pub async fn count(
    ctx: &Ctx,
    kind: &str,
    pool_id: &str,
    username_key: &str,
    purpose: &str,
    limit: i64,
) -> OpResult<()> {
    // Keys are unambiguous: the pool id and purpose hold no '/', and the username key is last.
    let key = format!("{kind}/{pool_id}/{purpose}/{username_key}");
    let n = ctx.store().count_in_window(&key, ctx.now_ms, WINDOW_MS).await?;
    if n > limit {
        tracing::info!(pool = %pool_id, purpose, kind, "per-user limit reached");
        return Err(exceeded());
    }
    Ok(())
}
