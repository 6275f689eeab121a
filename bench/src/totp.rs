//! RFC 6238 time-based one-time passwords as an authenticator app computes them (SHA-1,
//! six digits, 30-second steps), for the MFA scenario (S7), with `totp-rs` (the crate the
//! server uses too; the RFC vectors below check it independently of the server).

use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;

/// The current step (`unix time / 30`).
pub fn step_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(now).unwrap_or(0) / STEP_SECS
}

/// The six-digit code of `step`.
pub fn code(secret: &[u8], step: i64) -> String {
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, secret.to_vec());
    totp.generate(u64::try_from(step * STEP_SECS).unwrap_or(0))
}

/// Decodes Cognito's `SecretCode`: unpadded RFC 4648 base32.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    Secret::Encoded(text.trim_end_matches('=').to_ascii_uppercase())
        .to_bytes()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the last six digits of the eight-digit codes).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(code(secret, t / STEP_SECS), want, "{t}");
        }
    }

    #[test]
    fn base32() {
        assert_eq!(base32_decode("MZXW6YQ").unwrap(), b"foob");
        assert_eq!(
            base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
        assert!(base32_decode("1!").is_none());
    }
}
