//! `PUT /_userpool/import/<poolId>/<jobId>?X-Amz-…`: the PreSignedUrl of a user import
//! job (CreateUserImportJob), which takes the CSV file as S3 takes a pre-signed `PUT`:
//! `curl -T users.csv -H "x-amz-server-side-encryption:aws:kms" "<PreSignedUrl>"`.
//!
//! - The URL is its own authorisation: `X-Amz-Signature` must be the HMAC the data key
//!   makes of the pool, the job, `X-Amz-Date` and `X-Amz-Expires`
//!   ([`crate::ops::import::upload_signature`]), and the URL must not have expired (15
//!   minutes); otherwise `403` with S3's `SignatureDoesNotMatch` or `AccessDenied`.
//! - `x-amz-server-side-encryption: aws:kms` must be sent: the URL signs that header
//!   (`X-Amz-SignedHeaders`), as Cognito's does.
//! - At most 100 MB (`400 EntityTooLarge`, before reading when `Content-Length` says so).
//! - The file is kept sealed with the data key, in 1 MiB pieces, while it arrives; it
//!   becomes the job's file once whole. Another upload replaces it until the job starts;
//!   after that, `403`.
//! - One upload at a time per job, across nodes: an upload first marks the job
//!   ([`crate::ops::import::Uploading`], a compare-and-set of the job's record), holds
//!   the mark [`MARK_MS`] and renews it every [`RENEW_MS`] while the file arrives, and
//!   lets it go when it ends. A `PUT` while another holds the mark is refused before its
//!   body is read: `409 OperationAborted` ("A conflicting conditional operation is
//!   currently in progress against this resource. Try again."), S3's answer to
//!   concurrent conflicting writes. An upload whose mark lapsed and was taken by another
//!   is refused the same way (its pieces deleted).
//!
//! Errors are S3's XML (`<Error><Code>…</Code><Message>…</Message></Error>`).

use crate::app::{App, Ctx};
use crate::ops::import::{self, delete_pieces, runner::PIECE_BYTES, Upload, Uploading, MAX_FILE_BYTES};
use crate::web::Reply;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use std::sync::Arc;
use subtle::ConstantTimeEq as _;
use userpool_model::types::UserImportJobStatusType as Status;
use userpool_store::{ObjectKind, ObjectRecord};

/// An S3 error.
fn s3_error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
         <RequestId>{request_id}</RequestId></Error>"
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    r
}

/// The CORS preflight of an upload from a browser page.
pub fn preflight(request_id: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-allow-methods", HeaderValue::from_static("PUT, OPTIONS"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("content-type, content-length, x-amz-server-side-encryption"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    r
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
                        Check your key and signing method.";

/// The answer to a `PUT` of a job's file; `path` is what follows `/_userpool/import/`.
pub async fn upload(
    app: &Arc<App>,
    parts: &http::request::Parts,
    body: Incoming,
    path: &str,
    now_ms: i64,
    request_id: &str,
) -> Reply {
    let denied = |code: &str, message: &str| s3_error(StatusCode::FORBIDDEN, code, message, request_id);
    if parts.method != http::Method::PUT {
        return s3_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            request_id,
        );
    }
    let Some((pool_id, job_id)) = path.split_once('/').filter(|(p, j)| !p.is_empty() && !j.contains('/')) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            request_id,
        );
    };
    let query = crate::web::pairs(parts.uri.query().unwrap_or_default());
    let param = |name: &str| crate::web::first(&query, name);
    let (Some(date), Some(expires), Some(signature)) =
        (param("X-Amz-Date"), param("X-Amz-Expires"), param("X-Amz-Signature"))
    else {
        return denied(
            "AccessDenied",
            "Query-string authentication requires X-Amz-Date, X-Amz-Expires and X-Amz-Signature.",
        );
    };
    let Ok(expires_s) = expires.parse::<i64>() else {
        return denied("AuthorizationQueryParametersError", "X-Amz-Expires should be a number.");
    };
    let expected = import::upload_signature(app, pool_id, job_id, date, expires_s);
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return denied("SignatureDoesNotMatch", MISMATCH);
    }
    let signed_at = userpool_sigv4::parse_amz_date(date).unwrap_or(i64::MIN);
    if signed_at.saturating_add(expires_s) < now_ms.div_euclid(1000) {
        return denied("AccessDenied", "Request has expired");
    }
    let sse = parts
        .headers
        .get("x-amz-server-side-encryption")
        .and_then(|v| v.to_str().ok());
    if sse != Some("aws:kms") {
        return denied("SignatureDoesNotMatch", MISMATCH);
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_FILE_BYTES) {
        return too_large(request_id);
    }
    let ctx = Ctx::internal(app, now_ms, request_id);
    let upload_id = crate::ids::uuid().simple().to_string();
    match mark(app, pool_id, job_id, &upload_id, request_id).await {
        Ok(Mark::Held) => {}
        Ok(Mark::Busy) => return busy(request_id),
        Ok(Mark::Started) => return started(request_id),
        Ok(Mark::Gone) => return no_such_key(request_id),
        Err(_) => return internal(request_id),
    }
    let prefix = format!("{job_id}/{upload_id}/");
    let received = match receive(&ctx, pool_id, job_id, &upload_id, body).await {
        Ok(r) => r,
        Err(failure) => {
            let _ = delete_pieces(&ctx, pool_id, &prefix).await;
            let _ = unmark(app, pool_id, job_id, &upload_id, request_id).await;
            return match failure {
                Failure::TooLarge => too_large(request_id),
                Failure::Body => s3_error(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                    request_id,
                ),
                Failure::Store => internal(request_id),
                Failure::Mark(Mark::Busy | Mark::Held) => busy(request_id),
                Failure::Mark(Mark::Started) => started(request_id),
                Failure::Mark(Mark::Gone) => no_such_key(request_id),
            };
        }
    };
    let upload = Upload {
        id: upload_id.clone(),
        pieces: received.0,
        bytes: received.1,
    };
    match attach(&ctx, pool_id, job_id, upload).await {
        Ok(Mark::Held) => {
            tracing::info!(pool = %pool_id, job = %job_id, bytes = received.1, "user import file uploaded");
            let mut r = Response::new(Full::new(Bytes::new()));
            let h = r.headers_mut();
            h.insert("x-amz-server-side-encryption", HeaderValue::from_static("aws:kms"));
            h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            if let Ok(v) = HeaderValue::from_str(request_id) {
                h.insert("x-amz-request-id", v);
            }
            r
        }
        Ok(other) => {
            let _ = delete_pieces(&ctx, pool_id, &prefix).await;
            let _ = unmark(app, pool_id, job_id, &upload_id, request_id).await;
            match other {
                Mark::Busy | Mark::Held => busy(request_id),
                Mark::Started => started(request_id),
                Mark::Gone => no_such_key(request_id),
            }
        }
        Err(_) => {
            let _ = delete_pieces(&ctx, pool_id, &prefix).await;
            let _ = unmark(app, pool_id, job_id, &upload_id, request_id).await;
            internal(request_id)
        }
    }
}

/// How long an upload's mark holds the job without being renewed.
pub const MARK_MS: i64 = 60_000;
/// How often an upload renews its mark while the file arrives.
pub const RENEW_MS: i64 = 20_000;

/// Where an upload stands with its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// The upload holds the job's mark (or, from [`attach`], is the job's file).
    Held,
    /// Another upload holds it.
    Busy,
    /// The job has started (or ended): its file can no longer be replaced.
    Started,
    /// No such job.
    Gone,
}

/// Marks the job as receiving upload `id` for [`MARK_MS`] from now, or renews that mark
/// (compare-and-set of the job's record).
async fn mark(app: &Arc<App>, pool_id: &str, job_id: &str, id: &str, request_id: &str) -> crate::error::OpResult<Mark> {
    for _ in 0..16 {
        let ctx = Ctx::internal(app, crate::clock::now_ms(), request_id);
        let Some((o, mut job)) = import::load(&ctx, pool_id, job_id).await? else {
            return Ok(Mark::Gone);
        };
        if job.status_at(ctx.now_ms) != Status::Created {
            return Ok(Mark::Started);
        }
        if job
            .uploading
            .as_ref()
            .is_some_and(|u| u.id != id && u.until_ms >= ctx.now_ms)
        {
            return Ok(Mark::Busy);
        }
        job.uploading = Some(Uploading {
            id: id.to_string(),
            until_ms: ctx.now_ms.saturating_add(MARK_MS),
        });
        if import::write(&ctx, &o, &job).await?.is_some() {
            return Ok(Mark::Held);
        }
    }
    Ok(Mark::Busy)
}

/// Lets go of upload `id`'s mark, if it still holds it.
async fn unmark(app: &Arc<App>, pool_id: &str, job_id: &str, id: &str, request_id: &str) -> crate::error::OpResult<()> {
    for _ in 0..16 {
        let ctx = Ctx::internal(app, crate::clock::now_ms(), request_id);
        let Some((o, mut job)) = import::load(&ctx, pool_id, job_id).await? else {
            return Ok(());
        };
        if job.uploading.as_ref().is_none_or(|u| u.id != id) {
            return Ok(());
        }
        job.uploading = None;
        if import::write(&ctx, &o, &job).await?.is_some() {
            return Ok(());
        }
    }
    Ok(())
}

/// `409 OperationAborted`: another upload to the job is in progress.
fn busy(request_id: &str) -> Reply {
    s3_error(
        StatusCode::CONFLICT,
        "OperationAborted",
        "A conflicting conditional operation is currently in progress against this resource. Try again.",
        request_id,
    )
}

fn started(request_id: &str) -> Reply {
    s3_error(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        "The import job has started: its file can no longer be replaced.",
        request_id,
    )
}

fn no_such_key(request_id: &str) -> Reply {
    s3_error(
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.",
        request_id,
    )
}

fn too_large(request_id: &str) -> Reply {
    s3_error(
        StatusCode::BAD_REQUEST,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        request_id,
    )
}

fn internal(request_id: &str) -> Reply {
    s3_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
        request_id,
    )
}

/// Why an upload was not taken.
enum Failure {
    TooLarge,
    Body,
    Store,
    /// The mark could not be renewed.
    Mark(Mark),
}

/// Reads the body of upload `upload_id`, storing it sealed in pieces named
/// `<jobId>/<upload_id>/<n>` and renewing the upload's mark every [`RENEW_MS`]; answers
/// how many pieces and bytes.
async fn receive(
    ctx: &Ctx,
    pool_id: &str,
    job_id: &str,
    upload_id: &str,
    mut body: Incoming,
) -> Result<(u32, u64), Failure> {
    let prefix = &format!("{job_id}/{upload_id}/");
    let mut pending: Vec<u8> = Vec::with_capacity(PIECE_BYTES);
    let (mut pieces, mut bytes) = (0u32, 0u64);
    let mut marked_ms = crate::clock::now_ms();
    loop {
        if crate::clock::now_ms().saturating_sub(marked_ms) >= RENEW_MS {
            match mark(&ctx.app, pool_id, job_id, upload_id, &ctx.request_id).await {
                Ok(Mark::Held) => marked_ms = crate::clock::now_ms(),
                Ok(other) => return Err(Failure::Mark(other)),
                Err(_) => return Err(Failure::Store),
            }
        }
        let frame = match body.frame().await {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(_)) => return Err(Failure::Body),
        };
        let Ok(data) = frame.into_data() else { continue };
        bytes = bytes.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        if bytes > MAX_FILE_BYTES {
            return Err(Failure::TooLarge);
        }
        pending.extend_from_slice(&data);
        while pending.len() >= PIECE_BYTES {
            let rest = pending.split_off(PIECE_BYTES);
            put_piece(ctx, pool_id, prefix, pieces, &pending).await?;
            pieces += 1;
            pending = rest;
        }
    }
    if !pending.is_empty() {
        put_piece(ctx, pool_id, prefix, pieces, &pending).await?;
        pieces += 1;
    }
    Ok((pieces, bytes))
}

async fn put_piece(ctx: &Ctx, pool_id: &str, prefix: &str, n: u32, clear: &[u8]) -> Result<(), Failure> {
    let piece = ObjectRecord {
        kind: ObjectKind::ImportData,
        pool_id: pool_id.to_string(),
        name: format!("{prefix}{n:06}"),
        body: STANDARD.encode(ctx.app.sealer.seal(clear)),
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_object(&piece).await.map_err(|e| {
        tracing::warn!(error = %e, "storing a piece of an import file failed");
        Failure::Store
    })
}

/// Makes the upload the job's file and lets go of its mark, if the job has not started
/// and no other upload has taken the mark (compare-and-set), then deletes the file it
/// replaces. `Ok(Mark::Held)` once attached.
async fn attach(ctx: &Ctx, pool_id: &str, job_id: &str, upload: Upload) -> crate::error::OpResult<Mark> {
    for _ in 0..16 {
        let now_ms = crate::clock::now_ms();
        let Some((o, mut job)) = import::load(ctx, pool_id, job_id).await? else {
            return Ok(Mark::Gone);
        };
        if job.status_at(now_ms) != Status::Created {
            return Ok(Mark::Started);
        }
        if job
            .uploading
            .as_ref()
            .is_some_and(|u| u.id != upload.id && u.until_ms >= now_ms)
        {
            return Ok(Mark::Busy);
        }
        job.uploading = None;
        let replaced = job.upload.replace(upload.clone());
        if import::write(ctx, &o, &job).await?.is_some() {
            if let Some(old) = replaced {
                delete_pieces(ctx, pool_id, &format!("{job_id}/{}/", old.id)).await?;
            }
            return Ok(Mark::Held);
        }
    }
    Ok(Mark::Busy)
}
