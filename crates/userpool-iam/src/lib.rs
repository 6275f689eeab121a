//! `userpool-iam`: the identities that may sign requests and their IAM identity-based
//! policies, evaluated as AWS evaluates them: an explicit `Deny` wins over any `Allow`,
//! and what no statement allows is denied.
//!
//! Supported policy grammar: `Version`, `Statement` (one object or a list), and in each
//! statement `Sid`, `Effect`, `Action` / `NotAction`, `Resource` / `NotResource`, each a
//! string or a list of strings with `*` and `?` wildcards (actions match case-insensitively,
//! resources case-sensitively). Anything else (a `Condition`, a `Principal`, an unknown
//! key) is refused when the file is loaded, with the place named, rather than silently
//! ignored: a policy that userpool cannot evaluate must not be half-applied.

use serde_json::Value;

/// Why an identities file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct LoadError {
    /// Where in the file, e.g. `users[0].policies[1].Statement[2].Condition`.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

fn err(place: &str, message: impl Into<String>) -> LoadError {
    LoadError {
        place: place.to_string(),
        message: message.into(),
    }
}

/// A secret string: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for signing-key derivation and comparison only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

/// `Action` or `NotAction` (and likewise for resources): the patterns and whether the
/// statement applies to what they match or to everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The patterns.
    pub patterns: Vec<String>,
    /// `NotAction` / `NotResource`.
    pub negated: bool,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Allow or Deny.
    pub effect: Effect,
    /// Which actions.
    pub action: Matcher,
    /// Which resources.
    pub resource: Matcher,
}

/// An identity that may sign requests.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The IAM user name (in `arn:aws:iam::<account>:user/<name>`).
    pub name: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// A session token the requests must carry (temporary credentials), if any.
    pub session_token: Option<Secret>,
    /// Every statement of every policy attached.
    pub statements: Vec<Statement>,
}

/// The result of evaluating a request against an identity's policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows it and none denies it.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

/// `*` matches any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    let norm = |c: char| if case_insensitive { c.to_ascii_lowercase() } else { c };
    let p: Vec<char> = pattern.chars().map(norm).collect();
    let v: Vec<char> = value.chars().map(norm).collect();
    // Iterative matcher with one backtrack point (linear for these patterns).
    let (mut pi, mut vi) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while vi < v.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = vi;
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == v.get(vi) => {
                pi += 1;
                vi += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    vi = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

impl Matcher {
    fn matches(&self, value: &str, case_insensitive: bool) -> bool {
        let hit = self.patterns.iter().any(|p| wildcard_match(p, value, case_insensitive));
        hit != self.negated
    }
}

impl Identity {
    /// Evaluates `action` (e.g. `cognito-idp:AdminGetDevice`) on `resource` (an ARN or `*`).
    pub fn evaluate(&self, action: &str, resource: &str) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if s.action.matches(action, true) && s.resource.matches(resource, false) {
                match s.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }
}

fn strings(v: &Value, place: &str) -> Result<Vec<String>, LoadError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(&format!("{place}[{i}]"), "must be a string"))
            })
            .collect(),
        _ => Err(err(place, "must be a string or a list of strings")),
    }
}

fn matcher(stmt: &serde_json::Map<String, Value>, place: &str, key: &str) -> Result<Matcher, LoadError> {
    let not_key = format!("Not{key}");
    match (stmt.get(key), stmt.get(&not_key)) {
        (Some(v), None) => Ok(Matcher {
            patterns: strings(v, &format!("{place}.{key}"))?,
            negated: false,
        }),
        (None, Some(v)) => Ok(Matcher {
            patterns: strings(v, &format!("{place}.{not_key}"))?,
            negated: true,
        }),
        (Some(_), Some(_)) => Err(err(place, format!("has both {key} and {not_key}"))),
        (None, None) => Err(err(place, format!("needs {key} or {not_key}"))),
    }
}

fn statement(v: &Value, place: &str) -> Result<Statement, LoadError> {
    let Some(obj) = v.as_object() else {
        return Err(err(place, "a statement must be an object"));
    };
    for k in obj.keys() {
        match k.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" => {}
            "Condition" => {
                return Err(err(
                    &format!("{place}.Condition"),
                    "userpool does not evaluate Condition blocks",
                ));
            }
            other => {
                return Err(err(
                    &format!("{place}.{other}"),
                    "userpool does not evaluate this element",
                ));
            }
        }
    }
    let effect = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(err(&format!("{place}.Effect"), "must be \"Allow\" or \"Deny\"")),
    };
    Ok(Statement {
        effect,
        action: matcher(obj, place, "Action")?,
        resource: matcher(obj, place, "Resource")?,
    })
}

fn policy(v: &Value, place: &str, out: &mut Vec<Statement>) -> Result<(), LoadError> {
    let Some(obj) = v.as_object() else {
        return Err(err(place, "a policy must be an object"));
    };
    for k in obj.keys() {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return Err(err(&format!("{place}.{k}"), "userpool does not evaluate this element"));
        }
    }
    if let Some(ver) = obj.get("Version") {
        if !matches!(ver.as_str(), Some("2012-10-17" | "2008-10-17")) {
            return Err(err(&format!("{place}.Version"), "must be \"2012-10-17\""));
        }
    }
    let place = format!("{place}.Statement");
    match obj.get("Statement") {
        Some(Value::Array(items)) => {
            for (i, s) in items.iter().enumerate() {
                out.push(statement(s, &format!("{place}[{i}]"))?);
            }
            Ok(())
        }
        Some(s @ Value::Object(_)) => {
            out.push(statement(s, &place)?);
            Ok(())
        }
        _ => Err(err(&place, "must be a statement or a list of statements")),
    }
}

/// Parses an identities file: `{"users": [{"name", "accessKeyId", "secretAccessKey",
/// "sessionToken"?, "policies": [<IAM policy>...]}]}`.
pub fn load(text: &str) -> Result<Vec<Identity>, LoadError> {
    let root: Value = serde_json::from_str(text).map_err(|e| err("(file)", format!("not JSON: {e}")))?;
    let Some(users) = root.get("users").and_then(Value::as_array) else {
        return Err(err("users", "must be a list of identities"));
    };
    let mut out: Vec<Identity> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let place = format!("users[{i}]");
        let Some(obj) = u.as_object() else {
            return Err(err(&place, "must be an object"));
        };
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "name" | "accessKeyId" | "secretAccessKey" | "sessionToken" | "policies"
            ) {
                return Err(err(&format!("{place}.{k}"), "unknown member"));
            }
        }
        let field = |k: &str| -> Result<String, LoadError> {
            obj.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| err(&format!("{place}.{k}"), "must be a non-empty string"))
        };
        let name = field("name")?;
        let access_key_id = field("accessKeyId")?;
        let secret = field("secretAccessKey")?;
        let session_token = match obj.get("sessionToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Secret::new(s.clone())),
            Some(_) => return Err(err(&format!("{place}.sessionToken"), "must be a string or null")),
        };
        if out.iter().any(|o| o.access_key_id == access_key_id) {
            return Err(err(&format!("{place}.accessKeyId"), "is used by another identity"));
        }
        let mut statements = Vec::new();
        match obj.get("policies") {
            Some(Value::Array(ps)) => {
                for (j, p) in ps.iter().enumerate() {
                    policy(p, &format!("{place}.policies[{j}]"), &mut statements)?;
                }
            }
            None => {}
            Some(_) => return Err(err(&format!("{place}.policies"), "must be a list of policies")),
        }
        out.push(Identity {
            name,
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token,
            statements,
        });
    }
    Ok(out)
}

/// The identity used when no identities file is given: key `test`, secret `test`, all
/// actions on all resources. Meant for local use only.
pub fn default_identity() -> Identity {
    Identity {
        name: "test".into(),
        access_key_id: "test".into(),
        secret_access_key: Secret::new("test"),
        session_token: None,
        statements: vec![Statement {
            effect: Effect::Allow,
            action: Matcher {
                patterns: vec!["*".into()],
                negated: false,
            },
            resource: Matcher {
                patterns: vec!["*".into()],
                negated: false,
            },
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: &str = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_abc";

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "cognito-idp:Admin*",
            "cognito-idp:AdminGetDevice",
            false
        ));
        assert!(wildcard_match("COGNITO-IDP:admin*", "cognito-idp:AdminGetDevice", true));
        assert!(!wildcard_match(
            "cognito-idp:Admin*",
            "cognito-idp:ListUserPools",
            false
        ));
        assert!(wildcard_match("a?c*", "abcdef", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("*/us-east-1_*", POOL, false));
    }

    #[test]
    fn deny_beats_allow_beats_implicit() {
        let ids = load(
            r#"{"users": [{"name": "ci", "accessKeyId": "AKIA1", "secretAccessKey": "s", "sessionToken": null,
            "policies": [
              {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["cognito-idp:Admin*"], "Resource": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/*"},
                {"Effect": "Deny", "Action": "cognito-idp:AdminDeleteUser", "Resource": "*"}]},
              {"Statement": {"Effect": "Allow", "NotAction": "cognito-idp:Delete*", "NotResource": "arn:aws:cognito-idp:*:*:userpool/us-east-1_secret"}}
            ]}]}"#,
        )
        .unwrap();
        let ci = &ids[0];
        assert_eq!(ci.evaluate("cognito-idp:AdminGetDevice", POOL), Decision::Allow);
        assert_eq!(ci.evaluate("cognito-idp:AdminDeleteUser", POOL), Decision::ExplicitDeny);
        assert_eq!(ci.evaluate("cognito-idp:ListUserPools", "*"), Decision::Allow);
        let secret_pool = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_secret";
        assert_eq!(
            ci.evaluate("cognito-idp:DescribeUserPool", secret_pool),
            Decision::ImplicitDeny
        );
        assert_eq!(ci.evaluate("cognito-idp:DeleteUserPool", POOL), Decision::ImplicitDeny);
        assert!(!format!("{ci:?}").contains("\"s\""));
    }

    #[test]
    fn refuses_what_it_cannot_evaluate() {
        let e = load(
            r#"{"users": [{"name": "x", "accessKeyId": "A", "secretAccessKey": "s", "policies": [
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                           {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {}}}]}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.place, "users[0].policies[0].Statement[1].Condition");
        assert!(load("{").unwrap_err().message.starts_with("not JSON"));
        assert_eq!(
            load(r#"{"users": [{"name": "x"}]}"#).unwrap_err().place,
            "users[0].accessKeyId"
        );
        let e = load(r#"{"users": [{"name": "x", "accessKeyId": "A", "secretAccessKey": "s", "policies": [{"Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}]}]}"#).unwrap_err();
        assert_eq!(e.place, "users[0].policies[0].Statement.Effect");
    }
}
