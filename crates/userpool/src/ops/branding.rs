//! Managed login branding styles: CreateManagedLoginBranding, DescribeManagedLoginBranding,
//! DescribeManagedLoginBrandingByClient, UpdateManagedLoginBranding,
//! DeleteManagedLoginBranding; and the look they give the hosted pages.
//!
//! Rules (the API reference and the developer guide's "branding editor"; decided where
//! they are silent, marked so):
//! - a style belongs to one app client, and a client has one style: the store keys the
//!   style by its client id (`ObjectKind::ManagedLoginBranding`), so of two concurrent
//!   creates for a client one succeeds and the other is
//!   `ManagedLoginBrandingExistsException`. A second object
//!   (`ObjectKind::ManagedLoginBrandingId`) maps the style's id (a UUID v4) to its client;
//!   it is written before the style and removed after it, and a lookup by id checks the
//!   style it reaches carries that id, so a crash between the two writes leaves nothing
//!   visible;
//! - `UseCognitoProvidedValues: true` is Cognito's default style and refuses `Settings` or
//!   `Assets` in the same request; on update it resets the style to the defaults (its
//!   settings and assets removed);
//! - `Settings` is a JSON object (the branding editor's document: `categories`,
//!   `componentClasses`, `components`). A value under a key named `color` or ending in
//!   `Color` is a colour: 6 or 8 hexadecimal digits (`RRGGBB[AA]`, as the editor writes
//!   them); decided: other values are kept as given, unchecked. The style keeps only what
//!   was customized; `ReturnMergedResources: true` answers Cognito's defaults with the
//!   customized values over them (`branding_defaults.json`, the values the API reference's
//!   example shows);
//! - "Cognito preserves existing style settings that you don't specify": an update merges
//!   its `Settings` into the style's (objects member by member; arrays and other values
//!   replaced; decided: a `null` removes a customization) and its `Assets` into the
//!   style's by (`Category`, `ColorMode`): an asset replaces the style's asset of its
//!   category and colour mode, the others stay. An asset given without `Bytes` keeps the
//!   bytes the style has for it (and is refused when it has none). An asset is removed only
//!   by resetting the style (`UseCognitoProvidedValues`) or deleting it. The merged style
//!   is written only over the one read (`Store::replace_object_if`): concurrent updates
//!   are each applied (re-read and merged again), and one racing a delete does not bring
//!   the style back; after 5 lost races the update is `ConcurrentModificationException`;
//! - an asset's bytes must be the file its `Extension` names (PNG, JPEG, WEBP, ICO by their
//!   signatures, SVG as UTF-8 text holding `<svg`); `FAVICON_ICO` is an ICO,
//!   `FAVICON_SVG` an SVG, and ICO serves no other category (decided); one asset per
//!   category and colour mode in a request; at most 1,000,000 bytes each, 40 per request
//!   (the model's limits);
//! - decided: the merged settings are at most 1 MiB of JSON;
//! - the requests of Create and Update may be 2 MB (the API reference's limit), above the
//!   server's `--max-body-bytes` when that is smaller;
//! - deleting an app client deletes its style.
//!
//! The hosted pages (`look`): a domain with `ManagedLoginVersion` 2 shows each client's
//! style, and a client without one gets Cognito's "Login pages unavailable" page; with
//! version 1 the classic SetUICustomization branding applies and styles are not shown.
//! Applied from a style: the colour scheme (`categories.global.colorSchemeMode`: LIGHT,
//! DARK, or DYNAMIC following the browser), the page background colour and
//! `PAGE_BACKGROUND` image, the form's colours, border, radius and `FORM_BACKGROUND`
//! image, the `FORM_LOGO` (when `components.form.logo.enabled`), the page text, label,
//! input, link and primary button colours, button and input radii, and the favicons
//! (`FAVICON_ICO`, `FAVICON_SVG`). Everything else is stored and described only.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{app_clients, domains, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::sync::LazyLock;
use userpool_model::types::{
    AssetCategoryType, AssetExtensionType, AssetType, ColorSchemeModeType, CreateManagedLoginBrandingRequest,
    CreateManagedLoginBrandingResponse, DeleteManagedLoginBrandingRequest, DescribeManagedLoginBrandingByClientRequest,
    DescribeManagedLoginBrandingByClientResponse, DescribeManagedLoginBrandingRequest,
    DescribeManagedLoginBrandingResponse, ManagedLoginBrandingType, UpdateManagedLoginBrandingRequest,
    UpdateManagedLoginBrandingResponse,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// The largest request of CreateManagedLoginBranding and UpdateManagedLoginBranding.
pub const MAX_REQUEST_BYTES: u64 = 2 * 1024 * 1024;

/// The largest merged `Settings`, as JSON.
const MAX_SETTINGS_BYTES: usize = 1024 * 1024;

/// Cognito's default style settings (what `ReturnMergedResources` fills in).
static DEFAULTS: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("branding_defaults.json")).unwrap_or_else(|e| {
        tracing::error!(error = %e, "IE0050 the default branding settings do not parse");
        Value::Object(Map::new())
    })
});

/// A style as stored (its dates are the object's).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Style {
    /// ManagedLoginBrandingId.
    pub id: String,
    /// Its app client.
    pub client_id: String,
    /// Cognito's default style.
    pub use_cognito_provided_values: bool,
    /// The customized settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// The images, with their bytes.
    #[serde(default)]
    pub assets: Vec<AssetType>,
}

impl Style {
    /// The settings the pages apply: the defaults with the customized values over them.
    pub fn merged_settings(&self) -> Value {
        let mut merged = DEFAULTS.clone();
        if let Some(s) = self.settings.as_ref().filter(|_| !self.use_cognito_provided_values) {
            merge(&mut merged, s);
        }
        merged
    }
}

fn exists(client_id: &str) -> CognitoError {
    CognitoError::new(
        ErrorCode::ManagedLoginBrandingExistsException,
        format!("A managed login branding style already exists for app client {client_id}."),
    )
}

fn not_found(id: &str) -> CognitoError {
    CognitoError::not_found(format!("Managed login branding style {id} does not exist."))
}

fn missing(member: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

// ---------------------------------------------------------------------------------------
// Settings

/// Merges `over` into `base`: objects member by member (a `null` member removes the
/// base's), anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match (b.get_mut(k), v) {
                    (_, Value::Null) => {
                        b.remove(k);
                    }
                    (Some(bv @ Value::Object(_)), Value::Object(_)) => merge(bv, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn is_color_key(k: &str) -> bool {
    k == "color" || k.ends_with("Color")
}

fn is_hex_color(s: &str) -> bool {
    matches!(s.len(), 6 | 8) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_colors(v: &Value, path: &str) -> OpResult<()> {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let bad = is_color_key(k) && !v.is_null() && !v.as_str().is_some_and(is_hex_color);
                if bad {
                    return Err(CognitoError::invalid_parameter(format!(
                        "Settings {here} is not a color: it is 6 or 8 hexadecimal digits (RRGGBB or RRGGBBAA)."
                    )));
                }
                check_colors(v, &here)?;
            }
            Ok(())
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_colors(v, &format!("{path}[{i}]"))),
        _ => Ok(()),
    }
}

fn check_settings(v: &Value) -> OpResult<()> {
    if !v.is_object() {
        return Err(CognitoError::invalid_parameter("Settings must be a JSON object."));
    }
    check_colors(v, "")
}

fn check_size(settings: Option<&Value>) -> OpResult<()> {
    let n = settings.map_or(0, |s| s.to_string().len());
    if n > MAX_SETTINGS_BYTES {
        return Err(CognitoError::invalid_parameter(format!(
            "Settings must not exceed {MAX_SETTINGS_BYTES} bytes of JSON."
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Assets

fn category_name(c: AssetCategoryType) -> &'static str {
    c.as_str()
}

/// Whether `bytes` are a file of `ext`.
fn is_file_of(ext: AssetExtensionType, bytes: &[u8]) -> bool {
    match ext {
        AssetExtensionType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        AssetExtensionType::Jpeg => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        AssetExtensionType::Webp => bytes.get(..4) == Some(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"),
        AssetExtensionType::Ico => bytes.starts_with(&[0, 0, 1, 0]),
        AssetExtensionType::Svg => std::str::from_utf8(bytes).is_ok_and(|s| s.contains("<svg")),
    }
}

/// The media type of an asset's file.
pub fn media_type(ext: AssetExtensionType) -> &'static str {
    match ext {
        AssetExtensionType::Png => "image/png",
        AssetExtensionType::Jpeg => "image/jpeg",
        AssetExtensionType::Webp => "image/webp",
        AssetExtensionType::Ico => "image/x-icon",
        AssetExtensionType::Svg => "image/svg+xml",
    }
}

fn extension_allowed(c: AssetCategoryType, ext: AssetExtensionType) -> bool {
    match c {
        AssetCategoryType::FaviconIco => ext == AssetExtensionType::Ico,
        AssetCategoryType::FaviconSvg => ext == AssetExtensionType::Svg,
        _ => ext != AssetExtensionType::Ico,
    }
}

/// Checks a request's assets (bytes, when given, against their extension).
fn check_assets(assets: &[AssetType]) -> OpResult<()> {
    let mut seen = std::collections::HashSet::new();
    for a in assets {
        let (cat, mode, ext) = (category_name(a.category), a.color_mode.as_str(), a.extension.as_str());
        if !seen.insert((a.category, a.color_mode)) {
            return Err(CognitoError::invalid_parameter(format!(
                "Assets holds more than one {cat} asset for color mode {mode}."
            )));
        }
        if !extension_allowed(a.category, a.extension) {
            return Err(CognitoError::invalid_parameter(format!(
                "Extension {ext} is not allowed for asset category {cat}."
            )));
        }
        if let Some(b) = &a.bytes {
            if !is_file_of(a.extension, &b.0) {
                return Err(CognitoError::invalid_parameter(format!(
                    "The {cat} asset for color mode {mode} is not a valid {ext} file."
                )));
            }
        }
    }
    Ok(())
}

/// Merges a request's assets into the style's by (category, colour mode); an asset
/// without bytes keeps the style's.
fn merge_assets(existing: &mut Vec<AssetType>, new: Vec<AssetType>) -> OpResult<()> {
    for mut a in new {
        let at = existing
            .iter()
            .position(|e| e.category == a.category && e.color_mode == a.color_mode);
        if a.bytes.is_none() {
            let kept = at.and_then(|i| existing.get(i)).filter(|e| e.extension == a.extension);
            match kept {
                Some(e) => a.bytes = e.bytes.clone(),
                None => {
                    return Err(CognitoError::invalid_parameter(format!(
                        "The {} asset for color mode {} has no Bytes.",
                        category_name(a.category),
                        a.color_mode.as_str()
                    )))
                }
            }
        }
        match at.and_then(|i| existing.get_mut(i)) {
            Some(slot) => *slot = a,
            None => existing.push(a),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The store

fn style_object(ctx: &Ctx, pool_id: &str, style: &Style, created_ms: i64) -> OpResult<ObjectRecord> {
    Ok(ObjectRecord {
        kind: ObjectKind::ManagedLoginBranding,
        pool_id: pool_id.to_string(),
        name: style.client_id.clone(),
        body: domains::encode(style)?,
        created_ms,
        modified_ms: ctx.now_ms,
    })
}

/// A client's style, if it has one.
pub async fn style_of_client(ctx: &Ctx, pool_id: &str, client_id: &str) -> OpResult<Option<(ObjectRecord, Style)>> {
    match ctx
        .store()
        .get_object(ObjectKind::ManagedLoginBranding, pool_id, client_id)
        .await?
    {
        Some(o) => {
            let s: Style = domains::decode(&o)?;
            Ok(Some((o, s)))
        }
        None => Ok(None),
    }
}

/// The style `id` names in the pool.
async fn find(ctx: &Ctx, pool_id: &str, id: &str) -> OpResult<(ObjectRecord, Style)> {
    users::load(ctx, pool_id).await?;
    let index = ctx
        .store()
        .get_object(ObjectKind::ManagedLoginBrandingId, pool_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let client_id: String = domains::decode(&index)?;
    match style_of_client(ctx, pool_id, &client_id).await? {
        Some((o, s)) if s.id == id => Ok((o, s)),
        _ => Err(not_found(id)),
    }
}

async fn remove_index(ctx: &Ctx, pool_id: &str, id: &str) {
    match ctx
        .store()
        .delete_object(ObjectKind::ManagedLoginBrandingId, pool_id, id)
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => {}
        // Harmless: a lookup by id checks the style it reaches.
        Err(e) => tracing::warn!(error = %e, pool = %pool_id, id = %id, "a branding style's id was not removed"),
    }
}

/// Removes a deleted client's style (DeleteUserPoolClient).
pub async fn forget_client(ctx: &Ctx, pool_id: &str, client_id: &str) {
    let Ok(Some((_, style))) = style_of_client(ctx, pool_id, client_id).await else {
        return;
    };
    match ctx
        .store()
        .delete_object(ObjectKind::ManagedLoginBranding, pool_id, client_id)
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => remove_index(ctx, pool_id, &style.id).await,
        Err(e) => tracing::warn!(error = %e, pool = %pool_id, "a deleted client's branding style was not removed"),
    }
}

fn view(pool_id: &str, o: &ObjectRecord, style: Style, merged: bool) -> ManagedLoginBrandingType {
    let settings = if merged {
        Some(style.merged_settings())
    } else {
        style.settings.clone().filter(|_| !style.use_cognito_provided_values)
    };
    ManagedLoginBrandingType {
        managed_login_branding_id: Some(style.id),
        user_pool_id: Some(pool_id.to_string()),
        use_cognito_provided_values: Some(style.use_cognito_provided_values),
        settings,
        assets: Some(style.assets),
        creation_date: Some(Timestamp(o.created_ms)),
        last_modified_date: Some(Timestamp(o.modified_ms)),
    }
}

/// Whether a request gives settings or assets.
fn customizes(settings: Option<&Value>, assets: Option<&Vec<AssetType>>) -> bool {
    settings.is_some_and(|s| !s.is_null()) || assets.is_some_and(|a| !a.is_empty())
}

fn refuse_both() -> CognitoError {
    CognitoError::invalid_parameter("Settings and Assets must be omitted when UseCognitoProvidedValues is true.")
}

// ---------------------------------------------------------------------------------------
// The operations

/// CreateManagedLoginBranding
pub async fn create_managed_login_branding(
    ctx: &Ctx,
    req: CreateManagedLoginBrandingRequest,
) -> OpResult<CreateManagedLoginBrandingResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    app_clients::load_client(ctx, &req.user_pool_id, &req.client_id).await?;
    let defaults = req.use_cognito_provided_values == Some(true);
    let settings = req.settings.filter(|s| !s.is_null());
    if defaults && customizes(settings.as_ref(), req.assets.as_ref()) {
        return Err(refuse_both());
    }
    let mut style = Style {
        id: crate::ids::uuid().to_string(),
        client_id: req.client_id.clone(),
        use_cognito_provided_values: defaults,
        settings: None,
        assets: Vec::new(),
    };
    if let Some(s) = settings {
        check_settings(&s)?;
        let mut kept = Value::Object(Map::new());
        merge(&mut kept, &s);
        check_size(Some(&kept))?;
        style.settings = Some(kept);
    }
    if let Some(assets) = req.assets {
        check_assets(&assets)?;
        merge_assets(&mut style.assets, assets)?;
    }
    // The id first: a style is never reachable by client without its id resolving.
    let index = ObjectRecord {
        kind: ObjectKind::ManagedLoginBrandingId,
        pool_id: req.user_pool_id.clone(),
        name: style.id.clone(),
        body: domains::encode(&req.client_id)?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&index).await.map_err(|e| match e {
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    })?;
    let o = style_object(ctx, &req.user_pool_id, &style, ctx.now_ms)?;
    if let Err(e) = ctx.store().create_object(&o).await {
        remove_index(ctx, &req.user_pool_id, &style.id).await;
        return Err(match e {
            StoreError::Conflict(_) => exists(&req.client_id),
            StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
            other => other.into(),
        });
    }
    tracing::info!(pool = %req.user_pool_id, client = %req.client_id, id = %style.id, "created managed login branding style");
    Ok(CreateManagedLoginBrandingResponse {
        managed_login_branding: Some(view(&req.user_pool_id, &o, style, false)),
    })
}

/// DescribeManagedLoginBranding
pub async fn describe_managed_login_branding(
    ctx: &Ctx,
    req: DescribeManagedLoginBrandingRequest,
) -> OpResult<DescribeManagedLoginBrandingResponse> {
    let (o, style) = find(ctx, &req.user_pool_id, &req.managed_login_branding_id).await?;
    Ok(DescribeManagedLoginBrandingResponse {
        managed_login_branding: Some(view(
            &req.user_pool_id,
            &o,
            style,
            req.return_merged_resources == Some(true),
        )),
    })
}

/// DescribeManagedLoginBrandingByClient
pub async fn describe_managed_login_branding_by_client(
    ctx: &Ctx,
    req: DescribeManagedLoginBrandingByClientRequest,
) -> OpResult<DescribeManagedLoginBrandingByClientResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    app_clients::load_client(ctx, &req.user_pool_id, &req.client_id).await?;
    let (o, style) = style_of_client(ctx, &req.user_pool_id, &req.client_id)
        .await?
        .ok_or_else(|| {
            CognitoError::not_found(format!(
                "No managed login branding style is assigned to app client {}.",
                req.client_id
            ))
        })?;
    Ok(DescribeManagedLoginBrandingByClientResponse {
        managed_login_branding: Some(view(
            &req.user_pool_id,
            &o,
            style,
            req.return_merged_resources == Some(true),
        )),
    })
}

/// UpdateManagedLoginBranding: merges what it gives into the style.
pub async fn update_managed_login_branding(
    ctx: &Ctx,
    req: UpdateManagedLoginBrandingRequest,
) -> OpResult<UpdateManagedLoginBrandingResponse> {
    let pool_id = req.user_pool_id.as_deref().ok_or_else(|| missing("userPoolId"))?;
    let id = req
        .managed_login_branding_id
        .as_deref()
        .ok_or_else(|| missing("managedLoginBrandingId"))?;
    let settings = req.settings.as_ref().filter(|s| !s.is_null());
    let defaults = req.use_cognito_provided_values == Some(true);
    if defaults && customizes(settings, req.assets.as_ref()) {
        return Err(refuse_both());
    }
    if let Some(s) = settings {
        check_settings(s)?;
    }
    if let Some(a) = &req.assets {
        check_assets(a)?;
    }
    // Read, merge, and write only over what was read (two updates merging at once would
    // otherwise lose one; a style deleted and created again meanwhile is not written over).
    for _ in 0..5 {
        let (o, mut style) = find(ctx, pool_id, id).await?;
        if defaults {
            style.use_cognito_provided_values = true;
            style.settings = None;
            style.assets.clear();
        } else {
            if req.use_cognito_provided_values == Some(false) || customizes(settings, req.assets.as_ref()) {
                style.use_cognito_provided_values = false;
            }
            if let Some(s) = settings {
                let mut kept = style.settings.take().unwrap_or_else(|| Value::Object(Map::new()));
                merge(&mut kept, s);
                check_size(Some(&kept))?;
                style.settings = Some(kept);
            }
            if let Some(a) = &req.assets {
                merge_assets(&mut style.assets, a.clone())?;
            }
        }
        let updated = style_object(ctx, pool_id, &style, o.created_ms)?;
        match ctx.store().replace_object_if(&updated, &o).await {
            Ok(()) => {
                return Ok(UpdateManagedLoginBrandingResponse {
                    managed_login_branding: Some(view(pool_id, &updated, style, false)),
                })
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::NotFound) => return Err(not_found(id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CognitoError::new(
        ErrorCode::ConcurrentModificationException,
        "The managed login branding style was changed by other requests at the same time; try again.",
    ))
}

/// DeleteManagedLoginBranding
pub async fn delete_managed_login_branding(ctx: &Ctx, req: DeleteManagedLoginBrandingRequest) -> OpResult<()> {
    let (_, style) = find(ctx, &req.user_pool_id, &req.managed_login_branding_id).await?;
    ctx.store()
        .delete_object(ObjectKind::ManagedLoginBranding, &req.user_pool_id, &style.client_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(&req.managed_login_branding_id),
            other => other.into(),
        })?;
    remove_index(ctx, &req.user_pool_id, &style.id).await;
    tracing::info!(pool = %req.user_pool_id, id = %style.id, "deleted managed login branding style");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The pages' look

/// What a style shows on the hosted pages.
#[derive(Debug, Default)]
pub struct PageLook {
    /// The style sheet (colours checked as hex digits, images as `data:` URLs).
    pub css: String,
    /// The form logo, as a `data:` URL (the light or only one).
    pub logo: Option<String>,
    /// The dark-mode form logo, when the scheme follows the browser.
    pub logo_dark: Option<String>,
    /// The favicon, as a `data:` URL.
    pub favicon: Option<String>,
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn css_color(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path)
        .and_then(Value::as_str)
        .filter(|s| is_hex_color(s))
        .map(|s| format!("#{s}"))
}

fn css_px(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path)
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite() && (0.0..=100.0).contains(n))
        .map(|n| format!("{n}px"))
}

fn enabled(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool) == Some(true)
}

fn data_url(a: &AssetType) -> Option<String> {
    let bytes = a.bytes.as_ref()?;
    Some(format!(
        "data:{};base64,{}",
        media_type(a.extension),
        STANDARD.encode(&bytes.0)
    ))
}

/// The asset of `category` for `mode` (its own, else the browser-adaptive one).
fn asset_for(style: &Style, category: AssetCategoryType, mode: ColorSchemeModeType) -> Option<String> {
    let find = |m: ColorSchemeModeType| {
        style
            .assets
            .iter()
            .find(|a| a.category == category && a.color_mode == m)
    };
    find(mode)
        .or_else(|| find(ColorSchemeModeType::Dynamic))
        .and_then(data_url)
}

/// One rule: `selector { property: value; ... }`, for the declarations that have a value.
fn rule(out: &mut String, selector: &str, decls: &[(&str, Option<String>)]) {
    let body: Vec<String> = decls
        .iter()
        .filter_map(|(p, v)| v.as_ref().map(|v| format!("{p}: {v}")))
        .collect();
    if !body.is_empty() {
        let _ = writeln!(out, "{selector} {{ {}; }}", body.join("; "));
    }
}

/// The rules of one colour mode (`lightMode` / `darkMode`).
fn mode_css(style: &Style, s: &Value, mode: &str, scheme: ColorSchemeModeType) -> String {
    let mut out = String::new();
    let c = |path: &[&str]| css_color(s, path);
    let background = asset_for(style, AssetCategoryType::PageBackground, scheme)
        .filter(|_| enabled(s, &["components", "pageBackground", "image", "enabled"]))
        .map(|u| format!("url(\"{u}\")"));
    let cover = background.as_ref().map(|_| "cover".to_string());
    rule(
        &mut out,
        "body",
        &[
            ("background-color", c(&["components", "pageBackground", mode, "color"])),
            ("background-image", background),
            ("background-size", cover),
            ("color", c(&["components", "pageText", mode, "bodyColor"])),
        ],
    );
    rule(
        &mut out,
        "h1",
        &[("color", c(&["components", "pageText", mode, "headingColor"]))],
    );
    rule(
        &mut out,
        ".textDescription-customizable",
        &[("color", c(&["components", "pageText", mode, "descriptionColor"]))],
    );
    let form_image = asset_for(style, AssetCategoryType::FormBackground, scheme)
        .filter(|_| enabled(s, &["components", "form", "backgroundImage", "enabled"]))
        .map(|u| format!("url(\"{u}\")"));
    let border = c(&["components", "form", mode, "borderColor"]).map(|b| format!("1px solid {b}"));
    rule(
        &mut out,
        ".modal-content",
        &[
            ("background-color", c(&["components", "form", mode, "backgroundColor"])),
            ("background-image", form_image),
            ("border", border),
            ("border-radius", css_px(s, &["components", "form", "borderRadius"])),
        ],
    );
    rule(
        &mut out,
        "label",
        &[("color", c(&["componentClasses", "inputLabel", mode, "textColor"]))],
    );
    let input_border =
        c(&["componentClasses", "input", mode, "defaults", "borderColor"]).map(|b| format!("1px solid {b}"));
    rule(
        &mut out,
        "input[type=text], input[type=password]",
        &[
            (
                "background-color",
                c(&["componentClasses", "input", mode, "defaults", "backgroundColor"]),
            ),
            ("border", input_border),
            (
                "border-radius",
                css_px(s, &["componentClasses", "input", "borderRadius"]),
            ),
        ],
    );
    rule(
        &mut out,
        ".submitButton-customizable",
        &[
            (
                "background-color",
                c(&["components", "primaryButton", mode, "defaults", "backgroundColor"]),
            ),
            (
                "color",
                c(&["components", "primaryButton", mode, "defaults", "textColor"]),
            ),
            (
                "border-radius",
                css_px(s, &["componentClasses", "buttons", "borderRadius"]),
            ),
        ],
    );
    rule(
        &mut out,
        ".submitButton-customizable:hover",
        &[
            (
                "background-color",
                c(&["components", "primaryButton", mode, "hover", "backgroundColor"]),
            ),
            ("color", c(&["components", "primaryButton", mode, "hover", "textColor"])),
        ],
    );
    rule(
        &mut out,
        "a",
        &[("color", c(&["componentClasses", "link", mode, "defaults", "textColor"]))],
    );
    rule(
        &mut out,
        "a:hover",
        &[("color", c(&["componentClasses", "link", mode, "hover", "textColor"]))],
    );
    out
}

/// The look a style gives the hosted pages.
pub fn page_look(style: &Style) -> PageLook {
    let s = style.merged_settings();
    let scheme = at(&s, &["categories", "global", "colorSchemeMode"]).and_then(Value::as_str);
    let logo_on = enabled(&s, &["components", "form", "logo", "enabled"]);
    let logo = |mode| asset_for(style, AssetCategoryType::FormLogo, mode).filter(|_| logo_on);
    let favicon_types: Vec<&str> = at(&s, &["components", "favicon", "enabledTypes"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let favicon = [
        ("SVG", AssetCategoryType::FaviconSvg),
        ("ICO", AssetCategoryType::FaviconIco),
    ]
    .into_iter()
    .filter(|(t, _)| favicon_types.contains(t))
    .find_map(|(_, c)| {
        asset_for(style, c, ColorSchemeModeType::Light).or_else(|| asset_for(style, c, ColorSchemeModeType::Dark))
    });
    match scheme {
        Some("DARK") => PageLook {
            css: mode_css(style, &s, "darkMode", ColorSchemeModeType::Dark),
            logo: logo(ColorSchemeModeType::Dark),
            logo_dark: None,
            favicon,
        },
        Some("DYNAMIC") => {
            let mut css = mode_css(style, &s, "lightMode", ColorSchemeModeType::Light);
            let _ = writeln!(
                css,
                "@media (prefers-color-scheme: dark) {{\n{}}}",
                mode_css(style, &s, "darkMode", ColorSchemeModeType::Dark)
            );
            let light = logo(ColorSchemeModeType::Light);
            let dark = logo(ColorSchemeModeType::Dark).filter(|d| Some(d) != light.as_ref());
            PageLook {
                css,
                logo: light,
                logo_dark: dark,
                favicon,
            }
        }
        _ => PageLook {
            css: mode_css(style, &s, "lightMode", ColorSchemeModeType::Light),
            logo: logo(ColorSchemeModeType::Light),
            logo_dark: None,
            favicon,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_merge_member_by_member_and_null_removes() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"});
        merge(&mut base, &json!({"a": {"c": [3], "e": true}, "d": null}));
        assert_eq!(base, json!({"a": {"b": 1, "c": [3], "e": true}}));
    }

    #[test]
    fn colors_are_hex() {
        assert!(
            check_settings(&json!({"components": {"pageBackground": {"lightMode": {"color": "ff0000ff"}}}})).is_ok()
        );
        assert!(check_settings(&json!({"x": {"textColor": "abcdef"}})).is_ok());
        for bad in ["red", "#ff0000", "ff00", "gg0000ff"] {
            assert!(check_settings(&json!({"x": {"textColor": bad}})).is_err(), "{bad}");
        }
        assert!(check_settings(&json!({"x": {"borderColor": 5}})).is_err());
        assert!(check_settings(&json!([1])).is_err());
    }

    #[test]
    fn the_defaults_parse_and_give_cognitos_look() {
        assert!(DEFAULTS.get("components").is_some());
        let look = page_look(&Style::default());
        assert!(look.css.contains("body { background-color: #ffffffff"), "{}", look.css);
        assert!(look
            .css
            .contains(".submitButton-customizable { background-color: #0972d3ff"));
        assert!(look.logo.is_none() && look.favicon.is_none());
    }

    #[test]
    fn a_style_colours_the_page_and_shows_its_images() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let style = Style {
            settings: Some(json!({
                "categories": {"global": {"colorSchemeMode": "DYNAMIC"}},
                "components": {"pageBackground": {"lightMode": {"color": "112233ff"}},
                               "form": {"logo": {"enabled": true}}}
            })),
            assets: vec![
                AssetType {
                    category: AssetCategoryType::FormLogo,
                    color_mode: ColorSchemeModeType::Light,
                    extension: AssetExtensionType::Png,
                    bytes: Some(userpool_model::Blob(png.clone())),
                    resource_id: None,
                },
                AssetType {
                    category: AssetCategoryType::PageBackground,
                    color_mode: ColorSchemeModeType::Dark,
                    extension: AssetExtensionType::Png,
                    bytes: Some(userpool_model::Blob(png)),
                    resource_id: None,
                },
            ],
            ..Style::default()
        };
        let look = page_look(&style);
        assert!(look.css.contains("background-color: #112233ff"), "{}", look.css);
        let (light, dark) = look.css.split_once("@media (prefers-color-scheme: dark)").unwrap();
        assert!(!light.contains("background-image"));
        assert!(dark.contains("background-image: url(\"data:image/png;base64,iVBORw0KGgpyZXN0\")"));
        assert_eq!(look.logo.as_deref(), Some("data:image/png;base64,iVBORw0KGgpyZXN0"));
    }

    #[test]
    fn assets_are_checked_against_their_extension_and_category() {
        let a = |c, e, b: &[u8]| AssetType {
            category: c,
            color_mode: ColorSchemeModeType::Light,
            extension: e,
            bytes: Some(userpool_model::Blob(b.to_vec())),
            resource_id: None,
        };
        assert!(check_assets(&[a(AssetCategoryType::FormLogo, AssetExtensionType::Svg, b"<svg/>")]).is_ok());
        assert!(check_assets(&[a(AssetCategoryType::FormLogo, AssetExtensionType::Png, b"<svg/>")]).is_err());
        assert!(check_assets(&[a(
            AssetCategoryType::FaviconIco,
            AssetExtensionType::Png,
            b"\x89PNG\r\n\x1a\n"
        )])
        .is_err());
        assert!(check_assets(&[a(AssetCategoryType::FormLogo, AssetExtensionType::Ico, b"\0\0\x01\0")]).is_err());
        assert!(check_assets(&[a(AssetCategoryType::FaviconIco, AssetExtensionType::Ico, b"\0\0\x01\0")]).is_ok());
        let webp = b"RIFF\0\0\0\0WEBPVP8 ";
        assert!(check_assets(&[a(AssetCategoryType::PageBackground, AssetExtensionType::Webp, webp)]).is_ok());
        let twice = [
            a(AssetCategoryType::FormLogo, AssetExtensionType::Svg, b"<svg/>"),
            a(AssetCategoryType::FormLogo, AssetExtensionType::Svg, b"<svg/>"),
        ];
        assert!(check_assets(&twice).is_err());
    }
}
