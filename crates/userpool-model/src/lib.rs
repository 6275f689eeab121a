//! `userpool-model`: the cognito-idp wire, as the pinned service model defines it.
//!
//! Layout:
//! - [`generated`] is written by `cargo run -p codegen` from `model/cognito-idp.json` and
//!   checked in: the wire types, the shapes' constraints, [`Operation`] and [`ErrorCode`];
//! - [`schema`] holds the static shape descriptions the generated tables are made of;
//! - [`validate`] walks a request body against its input shape and answers what AWS's
//!   front end answers: `SerializationException` for a wrong JSON type, then
//!   `InvalidParameterException` with the Coral message grammar for broken constraints;
//! - [`Timestamp`] and [`Blob`] are the two scalar encodings that are not plain JSON.
//!
//! This crate does no I/O and knows nothing of HTTP.

pub mod generated;
mod scalars;
pub mod schema;
pub mod validate;

pub use generated::errors::ErrorCode;
pub use generated::operation::{Auth, Operation, TARGET_PREFIX};
pub use generated::types;
pub use scalars::{Blob, Timestamp};
