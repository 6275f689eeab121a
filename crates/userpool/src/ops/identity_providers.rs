//! Identity providers: CreateIdentityProvider, DescribeIdentityProvider,
//! UpdateIdentityProvider, DeleteIdentityProvider, ListIdentityProviders,
//! GetIdentityProviderByIdentifier.
//!
//! Rules (the API reference's ProviderDetails table; messages as Cognito answers them):
//! - a social provider's name is its type (`Google`, `Facebook`, `LoginWithAmazon`,
//!   `SignInWithApple`): "Provider <name> cannot be of type <type>.";
//! - OIDC needs `client_id`, `authorize_scopes`, `oidc_issuer` and
//!   `attributes_request_method` (GET or POST); the issuer is https, except (userpool's
//!   rule, for providers on this machine) `http://localhost` and `http://127.0.0.1`; the
//!   endpoints are discovered from the issuer when the first sign-in needs them, unless
//!   `authorize_url`, `token_url` and `jwks_uri` are given;
//! - social providers need `client_id`, `client_secret` and `authorize_scopes` (Apple:
//!   `client_id`, `private_key`, `team_id`, `key_id`); SAML exactly one of `MetadataURL`
//!   and `MetadataFile` (SAML providers are stored and described; sign-in through them is
//!   not done);
//! - `client_secret` and `private_key` are sealed with the data key in the store and shown
//!   to DescribeIdentityProvider, as Cognito shows them;
//! - an IdpIdentifier names one provider of the pool.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{domains, token, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::HashMap;
use userpool_model::types::{
    AdminDisableProviderForUserRequest, AdminDisableProviderForUserResponse, AdminLinkProviderForUserRequest,
    AdminLinkProviderForUserResponse, CreateIdentityProviderRequest, CreateIdentityProviderResponse,
    DeleteIdentityProviderRequest, DescribeIdentityProviderRequest, DescribeIdentityProviderResponse,
    GetIdentityProviderByIdentifierRequest, GetIdentityProviderByIdentifierResponse, IdentityProviderType,
    IdentityProviderTypeType, ListIdentityProvidersRequest, ListIdentityProvidersResponse, ProviderDescription,
    UpdateIdentityProviderRequest, UpdateIdentityProviderResponse,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ObjectKind, ObjectRecord, StoreError, UserRecord};

/// ProviderDetails keys kept sealed.
const SECRET_KEYS: [&str; 2] = ["client_secret", "private_key"];

fn not_found(name: &str) -> CognitoError {
    CognitoError::not_found(format!("Identity provider {name} does not exist."))
}

fn social_name(t: IdentityProviderTypeType) -> Option<&'static str> {
    match t {
        IdentityProviderTypeType::Google => Some("Google"),
        IdentityProviderTypeType::Facebook => Some("Facebook"),
        IdentityProviderTypeType::Loginwithamazon => Some("LoginWithAmazon"),
        IdentityProviderTypeType::Signinwithapple => Some("SignInWithApple"),
        IdentityProviderTypeType::Oidc | IdentityProviderTypeType::Saml => None,
    }
}

/// Whether an OIDC issuer URL is one userpool takes: https, or plain http to this machine.
pub fn issuer_allowed(url: &str) -> bool {
    url.starts_with("https://")
        || ["http://localhost", "http://127.0.0.1"].iter().any(|p| {
            url.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':') || rest.starts_with('/'))
        })
}

fn check(name: &str, t: IdentityProviderTypeType, details: &HashMap<String, String>) -> OpResult<()> {
    let has = |k: &str| details.get(k).is_some_and(|v| !v.trim().is_empty());
    match (social_name(t), t) {
        (Some(n), _) if n != name => Err(CognitoError::invalid_parameter(format!(
            "Provider {name} cannot be of type {}.",
            t.as_str()
        ))),
        (None, _)
            if [
                "Google",
                "Facebook",
                "LoginWithAmazon",
                "SignInWithApple",
                "COGNITO",
                "Cognito",
            ]
            .contains(&name) =>
        {
            Err(CognitoError::invalid_parameter(format!(
                "Provider {name} cannot be of type {}.",
                t.as_str()
            )))
        }
        (_, IdentityProviderTypeType::Oidc) => {
            if !(has("client_id") && has("authorize_scopes") && has("oidc_issuer") && has("attributes_request_method"))
            {
                return Err(CognitoError::invalid_parameter(
                    "clientId, authorizeScopes, oidcIssuer and attributesRequestMethod are all required idp details.",
                ));
            }
            if !matches!(
                details.get("attributes_request_method").map(String::as_str),
                Some("GET" | "POST")
            ) {
                return Err(CognitoError::invalid_parameter(
                    "1 validation error detected: Value at 'attributesRequestMethod' failed to satisfy constraint: \
                     Member must satisfy enum value set: [POST, GET]",
                ));
            }
            let urls = [
                "oidc_issuer",
                "authorize_url",
                "token_url",
                "attributes_url",
                "jwks_uri",
            ];
            if urls.iter().filter_map(|k| details.get(*k)).any(|u| !issuer_allowed(u)) {
                return Err(CognitoError::invalid_parameter(
                    "OIDC endpoint must start with https://",
                ));
            }
            Ok(())
        }
        (_, IdentityProviderTypeType::Signinwithapple) => {
            if has("client_id") && has("private_key") && has("team_id") && has("key_id") {
                Ok(())
            } else {
                Err(CognitoError::invalid_parameter(
                    "clientId, privateKey, teamId, and keyId are all required idp details.",
                ))
            }
        }
        (Some(_), _) => {
            if has("client_id") && has("client_secret") && has("authorize_scopes") {
                Ok(())
            } else {
                Err(CognitoError::invalid_parameter(
                    "clientId, clientSecret and authorizeScopes are all required idp details.",
                ))
            }
        }
        (None, _) => match (has("MetadataURL"), has("MetadataFile")) {
            (false, false) => Err(CognitoError::invalid_parameter(
                "At least one of the MetadataURL or MetadataFile should be provided.",
            )),
            (true, true) => Err(CognitoError::invalid_parameter(
                "Only one of the MetadataURL or MetadataFile should be provided.",
            )),
            _ => Ok(()),
        },
    }
}

/// The stored form: secrets sealed.
fn seal_details(ctx: &Ctx, details: &HashMap<String, String>) -> HashMap<String, String> {
    details
        .iter()
        .map(|(k, v)| {
            if SECRET_KEYS.contains(&k.as_str()) {
                (k.clone(), STANDARD.encode(ctx.app.sealer.seal(v.as_bytes())))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// A stored provider, secrets opened.
pub fn provider(ctx: &Ctx, o: &ObjectRecord) -> OpResult<IdentityProviderType> {
    let mut p: IdentityProviderType = domains::decode(o)?;
    if let Some(details) = p.provider_details.as_mut() {
        for k in SECRET_KEYS {
            if let Some(v) = details.get_mut(k) {
                let opened = STANDARD
                    .decode(v.as_bytes())
                    .ok()
                    .and_then(|b| ctx.app.sealer.open(&b))
                    .and_then(|b| String::from_utf8(b).ok());
                match opened {
                    Some(clear) => *v = clear,
                    None => {
                        tracing::error!(provider = %o.name, "IE0012 an identity provider's secret does not open with this data key");
                        return Err(CognitoError::internal());
                    }
                }
            }
        }
    }
    p.user_pool_id = Some(o.pool_id.clone());
    p.provider_name = Some(o.name.clone());
    p.creation_date = Some(Timestamp(o.created_ms));
    p.last_modified_date = Some(Timestamp(o.modified_ms));
    Ok(p)
}

fn stored(ctx: &Ctx, p: &IdentityProviderType) -> OpResult<String> {
    let mut s = p.clone();
    s.provider_details = p.provider_details.as_ref().map(|d| seal_details(ctx, d));
    s.creation_date = None;
    s.last_modified_date = None;
    domains::encode(&s)
}

fn with_defaults(t: IdentityProviderTypeType, mut details: HashMap<String, String>) -> HashMap<String, String> {
    if t == IdentityProviderTypeType::Oidc {
        details
            .entry("attributes_url_add_attributes".into())
            .or_insert_with(|| "false".into());
    }
    details
}

async fn check_identifiers(ctx: &Ctx, pool_id: &str, name: &str, ids: Option<&[String]>) -> OpResult<()> {
    let ids = ids.unwrap_or_default();
    for o in domains::all_objects(ctx, ObjectKind::IdentityProvider, pool_id).await? {
        if o.name == name {
            continue;
        }
        let p: IdentityProviderType = domains::decode(&o)?;
        if let Some(taken) = p.idp_identifiers.unwrap_or_default().iter().find(|i| ids.contains(i)) {
            return Err(CognitoError::invalid_parameter(format!(
                "The identifier {taken} is already used by another provider of this user pool."
            )));
        }
    }
    Ok(())
}

/// CreateIdentityProvider
pub async fn create_identity_provider(
    ctx: &Ctx,
    req: CreateIdentityProviderRequest,
) -> OpResult<CreateIdentityProviderResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    check(&req.provider_name, req.provider_type, &req.provider_details)?;
    check_identifiers(
        ctx,
        &req.user_pool_id,
        &req.provider_name,
        req.idp_identifiers.as_deref(),
    )
    .await?;
    let mut p = IdentityProviderType {
        user_pool_id: Some(req.user_pool_id.clone()),
        provider_name: Some(req.provider_name.clone()),
        provider_type: Some(req.provider_type),
        provider_details: Some(with_defaults(req.provider_type, req.provider_details)),
        attribute_mapping: Some(req.attribute_mapping.unwrap_or_default()),
        idp_identifiers: Some(req.idp_identifiers.unwrap_or_default()),
        ..IdentityProviderType::default()
    };
    let o = ObjectRecord {
        kind: ObjectKind::IdentityProvider,
        pool_id: req.user_pool_id.clone(),
        name: req.provider_name.clone(),
        body: stored(ctx, &p)?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&o).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::new(
            ErrorCode::DuplicateProviderException,
            format!("{} already exists in user pool {}", req.provider_name, req.user_pool_id),
        ),
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    })?;
    p.creation_date = Some(Timestamp(o.created_ms));
    p.last_modified_date = Some(Timestamp(o.modified_ms));
    Ok(CreateIdentityProviderResponse { identity_provider: p })
}

async fn load(ctx: &Ctx, pool_id: &str, name: &str) -> OpResult<ObjectRecord> {
    users::load(ctx, pool_id).await?;
    ctx.store()
        .get_object(ObjectKind::IdentityProvider, pool_id, name)
        .await?
        .ok_or_else(|| not_found(name))
}

/// DescribeIdentityProvider
pub async fn describe_identity_provider(
    ctx: &Ctx,
    req: DescribeIdentityProviderRequest,
) -> OpResult<DescribeIdentityProviderResponse> {
    let o = load(ctx, &req.user_pool_id, &req.provider_name).await?;
    Ok(DescribeIdentityProviderResponse {
        identity_provider: provider(ctx, &o)?,
    })
}

/// UpdateIdentityProvider: replaces what it names (ProviderDetails whole).
pub async fn update_identity_provider(
    ctx: &Ctx,
    req: UpdateIdentityProviderRequest,
) -> OpResult<UpdateIdentityProviderResponse> {
    let mut o = load(ctx, &req.user_pool_id, &req.provider_name).await?;
    let mut p = provider(ctx, &o)?;
    let t = p.provider_type.unwrap_or_default();
    if let Some(d) = req.provider_details {
        check(&req.provider_name, t, &d)?;
        p.provider_details = Some(with_defaults(t, d));
    }
    if let Some(m) = req.attribute_mapping {
        p.attribute_mapping = Some(m);
    }
    if let Some(ids) = req.idp_identifiers {
        check_identifiers(ctx, &req.user_pool_id, &req.provider_name, Some(&ids)).await?;
        p.idp_identifiers = Some(ids);
    }
    o.body = stored(ctx, &p)?;
    o.modified_ms = ctx.now_ms;
    ctx.store().replace_object(&o).await.map_err(|e| match e {
        StoreError::NotFound => not_found(&req.provider_name),
        other => other.into(),
    })?;
    p.last_modified_date = Some(Timestamp(o.modified_ms));
    Ok(UpdateIdentityProviderResponse { identity_provider: p })
}

/// DeleteIdentityProvider
pub async fn delete_identity_provider(ctx: &Ctx, req: DeleteIdentityProviderRequest) -> OpResult<()> {
    users::load(ctx, &req.user_pool_id).await?;
    ctx.store()
        .delete_object(ObjectKind::IdentityProvider, &req.user_pool_id, &req.provider_name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(&req.provider_name),
            other => other.into(),
        })
}

/// ListIdentityProviders
pub async fn list_identity_providers(
    ctx: &Ctx,
    req: ListIdentityProvidersRequest,
) -> OpResult<ListIdentityProvidersResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let (limit, after) = token::page(req.max_results, req.next_token.as_deref())?;
    let p = ctx
        .store()
        .list_objects(ObjectKind::IdentityProvider, &req.user_pool_id, after.as_deref(), limit)
        .await?;
    let providers = p
        .items
        .iter()
        .map(|o| {
            let d: IdentityProviderType = domains::decode(o)?;
            Ok(ProviderDescription {
                provider_name: Some(o.name.clone()),
                provider_type: d.provider_type,
                last_modified_date: Some(Timestamp(o.modified_ms)),
                creation_date: Some(Timestamp(o.created_ms)),
            })
        })
        .collect::<OpResult<_>>()?;
    Ok(ListIdentityProvidersResponse {
        providers,
        next_token: p.next_after.as_deref().map(token::encode),
    })
}

/// GetIdentityProviderByIdentifier
pub async fn get_identity_provider_by_identifier(
    ctx: &Ctx,
    req: GetIdentityProviderByIdentifierRequest,
) -> OpResult<GetIdentityProviderByIdentifierResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    for o in domains::all_objects(ctx, ObjectKind::IdentityProvider, &req.user_pool_id).await? {
        let p: IdentityProviderType = domains::decode(&o)?;
        if p.idp_identifiers.unwrap_or_default().contains(&req.idp_identifier) {
            return Ok(GetIdentityProviderByIdentifierResponse {
                identity_provider: provider(ctx, &o)?,
            });
        }
    }
    Err(not_found(&req.idp_identifier))
}

/// The native user an identity of `provider` is linked to (AdminLinkProviderForUser).
pub async fn linked_user(ctx: &Ctx, pool_id: &str, provider: &str, subject: &str) -> OpResult<Option<UserRecord>> {
    let Some(link) = ctx
        .store()
        .get_object(ObjectKind::ProviderLink, pool_id, &format!("{provider}:{subject}"))
        .await?
    else {
        return Ok(None);
    };
    Ok(ctx.store().get_user(pool_id, &link.body).await?)
}

/// Adds (or, `add` false, removes) an identity in a user's `identities` attribute.
fn edit_identities(user: &mut UserRecord, provider: &str, provider_type: &str, subject: &str, add: bool, now_ms: i64) {
    let mut list: Vec<serde_json::Value> = users::attr(user, "identities")
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    list.retain(|i| {
        !(i.get("providerName").and_then(serde_json::Value::as_str) == Some(provider)
            && i.get("userId").and_then(serde_json::Value::as_str) == Some(subject))
    });
    if add {
        list.push(serde_json::json!({
            "userId": subject,
            "providerName": provider,
            "providerType": provider_type,
            "issuer": null,
            "primary": false,
            "dateCreated": now_ms,
        }));
    }
    user.attributes.retain(|(n, _)| n != "identities");
    if !list.is_empty() {
        user.attributes
            .push(("identities".into(), serde_json::Value::Array(list).to_string()));
    }
}

/// AdminLinkProviderForUser: a provider's identity (`SourceUser`, by `Cognito_Subject`)
/// signs in as a native user (`DestinationUser`) from then on.
pub async fn admin_link_provider_for_user(
    ctx: &Ctx,
    req: AdminLinkProviderForUserRequest,
) -> OpResult<AdminLinkProviderForUserResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let source_provider = req.source_user.provider_name.clone().unwrap_or_default();
    if source_provider.eq_ignore_ascii_case("Cognito") {
        return Err(CognitoError::invalid_parameter(
            "Invalid SourceUser: Cognito users with a username/password may not be passed in as a SourceUser, only as a DestinationUser",
        ));
    }
    let subject = req.source_user.provider_attribute_value.clone().unwrap_or_default();
    if subject.is_empty() {
        return Err(CognitoError::invalid_parameter(
            "SourceUser needs a ProviderAttributeValue.",
        ));
    }
    let o = ctx
        .store()
        .get_object(ObjectKind::IdentityProvider, pool.id(), &source_provider)
        .await?
        .ok_or_else(|| not_found(&source_provider))?;
    let provider_type = provider(ctx, &o)?.provider_type.map_or("OIDC", |t| t.as_str());
    if !req
        .destination_user
        .provider_name
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("Cognito"))
    {
        return Err(CognitoError::invalid_parameter(
            "DestinationUser must be a Cognito user.",
        ));
    }
    let destination = req
        .destination_user
        .provider_attribute_value
        .clone()
        .unwrap_or_default();
    let user = users::resolve(ctx, &pool, &destination).await?;
    let federated = format!("{}_{subject}", source_provider.to_lowercase());
    if ctx
        .store()
        .get_user(pool.id(), &pool.username_key(&federated))
        .await?
        .is_some()
    {
        return Err(CognitoError::invalid_parameter(
            "Merging is not currently supported, provide a SourceUser that has not been signed up in order to link",
        ));
    }
    let link = ObjectRecord {
        kind: ObjectKind::ProviderLink,
        pool_id: pool.id().to_string(),
        name: format!("{source_provider}:{subject}"),
        body: user.username_key.clone(),
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&link).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::invalid_parameter("SourceUser is already linked to DestinationUser"),
        other => other.into(),
    })?;
    users::modify(ctx, &pool, user, |u| {
        edit_identities(u, &source_provider, provider_type, &subject, true, ctx.now_ms);
        u.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    Ok(AdminLinkProviderForUserResponse {})
}

/// AdminDisableProviderForUser: a linked identity is unlinked; a federated user of the
/// provider is disabled; `Cognito` with the native username ends its password sign-in.
pub async fn admin_disable_provider_for_user(
    ctx: &Ctx,
    req: AdminDisableProviderForUserRequest,
) -> OpResult<AdminDisableProviderForUserResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let name = req.user.provider_name.clone().unwrap_or_default();
    let value = req.user.provider_attribute_value.clone().unwrap_or_default();
    if name.eq_ignore_ascii_case("Cognito") {
        let user = users::resolve(ctx, &pool, &value).await?;
        users::modify(ctx, &pool, user, |u| {
            u.password = None;
            u.modified_ms = ctx.now_ms;
            Ok(())
        })
        .await?;
        return Ok(AdminDisableProviderForUserResponse {});
    }
    let key = format!("{name}:{value}");
    if let Some(link) = ctx
        .store()
        .get_object(ObjectKind::ProviderLink, pool.id(), &key)
        .await?
    {
        ctx.store()
            .delete_object(ObjectKind::ProviderLink, pool.id(), &key)
            .await?;
        if let Some(user) = ctx.store().get_user(pool.id(), &link.body).await? {
            users::modify(ctx, &pool, user, |u| {
                edit_identities(u, &name, "", &value, false, ctx.now_ms);
                Ok(())
            })
            .await?;
        }
        return Ok(AdminDisableProviderForUserResponse {});
    }
    let federated = format!("{}_{value}", name.to_lowercase());
    match ctx.store().get_user(pool.id(), &pool.username_key(&federated)).await? {
        Some(user) => {
            users::modify(ctx, &pool, user, |u| {
                u.enabled = false;
                u.modified_ms = ctx.now_ms;
                Ok(())
            })
            .await?;
            Ok(AdminDisableProviderForUserResponse {})
        }
        None => Err(users::user_not_found()),
    }
}
