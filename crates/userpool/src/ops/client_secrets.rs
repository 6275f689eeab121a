//! Several secrets per app client, for rotation: AddUserPoolClientSecret,
//! ListUserPoolClientSecrets, DeleteUserPoolClientSecret.
//!
//! Rules (the API reference): a confidential client has at most 2 secrets; each is named
//! `<clientId>--<creation time>`; a generated secret's value is shown once, when it is
//! added, and never listed; the last secret cannot be deleted; every secret works
//! (SECRET_HASH, the token endpoint, GetTokensFromRefreshToken, RevokeToken).
//!
//! Storage: the first secret stays in the client's record (`sealed_secret`), named after
//! the client's creation time; each further one is a sealed pool object. Deleting the
//! record's secret moves the oldest other one into the record (its object then only
//! keeps its name, marked `primary`). Inferred: the time in an id is epoch milliseconds.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{app_clients, domains, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use userpool_model::types::{
    AddUserPoolClientSecretRequest, AddUserPoolClientSecretResponse, ClientSecretDescriptorType,
    DeleteUserPoolClientSecretRequest, DeleteUserPoolClientSecretResponse, ListUserPoolClientSecretsRequest,
    ListUserPoolClientSecretsResponse,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ClientRecord, ObjectKind, ObjectRecord, StoreError};

/// Secrets per client.
const MAX_SECRETS: usize = 2;

/// A further secret, as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// The secret, sealed, base64 (none once it is the record's).
    sealed: Option<String>,
    /// It is the record's secret now: this object only keeps its name and date.
    #[serde(default)]
    primary: bool,
}

/// A client's secrets: `(id, created ms, object, sealed value)`, the record's first.
struct Secrets {
    primary: (String, i64, Option<ObjectRecord>),
    others: Vec<(ObjectRecord, Vec<u8>)>,
}

async fn objects(ctx: &Ctx, record: &ClientRecord) -> OpResult<Vec<ObjectRecord>> {
    let prefix = format!("{}--", record.client_id);
    let page = ctx
        .store()
        .list_objects(
            ObjectKind::ClientSecret,
            &record.pool_id,
            Some(&prefix),
            MAX_SECRETS + 1,
        )
        .await?;
    Ok(page.items.into_iter().filter(|o| o.name.starts_with(&prefix)).collect())
}

async fn secrets(ctx: &Ctx, record: &ClientRecord) -> OpResult<Secrets> {
    let mut primary = (
        format!("{}--{}", record.client_id, record.created_ms),
        record.created_ms,
        None,
    );
    let mut others = Vec::new();
    for o in objects(ctx, record).await? {
        let s: Stored = domains::decode(&o)?;
        if s.primary {
            primary = (o.name.clone(), o.created_ms, Some(o));
        } else if let Some(sealed) = s.sealed.and_then(|v| STANDARD.decode(v.as_bytes()).ok()) {
            others.push((o, sealed));
        }
    }
    Ok(Secrets { primary, others })
}

/// The further secrets of a client, opened (for the checks that accept any of them).
pub async fn further_secrets(ctx: &Ctx, record: &ClientRecord) -> OpResult<Vec<String>> {
    if record.sealed_secret.is_none() {
        return Ok(Vec::new());
    }
    let s = secrets(ctx, record).await?;
    Ok(s.others
        .iter()
        .filter_map(|(_, sealed)| ctx.app.sealer.open(sealed).and_then(|b| String::from_utf8(b).ok()))
        .collect())
}

async fn confidential(ctx: &Ctx, pool_id: &str, client_id: &str) -> OpResult<ClientRecord> {
    users::load(ctx, pool_id).await?;
    let record = app_clients::load_client(ctx, pool_id, client_id).await?;
    if record.sealed_secret.is_none() {
        return Err(CognitoError::invalid_parameter(format!(
            "Client {client_id} has no client secret: only a confidential client has secrets."
        )));
    }
    Ok(record)
}

/// AddUserPoolClientSecret
pub async fn add_user_pool_client_secret(
    ctx: &Ctx,
    req: AddUserPoolClientSecretRequest,
) -> OpResult<AddUserPoolClientSecretResponse> {
    let record = confidential(ctx, &req.user_pool_id, &req.client_id).await?;
    let s = secrets(ctx, &record).await?;
    if 1 + s.others.len() >= MAX_SECRETS {
        return Err(CognitoError::new(
            ErrorCode::LimitExceededException,
            format!(
                "Client {} already has {MAX_SECRETS} secrets: delete one first.",
                req.client_id
            ),
        ));
    }
    let generated = req.client_secret.is_none();
    let value = req.client_secret.unwrap_or_else(crate::ids::client_secret);
    let o = ObjectRecord {
        kind: ObjectKind::ClientSecret,
        pool_id: req.user_pool_id.clone(),
        name: format!("{}--{}", req.client_id, ctx.now_ms),
        body: domains::encode(&Stored {
            sealed: Some(STANDARD.encode(ctx.app.sealer.seal(value.as_bytes()))),
            primary: false,
        })?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&o).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::new(
            ErrorCode::TooManyRequestsException,
            "A secret was added to this client at this instant: try again.",
        ),
        other => other.into(),
    })?;
    Ok(AddUserPoolClientSecretResponse {
        client_secret_descriptor: Some(ClientSecretDescriptorType {
            client_secret_id: Some(o.name),
            client_secret_value: generated.then_some(value),
            client_secret_create_date: Some(Timestamp(ctx.now_ms)),
        }),
    })
}

/// ListUserPoolClientSecrets: ids and dates, never the values.
pub async fn list_user_pool_client_secrets(
    ctx: &Ctx,
    req: ListUserPoolClientSecretsRequest,
) -> OpResult<ListUserPoolClientSecretsResponse> {
    let record = confidential(ctx, &req.user_pool_id, &req.client_id).await?;
    let s = secrets(ctx, &record).await?;
    let describe = |id: &str, ms: i64| ClientSecretDescriptorType {
        client_secret_id: Some(id.to_string()),
        client_secret_value: None,
        client_secret_create_date: Some(Timestamp(ms)),
    };
    let mut list = vec![describe(&s.primary.0, s.primary.1)];
    list.extend(s.others.iter().map(|(o, _)| describe(&o.name, o.created_ms)));
    Ok(ListUserPoolClientSecretsResponse {
        client_secrets: Some(list),
        next_token: None,
    })
}

/// DeleteUserPoolClientSecret
pub async fn delete_user_pool_client_secret(
    ctx: &Ctx,
    req: DeleteUserPoolClientSecretRequest,
) -> OpResult<DeleteUserPoolClientSecretResponse> {
    let mut record = confidential(ctx, &req.user_pool_id, &req.client_id).await?;
    let s = secrets(ctx, &record).await?;
    let is_primary = req.client_secret_id == s.primary.0;
    let other = s.others.iter().find(|(o, _)| o.name == req.client_secret_id);
    if !is_primary && other.is_none() {
        return Err(CognitoError::not_found(format!(
            "Client secret {} does not exist.",
            req.client_secret_id
        )));
    }
    if s.others.is_empty() {
        return Err(CognitoError::invalid_parameter(
            "You cannot delete the last remaining secret of an app client.",
        ));
    }
    if let Some((o, _)) = other {
        ctx.store()
            .delete_object(ObjectKind::ClientSecret, &req.user_pool_id, &o.name)
            .await?;
        return Ok(DeleteUserPoolClientSecretResponse {});
    }
    // The record's secret goes: the oldest other one takes its place.
    let Some((next, sealed)) = s.others.first() else {
        return Err(CognitoError::internal());
    };
    record.sealed_secret = Some(sealed.clone());
    record.modified_ms = ctx.now_ms;
    ctx.store().update_client(&record).await?;
    let mut marker = next.clone();
    marker.body = domains::encode(&Stored {
        sealed: None,
        primary: true,
    })?;
    marker.modified_ms = ctx.now_ms;
    ctx.store().replace_object(&marker).await?;
    if let Some(old) = &s.primary.2 {
        ctx.store()
            .delete_object(ObjectKind::ClientSecret, &req.user_pool_id, &old.name)
            .await?;
    }
    Ok(DeleteUserPoolClientSecretResponse {})
}
