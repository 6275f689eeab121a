//! User pool domains and resource servers: CreateUserPoolDomain, DescribeUserPoolDomain,
//! UpdateUserPoolDomain, DeleteUserPoolDomain, CreateResourceServer,
//! DescribeResourceServer, UpdateResourceServer, DeleteResourceServer, ListResourceServers.
//!
//! A domain names where a pool's hosted pages and OAuth 2.0 endpoints are served (see
//! `web/`): a prefix domain (`myapp`, served as `myapp.auth.<region>.localhost:<port>` and
//! as `<public URL>/myapp/...`) or a custom domain (`auth.example.com`, with a
//! `CustomDomainConfig`). Domain names are unique across pools; a pool has at most one
//! prefix domain and one custom domain. A resource server's identifier is unique in its
//! pool; its scopes become `<identifier>/<scope name>` in access tokens.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{token, users};
use serde::{de::DeserializeOwned, Serialize};
use userpool_model::types::{
    CreateResourceServerRequest, CreateResourceServerResponse, CreateUserPoolDomainRequest,
    CreateUserPoolDomainResponse, CustomDomainConfigType, DeleteResourceServerRequest, DeleteUserPoolDomainRequest,
    DeleteUserPoolDomainResponse, DescribeResourceServerRequest, DescribeResourceServerResponse,
    DescribeUserPoolDomainRequest, DescribeUserPoolDomainResponse, DomainDescriptionType, DomainStatusType,
    ListResourceServersRequest, ListResourceServersResponse, ResourceServerScopeType, ResourceServerType,
    UpdateResourceServerRequest, UpdateResourceServerResponse, UpdateUserPoolDomainRequest,
    UpdateUserPoolDomainResponse,
};
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// Words a prefix domain may not contain (Cognito: "You can't use the text aws, amazon,
/// or cognito in the domain prefix").
const RESERVED: [&str; 3] = ["aws", "amazon", "cognito"];

/// Resource servers per pool (Cognito's quota: 25).
const MAX_RESOURCE_SERVERS: usize = 25;

pub(crate) fn encode<T: Serialize>(value: &T) -> OpResult<String> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "IE0010 configuration object does not encode");
        CognitoError::internal()
    })
}

pub(crate) fn decode<T: DeserializeOwned>(o: &ObjectRecord) -> OpResult<T> {
    serde_json::from_str(&o.body).map_err(|e| {
        tracing::error!(error = %e, kind = o.kind.as_str(), name = %o.name, "IE0011 stored configuration object does not decode");
        CognitoError::internal()
    })
}

fn object(ctx: &Ctx, kind: ObjectKind, pool_id: &str, name: &str, body: String) -> ObjectRecord {
    ObjectRecord {
        kind,
        pool_id: pool_id.to_string(),
        name: name.to_string(),
        body,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    }
}

/// Every object of `kind` in a pool.
pub(crate) async fn all_objects(ctx: &Ctx, kind: ObjectKind, pool_id: &str) -> OpResult<Vec<ObjectRecord>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx.store().list_objects(kind, pool_id, after.as_deref(), 100).await?;
        all.extend(page.items);
        match page.next_after {
            Some(n) => after = Some(n),
            None => return Ok(all),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Domains

/// The domain as DescribeUserPoolDomain shows it.
fn description(ctx: &Ctx, o: &ObjectRecord) -> OpResult<DomainDescriptionType> {
    let stored: StoredDomain = decode(o)?;
    Ok(DomainDescriptionType {
        user_pool_id: Some(o.pool_id.clone()),
        aws_account_id: Some(ctx.app.config.account_id.clone()),
        domain: Some(o.name.clone()),
        s3_bucket: None,
        // What a custom domain's DNS record would point at: this server.
        cloud_front_distribution: Some(ctx.app.config.public_host().to_string()),
        version: Some(o.modified_ms.div_euclid(1000).to_string()),
        status: Some(DomainStatusType::Active),
        custom_domain_config: stored.custom_domain_config,
        managed_login_version: Some(stored.managed_login_version),
    })
}

/// A domain object's ManagedLoginVersion: 1 (the classic hosted UI) or 2 (managed login).
pub fn managed_login_version_of(o: &ObjectRecord) -> i32 {
    decode::<StoredDomain>(o).map_or(1, |d| d.managed_login_version)
}

/// What a domain object keeps.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredDomain {
    managed_login_version: i32,
    custom_domain_config: Option<CustomDomainConfigType>,
}

/// Cognito's checks of a domain name, in its order: the name's form, then (prefix
/// domains) the reserved words, then (custom domains) the certificate.
fn check_domain(domain: &str, custom: Option<&CustomDomainConfigType>) -> OpResult<()> {
    let Some(c) = custom else {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !label_ok(domain) {
            return Err(CognitoError::invalid_parameter(
                "The domain name contains an invalid character. Domain names can only contain lower-case letters, \
                 numbers, and hyphens. Please enter a different name that follows this format: \
                 ^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$",
            ));
        }
        return match RESERVED.iter().find(|w| domain.contains(*w)) {
            Some(w) => Err(CognitoError::invalid_parameter(format!(
                "Domain cannot contain reserved word: {w}"
            ))),
            None => Ok(()),
        };
    };
    let host_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    // Nor an address, nor a loopback name: those reach this server by the path form.
    let numeric = domain.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if !host_ok || numeric || domain.ends_with(".localhost") {
        return Err(CognitoError::invalid_parameter(
            "Custom domain is not a valid subdomain",
        ));
    }
    // A certificate for CloudFront lives in us-east-1.
    let arn: Vec<&str> = c.certificate_arn.split(':').collect();
    let cert_ok = arn.len() == 6
        && arn.first() == Some(&"arn")
        && arn.get(2) == Some(&"acm")
        && arn.get(3) == Some(&"us-east-1")
        && arn.get(5).is_some_and(|r| r.starts_with("certificate/"));
    if !cert_ok {
        return Err(CognitoError::invalid_parameter(
            "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include \
             a valid certificate chain.",
        ));
    }
    Ok(())
}

fn managed_login_version(v: Option<i32>) -> OpResult<i32> {
    match v.unwrap_or(1) {
        v @ (1 | 2) => Ok(v),
        v => Err(CognitoError::invalid_parameter(format!(
            "ManagedLoginVersion {v} is not valid: it is 1 (the classic hosted UI) or 2 (managed login)."
        ))),
    }
}

/// The pool's domains (a prefix domain and a custom domain at most): `(prefix, custom)`.
pub async fn pool_domains(ctx: &Ctx, pool_id: &str) -> OpResult<(Option<String>, Option<String>)> {
    let all = all_objects(ctx, ObjectKind::Domain, pool_id).await?;
    let prefix = all.iter().find(|o| !o.name.contains('.')).map(|o| o.name.clone());
    let custom = all.iter().find(|o| o.name.contains('.')).map(|o| o.name.clone());
    Ok((prefix, custom))
}

/// CreateUserPoolDomain
pub async fn create_user_pool_domain(
    ctx: &Ctx,
    req: CreateUserPoolDomainRequest,
) -> OpResult<CreateUserPoolDomainResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    check_domain(&req.domain, req.custom_domain_config.as_ref())?;
    let version = managed_login_version(req.managed_login_version)?;
    let (prefix, custom) = pool_domains(ctx, &req.user_pool_id).await?;
    let custom_wanted = req.custom_domain_config.is_some();
    if (custom_wanted && custom.is_some()) || (!custom_wanted && prefix.is_some()) {
        return Err(CognitoError::invalid_parameter(
            "User pool already has a domain configured.",
        ));
    }
    let body = encode(&StoredDomain {
        managed_login_version: version,
        custom_domain_config: req.custom_domain_config.clone(),
    })?;
    let o = object(ctx, ObjectKind::Domain, &req.user_pool_id, &req.domain, body);
    ctx.store().create_object(&o).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::invalid_parameter("Domain already associated with another user pool."),
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    })?;
    tracing::info!(pool = %req.user_pool_id, domain = %req.domain, "created user pool domain");
    Ok(CreateUserPoolDomainResponse {
        managed_login_version: Some(version),
        cloud_front_domain: custom_wanted.then(|| ctx.app.config.public_host().to_string()),
    })
}

/// DescribeUserPoolDomain: an unknown domain is an empty description, not an error.
pub async fn describe_user_pool_domain(
    ctx: &Ctx,
    req: DescribeUserPoolDomainRequest,
) -> OpResult<DescribeUserPoolDomainResponse> {
    let found = ctx.store().get_object(ObjectKind::Domain, "", &req.domain).await?;
    Ok(DescribeUserPoolDomainResponse {
        domain_description: Some(match found {
            Some(o) => description(ctx, &o)?,
            None => DomainDescriptionType::default(),
        }),
    })
}

async fn own_domain(ctx: &Ctx, pool_id: &str, domain: &str) -> OpResult<ObjectRecord> {
    users::load(ctx, pool_id).await?;
    ctx.store()
        .get_object(ObjectKind::Domain, pool_id, domain)
        .await?
        .filter(|o| o.pool_id == pool_id)
        .ok_or_else(|| CognitoError::invalid_parameter("No such domain or user pool exists."))
}

/// UpdateUserPoolDomain: changes the managed login version, or a custom domain's
/// certificate.
pub async fn update_user_pool_domain(
    ctx: &Ctx,
    req: UpdateUserPoolDomainRequest,
) -> OpResult<UpdateUserPoolDomainResponse> {
    let mut o = own_domain(ctx, &req.user_pool_id, &req.domain).await?;
    let mut stored: StoredDomain = decode(&o)?;
    if let Some(c) = &req.custom_domain_config {
        if stored.custom_domain_config.is_none() {
            return Err(CognitoError::invalid_parameter(
                "CustomDomainConfig applies to custom domains only.",
            ));
        }
        check_domain(&req.domain, Some(c))?;
        stored.custom_domain_config = Some(c.clone());
    }
    if req.managed_login_version.is_some() {
        stored.managed_login_version = managed_login_version(req.managed_login_version)?;
    }
    o.body = encode(&stored)?;
    o.modified_ms = ctx.now_ms;
    ctx.store().replace_object(&o).await.map_err(|e| match e {
        StoreError::NotFound => CognitoError::invalid_parameter("No such domain or user pool exists."),
        other => other.into(),
    })?;
    Ok(UpdateUserPoolDomainResponse {
        managed_login_version: Some(stored.managed_login_version),
        cloud_front_domain: stored
            .custom_domain_config
            .is_some()
            .then(|| ctx.app.config.public_host().to_string()),
    })
}

/// DeleteUserPoolDomain
pub async fn delete_user_pool_domain(
    ctx: &Ctx,
    req: DeleteUserPoolDomainRequest,
) -> OpResult<DeleteUserPoolDomainResponse> {
    own_domain(ctx, &req.user_pool_id, &req.domain).await?;
    ctx.store()
        .delete_object(ObjectKind::Domain, &req.user_pool_id, &req.domain)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => CognitoError::invalid_parameter("No such domain or user pool exists."),
            other => other.into(),
        })?;
    tracing::info!(pool = %req.user_pool_id, domain = %req.domain, "deleted user pool domain");
    Ok(DeleteUserPoolDomainResponse {})
}

// ---------------------------------------------------------------------------------------
// Resource servers

fn resource_server_not_found(identifier: &str) -> CognitoError {
    CognitoError::not_found(format!("Resource server {identifier} does not exist."))
}

/// Scope names are unique in a resource server.
fn check_scopes(scopes: Option<&[ResourceServerScopeType]>) -> OpResult<()> {
    let scopes = scopes.unwrap_or_default();
    for (i, s) in scopes.iter().enumerate() {
        if scopes.iter().skip(i + 1).any(|t| t.scope_name == s.scope_name) {
            return Err(CognitoError::invalid_parameter(format!(
                "Duplicate scope names are not allowed: {}",
                s.scope_name
            )));
        }
    }
    Ok(())
}

fn resource_server(o: &ObjectRecord) -> OpResult<ResourceServerType> {
    let mut rs: ResourceServerType = decode(o)?;
    rs.user_pool_id = Some(o.pool_id.clone());
    rs.identifier = Some(o.name.clone());
    Ok(rs)
}

/// A pool's resource servers, as access tokens' custom scopes come from them.
pub async fn resource_servers(ctx: &Ctx, pool_id: &str) -> OpResult<Vec<ResourceServerType>> {
    all_objects(ctx, ObjectKind::ResourceServer, pool_id)
        .await?
        .iter()
        .map(resource_server)
        .collect()
}

/// CreateResourceServer
pub async fn create_resource_server(
    ctx: &Ctx,
    req: CreateResourceServerRequest,
) -> OpResult<CreateResourceServerResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    check_scopes(req.scopes.as_deref())?;
    if resource_servers(ctx, &req.user_pool_id).await?.len() >= MAX_RESOURCE_SERVERS {
        return Err(CognitoError::new(
            userpool_model::ErrorCode::LimitExceededException,
            format!("A user pool can have at most {MAX_RESOURCE_SERVERS} resource servers."),
        ));
    }
    let rs = ResourceServerType {
        user_pool_id: Some(req.user_pool_id.clone()),
        identifier: Some(req.identifier.clone()),
        name: Some(req.name),
        scopes: Some(req.scopes.unwrap_or_default()),
    };
    let o = object(
        ctx,
        ObjectKind::ResourceServer,
        &req.user_pool_id,
        &req.identifier,
        encode(&rs)?,
    );
    ctx.store().create_object(&o).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::invalid_parameter(format!(
            "{} already exists in user pool {}.",
            req.identifier, req.user_pool_id
        )),
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    })?;
    Ok(CreateResourceServerResponse { resource_server: rs })
}

async fn load_resource_server(ctx: &Ctx, pool_id: &str, identifier: &str) -> OpResult<ObjectRecord> {
    users::load(ctx, pool_id).await?;
    ctx.store()
        .get_object(ObjectKind::ResourceServer, pool_id, identifier)
        .await?
        .ok_or_else(|| resource_server_not_found(identifier))
}

/// DescribeResourceServer
pub async fn describe_resource_server(
    ctx: &Ctx,
    req: DescribeResourceServerRequest,
) -> OpResult<DescribeResourceServerResponse> {
    let o = load_resource_server(ctx, &req.user_pool_id, &req.identifier).await?;
    Ok(DescribeResourceServerResponse {
        resource_server: resource_server(&o)?,
    })
}

/// UpdateResourceServer: replaces the name and the scopes (scopes left out are removed, as
/// Cognito documents for this operation).
pub async fn update_resource_server(
    ctx: &Ctx,
    req: UpdateResourceServerRequest,
) -> OpResult<UpdateResourceServerResponse> {
    let mut o = load_resource_server(ctx, &req.user_pool_id, &req.identifier).await?;
    check_scopes(req.scopes.as_deref())?;
    let rs = ResourceServerType {
        user_pool_id: Some(req.user_pool_id.clone()),
        identifier: Some(req.identifier.clone()),
        name: Some(req.name),
        scopes: Some(req.scopes.unwrap_or_default()),
    };
    o.body = encode(&rs)?;
    o.modified_ms = ctx.now_ms;
    ctx.store().replace_object(&o).await.map_err(|e| match e {
        StoreError::NotFound => resource_server_not_found(&req.identifier),
        other => other.into(),
    })?;
    Ok(UpdateResourceServerResponse { resource_server: rs })
}

/// DeleteResourceServer
pub async fn delete_resource_server(ctx: &Ctx, req: DeleteResourceServerRequest) -> OpResult<()> {
    users::load(ctx, &req.user_pool_id).await?;
    ctx.store()
        .delete_object(ObjectKind::ResourceServer, &req.user_pool_id, &req.identifier)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => resource_server_not_found(&req.identifier),
            other => other.into(),
        })
}

/// ListResourceServers
pub async fn list_resource_servers(
    ctx: &Ctx,
    req: ListResourceServersRequest,
) -> OpResult<ListResourceServersResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let (limit, after) = token::page(req.max_results, req.next_token.as_deref())?;
    let p = ctx
        .store()
        .list_objects(ObjectKind::ResourceServer, &req.user_pool_id, after.as_deref(), limit)
        .await?;
    Ok(ListResourceServersResponse {
        resource_servers: p.items.iter().map(resource_server).collect::<OpResult<_>>()?,
        next_token: p.next_after.as_deref().map(token::encode),
    })
}
