//! Who may call what, decided once per request before dispatch.
//!
//! - [`sigv4`]: operations the model marks SigV4 are verified against the configured
//!   identities and authorised by their IAM policies (`cognito-idp:<Op>` on the pool ARN).
//! - Operations marked `noAuth` authorise themselves (access token, session); a
//!   non-SigV4 `Authorization` header on them is ignored, as the real service does
//!   (pycognito sends `Bearer <token>` there). [`token`] is the access-token check they use.

pub mod sigv4;
pub mod token;
