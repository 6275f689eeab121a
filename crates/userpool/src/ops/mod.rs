//! Dispatch: one `match` from [`Operation`] to its handler. Each handler is a plain async
//! function `(ctx, <Op>Request) -> Result<<Op>Response, CognitoError>` in its area file,
//! named `snake_case(<Op>)` with `/// <Op>` as its doc line.

pub mod app_clients;
pub mod user_pools;

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use userpool_model::{ErrorCode, Operation};

/// Builds the typed request from a body that validation has already checked.
fn decode<T: DeserializeOwned>(body: Value) -> OpResult<T> {
    serde_json::from_value(body).map_err(|e| CognitoError::new(ErrorCode::SerializationException, e.to_string()))
}

fn encode<T: Serialize>(resp: &T) -> OpResult<Option<Vec<u8>>> {
    serde_json::to_vec(resp).map(Some).map_err(|e| {
        tracing::error!(error = %e, "IE0002 response did not serialise");
        CognitoError::internal()
    })
}

/// `call!(ctx, body, handler)`: decode → handler → encode (operations with an output).
/// `call!(ctx, body, handler, empty)`: the same for operations whose answer is an empty body.
macro_rules! call {
    ($ctx:expr, $body:expr, $handler:path) => {
        encode(&$handler($ctx, decode($body)?).await?)
    };
    ($ctx:expr, $body:expr, $handler:path, empty) => {
        $handler($ctx, decode($body)?).await.map(|()| None)
    };
}

/// Runs `op` on a validated body; the answer is the JSON body, or `None` for an empty one.
pub async fn dispatch(ctx: &Ctx, op: Operation, body: Value) -> OpResult<Option<Vec<u8>>> {
    use Operation as O;
    match op {
        O::CreateUserPool => call!(ctx, body, user_pools::create_user_pool),
        O::DescribeUserPool => call!(ctx, body, user_pools::describe_user_pool),
        O::UpdateUserPool => call!(ctx, body, user_pools::update_user_pool),
        O::ListUserPools => call!(ctx, body, user_pools::list_user_pools),
        O::DeleteUserPool => call!(ctx, body, user_pools::delete_user_pool, empty),
        O::AddCustomAttributes => call!(ctx, body, user_pools::add_custom_attributes),
        O::CreateUserPoolClient => call!(ctx, body, app_clients::create_user_pool_client),
        O::DescribeUserPoolClient => call!(ctx, body, app_clients::describe_user_pool_client),
        O::UpdateUserPoolClient => call!(ctx, body, app_clients::update_user_pool_client),
        O::ListUserPoolClients => call!(ctx, body, app_clients::list_user_pool_clients),
        O::DeleteUserPoolClient => call!(ctx, body, app_clients::delete_user_pool_client, empty),
        other => Err(CognitoError::new(
            ErrorCode::UnsupportedOperationException,
            format!("userpool does not implement {} yet.", other.name()),
        )),
    }
}

/// Whether [`dispatch`] implements `op` (for the README's table and its test).
pub fn implemented(op: Operation) -> bool {
    use Operation as O;
    matches!(
        op,
        O::CreateUserPool
            | O::DescribeUserPool
            | O::UpdateUserPool
            | O::ListUserPools
            | O::DeleteUserPool
            | O::AddCustomAttributes
            | O::CreateUserPoolClient
            | O::DescribeUserPoolClient
            | O::UpdateUserPoolClient
            | O::ListUserPoolClients
            | O::DeleteUserPoolClient
    )
}

/// Opaque pagination tokens: the key to resume after, base64url-encoded. (A token carries
/// no secret; a forged one only starts a page at another key of the caller's own pool.)
pub mod token {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    /// The token for resuming after `key`.
    pub fn encode(key: &str) -> String {
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    }

    /// The key a token names, if it is one of ours.
    pub fn decode(token: &str) -> Option<String> {
        URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    }
}

/// The README's table of operations, from the model and [`implemented`].
pub fn operations_table() -> String {
    let done = Operation::ALL.iter().filter(|op| implemented(**op)).count();
    let mut out = format!(
        "{done} of {} operations implemented; the others answer `UnsupportedOperationException` \
         (\"userpool does not implement X yet.\").\n\n| Operation | Auth | Implemented |\n|---|---|---|\n",
        Operation::ALL.len()
    );
    for op in Operation::ALL {
        let auth = match op.auth() {
            userpool_model::Auth::SigV4 => "SigV4 + IAM",
            userpool_model::Auth::None => "none (token / session)",
        };
        let mark = if implemented(*op) { "yes" } else { "not yet" };
        out.push_str(&format!("| {} | {auth} | {mark} |\n", op.name()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table is what the code implements (`UPDATE_README=1` rewrites it).
    #[test]
    fn readme_operations_table_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (start, end) = ("<!-- operations:start -->\n", "<!-- operations:end -->");
        let a = readme.find(start).unwrap() + start.len();
        let b = readme.find(end).unwrap();
        let table = operations_table();
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{table}{}", &readme[..a], &readme[b..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            assert_eq!(
                &readme[a..b],
                table,
                "run UPDATE_README=1 cargo test -p userpool readme"
            );
        }
    }

    #[test]
    fn unimplemented_operations_say_so() {
        assert!(!implemented(Operation::GetUICustomization));
        assert!(implemented(Operation::CreateUserPool));
    }
}
