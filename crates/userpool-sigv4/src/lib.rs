//! `userpool-sigv4`: verification of AWS Signature Version 4, header form
//! (`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`).
//!
//! Layout:
//! - [`parse_authorization`] reads the header into an [`Authorization`];
//! - [`canonical_request`], [`string_to_sign`] and [`signing_key`] are the three steps of
//!   the AWS algorithm, exactly as the AWS test suite spells them;
//! - [`Verifier`] ties them together with the clock check (`now` is a parameter), the
//!   constant-time comparison and a cache of derived signing keys (one HMAC chain per key,
//!   date, region and service, instead of four HMACs per request).
//!
//! It knows nothing of Cognito: the caller says which service and region to expect and
//! looks up the secret of the access key.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm AWS SigV4 header signing uses.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a request's signature was refused. The `Display` text is AWS's own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header (`MissingAuthenticationTokenException`).
    #[error("Missing Authentication Token")]
    Missing,
    /// The header is malformed or lacks a part (`IncompleteSignatureException`).
    #[error("{0}")]
    Incomplete(String),
    /// The signature does not match (`InvalidSignatureException`).
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
    /// The scope names another service, region or date (`InvalidSignatureException`).
    #[error("{0}")]
    BadScope(String),
    /// `X-Amz-Date` is outside the clock window (`InvalidSignatureException`).
    #[error("{0}")]
    Expired(String),
}

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id of `Credential`.
    pub access_key_id: String,
    /// `yyyymmdd` of the credential scope.
    pub date: String,
    /// Region of the scope.
    pub region: String,
    /// Service of the scope.
    pub service: String,
    /// `SignedHeaders`, lowercase, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

impl Authorization {
    /// `<date>/<region>/<service>/aws4_request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20240305/us-east-1/cognito-idp/aws4_request,
/// SignedHeaders=a;b, Signature=hex`, with AWS's messages for what is missing.
pub fn parse_authorization(header: &str) -> Result<Authorization, SigV4Error> {
    let incomplete = |missing: &[&str]| {
        let mut m = String::new();
        for p in missing {
            let _ = write!(m, "Authorization header requires '{p}' parameter. ");
        }
        let _ = write!(m, "Authorization={header}");
        SigV4Error::Incomplete(m)
    };
    let rest = header
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| SigV4Error::Incomplete(format!("Unsupported Authorization Type. Authorization={header}")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=') {
            match k.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed = Some(v.trim()),
                "Signature" => signature = Some(v.trim()),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Credential");
    }
    if signature.is_none() {
        missing.push("Signature");
    }
    if signed.is_none() {
        missing.push("SignedHeaders");
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(&missing));
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should have five parts (<key>/<date>/<region>/<service>/aws4_request), got '{credential}'."
        )));
    };
    if *terminator != "aws4_request" {
        return Err(SigV4Error::BadScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    let signature = hex::decode(signature).ok().filter(|s| s.len() == 32).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "Signature must be 64 hexadecimal digits. Authorization={header}"
        ))
    })?;
    let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
    if signed_headers.iter().any(String::is_empty) {
        return Err(incomplete(&["SignedHeaders"]));
    }
    Ok(Authorization {
        access_key_id: (*key).to_string(),
        date: (*date).to_string(),
        region: (*region).to_string(),
        service: (*service).to_string(),
        signed_headers,
        signature,
    })
}

/// A request as the verifier needs it: the request line's path and query exactly as sent,
/// every header (name, value; repeats allowed) and the body.
#[derive(Debug, Clone)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent (percent-encoded or not).
    pub path: &'a str,
    /// The query string without `?` (empty when none).
    pub query: &'a str,
    /// Headers in the order received.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body.
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    /// The values of a header (case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> impl Iterator<Item = &str> + '_ {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| *v)
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            // Two hex digits exactly (`from_str_radix` alone would take a sign: `%+1`).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// RFC 3986 dot-segment removal plus collapsing of repeated slashes (the non-S3 rule).
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segments.join("/"));
    if (path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..")) && out.len() > 1 {
        out.push('/');
    }
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

/// The canonical request of the AWS algorithm, over the headers named in `signed_headers`.
/// `normalize` is true for every service but S3.
pub fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[String], normalize: bool) -> String {
    let path = if normalize {
        normalize_path(req.path)
    } else {
        req.path.to_string()
    };
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&uri_encode(path.as_bytes(), true));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<&str> = req.header_values(name).collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&canonical_header_value(&values));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(&hex::encode(Sha256::digest(req.body)));
    out
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Seconds since the epoch of an ISO-8601 basic timestamp `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    // Digits only (`parse` alone would take a sign: `-999`, `+1`).
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// `yyyymmddThhmmssZ` of epoch seconds.
pub fn format_amz_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// Howard Hinnant's days-from-civil / civil-from-days: two dozen lines, exact for every
// date, and no date library is needed for this one fixed format.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What the verifier expects of every request.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The service name of the scope (`cognito-idp`).
    pub service: &'a str,
    /// The region of the scope, if the caller insists on one.
    pub region: Option<&'a str>,
    /// Allowed clock skew either way, in seconds.
    pub max_skew_secs: i64,
    /// Whether to normalise the path (true except for S3).
    pub normalize: bool,
}

/// Verifies signatures, caching derived signing keys.
#[derive(Default)]
pub struct Verifier {
    /// (access key, secret, date, region, service) → signing key. The secret is part of
    /// the key so a wrong secret never meets a cached right one. A `RwLock`: after the
    /// first request of a key each day, every request only reads it.
    cache: RwLock<HashMap<CacheKey, [u8; 32]>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(***)")
    }
}

type CacheKey = (String, String, String, String, String);

/// Bound of the signing-key cache; it is cleared when full (a day's keys refill it).
const CACHE_LIMIT: usize = 4096;

impl Verifier {
    /// A verifier with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&self, auth: &Authorization, secret: &str) -> [u8; 32] {
        let id = (
            auth.access_key_id.clone(),
            secret.to_string(),
            auth.date.clone(),
            auth.region.clone(),
            auth.service.clone(),
        );
        if let Ok(cache) = self.cache.read() {
            if let Some(k) = cache.get(&id) {
                return *k;
            }
        }
        let k = signing_key(secret, &auth.date, &auth.region, &auth.service);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(id, k);
        }
        k
    }

    /// Checks everything but the signature: date header, clock window, scope, signed
    /// headers. `now` is epoch seconds.
    pub fn check_request(
        &self,
        req: &SignedRequest<'_>,
        auth: &Authorization,
        expect: &Expect<'_>,
        now: i64,
    ) -> Result<(), SigV4Error> {
        let Some(amz_date) = req.header("x-amz-date") else {
            return Err(SigV4Error::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
            ));
        };
        for required in ["host", "x-amz-date"] {
            if !auth.signed_headers.iter().any(|h| h == required) {
                return Err(SigV4Error::Incomplete(format!(
                    "'{required}' must be a 'SignedHeader' in the AWS Authorization."
                )));
            }
        }
        for h in &auth.signed_headers {
            if req.header(h).is_none() {
                return Err(SigV4Error::Incomplete(format!(
                    "Signed header '{h}' is not present in the request."
                )));
            }
        }
        let Some(at) = parse_amz_date(amz_date) else {
            return Err(SigV4Error::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            )));
        };
        if amz_date.get(..8) != Some(auth.date.as_str()) {
            return Err(SigV4Error::BadScope(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                auth.date,
                amz_date.get(..8).unwrap_or_default()
            )));
        }
        if auth.service != expect.service {
            return Err(SigV4Error::BadScope(format!(
                "Credential should be scoped to correct service: '{}'.",
                expect.service
            )));
        }
        if let Some(region) = expect.region {
            if auth.region != region {
                return Err(SigV4Error::BadScope(format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    auth.region
                )));
            }
        }
        let skew = expect.max_skew_secs;
        let minutes = skew / 60;
        if at < now - skew {
            return Err(SigV4Error::Expired(format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
                format_amz_date(now - skew),
                format_amz_date(now)
            )));
        }
        if at > now + skew {
            return Err(SigV4Error::Expired(format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
                format_amz_date(now + skew),
                format_amz_date(now)
            )));
        }
        Ok(())
    }

    /// Verifies the signature of `req` made with `secret`, after [`Self::check_request`].
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        auth: &Authorization,
        secret: &str,
        expect: &Expect<'_>,
        now: i64,
    ) -> Result<(), SigV4Error> {
        self.check_request(req, auth, expect, now)?;
        let amz_date = req.header("x-amz-date").unwrap_or_default();
        let creq = canonical_request(req, &auth.signed_headers, expect.normalize);
        let sts = string_to_sign(amz_date, &auth.scope(), &creq);
        let mut mac = HmacSha256::new_from_slice(&self.key(auth, secret)).map_err(|_| SigV4Error::Mismatch)?;
        mac.update(sts.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&auth.signature).map_err(|_| SigV4Error::Mismatch)
    }
}

/// Constant-time equality of two byte strings (for session tokens and the like).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn suite() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigv4-test-suite")
    }

    /// A raw request file: request line, headers (with obs-fold continuations), blank line, body.
    struct Raw {
        method: String,
        path: String,
        query: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    fn parse_raw(text: &str) -> Raw {
        let (head, body) = match text.find("\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            None => (text, ""),
        };
        let mut lines = head.lines();
        let line = lines.next().unwrap();
        let mut parts = line.splitn(2, ' ');
        let method = parts.next().unwrap().to_string();
        let rest = parts.next().unwrap();
        let target = rest.rsplit_once(" HTTP/").map_or(rest, |(t, _)| t);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for l in lines {
            if l.starts_with(' ') || l.starts_with('\t') {
                let last = headers.last_mut().unwrap();
                last.1.push(' ');
                last.1.push_str(l.trim());
            } else if let Some((k, v)) = l.split_once(':') {
                headers.push((k.to_string(), v.trim().to_string()));
            }
        }
        Raw {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn as_req(r: &Raw) -> SignedRequest<'_> {
        SignedRequest {
            method: &r.method,
            path: &r.path,
            query: &r.query,
            headers: r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            body: &r.body,
        }
    }

    fn iso_to_epoch(ts: &str) -> i64 {
        // "2015-08-30T12:36:00Z" → basic format
        let basic: String = ts.chars().filter(|c| *c != '-' && *c != ':').collect();
        parse_amz_date(&basic).unwrap()
    }

    fn run_case(dir: &Path, signed_name: &str, creq_name: &str, service_hint: Option<&str>) {
        let ctx: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("context.json"))
                .or_else(|_| std::fs::read_to_string(dir.with_extension("context.json")))
                .unwrap(),
        )
        .unwrap();
        let signed = parse_raw(
            &std::fs::read_to_string(dir.join(signed_name))
                .unwrap_or_else(|_| std::fs::read_to_string(format!("{}.{signed_name}", dir.display())).unwrap()),
        );
        let req = as_req(&signed);
        let auth = parse_authorization(req.header("authorization").unwrap()).unwrap();
        let normalize = ctx["normalize"].as_bool().unwrap_or(true);
        let expected_creq = std::fs::read_to_string(dir.join(creq_name))
            .or_else(|_| std::fs::read_to_string(format!("{}.{creq_name}", dir.display())))
            .unwrap();
        assert_eq!(
            canonical_request(&req, &auth.signed_headers, normalize),
            expected_creq,
            "{}",
            dir.display()
        );
        let creds = &ctx["credentials"];
        let secret = creds["secret_access_key"].as_str().unwrap();
        let service = service_hint.unwrap_or_else(|| ctx["service"].as_str().unwrap());
        let expect = Expect {
            service,
            region: ctx["region"].as_str(),
            max_skew_secs: 300,
            normalize,
        };
        let now = iso_to_epoch(ctx["timestamp"].as_str().unwrap());
        let v = Verifier::new();
        v.verify(&req, &auth, secret, &expect, now)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // Twice: the second time from the key cache.
        v.verify(&req, &auth, secret, &expect, now).unwrap();
        // A wrong secret, a tampered body and a stale clock all fail.
        assert_eq!(v.verify(&req, &auth, "wrong", &expect, now), Err(SigV4Error::Mismatch));
        let mut tampered = req.clone();
        let body = [req.body, b"x"].concat();
        tampered.body = &body;
        assert_eq!(
            v.verify(&tampered, &auth, secret, &expect, now),
            Err(SigV4Error::Mismatch)
        );
        assert!(matches!(
            v.verify(&req, &auth, secret, &expect, now + 301),
            Err(SigV4Error::Expired(_))
        ));
    }

    #[test]
    fn aws_suite_header_cases() {
        let mut n = 0;
        for entry in std::fs::read_dir(suite().join("v4")).unwrap() {
            let dir = entry.unwrap().path();
            let ctx = std::fs::read_to_string(dir.join("context.json")).unwrap();
            // S3-style cases (signed body header) are not how cognito-idp signs.
            if ctx.contains("\"sign_body\": true") {
                continue;
            }
            run_case(&dir, "header-signed-request.txt", "header-canonical-request.txt", None);
            n += 1;
        }
        assert!(n >= 30, "only {n} cases ran");
    }

    #[test]
    fn cognito_idp_captures() {
        for case in [
            "admin-get-device",
            "admin-list-devices-localhost",
            "admin-forget-device-session-token",
        ] {
            let base = suite().join("cognito-idp").join(case);
            let ctx: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(base.with_extension("context.json")).unwrap()).unwrap();
            let signed = parse_raw(&std::fs::read_to_string(base.with_extension("sreq")).unwrap());
            let req = as_req(&signed);
            let auth = parse_authorization(req.header("authorization").unwrap()).unwrap();
            let expected = std::fs::read_to_string(base.with_extension("creq")).unwrap();
            assert_eq!(
                canonical_request(&req, &auth.signed_headers, true),
                expected.trim_end_matches('\n')
            );
            let sts = std::fs::read_to_string(base.with_extension("sts")).unwrap();
            assert_eq!(
                string_to_sign(
                    req.header("x-amz-date").unwrap(),
                    &auth.scope(),
                    expected.trim_end_matches('\n')
                ),
                sts.trim_end_matches('\n')
            );
            let expect = Expect {
                service: "cognito-idp",
                region: ctx["region"].as_str(),
                max_skew_secs: 300,
                normalize: true,
            };
            let now = iso_to_epoch(ctx["timestamp"].as_str().unwrap());
            Verifier::new()
                .verify(
                    &req,
                    &auth,
                    ctx["credentials"]["secret_access_key"].as_str().unwrap(),
                    &expect,
                    now,
                )
                .unwrap();
        }
    }

    #[test]
    fn malformed_headers_and_scope() {
        assert!(matches!(
            parse_authorization("Bearer abc"),
            Err(SigV4Error::Incomplete(_))
        ));
        let Err(SigV4Error::Incomplete(m)) = parse_authorization("AWS4-HMAC-SHA256 SignedHeaders=host") else {
            panic!()
        };
        assert!(m.starts_with(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization="
        ));
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00").is_err());
    }

    #[test]
    fn expired_message_is_aws_text() {
        let now = parse_amz_date("20240101T000600Z").unwrap();
        let raw = Raw {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![
                ("Host".into(), "h".into()),
                ("X-Amz-Date".into(), "20240101T000000Z".into()),
            ],
            body: Vec::new(),
        };
        let req = as_req(&raw);
        let auth = Authorization {
            access_key_id: "k".into(),
            date: "20240101".into(),
            region: "us-east-1".into(),
            service: "cognito-idp".into(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: vec![0; 32],
        };
        let expect = Expect {
            service: "cognito-idp",
            region: None,
            max_skew_secs: 300,
            normalize: true,
        };
        assert_eq!(
            Verifier::new().check_request(&req, &auth, &expect, now + 1),
            Err(SigV4Error::Expired(
                "Signature expired: 20240101T000000Z is now earlier than 20240101T000101Z (20240101T000601Z - 5 min.)"
                    .into()
            ))
        );
        assert_eq!(format_amz_date(now), "20240101T000600Z");
    }
}
