//! Passkeys (WebAuthn): StartWebAuthnRegistration, CompleteWebAuthnRegistration,
//! ListWebAuthnCredentials, DeleteWebAuthnCredential; and the verification behind the
//! WEB_AUTHN sign-in challenge (`sign_in/passkey.rs`).
//!
//! The ceremonies are kanidm's `webauthn-rs-core`: attestation `none` and packed
//! self-attestation (Cognito does not enforce attestation), ES256 and RS256, the sign
//! counter, user verification. Confirmed from the developer guide and the model:
//! - a passkey is registered with an access token; each user has at most 20;
//! - the relying party is the pool's `WebAuthnConfiguration.RelyingPartyId`, else its
//!   custom domain, else its prefix domain (`<prefix>.auth.<region>.amazoncognito.com`);
//!   with none of them, WebAuthnConfigurationMissingException;
//! - user verification is the pool's `UserVerification` (`preferred` by default);
//!   `MULTI_FACTOR_WITH_USER_VERIFICATION` (a passkey counts as MFA) requires it;
//! - a passkey registered for another relying party does not sign in (changing the RP ID
//!   means registering again), and is not offered.
//!
//! Inferred, where Cognito is silent:
//! - **origins**: the credential's origin must be `https://` the relying party or one of
//!   its subdomains, on any port; `http://` is accepted only for a loopback relying party
//!   (`localhost`, `*.localhost`, `127.0.0.1`), as browsers treat it as a secure context;
//! - registration requires WEB_AUTHN among the pool's AllowedFirstAuthFactors
//!   (WebAuthnNotEnabledException otherwise);
//! - a registration challenge lives 5 minutes (the `timeout` the browser is given) and is
//!   taken once; a new StartWebAuthnRegistration replaces the one in progress;
//! - `FriendlyCredentialName` is generated from the authenticator's attachment;
//! - a failed assertion is NotAuthorizedException "Incorrect passkey credential." (the
//!   sign-in operations' model lists none of the WebAuthn exceptions); registration uses
//!   them (origin, relying party, algorithm, challenge).

use crate::app::Ctx;
use crate::auth::token as access_token;
use crate::error::{CognitoError, OpResult};
use crate::ops::{domains, user_pools, users};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;
use userpool_model::types::{
    AuthFactorType, CompleteWebAuthnRegistrationRequest, CompleteWebAuthnRegistrationResponse,
    DeleteWebAuthnCredentialRequest, DeleteWebAuthnCredentialResponse, ListWebAuthnCredentialsRequest,
    ListWebAuthnCredentialsResponse, StartWebAuthnRegistrationRequest, StartWebAuthnRegistrationResponse,
    UserVerificationType, WebAuthnCredentialDescription, WebAuthnFactorConfigurationType,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ObjectKind, ObjectRecord, StoreError, UserRecord};
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, COSEAlgorithm, Credential, PublicKeyCredential, RegisterPublicKeyCredential,
    RegistrationState, UserVerificationPolicy,
};
use webauthn_rs_core::{error::WebauthnError, WebauthnCore};

/// Passkeys a user may have (the developer guide).
pub const MAX_PER_USER: usize = 20;
/// How long a registration may take.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(300);
/// The `timeout` of a sign-in's request options (Cognito's, as Amplify's fixtures show).
pub const ASSERTION_TIMEOUT: Duration = Duration::from_secs(180);

/// A stored passkey.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    /// The credential as the verifier keeps it (public key, counter, policy).
    credential: Credential,
    /// The relying party it was registered for.
    rp: String,
    /// `platform` / `cross-platform`, as the browser said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachment: Option<String>,
    /// The transports the browser listed.
    #[serde(default)]
    transports: Vec<String>,
}

/// A registration in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    state: RegistrationState,
    client: String,
    rp: String,
    exp_ms: i64,
}

fn error(code: ErrorCode, message: &str) -> CognitoError {
    CognitoError::new(code, message)
}

fn encode<T: Serialize>(value: &T) -> OpResult<String> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "IE0030 passkey record does not encode");
        CognitoError::internal()
    })
}

fn invalid_credential() -> CognitoError {
    CognitoError::invalid_parameter("Credential data is not valid")
}

/// Whether the pool allows passkeys as a first factor.
pub fn enabled(pool: &users::Pool) -> bool {
    user_pools::first_factors(pool.settings()).contains(&AuthFactorType::WebAuthn)
}

/// The pool's relying party ID (see the module's rule).
pub async fn relying_party(ctx: &Ctx, pool: &users::Pool) -> OpResult<String> {
    if let Some(id) = pool.mfa().web_authn.and_then(|w| w.relying_party_id) {
        return Ok(id);
    }
    match domains::pool_domains(ctx, pool.id()).await? {
        (_, Some(custom)) => Ok(custom),
        (Some(prefix), None) => Ok(format!(
            "{prefix}.auth.{}.amazoncognito.com",
            ctx.pool_region(pool.id())
        )),
        (None, None) => Err(error(
            ErrorCode::WebAuthnConfigurationMissingException,
            "The user pool has no relying party ID configured and no domain.",
        )),
    }
}

/// The user verification the pool requires of a passkey.
pub fn verification(pool: &users::Pool) -> UserVerificationPolicy {
    let w = pool.mfa().web_authn.unwrap_or_default();
    let required = w.user_verification == Some(UserVerificationType::Required)
        || w.factor_configuration == Some(WebAuthnFactorConfigurationType::MultiFactorWithUserVerification);
    if required {
        UserVerificationPolicy::Required
    } else {
        UserVerificationPolicy::Preferred
    }
}

fn is_loopback(rp: &str) -> bool {
    rp == "localhost" || rp.ends_with(".localhost") || rp == "127.0.0.1"
}

/// The verifier for a relying party: its origins as the module's rule says.
fn verifier(rp: &str, timeout: Duration) -> OpResult<WebauthnCore> {
    let mut origins = Vec::new();
    let schemes: &[&str] = if is_loopback(rp) {
        &["https", "http"]
    } else {
        &["https"]
    };
    for scheme in schemes {
        let url = Url::parse(&format!("{scheme}://{rp}")).map_err(|_| {
            error(
                ErrorCode::WebAuthnConfigurationMissingException,
                "The relying party ID is not a domain.",
            )
        })?;
        origins.push(url);
    }
    Ok(WebauthnCore::new_unsafe_experts_only(
        rp,
        rp,
        origins,
        timeout,
        Some(true),
        Some(true),
    ))
}

/// Cognito's exception for a ceremony the verifier refused.
fn refused(e: &WebauthnError, registering: bool) -> CognitoError {
    tracing::debug!(error = ?e, "passkey refused");
    match e {
        WebauthnError::InvalidRPOrigin if registering => error(
            ErrorCode::WebAuthnOriginNotAllowedException,
            "The credential's origin is not allowed for the user pool's relying party.",
        ),
        WebauthnError::InvalidRPIDHash if registering => error(
            ErrorCode::WebAuthnRelyingPartyMismatchException,
            "The credential is for another relying party than the user pool's.",
        ),
        WebauthnError::COSEKeyInvalidAlgorithm
        | WebauthnError::COSEKeyInvalidType
        | WebauthnError::CredentialInsecureCryptography
            if registering =>
        {
            error(
                ErrorCode::WebAuthnCredentialNotSupportedException,
                "The credential's algorithm is not supported: use ES256 or RS256.",
            )
        }
        WebauthnError::MismatchedChallenge if registering => error(
            ErrorCode::WebAuthnChallengeNotFoundException,
            "The credential does not answer the registration challenge.",
        ),
        _ if registering => invalid_credential(),
        _ => CognitoError::not_authorized("Incorrect passkey credential."),
    }
}

fn name_of(sub: &str, credential_id: &str) -> String {
    format!("{sub}/{credential_id}")
}

/// The user's passkeys (all relying parties), by credential id.
async fn passkeys_of(ctx: &Ctx, pool_id: &str, sub: &str) -> OpResult<Vec<(ObjectRecord, Stored)>> {
    let prefix = format!("{sub}/");
    let page = ctx
        .store()
        .list_objects(ObjectKind::WebAuthnCredential, pool_id, Some(&prefix), MAX_PER_USER * 2)
        .await?;
    Ok(page
        .items
        .into_iter()
        .take_while(|o| o.name.starts_with(&prefix))
        .filter_map(|o| {
            let stored: Stored = serde_json::from_str(&o.body).ok()?;
            Some((o, stored))
        })
        .collect())
}

/// Whether the user has a passkey for the pool's relying party (WEB_AUTHN is offered).
pub async fn has_passkey(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<bool> {
    let Ok(rp) = relying_party(ctx, pool).await else {
        return Ok(false);
    };
    Ok(passkeys_of(ctx, pool.id(), &user.sub)
        .await?
        .iter()
        .any(|(_, s)| s.rp == rp))
}

/// A sign-in's WEB_AUTHN challenge: `CREDENTIAL_REQUEST_OPTIONS` and the state to seal
/// in the Session.
pub async fn assertion_options(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<(String, String)> {
    let rp = relying_party(ctx, pool).await?;
    let credentials: Vec<Credential> = passkeys_of(ctx, pool.id(), &user.sub)
        .await?
        .into_iter()
        .filter(|(_, s)| s.rp == rp)
        .map(|(_, s)| s.credential)
        .collect();
    let core = verifier(&rp, ASSERTION_TIMEOUT)?;
    let builder = core
        .new_challenge_authenticate_builder(credentials, Some(verification(pool)))
        .map_err(|e| refused(&e, false))?;
    let (options, state) = core
        .generate_challenge_authenticate(builder)
        .map_err(|e| refused(&e, false))?;
    let options = serde_json::to_string(&options.public_key).map_err(|_| CognitoError::internal())?;
    Ok((options, encode(&state)?))
}

/// Reads a WEB_AUTHN answer: `InvalidParameterException` when it is no assertion.
pub fn parse_assertion(credential: &str) -> OpResult<PublicKeyCredential> {
    serde_json::from_str(credential).map_err(|_| invalid_credential())
}

/// The request options of a decoy's WEB_AUTHN challenge: a fresh challenge, and one
/// allowed credential id derived from the name (stable, as a real user's would be).
pub fn decoy_options(ctx: &Ctx, pool: &users::Pool, typed: &str, rp: &str) -> String {
    let id = ctx
        .app
        .sealer
        .derive(format!("decoy-passkey\0{}\0{}", pool.id(), pool.username_key(typed)).as_bytes());
    let uv = match verification(pool) {
        UserVerificationPolicy::Required => "required",
        _ => "preferred",
    };
    serde_json::json!({
        "challenge": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        "timeout": ASSERTION_TIMEOUT.as_millis(),
        "rpId": rp,
        // A platform passkey's, the commonest.
        "allowCredentials": [{"type": "public-key", "id": URL_SAFE_NO_PAD.encode(id), "transports": ["internal"]}],
        "userVerification": uv,
    })
    .to_string()
}

/// Verifies a WEB_AUTHN answer against the sealed state of its challenge, and moves the
/// passkey's sign counter on (a counter that does not grow is refused: a cloned key).
pub async fn verify_assertion(
    ctx: &Ctx,
    pool: &users::Pool,
    user: &UserRecord,
    state: &str,
    credential: &str,
) -> OpResult<()> {
    let rp = relying_party(ctx, pool).await?;
    let state = serde_json::from_str(state).map_err(|_| CognitoError::internal())?;
    let answer = parse_assertion(credential)?;
    let core = verifier(&rp, ASSERTION_TIMEOUT)?;
    let result = core
        .authenticate_credential(&answer, &state)
        .map_err(|e| refused(&e, false))?;
    let id = URL_SAFE_NO_PAD.encode::<&[u8]>(result.cred_id().as_ref());
    let name = name_of(&user.sub, &id);
    let Some(mut record) = ctx
        .store()
        .get_object(ObjectKind::WebAuthnCredential, pool.id(), &name)
        .await?
    else {
        // Deleted since the challenge was asked.
        return Err(CognitoError::not_authorized("Incorrect passkey credential."));
    };
    let mut stored: Stored = serde_json::from_str(&record.body).map_err(|_| CognitoError::internal())?;
    let counter = result.counter();
    if counter > 0 || stored.credential.counter > 0 {
        if counter <= stored.credential.counter {
            tracing::warn!(pool = %pool.id(), username = %user.username, "passkey sign counter did not grow: refused");
            return Err(CognitoError::not_authorized("Incorrect passkey credential."));
        }
        stored.credential.counter = counter;
    }
    stored.credential.backup_state = result.backup_state();
    stored.credential.backup_eligible = result.backup_eligible();
    record.body = encode(&stored)?;
    record.modified_ms = ctx.now_ms;
    ctx.store().replace_object(&record).await?;
    Ok(())
}

/// StartWebAuthnRegistration
pub async fn start_web_authn_registration(
    ctx: &Ctx,
    req: StartWebAuthnRegistrationRequest,
) -> OpResult<StartWebAuthnRegistrationResponse> {
    let (pool, user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    if !enabled(&pool) {
        return Err(error(
            ErrorCode::WebAuthnNotEnabledException,
            "WebAuthn is not enabled for the user pool: add WEB_AUTHN to its AllowedFirstAuthFactors.",
        ));
    }
    let rp = relying_party(ctx, &pool).await?;
    let existing = passkeys_of(ctx, pool.id(), &user.sub).await?;
    if existing.len() >= MAX_PER_USER {
        return Err(error(
            ErrorCode::LimitExceededException,
            "The user has reached the maximum number of passkeys (20).",
        ));
    }
    let handle = uuid::Uuid::parse_str(&user.sub)
        .map(|u| u.as_bytes().to_vec())
        .unwrap_or_else(|_| user.sub.as_bytes().to_vec());
    let core = verifier(&rp, REGISTRATION_TIMEOUT)?;
    let exclude = existing
        .iter()
        .filter(|(_, s)| s.rp == rp)
        .map(|(_, s)| s.credential.cred_id.clone())
        .collect::<Vec<_>>();
    let builder = core
        .new_challenge_register_builder(&handle, &user.username, &user.username)
        .map_err(|_| CognitoError::invalid_parameter("The user cannot register a passkey."))?
        .attestation(AttestationConveyancePreference::None)
        .user_verification_policy(verification(&pool))
        .exclude_credentials(Some(exclude))
        .credential_algorithms(vec![COSEAlgorithm::ES256, COSEAlgorithm::RS256])
        .require_resident_key(true);
    let (options, state) = core
        .generate_challenge_register(builder)
        .map_err(|e| refused(&e, true))?;
    let pending = Pending {
        state,
        client: claims.client_id.clone(),
        rp,
        exp_ms: ctx.now_ms + i64::try_from(REGISTRATION_TIMEOUT.as_millis()).unwrap_or(300_000),
    };
    let record = ObjectRecord {
        kind: ObjectKind::WebAuthnChallenge,
        pool_id: pool.id().to_string(),
        name: user.sub.clone(),
        body: encode(&pending)?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    match ctx.store().create_object(&record).await {
        Err(StoreError::Conflict(_)) => ctx.store().replace_object(&record).await?,
        other => other?,
    }
    let options = serde_json::to_value(&options.public_key).map_err(|_| CognitoError::internal())?;
    Ok(StartWebAuthnRegistrationResponse {
        credential_creation_options: options,
    })
}

/// CompleteWebAuthnRegistration
pub async fn complete_web_authn_registration(
    ctx: &Ctx,
    req: CompleteWebAuthnRegistrationRequest,
) -> OpResult<CompleteWebAuthnRegistrationResponse> {
    let (pool, user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    if !enabled(&pool) {
        return Err(error(
            ErrorCode::WebAuthnNotEnabledException,
            "WebAuthn is not enabled for the user pool: add WEB_AUTHN to its AllowedFirstAuthFactors.",
        ));
    }
    let not_found = || {
        error(
            ErrorCode::WebAuthnChallengeNotFoundException,
            "No passkey registration is in progress for the user, or it has expired.",
        )
    };
    let record = ctx
        .store()
        .get_object(ObjectKind::WebAuthnChallenge, pool.id(), &user.sub)
        .await?
        .ok_or_else(not_found)?;
    let pending: Pending = serde_json::from_str(&record.body).map_err(|_| not_found())?;
    if pending.client != claims.client_id {
        return Err(error(
            ErrorCode::WebAuthnClientMismatchException,
            "The access token is for another app client than the one that started the registration.",
        ));
    }
    let reg: RegisterPublicKeyCredential =
        serde_json::from_value(req.credential.clone()).map_err(|_| invalid_credential())?;
    // The challenge is taken once, whatever the outcome.
    match ctx
        .store()
        .delete_object(ObjectKind::WebAuthnChallenge, pool.id(), &user.sub)
        .await
    {
        Err(StoreError::NotFound) => return Err(not_found()),
        other => other?,
    }
    if pending.exp_ms <= ctx.now_ms {
        return Err(not_found());
    }
    let rp = relying_party(ctx, &pool).await?;
    if rp != pending.rp {
        return Err(error(
            ErrorCode::WebAuthnRelyingPartyMismatchException,
            "The user pool's relying party changed during the registration.",
        ));
    }
    let core = verifier(&rp, REGISTRATION_TIMEOUT)?;
    let credential = core
        .register_credential(&reg, &pending.state, None)
        .map_err(|e| refused(&e, true))?;
    if passkeys_of(ctx, pool.id(), &user.sub).await?.len() >= MAX_PER_USER {
        return Err(error(
            ErrorCode::LimitExceededException,
            "The user has reached the maximum number of passkeys (20).",
        ));
    }
    let attachment = req
        .credential
        .get("authenticatorAttachment")
        .and_then(|v| v.as_str())
        .filter(|a| ["platform", "cross-platform"].contains(a))
        .map(str::to_string);
    let transports = req
        .credential
        .pointer("/response/transports")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str())
                .take(8)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let id = URL_SAFE_NO_PAD.encode::<&[u8]>(credential.cred_id.as_ref());
    let stored = Stored {
        credential,
        rp,
        attachment,
        transports,
    };
    let record = ObjectRecord {
        kind: ObjectKind::WebAuthnCredential,
        pool_id: pool.id().to_string(),
        name: name_of(&user.sub, &id),
        body: encode(&stored)?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&record).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::invalid_parameter("The credential is already registered."),
        other => other.into(),
    })?;
    tracing::info!(pool = %pool.id(), username = %user.username, "passkey registered");
    Ok(CompleteWebAuthnRegistrationResponse {})
}

fn description(record: &ObjectRecord, stored: &Stored) -> WebAuthnCredentialDescription {
    let id = record
        .name
        .split_once('/')
        .map(|(_, id)| id)
        .unwrap_or_default()
        .to_string();
    let friendly = match stored.attachment.as_deref() {
        Some("platform") => "Platform passkey",
        Some(_) => "Security key passkey",
        None => "Passkey",
    };
    WebAuthnCredentialDescription {
        credential_id: id,
        friendly_credential_name: friendly.to_string(),
        relying_party_id: stored.rp.clone(),
        authenticator_attachment: stored.attachment.clone(),
        authenticator_transports: stored.transports.clone(),
        created_at: Timestamp(record.created_ms),
    }
}

/// ListWebAuthnCredentials
pub async fn list_web_authn_credentials(
    ctx: &Ctx,
    req: ListWebAuthnCredentialsRequest,
) -> OpResult<ListWebAuthnCredentialsResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let max = usize::try_from(req.max_results.unwrap_or(20))
        .unwrap_or(20)
        .clamp(1, 20);
    let all = passkeys_of(ctx, pool.id(), &user.sub).await?;
    let start = match &req.next_token {
        Some(token) => {
            let after = name_of(&user.sub, token);
            all.iter().position(|(o, _)| o.name > after).unwrap_or(all.len())
        }
        None => 0,
    };
    let page: Vec<_> = all.iter().skip(start).take(max).collect();
    let more = all.len() > start + page.len();
    let next_token = more
        .then(|| {
            page.last()
                .and_then(|(o, _)| o.name.split_once('/').map(|(_, id)| id.to_string()))
        })
        .flatten();
    Ok(ListWebAuthnCredentialsResponse {
        credentials: page.iter().map(|(o, s)| description(o, s)).collect(),
        next_token,
    })
}

/// DeleteWebAuthnCredential
pub async fn delete_web_authn_credential(
    ctx: &Ctx,
    req: DeleteWebAuthnCredentialRequest,
) -> OpResult<DeleteWebAuthnCredentialResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let name = name_of(&user.sub, &req.credential_id);
    match ctx
        .store()
        .delete_object(ObjectKind::WebAuthnCredential, pool.id(), &name)
        .await
    {
        Err(StoreError::NotFound) => Err(CognitoError::not_found("Credential not found.")),
        other => other.map_err(Into::into),
    }?;
    Ok(DeleteWebAuthnCredentialResponse {})
}

/// Removes a deleted user's passkeys and registration in progress.
pub async fn forget_user(ctx: &Ctx, pool_id: &str, sub: &str) -> OpResult<()> {
    for (record, _) in passkeys_of(ctx, pool_id, sub).await? {
        let _ = ctx
            .store()
            .delete_object(ObjectKind::WebAuthnCredential, pool_id, &record.name)
            .await;
    }
    let _ = ctx
        .store()
        .delete_object(ObjectKind::WebAuthnChallenge, pool_id, sub)
        .await;
    Ok(())
}
