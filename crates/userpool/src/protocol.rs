//! AWS JSON 1.1 framing, knowing nothing of what the operations do: which operation a
//! request names, its body as validated JSON, and answers (success or error) with the
//! headers the SDKs read. Every rejection here is a typed [`CognitoError`] rendered the
//! same way as the operations' own errors.

use crate::error::CognitoError;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use userpool_model::validate::{validate, Rejection};
use userpool_model::{ErrorCode, Operation};

/// The content type of every JSON answer.
pub const JSON_1_1: &str = "application/x-amz-json-1.1";

/// The operation `X-Amz-Target` names.
pub fn operation(headers: &HeaderMap) -> Result<Operation, CognitoError> {
    let Some(target) = headers.get("x-amz-target") else {
        return Err(CognitoError::new(
            ErrorCode::UnknownOperationException,
            "Missing X-Amz-Target header.",
        ));
    };
    let target = target.to_str().unwrap_or_default();
    Operation::from_target(target).ok_or_else(|| {
        CognitoError::new(
            ErrorCode::UnknownOperationException,
            format!("Unknown operation: {}", printable(target)),
        )
    })
}

/// Refuses a body that says it is something other than JSON. The SDKs send
/// `application/x-amz-json-1.1`; `1.0` and `application/json` are accepted too, and so is
/// a request without a content type (curl users).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), CognitoError> {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let base = ct.split(';').next().unwrap_or_default().trim();
    if matches!(
        base,
        "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json"
    ) {
        Ok(())
    } else {
        Err(CognitoError::new(
            ErrorCode::SerializationException,
            format!(
                "Unsupported Content-Type '{}': send application/x-amz-json-1.1.",
                printable(base)
            ),
        ))
    }
}

/// Parses and validates a body against the operation's input shape. An empty body is `{}`.
pub fn body(op: Operation, bytes: &[u8]) -> Result<Value, CognitoError> {
    let mut value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            CognitoError::new(
                ErrorCode::SerializationException,
                format!("The request body is not valid JSON: {e}"),
            )
        })?
    };
    if !value.is_object() {
        return Err(CognitoError::new(
            ErrorCode::SerializationException,
            "The request body must be a JSON object.",
        ));
    }
    validate(op.input_shape(), &mut value).map_err(|r| match r {
        Rejection::Serialization(m) => CognitoError::new(ErrorCode::SerializationException, m),
        Rejection::Invalid(m) => CognitoError::invalid_parameter(m),
    })?;
    Ok(value)
}

/// A success: the output JSON, or an empty body for operations without output.
pub fn ok(body: Option<Vec<u8>>, request_id: &str) -> Response<Full<Bytes>> {
    build(StatusCode::OK, body.unwrap_or_default(), request_id, None)
}

/// The one rendering of an error: status, `{"__type", "message"}`, `x-amzn-ErrorType`.
pub fn error(err: &CognitoError, request_id: &str) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    build(status, err.body(), request_id, Some(err))
}

/// Answers a CORS preflight (browsers send one before these non-simple requests).
pub fn preflight(request_id: &str) -> Response<Full<Bytes>> {
    let mut r = build(StatusCode::OK, Vec::new(), request_id, None);
    let h = r.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "content-type, x-amz-target, x-amz-user-agent, cache-control, authorization, x-amz-date, \
             x-amz-security-token, amz-sdk-invocation-id, amz-sdk-request, x-amz-content-sha256",
        ),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    r
}

/// A JSON document answered to a GET (the JWKS and OpenID configuration).
pub fn document(body: Vec<u8>, request_id: &str) -> Response<Full<Bytes>> {
    let mut r = build(StatusCode::OK, body, request_id, None);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn build(status: StatusCode, body: Vec<u8>, request_id: &str, err: Option<&CognitoError>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_1));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date"),
    );
    if let Some(e) = err {
        if let Ok(v) = HeaderValue::from_str(&format!("{}:", e.code.name())) {
            h.insert("x-amzn-errortype", v);
        }
        // A header value cannot hold every character a message may; skip it then (the
        // clients read the body's message first).
        if let Ok(v) = HeaderValue::from_str(&e.message) {
            h.insert("x-amzn-errormessage", v);
        }
    }
    r
}

/// Echoes client input into a message safely: control characters escaped, at most 256 chars.
pub fn printable(s: &str) -> String {
    s.chars().take(256).flat_map(char::escape_default).collect()
}
