//! The HTTP server: accepts connections, frames each request, runs it with a request id and
//! one tracing span, catches panics, and enforces the body-size limit. It knows nothing of
//! Cognito beyond handing `(operation, JSON)` to [`crate::ops::dispatch`].

use crate::app::{App, Ctx};
use crate::error::CognitoError;
use crate::{clock, ops, protocol};
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Method, Request, Response};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::Instrument as _;
use userpool_model::{Auth, ErrorCode};

/// Serves until `shutdown` resolves, then shuts down gracefully: the listener closes (new
/// connections are refused), idle keep-alive connections close, and each request in
/// flight is finished: answered (with `Connection: close`), then its connection closes.
/// Returns once every connection has closed, or after `grace` (the rest are dropped).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req| handle(app.clone(), peer, req));
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        // Watched, so that at shutdown hyper closes it when idle, or else once the response
        // in progress is written (instead of the task being dropped mid-request).
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down: new connections refused; finishing the requests in flight"
    );
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            seconds = grace.as_secs(),
            "shutdown grace period over: dropping the connections still open"
        );
    }
}

async fn handle(app: Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_id = crate::ids::uuid().to_string();
    let span = tracing::info_span!("request", id = %request_id);
    let rid = request_id.clone();
    Ok(guard(route(app, peer, req, request_id).instrument(span), &rid).await)
}

/// Runs a request's future; a panic inside it is logged and answered
/// `InternalErrorException`, and the process (and the connection) keep serving.
async fn guard(
    fut: impl std::future::Future<Output = Response<Full<Bytes>>>,
    request_id: &str,
) -> Response<Full<Bytes>> {
    AssertUnwindSafe(fut).catch_unwind().await.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(request_id = %request_id, panic = %what, "IE0001 request handler panicked");
        protocol::error(&CognitoError::internal(), request_id)
    })
}

async fn route(app: Arc<App>, peer: SocketAddr, req: Request<Incoming>, request_id: String) -> Response<Full<Bytes>> {
    let now_ms = clock::now_ms();
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        if parts.uri.path().starts_with("/_userpool/import/") {
            return crate::web::import::preflight(&request_id);
        }
        return protocol::preflight(&request_id);
    }
    if parts.uri.path() != "/" {
        let host = parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok());
        if let Some((site, below)) = crate::web::site(&app, host, parts.uri.path()).await {
            return web(app, peer, parts, body, site, &below, now_ms, request_id).await;
        }
        if let Some(rest) = parts.uri.path().strip_prefix("/_userpool/import/") {
            return crate::web::import::upload(&app, &parts, body, rest, now_ms, &request_id).await;
        }
    }
    if parts.method == Method::GET {
        // For load balancers: `/health` answers while the process runs; `/ready` once the
        // store answers (the database reachable, its migrations applied at start).
        match parts.uri.path() {
            "/health" => return protocol::document(br#"{"status":"ok"}"#.to_vec(), &request_id),
            "/ready" => {
                return match app.store.get_pool("readiness-probe").await {
                    Ok(_) => protocol::document(br#"{"status":"ready"}"#.to_vec(), &request_id),
                    Err(e) => {
                        tracing::warn!(error = %e, "not ready: the store does not answer");
                        protocol::error(
                            &CognitoError::new(ErrorCode::InternalErrorException, "The store is not reachable."),
                            &request_id,
                        )
                    }
                };
            }
            _ => {}
        }
        if let Some(rest) = parts.uri.path().strip_prefix('/') {
            let doc = match rest.split_once('/') {
                Some((pool, ".well-known/jwks.json")) => Some(crate::tokens::jwks::jwks(&app, pool, now_ms).await),
                Some((pool, ".well-known/openid-configuration")) => {
                    Some(crate::tokens::jwks::openid_configuration(&app, pool).await)
                }
                _ => None,
            };
            if let Some(logo) = rest.strip_prefix("_userpool/ui/") {
                return ui_logo(&app, logo, now_ms, &request_id).await;
            }
            if rest == "_userpool/auth-event-feedback" {
                let ctx = Ctx {
                    peer: peer.ip(),
                    ..Ctx::internal(&app, now_ms, &request_id)
                };
                let query = parts.uri.query().unwrap_or_default();
                return match crate::ops::auth_events::feedback_link(&ctx, query).await {
                    Ok(body) => protocol::document(body, &request_id),
                    Err(e) => protocol::error(&e, &request_id),
                };
            }
            let doc = match (doc, rest.strip_prefix("_userpool/outbox/")) {
                (None, Some(pool)) => Some(outbox_http(&app, &parts, pool, now_ms).await),
                (doc, _) => doc,
            };
            match doc {
                Some(Ok(body)) => return protocol::document(body, &request_id),
                Some(Err(e)) => return protocol::error(&e, &request_id),
                None => {}
            }
        }
    }
    if parts.uri.path() != "/" {
        return protocol::error(
            &CognitoError::new(
                ErrorCode::UnknownOperationException,
                format!(
                    "No route for {} {}: the API is POST /.",
                    parts.method,
                    protocol::printable(parts.uri.path())
                ),
            ),
            &request_id,
        );
    }
    if parts.method != Method::POST {
        return protocol::error(
            &CognitoError::new(
                ErrorCode::UnknownOperationException,
                format!("Method {} is not allowed: the API is POST /.", parts.method),
            ),
            &request_id,
        );
    }
    let result = async {
        let op = protocol::operation(&parts.headers)?;
        protocol::check_content_type(&parts.headers)?;
        // Branding styles carry images: Cognito takes 2 MB requests for them.
        let limit = match op {
            userpool_model::Operation::CreateManagedLoginBranding
            | userpool_model::Operation::UpdateManagedLoginBranding => {
                app.config.max_body_bytes.max(crate::ops::branding::MAX_REQUEST_BYTES)
            }
            _ => app.config.max_body_bytes,
        };
        let bytes = read_body(&parts.headers, body, limit).await?;
        let identity = match op.auth() {
            Auth::SigV4 => Some(app.auth.authenticate(&parts, &bytes, now_ms.div_euclid(1000))?),
            Auth::None => None,
        };
        let value = protocol::body(op, &bytes)?;
        let region = match identity {
            Some((identity, region)) => {
                app.auth.authorize(identity, op, &value, &region)?;
                crate::auth::sigv4::check_region(&value, &region)?;
                region
            }
            None => app.config.region.clone(),
        };
        let forwarded_for = if app.config.trust_forwarded_for {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        } else {
            None
        };
        let ctx = Ctx {
            app,
            now_ms,
            request_id: request_id.clone(),
            peer: peer.ip(),
            forwarded_for,
            client_id: None,
            client_metadata: None,
            hosted: false,
            region,
            context: crate::ops::auth_events::RequestContext::from_body(&value),
        };
        tracing::debug!(operation = op.name(), "dispatch");
        ops::dispatch(&ctx, op, value).await
    }
    .await;
    match result {
        Ok(body) => protocol::ok(body, &request_id),
        Err(e) => {
            tracing::info!(error = e.code.name(), message = %e.message, "refused");
            protocol::error(&e, &request_id)
        }
    }
}

/// `GET /_userpool/ui/<poolId>/<clientId>/logo`: a branding's logo (the `ImageUrl` of
/// GetUICustomization).
async fn ui_logo(app: &Arc<App>, path: &str, now_ms: i64, request_id: &str) -> Response<Full<Bytes>> {
    let ctx = Ctx::internal(app, now_ms, request_id);
    let found = match path.split('/').collect::<Vec<_>>().as_slice() {
        [pool, client, "logo"] => crate::ops::ui::logo(&ctx, pool, client).await,
        _ => None,
    };
    match found {
        Some((kind, bytes)) => {
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            if let Ok(v) = http::HeaderValue::from_str(&kind) {
                r.headers_mut().insert(http::header::CONTENT_TYPE, v);
            }
            r
        }
        None => crate::web::json(http::StatusCode::NOT_FOUND, &serde_json::json!({"error": "not found"})),
    }
}

/// A request to a pool's domain: the hosted pages and the OAuth 2.0 endpoints.
#[allow(clippy::too_many_arguments, reason = "one request's parts, each used once")]
async fn web(
    app: Arc<App>,
    peer: SocketAddr,
    parts: http::request::Parts,
    body: Incoming,
    site: crate::web::Site,
    path: &str,
    now_ms: i64,
    request_id: String,
) -> Response<Full<Bytes>> {
    let form = match read_body(&parts.headers, body, app.config.max_body_bytes).await {
        Ok(b) => crate::web::pairs(&String::from_utf8_lossy(&b)),
        Err(_) => {
            return crate::web::json(
                http::StatusCode::BAD_REQUEST,
                &serde_json::json!({"error": "invalid_request"}),
            )
        }
    };
    let ctx = Ctx {
        app: app.clone(),
        now_ms,
        request_id,
        peer: peer.ip(),
        forwarded_for: None,
        client_id: None,
        client_metadata: None,
        hosted: false,
        region: app.config.region.clone(),
        context: None,
    };
    let req = crate::web::Request {
        ctx,
        site: &site,
        method: &parts.method,
        query: crate::web::pairs(parts.uri.query().unwrap_or_default()),
        form,
        headers: &parts.headers,
    };
    crate::web::serve(app.clone(), req, path).await
}

/// `GET /_userpool/outbox/<poolId>[?username=…&after=N]`: the outbox over HTTP, for tests
/// that run elsewhere. Only with credentials: SigV4-signed (service `cognito-idp`) by an
/// identity whose policies allow `cognito-idp:AdminSetUserPassword` on the pool: the
/// outbox holds temporary passwords and reset and MFA codes, so reading it is as strong as
/// setting a password (a read-only `AdminGet*` policy must not reach it). Answers the same
/// JSON as `userpool outbox`, at most [`OUTBOX_PAGE`] messages; read on with `after`.
async fn outbox_http(
    app: &Arc<App>,
    parts: &http::request::Parts,
    pool_id: &str,
    now_ms: i64,
) -> Result<Vec<u8>, CognitoError> {
    let (identity, region) = app.auth.authenticate(parts, &[], now_ms.div_euclid(1000))?;
    let body = serde_json::json!({ "UserPoolId": pool_id });
    app.auth.authorize(
        identity,
        userpool_model::Operation::AdminSetUserPassword,
        &body,
        &region,
    )?;
    crate::auth::sigv4::check_region(&body, &region)?;
    let mut username = None;
    let mut after = 0i64;
    for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "username" => username = Some(v.into_owned()),
            "after" => {
                after = v
                    .parse()
                    .map_err(|_| CognitoError::invalid_parameter("after must be a number."))?;
            }
            _ => {}
        }
    }
    let ctx = Ctx::internal(app, now_ms, "");
    let pool = crate::ops::users::load(&ctx, pool_id).await?;
    let key = match &username {
        Some(name) => match crate::ops::users::find(&ctx, &pool, name).await? {
            Some(u) => Some(u.username_key),
            None => return Ok(b"[]".to_vec()),
        },
        None => None,
    };
    let messages = app
        .store
        .list_messages(pool.id(), key.as_deref(), after, OUTBOX_PAGE)
        .await?;
    let out: Vec<serde_json::Value> = messages.iter().map(|m| crate::outbox::view(&app.sealer, m)).collect();
    Ok(serde_json::to_vec(&out).unwrap_or_default())
}

/// The most messages one outbox request answers.
const OUTBOX_PAGE: usize = 100;

/// Reads the body up to the limit; a declared or actual size over it is refused without
/// reading the rest.
async fn read_body(headers: &http::HeaderMap, body: Incoming, limit: u64) -> Result<Bytes, CognitoError> {
    let too_large = || {
        CognitoError::new(
            ErrorCode::RequestEntityTooLargeException,
            format!("Request body exceeds the limit of {limit} bytes."),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(CognitoError::new(
            ErrorCode::SerializationException,
            format!("Could not read the request body: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_answered_internal_error() {
        let r = guard(async { panic!("boom") }, "rid-1").await;
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["x-amzn-requestid"], "rid-1");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["__type"], "InternalErrorException");
        // And the next request is served normally.
        let ok = guard(async { protocol::ok(None, "rid-2") }, "rid-2").await;
        assert_eq!(ok.status(), 200);
    }
}
