//! The hosted pages' branding: SetUICustomization, GetUICustomization.
//!
//! Rules (the developer guide's "Hosted UI (classic) branding"):
//! - a pool needs a domain first ("A domain must be associated with this user pool.");
//! - `ClientId` names one client's branding, `ALL` (or none) the pool's; a client with
//!   its own branding no longer falls back to the pool's;
//! - the CSS may style only Cognito's `-customizable` classes; anything else (another
//!   selector, an at-rule, `<`) is refused with "The CSS class <selector> is not in the list
//!   of allowed classes.";
//! - the logo is a PNG or JPEG of at most 100 KB; a call sets CSS and logo together (one
//!   left out is removed);
//! - `CSSVersion` is the time of the change, `yyyymmddHHMMSS` (UTC), as Cognito shows it;
//!   `ImageUrl` is where this server serves the logo
//!   (`<public URL>/_userpool/ui/<poolId>/<clientId>/logo`).

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{app_clients, domains, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use userpool_model::types::{
    GetUICustomizationRequest, GetUICustomizationResponse, SetUICustomizationRequest, SetUICustomizationResponse,
    UICustomizationType,
};
use userpool_model::Timestamp;
use userpool_store::{ObjectKind, ObjectRecord};

/// The classes (with their pseudo-classes) the CSS may style.
const ALLOWED: [&str; 18] = [
    "background-customizable",
    "banner-customizable",
    "errorMessage-customizable",
    "idpButton-customizable",
    "idpButton-customizable:hover",
    "idpDescription-customizable",
    "inputField-customizable",
    "inputField-customizable:focus",
    "label-customizable",
    "legalText-customizable",
    "logo-customizable",
    "passwordCheck-notValid-customizable",
    "passwordCheck-valid-customizable",
    "redirect-customizable",
    "socialButton-customizable",
    "submitButton-customizable",
    "submitButton-customizable:hover",
    "textDescription-customizable",
];

/// The largest logo, bytes.
const MAX_IMAGE: usize = 100 * 1024;

/// A branding as stored.
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Branding {
    /// The CSS (only allowed classes).
    pub css: Option<String>,
    /// The logo, base64.
    pub image: Option<String>,
    /// `image/png` or `image/jpeg`.
    pub image_type: Option<String>,
}

impl Branding {
    /// The logo as a `data:` URL for the pages.
    pub fn logo_data_url(&self) -> Option<String> {
        match (&self.image, &self.image_type) {
            (Some(i), Some(t)) => Some(format!("data:{t};base64,{i}")),
            _ => None,
        }
    }
}

fn refused(selector: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!(
        "The CSS class {selector} is not in the list of allowed classes."
    ))
}

/// Checks a style sheet: rules `selectors { declarations }` whose every selector is an
/// allowed class; no at-rules, no nested blocks, nothing that could end the page's
/// `<style>` element.
fn check_css(css: &str) -> OpResult<()> {
    if css.contains('<') || css.contains('@') || css.contains('\\') {
        return Err(refused(css.split(['{', '\n']).next().unwrap_or_default().trim()));
    }
    let mut rest = css;
    while let Some(open) = rest.find('{') {
        let (selectors, after) = rest.split_at(open);
        let after = after.get(1..).unwrap_or_default();
        let close = after.find('}').ok_or_else(|| refused(selectors.trim()))?;
        let body = after.get(..close).unwrap_or_default();
        if body.contains('{') {
            return Err(refused(selectors.trim()));
        }
        for s in selectors.split(',').map(str::trim) {
            let ok = s.strip_prefix('.').is_some_and(|class| ALLOWED.contains(&class));
            if !ok {
                return Err(refused(s));
            }
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    if !rest.trim().is_empty() {
        return Err(refused(rest.trim()));
    }
    Ok(())
}

fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// `yyyymmddHHMMSS` of an epoch-ms instant (UTC).
fn css_version(ms: i64) -> String {
    let t = crate::clock::utc(ms);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn view(ctx: &Ctx, pool_id: &str, client_id: &str, o: Option<&ObjectRecord>) -> OpResult<UICustomizationType> {
    let Some(o) = o else {
        return Ok(UICustomizationType {
            user_pool_id: Some(pool_id.to_string()),
            client_id: Some(client_id.to_string()),
            ..UICustomizationType::default()
        });
    };
    let b: Branding = domains::decode(o)?;
    Ok(UICustomizationType {
        user_pool_id: Some(pool_id.to_string()),
        client_id: Some(o.name.clone()),
        image_url: b
            .image
            .as_ref()
            .map(|_| format!("{}/_userpool/ui/{pool_id}/{}/logo", ctx.app.config.public_url, o.name)),
        css: b.css,
        css_version: Some(css_version(o.modified_ms)),
        last_modified_date: Some(Timestamp(o.modified_ms)),
        creation_date: Some(Timestamp(o.created_ms)),
    })
}

/// The branding the pages of `client_id` show: the client's own, else the pool's.
pub async fn branding(ctx: &Ctx, pool_id: &str, client_id: &str) -> OpResult<Option<ObjectRecord>> {
    if let Some(o) = ctx
        .store()
        .get_object(ObjectKind::UiCustomization, pool_id, client_id)
        .await?
    {
        return Ok(Some(o));
    }
    Ok(ctx
        .store()
        .get_object(ObjectKind::UiCustomization, pool_id, "ALL")
        .await?)
}

async fn target(ctx: &Ctx, pool_id: &str, client_id: Option<&str>) -> OpResult<String> {
    users::load(ctx, pool_id).await?;
    match client_id.filter(|c| *c != "ALL") {
        Some(c) => {
            let client = app_clients::find_client(ctx, c).await?;
            if client.record.pool_id != pool_id {
                return Err(CognitoError::client_not_found(c));
            }
            Ok(c.to_string())
        }
        None => Ok("ALL".to_string()),
    }
}

/// SetUICustomization
pub async fn set_ui_customization(ctx: &Ctx, req: SetUICustomizationRequest) -> OpResult<SetUICustomizationResponse> {
    let name = target(ctx, &req.user_pool_id, req.client_id.as_deref()).await?;
    let (prefix, custom) = domains::pool_domains(ctx, &req.user_pool_id).await?;
    if prefix.is_none() && custom.is_none() {
        return Err(CognitoError::invalid_parameter(
            "A domain must be associated with this user pool.",
        ));
    }
    if let Some(css) = &req.css {
        check_css(css)?;
    }
    let (image, kind) = match &req.image_file {
        None => (None, None),
        Some(blob) => {
            if blob.0.len() > MAX_IMAGE {
                return Err(CognitoError::invalid_parameter("request parameters too large"));
            }
            let kind = image_type(&blob.0)
                .ok_or_else(|| CognitoError::invalid_parameter("The logo must be a PNG or JPEG image."))?;
            (Some(STANDARD.encode(&blob.0)), Some(kind.to_string()))
        }
    };
    let body = domains::encode(&Branding {
        css: req.css.filter(|c| !c.trim().is_empty()),
        image,
        image_type: kind,
    })?;
    let existing = ctx
        .store()
        .get_object(ObjectKind::UiCustomization, &req.user_pool_id, &name)
        .await?;
    let o = ObjectRecord {
        kind: ObjectKind::UiCustomization,
        pool_id: req.user_pool_id.clone(),
        name: name.clone(),
        body,
        created_ms: existing.as_ref().map_or(ctx.now_ms, |e| e.created_ms),
        modified_ms: ctx.now_ms,
    };
    // Create or replace: the second of two concurrent first sets replaces the first.
    match existing {
        Some(_) => ctx.store().replace_object(&o).await?,
        None => match ctx.store().create_object(&o).await {
            Err(userpool_store::StoreError::Conflict(_)) => ctx.store().replace_object(&o).await?,
            other => other?,
        },
    }
    Ok(SetUICustomizationResponse {
        ui_customization: view(ctx, &req.user_pool_id, &name, Some(&o))?,
    })
}

/// GetUICustomization
pub async fn get_ui_customization(ctx: &Ctx, req: GetUICustomizationRequest) -> OpResult<GetUICustomizationResponse> {
    let name = target(ctx, &req.user_pool_id, req.client_id.as_deref()).await?;
    let found = branding(ctx, &req.user_pool_id, &name).await?;
    Ok(GetUICustomizationResponse {
        ui_customization: view(ctx, &req.user_pool_id, &name, found.as_ref())?,
    })
}

/// `GET /_userpool/ui/<poolId>/<clientId>/logo`: a branding's logo (public, as Cognito's
/// CloudFront-served image is): `(content type, bytes)`.
pub async fn logo(ctx: &Ctx, pool_id: &str, client_id: &str) -> Option<(String, Vec<u8>)> {
    let o = ctx
        .store()
        .get_object(ObjectKind::UiCustomization, pool_id, client_id)
        .await
        .ok()??;
    let b: Branding = domains::decode(&o).ok()?;
    Some((b.image_type?, STANDARD.decode(b.image?.as_bytes()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_is_refused_outside_the_allowed_classes() {
        assert!(
            check_css(".submitButton-customizable { color: red; } .banner-customizable, .logo-customizable {}").is_ok()
        );
        for bad in [
            "body { color: red }",
            ".submitButton-customizable { color: red } </style><script>",
            "@import url(x); .logo-customizable {}",
            ".label-customizable { a { b } }",
            ".label-customizable { color: red",
            ".inputField-customizable:hover {}",
        ] {
            assert!(check_css(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn css_version_is_the_utc_time() {
        assert_eq!(css_version(0), "19700101000000");
        assert_eq!(css_version(1_737_075_551_000), "20250117005911");
        assert_eq!(css_version(951_782_400_000), "20000229000000");
    }
}
