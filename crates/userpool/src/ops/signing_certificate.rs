//! GetSigningCertificate: the pool's SAML 2.0 signing certificate.
//!
//! Rules (the developer guide's "SAML signing and encryption"; decided where it is silent):
//! - one self-signed X.509 certificate per pool over an RSA-2048 key (Cognito's SAML keys
//!   are RSA), signed with SHA-256, valid 10 years from its issue;
//! - subject and issuer `CN=<poolId>` (decided: Cognito does not document its names);
//! - issued on the first call, not at pool creation (CreateUserPool stays fast), and kept
//!   in the store (`ObjectKind::SigningCertificate`, name `saml`): every node and every
//!   restart answer the same certificate. Two concurrent first calls each generate one;
//!   the store keeps the first written and the other call answers that one;
//! - the answer is the DER certificate in base64, without PEM armour, as Cognito's;
//! - the private key (PKCS#8) is sealed with the data key at rest; nothing signs with it
//!   yet (SAML sign-in requests are not sent);
//! - Cognito's yearly renewal is not done: the one certificate stays for its 10 years.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{domains, users};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use userpool_model::types::{GetSigningCertificateRequest, GetSigningCertificateResponse};
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// The object's name: a pool has one SAML signing certificate.
const NAME: &str = "saml";

/// How long a certificate is valid: 10 years (of 365.25 days), in seconds.
const VALIDITY_SECS: i64 = 10 * 36_525 * 864;

/// The stored certificate.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// The certificate, DER in base64.
    certificate: String,
    /// The PKCS#8 private key, sealed with the data key, in base64.
    sealed_key: String,
}

/// A fresh self-signed certificate for `pool_id` issued at `now_ms`: (DER, PKCS#8 key).
fn generate(pool_id: &str, now_ms: i64) -> OpResult<(Vec<u8>, Vec<u8>)> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "IE0040 signing certificate: {what}");
        CognitoError::internal()
    };
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| failed("key generation", &e))?;
    let mut params = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, pool_id);
    params.distinguished_name = name;
    let now = now_ms.div_euclid(1000);
    params.not_before = time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| failed("issue date", &e))?;
    params.not_after =
        time::OffsetDateTime::from_unix_timestamp(now + VALIDITY_SECS).map_err(|e| failed("expiry date", &e))?;
    let mut serial: [u8; 16] = rand::random();
    // A positive serial number (its first bit clear), as RFC 5280 asks.
    if let Some(b) = serial.first_mut() {
        *b &= 0x7f;
    }
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).map_err(|e| failed("signature", &e))?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

/// The pool's certificate (DER in base64), issuing it on first use.
pub async fn certificate(ctx: &Ctx, pool_id: &str) -> OpResult<String> {
    if let Some(o) = ctx
        .store()
        .get_object(ObjectKind::SigningCertificate, pool_id, NAME)
        .await?
    {
        return Ok(domains::decode::<Stored>(&o)?.certificate);
    }
    let (pool, now) = (pool_id.to_string(), ctx.now_ms);
    // RSA key generation takes tens of milliseconds: off the async threads.
    let (der, key) = tokio::task::spawn_blocking(move || generate(&pool, now))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "IE0041 signing certificate generation did not finish");
            CognitoError::internal()
        })??;
    let stored = Stored {
        certificate: STANDARD.encode(&der),
        sealed_key: STANDARD.encode(ctx.app.sealer.seal(&key)),
    };
    let o = ObjectRecord {
        kind: ObjectKind::SigningCertificate,
        pool_id: pool_id.to_string(),
        name: NAME.to_string(),
        body: domains::encode(&stored)?,
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    match ctx.store().create_object(&o).await {
        Ok(()) => {
            tracing::info!(pool = %pool_id, "issued the pool's SAML signing certificate");
            Ok(stored.certificate)
        }
        // Another call (on this node or another) issued one first: that one is the pool's.
        Err(StoreError::Conflict(_)) => {
            let o = ctx
                .store()
                .get_object(ObjectKind::SigningCertificate, pool_id, NAME)
                .await?
                .ok_or_else(|| CognitoError::pool_not_found(pool_id))?;
            Ok(domains::decode::<Stored>(&o)?.certificate)
        }
        Err(StoreError::NotFound) => Err(CognitoError::pool_not_found(pool_id)),
        Err(e) => Err(e.into()),
    }
}

/// GetSigningCertificate
pub async fn get_signing_certificate(
    ctx: &Ctx,
    req: GetSigningCertificateRequest,
) -> OpResult<GetSigningCertificateResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    Ok(GetSigningCertificateResponse {
        certificate: Some(certificate(ctx, &req.user_pool_id).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_names_the_pool_and_lasts_ten_years() {
        let (der, key) = generate("us-east-1_abc", 1_700_000_000_000).unwrap();
        assert_eq!(der.first(), Some(&0x30), "a DER SEQUENCE");
        assert!(!key.is_empty());
        let text = String::from_utf8_lossy(&der);
        assert!(text.contains("us-east-1_abc"));
        // UTCTime of the issue (2023-11-14 22:13:20) and of 10 years later.
        assert!(text.contains("231114221320Z"), "{text}");
        assert!(text.contains("331114"), "{text}");
    }
}
