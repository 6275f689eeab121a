//! Passwords: the pool's policy with Cognito's messages, and the SRP verifier that is all
//! userpool keeps of a password. USER_PASSWORD_AUTH is checked against that same verifier
//! (recompute `g^x` and compare): a second, slower hash beside it would add no protection,
//! since the verifier alone already allows an offline guess, and would cost every sign-in.

use crate::error::{CognitoError, OpResult};
use rand::seq::SliceRandom as _;
use rand::Rng as _;
use userpool_model::types::PasswordPolicyType;
use userpool_model::ErrorCode;
use userpool_store::PasswordVerifier;

/// The symbols Cognito counts for RequireSymbols.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

fn invalid(msg: &str) -> CognitoError {
    CognitoError::new(
        ErrorCode::InvalidPasswordException,
        format!("Password did not conform with policy: {msg}"),
    )
}

/// Checks a password against the pool's policy, with Cognito's first failing rule.
pub fn check_policy(policy: &PasswordPolicyType, password: &str) -> OpResult<()> {
    let min = usize::try_from(policy.minimum_length.unwrap_or(8)).unwrap_or(8);
    if password.chars().count() < min {
        return Err(invalid("Password not long enough"));
    }
    if policy.require_lowercase.unwrap_or(false) && !password.chars().any(|c| c.is_lowercase()) {
        return Err(invalid("Password must have lowercase characters"));
    }
    if policy.require_uppercase.unwrap_or(false) && !password.chars().any(|c| c.is_uppercase()) {
        return Err(invalid("Password must have uppercase characters"));
    }
    if policy.require_numbers.unwrap_or(false) && !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(invalid("Password must have numeric characters"));
    }
    if policy.require_symbols.unwrap_or(false) && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return Err(invalid("Password must have symbol characters"));
    }
    Ok(())
}

/// The part of a pool id after `_`: the "pool name" of Cognito's SRP.
pub fn srp_pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, name)| name)
}

/// The verifier stored for a password (`username` is the user's real username, the
/// USER_ID_FOR_SRP of sign-in).
pub fn make_verifier(pool_id: &str, username: &str, password: &str) -> PasswordVerifier {
    let salt = userpool_srp::new_salt();
    let v = crate::clock::blocking(|| userpool_srp::verifier(&salt, srp_pool_name(pool_id), username, password));
    PasswordVerifier {
        salt: salt.to_vec(),
        verifier: userpool_srp::to_bytes_be(&v),
    }
}

/// Whether `password` is the one the verifier was made from (constant-time compare).
pub fn matches(pool_id: &str, username: &str, stored: &PasswordVerifier, password: &str) -> bool {
    let v = crate::clock::blocking(|| userpool_srp::verifier(&stored.salt, srp_pool_name(pool_id), username, password));
    let mine = userpool_srp::to_bytes_be(&v);
    userpool_sigv4::ct_eq(&mine, &stored.verifier)
}

/// The stored verifier as a number.
pub fn verifier_int(stored: &PasswordVerifier) -> userpool_srp::Int {
    userpool_srp::from_bytes_be(&stored.verifier)
}

/// A temporary password that satisfies the policy: 12 or the minimum length, one of each
/// required class, the rest mixed.
pub fn generate_temporary(policy: &PasswordPolicyType) -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMS: &[u8] = b"!@#%^&*-_=+";
    let mut rng = rand::thread_rng();
    let len = usize::try_from(policy.minimum_length.unwrap_or(8)).unwrap_or(8).max(12);
    let mut out: Vec<u8> = Vec::with_capacity(len);
    for class in [LOWER, UPPER, DIGITS, SYMS] {
        if let Some(c) = class.choose(&mut rng) {
            out.push(*c);
        }
    }
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMS].concat();
    while out.len() < len {
        if let Some(c) = all.get(rng.gen_range(0..all.len())) {
            out.push(*c);
        }
    }
    out.shuffle(&mut rng);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> PasswordPolicyType {
        PasswordPolicyType {
            minimum_length: Some(8),
            require_uppercase: Some(true),
            require_lowercase: Some(true),
            require_numbers: Some(true),
            require_symbols: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn policy_messages() {
        let p = strict();
        assert_eq!(
            check_policy(&p, "Ab1!").unwrap_err().message,
            "Password did not conform with policy: Password not long enough"
        );
        assert!(check_policy(&p, "ABCDEFG1!")
            .unwrap_err()
            .message
            .ends_with("lowercase characters"));
        assert!(check_policy(&p, "abcdefg1!")
            .unwrap_err()
            .message
            .ends_with("uppercase characters"));
        assert!(check_policy(&p, "Abcdefgh!")
            .unwrap_err()
            .message
            .ends_with("numeric characters"));
        assert!(check_policy(&p, "Abcdefgh1")
            .unwrap_err()
            .message
            .ends_with("symbol characters"));
        assert!(check_policy(&p, "Abcdefg1!").is_ok());
        for _ in 0..50 {
            assert!(check_policy(&p, &generate_temporary(&p)).is_ok());
        }
    }

    #[test]
    fn verifier_round_trip() {
        let v = make_verifier("us-east-1_abc", "alice", "Passw0rd!");
        assert!(matches("us-east-1_abc", "alice", &v, "Passw0rd!"));
        assert!(!matches("us-east-1_abc", "alice", &v, "Passw0rd?"));
        assert!(!matches("us-east-1_abc", "bob", &v, "Passw0rd!"));
    }
}
