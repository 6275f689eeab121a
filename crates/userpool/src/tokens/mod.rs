//! Tokens as Cognito issues them: per-pool RSA keys ([`keys`]), RS256 ID and access JWTs
//! and opaque refresh tokens ([`jwt`]), and the JWKS / OpenID documents ([`jwks`]).

pub mod jwks;
pub mod jwt;
pub mod keys;
