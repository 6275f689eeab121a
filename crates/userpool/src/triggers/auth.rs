//! PreAuthentication and PostAuthentication (`..._Authentication`).
//!
//! - PreAuthentication runs when a sign-in names its user, before the password is checked
//!   (InitiateAuth's password flows, USER_SRP_AUTH's first step, CUSTOM_AUTH started with
//!   SRP_A), with InitiateAuth's `ClientMetadata` as `validationData`. For a user who does
//!   not exist, when the client hides existence, it runs with `userNotFound: true` and no
//!   attributes. Its error refuses the sign-in.
//! - PostAuthentication runs once the sign-in is proven, before the tokens are made
//!   (after it, PreTokenGeneration), with `newDeviceUsed` and the answering request's
//!   `ClientMetadata`. Its error refuses the sign-in: no tokens.

use super::{invoke, metadata, put, user_attributes, Call, Trigger};
use crate::app::Ctx;
use crate::error::OpResult;
use crate::ops::users::Pool;
use serde_json::json;
use userpool_store::UserRecord;

/// Calls PreAuthentication for `user` (`None`: a user not found, named `typed`).
pub async fn pre_authentication(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    user: Option<&UserRecord>,
    typed: &str,
) -> OpResult<()> {
    if Trigger::PreAuthentication.function(pool).is_none() {
        return Ok(());
    }
    let mut request = match user {
        Some(u) => json!({"userAttributes": user_attributes(pool, u)}),
        None => json!({"userAttributes": {}, "userNotFound": true}),
    };
    put(&mut request, "validationData", metadata(ctx.client_metadata.as_ref()));
    let call = Call {
        trigger: Trigger::PreAuthentication,
        source: "PreAuthentication_Authentication",
        user_name: user.map_or(typed, |u| u.username.as_str()),
        client_id,
        request,
        response: json!({}),
    };
    invoke(ctx, pool, call).await.map(|_| ())
}

/// Calls PostAuthentication for `user`, signed in through `client_id`.
pub async fn post_authentication(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    user: &UserRecord,
    new_device_used: bool,
) -> OpResult<()> {
    if Trigger::PostAuthentication.function(pool).is_none() {
        return Ok(());
    }
    let mut request = json!({"userAttributes": user_attributes(pool, user), "newDeviceUsed": new_device_used});
    put(&mut request, "clientMetadata", metadata(ctx.client_metadata.as_ref()));
    let call = Call {
        trigger: Trigger::PostAuthentication,
        source: "PostAuthentication_Authentication",
        user_name: &user.username,
        client_id,
        request,
        response: json!({}),
    };
    invoke(ctx, pool, call).await.map(|_| ())
}
