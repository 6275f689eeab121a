//! Input validation from the model's constraints, answering as AWS's front end does.
//!
//! A request body is first parsed as JSON, then walked here against its input shape:
//! - a JSON value of the wrong type is a `SerializationException` (AWS deserialises before
//!   it validates, so this wins over every constraint);
//! - `null` is treated as absent everywhere (amazon-cognito-identity-js sends
//!   `"DEVICE_KEY": null` in a map) and removed, so the typed value never sees it;
//! - every broken constraint becomes one item of an `InvalidParameterException` message in
//!   the Coral grammar (`../shared/notes/wire-protocol.md` §4):
//!   `2 validation errors detected: Value 'x' at 'deviceKey' failed to satisfy constraint:
//!   Member must satisfy regular expression pattern: [\w-]+_[0-9a-f-]+; …`.
//!
//! Decisions where the notes say "inferred":
//! - the member path is the member name with its first letter lower-cased, joined by `.`;
//!   a list item of a structure is `<list>.<n>.member` (1-based), a map value
//!   `<map>.<key>`; a list of scalars reports its broken items as AWS does for collections:
//!   `Value '[a, b]' at 'list' failed to satisfy constraint: Member must satisfy
//!   constraint: [<item constraint>]`;
//! - per value the order is: enum, length (min, then max), range (min, then max), pattern;
//! - a blob's length is its decoded bytes' and its value is shown as Coral shows a Java
//!   `ByteBuffer`: `Value 'java.nio.HeapByteBuffer[pos=0 lim=<n> cap=<n>]' at ...`;
//! - members are reported in model order.

use crate::schema::{Shape, ShapeKind};
use serde_json::Value;

/// Why a request body was refused before its operation ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A JSON value of the wrong type (`SerializationException`).
    Serialization(String),
    /// Broken constraints (`InvalidParameterException`), the whole message.
    Invalid(String),
}

/// Validates `body` against `shape` (an operation's input), removing `null`s in place.
pub fn validate(shape: &Shape, body: &mut Value) -> Result<(), Rejection> {
    let mut errors = Vec::new();
    walk(shape, body, "", &mut errors)?;
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    let mut message = format!("{n} validation error{} detected: ", if n == 1 { "" } else { "s" });
    message.push_str(&errors.join("; "));
    Err(Rejection::Invalid(message))
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_string()
    } else {
        format!("{path}.{part}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(shape: &Shape, v: &Value) -> Rejection {
    let expected = match shape.kind {
        ShapeKind::Structure(_) | ShapeKind::Map(..) => {
            return Rejection::Serialization(match v {
                Value::Array(_) => "Start of list found where not expected".into(),
                _ => format!(
                    "Unexpected {} found where a structure or map was expected",
                    type_name(v)
                ),
            })
        }
        ShapeKind::List(_) => "a list",
        ShapeKind::String => "STRING_VALUE",
        ShapeKind::Integer => "an Integer",
        ShapeKind::Long => "a Long",
        ShapeKind::Boolean => "a Boolean",
        ShapeKind::Timestamp => "a Timestamp",
        ShapeKind::Blob => "a Blob",
        ShapeKind::Document => "a Document",
    };
    Rejection::Serialization(match v {
        Value::Object(_) => "Start of structure or map found where not expected.".into(),
        Value::Array(_) => "Start of list found where not expected".into(),
        Value::String(_) => format!("STRING_VALUE can not be converted to {expected}"),
        Value::Number(_) => format!("NUMBER_VALUE can not be converted to {expected}"),
        Value::Bool(_) => format!("BOOLEAN_VALUE can not be converted to {expected}"),
        Value::Null => format!("null can not be converted to {expected}"),
    })
}

/// Java's `List.toString()` / value rendering as Coral echoes it.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", render(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

fn item(shape: &Shape, v: &Value, path: &str, constraint: &str) -> String {
    if shape.sensitive {
        format!("Value at '{path}' failed to satisfy constraint: {constraint}")
    } else if let (ShapeKind::Blob, Value::String(s)) = (&shape.kind, v) {
        // A blob is shown as the Java buffer that holds it, not its bytes.
        let n = blob_len(s);
        format!("Value 'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]' at '{path}' failed to satisfy constraint: {constraint}")
    } else {
        format!(
            "Value '{}' at '{path}' failed to satisfy constraint: {constraint}",
            render(v)
        )
    }
}

/// The bytes a blob's padded standard base64 text holds.
fn blob_len(s: &str) -> usize {
    let padding = s.bytes().rev().take_while(|b| *b == b'=').count();
    (s.len() / 4 * 3).saturating_sub(padding)
}

/// The scalar constraints a value breaks, as "Member must …" phrases.
fn scalar_constraints(shape: &Shape, v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let length = match v {
        // A blob's length is its bytes', not its base64 text's (`type_check` has decoded
        // it: padded standard base64, so the length follows from the text's).
        Value::String(s) if matches!(shape.kind, ShapeKind::Blob) => Some(blob_len(s)),
        // Java counts UTF-16 code units.
        Value::String(s) => Some(s.encode_utf16().count()),
        Value::Array(a) => Some(a.len()),
        Value::Object(m) => Some(m.len()),
        _ => None,
    };
    if let (Value::String(s), false) = (v, shape.enum_values.is_empty()) {
        if !shape.enum_values.contains(&s.as_str()) {
            out.push(format!(
                "Member must satisfy enum value set: [{}]",
                shape.enum_values.join(", ")
            ));
        }
    }
    let is_number = matches!(shape.kind, ShapeKind::Integer | ShapeKind::Long);
    if let Some(len) = length.filter(|_| !is_number) {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        if let Some(min) = shape.min.filter(|m| len < *m) {
            out.push(format!("Member must have length greater than or equal to {min}"));
        }
        if let Some(max) = shape.max.filter(|m| len > *m) {
            out.push(format!("Member must have length less than or equal to {max}"));
        }
    }
    if let (Some(n), true) = (v.as_i64(), is_number) {
        if let Some(min) = shape.min.filter(|m| n < *m) {
            out.push(format!("Member must have value greater than or equal to {min}"));
        }
        if let Some(max) = shape.max.filter(|m| n > *m) {
            out.push(format!("Member must have value less than or equal to {max}"));
        }
    }
    if let (Value::String(s), Some(p)) = (v, shape.pattern) {
        // DomainType's pattern is a prefix domain's; Cognito also takes a custom domain's
        // fully qualified name there (`auth.example.com`), and answers both with messages
        // of its own: the domain operations check it (`ops::domains`).
        if shape.name != "DomainType" && !p.is_match(s) {
            out.push(format!("Member must satisfy regular expression pattern: {}", p.source));
        }
    }
    out
}

fn walk(shape: &Shape, v: &mut Value, path: &str, errors: &mut Vec<String>) -> Result<(), Rejection> {
    match (&shape.kind, &mut *v) {
        (ShapeKind::Structure(members), Value::Object(map)) => {
            // Members the model does not define are dropped, as Cognito's front end
            // ignores them: nothing after validation may act on a member the caller
            // invented (a `ResourceArn` in an AdminDeleteUser body once steered the IAM
            // check to another pool).
            map.retain(|k, v| !v.is_null() && members.iter().any(|m| m.name == k));
            for m in *members {
                let mpath = join(path, &lower_first(m.name));
                match map.get_mut(m.name) {
                    None if m.required => {
                        errors.push(format!(
                            "Value null at '{mpath}' failed to satisfy constraint: Member must not be null"
                        ));
                    }
                    None => {}
                    Some(child) => walk(m.shape, child, &mpath, errors)?,
                }
            }
            Ok(())
        }
        (ShapeKind::Map(key, value), Value::Object(map)) => {
            map.retain(|_, v| !v.is_null());
            for (k, child) in map.iter_mut() {
                let key_value = Value::String(k.clone());
                let kpath = join(path, k);
                for c in scalar_constraints(key, &key_value) {
                    errors.push(item(
                        key,
                        &key_value,
                        path,
                        &format!("Map keys must satisfy constraint: [{c}]"),
                    ));
                }
                walk(value, child, &kpath, errors)?;
            }
            check_scalar(shape, v, path, errors);
            Ok(())
        }
        (ShapeKind::List(member), Value::Array(items)) => {
            let scalar_items = !matches!(
                member.kind,
                ShapeKind::Structure(_) | ShapeKind::List(_) | ShapeKind::Map(..)
            );
            let mut item_constraints: Vec<String> = Vec::new();
            for (i, child) in items.iter_mut().enumerate() {
                if child.is_null() {
                    continue;
                }
                if scalar_items {
                    type_check(member, child)?;
                    for c in scalar_constraints(member, child) {
                        if !item_constraints.contains(&c) {
                            item_constraints.push(c);
                        }
                    }
                } else {
                    walk(
                        member,
                        child,
                        &format!("{}.member", join(path, &(i + 1).to_string())),
                        errors,
                    )?;
                }
            }
            items.retain(|v| !v.is_null());
            check_scalar(shape, v, path, errors);
            for c in item_constraints {
                errors.push(item(member, v, path, &format!("Member must satisfy constraint: [{c}]")));
            }
            Ok(())
        }
        (_, value) => {
            type_check(shape, value)?;
            check_scalar(shape, v, path, errors);
            Ok(())
        }
    }
}

fn check_scalar(shape: &Shape, v: &Value, path: &str, errors: &mut Vec<String>) {
    for c in scalar_constraints(shape, v) {
        errors.push(item(shape, v, path, &c));
    }
}

fn type_check(shape: &Shape, v: &Value) -> Result<(), Rejection> {
    let ok = match (&shape.kind, v) {
        (ShapeKind::String | ShapeKind::Blob, Value::String(_)) => true,
        (ShapeKind::Integer, Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        (ShapeKind::Long, Value::Number(n)) => n.as_i64().is_some(),
        (ShapeKind::Boolean, Value::Bool(_)) => true,
        (ShapeKind::Timestamp, Value::Number(n)) => n.as_f64().is_some_and(f64::is_finite),
        (ShapeKind::Document, _) => true,
        (ShapeKind::Structure(_) | ShapeKind::Map(..), Value::Object(_)) => true,
        (ShapeKind::List(_), Value::Array(_)) => true,
        _ => false,
    };
    if ok {
        if let (ShapeKind::Blob, Value::String(s)) = (&shape.kind, v) {
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).is_err() {
                return Err(Rejection::Serialization(
                    "Base64 encoded value could not be decoded".into(),
                ));
            }
        }
        Ok(())
    } else {
        Err(mismatch(shape, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::shapes::ALL_PATTERNS;
    use crate::Operation;
    use serde_json::json;

    fn check(op: Operation, mut body: Value) -> Result<(), Rejection> {
        validate(op.input_shape(), &mut body)
    }

    #[test]
    fn every_pattern_compiles() {
        for p in ALL_PATTERNS {
            assert!(p.compiles(), "{}", p.source);
        }
    }

    #[test]
    fn admin_get_device_pattern() {
        let r = check(
            Operation::AdminGetDevice,
            json!({"UserPoolId": "us-east-1_abc", "Username": "u", "DeviceKey": "x"}),
        );
        assert_eq!(
            r,
            Err(Rejection::Invalid(
                "1 validation error detected: Value 'x' at 'deviceKey' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [\\w-]+_[0-9a-f-]+"
                    .into()
            ))
        );
    }

    #[test]
    fn a_blob_is_measured_in_bytes() {
        use base64::Engine as _;
        let asset = |n: usize| {
            json!({"UserPoolId": "us-east-1_abc", "ClientId": "c", "Assets": [{
                "Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG",
                "Bytes": base64::engine::general_purpose::STANDARD.encode(vec![0u8; n])}]})
        };
        assert_eq!(check(Operation::CreateManagedLoginBranding, asset(1_000_000)), Ok(()));
        assert_eq!(check(Operation::CreateManagedLoginBranding, asset(999_999)), Ok(()));
        let Err(Rejection::Invalid(m)) = check(Operation::CreateManagedLoginBranding, asset(1_000_001)) else {
            panic!("a blob over its max is refused")
        };
        assert!(m.contains("Value 'java.nio.HeapByteBuffer[pos=0 lim=1000001 cap=1000001]' at 'assets.1.member.bytes' failed to satisfy constraint: Member must have length less than or equal to 1000000"), "{m}");
    }

    #[test]
    fn missing_and_sensitive_members() {
        let r = check(Operation::AdminGetDevice, json!({"UserPoolId": "us-east-1_abc"}));
        let Err(Rejection::Invalid(m)) = r else { panic!("{r:?}") };
        assert_eq!(
            m,
            "2 validation errors detected: Value null at 'deviceKey' failed to satisfy constraint: Member must not be null; \
             Value null at 'username' failed to satisfy constraint: Member must not be null"
        );
        let r = check(
            Operation::AdminGetDevice,
            json!({"UserPoolId": "us-east-1_abc", "Username": "", "DeviceKey": "us-east-1_0a"}),
        );
        let Err(Rejection::Invalid(m)) = r else { panic!("{r:?}") };
        assert!(m.starts_with("2 validation errors detected: Value at 'username' failed to satisfy constraint: Member must have length greater than or equal to 1; Value at 'username'"), "{m}");
    }

    #[test]
    fn java_word_class_is_ascii() {
        let r = check(Operation::DescribeUserPool, json!({"UserPoolId": "us-east-1_é"}));
        assert!(matches!(r, Err(Rejection::Invalid(_))), "{r:?}");
        assert_eq!(
            check(Operation::DescribeUserPool, json!({"UserPoolId": "us-east-1_aB3"})),
            Ok(())
        );
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        let r = check(
            Operation::AdminListDevices,
            json!({"UserPoolId": "us-east-1_a", "Username": "u", "Limit": "3"}),
        );
        assert_eq!(
            r,
            Err(Rejection::Serialization(
                "STRING_VALUE can not be converted to an Integer".into()
            ))
        );
        let r = check(
            Operation::AdminListDevices,
            json!({"UserPoolId": {"a": 1}, "Username": "u"}),
        );
        assert_eq!(
            r,
            Err(Rejection::Serialization(
                "Start of structure or map found where not expected.".into()
            ))
        );
    }

    #[test]
    fn ranges_enums_and_nulls() {
        let r = check(
            Operation::AdminListDevices,
            json!({"UserPoolId": "us-east-1_a", "Username": "u", "Limit": 61}),
        );
        assert_eq!(
            r,
            Err(Rejection::Invalid(
                "1 validation error detected: Value '61' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60".into()
            ))
        );
        let r = check(
            Operation::AdminUpdateDeviceStatus,
            json!({"UserPoolId": "us-east-1_a", "Username": "u", "DeviceKey": "us-east-1_0a", "DeviceRememberedStatus": "maybe"}),
        );
        let Err(Rejection::Invalid(m)) = r else { panic!("{r:?}") };
        assert!(
            m.ends_with("Member must satisfy enum value set: [remembered, not_remembered]"),
            "{m}"
        );
        let mut body = json!({"UserPoolId": "us-east-1_a", "Username": "u", "PaginationToken": null});
        assert_eq!(validate(Operation::AdminListDevices.input_shape(), &mut body), Ok(()));
        assert!(body.get("PaginationToken").is_none());
    }

    #[test]
    fn list_of_scalars_and_nested_structures() {
        let r = check(
            Operation::CreateUserPoolClient,
            json!({"UserPoolId": "us-east-1_a", "ClientName": "c", "ExplicitAuthFlows": ["NOPE"]}),
        );
        let Err(Rejection::Invalid(m)) = r else { panic!("{r:?}") };
        assert!(m.starts_with("1 validation error detected: Value '[NOPE]' at 'explicitAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: ["), "{m}");
        let r = check(
            Operation::AdminUpdateUserAttributes,
            json!({"UserPoolId": "us-east-1_a", "Username": "u", "UserAttributes": [{"Name": "email", "Value": "a@b"}, {"Value": "x"}]}),
        );
        assert_eq!(
            r,
            Err(Rejection::Invalid(
                "1 validation error detected: Value null at 'userAttributes.2.member.name' failed to satisfy constraint: Member must not be null".into()
            ))
        );
    }
}
