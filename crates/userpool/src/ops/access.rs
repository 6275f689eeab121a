//! Operations a user authorises with their access token: GetUser, UpdateUserAttributes,
//! DeleteUserAttributes, ChangePassword, DeleteUser, GlobalSignOut; RevokeToken (by refresh
//! token and client); AdminUserGlobalSignOut (SigV4). Each checks its access token with
//! [`crate::auth::token::authorize`].

use crate::app::Ctx;
use crate::auth::token as access_token;
use crate::codes;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::ops::{app_clients, auth_events, mfa, permissions, users};
use crate::passwords;
use crate::tokens::jwt;

use userpool_model::types::{
    AdminUserGlobalSignOutRequest, AdminUserGlobalSignOutResponse, ChangePasswordRequest, ChangePasswordResponse,
    DeleteUserAttributesRequest, DeleteUserAttributesResponse, DeleteUserRequest, GetUserRequest, GetUserResponse,
    GlobalSignOutRequest, GlobalSignOutResponse, RevokeTokenRequest, RevokeTokenResponse, UpdateUserAttributesRequest,
    UpdateUserAttributesResponse,
};
use userpool_model::types::{EventResponseType, EventType};
use userpool_model::ErrorCode;
use userpool_store::StoreError;

/// The settings of the client an access token was issued to (its attribute permissions);
/// `None` when the client has been deleted since (then only the rules that hold for every
/// client apply).
async fn token_client(
    ctx: &Ctx,
    claims: &access_token::AccessClaims,
) -> OpResult<userpool_model::types::UserPoolClientType> {
    match app_clients::find_client(ctx, &claims.client_id).await {
        Ok(c) => Ok(c.settings),
        Err(e) if e.code == ErrorCode::ResourceNotFoundException => Ok(Default::default()),
        Err(e) => Err(e),
    }
}

/// GetUser: the attributes the token's client may read (ReadAttributes; never the
/// developer-only ones).
pub async fn get_user(ctx: &Ctx, req: GetUserRequest) -> OpResult<GetUserResponse> {
    let (_, mut user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    let client = token_client(ctx, &claims).await?;
    user.attributes = permissions::filter_readable(&client, &user.attributes);
    let (user_mfa_setting_list, preferred_mfa_setting) = mfa::wire_settings(&user);
    Ok(GetUserResponse {
        username: user.username.clone(),
        user_attributes: users::wire_attributes(&user),
        mfa_options: mfa::wire_options(&user),
        preferred_mfa_setting,
        user_mfa_setting_list,
    })
}

/// UpdateUserAttributes
pub async fn update_user_attributes(
    ctx: &Ctx,
    req: UpdateUserAttributesRequest,
) -> OpResult<UpdateUserAttributesResponse> {
    let (pool, user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    let ctx = &ctx.with_client(Some(&claims.client_id), req.client_metadata.clone());
    let client = token_client(ctx, &claims).await?;
    permissions::check_writable(&client, req.user_attributes.iter().map(|a| a.name.as_str()))?;
    users::check_attributes(&pool, &req.user_attributes, false)?;
    let (user, before) = users::modify(ctx, &pool, user, |user| {
        let before = user.attributes.clone();
        users::set_attributes(&mut user.attributes, &req.user_attributes);
        user.modified_ms = ctx.now_ms;
        users::refresh_lookups(&pool, user);
        Ok(before)
    })
    .await?;
    // A changed email or phone that the pool verifies automatically gets a code.
    let auto = pool.settings().auto_verified_attributes.clone().unwrap_or_default();
    let mut details = Vec::new();
    for a in &auto {
        let name = a.as_str();
        let changed = users::attr(&user, name) != before.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if changed && users::attr(&user, name).is_some() {
            if let Some(d) = codes::delivery(&user, Some(name)) {
                // The change is committed: past the code-request limit it stands, and
                // only the code is not sent (the user asks for one later).
                match codes::issue(ctx, &user, &format!("verify:{name}"), Some(&d), "UpdateUserAttribute").await {
                    Ok(()) => details.push(d),
                    Err(e) if e.code == ErrorCode::LimitExceededException => {
                        tracing::info!(pool = %pool.id(), attribute = name, "verification code not sent: request limit reached");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(UpdateUserAttributesResponse {
        code_delivery_details_list: Some(details),
    })
}

/// DeleteUserAttributes
pub async fn delete_user_attributes(
    ctx: &Ctx,
    req: DeleteUserAttributesRequest,
) -> OpResult<DeleteUserAttributesResponse> {
    let (pool, user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    let client = token_client(ctx, &claims).await?;
    permissions::check_writable(&client, req.user_attribute_names.iter().map(String::as_str))?;
    users::modify(ctx, &pool, user, |user| {
        users::delete_attributes(&pool, user, &req.user_attribute_names)?;
        user.modified_ms = ctx.now_ms;
        users::refresh_lookups(&pool, user);
        Ok(())
    })
    .await?;
    Ok(DeleteUserAttributesResponse {})
}

/// ChangePassword
pub async fn change_password(ctx: &Ctx, req: ChangePasswordRequest) -> OpResult<ChangePasswordResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let previous = req.previous_password.as_deref().unwrap_or_default();
    // The previous password is a password check like a sign-in's: it spends an attempt
    // first (limits.rs); once locked, Cognito answers ChangePassword LimitExceededException.
    if limits::spend_password_attempt(ctx, pool.id(), &user.username_key)
        .await?
        .is_none()
    {
        return Err(limits::exceeded());
    }
    let ok = user
        .password
        .as_ref()
        .is_some_and(|v| passwords::matches(pool.id(), &user.username, v, previous));
    if !ok {
        limits::password_failed(ctx, pool.id(), &user.username_key).await?;
        auth_events::record(ctx, &pool, &user, EventType::Passwordchange, EventResponseType::Fail).await;
        return Err(CognitoError::incorrect_credentials());
    }
    limits::password_proven(ctx, pool.id(), &user.username_key).await?;
    passwords::check_policy(&pool.password_policy(), &req.proposed_password)?;
    let verifier = passwords::make_verifier(pool.id(), &user.username, &req.proposed_password);
    let (user, ()) = users::modify(ctx, &pool, user, |user| {
        user.password = Some(verifier.clone());
        user.password_set_ms = ctx.now_ms;
        user.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    auth_events::record(ctx, &pool, &user, EventType::Passwordchange, EventResponseType::Pass).await;
    Ok(ChangePasswordResponse {})
}

/// DeleteUser
pub async fn delete_user(ctx: &Ctx, req: DeleteUserRequest) -> OpResult<()> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    match ctx.store().delete_user(pool.id(), &user.username_key).await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    // The user's passkeys go with the user (kept by sub, which no new user reuses).
    crate::ops::passkeys::forget_user(ctx, pool.id(), &user.sub).await
}

/// GlobalSignOut
pub async fn global_sign_out(ctx: &Ctx, req: GlobalSignOutRequest) -> OpResult<GlobalSignOutResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    ctx.store()
        .sign_out_user(pool.id(), &user.username_key, ctx.now_ms)
        .await?;
    Ok(GlobalSignOutResponse {})
}

/// AdminUserGlobalSignOut
pub async fn admin_user_global_sign_out(
    ctx: &Ctx,
    req: AdminUserGlobalSignOutRequest,
) -> OpResult<AdminUserGlobalSignOutResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    ctx.store()
        .sign_out_user(pool.id(), &user.username_key, ctx.now_ms)
        .await?;
    Ok(AdminUserGlobalSignOutResponse {})
}

/// RevokeToken
pub async fn revoke_token(ctx: &Ctx, req: RevokeTokenRequest) -> OpResult<RevokeTokenResponse> {
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    if client.secret.is_some() {
        let given = req.client_secret.as_deref().unwrap_or_default();
        if !client.secret_matches(given) {
            return Err(CognitoError::new(
                ErrorCode::NotAuthorizedException,
                "Client authentication failed.",
            ));
        }
    }
    if client.settings.enable_token_revocation == Some(false) {
        return Err(CognitoError::new(
            ErrorCode::UnsupportedOperationException,
            "Token revocation is not enabled for this client.",
        ));
    }
    if jwt::peek(&req.token).is_some() {
        return Err(CognitoError::new(
            ErrorCode::UnsupportedTokenTypeException,
            "Unsupported token type.",
        ));
    }
    if let Some(record) = ctx.store().get_refresh_token(&jwt::refresh_hash(&req.token)).await? {
        if record.client_id != client.id() {
            return Err(CognitoError::new(
                ErrorCode::NotAuthorizedException,
                "Invalid Refresh Token.",
            ));
        }
        // The family stays revoked as long as any of its access tokens could live.
        let until = ctx.now_ms + 86_400_000;
        ctx.store()
            .revoke_refresh_token(&record.token_hash, &record.origin_jti, until.max(record.expires_ms))
            .await?;
    }
    Ok(RevokeTokenResponse {})
}
