//! Multi-factor authentication settings: SetUserPoolMfaConfig, GetUserPoolMfaConfig
//! (SigV4); SetUserMFAPreference, SetUserSettings (access token) and their admin forms
//! AdminSetUserMFAPreference, AdminSetUserSettings; AssociateSoftwareToken and
//! VerifySoftwareToken (access token, or a sign-in's MFA_SETUP Session). The challenges
//! themselves are steps of the sign-in state machine (`sign_in/mfa.rs`).
//!
//! Confirmed (API reference and the model's documentation; real responses quoted in
//! public issues, see the research notes in the session log):
//! - SetUserPoolMfaConfig replaces the whole MFA configuration; ON or OPTIONAL with no
//!   factor is "Invalid MFA configuration given, can't disable all MFAs with a required or
//!   optional configuration.", OFF with a factor "… can't turn off MFA and configure an MFA
//!   together.";
//! - a factor can be enabled for a user only with what it delivers to: a verified TOTP
//!   ("User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"), a phone
//!   number (SMS_MFA), an email address (EMAIL_OTP); one factor at most is preferred;
//! - GetUser / AdminGetUser list the enabled factors in `UserMFASettingList` and the
//!   preferred one in `PreferredMfaSetting`, and leave both out when there are none;
//! - VerifySoftwareToken with a wrong code is `EnableSoftwareTokenMFAException: Code
//!   mismatch and fail enable Software Token MFA`; TOTP codes are accepted once;
//! - AssociateSoftwareToken called with a Session answers a new Session, which
//!   VerifySoftwareToken takes and answers one that satisfies MFA_SETUP.
//!
//! Inferred: VerifySoftwareToken with an access token verifies the token without enabling
//! it (Amplify's `verifyTOTPSetup` is followed by `updateMFAPreference`); in a sign-in's
//! MFA_SETUP it also enables it and makes it preferred, since the pool requires a factor;
//! email MFA needs the pool's email sent by SES (`EmailSendingAccount: DEVELOPER`), and a
//! pool without it is refused with `InvalidParameterException`.

use crate::app::Ctx;
use crate::auth::token as access_token;
use crate::error::{CognitoError, OpResult};
use crate::ops::sign_in::state::{self, Step};
use crate::ops::user_pools::{self, PoolMfa};
use crate::ops::users;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use userpool_model::types::{
    AdminSetUserMFAPreferenceRequest, AdminSetUserMFAPreferenceResponse, AdminSetUserSettingsRequest,
    AdminSetUserSettingsResponse, AssociateSoftwareTokenRequest, AssociateSoftwareTokenResponse, DeliveryMediumType,
    EmailMfaSettingsType, EmailSendingAccountType, GetUserPoolMfaConfigRequest, GetUserPoolMfaConfigResponse,
    MFAOptionType, SMSMfaSettingsType, SetUserMFAPreferenceRequest, SetUserMFAPreferenceResponse,
    SetUserPoolMfaConfigRequest, SetUserPoolMfaConfigResponse, SetUserSettingsRequest, SetUserSettingsResponse,
    SoftwareTokenMfaSettingsType, UserPoolMfaType, VerifySoftwareTokenRequest, VerifySoftwareTokenResponse,
    VerifySoftwareTokenResponseType,
};
use userpool_model::types::{UserVerificationType, WebAuthnConfigurationType, WebAuthnFactorConfigurationType};
use userpool_model::ErrorCode;
use userpool_store::{StoreError, UserRecord};

/// SMS_MFA, as `UserMFASettingList` names it.
pub const SMS: &str = "SMS_MFA";
/// SOFTWARE_TOKEN_MFA.
pub const TOTP: &str = "SOFTWARE_TOKEN_MFA";
/// EMAIL_OTP.
pub const EMAIL: &str = "EMAIL_OTP";

/// A user's MFA settings, kept as JSON in the user's `mfa` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMfa {
    /// The verified software token: its secret, sealed (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// FriendlyDeviceName given when it was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_name: Option<String>,
    /// A secret from AssociateSoftwareToken (access token) not verified yet, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_secret: Option<String>,
    /// The factors enabled, in the order they were enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<String>,
    /// The preferred factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
}

impl UserMfa {
    /// The settings stored with a user.
    pub fn of(user: &UserRecord) -> UserMfa {
        if user.mfa.is_empty() {
            return UserMfa::default();
        }
        serde_json::from_str(&user.mfa).unwrap_or_default()
    }

    /// Stores these settings on the user record.
    pub fn store(&self, user: &mut UserRecord) {
        user.mfa = if *self == UserMfa::default() {
            String::new()
        } else {
            serde_json::to_string(self).unwrap_or_default()
        };
    }

    fn set(&mut self, factor: &str, enabled: Option<bool>, preferred: Option<bool>) {
        match enabled {
            Some(true) if !self.enabled.iter().any(|f| f == factor) => self.enabled.push(factor.to_string()),
            Some(false) => {
                self.enabled.retain(|f| f != factor);
                if self.preferred.as_deref() == Some(factor) {
                    self.preferred = None;
                }
            }
            _ => {}
        }
        match preferred {
            Some(true) => self.preferred = Some(factor.to_string()),
            Some(false) if self.preferred.as_deref() == Some(factor) => self.preferred = None,
            _ => {}
        }
    }
}

/// The sealed form of a TOTP secret.
pub fn seal_secret(ctx: &Ctx, raw: &[u8]) -> String {
    STANDARD.encode(ctx.app.sealer.seal(raw))
}

/// A sealed TOTP secret's bytes.
pub fn open_secret(ctx: &Ctx, sealed: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(sealed.as_bytes())
        .ok()
        .and_then(|b| ctx.app.sealer.open(&b))
}

/// `UserMFASettingList` and `PreferredMfaSetting` of a user (absent when empty).
pub fn wire_settings(user: &UserRecord) -> (Option<Vec<String>>, Option<String>) {
    let m = UserMfa::of(user);
    let list = (!m.enabled.is_empty()).then_some(m.enabled);
    (list, m.preferred)
}

/// The legacy `MFAOptions` of a user: SMS to the phone number when SMS_MFA is enabled.
pub fn wire_options(user: &UserRecord) -> Option<Vec<MFAOptionType>> {
    UserMfa::of(user).enabled.iter().any(|f| f == SMS).then(|| {
        vec![MFAOptionType {
            delivery_medium: Some(DeliveryMediumType::Sms),
            attribute_name: Some("phone_number".into()),
        }]
    })
}

fn invalid_config(msg: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Invalid MFA configuration given, {msg}"))
}

/// SetUserPoolMfaConfig
pub async fn set_user_pool_mfa_config(
    ctx: &Ctx,
    req: SetUserPoolMfaConfigRequest,
) -> OpResult<SetUserPoolMfaConfigResponse> {
    let (mut record, mut pool) = user_pools::load_pool(ctx, &req.user_pool_id).await?;
    let mode = req
        .mfa_configuration
        .or(pool.mfa_configuration)
        .unwrap_or(UserPoolMfaType::Off);
    // WebAuthnConfiguration is kept when a call leaves it out (it is not an MFA factor of
    // the ON/OPTIONAL rules); UserVerification defaults to `preferred` (the developer guide).
    let web_authn = match req.web_authn_configuration {
        Some(mut w) => {
            w.user_verification.get_or_insert(UserVerificationType::Preferred);
            w.factor_configuration
                .get_or_insert(WebAuthnFactorConfigurationType::SingleFactor);
            Some(w)
        }
        None => user_pools::pool_mfa(&record).web_authn,
    };
    let mfa = PoolMfa {
        sms: req.sms_mfa_configuration,
        software_token: req.software_token_mfa_configuration,
        email: req.email_mfa_configuration,
        web_authn,
    };
    let any = mfa.sms.is_some() || mfa.totp() || mfa.email.is_some();
    match mode {
        UserPoolMfaType::On | UserPoolMfaType::Optional if !any => {
            return Err(invalid_config(
                "can't disable all MFAs with a required or optional configuration.",
            ))
        }
        UserPoolMfaType::Off if any => {
            return Err(invalid_config("can't turn off MFA and configure an MFA together."));
        }
        _ => {}
    }
    if mfa.email.is_some() {
        let developer = pool.email_configuration.as_ref().and_then(|e| e.email_sending_account)
            == Some(EmailSendingAccountType::Developer);
        if !developer {
            return Err(CognitoError::invalid_parameter(
                "Email MFA requires the user pool to send email with Amazon SES (EmailSendingAccount DEVELOPER).",
            ));
        }
    }
    pool.mfa_configuration = Some(mode);
    user_pools::check_sign_in_policy(&pool, mfa.web_authn.as_ref())?;
    if let Some(sms) = &mfa.sms {
        if sms.sms_configuration.is_some() {
            pool.sms_configuration.clone_from(&sms.sms_configuration);
        }
        if sms.sms_authentication_message.is_some() {
            pool.sms_authentication_message
                .clone_from(&sms.sms_authentication_message);
        }
    }
    record.settings = user_pools::encode_settings(&pool, &mfa)?;
    record.modified_ms = ctx.now_ms;
    ctx.store().update_pool(&record).await.map_err(|e| match e {
        StoreError::NotFound => CognitoError::pool_not_found(&record.id),
        other => other.into(),
    })?;
    Ok(SetUserPoolMfaConfigResponse {
        sms_mfa_configuration: mfa.sms,
        software_token_mfa_configuration: mfa.software_token,
        email_mfa_configuration: mfa.email,
        mfa_configuration: Some(mode),
        web_authn_configuration: Some(web_authn_view(mfa.web_authn)),
    })
}

/// The WebAuthnConfiguration a pool answers with: as set, or the defaults (user
/// verification `preferred`, a single factor; no relying party set).
fn web_authn_view(set: Option<WebAuthnConfigurationType>) -> WebAuthnConfigurationType {
    set.unwrap_or(WebAuthnConfigurationType {
        relying_party_id: None,
        user_verification: Some(UserVerificationType::Preferred),
        factor_configuration: Some(WebAuthnFactorConfigurationType::SingleFactor),
    })
}

/// GetUserPoolMfaConfig
pub async fn get_user_pool_mfa_config(
    ctx: &Ctx,
    req: GetUserPoolMfaConfigRequest,
) -> OpResult<GetUserPoolMfaConfigResponse> {
    let (record, pool) = user_pools::load_pool(ctx, &req.user_pool_id).await?;
    let mfa = user_pools::pool_mfa(&record);
    Ok(GetUserPoolMfaConfigResponse {
        sms_mfa_configuration: mfa.sms,
        software_token_mfa_configuration: mfa.software_token,
        email_mfa_configuration: mfa.email,
        mfa_configuration: Some(pool.mfa_configuration.unwrap_or(UserPoolMfaType::Off)),
        web_authn_configuration: Some(web_authn_view(mfa.web_authn)),
    })
}

/// Applies a SetUserMFAPreference / AdminSetUserMFAPreference to a user.
async fn set_preference(
    ctx: &Ctx,
    pool: &users::Pool,
    user: UserRecord,
    sms: Option<SMSMfaSettingsType>,
    totp: Option<SoftwareTokenMfaSettingsType>,
    email: Option<EmailMfaSettingsType>,
) -> OpResult<()> {
    let preferred = [
        sms.as_ref().and_then(|s| s.preferred_mfa),
        totp.as_ref().and_then(|s| s.preferred_mfa),
        email.as_ref().and_then(|s| s.preferred_mfa),
    ]
    .into_iter()
    .filter(|p| *p == Some(true))
    .count();
    if preferred > 1 {
        return Err(CognitoError::invalid_parameter(
            "Only one MFA method can be set as preferred.",
        ));
    }
    users::modify(ctx, pool, user, |user| {
        let mut m = UserMfa::of(user);
        let no_delivery = |factor: &str| {
            CognitoError::invalid_parameter(format!("User does not have delivery config set to turn on {factor}"))
        };
        let wants = |enabled: Option<bool>, preferred: Option<bool>| enabled == Some(true) || preferred == Some(true);
        if let Some(s) = &totp {
            if wants(s.enabled, s.preferred_mfa) && m.totp_secret.is_none() {
                return Err(no_delivery(TOTP));
            }
            m.set(TOTP, s.enabled.or(s.preferred_mfa.filter(|p| *p)), s.preferred_mfa);
            // Turned off: the token is disassociated, so a user who lost it can set up a
            // new one (MFA_SETUP) when the pool requires MFA.
            if s.enabled == Some(false) {
                m.totp_secret = None;
                m.totp_name = None;
            }
        }
        if let Some(s) = &sms {
            if wants(s.enabled, s.preferred_mfa) && users::attr(user, "phone_number").is_none() {
                return Err(no_delivery(SMS));
            }
            m.set(SMS, s.enabled.or(s.preferred_mfa.filter(|p| *p)), s.preferred_mfa);
        }
        if let Some(s) = &email {
            if wants(s.enabled, s.preferred_mfa) && users::attr(user, "email").is_none() {
                return Err(no_delivery(EMAIL));
            }
            m.set(EMAIL, s.enabled.or(s.preferred_mfa.filter(|p| *p)), s.preferred_mfa);
        }
        m.store(user);
        user.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    Ok(())
}

/// SetUserMFAPreference
pub async fn set_user_mfa_preference(
    ctx: &Ctx,
    req: SetUserMFAPreferenceRequest,
) -> OpResult<SetUserMFAPreferenceResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    set_preference(
        ctx,
        &pool,
        user,
        req.sms_mfa_settings,
        req.software_token_mfa_settings,
        req.email_mfa_settings,
    )
    .await?;
    Ok(SetUserMFAPreferenceResponse {})
}

/// AdminSetUserMFAPreference
pub async fn admin_set_user_mfa_preference(
    ctx: &Ctx,
    req: AdminSetUserMFAPreferenceRequest,
) -> OpResult<AdminSetUserMFAPreferenceResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    set_preference(
        ctx,
        &pool,
        user,
        req.sms_mfa_settings,
        req.software_token_mfa_settings,
        req.email_mfa_settings,
    )
    .await?;
    Ok(AdminSetUserMFAPreferenceResponse {})
}

/// The legacy MFAOptions: SMS to `phone_number` turns SMS_MFA on, an empty list off.
fn sms_from_options(options: &[MFAOptionType]) -> OpResult<SMSMfaSettingsType> {
    let sms = options.iter().any(|o| {
        o.delivery_medium == Some(DeliveryMediumType::Sms) && o.attribute_name.as_deref() == Some("phone_number")
    });
    if !options.is_empty() && !sms {
        return Err(CognitoError::invalid_parameter(
            "Only SMS to phone_number can be set with MFAOptions.",
        ));
    }
    Ok(SMSMfaSettingsType {
        enabled: Some(sms),
        preferred_mfa: None,
    })
}

/// SetUserSettings
pub async fn set_user_settings(ctx: &Ctx, req: SetUserSettingsRequest) -> OpResult<SetUserSettingsResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let sms = sms_from_options(&req.mfa_options)?;
    set_preference(ctx, &pool, user, Some(sms), None, None).await?;
    Ok(SetUserSettingsResponse {})
}

/// AdminSetUserSettings
pub async fn admin_set_user_settings(
    ctx: &Ctx,
    req: AdminSetUserSettingsRequest,
) -> OpResult<AdminSetUserSettingsResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let sms = sms_from_options(&req.mfa_options)?;
    set_preference(ctx, &pool, user, Some(sms), None, None).await?;
    Ok(AdminSetUserSettingsResponse {})
}

fn token_not_enabled() -> CognitoError {
    CognitoError::new(
        ErrorCode::SoftwareTokenMFANotFoundException,
        "Software Token MFA has not been enabled by the userPool.",
    )
}

fn invalid_session() -> CognitoError {
    CognitoError::not_authorized("Invalid session for the user, session is expired.")
}

/// One of AccessToken and Session, as the two token operations take them.
fn token_or_session<'a>(
    access: Option<&'a str>,
    session: Option<&'a str>,
) -> OpResult<(Option<&'a str>, Option<&'a str>)> {
    match (access, session) {
        (Some(_), Some(_)) => Err(CognitoError::invalid_parameter(
            "Only one of AccessToken and Session can be given.",
        )),
        (None, None) => Err(CognitoError::invalid_parameter(
            "Either AccessToken or Session must be given.",
        )),
        pair => Ok(pair),
    }
}

/// AssociateSoftwareToken
pub async fn associate_software_token(
    ctx: &Ctx,
    req: AssociateSoftwareTokenRequest,
) -> OpResult<AssociateSoftwareTokenResponse> {
    let (access, session) = token_or_session(req.access_token.as_deref(), req.session.as_deref())?;
    let (raw, code) = crate::totp::new_secret();
    if let Some(token) = access {
        let (pool, user, _) = access_token::authorize(ctx, token).await?;
        if !pool.mfa().totp() {
            return Err(token_not_enabled());
        }
        let sealed = seal_secret(ctx, &raw);
        users::modify(ctx, &pool, user, |user| {
            let mut m = UserMfa::of(user);
            m.pending_secret = Some(sealed.clone());
            m.store(user);
            Ok(())
        })
        .await?;
        return Ok(AssociateSoftwareTokenResponse {
            secret_code: Some(code),
            session: None,
        });
    }
    // A sign-in's MFA_SETUP: the secret rides in the next state, sealed.
    let mut st = session
        .and_then(|s| state::open(ctx, s))
        .filter(|s| matches!(s.step, Step::MfaSetup { .. }))
        .ok_or_else(invalid_session)?;
    let pool = users::load(ctx, &st.pool).await?;
    if !pool.mfa().totp() {
        return Err(token_not_enabled());
    }
    if let Step::MfaSetup { secret, verified, .. } = &mut st.step {
        *secret = Some(seal_secret(ctx, &raw));
        *verified = false;
    }
    Ok(AssociateSoftwareTokenResponse {
        secret_code: Some(code),
        session: Some(state::seal(ctx, &st)),
    })
}

fn code_mismatch() -> CognitoError {
    CognitoError::new(
        ErrorCode::EnableSoftwareTokenMFAException,
        "Code mismatch and fail enable Software Token MFA",
    )
}

/// VerifySoftwareToken
pub async fn verify_software_token(
    ctx: &Ctx,
    req: VerifySoftwareTokenRequest,
) -> OpResult<VerifySoftwareTokenResponse> {
    let (access, session) = token_or_session(req.access_token.as_deref(), req.session.as_deref())?;
    let now_secs = ctx.now_ms.div_euclid(1000);
    let name = req.friendly_device_name.clone();
    if let Some(token) = access {
        let (pool, user, _) = access_token::authorize(ctx, token).await?;
        let pending = UserMfa::of(&user).pending_secret.ok_or_else(|| {
            CognitoError::new(
                ErrorCode::SoftwareTokenMFANotFoundException,
                "Software Token MFA does not exist for the user.",
            )
        })?;
        let raw = open_secret(ctx, &pending).ok_or_else(CognitoError::internal)?;
        let step = crate::totp::matching_step(&raw, &req.user_code, now_secs).ok_or_else(code_mismatch)?;
        use_step(ctx, &user, step).await?;
        // Verified, not enabled: SetUserMFAPreference turns it on.
        users::modify(ctx, &pool, user, |user| {
            let mut m = UserMfa::of(user);
            if m.pending_secret.as_deref() != Some(pending.as_str()) {
                return Err(code_mismatch());
            }
            m.totp_secret = m.pending_secret.take();
            m.totp_name.clone_from(&name);
            m.store(user);
            user.modified_ms = ctx.now_ms;
            Ok(())
        })
        .await?;
        return Ok(VerifySoftwareTokenResponse {
            status: Some(VerifySoftwareTokenResponseType::Success),
            session: None,
        });
    }
    let mut st = session
        .and_then(|s| state::open(ctx, s))
        .filter(|s| matches!(s.step, Step::MfaSetup { secret: Some(_), .. }))
        .ok_or_else(invalid_session)?;
    let pool = users::load(ctx, &st.pool).await?;
    let user = ctx
        .store()
        .get_user(pool.id(), &st.user)
        .await?
        .ok_or_else(invalid_session)?;
    let Step::MfaSetup {
        secret: Some(sealed),
        verified,
        name: step_name,
        ..
    } = &mut st.step
    else {
        return Err(invalid_session());
    };
    let raw = open_secret(ctx, sealed).ok_or_else(invalid_session)?;
    let step = crate::totp::matching_step(&raw, &req.user_code, now_secs).ok_or_else(code_mismatch)?;
    use_step(ctx, &user, step).await?;
    *verified = true;
    step_name.clone_from(&name);
    Ok(VerifySoftwareTokenResponse {
        status: Some(VerifySoftwareTokenResponseType::Success),
        session: Some(state::seal(ctx, &st)),
    })
}

/// Accepts a TOTP code's step once for the user.
pub async fn use_step(ctx: &Ctx, user: &UserRecord, step: i64) -> OpResult<()> {
    if ctx
        .store()
        .use_totp_step(&user.pool_id, &user.username_key, step)
        .await?
    {
        Ok(())
    } else {
        Err(CognitoError::new(
            ErrorCode::ExpiredCodeException,
            "Your software token has already been used once.",
        ))
    }
}
