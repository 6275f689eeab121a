//! Each pool has its own RSA-2048 signing keys, one for ID tokens and one for access
//! tokens (Cognito uses two kids), generated when the pool is created and kept in the
//! store with the private half sealed. Parsed keys are cached per pool: they never change
//! once made, so the cache needs no invalidation across nodes.

use crate::error::{CognitoError, OpResult};
use crate::seal::Sealer;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::DecodingKey;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use userpool_store::{SigningKeyRecord, Store, StoreError};

/// A key that signs one kind of token.
///
/// Signing uses aws-lc directly rather than `jsonwebtoken::encode`: that parses and checks
/// the private key from DER on every call, which cost more than the signature itself
/// (through it, S3 fell from 1,197 to 822 sign-ins/s with aws-lc). Here the key is parsed
/// once per process.
pub struct SigningKey {
    /// The private key, parsed once.
    pub pair: aws_lc_rs::signature::RsaKeyPair,
    /// `base64url({"kid":…,"alg":"RS256"})`, the first part of every token it signs
    /// (members in Cognito's order).
    pub header_b64: String,
}

/// A pool's keys, ready to use.
pub struct PoolKeys {
    /// Signs ID tokens.
    pub id: SigningKey,
    /// Signs access tokens.
    pub access: SigningKey,
    /// Every public key by kid, for verification.
    pub verify: HashMap<String, DecodingKey>,
    /// The JWKS document, serialised once.
    pub jwks: Vec<u8>,
}

/// The per-pool key cache.
#[derive(Default)]
pub struct KeyRing {
    /// Parsed keys by pool id. `RwLock`: written once per pool per process.
    cache: RwLock<HashMap<String, Arc<PoolKeys>>>,
}

pub(crate) fn generate(pool_id: &str, token_use: &str, sealer: &Sealer, now_ms: i64) -> OpResult<SigningKeyRecord> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| {
        tracing::error!(error = %e, "IE0010 RSA key generation failed");
        CognitoError::internal()
    })?;
    let der = key.to_pkcs1_der().map_err(|e| {
        tracing::error!(error = %e, "IE0011 RSA key encoding failed");
        CognitoError::internal()
    })?;
    Ok(SigningKeyRecord {
        pool_id: pool_id.to_string(),
        kid: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()),
        token_use: token_use.to_string(),
        sealed_private: sealer.seal(der.as_bytes()),
        public_n: key.n().to_bytes_be(),
        public_e: key.e().to_bytes_be(),
        created_ms: now_ms,
    })
}

impl KeyRing {
    /// Generates and stores a pool's two keys (at CreateUserPool).
    pub async fn create(&self, store: &dyn Store, sealer: &Sealer, pool_id: &str, now_ms: i64) -> OpResult<()> {
        for token_use in ["id", "access"] {
            // Key generation takes tens of milliseconds of CPU: not on an async worker's time.
            let record = crate::clock::blocking(|| generate(pool_id, token_use, sealer, now_ms))?;
            match store.put_signing_key(&record).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The keys of a pool (generated if a pool somehow has none).
    pub async fn get(&self, store: &dyn Store, sealer: &Sealer, pool_id: &str, now_ms: i64) -> OpResult<Arc<PoolKeys>> {
        if let Ok(cache) = self.cache.read() {
            if let Some(k) = cache.get(pool_id) {
                return Ok(k.clone());
            }
        }
        let mut records = store.signing_keys(pool_id).await?;
        if !records.iter().any(|r| r.token_use == "id") || !records.iter().any(|r| r.token_use == "access") {
            self.create(store, sealer, pool_id, now_ms).await?;
            records = store.signing_keys(pool_id).await?;
        }
        let keys = Arc::new(parse(&records, sealer)?);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(pool_id.to_string(), keys.clone());
        }
        Ok(keys)
    }

    /// Forgets a deleted pool's keys.
    pub fn forget(&self, pool_id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(pool_id);
        }
    }
}

pub(crate) fn parse(records: &[SigningKeyRecord], sealer: &Sealer) -> OpResult<PoolKeys> {
    let mut verify = HashMap::new();
    let mut jwks = Vec::new();
    let mut signers: HashMap<&str, SigningKey> = HashMap::new();
    for r in records {
        let n = URL_SAFE_NO_PAD.encode(&r.public_n);
        let e = URL_SAFE_NO_PAD.encode(&r.public_e);
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| {
            tracing::error!(error = %e, kid = %r.kid, "IE0012 stored public key does not parse");
            CognitoError::internal()
        })?;
        verify.insert(r.kid.clone(), decoding);
        jwks.push(serde_json::json!({"alg": "RS256", "e": e, "kid": r.kid, "kty": "RSA", "n": n, "use": "sig"}));
        // The newest key of each use signs (rotation appends a key).
        let der = sealer.open(&r.sealed_private).ok_or_else(|| {
            tracing::error!(kid = %r.kid, "IE0013 signing key does not open with this data key");
            CognitoError::internal()
        })?;
        let pair = aws_lc_rs::signature::RsaKeyPair::from_der(&der).map_err(|e| {
            tracing::error!(error = %e, kid = %r.kid, "IE0015 stored signing key does not parse");
            CognitoError::internal()
        })?;
        // Written out: `json!` would sort the members.
        let kid = serde_json::to_string(&r.kid).unwrap_or_default();
        let header = format!(r#"{{"kid":{kid},"alg":"RS256"}}"#);
        signers.insert(
            if r.token_use == "id" { "id" } else { "access" },
            SigningKey {
                pair,
                header_b64: URL_SAFE_NO_PAD.encode(header),
            },
        );
    }
    let (Some(id), Some(access)) = (signers.remove("id"), signers.remove("access")) else {
        return Err(CognitoError::internal());
    };
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": jwks })).unwrap_or_default();
    Ok(PoolKeys {
        id,
        access,
        verify,
        jwks,
    })
}
