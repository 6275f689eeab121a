//! Devices: ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus, ForgetDevice (by
//! access token); AdminGetDevice, AdminListDevices, AdminUpdateDeviceStatus,
//! AdminForgetDevice (SigV4); and the device steps of sign-in.
//!
//! Lifecycle (`../shared/notes/device-tracking.md`):
//! - a sign-in that ends in tokens in a pool with DeviceConfiguration, and presented no
//!   device, *issues* a device: `NewDeviceMetadata` (DeviceKey `<region>_<uuid>`, one
//!   DeviceGroupKey per user) and the `device_key` claim; it is stored unconfirmed;
//! - ConfirmDevice stores the client's verifier and makes it a tracked device,
//!   `remembered` at once unless DeviceOnlyRememberedOnUserPrompt says to ask;
//! - Get* find any confirmed device of the user by key; List* show remembered ones only
//!   (the real service's behaviour, measured by Amplify's maintainers);
//! - Forget* delete it: later sign-ins presenting it get "Device does not exist.", and
//!   refresh tokens bound to it stop working.
//!
//! Rules where the notes say "inferred": `device_status` is always `valid`;
//! `dev:device_owner` is `<username>.<poolId>`; `dev:device_sdk` is
//! `aws-sdk-unknown-unknown`; DeviceLastModifiedDate changes on status and name changes;
//! DeviceLastAuthenticatedDate and `last_ip_used` are set at ConfirmDevice and at every
//! sign-in or refresh with the device; Limit 0 means the default page of 60.

use crate::app::Ctx;
use crate::auth::token as access_token;
use crate::error::{CognitoError, OpResult};
use crate::ops::{token, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use userpool_model::types::{
    AdminForgetDeviceRequest, AdminGetDeviceRequest, AdminGetDeviceResponse, AdminListDevicesRequest,
    AdminListDevicesResponse, AdminUpdateDeviceStatusRequest, AdminUpdateDeviceStatusResponse, AttributeType,
    ConfirmDeviceRequest, ConfirmDeviceResponse, DeviceRememberedStatusType, DeviceType, ForgetDeviceRequest,
    GetDeviceRequest, GetDeviceResponse, ListDevicesRequest, ListDevicesResponse, NewDeviceMetadataType,
    UpdateDeviceStatusRequest, UpdateDeviceStatusResponse,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{DeviceRecord, StoreError, UserRecord};

/// "Device does not exist." (ResourceNotFoundException): the clients match this text.
pub fn device_not_found() -> CognitoError {
    CognitoError::not_found("Device does not exist.")
}

/// Issued devices never confirmed are dropped after a day (an access token, needed to
/// confirm one, lives at most a day).
const ISSUED_DEVICE_TTL_MS: i64 = 86_400_000;

/// The `dev:device_sdk` value (the API reference's sample).
const DEVICE_SDK: &str = "aws-sdk-unknown-unknown";

/// A confirmed device of this user, or "Device does not exist." (also for another
/// user's device: nothing is revealed).
pub async fn presented(ctx: &Ctx, pool: &users::Pool, user: &UserRecord, key: &str) -> OpResult<DeviceRecord> {
    match ctx.store().get_device(pool.id(), key).await? {
        Some(d) if d.confirmed && d.username_key == user.username_key => Ok(d),
        _ => Err(device_not_found()),
    }
}

/// Whether a device is remembered and can prove itself (DEVICE_SRP_AUTH).
pub fn is_remembered(device: &DeviceRecord) -> bool {
    device.confirmed && device.remembered && device.verifier.is_some()
}

/// Issues a new device for a sign-in (NewDeviceMetadata).
pub async fn issue(ctx: &Ctx, pool: &users::Pool, user: &UserRecord) -> OpResult<NewDeviceMetadataType> {
    let group = match ctx.store().device_group_key(pool.id(), &user.username_key).await? {
        Some(g) => g,
        None => format!("-{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 8)),
    };
    let key = format!("{}_{}", ctx.pool_region(pool.id()), crate::ids::uuid());
    let device = DeviceRecord {
        pool_id: pool.id().to_string(),
        device_key: key.clone(),
        username_key: user.username_key.clone(),
        device_group_key: group.clone(),
        confirmed: false,
        remembered: false,
        name: None,
        salt: None,
        verifier: None,
        last_ip: Some(ctx.client_ip()),
        sdk: DEVICE_SDK.to_string(),
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
        last_auth_ms: ctx.now_ms,
        version: 0,
    };
    ctx.store()
        .put_device(&device, ctx.now_ms - ISSUED_DEVICE_TTL_MS)
        .await?;
    Ok(NewDeviceMetadataType {
        device_key: Some(key),
        device_group_key: Some(group),
    })
}

/// Records a successful authentication with a device (only its last-authenticated date
/// and address: a concurrent status change is never undone by it).
pub async fn authenticated(ctx: &Ctx, device: &DeviceRecord) -> OpResult<()> {
    match ctx
        .store()
        .touch_device(&device.pool_id, &device.device_key, ctx.now_ms, &ctx.client_ip())
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// How many times a device change that lost to a concurrent write is re-applied.
const WRITE_ATTEMPTS: usize = 16;

/// Applies `change` to `device` and writes it with the store's compare-and-set; when
/// another write came first, re-reads the device and applies `change` again (the
/// concurrent-write rule of `userpool_store::Store`). `gone` is the error when the device
/// no longer exists.
async fn modify(
    ctx: &Ctx,
    mut device: DeviceRecord,
    gone: fn() -> CognitoError,
    mut change: impl FnMut(&mut DeviceRecord) -> OpResult<()>,
) -> OpResult<DeviceRecord> {
    for _ in 0..WRITE_ATTEMPTS {
        change(&mut device)?;
        match ctx.store().update_device(&device).await {
            Ok(()) => {
                device.version += 1;
                return Ok(device);
            }
            Err(StoreError::Conflict(userpool_store::VERSION_CONFLICT)) => {
                device = ctx
                    .store()
                    .get_device(&device.pool_id, &device.device_key)
                    .await?
                    .ok_or_else(gone)?;
            }
            Err(StoreError::NotFound) => return Err(gone()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CognitoError::new(
        ErrorCode::TooManyRequestsException,
        "Too many concurrent changes to this device; try again.",
    ))
}

/// The store purpose of the marker a sign-in's password step leaves for its device step.
fn step_purpose(client_id: &str, device_key: &str) -> String {
    format!("device_auth:{client_id}:{device_key}")
}

/// Remembers that the password step of one sign-in, through `client`, succeeded for this
/// user and device: the marker holds that sign-in's nonce. The device step must present
/// it (through the Session, or, for clients that send none, by being the latest password
/// step of this user, device and client) and takes it once ([`take_password_step`]).
pub async fn note_password_step(
    ctx: &Ctx,
    user: &UserRecord,
    client_id: &str,
    device_key: &str,
    nonce: &[u8],
    ttl_ms: i64,
) -> OpResult<()> {
    ctx.store()
        .put_code(&userpool_store::CodeRecord {
            pool_id: user.pool_id.clone(),
            username_key: user.username_key.clone(),
            purpose: step_purpose(client_id, device_key),
            sealed_code: nonce.to_vec(),
            destination: String::new(),
            expires_ms: ctx.now_ms + ttl_ms,
            attempts_left: 1,
        })
        .await?;
    Ok(())
}

fn invalid_session() -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, "Invalid session for the user.")
}

/// The nonce of the live password step of this user, device and client; with `expected`
/// (the Session's), only if it is that one.
pub async fn check_password_step(
    ctx: &Ctx,
    user: &UserRecord,
    client_id: &str,
    device_key: &str,
    expected: Option<&[u8]>,
) -> OpResult<Vec<u8>> {
    match ctx
        .store()
        .get_code(&user.pool_id, &user.username_key, &step_purpose(client_id, device_key))
        .await?
    {
        Some(c) if c.expires_ms > ctx.now_ms && expected.is_none_or(|n| userpool_sigv4::ct_eq(n, &c.sealed_code)) => {
            Ok(c.sealed_code)
        }
        _ => Err(invalid_session()),
    }
}

/// Takes the password step the device step continues: true once, for the one caller that
/// took it (a password step yields tokens through its device step at most once).
pub async fn take_password_step(
    ctx: &Ctx,
    user: &UserRecord,
    client_id: &str,
    device_key: &str,
    nonce: &[u8],
) -> OpResult<()> {
    if ctx
        .store()
        .take_code(
            &user.pool_id,
            &user.username_key,
            &step_purpose(client_id, device_key),
            nonce,
        )
        .await?
    {
        Ok(())
    } else {
        Err(invalid_session())
    }
}

/// The wire form of a device, its seven attributes in the API reference's order.
pub fn device_type(ctx: &Ctx, user: &UserRecord, d: &DeviceRecord, full: bool) -> DeviceType {
    let owner = format!("{}.{}", user.username, d.pool_id);
    let attr = |n: &str, v: String| AttributeType {
        name: n.to_string(),
        value: Some(v),
    };
    let mut attributes = vec![attr("device_status", "valid".into())];
    if let Some(name) = &d.name {
        attributes.push(attr("device_name", name.clone()));
    }
    if full {
        attributes.push(attr(
            "dev:device_arn",
            format!(
                "arn:aws:cognito-idp:{}:{}:owner/{owner}/device/{}",
                ctx.pool_region(&d.pool_id),
                ctx.app.config.account_id,
                d.device_key
            ),
        ));
        attributes.push(attr("dev:device_owner", owner));
    }
    if let Some(ip) = &d.last_ip {
        attributes.push(attr("last_ip_used", ip.clone()));
    }
    if full {
        attributes.push(attr(
            "dev:device_remembered_status",
            if d.remembered { "remembered" } else { "not_remembered" }.into(),
        ));
        attributes.push(attr("dev:device_sdk", d.sdk.clone()));
    }
    DeviceType {
        device_key: Some(d.device_key.clone()),
        device_attributes: Some(attributes),
        device_create_date: Some(Timestamp(d.created_ms)),
        device_last_modified_date: Some(Timestamp(d.modified_ms)),
        device_last_authenticated_date: Some(Timestamp(d.last_auth_ms)),
    }
}

/// Decodes a base64 two's-complement big-endian number the clients send; `None` when it
/// is not base64, empty, or negative (top bit set without a `00` sign byte).
fn positive_bytes(b64: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(b64.as_bytes()).ok()?;
    match bytes.first() {
        Some(b) if b & 0x80 == 0 => Some(bytes),
        _ => None,
    }
}

/// ConfirmDevice
pub async fn confirm_device(ctx: &Ctx, req: ConfirmDeviceRequest) -> OpResult<ConfirmDeviceResponse> {
    let (pool, user, claims) = access_token::authorize(ctx, &req.access_token).await?;
    let invalid_key = || CognitoError::invalid_parameter("Invalid device key given.");
    let Some(device) = ctx.store().get_device(pool.id(), &req.device_key).await? else {
        return Err(invalid_key());
    };
    if device.username_key != user.username_key {
        return Err(invalid_key());
    }
    // The device the token was issued with, when it carries one, is the one to confirm.
    if claims.device_key.as_deref().is_some_and(|k| k != req.device_key) {
        return Err(invalid_key());
    }
    if device.confirmed {
        return Err(CognitoError::new(
            ErrorCode::DeviceKeyExistsException,
            "Device key already exists.",
        ));
    }
    let Some(cfg) = req.device_secret_verifier_config else {
        return Err(invalid_key());
    };
    let (Some(verifier), Some(salt)) = (cfg.password_verifier.as_deref(), cfg.salt.as_deref()) else {
        return Err(invalid_key());
    };
    let (Some(verifier), Some(salt)) = (positive_bytes(verifier), STANDARD.decode(salt.as_bytes()).ok()) else {
        return Err(CognitoError::invalid_parameter(
            "Negate value passed for salt and Password verifier",
        ));
    };
    if salt.first().is_some_and(|b| b & 0x80 != 0) || salt.is_empty() {
        return Err(CognitoError::invalid_parameter(
            "Negate value passed for salt and Password verifier",
        ));
    }
    // A verifier must be a group element 1 < v < N: with v = 0 (or a multiple of N) the
    // server's B is g^b alone and S = (A·v^u)^b no longer depends on the device secret,
    // so any proof would pass (inferred rule; the real service's answer is not recorded).
    let v = userpool_srp::from_bytes_be(&verifier);
    if v <= 1 || v >= userpool_srp::GROUP.n {
        return Err(CognitoError::invalid_parameter("Invalid device verifier."));
    }
    let on_prompt = pool
        .settings()
        .device_configuration
        .as_ref()
        .and_then(|c| c.device_only_remembered_on_user_prompt)
        .unwrap_or(false);
    // Two ConfirmDevice calls for one key: the compare-and-set lets one write; the other
    // re-reads a confirmed device and is refused, so the first verifier stands.
    let device = modify(ctx, device, invalid_key, |device| {
        if device.confirmed {
            return Err(CognitoError::new(
                ErrorCode::DeviceKeyExistsException,
                "Device key already exists.",
            ));
        }
        device.confirmed = true;
        device.remembered = !on_prompt;
        device.name = req.device_name.clone();
        device.salt = Some(salt.clone());
        device.verifier = Some(verifier.clone());
        device.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    authenticated(ctx, &device).await?;
    tracing::info!(pool = %pool.id(), device = %device.device_key, remembered = device.remembered, "confirmed device");
    Ok(ConfirmDeviceResponse {
        user_confirmation_necessary: Some(on_prompt),
    })
}

async fn list(
    ctx: &Ctx,
    pool: &users::Pool,
    user: &UserRecord,
    limit: Option<i32>,
    pagination: Option<&str>,
    full: bool,
) -> OpResult<(Vec<DeviceType>, Option<String>)> {
    let (limit, after) = token::page(limit, pagination)?;
    let page = ctx
        .store()
        .list_devices(pool.id(), &user.username_key, true, after.as_deref(), limit)
        .await?;
    let devices = page.items.iter().map(|d| device_type(ctx, user, d, full)).collect();
    Ok((devices, page.next_after.as_deref().map(token::encode)))
}

async fn set_status(ctx: &Ctx, device: DeviceRecord, status: Option<DeviceRememberedStatusType>) -> OpResult<()> {
    modify(ctx, device, device_not_found, |device| {
        device.remembered = status == Some(DeviceRememberedStatusType::Remembered);
        device.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    Ok(())
}

async fn forget(ctx: &Ctx, device: &DeviceRecord) -> OpResult<()> {
    ctx.store()
        .delete_device(&device.pool_id, &device.device_key)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => device_not_found(),
            other => other.into(),
        })?;
    tracing::info!(pool = %device.pool_id, device = %device.device_key, "forgot device");
    Ok(())
}

/// GetDevice
pub async fn get_device(ctx: &Ctx, req: GetDeviceRequest) -> OpResult<GetDeviceResponse> {
    let token = req
        .access_token
        .as_deref()
        .ok_or_else(crate::tokens::jwt::invalid_access_token)?;
    let (pool, user, _) = access_token::authorize(ctx, token).await?;
    let device = presented(ctx, &pool, &user, &req.device_key).await?;
    Ok(GetDeviceResponse {
        device: device_type(ctx, &user, &device, true),
    })
}

/// ListDevices
pub async fn list_devices(ctx: &Ctx, req: ListDevicesRequest) -> OpResult<ListDevicesResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    // The user-facing list carries only device_status, device_name and last_ip_used.
    let (devices, pagination_token) =
        list(ctx, &pool, &user, req.limit, req.pagination_token.as_deref(), false).await?;
    Ok(ListDevicesResponse {
        devices: Some(devices),
        pagination_token,
    })
}

/// UpdateDeviceStatus
pub async fn update_device_status(ctx: &Ctx, req: UpdateDeviceStatusRequest) -> OpResult<UpdateDeviceStatusResponse> {
    let (pool, user, _) = access_token::authorize(ctx, &req.access_token).await?;
    let device = presented(ctx, &pool, &user, &req.device_key).await?;
    set_status(ctx, device, req.device_remembered_status).await?;
    Ok(UpdateDeviceStatusResponse {})
}

/// ForgetDevice
pub async fn forget_device(ctx: &Ctx, req: ForgetDeviceRequest) -> OpResult<()> {
    let token = req
        .access_token
        .as_deref()
        .ok_or_else(crate::tokens::jwt::invalid_access_token)?;
    let (pool, user, _) = access_token::authorize(ctx, token).await?;
    let device = presented(ctx, &pool, &user, &req.device_key).await?;
    forget(ctx, &device).await
}

/// AdminGetDevice
pub async fn admin_get_device(ctx: &Ctx, req: AdminGetDeviceRequest) -> OpResult<AdminGetDeviceResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let device = presented(ctx, &pool, &user, &req.device_key).await?;
    Ok(AdminGetDeviceResponse {
        device: device_type(ctx, &user, &device, true),
    })
}

/// AdminListDevices
pub async fn admin_list_devices(ctx: &Ctx, req: AdminListDevicesRequest) -> OpResult<AdminListDevicesResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let (devices, pagination_token) = list(ctx, &pool, &user, req.limit, req.pagination_token.as_deref(), true).await?;
    Ok(AdminListDevicesResponse {
        devices: Some(devices),
        pagination_token,
    })
}

/// AdminUpdateDeviceStatus
pub async fn admin_update_device_status(
    ctx: &Ctx,
    req: AdminUpdateDeviceStatusRequest,
) -> OpResult<AdminUpdateDeviceStatusResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let device = presented(ctx, &pool, &user, &req.device_key).await?;
    set_status(ctx, device, req.device_remembered_status).await?;
    Ok(AdminUpdateDeviceStatusResponse {})
}

/// AdminForgetDevice
pub async fn admin_forget_device(ctx: &Ctx, req: AdminForgetDeviceRequest) -> OpResult<()> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let device = presented(ctx, &pool, &user, &req.device_key).await?;
    forget(ctx, &device).await
}
