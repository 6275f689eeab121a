//! Property tests of the parsers in front of the operations: the AWS JSON 1.1 framing
//! (`X-Amz-Target`, `Content-Type`, the body and its validation) and the ListUsers filter.
//! Whatever the input: no panic, and an `Ok` or a [`CognitoError`] of the code the real
//! front end answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// The model-shaped JSON generators and the validated-body oracle, shared with
// `userpool-model`'s property tests.
#[path = "../../userpool-model/tests/common/mod.rs"]
mod common;

use common::{any_object, check_walked, for_shape, op_and};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;
use userpool::error::CognitoError;
use userpool::ops::users::{parse_filter, SEARCHABLE};
use userpool::protocol::{body, check_content_type, error, operation, printable};
use userpool_model::validate::{validate, Rejection};
use userpool_model::{ErrorCode, Operation, TARGET_PREFIX};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// The checks every answer of `body` must pass.
fn check_body(op: Operation, bytes: &[u8], r: &Result<Value, CognitoError>) -> Result<(), TestCaseError> {
    match r {
        Ok(v) => {
            prop_assert!(v.is_object());
            check_walked(op.input_shape(), v, "", true).map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
        }
        Err(e) => {
            prop_assert!(
                matches!(
                    e.code,
                    ErrorCode::SerializationException | ErrorCode::InvalidParameterException
                ),
                "{:?} for {:?}",
                e,
                String::from_utf8_lossy(bytes)
            );
            prop_assert!(!e.message.is_empty());
            prop_assert_eq!(error(e, "req").status().as_u16(), 400);
        }
    }
    Ok(())
}

/// `body` on the serialised `v` answers what `validate` answers on that JSON read back.
fn check_json_body(op: Operation, v: &Value) -> Result<(), TestCaseError> {
    let bytes = serde_json::to_vec(v).unwrap();
    let r = body(op, &bytes);
    check_body(op, &bytes, &r)?;
    // Compared with the value as read back: serde_json's default float parsing is not
    // always the exact inverse of its printing (1 ulp off), which only documents keep.
    let mut direct: Value = serde_json::from_slice(&bytes).unwrap();
    match (validate(op.input_shape(), &mut direct), r) {
        (Ok(()), Ok(got)) => prop_assert_eq!(got, direct),
        (Err(Rejection::Serialization(m)), Err(e)) => {
            prop_assert_eq!(e, CognitoError::new(ErrorCode::SerializationException, m));
        }
        (Err(Rejection::Invalid(m)), Err(e)) => prop_assert_eq!(e, CognitoError::invalid_parameter(m)),
        (direct, r) => prop_assert!(false, "validate: {:?}, body: {:?}", direct, r),
    }
    Ok(())
}

/// Byte-level mutations of a body.
fn mutate(mut bytes: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(kind, at, b) in edits {
        let n = bytes.len();
        match kind % 4 {
            0 => bytes.insert(at % (n + 1), b),
            1 if n > 0 => {
                bytes.remove(at % n);
            }
            2 if n > 0 => bytes[at % n] = b,
            _ => bytes.truncate(at % (n + 1)),
        }
    }
    bytes
}

/// JSON-ish bytes: the punctuation of JSON, digits, letters and escapes.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        "[ \t\r\n{}\\[\\]\":,0-9a-zA-Z.eE+\\\\/-]{0,96}".prop_map(String::into_bytes),
        "\\{(\"[A-Z][a-zA-Z]{0,12}\": ?(\"[^\"]{0,8}\"|[0-9]{1,12}|true|null|\\{\\}|\\[\\]),? ?){0,4}\\}?"
            .prop_map(String::into_bytes),
        "[ \t\r\n\u{b}\u{c}]{0,8}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    /// Arbitrary bytes for every operation.
    #[test]
    fn body_arbitrary_bytes(op in prop::sample::select(Operation::ALL), bytes in jsonish()) {
        let r = body(op, &bytes);
        check_body(op, &bytes, &r)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // An empty body is `{}`: valid exactly when nothing is required.
            let mut empty = Value::Object(serde_json::Map::new());
            prop_assert_eq!(r.is_ok(), validate(op.input_shape(), &mut empty).is_ok());
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Arbitrary nested JSON objects, keyed from arbitrary strings and the operation's
    /// member names.
    #[test]
    fn body_arbitrary_json((op, v) in op_and(|_, pool| any_object(pool))) {
        check_json_body(op, &v)?;
    }

    /// Bodies shaped like the operation's input: well typed, but with constraints broken,
    /// `null`s and undefined members.
    #[test]
    fn body_shaped_json((op, v) in op_and(|s, pool| for_shape(s, pool, false))) {
        check_json_body(op, &v)?;
    }

    /// Shaped bodies with arbitrary JSON anywhere (type errors at every depth).
    #[test]
    fn body_chaotic_json((op, v) in op_and(|s, pool| for_shape(s, pool, true))) {
        check_json_body(op, &v)?;
    }

    /// Shaped bodies with their bytes edited (broken framing, bad UTF-8, cut short).
    #[test]
    fn body_mutated_json(
        (op, v) in op_and(|s, pool| for_shape(s, pool, false)),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let bytes = mutate(serde_json::to_vec(&v).unwrap(), &edits);
        let r = body(op, &bytes);
        check_body(op, &bytes, &r)?;
    }
}

fn target_header(value: &[u8]) -> Option<HeaderMap> {
    let v = HeaderValue::from_bytes(value).ok()?;
    let mut h = HeaderMap::new();
    h.insert("x-amz-target", v);
    Some(h)
}

fn op_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(Operation::ALL).prop_map(Operation::name)
}

proptest! {
    #![proptest_config(config(1000))]

    /// `X-Amz-Target`: an operation exactly when the header is `<prefix>.<name>`, otherwise
    /// `UnknownOperationException`.
    #[test]
    fn target_any_value(value in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        ".{0,48}".prop_map(String::into_bytes),
        (op_name(), "[. a-zA-Z_]{0,3}", "[. a-zA-Z_]{0,3}", any::<bool>()).prop_map(|(name, a, b, lower)| {
            let t = format!("{TARGET_PREFIX}{a}.{name}{b}");
            if lower { t.to_lowercase() } else { t }.into_bytes()
        }),
        (op_name(), prop::collection::vec(any::<u8>(), 0..3), any::<prop::sample::Index>()).prop_map(|(name, junk, at)| {
            let mut t = format!("{TARGET_PREFIX}.{name}").into_bytes();
            let i = at.index(t.len() + 1);
            t.splice(i..i, junk);
            t
        }),
    ]) {
        let Some(headers) = target_header(&value) else {
            // Not a value an HTTP header can carry: hyper never hands one over.
            return Ok(());
        };
        match operation(&headers) {
            Ok(op) => prop_assert_eq!(value, format!("{TARGET_PREFIX}.{}", op.name()).into_bytes()),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::UnknownOperationException);
                prop_assert!(e.message.is_ascii(), "{}", e.message);
            }
        }
    }
}

/// Every operation's own target names it; no header at all is an unknown operation.
#[test]
fn every_target_round_trips() {
    for &op in Operation::ALL {
        let headers = target_header(format!("{TARGET_PREFIX}.{}", op.name()).as_bytes()).unwrap();
        assert_eq!(operation(&headers), Ok(op));
    }
    assert_eq!(
        operation(&HeaderMap::new()).map_err(|e| e.code),
        Err(ErrorCode::UnknownOperationException)
    );
}

proptest! {
    #![proptest_config(config(1000))]

    /// `Content-Type`: JSON 1.1, JSON 1.0 and `application/json` (any case, any
    /// parameters) pass; anything else is a `SerializationException`.
    #[test]
    fn content_type_any_value(value in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        ".{0,48}".prop_map(String::into_bytes),
        (
            prop::sample::select(vec![
                "application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json",
                "application/x-amz-json-1.2", "text/plain", "application/xml", "",
            ]),
            "[ \t]{0,2}",
            "[ \t]{0,2}",
            prop_oneof![Just(String::new()), "; ?[a-z]{1,8}=[a-zA-Z0-9-]{0,8}", ";.{0,12}"],
            any::<bool>(),
        )
            .prop_map(|(base, l, r, params, upper)| {
                let base = if upper { base.to_uppercase() } else { base.to_string() };
                format!("{l}{base}{r}{params}").into_bytes()
            }),
    ]) {
        let Ok(v) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, v);
        // An independent reading: a value with bytes beyond visible ASCII reads as empty.
        let text = std::str::from_utf8(&value)
            .ok()
            .filter(|s| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let base = text.split(';').next().unwrap_or_default().trim();
        let json = ["application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"].contains(&base);
        match check_content_type(&headers) {
            Ok(()) => prop_assert!(json, "{:?}", text),
            Err(e) => {
                prop_assert!(!json, "{:?}", text);
                prop_assert_eq!(e.code, ErrorCode::SerializationException);
                prop_assert!(e.message.is_ascii(), "{}", e.message);
            }
        }
    }

    /// `printable` echoes at most 256 characters, every one visible ASCII.
    #[test]
    fn printable_is_visible_ascii(s in prop_oneof![".{0,300}", any::<String>()]) {
        let p = printable(&s);
        prop_assert!(p.bytes().all(|b| (b' '..=b'~').contains(&b)), "{:?}", p);
        prop_assert!(p.len() <= 256 * 10);
    }

    /// Any error message and request id render to a response (a header value that cannot
    /// carry them is skipped, not a panic).
    #[test]
    fn errors_render(message in any::<String>(), request_id in any::<String>(), invalid in any::<bool>()) {
        let code = if invalid { ErrorCode::InvalidParameterException } else { ErrorCode::SerializationException };
        let r = error(&CognitoError::new(code, message.clone()), &request_id);
        prop_assert_eq!(r.status().as_u16(), 400);
        let sent: Value = serde_json::from_slice(&CognitoError::new(code, message.clone()).body()).unwrap();
        prop_assert_eq!(&sent["message"], &Value::String(message));
    }
}

/// The attributes a ListUsers filter may name.
fn filter_attributes() -> Vec<&'static str> {
    let mut all = vec!["username", "sub", "cognito:user_status", "status"];
    all.extend(SEARCHABLE);
    all
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any filter string: `Ok(None)` exactly when blank, an `Ok` names an allowed
    /// attribute, every refusal is an `InvalidParameterException`.
    #[test]
    fn filter_any_string(f in prop_oneof![
        ".{0,40}",
        any::<String>(),
        "[ \t\"=^a-z:_\\\\]{0,30}",
        (prop::sample::select(filter_attributes()), "[ \"=^\\\\a-zé😀]{0,16}").prop_map(|(a, rest)| format!("{a}{rest}")),
    ]) {
        match parse_filter(&f) {
            Ok(None) => prop_assert!(f.trim().is_empty()),
            Ok(Some(parsed)) => {
                prop_assert!(!f.trim().is_empty());
                prop_assert!(filter_attributes().contains(&parsed.attribute.as_str()), "{:?}", parsed);
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidParameterException),
        }
    }

    /// A well-formed filter, however spaced and quoted, parses to its parts; its value may
    /// hold any text, `=` and escaped quotes (`\"`).
    #[test]
    fn filter_well_formed(
        attr in prop::sample::select(filter_attributes()),
        quoted in any::<bool>(),
        prefix in any::<bool>(),
        spaces in prop::collection::vec("[ \t\n]{0,2}", 4),
        pieces in prop::collection::vec(prop_oneof![
            4 => "[^\"\\\\]{1,8}",
            1 => Just("\\\"".to_string()),
            1 => Just("=".to_string()),
            1 => Just("^".to_string()),
            1 => "[ -~]{1,4}",
        ], 0..6),
    ) {
        let raw: String = pieces.concat();
        let expected_value = raw.replace("\\\"", "\"");
        let op = if prefix { "^=" } else { "=" };
        let attr_text = if quoted { format!("\"{attr}\"") } else { attr.to_string() };
        let f = format!("{}{attr_text}{}{op}{}\"{raw}\"{}", spaces[0], spaces[1], spaces[2], spaces[3]);
        let parsed = parse_filter(&f).map_err(|e| TestCaseError::fail(format!("{f:?}: {e}")))?.unwrap();
        prop_assert_eq!(parsed.attribute.as_str(), attr, "{:?}", f);
        prop_assert_eq!(parsed.prefix, prefix, "{:?}", f);
        prop_assert_eq!(parsed.value, expected_value, "{:?}", f);
    }
}

/// A value may hold `^=` and `=`: the attribute and operator are read before the value.
/// (Found by `filter_well_formed`: the parser once split on the first `^=` anywhere, so
/// `username = "^="` was refused and `email = "a^=b"` read as the attribute `email = "a`.)
#[test]
fn filter_value_may_hold_caret_equals() {
    let parsed = parse_filter("username = \"^=\"").unwrap().unwrap();
    assert_eq!(
        (parsed.attribute.as_str(), parsed.value.as_str(), parsed.prefix),
        ("username", "^=", false)
    );
    let parsed = parse_filter("email = \"a^=b\"").unwrap().unwrap();
    assert_eq!(
        (parsed.attribute.as_str(), parsed.value.as_str(), parsed.prefix),
        ("email", "a^=b", false)
    );
}
