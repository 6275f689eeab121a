//! What users do for themselves without a password sign-in: SignUp, ConfirmSignUp,
//! ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword; and with an access
//! token: GetUserAttributeVerificationCode, VerifyUserAttribute. Codes are real (random,
//! expiring, single-use, five tries) and delivered to the log ([`crate::codes`]).

use crate::app::Ctx;
use crate::auth::token as access_token;
use crate::codes;
use crate::error::{CognitoError, OpResult};
use crate::limits;
use crate::ops::{app_clients, auth_events, permissions, users};
use crate::passwords;
use crate::triggers;
use userpool_model::types::{AuthFactorType, EventResponseType, EventType};
use userpool_model::types::{
    ConfirmForgotPasswordRequest, ConfirmForgotPasswordResponse, ConfirmSignUpRequest, ConfirmSignUpResponse,
    ForgotPasswordRequest, ForgotPasswordResponse, GetUserAttributeVerificationCodeRequest,
    GetUserAttributeVerificationCodeResponse, ResendConfirmationCodeRequest, ResendConfirmationCodeResponse,
    SignUpRequest, SignUpResponse, VerifyUserAttributeRequest, VerifyUserAttributeResponse,
};
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// SignUp
pub async fn sign_up(ctx: &Ctx, req: SignUpRequest) -> OpResult<SignUpResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    app_clients::check_secret_hash(&client, &[&req.username], req.secret_hash.as_deref())?;
    let pool = users::load(ctx, &client.record.pool_id).await?;
    if pool
        .settings()
        .admin_create_user_config
        .as_ref()
        .and_then(|c| c.allow_admin_create_user_only)
        == Some(true)
    {
        return Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            "SignUp is not permitted for this user pool",
        ));
    }
    // Without a password only where the pool signs users in with one-time codes.
    let passwordless = crate::ops::user_pools::first_factors(pool.settings())
        .iter()
        .any(|f| matches!(f, AuthFactorType::EmailOtp | AuthFactorType::SmsOtp));
    let password = req.password.as_deref().filter(|p| !p.is_empty());
    if password.is_none() && !passwordless {
        return Err(CognitoError::invalid_parameter("Password is required for sign-up."));
    }
    let attrs = req.user_attributes.unwrap_or_default();
    permissions::check_writable(&client.settings, attrs.iter().map(|a| a.name.as_str()))?;
    users::check_attributes(&pool, &attrs, true)?;
    if let Some(password) = password {
        passwords::check_policy(&pool.password_policy(), password)?;
    }
    let (username, sub, mut attributes) = users::new_identity(&pool, &req.username, &attrs)?;
    users::check_required(&pool, &attributes)?;
    // PreSignUp sees the attributes as submitted (no `sub`).
    let submitted: Vec<(String, String)> = attributes.iter().filter(|(n, _)| n != "sub").cloned().collect();
    let decision = triggers::sign_up::pre_sign_up(
        ctx,
        &pool,
        triggers::sign_up::Source::SignUp { client_id: client.id() },
        &username,
        &submitted,
        triggers::sign_up::validation_data(req.validation_data.as_deref()).as_ref(),
    )
    .await?;
    for (flag, yes) in [
        ("email_verified", decision.verify_email),
        ("phone_number_verified", decision.verify_phone),
    ] {
        if yes {
            users::set_attributes(
                &mut attributes,
                &[userpool_model::types::AttributeType {
                    name: flag.into(),
                    value: Some("true".into()),
                }],
            );
        }
    }
    let status = if decision.confirm { "CONFIRMED" } else { "UNCONFIRMED" };
    let user = users::new_user(&pool, (username, sub.clone(), attributes), status, password, ctx.now_ms);
    // A clash on the username, or on an email or phone that is the username, is refused by
    // the store (UsernameExistsException / AliasExistsException).
    ctx.store()
        .create_user(&user)
        .await
        .map_err(|e| users::write_error(e, &pool))?;
    auth_events::record(ctx, &pool, &user, EventType::Signup, EventResponseType::Pass).await;
    if decision.confirm {
        // Auto-confirmed by PreSignUp: no code is sent.
        return Ok(SignUpResponse {
            user_confirmed: true,
            code_delivery_details: None,
            user_sub: sub,
            session: None,
        });
    }
    let auto = pool.settings().auto_verified_attributes.clone().unwrap_or_default();
    let prefer = auto
        .iter()
        .map(|a| a.as_str())
        .find(|a| users::attr(&user, a).is_some());
    let details = prefer.and_then(|a| codes::delivery(&user, Some(a)));
    codes::issue(ctx, &user, "signup", details.as_ref(), "SignUp").await?;
    Ok(SignUpResponse {
        user_confirmed: false,
        code_delivery_details: details,
        user_sub: sub,
        session: None,
    })
}

async fn user_for_client(
    ctx: &Ctx,
    client: &app_clients::Client,
    pool: &users::Pool,
    name: &str,
) -> OpResult<UserRecord> {
    match users::find(ctx, pool, name).await? {
        Some(u) => Ok(u),
        None if client.hides_users() => Err(CognitoError::new(
            ErrorCode::CodeMismatchException,
            "Invalid verification code provided, please try again.",
        )),
        None => Err(users::user_not_found()),
    }
}

/// ConfirmSignUp
pub async fn confirm_sign_up(ctx: &Ctx, req: ConfirmSignUpRequest) -> OpResult<ConfirmSignUpResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    app_clients::check_secret_hash(&client, &[&req.username], req.secret_hash.as_deref())?;
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let user = user_for_client(ctx, &client, &pool, &req.username).await?;
    let not_unconfirmed = |user: &UserRecord| {
        CognitoError::new(
            ErrorCode::NotAuthorizedException,
            format!("User cannot be confirmed. Current status is {}", user.status),
        )
    };
    if user.status != "UNCONFIRMED" {
        return Err(not_unconfirmed(&user));
    }
    codes::redeem(ctx, &user, "signup", &req.confirmation_code).await?;
    let (user, ()) = users::modify(ctx, &pool, user, |user| {
        if user.status != "UNCONFIRMED" {
            return Err(not_unconfirmed(user));
        }
        user.status = "CONFIRMED".into();
        // The code went to the auto-verified attribute: it is verified now.
        for a in pool.settings().auto_verified_attributes.clone().unwrap_or_default() {
            let flag = format!("{}_verified", a.as_str());
            if users::attr(user, a.as_str()).is_some() {
                users::set_attributes(
                    &mut user.attributes,
                    &[userpool_model::types::AttributeType {
                        name: flag,
                        value: Some("true".into()),
                    }],
                );
                break;
            }
        }
        user.modified_ms = ctx.now_ms;
        users::refresh_lookups(&pool, user);
        Ok(())
    })
    .await?;
    triggers::sign_up::post_confirmation(ctx, &pool, &user, client.id(), triggers::sign_up::Confirmed::SignUp).await?;
    // The code proved the address: a client with ALLOW_USER_AUTH may sign the user in with
    // this Session (InitiateAuth USER_AUTH), once, within the client's session validity.
    let session = client
        .allows(userpool_model::types::AuthFlowType::UserAuth)
        .then(|| crate::ops::sign_in::signed_up_session(ctx, &pool, &client, &user));
    Ok(ConfirmSignUpResponse { session })
}

/// ResendConfirmationCode
pub async fn resend_confirmation_code(
    ctx: &Ctx,
    req: ResendConfirmationCodeRequest,
) -> OpResult<ResendConfirmationCodeResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    app_clients::check_secret_hash(&client, &[&req.username], req.secret_hash.as_deref())?;
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let user = match users::find(ctx, &pool, &req.username).await? {
        Some(u) => u,
        // "Amazon Cognito returns a simulated response" for an unknown user.
        None if client.hides_users() => {
            return Ok(ResendConfirmationCodeResponse {
                code_delivery_details: Some(simulated_delivery()),
            })
        }
        None => return Err(users::user_not_found()),
    };
    if user.status != "UNCONFIRMED" {
        return Err(CognitoError::invalid_parameter("User is already confirmed."));
    }
    let details = codes::delivery(&user, None);
    codes::issue(ctx, &user, "signup", details.as_ref(), "ResendCode").await?;
    auth_events::record(ctx, &pool, &user, EventType::Resendcode, EventResponseType::Pass).await;
    Ok(ResendConfirmationCodeResponse {
        code_delivery_details: details,
    })
}

/// A simulated destination, as Cognito answers for an unknown user when the client hides
/// existence.
fn simulated_delivery() -> userpool_model::types::CodeDeliveryDetailsType {
    userpool_model::types::CodeDeliveryDetailsType {
        destination: Some("u***@e***".into()),
        delivery_medium: Some(userpool_model::types::DeliveryMediumType::Email),
        attribute_name: Some("email".into()),
    }
}

/// ForgotPassword
pub async fn forgot_password(ctx: &Ctx, req: ForgotPasswordRequest) -> OpResult<ForgotPasswordResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    app_clients::check_secret_hash(&client, &[&req.username], req.secret_hash.as_deref())?;
    let pool = users::load(ctx, &client.record.pool_id).await?;
    let found = match users::find(ctx, &pool, &req.username).await? {
        Some(u) => Some(u),
        None => {
            triggers::migration::migrate(
                ctx,
                &pool,
                client.id(),
                client.hides_users(),
                &req.username,
                triggers::migration::Reason::ForgotPassword,
            )
            .await?
        }
    };
    let user = match found {
        Some(u) => u,
        None if client.hides_users() => {
            // The same request limit as a real user's, keyed by the name given.
            // (A purpose of its own: no real user's key can collide with the name.)
            limits::count(
                ctx,
                "code-request",
                pool.id(),
                &pool.username_key(&req.username),
                "forgot_password(unknown)",
                limits::CODE_REQUESTS_PER_WINDOW,
            )
            .await?;
            return Ok(ForgotPasswordResponse {
                code_delivery_details: Some(simulated_delivery()),
            });
        }
        None => return Err(users::user_not_found()),
    };
    let Some(details) = codes::delivery(&user, None) else {
        return Err(CognitoError::invalid_parameter(
            "Cannot reset password for the user as there is no registered/verified email or phone_number",
        ));
    };
    codes::issue(ctx, &user, "forgot_password", Some(&details), "ForgotPassword").await?;
    auth_events::record(ctx, &pool, &user, EventType::Forgotpassword, EventResponseType::Pass).await;
    Ok(ForgotPasswordResponse {
        code_delivery_details: Some(details),
    })
}

/// ConfirmForgotPassword
pub async fn confirm_forgot_password(
    ctx: &Ctx,
    req: ConfirmForgotPasswordRequest,
) -> OpResult<ConfirmForgotPasswordResponse> {
    let ctx = &ctx.with_client(Some(&req.client_id), req.client_metadata.clone());
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    app_clients::check_secret_hash(&client, &[&req.username], req.secret_hash.as_deref())?;
    let pool = users::load(ctx, &client.record.pool_id).await?;
    // The policy is checked before the user is looked up, so its answer is the same for a
    // user who does not exist (PreventUserExistenceErrors).
    passwords::check_policy(&pool.password_policy(), &req.password)?;
    let user = user_for_client(ctx, &client, &pool, &req.username).await?;
    if let Err(e) = codes::redeem(ctx, &user, "forgot_password", &req.confirmation_code).await {
        auth_events::record(ctx, &pool, &user, EventType::Passwordchange, EventResponseType::Fail).await;
        return Err(e);
    }
    let verifier = passwords::make_verifier(pool.id(), &user.username, &req.password);
    let (user, ()) = users::modify(ctx, &pool, user, |user| {
        user.password = Some(verifier.clone());
        user.password_set_ms = ctx.now_ms;
        user.modified_ms = ctx.now_ms;
        if user.status == "RESET_REQUIRED" || user.status == "FORCE_CHANGE_PASSWORD" {
            user.status = "CONFIRMED".into();
        }
        Ok(())
    })
    .await?;
    ctx.store()
        .clear_password_failures(pool.id(), &user.username_key)
        .await?;
    triggers::sign_up::post_confirmation(
        ctx,
        &pool,
        &user,
        client.id(),
        triggers::sign_up::Confirmed::ForgotPassword,
    )
    .await?;
    auth_events::record(ctx, &pool, &user, EventType::Passwordchange, EventResponseType::Pass).await;
    Ok(ConfirmForgotPasswordResponse {})
}

/// GetUserAttributeVerificationCode
pub async fn get_user_attribute_verification_code(
    ctx: &Ctx,
    req: GetUserAttributeVerificationCodeRequest,
) -> OpResult<GetUserAttributeVerificationCodeResponse> {
    let (_, user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    let ctx = &ctx.with_client(Some(&claims.client_id), req.client_metadata.clone());
    let name = req.attribute_name.as_str();
    if name != "email" && name != "phone_number" {
        return Err(CognitoError::invalid_parameter(format!(
            "Attribute {name} cannot be verified."
        )));
    }
    let details = codes::delivery(&user, Some(name))
        .ok_or_else(|| CognitoError::invalid_parameter(format!("User does not have the attribute {name}.")))?;
    codes::issue(
        ctx,
        &user,
        &format!("verify:{name}"),
        Some(&details),
        "VerifyUserAttribute",
    )
    .await?;
    Ok(GetUserAttributeVerificationCodeResponse {
        code_delivery_details: Some(details),
    })
}

/// VerifyUserAttribute
pub async fn verify_user_attribute(
    ctx: &Ctx,
    req: VerifyUserAttributeRequest,
) -> OpResult<VerifyUserAttributeResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let name = req.attribute_name.as_str();
    codes::redeem(ctx, &user, &format!("verify:{name}"), &req.code).await?;
    users::modify(ctx, &pool, user, |user| {
        users::set_attributes(
            &mut user.attributes,
            &[userpool_model::types::AttributeType {
                name: format!("{name}_verified"),
                value: Some("true".into()),
            }],
        );
        user.modified_ms = ctx.now_ms;
        users::refresh_lookups(&pool, user);
        Ok(())
    })
    .await?;
    Ok(VerifyUserAttributeResponse {})
}
