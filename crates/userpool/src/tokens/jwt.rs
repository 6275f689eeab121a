//! ID and access tokens (RS256 JWTs with Cognito's claims) and refresh tokens (opaque,
//! 256 random bits, stored only as their SHA-256).

use crate::error::{CognitoError, OpResult};
use crate::tokens::keys::PoolKeys;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use userpool_model::ErrorCode;
use userpool_store::UserRecord;

/// The scope of tokens from the user-pools API sign-in.
pub const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// What goes into one sign-in's tokens.
pub struct Grant<'a> {
    /// `<public url>/<pool id>`.
    pub issuer: &'a str,
    /// The app client.
    pub client_id: &'a str,
    /// The user.
    pub user: &'a UserRecord,
    /// `cognito:groups`, when the user is in any.
    pub groups: &'a [String],
    /// The device of this sign-in (`device_key` claim).
    pub device_key: Option<&'a str>,
    /// When the user authenticated (epoch s); kept on refresh.
    pub auth_time: i64,
    /// The token family (the same for every refresh of one sign-in).
    pub origin_jti: &'a str,
    /// Now, epoch s.
    pub now: i64,
    /// Access token lifetime, s.
    pub access_validity: i64,
    /// ID token lifetime, s.
    pub id_validity: i64,
    /// What the pool's PreTokenGeneration function changed.
    pub overrides: Option<&'a crate::triggers::tokens::Overrides>,
    /// The OAuth 2.0 side, for tokens from the hosted pages and `/oauth2/token`.
    pub oauth: Option<&'a OAuth>,
}

/// What an OAuth 2.0 grant adds to its tokens: the scopes granted (the access token's
/// `scope`, with `version` 2 as Cognito's OAuth tokens carry), the `nonce` of the
/// authorization request, and the ID token's `at_hash`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct OAuth {
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The authorization request's `nonce`.
    pub nonce: Option<String>,
}

impl OAuth {
    /// Whether `openid` was granted (an ID token is issued only then).
    pub fn has(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// `at_hash`: the left half of the access token's SHA-256, base64url (OpenID Connect Core
/// 3.1.3.6, for RS256).
fn at_hash(access: &str) -> String {
    let digest = Sha256::digest(access.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

/// The access token of a `client_credentials` grant: the client is the subject; no user,
/// no ID token.
pub fn sign_client_credentials(
    keys: &PoolKeys,
    issuer: &str,
    client_id: &str,
    scope: &str,
    now: i64,
    validity: i64,
) -> OpResult<String> {
    let mut access = Map::new();
    access.insert("sub".into(), client_id.into());
    access.insert("token_use".into(), "access".into());
    access.insert("scope".into(), scope.into());
    access.insert("auth_time".into(), now.into());
    access.insert("iss".into(), issuer.into());
    access.insert("exp".into(), (now + validity).into());
    access.insert("iat".into(), now.into());
    access.insert("version".into(), 2.into());
    access.insert("jti".into(), uuid().into());
    access.insert("client_id".into(), client_id.into());
    sign(&keys.access, &access)
}

fn uuid() -> String {
    crate::ids::uuid().to_string()
}

/// A compact JWS: `header.claims.signature`, RS256 with the pool key (see
/// [`crate::tokens::keys::SigningKey`] for why not `jsonwebtoken::encode`).
fn sign(keys: &crate::tokens::keys::SigningKey, claims: &Map<String, Value>) -> OpResult<String> {
    let claims = serde_json::to_vec(claims).map_err(|e| {
        tracing::error!(error = %e, "IE0014 token claims do not serialise");
        CognitoError::internal()
    })?;
    let mut token = String::with_capacity(keys.header_b64.len() + claims.len() * 4 / 3 + 350);
    token.push_str(&keys.header_b64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let mut signature = vec![0; keys.pair.public_modulus_len()];
    keys.pair
        .sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            token.as_bytes(),
            &mut signature,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "IE0014 token signing failed");
            CognitoError::internal()
        })?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Attribute values as the ID token carries them: `*_verified` as booleans (stored values
/// compare case-insensitively: Cognito accepts `"True"`), the rest strings.
fn claim_value(name: &str, value: &str) -> Value {
    if name.ends_with("_verified") {
        Value::Bool(value.eq_ignore_ascii_case("true"))
    } else if name == "identities" {
        identities_claim(value)
    } else {
        Value::String(value.to_string())
    }
}

/// A federated user's identities: the attribute's JSON, as an array whose members' values
/// are strings (`"primary": "true"`, `"dateCreated": "<ms>"`), as Cognito's ID tokens
/// carry them.
fn identities_claim(value: &str) -> Value {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(value) else {
        return Value::String(value.to_string());
    };
    let stringly = |v: Value| match v {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    };
    Value::Array(
        items
            .into_iter()
            .map(|item| match item {
                Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, stringly(v))).collect()),
                other => other,
            })
            .collect(),
    )
}

/// Signs the access and ID tokens of a grant: `(access, id)`.
pub fn sign_pair(keys: &PoolKeys, g: &Grant<'_>) -> OpResult<(String, String)> {
    let event_id = uuid();
    let mut access = Map::new();
    access.insert("sub".into(), g.user.sub.clone().into());
    if let Some(d) = g.device_key {
        access.insert("device_key".into(), d.into());
    }
    if !g.groups.is_empty() {
        access.insert("cognito:groups".into(), g.groups.to_vec().into());
    }
    access.insert("iss".into(), g.issuer.into());
    access.insert("client_id".into(), g.client_id.into());
    access.insert("origin_jti".into(), g.origin_jti.into());
    access.insert("event_id".into(), event_id.clone().into());
    access.insert("token_use".into(), "access".into());
    access.insert("scope".into(), g.oauth.map_or(ADMIN_SCOPE, |o| o.scope.as_str()).into());
    access.insert("auth_time".into(), g.auth_time.into());
    access.insert("exp".into(), (g.now + g.access_validity).into());
    access.insert("iat".into(), g.now.into());
    access.insert("jti".into(), uuid().into());
    access.insert("username".into(), g.user.username.clone().into());
    if g.oauth.is_some() {
        access.insert("version".into(), 2.into());
    }

    let mut id = Map::new();
    id.insert("sub".into(), g.user.sub.clone().into());
    if !g.groups.is_empty() {
        id.insert("cognito:groups".into(), g.groups.to_vec().into());
    }
    for (name, value) in &g.user.attributes {
        if name != "sub" && !name.starts_with("dev:") {
            id.insert(name.clone(), claim_value(name, value));
        }
    }
    id.insert("iss".into(), g.issuer.into());
    id.insert("cognito:username".into(), g.user.username.clone().into());
    id.insert("origin_jti".into(), g.origin_jti.into());
    id.insert("aud".into(), g.client_id.into());
    id.insert("event_id".into(), event_id.into());
    id.insert("token_use".into(), "id".into());
    id.insert("auth_time".into(), g.auth_time.into());
    id.insert("exp".into(), (g.now + g.id_validity).into());
    id.insert("iat".into(), g.now.into());
    id.insert("jti".into(), uuid().into());
    if let Some(nonce) = g.oauth.and_then(|o| o.nonce.as_deref()) {
        id.insert("nonce".into(), nonce.into());
    }
    if let Some(o) = g.overrides {
        crate::triggers::tokens::apply_to_access(o, &mut access);
        crate::triggers::tokens::apply_to_id(o, &mut id);
    }
    let access = sign(&keys.access, &access)?;
    if g.oauth.is_some() {
        id.insert("at_hash".into(), at_hash(&access).into());
    }
    Ok((access, sign(&keys.id, &id)?))
}

/// A fresh refresh token and the hash it is stored under.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn refresh_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The claims of an access token, before its signature is checked: which pool's keys to
/// check it with. `None` for anything that is not a JWT of ours.
pub fn peek(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    if rest.is_some() || token.len() > 16_384 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?.as_object().cloned()
}

/// "Invalid Access Token" (NotAuthorizedException).
pub fn invalid_access_token() -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, "Invalid Access Token")
}

/// Checks the signature (with the pool's keys) and expiry of a JWT; its claims.
pub fn verify(keys: &PoolKeys, token: &str, now: i64) -> OpResult<Map<String, Value>> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_access_token())?;
    let kid = header.kid.ok_or_else(invalid_access_token)?;
    let key = keys.verify.get(&kid).ok_or_else(invalid_access_token)?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Expiry is checked below against the request's `now`, not the library's clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|_| invalid_access_token())?;
    let claims = data.claims;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(invalid_access_token)?;
    if now >= exp {
        return Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            "Access Token has expired",
        ));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::Sealer;
    use crate::tokens::keys;

    fn user() -> UserRecord {
        UserRecord {
            pool_id: "us-east-1_test".into(),
            username_key: "alice".into(),
            username: "alice".into(),
            sub: "0d7a5c1e-0000-4000-8000-000000000000".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            created_ms: 0,
            modified_ms: 0,
            attributes: vec![
                ("email".into(), "a@example.com".into()),
                ("email_verified".into(), "true".into()),
            ],
            password: None,
            password_set_ms: 0,
            failed_attempts: 0,
            locked_until_ms: 0,
            tokens_valid_after_ms: 0,
            version: 0,
            mfa: String::new(),
            lookups: None,
        }
    }

    #[test]
    fn expiry_is_checked_against_the_given_now() {
        let sealer = Sealer::from_key(&[7u8; 32]);
        let records = vec![
            keys::generate("us-east-1_test", "id", &sealer, 0).unwrap(),
            keys::generate("us-east-1_test", "access", &sealer, 0).unwrap(),
        ];
        let k = keys::parse(&records, &sealer).unwrap();
        let u = user();
        let g = Grant {
            issuer: "http://x/us-east-1_test",
            client_id: "c",
            user: &u,
            groups: &[],
            device_key: Some("us-east-1_d"),
            auth_time: 1000,
            origin_jti: "o",
            now: 1000,
            access_validity: 300,
            id_validity: 600,
            overrides: None,
            oauth: None,
        };
        let (access, id) = sign_pair(&k, &g).unwrap();
        // Cognito's header, members in its order; each token names its own key.
        let header =
            |t: &str| String::from_utf8(URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(
            header(&access),
            format!(r#"{{"kid":"{}","alg":"RS256"}}"#, records[1].kid)
        );
        assert_eq!(header(&id), format!(r#"{{"kid":"{}","alg":"RS256"}}"#, records[0].kid));
        let c = verify(&k, &access, 1299).unwrap();
        assert_eq!(c["device_key"], "us-east-1_d");
        assert_eq!(c["token_use"], "access");
        let e = verify(&k, &access, 1300).unwrap_err();
        assert_eq!(e.message, "Access Token has expired");
        assert_eq!(verify(&k, &id, 1599).unwrap()["email_verified"], true);
        let mut tampered = access.clone();
        tampered.pop();
        tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(verify(&k, &tampered, 1000).unwrap_err().message, "Invalid Access Token");
    }
}
