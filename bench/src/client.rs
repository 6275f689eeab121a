//! A minimal cognito-idp client over one keep-alive HTTP/1.1 connection: JSON bodies,
//! `X-Amz-Target`, and SigV4 signing (our own signer, built from `userpool-sigv4`'s
//! canonical request and key derivation, so every request is verifiable by AWS rules).

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";
pub const REGION: &str = "us-east-1";

/// Operations the model marks noAuth: sent unsigned, as the SDKs send them.
const UNSIGNED: &[&str] = &[
    "InitiateAuth",
    "RespondToAuthChallenge",
    "ConfirmDevice",
    "GetDevice",
    "ListDevices",
    "UpdateDeviceStatus",
    "ForgetDevice",
    "GetUser",
    "SignUp",
    "ConfirmSignUp",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
];

pub struct Conn {
    addr: SocketAddr,
    host: String,
    sender: SendRequest<Full<Bytes>>,
    /// Cached signing key: (date, key).
    key: Option<(String, [u8; 32])>,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            addr,
            host: addr.to_string(),
            sender,
            key: None,
        })
    }

    async fn reconnect(&mut self) -> std::io::Result<()> {
        let fresh = Conn::connect(self.addr).await?;
        self.sender = fresh.sender;
        Ok(())
    }

    fn sign(&mut self, target: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let headers = vec![
            ("content-type", "application/x-amz-json-1.1".to_string()),
            ("host", self.host.clone()),
            ("x-amz-target", format!("AWSCognitoIdentityProviderService.{target}")),
        ];
        self.sign_request("POST", "/", "", headers, body)
    }

    /// Adds `x-amz-date` and the `authorization` of SigV4 (service `cognito-idp`) to
    /// `headers`, signing all of them (names lower-case, sorted).
    fn sign_request(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        mut headers: Vec<(&'static str, String)>,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let amz_date = userpool_sigv4::format_amz_date(i64::try_from(now).unwrap_or(0));
        let date = amz_date[..8].to_string();
        let key = match &self.key {
            Some((d, k)) if *d == date => *k,
            _ => {
                let k = userpool_sigv4::signing_key(SECRET_KEY, &date, REGION, "cognito-idp");
                self.key = Some((date.clone(), k));
                k
            }
        };
        headers.push(("x-amz-date", amz_date.clone()));
        headers.sort_by_key(|(k, _)| *k);
        let req = userpool_sigv4::SignedRequest {
            method,
            path,
            query,
            headers: headers.iter().map(|(k, v)| (*k, v.as_str())).collect(),
            body,
        };
        let signed: Vec<String> = headers.iter().map(|(k, _)| (*k).to_string()).collect();
        let scope = format!("{date}/{REGION}/cognito-idp/aws4_request");
        let creq = userpool_sigv4::canonical_request(&req, &signed, true);
        let sts = userpool_sigv4::string_to_sign(&amz_date, &scope, &creq);
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("hmac key");
        mac.update(sts.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        headers.push((
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={}, Signature={sig}",
                signed.join(";")
            ),
        ));
        headers
    }

    /// Sends one request (retried once on a fresh connection if the connection was
    /// closed); the status and the raw body.
    async fn send(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<(u16, Bytes), String> {
        for attempt in 0..2 {
            let mut req = http::Request::builder().method(method).uri(uri);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let req = req.body(Full::new(body.clone())).map_err(|e| e.to_string())?;
            if self.sender.ready().await.is_err() {
                self.reconnect().await.map_err(|e| e.to_string())?;
            }
            match self.sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                    return Ok((status, body));
                }
                Err(e) if attempt == 0 => {
                    let _ = e;
                    self.reconnect().await.map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("unreachable".into())
    }

    /// A SigV4-signed `GET path?query` (the query already percent-encoded); the status and
    /// the JSON answer.
    pub async fn get_signed(&mut self, path: &str, query: &str) -> Result<Reply, String> {
        let headers = self.sign_request("GET", path, query, vec![("host", self.host.clone())], b"");
        let uri = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let (status, body) = self.send("GET", &uri, &headers, Bytes::new()).await?;
        Ok(Reply {
            status,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }

    /// An unsigned `PUT` of `body` to `uri` (a path and query, e.g. a pre-signed URL's)
    /// with `extra` headers; the status and the body as text.
    pub async fn put(
        &mut self,
        uri: &str,
        extra: &[(&'static str, &str)],
        body: Bytes,
    ) -> Result<(u16, String), String> {
        let mut headers = vec![("host", self.host.clone())];
        headers.extend(extra.iter().map(|(k, v)| (*k, (*v).to_string())));
        let (status, body) = self.send("PUT", uri, &headers, body).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Sends one operation; the status and the JSON answer (`{}` for an empty body).
    pub async fn call(&mut self, target: &str, body: &Value) -> Result<Reply, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let headers = if UNSIGNED.contains(&target) {
            vec![
                ("content-type", "application/x-amz-json-1.1".to_string()),
                ("host", self.host.clone()),
                ("x-amz-target", format!("AWSCognitoIdentityProviderService.{target}")),
            ]
        } else {
            self.sign(target, &bytes)
        };
        let (status, body) = self.send("POST", "/", &headers, Bytes::from(bytes)).await?;
        let body = if body.is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        Ok(Reply { status, body })
    }

    /// As [`Conn::call`], but a non-200 answer is an error carrying its `__type`.
    pub async fn ok(&mut self, target: &str, body: &Value) -> Result<Value, String> {
        let r = self.call(target, body).await?;
        if r.status == 200 {
            Ok(r.body)
        } else {
            Err(format!("{target}: {} {}", r.status, r.body))
        }
    }
}
