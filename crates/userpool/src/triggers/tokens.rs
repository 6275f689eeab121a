//! PreTokenGeneration: `TokenGeneration_Authentication`, `_NewPasswordChallenge`,
//! `_AuthenticateDevice`, `_RefreshTokens` (`_HostedAuth` and `_ClientCredentials` come
//! with the hosted pages), in its three versions.
//!
//! - V1_0 (`version` "1"): `claimsOverrideDetails` adds or suppresses ID-token claims
//!   (string values) and overrides groups.
//! - V2_0 / V3_0 (`version` "2" / "3"; the event also carries `scopes`):
//!   `claimsAndScopeOverrideDetails` adds or suppresses claims of the ID and the access
//!   token (any JSON value) and the access token's scopes, and overrides groups.
//! - Suppressing wins over adding. `groupOverrideDetails`, when present, replaces
//!   `cognito:groups` in both tokens and `cognito:roles` / `cognito:preferred_role` in the
//!   ID token (an empty or absent list removes them); suppressing `cognito:groups` removes
//!   all three.
//! - Claims Cognito does not let a function change (`sub`, `iss`, `aud`, `exp`, `iat`,
//!   `auth_time`, `jti`, `origin_jti`, `event_id`, `token_use`, `client_id`, `username`,
//!   `device_key`, `scope` (use the scope lists), `identities`, `nonce`, every `cognito:`
//!   claim but the groups...) are left as they are: the guide lists them as unchangeable
//!   and says nothing of an error, so userpool ignores such entries (rule written in the
//!   README). `dev:` claims may only be suppressed.

use super::{invoke, metadata, put, unrecognizable, user_attributes, Call, Trigger};
use crate::app::Ctx;
use crate::error::OpResult;
use crate::ops::users::Pool;
use serde_json::{json, Map, Value};
use userpool_model::types::PreTokenGenerationLambdaVersionType;
use userpool_store::UserRecord;

/// The event version a pool's PreTokenGeneration function gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// V1_0.
    V1,
    /// V2_0.
    V2,
    /// V3_0.
    V3,
}

/// The pool's PreTokenGeneration version (V1_0 without `PreTokenGenerationConfig`).
pub fn lambda_version(pool: &Pool) -> Version {
    let config = pool
        .settings()
        .lambda_config
        .as_ref()
        .and_then(|c| c.pre_token_generation_config.as_ref());
    match config.map(|c| &c.lambda_version) {
        Some(PreTokenGenerationLambdaVersionType::V20) => Version::V2,
        Some(PreTokenGenerationLambdaVersionType::V30) => Version::V3,
        _ => Version::V1,
    }
}

/// What a function changes in one grant's tokens.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Claims added to or replaced in the ID token.
    pub id_add: Map<String, Value>,
    /// Claims removed from the ID token.
    pub id_suppress: Vec<String>,
    /// Claims added to or replaced in the access token.
    pub access_add: Map<String, Value>,
    /// Claims removed from the access token.
    pub access_suppress: Vec<String>,
    /// Scopes added to the access token.
    pub scopes_add: Vec<String>,
    /// Scopes removed from the access token.
    pub scopes_suppress: Vec<String>,
    /// `cognito:groups` replaced (an empty list: none), when the answer overrides groups.
    pub groups: Option<Vec<String>>,
    /// `cognito:roles` replaced, with the groups.
    pub roles: Option<Vec<String>>,
    /// `cognito:preferred_role` replaced, with the groups.
    pub preferred_role: Option<String>,
}

/// Claims no function may add, change or suppress (besides every `cognito:` claim other
/// than the groups and roles).
const FIXED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "jti",
    "origin_jti",
    "event_id",
    "token_use",
    "client_id",
    "username",
    "device_key",
    "scope",
    "identities",
    "nonce",
    "at_hash",
    "acr",
    "amr",
    "azp",
    "version",
];

/// Whether a function may touch `claim` (`suppress`: to remove it).
fn changeable(claim: &str, suppress: bool) -> bool {
    if FIXED.contains(&claim) {
        return false;
    }
    if claim == "cognito:groups" {
        return suppress;
    }
    if claim.starts_with("cognito:") {
        return false;
    }
    if claim.starts_with("dev:") {
        return suppress;
    }
    true
}

fn strings(v: Option<&Value>) -> OpResult<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(unrecognizable))
            .collect(),
        Some(_) => Err(unrecognizable()),
    }
}

fn object(v: Option<&Value>) -> OpResult<Option<&Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(unrecognizable()),
    }
}

/// Claims to add, keeping those a function may change (`strings_only`: V1, whose values
/// are strings).
fn additions(v: Option<&Value>, strings_only: bool) -> OpResult<Map<String, Value>> {
    let Some(m) = object(v)? else {
        return Ok(Map::new());
    };
    let mut out = Map::new();
    for (k, v) in m {
        if strings_only && !v.is_string() {
            return Err(unrecognizable());
        }
        if changeable(k, false) && !v.is_null() {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}

fn suppressions(v: Option<&Value>) -> OpResult<Vec<String>> {
    Ok(strings(v)?.into_iter().filter(|c| changeable(c, true)).collect())
}

fn group_override(o: &mut Overrides, v: Option<&Value>) -> OpResult<()> {
    // Left out: the groups stay. Null (or an empty object): "the groups are suppressed"
    // (the developer guide).
    if matches!(v, Some(Value::Null)) {
        o.groups = Some(Vec::new());
        o.roles = Some(Vec::new());
        return Ok(());
    }
    let Some(g) = object(v)? else {
        return Ok(());
    };
    o.groups = Some(strings(g.get("groupsToOverride"))?);
    o.roles = Some(strings(g.get("iamRolesToOverride"))?);
    o.preferred_role = match g.get("preferredRole") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(unrecognizable()),
    };
    Ok(())
}

/// Reads a function's answer.
fn read(version: Version, response: &Map<String, Value>) -> OpResult<Overrides> {
    let mut o = Overrides::default();
    if version == Version::V1 {
        let Some(d) = object(response.get("claimsOverrideDetails"))? else {
            return Ok(o);
        };
        o.id_add = additions(d.get("claimsToAddOrOverride"), true)?;
        o.id_suppress = suppressions(d.get("claimsToSuppress"))?;
        group_override(&mut o, d.get("groupOverrideDetails"))?;
        return Ok(o);
    }
    let Some(d) = object(response.get("claimsAndScopeOverrideDetails"))? else {
        return Ok(o);
    };
    if let Some(id) = object(d.get("idTokenGeneration"))? {
        o.id_add = additions(id.get("claimsToAddOrOverride"), false)?;
        o.id_suppress = suppressions(id.get("claimsToSuppress"))?;
    }
    if let Some(access) = object(d.get("accessTokenGeneration"))? {
        o.access_add = additions(access.get("claimsToAddOrOverride"), false)?;
        o.access_suppress = suppressions(access.get("claimsToSuppress"))?;
        o.scopes_add = strings(access.get("scopesToAdd"))?;
        if o.scopes_add
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(unrecognizable());
        }
        o.scopes_suppress = strings(access.get("scopesToSuppress"))?;
    }
    group_override(&mut o, d.get("groupOverrideDetails"))?;
    Ok(o)
}

/// What a grant's tokens would carry before the function changes them.
pub struct Grant<'a> {
    /// The user.
    pub user: &'a UserRecord,
    /// The app client.
    pub client_id: &'a str,
    /// `triggerSource`.
    pub source: &'a str,
    /// The user's groups, in token order.
    pub groups: &'a [String],
    /// The roles of those groups.
    pub roles: &'a [String],
    /// The access token's scopes.
    pub scopes: &'a [String],
}

/// Calls the pool's PreTokenGeneration function, if any: what it changes.
pub async fn pre_token_generation(ctx: &Ctx, pool: &Pool, g: &Grant<'_>) -> OpResult<Option<Overrides>> {
    if Trigger::PreTokenGeneration.function(pool).is_none() {
        return Ok(None);
    }
    let version = lambda_version(pool);
    let mut request = json!({
        "userAttributes": user_attributes(pool, g.user),
        "groupConfiguration": {
            "groupsToOverride": g.groups,
            "iamRolesToOverride": g.roles,
            "preferredRole": Value::Null,
        },
    });
    if version != Version::V1 {
        put(&mut request, "scopes", Some(json!(g.scopes)));
    }
    put(&mut request, "clientMetadata", metadata(ctx.client_metadata.as_ref()));
    let response = if version == Version::V1 {
        json!({"claimsOverrideDetails": Value::Null})
    } else {
        json!({"claimsAndScopeOverrideDetails": Value::Null})
    };
    let call = Call {
        trigger: Trigger::PreTokenGeneration,
        source: g.source,
        user_name: &g.user.username,
        client_id: g.client_id,
        request,
        response,
    };
    match invoke(ctx, pool, call).await? {
        Some(r) => read(version, &r).map(Some),
        None => Ok(None),
    }
}

/// Applies `o` to the claims of an ID token.
pub fn apply_to_id(o: &Overrides, claims: &mut Map<String, Value>) {
    apply_groups(o, claims, true);
    for (k, v) in &o.id_add {
        claims.insert(k.clone(), v.clone());
    }
    suppress(&o.id_suppress, claims, true);
}

/// Applies `o` to the claims of an access token (its `scope` included).
pub fn apply_to_access(o: &Overrides, claims: &mut Map<String, Value>) {
    apply_groups(o, claims, false);
    for (k, v) in &o.access_add {
        claims.insert(k.clone(), v.clone());
    }
    suppress(&o.access_suppress, claims, false);
    if o.scopes_add.is_empty() && o.scopes_suppress.is_empty() {
        return;
    }
    let mut scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for s in &o.scopes_add {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    scopes.retain(|s| !o.scopes_suppress.contains(s));
    if scopes.is_empty() {
        claims.remove("scope");
    } else {
        claims.insert("scope".into(), Value::String(scopes.join(" ")));
    }
}

fn apply_groups(o: &Overrides, claims: &mut Map<String, Value>, id: bool) {
    let Some(groups) = &o.groups else {
        return;
    };
    claims.remove("cognito:groups");
    if !groups.is_empty() {
        claims.insert("cognito:groups".into(), json!(groups));
    }
    if id {
        claims.remove("cognito:roles");
        claims.remove("cognito:preferred_role");
        if let Some(roles) = o.roles.as_ref().filter(|r| !r.is_empty()) {
            claims.insert("cognito:roles".into(), json!(roles));
        }
        if let Some(p) = &o.preferred_role {
            claims.insert("cognito:preferred_role".into(), Value::String(p.clone()));
        }
    }
}

fn suppress(names: &[String], claims: &mut Map<String, Value>, id: bool) {
    for n in names {
        claims.remove(n);
        if n == "cognito:groups" && id {
            claims.remove("cognito:roles");
            claims.remove("cognito:preferred_role");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_answer_applies_with_suppress_winning_and_fixed_claims_kept() {
        let r = json!({"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": {"tenant": {"id": 7}, "sub": "forged", "email": "x@y"},
                                  "claimsToSuppress": ["email", "iss"]},
            "accessTokenGeneration": {"claimsToAddOrOverride": {"role": "admin", "cognito:username": "eve"},
                                      "scopesToAdd": ["api/read"], "scopesToSuppress": ["aws.cognito.signin.user.admin"]},
            "groupOverrideDetails": {"groupsToOverride": ["a"]}}});
        let o = read(Version::V2, r.as_object().unwrap()).unwrap();
        let mut id = json!({"sub": "s", "iss": "i", "email": "e", "cognito:groups": ["g"], "cognito:roles": ["r"]})
            .as_object()
            .unwrap()
            .clone();
        apply_to_id(&o, &mut id);
        assert_eq!(id.get("sub"), Some(&json!("s")));
        assert_eq!(id.get("iss"), Some(&json!("i")));
        assert_eq!(id.get("email"), None);
        assert_eq!(id.get("tenant"), Some(&json!({"id": 7})));
        assert_eq!(id.get("cognito:groups"), Some(&json!(["a"])));
        assert_eq!(id.get("cognito:roles"), None);
        let mut access = json!({"scope": "aws.cognito.signin.user.admin", "username": "u"})
            .as_object()
            .unwrap()
            .clone();
        apply_to_access(&o, &mut access);
        assert_eq!(access.get("scope"), Some(&json!("api/read")));
        assert_eq!(access.get("role"), Some(&json!("admin")));
        assert_eq!(access.get("username"), Some(&json!("u")));
    }

    #[test]
    fn v1_values_must_be_strings() {
        let r = json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"n": 1}}});
        assert!(read(Version::V1, r.as_object().unwrap()).is_err());
        let r = json!({"claimsOverrideDetails": null});
        assert!(read(Version::V1, r.as_object().unwrap()).unwrap().groups.is_none());
    }
}
