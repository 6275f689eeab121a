//! The one error type of the operations, and the one place it is rendered to the wire.

use userpool_model::ErrorCode;
use userpool_store::StoreError;

/// An error answered to the client: its `__type` and Cognito's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.name())]
pub struct CognitoError {
    /// The exception, which fixes `__type` and the HTTP status.
    pub code: ErrorCode,
    /// The message, as the real service words it.
    pub message: String,
}

impl CognitoError {
    /// An error of this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CognitoError {
            code,
            message: message.into(),
        }
    }

    /// `InvalidParameterException`.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterException, message)
    }

    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFoundException, message)
    }

    /// "User pool <id> does not exist." (ResourceNotFoundException)
    pub fn pool_not_found(pool_id: &str) -> Self {
        Self::not_found(format!("User pool {pool_id} does not exist."))
    }

    /// "User pool client <id> does not exist." (ResourceNotFoundException)
    pub fn client_not_found(client_id: &str) -> Self {
        Self::not_found(format!("User pool client {client_id} does not exist."))
    }

    /// `NotAuthorizedException`.
    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotAuthorizedException, message)
    }

    /// "Incorrect username or password." (NotAuthorizedException): a wrong password, and
    /// every sign-in answer that must not tell why.
    pub fn incorrect_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }

    /// `InternalErrorException` with the generic message; the cause is logged by the caller.
    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalErrorException, "Internal server error.")
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body `{"__type": ..., "message": ...}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"__type": self.code.name(), "message": self.message}))
            .unwrap_or_default()
    }
}

impl From<StoreError> for CognitoError {
    /// A store failure that an operation did not map itself is a server fault: logged with
    /// its code, answered as `InternalErrorException` without detail.
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        CognitoError::internal()
    }
}

/// Shorthand for operation results.
pub type OpResult<T> = Result<T, CognitoError>;
