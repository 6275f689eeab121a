//! Time-based one-time passwords (RFC 6238) for SOFTWARE_TOKEN_MFA, with `totp-rs`.
//!
//! Confirmed (Cognito developer guide, TOTP MFA): SHA-1, six digits, a 30-second step, and
//! "Amazon Cognito also accepts TOTP tokens that are one 30-second window early or late to
//! account for clock skew"; a code is accepted once ("Your software token has already been
//! used once."). Amplify builds `otpauth://totp/...?secret=<SecretCode>` with no other
//! parameters, so those defaults are what every authenticator computes.
//!
//! The secret is 32 random bytes, shown as `SecretCode` in unpadded base32 (52
//! characters, within the model's `[A-Za-z0-9]+`, at least 16): inferred, the real
//! service's length is not published.

use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
const STEP_SECS: u64 = 30;

/// A new secret: the raw bytes (to keep sealed) and the `SecretCode` the user sees.
pub fn new_secret() -> (Vec<u8>, String) {
    let raw: [u8; 32] = rand::random();
    let code = match Secret::Raw(raw.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    };
    (raw.to_vec(), code)
}

/// The step (`unix time / 30`) whose code `code` is, within one step either side of
/// `now_secs`; `None` for a wrong or malformed code.
pub fn matching_step(secret: &[u8], code: &str, now_secs: i64) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, STEP_SECS, secret.to_vec());
    let now = u64::try_from(now_secs).ok()?;
    let current = now / STEP_SECS;
    [current.checked_sub(1), Some(current), current.checked_add(1)]
        .into_iter()
        .flatten()
        .find(|step| userpool_sigv4::ct_eq(totp.generate(step * STEP_SECS).as_bytes(), code.as_bytes()))
        .and_then(|step| i64::try_from(step).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit vectors, last six digits).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(matching_step(secret, code, t), Some(t / 30), "{t}");
        }
        // One step either side is accepted, two are not.
        assert_eq!(matching_step(secret, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 60), None);
        assert_eq!(matching_step(secret, "28708", 59), None);
        assert_eq!(matching_step(secret, "abcdef", 59), None);
    }

    #[test]
    fn secret_codes_are_unpadded_base32() {
        let (raw, code) = new_secret();
        assert_eq!(raw.len(), 32);
        assert_eq!(code.len(), 52);
        assert!(code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    }
}
