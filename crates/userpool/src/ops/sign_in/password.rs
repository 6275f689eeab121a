//! Password flows: USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH / ADMIN_NO_SRP_AUTH; and
//! the attempt accounting every password check (SRP's too) shares: an attempt is spent
//! *before* the password is checked, in one store statement, and a correct password gives
//! it back ([`crate::limits`]), so the lockout holds however many guesses are in flight.

use super::sign_in_user;
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::ops::app_clients::Client;
use crate::ops::users;
use crate::passwords;
use userpool_store::UserRecord;

pub(super) fn check_not_locked(ctx: &Ctx, user: &UserRecord) -> OpResult<()> {
    if user.locked_until_ms > ctx.now_ms {
        return Err(CognitoError::not_authorized("Password attempts exceeded"));
    }
    Ok(())
}

/// Spends one sign-in attempt before a password is checked (see [`crate::limits`]);
/// refused while the user is locked out. The failures counted so far, this one included.
pub(super) async fn spend_attempt(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<i64> {
    limits::spend_password_attempt(ctx, pool.id(), &user.username_key)
        .await?
        .ok_or_else(|| CognitoError::not_authorized("Password attempts exceeded"))
}

/// A wrong password whose attempt was spent: the failure stands, and past the free
/// attempts the answer is "Password attempts exceeded" (the user is locked now).
pub(super) async fn wrong_password(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, failures: i64) -> CognitoError {
    crate::ops::auth_events::sign_in_failed(ctx, pool, user).await;
    if let Err(e) = limits::password_failed(ctx, pool.id(), &user.username_key).await {
        return e;
    }
    if failures > limits::FREE_PASSWORD_ATTEMPTS {
        CognitoError::not_authorized("Password attempts exceeded")
    } else {
        CognitoError::incorrect_credentials()
    }
}

/// A correct password: the attempts spent are given back.
pub(super) async fn password_proven(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<()> {
    limits::password_proven(ctx, pool.id(), &user.username_key).await
}

/// USER_PASSWORD_AUTH and the admin password flows: the user, once the password is proven.
pub(super) async fn sign_in(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    name: &str,
    password: &str,
) -> OpResult<UserRecord> {
    let user = match users::find(ctx, pool, name).await? {
        Some(u) => u,
        None => match crate::triggers::migration::migrate(
            ctx,
            pool,
            client.id(),
            client.hides_users(),
            name,
            crate::triggers::migration::Reason::Authentication { password },
        )
        .await?
        {
            Some(migrated) => migrated,
            None => {
                if client.hides_users() {
                    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), None, name).await?;
                }
                let e = sign_in_user(ctx, pool, client, name).await.err();
                // The same password work as for a real user, so the answer's timing does
                // not tell whether the user exists.
                std::hint::black_box(passwords::make_verifier(pool.id(), name, password));
                return Err(e.unwrap_or_else(CognitoError::incorrect_credentials));
            }
        },
    };
    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), Some(&user), name).await?;
    super::check_imported(client, &user)?;
    let failures = spend_attempt(ctx, pool, &user).await?;
    let ok = match &user.password {
        Some(v) => passwords::matches(pool.id(), &user.username, v, password),
        // A password nobody was given (users::admin_create_user): never matches, after the
        // same work as one that does.
        None => {
            std::hint::black_box(passwords::make_verifier(pool.id(), &user.username, password));
            false
        }
    };
    if !ok {
        return Err(wrong_password(ctx, pool, &user, failures).await);
    }
    password_proven(ctx, pool, &user).await?;
    super::check_status(ctx, pool, &user)?;
    Ok(user)
}
