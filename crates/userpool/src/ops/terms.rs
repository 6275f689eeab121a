//! Terms documents: CreateTerms, DescribeTerms, ListTerms, UpdateTerms, DeleteTerms.
//!
//! A client has at most one `terms-of-use` and one `privacy-policy` (the store keys them
//! `<clientId>:<TermsName>`, so two concurrent creates of one cannot both succeed:
//! `TermsExistsException`). `Links` maps `cognito:<language>` to a URL; `cognito:default`
//! serves the languages without their own. Inferred where Cognito is silent: an https
//! URL, or http to the loopback host as for callback URLs; a TermsId names the document
//! in its pool; an update that changes TermsName moves the document (new key first, then
//! the old one removed).

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{app_clients, domains, token, users};
use userpool_model::types::{
    CreateTermsRequest, CreateTermsResponse, DeleteTermsRequest, DescribeTermsRequest, DescribeTermsResponse,
    ListTermsRequest, ListTermsResponse, TermsDescriptionType, TermsType, UpdateTermsRequest, UpdateTermsResponse,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// The languages a link may name (`cognito:<language>`).
const LANGUAGES: [&str; 13] = [
    "default",
    "english",
    "french",
    "spanish",
    "german",
    "bahasa-indonesia",
    "italian",
    "japanese",
    "korean",
    "portuguese-brazil",
    "chinese-(simplified)",
    "chinese-(traditional)",
    "chinese",
];

fn not_found(id: &str) -> CognitoError {
    CognitoError::not_found(format!("Terms {id} does not exist."))
}

fn exists(client_id: &str, name: &str) -> CognitoError {
    CognitoError::new(
        ErrorCode::TermsExistsException,
        format!("Terms {name} already exist for app client {client_id}."),
    )
}

fn check_links(links: &std::collections::HashMap<String, String>) -> OpResult<()> {
    if !links.contains_key("cognito:default") {
        return Err(CognitoError::invalid_parameter(
            "Links must include a cognito:default URL.",
        ));
    }
    for (k, v) in links {
        let language_ok = k.strip_prefix("cognito:").is_some_and(|l| LANGUAGES.contains(&l));
        if !language_ok {
            return Err(CognitoError::invalid_parameter(format!(
                "{k} is not a supported language."
            )));
        }
        let lower = v.to_ascii_lowercase();
        let loopback = ["http://localhost", "http://127.0.0.1"]
            .iter()
            .any(|p| lower.starts_with(p));
        if !(lower.starts_with("https://") || loopback) {
            return Err(CognitoError::invalid_parameter(format!("{v} is not an https URL.")));
        }
    }
    Ok(())
}

fn key(client_id: &str, name: &str) -> String {
    format!("{client_id}:{name}")
}

/// CreateTerms
pub async fn create_terms(ctx: &Ctx, req: CreateTermsRequest) -> OpResult<CreateTermsResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let client = app_clients::find_client(ctx, &req.client_id).await?;
    if client.record.pool_id != req.user_pool_id {
        return Err(CognitoError::client_not_found(&req.client_id));
    }
    let links = req.links.unwrap_or_default();
    check_links(&links)?;
    let terms = TermsType {
        terms_id: crate::ids::uuid().to_string(),
        user_pool_id: req.user_pool_id.clone(),
        client_id: req.client_id.clone(),
        terms_name: req.terms_name.clone(),
        terms_source: req.terms_source,
        enforcement: req.enforcement,
        links,
        creation_date: Timestamp(ctx.now_ms),
        last_modified_date: Timestamp(ctx.now_ms),
    };
    let o = ObjectRecord {
        kind: ObjectKind::Terms,
        pool_id: req.user_pool_id.clone(),
        name: key(&req.client_id, &req.terms_name),
        body: domains::encode(&terms)?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&o).await.map_err(|e| match e {
        StoreError::Conflict(_) => exists(&req.client_id, &req.terms_name),
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    })?;
    Ok(CreateTermsResponse { terms: Some(terms) })
}

/// The document `id` names in the pool, and its record.
async fn find(ctx: &Ctx, pool_id: &str, id: &str) -> OpResult<(ObjectRecord, TermsType)> {
    users::load(ctx, pool_id).await?;
    for o in domains::all_objects(ctx, ObjectKind::Terms, pool_id).await? {
        let t: TermsType = domains::decode(&o)?;
        if t.terms_id == id {
            return Ok((o, t));
        }
    }
    Err(not_found(id))
}

/// DescribeTerms
pub async fn describe_terms(ctx: &Ctx, req: DescribeTermsRequest) -> OpResult<DescribeTermsResponse> {
    let (_, t) = find(ctx, &req.user_pool_id, &req.terms_id).await?;
    Ok(DescribeTermsResponse { terms: Some(t) })
}

/// ListTerms
pub async fn list_terms(ctx: &Ctx, req: ListTermsRequest) -> OpResult<ListTermsResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let (limit, after) = token::page(req.max_results, req.next_token.as_deref())?;
    let p = ctx
        .store()
        .list_objects(ObjectKind::Terms, &req.user_pool_id, after.as_deref(), limit)
        .await?;
    let terms = p
        .items
        .iter()
        .map(|o| {
            let t: TermsType = domains::decode(o)?;
            Ok(TermsDescriptionType {
                terms_id: t.terms_id,
                terms_name: t.terms_name,
                enforcement: t.enforcement,
                creation_date: t.creation_date,
                last_modified_date: t.last_modified_date,
            })
        })
        .collect::<OpResult<_>>()?;
    Ok(ListTermsResponse {
        terms,
        next_token: p.next_after.as_deref().map(token::encode),
    })
}

/// UpdateTerms: changes what it names.
pub async fn update_terms(ctx: &Ctx, req: UpdateTermsRequest) -> OpResult<UpdateTermsResponse> {
    let (mut o, mut t) = find(ctx, &req.user_pool_id, &req.terms_id).await?;
    if let Some(links) = req.links {
        check_links(&links)?;
        t.links = links;
    }
    if let Some(s) = req.terms_source {
        t.terms_source = s;
    }
    if let Some(e) = req.enforcement {
        t.enforcement = e;
    }
    t.last_modified_date = Timestamp(ctx.now_ms);
    let renamed = req.terms_name.filter(|n| *n != t.terms_name);
    match renamed {
        Some(name) => {
            let old_key = o.name.clone();
            t.terms_name = name;
            o.name = key(&t.client_id, &t.terms_name);
            o.body = domains::encode(&t)?;
            o.modified_ms = ctx.now_ms;
            ctx.store().create_object(&o).await.map_err(|e| match e {
                StoreError::Conflict(_) => exists(&t.client_id, &t.terms_name),
                other => other.into(),
            })?;
            match ctx
                .store()
                .delete_object(ObjectKind::Terms, &req.user_pool_id, &old_key)
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        None => {
            o.body = domains::encode(&t)?;
            o.modified_ms = ctx.now_ms;
            ctx.store().replace_object(&o).await.map_err(|e| match e {
                StoreError::NotFound => not_found(&req.terms_id),
                other => other.into(),
            })?;
        }
    }
    Ok(UpdateTermsResponse { terms: Some(t) })
}

/// DeleteTerms
pub async fn delete_terms(ctx: &Ctx, req: DeleteTermsRequest) -> OpResult<()> {
    let (o, _) = find(ctx, &req.user_pool_id, &req.terms_id).await?;
    ctx.store()
        .delete_object(ObjectKind::Terms, &req.user_pool_id, &o.name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(&req.terms_id),
            other => other.into(),
        })
}
