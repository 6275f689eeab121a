//! Glue between the HTTP request, `userpool-sigv4` (signature) and `userpool-iam`
//! (policy). A request refused here never reaches an operation nor the store.

use crate::error::CognitoError;
use serde_json::Value;
use std::collections::HashMap;
use userpool_iam::{Decision, Identity};
use userpool_model::schema::ShapeKind;
use userpool_model::{ErrorCode, Operation};
use userpool_sigv4::{ct_eq, parse_authorization, Expect, SigV4Error, SignedRequest, Verifier};

/// The identities that may sign, and the verifier with its key cache.
pub struct Authenticator {
    /// Identities by access key id.
    identities: HashMap<String, Identity>,
    verifier: Verifier,
    account_id: String,
    max_skew_secs: i64,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("identities", &self.identities.len())
            .finish_non_exhaustive()
    }
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

fn wire(e: SigV4Error) -> CognitoError {
    let code = match e {
        SigV4Error::Missing => ErrorCode::MissingAuthenticationTokenException,
        SigV4Error::Incomplete(_) => ErrorCode::IncompleteSignatureException,
        SigV4Error::Mismatch | SigV4Error::BadScope(_) | SigV4Error::Expired(_) => ErrorCode::InvalidSignatureException,
    };
    CognitoError::new(code, e.to_string())
}

impl Authenticator {
    /// An authenticator over these identities.
    pub fn new(identities: Vec<Identity>, account_id: &str, max_skew_secs: i64) -> Self {
        Authenticator {
            identities: identities.into_iter().map(|i| (i.access_key_id.clone(), i)).collect(),
            verifier: Verifier::new(),
            account_id: account_id.to_string(),
            max_skew_secs,
        }
    }

    /// Verifies the request's signature; the identity that made it and the region it was
    /// signed for (any region: one server answers for all, as the other emulators do).
    pub fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(&Identity, String), CognitoError> {
        let Some(header) = parts.headers.get(http::header::AUTHORIZATION) else {
            return Err(wire(SigV4Error::Missing));
        };
        let header = header.to_str().map_err(|_| {
            CognitoError::new(
                ErrorCode::IncompleteSignatureException,
                "The Authorization header is not ASCII.",
            )
        })?;
        let auth = parse_authorization(header).map_err(wire)?;
        if !crate::ids::is_region(&auth.region) {
            return Err(CognitoError::new(
                ErrorCode::InvalidSignatureException,
                format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    crate::protocol::printable(&auth.region)
                ),
            ));
        }
        let req = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: parts
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
                .collect(),
            body,
        };
        let expect = Expect {
            service: "cognito-idp",
            region: None,
            max_skew_secs: self.max_skew_secs,
            normalize: true,
        };
        // Scope and clock first: AWS answers a stale request as expired whoever signed it.
        self.verifier
            .check_request(&req, &auth, &expect, now_secs)
            .map_err(wire)?;
        let Some(identity) = self.identities.get(&auth.access_key_id) else {
            return Err(CognitoError::new(ErrorCode::UnrecognizedClientException, INVALID_TOKEN));
        };
        let token = req.header("x-amz-security-token");
        let token_ok = match (&identity.session_token, token) {
            (None, None) => true,
            (Some(want), Some(got)) => ct_eq(want.expose().as_bytes(), got.as_bytes()),
            _ => false,
        };
        if !token_ok {
            return Err(CognitoError::new(ErrorCode::UnrecognizedClientException, INVALID_TOKEN));
        }
        self.verifier
            .verify(&req, &auth, identity.secret_access_key.expose(), &expect, now_secs)
            .map_err(wire)?;
        Ok((identity, auth.region))
    }

    /// The resource a request acts on, from the members the model defines for `op` and
    /// nothing else: `ResourceArn` for the three tag operations, the pool's ARN for an
    /// operation whose input has `UserPoolId`, else `*` (ListUserPools, CreateUserPool,
    /// the domain lookups), as in AWS. (Validation has already dropped members the model
    /// does not define; this looks only at the ones it does, so a `ResourceArn` smuggled
    /// into another operation's body cannot choose the resource.)
    pub fn resource(&self, op: Operation, body: &Value, region: &str) -> String {
        let member = |name: &str| {
            let defined = match op.input_shape().kind {
                ShapeKind::Structure(members) => members.iter().any(|m| m.name == name),
                _ => false,
            };
            body.get(name).and_then(Value::as_str).filter(|_| defined)
        };
        let tagging = matches!(
            op,
            Operation::TagResource | Operation::UntagResource | Operation::ListTagsForResource
        );
        if tagging {
            if let Some(arn) = member("ResourceArn") {
                return arn.to_string();
            }
        }
        match member("UserPoolId") {
            Some(pool) => format!("arn:aws:cognito-idp:{region}:{}:userpool/{pool}", self.account_id),
            None => "*".to_string(),
        }
    }

    /// Checks the identity's policies allow `op` on the request's resource.
    pub fn authorize(
        &self,
        identity: &Identity,
        op: Operation,
        body: &Value,
        region: &str,
    ) -> Result<(), CognitoError> {
        let resource = self.resource(op, body, region);
        let action = op.iam_action();
        let why = match identity.evaluate(action, &resource) {
            Decision::Allow => return Ok(()),
            Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_string(),
            Decision::ImplicitDeny => format!("because no identity-based policy allows the {action} action"),
        };
        Err(CognitoError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: arn:aws:iam::{}:user/{} is not authorized to perform: {action} on resource: {resource} {why}",
                self.account_id, identity.name
            ),
        ))
    }
}

/// A signed request names pools of its own region only: a pool id (or a pool ARN) of
/// another region is not found there, as in AWS, where each region is its own service.
pub fn check_region(body: &Value, region: &str) -> Result<(), CognitoError> {
    let pool = body.get("UserPoolId").and_then(Value::as_str).or_else(|| {
        body.get("ResourceArn")
            .and_then(Value::as_str)
            .and_then(|arn| arn.rsplit_once("userpool/").map(|(_, id)| id))
    });
    // Compared as written: an id whose prefix is no region (a pool made under a
    // `--region` of another shape) belongs to no other signing region either.
    match pool {
        Some(id) if id.split_once('_').map(|(r, _)| r) != Some(region) => Err(CognitoError::pool_not_found(id)),
        _ => Ok(()),
    }
}
