//! Attribute permissions of an app client: which of a user's attributes a user-facing
//! operation may read and write through that client.
//!
//! Confirmed (Cognito developer guide, "Attribute permissions and scopes"; API reference
//! of CreateUserPoolClient; both in the stored docs):
//! - a client's `ReadAttributes` / `WriteAttributes` govern what a user reads and writes
//!   through it: GetUser and the ID token's attribute claims (read); SignUp,
//!   UpdateUserAttributes and the NEW_PASSWORD_REQUIRED challenge's `userAttributes.*`
//!   (write). With none set, every attribute is readable and writable;
//! - no client can write `email_verified` or `phone_number_verified`: they are set by
//!   verification (ConfirmSignUp, VerifyUserAttribute) or by an administrator;
//! - developer-only attributes (`dev:custom:*`) are read and written only by the
//!   administrator operations (IAM), never through a client;
//! - a write a client may not make is `NotAuthorizedException: A client attempted to
//!   write unauthorized attribute` (observed on the real service, SignUp and
//!   UpdateUserAttributes).
//!
//! Inferred: `sub` is always readable (every token carries it anyway); an empty list
//! behaves as an absent one (the console sends none when nothing is restricted);
//! DeleteUserAttributes is a write of the attributes it names.

use crate::error::{CognitoError, OpResult};
use userpool_model::types::UserPoolClientType;
use userpool_model::ErrorCode;

/// Attributes no client may write.
const NEVER_WRITABLE: &[&str] = &["sub", "email_verified", "phone_number_verified"];

fn listed(list: Option<&[String]>) -> Option<&[String]> {
    list.filter(|l| !l.is_empty())
}

/// Whether a user may read attribute `name` through `client`.
pub fn readable(client: &UserPoolClientType, name: &str) -> bool {
    if name.starts_with("dev:") {
        return false;
    }
    match listed(client.read_attributes.as_deref()) {
        Some(list) => name == "sub" || list.iter().any(|n| n == name),
        None => true,
    }
}

/// Whether a user may write attribute `name` through `client`.
pub fn writable(client: &UserPoolClientType, name: &str) -> bool {
    if name.starts_with("dev:") || NEVER_WRITABLE.contains(&name) {
        return false;
    }
    match listed(client.write_attributes.as_deref()) {
        Some(list) => list.iter().any(|n| n == name),
        None => true,
    }
}

/// Refuses a user-facing write naming an attribute the client may not write.
pub fn check_writable<'a>(client: &UserPoolClientType, names: impl IntoIterator<Item = &'a str>) -> OpResult<()> {
    for name in names {
        if !writable(client, name) {
            return Err(CognitoError::new(
                ErrorCode::NotAuthorizedException,
                "A client attempted to write unauthorized attribute",
            ));
        }
    }
    Ok(())
}

/// The user's attributes a client may read, in order.
pub fn filter_readable(client: &UserPoolClientType, attributes: &[(String, String)]) -> Vec<(String, String)> {
    attributes
        .iter()
        .filter(|(n, _)| readable(client, n))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(read: Option<&[&str]>, write: Option<&[&str]>) -> UserPoolClientType {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_string()).collect();
        UserPoolClientType {
            read_attributes: read.map(own),
            write_attributes: write.map(own),
            ..UserPoolClientType::default()
        }
    }

    #[test]
    fn defaults_allow_all_but_developer_and_verification_attributes() {
        let c = client(None, None);
        assert!(readable(&c, "email") && readable(&c, "custom:role") && readable(&c, "email_verified"));
        assert!(!readable(&c, "dev:custom:tier"));
        assert!(writable(&c, "email") && writable(&c, "custom:role"));
        for n in ["dev:custom:tier", "email_verified", "phone_number_verified", "sub"] {
            assert!(!writable(&c, n), "{n}");
        }
    }

    #[test]
    fn lists_restrict() {
        let c = client(Some(&["email"]), Some(&["email"]));
        assert!(readable(&c, "email") && readable(&c, "sub"));
        assert!(!readable(&c, "custom:role") && !readable(&c, "email_verified"));
        assert!(writable(&c, "email") && !writable(&c, "custom:role"));
        let e = check_writable(&c, ["email", "custom:role"]).unwrap_err();
        assert_eq!(e.code, ErrorCode::NotAuthorizedException);
        assert_eq!(e.message, "A client attempted to write unauthorized attribute");
        // Even listed, a client cannot write the verification flags.
        let c = client(None, Some(&["email", "email_verified"]));
        assert!(!writable(&c, "email_verified"));
    }
}
