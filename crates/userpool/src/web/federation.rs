//! Sign-in through an OIDC identity provider: `/oauth2/authorize?identity_provider=<name>`
//! (or `idp_identifier=`) sends the browser to the provider's authorization endpoint;
//! the provider sends it back to `/oauth2/idpresponse` with a code, which is exchanged
//! (client_secret_post, as Cognito does) for the provider's ID token; the token is
//! verified against the provider's JWKS (RS256, issuer, audience, nonce), the userinfo
//! endpoint is read when the provider has one, and the pool's user for it is created or
//! updated:
//! - username `<provider name, lower-cased>_<sub>` (Cognito's current pools), status
//!   EXTERNAL_PROVIDER, a group `<poolId>_<ProviderName>` it joins;
//! - attributes from the provider's AttributeMapping (pool attribute → provider claim),
//!   written again at every sign-in; `email_verified` only when mapped;
//! - `identities`: `[{"userId","providerName","providerType","issuer":null,"primary":true,"dateCreated"}]`;
//! - an identity linked to a native user (AdminLinkProviderForUser) signs that user in.
//!
//! The provider's endpoints come from its ProviderDetails, else from the issuer's
//! discovery document at each sign-in (nothing is cached: every node finds the same).
//! The browser's round trip through the provider rides in a sealed `state` (5 minutes).
//! SAML and the social providers are not done: they are refused with `invalid_request`.

use super::authorize::{self, AuthRequest};
use super::{redirect, Reply, Request};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{domains, users};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use userpool_model::types::{IdentityProviderType, IdentityProviderTypeType};
use userpool_store::{GroupRecord, ObjectKind, UserRecord};

/// How long the round trip through the provider may take, ms.
const STATE_TTL_MS: i64 = 300_000;
/// How long one call to the provider may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider.
const MAX_ANSWER: usize = 1 << 20;

/// What rides through the provider in `state`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trip {
    v: u8,
    provider: String,
    query: String,
    nonce: String,
    exp: i64,
}

/// The provider's endpoints.
struct Endpoints {
    issuer: String,
    authorize: String,
    token: String,
    jwks: String,
    userinfo: Option<String>,
}

fn failed(description: &str) -> CognitoError {
    CognitoError::invalid_parameter(description.to_string())
}

/// One call to the provider: `(status, body)`.
async fn call(method: http::Method, url: &str, form: Option<String>, bearer: Option<&str>) -> OpResult<(u16, Vec<u8>)> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| {
            tracing::warn!(error = %e, "no TLS roots for identity-provider calls");
            failed("Error contacting the identity provider")
        })?
        .https_or_http()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
    let mut builder = http::Request::builder().method(method).uri(url);
    if form.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    if let Some(t) = bearer {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    builder = builder.header(http::header::ACCEPT, "application/json");
    let request = builder
        .body(Full::new(Bytes::from(form.unwrap_or_default())))
        .map_err(|_| failed("The identity provider's endpoint is not a valid URL"))?;
    let answer = tokio::time::timeout(CALL_TIMEOUT, async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, body.to_vec()))
    })
    .await;
    match answer {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => {
            tracing::warn!(url, error = %e, "an identity provider call failed");
            Err(failed("Error contacting the identity provider"))
        }
        Err(_) => Err(failed("Timeout occurred in calling IdP token endpoint")),
    }
}

async fn get_json(url: &str) -> OpResult<Value> {
    let (status, body) = call(http::Method::GET, url, None, None).await?;
    if status != 200 {
        return Err(failed(&format!("The identity provider answered {status} at {url}")));
    }
    serde_json::from_slice(&body).map_err(|_| failed("The identity provider's answer is not JSON"))
}

async fn endpoints(details: &HashMap<String, String>) -> OpResult<Endpoints> {
    let issuer = details.get("oidc_issuer").cloned().unwrap_or_default();
    let given = |k: &str| details.get(k).filter(|v| !v.is_empty()).cloned();
    if let (Some(authorize), Some(token), Some(jwks)) = (given("authorize_url"), given("token_url"), given("jwks_uri"))
    {
        return Ok(Endpoints {
            issuer,
            authorize,
            token,
            jwks,
            userinfo: given("attributes_url"),
        });
    }
    let doc = get_json(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
    .await?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let discovered = |k: &str, d: &str| given(k).or_else(|| field(d));
    match (
        discovered("authorize_url", "authorization_endpoint"),
        discovered("token_url", "token_endpoint"),
        discovered("jwks_uri", "jwks_uri"),
    ) {
        (Some(authorize), Some(token), Some(jwks)) => Ok(Endpoints {
            issuer,
            authorize,
            token,
            jwks,
            userinfo: discovered("attributes_url", "userinfo_endpoint"),
        }),
        _ => Err(failed("The identity provider's discovery document lacks its endpoints")),
    }
}

/// The pool's OIDC provider a request names (`identity_provider`, or `idp_identifier`).
async fn provider(
    ctx: &Ctx,
    pool_id: &str,
    name: Option<&str>,
    identifier: Option<&str>,
) -> Option<IdentityProviderType> {
    let objects = domains::all_objects(ctx, ObjectKind::IdentityProvider, pool_id)
        .await
        .ok()?;
    for o in objects {
        let p = crate::ops::identity_providers::provider(ctx, &o).ok()?;
        let named = name == Some(o.name.as_str());
        let identified =
            identifier.is_some_and(|i| p.idp_identifiers.as_deref().unwrap_or_default().iter().any(|x| x == i));
        if named || identified {
            return Some(p);
        }
    }
    None
}

fn back_with_error(auth: &AuthRequest, description: &str) -> Reply {
    let mut p = vec![("error", "invalid_request"), ("error_description", description)];
    if let Some(s) = &auth.state {
        p.push(("state", s.as_str()));
    }
    redirect(&authorize::back_to(
        &auth.redirect_uri,
        auth.response_type == "token",
        &p,
    ))
}

/// `/oauth2/authorize` naming a provider: to the provider's sign-in.
pub async fn start(req: &Request<'_>, auth: &AuthRequest) -> Reply {
    let ctx = &req.ctx;
    let Some(p) = provider(
        ctx,
        &req.site.pool_id,
        req.query("identity_provider"),
        req.query("idp_identifier"),
    )
    .await
    else {
        return back_with_error(auth, "The identity provider does not exist");
    };
    let name = p.provider_name.clone().unwrap_or_default();
    let supported = auth
        .client
        .settings
        .supported_identity_providers
        .as_deref()
        .unwrap_or_default();
    if !supported.contains(&name) {
        return back_with_error(auth, "The identity provider is not enabled for this client");
    }
    if p.provider_type != Some(IdentityProviderTypeType::Oidc) {
        return back_with_error(auth, "userpool signs in through OIDC identity providers only");
    }
    let details = p.provider_details.clone().unwrap_or_default();
    let ends = match endpoints(&details).await {
        Ok(e) => e,
        Err(e) => return back_with_error(auth, &e.message),
    };
    let trip = Trip {
        v: 1,
        provider: name,
        query: auth.query.clone(),
        nonce: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        exp: ctx.now_ms + STATE_TTL_MS,
    };
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code");
    q.append_pair("client_id", details.get("client_id").map_or("", String::as_str));
    q.append_pair("redirect_uri", &req.site.url("/oauth2/idpresponse"));
    q.append_pair(
        "scope",
        details.get("authorize_scopes").map_or("openid", String::as_str),
    );
    q.append_pair("state", &authorize::seal(ctx, "idp-state", &trip));
    q.append_pair("nonce", &trip.nonce);
    let sep = if ends.authorize.contains('?') { '&' } else { '?' };
    redirect(&format!("{}{sep}{}", ends.authorize, q.finish()))
}

/// `GET /oauth2/idpresponse`: the provider's answer.
pub async fn idp_response(req: &Request<'_>) -> Reply {
    let ctx = &req.ctx;
    let trip = req
        .query("state")
        .and_then(|s| authorize::open::<Trip>(ctx, "idp-state", s))
        .filter(|t| t.v == 1 && t.exp > ctx.now_ms);
    let Some(trip) = trip else {
        return redirect(&req.site.url("/error?error=invalid_request"));
    };
    let query = super::pairs(&trip.query);
    let auth = match authorize::check(ctx, req.site, &query).await {
        Ok(a) => a,
        Err(r) => return r.reply(req.site, None),
    };
    if let Some(e) = req.query("error") {
        return back_with_error(&auth, &format!("The identity provider answered {e}"));
    }
    let Some(code) = req.query("code") else {
        return back_with_error(&auth, "The identity provider sent no code");
    };
    match federated_user(req, &trip, code, auth.client.id()).await {
        Ok(user) => authorize::finish(req, &auth, &user, ctx.now_ms.div_euclid(1000)).await,
        Err(e) => back_with_error(&auth, &e.message),
    }
}

/// The exchange, the checks, and the pool's user for the provider's.
async fn federated_user(req: &Request<'_>, trip: &Trip, code: &str, app_client: &str) -> OpResult<UserRecord> {
    let ctx = &req.ctx;
    let o = ctx
        .store()
        .get_object(ObjectKind::IdentityProvider, &req.site.pool_id, &trip.provider)
        .await?
        .ok_or_else(|| failed("The identity provider does not exist"))?;
    let p = crate::ops::identity_providers::provider(ctx, &o)?;
    let details = p.provider_details.clone().unwrap_or_default();
    let ends = endpoints(&details).await?;
    let client_id = details.get("client_id").cloned().unwrap_or_default();
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code");
        form.append_pair("code", code);
        form.append_pair("redirect_uri", &req.site.url("/oauth2/idpresponse"));
        form.append_pair("client_id", &client_id);
        if let Some(secret) = details.get("client_secret") {
            form.append_pair("client_secret", secret);
        }
        form.finish()
    };
    let (status, body) = call(http::Method::POST, &ends.token, Some(form), None).await?;
    let tokens: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status != 200 {
        let error = tokens.get("error").and_then(Value::as_str).unwrap_or("error");
        return Err(failed(&format!(
            "{} Error - {status} {error} getting token",
            trip.provider
        )));
    }
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("The identity provider sent no ID token"))?;
    let mut claims = verify(&ends, &client_id, id_token, &trip.nonce).await?;
    if let (Some(url), Some(access)) = (&ends.userinfo, tokens.get("access_token").and_then(Value::as_str)) {
        let method = if details.get("attributes_request_method").map(String::as_str) == Some("POST") {
            http::Method::POST
        } else {
            http::Method::GET
        };
        if let Ok((200, body)) = call(method, url, None, Some(access)).await {
            if let Ok(Value::Object(more)) = serde_json::from_slice::<Value>(&body) {
                // The ID token's claims win where both have one.
                for (k, v) in more {
                    claims.entry(k).or_insert(v);
                }
            }
        }
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("The identity provider's token has no subject"))?
        .to_string();
    let ctx = &ctx.with_client(Some(app_client), None);
    store_user(ctx, &req.site.pool_id, &p, &subject, &claims, app_client).await
}

/// The provider's ID token, verified: RS256 by a key of its JWKS, its issuer, this
/// client as audience, unexpired, and the nonce sent.
async fn verify(ends: &Endpoints, client_id: &str, token: &str, nonce: &str) -> OpResult<Map<String, Value>> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| failed("The identity provider's ID token is not a JWT"))?;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(get_json(&ends.jwks).await?)
        .map_err(|_| failed("The identity provider's JWKS does not parse"))?;
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None => set.keys.first(),
    }
    .ok_or_else(|| failed("The identity provider's ID token is signed by an unknown key"))?;
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| failed("The identity provider's key is not usable"))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[ends.issuer.as_str()]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| failed(&format!("The identity provider's ID token is not valid: {e}")))?;
    if data.claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(failed("The identity provider's ID token does not carry the nonce sent"));
    }
    Ok(data.claims)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Creates or updates the pool's user for the provider's subject.
async fn store_user(
    ctx: &Ctx,
    pool_id: &str,
    p: &IdentityProviderType,
    subject: &str,
    claims: &Map<String, Value>,
    client_id: &str,
) -> OpResult<UserRecord> {
    let pool = users::load(ctx, pool_id).await?;
    let name = p.provider_name.clone().unwrap_or_default();
    // An identity linked to a native user signs that user in.
    if let Some(linked) = crate::ops::identity_providers::linked_user(ctx, pool_id, &name, subject).await? {
        return Ok(linked);
    }
    let mapped: Vec<(String, String)> = p
        .attribute_mapping
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(attr, _)| attr != "username" && attr != "sub" && attr != "identities")
        .filter_map(|(attr, claim)| claims.get(&claim).and_then(text).map(|v| (attr, v)))
        .collect();
    let username = format!("{}_{subject}", name.to_lowercase());
    let apply = |u: &mut UserRecord| {
        for (attr, value) in &mapped {
            match u.attributes.iter_mut().find(|(n, _)| n == attr) {
                Some(slot) => slot.1.clone_from(value),
                None => u.attributes.push((attr.clone(), value.clone())),
            }
        }
    };
    let user = match ctx.store().get_user(pool_id, &pool.username_key(&username)).await? {
        Some(existing) => {
            let (u, ()) = users::modify(ctx, &pool, existing, |u| {
                apply(u);
                u.modified_ms = ctx.now_ms;
                users::refresh_lookups(&pool, u);
                Ok(())
            })
            .await?;
            u
        }
        None => {
            let sub = crate::ids::uuid().to_string();
            let identities = serde_json::json!([{
                "userId": subject,
                "providerName": name,
                "providerType": p.provider_type.map_or("OIDC", |t| t.as_str()),
                "issuer": null,
                "primary": true,
                "dateCreated": ctx.now_ms,
            }]);
            let attributes = vec![
                ("sub".to_string(), sub.clone()),
                ("identities".to_string(), identities.to_string()),
            ];
            let mut u = users::new_user(
                &pool,
                (username, sub, attributes),
                "EXTERNAL_PROVIDER",
                None,
                ctx.now_ms,
            );
            apply(&mut u);
            // PreSignUp_ExternalProvider sees the mapped attributes; its error refuses the
            // sign-in, and its autoVerifyEmail / autoVerifyPhone mark the address verified.
            let submitted: Vec<(String, String)> = u.attributes.iter().filter(|(n, _)| n != "sub").cloned().collect();
            let decision = crate::triggers::sign_up::pre_sign_up(
                ctx,
                &pool,
                crate::triggers::sign_up::Source::ExternalProvider { client_id },
                &u.username,
                &submitted,
                None,
            )
            .await?;
            for (flag, attr) in [
                (decision.verify_email, "email_verified"),
                (decision.verify_phone, "phone_number_verified"),
            ] {
                if flag {
                    u.attributes.retain(|(n, _)| n != attr);
                    u.attributes.push((attr.to_string(), "true".to_string()));
                }
            }
            users::refresh_lookups(&pool, &mut u);
            ctx.store()
                .create_user(&u)
                .await
                .map_err(|e| users::write_error(e, &pool))?;
            tracing::info!(pool = %pool_id, username = %u.username, provider = %name, "federated user created");
            u
        }
    };
    // Cognito puts federated users in a group named after the pool and provider.
    let group = format!("{pool_id}_{name}");
    let g = GroupRecord {
        pool_id: pool_id.to_string(),
        name: group.clone(),
        description: Some(format!("Autogenerated group for users who sign in using {name}")),
        role_arn: None,
        precedence: None,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    match ctx.store().create_group(&g).await {
        Ok(()) | Err(userpool_store::StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    ctx.store().add_to_group(pool_id, &group, &user.username_key).await?;
    Ok(user)
}
