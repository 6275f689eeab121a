//! Shared by the property tests of `userpool-model` and `userpool` (the latter includes
//! this file with `#[path]`): strategies that build JSON request bodies from the model's
//! shapes, and the oracle for what a validated body may contain.
//!
//! Two generators:
//! - [`any_json`]: nested JSON of every type, whose object keys come both from arbitrary
//!   strings and from a pool of the operation's real member names (see [`member_names`]),
//!   so even untyped input sometimes puts an object where the walker descends;
//! - [`for_shape`]: a value shaped like the input shape, member by member, so the walker
//!   reaches the deepest members. `tidy` values only break constraints (and carry
//!   `null`s and undefined keys, which validation drops without complaint); `chaos` values
//!   also swap any node for arbitrary JSON, so type errors appear at every depth.

// Each test binary uses a different part of this module.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use base64::Engine as _;
use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{Map, Number, Value};
use std::collections::BTreeSet;
use userpool_model::schema::{Shape, ShapeKind};
use userpool_model::Operation;

/// Deeper than any input shape of the model nests; bounds the recursion if one ever cycles.
const MAX_DEPTH: u32 = 10;

/// Every member name reachable from `shape` (structures inside lists, maps, structures).
pub fn member_names(shape: &'static Shape) -> Vec<&'static str> {
    fn go(shape: &'static Shape, depth: u32, out: &mut BTreeSet<&'static str>) {
        if depth == 0 {
            return;
        }
        match &shape.kind {
            ShapeKind::Structure(members) => {
                for m in *members {
                    out.insert(m.name);
                    go(m.shape, depth - 1, out);
                }
            }
            ShapeKind::List(item) => go(item, depth - 1, out),
            ShapeKind::Map(k, v) => {
                go(k, depth - 1, out);
                go(v, depth - 1, out);
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    go(shape, MAX_DEPTH, &mut out);
    out.into_iter().collect()
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// An object key: arbitrary, a real member name of the operation, or one in camelCase.
pub fn key(pool: &[&'static str]) -> BoxedStrategy<String> {
    let arbitrary = prop_oneof![".{0,12}", "[A-Za-z]{1,16}"];
    if pool.is_empty() {
        return arbitrary.boxed();
    }
    let real = prop::sample::select(pool.to_vec());
    prop_oneof![
        2 => arbitrary,
        3 => real.clone().prop_map(str::to_string),
        1 => real.prop_map(lower_first),
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-100i64..100).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
    ]
    .boxed()
}

/// Nested JSON of every type, objects keyed from `pool` and arbitrary strings.
pub fn any_json(pool: &[&'static str]) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        ".{0,16}".prop_map(Value::String),
    ];
    let key = key(pool);
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON object (the body of a request) of arbitrary members, keyed as [`any_json`].
pub fn any_object(pool: &[&'static str]) -> BoxedStrategy<Value> {
    prop::collection::vec((key(pool), any_json(pool)), 0..10)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
        .boxed()
}

/// A model pattern (Java syntax) as a generator regex: Java's ASCII `\w` spelled out,
/// anchors dropped, and unbounded repetition capped at 8 so values mostly fit `max`.
/// `None` when proptest cannot generate from it (the lookbehind one).
fn generator_regex(source: &str) -> Option<String> {
    let src = source.strip_prefix('^').unwrap_or(source);
    let src = src.strip_suffix('$').unwrap_or(src);
    let src = src.replace("\\w", "0-9A-Za-z_");
    let mut out = String::new();
    let mut in_class = 0u32;
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                out.extend(chars.next());
            }
            '[' => {
                in_class += 1;
                out.push(c);
            }
            ']' if in_class > 0 => {
                in_class -= 1;
                out.push(c);
            }
            '+' if in_class == 0 => out.push_str("{1,8}"),
            '*' if in_class == 0 => out.push_str("{0,8}"),
            _ => out.push(c),
        }
    }
    proptest::string::string_regex(&out).ok().map(|_| out)
}

fn string_for(shape: &'static Shape) -> BoxedStrategy<String> {
    let arbitrary = prop_oneof![".{0,24}", Just(String::new())];
    if !shape.enum_values.is_empty() {
        return prop_oneof![
            12 => prop::sample::select(shape.enum_values.to_vec()).prop_map(str::to_string),
            1 => arbitrary,
        ]
        .boxed();
    }
    if let Some(re) = shape.pattern.and_then(|p| generator_regex(p.source)) {
        let matching = proptest::string::string_regex(&re).unwrap();
        return prop_oneof![12 => matching, 1 => arbitrary].boxed();
    }
    prop_oneof![8 => "[ -~]{1,20}", 2 => ".{0,40}", 1 => arbitrary].boxed()
}

fn int_in(shape: &'static Shape, lo: i64, hi: i64) -> BoxedStrategy<Value> {
    let min = shape.min.unwrap_or(lo).max(lo);
    let max = shape.max.unwrap_or(hi).min(hi);
    let edges: Vec<i64> = [min.saturating_sub(1), min, max, max.saturating_add(1), lo, hi, 0]
        .into_iter()
        .filter(|n| (lo..=hi).contains(n))
        .collect();
    prop_oneof![
        6 => (min..=max.max(min)).prop_map(Value::from),
        1 => prop::sample::select(edges).prop_map(Value::from),
    ]
    .boxed()
}

/// A value of `shape` (see the module doc for `chaos`).
pub fn for_shape(shape: &'static Shape, pool: &[&'static str], chaos: bool) -> BoxedStrategy<Value> {
    typed(shape, pool, chaos, MAX_DEPTH)
}

fn node(shape: &'static Shape, pool: &[&'static str], chaos: bool, depth: u32) -> BoxedStrategy<Value> {
    let t = typed(shape, pool, chaos, depth);
    if chaos {
        prop_oneof![24 => t, 1 => any_json(pool)].boxed()
    } else {
        t
    }
}

fn typed(shape: &'static Shape, pool: &[&'static str], chaos: bool, depth: u32) -> BoxedStrategy<Value> {
    if depth == 0 {
        return Just(Value::Object(Map::new())).boxed();
    }
    match &shape.kind {
        ShapeKind::Structure(members) => {
            let fields: Vec<BoxedStrategy<Option<(&'static str, Value)>>> = members
                .iter()
                .map(|m| {
                    let v = prop_oneof![
                        12 => node(m.shape, pool, chaos, depth - 1),
                        1 => Just(Value::Null),
                    ];
                    let p = if m.required { 0.95 } else { 0.4 };
                    prop::option::weighted(p, v.prop_map(move |v| (m.name, v))).boxed()
                })
                .collect();
            // Undefined members: in tidy mode never one of this structure's own names (an
            // own name with a wrong value is a type error, which is chaos).
            let own: Vec<&'static str> = members.iter().map(|m| m.name).collect();
            let junk = prop::collection::vec((key(pool), any_json(pool)), 0..3).prop_map(move |kv| {
                kv.into_iter()
                    .filter(|(k, _)| chaos || !own.contains(&k.as_str()))
                    .collect::<Vec<_>>()
            });
            (fields, junk)
                .prop_map(|(fields, junk)| {
                    let mut map: Map<String, Value> = junk.into_iter().collect();
                    for (k, v) in fields.into_iter().flatten() {
                        map.insert(k.to_string(), v);
                    }
                    Value::Object(map)
                })
                .boxed()
        }
        ShapeKind::List(item) => {
            let item = prop_oneof![12 => node(item, pool, chaos, depth - 1), 1 => Just(Value::Null)];
            prop::collection::vec(item, 0..4).prop_map(Value::Array).boxed()
        }
        ShapeKind::Map(k, v) => {
            let value = prop_oneof![12 => node(v, pool, chaos, depth - 1), 1 => Just(Value::Null)];
            prop::collection::vec((string_for(k), value), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect()))
                .boxed()
        }
        ShapeKind::String => string_for(shape).prop_map(Value::String).boxed(),
        ShapeKind::Integer => int_in(shape, i64::from(i32::MIN), i64::from(i32::MAX)),
        ShapeKind::Long => int_in(shape, i64::MIN, i64::MAX),
        ShapeKind::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        ShapeKind::Timestamp => prop_oneof![
            (0i64..4_000_000_000).prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        ]
        .boxed(),
        ShapeKind::Blob => {
            let base64 = prop::collection::vec(any::<u8>(), 0..48)
                .prop_map(|b| Value::String(base64::engine::general_purpose::STANDARD.encode(b)));
            if chaos {
                // Not base64: a type error too.
                prop_oneof![8 => base64, 1 => ".{0,12}".prop_map(Value::String)].boxed()
            } else {
                base64.boxed()
            }
        }
        ShapeKind::Document => any_json(pool),
    }
}

/// An operation and a body for it from `make(input shape, the operation's member names)`.
pub fn op_and<F>(make: F) -> impl Strategy<Value = (Operation, Value)>
where
    F: Fn(&'static Shape, &[&'static str]) -> BoxedStrategy<Value>,
{
    Union::new(Operation::ALL.iter().map(|&op| {
        let shape = op.input_shape();
        make(shape, &member_names(shape)).prop_map(move |v| (op, v)).boxed()
    }))
}

/// What the walk guarantees of a body it went all the way through (`Ok`, or an
/// `InvalidParameterException`): structures hold only members the model defines, no
/// `null` is left outside a document, and every value has its shape's JSON type. With
/// `valid` (an `Ok`), also that required members are present and every constraint holds.
pub fn check_walked(shape: &Shape, v: &Value, path: &str, valid: bool) -> Result<(), String> {
    let fail = |what: &str| Err(format!("at '{path}': {what} (value {v})"));
    if valid {
        check_constraints(shape, v, path)?;
    }
    match (&shape.kind, v) {
        (ShapeKind::Document, _) => Ok(()),
        (_, Value::Null) => fail("null left in the body"),
        (ShapeKind::Structure(members), Value::Object(map)) => {
            for (k, child) in map {
                let Some(m) = members.iter().find(|m| m.name == k) else {
                    return fail(&format!("member '{k}' is not in the model"));
                };
                check_walked(m.shape, child, &format!("{path}.{k}"), valid)?;
            }
            if valid {
                if let Some(m) = members.iter().find(|m| m.required && !map.contains_key(m.name)) {
                    return fail(&format!("required member '{}' missing", m.name));
                }
            }
            Ok(())
        }
        (ShapeKind::Map(_, value), Value::Object(map)) => {
            for (k, child) in map {
                check_walked(value, child, &format!("{path}.{k}"), valid)?;
            }
            Ok(())
        }
        (ShapeKind::List(item), Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                check_walked(item, child, &format!("{path}[{i}]"), valid)?;
            }
            Ok(())
        }
        (ShapeKind::String | ShapeKind::Blob, Value::String(_))
        | (ShapeKind::Boolean, Value::Bool(_))
        | (ShapeKind::Timestamp, Value::Number(_)) => Ok(()),
        (ShapeKind::Integer, Value::Number(n)) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => Ok(()),
        (ShapeKind::Long, Value::Number(n)) if n.as_i64().is_some() => Ok(()),
        _ => fail(&format!("not a JSON value of shape {}", shape.name)),
    }
}

/// The constraints of one value, as the model states them (an independent reading of
/// `enum`, `length`, `range` and `pattern`; blob lengths are left out).
fn check_constraints(shape: &Shape, v: &Value, path: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("at '{path}': {what} (value {v})"));
    if let (Value::String(s), false) = (v, shape.enum_values.is_empty()) {
        if !shape.enum_values.contains(&s.as_str()) {
            return fail("not in the enum");
        }
    }
    let length = match (&shape.kind, v) {
        (ShapeKind::String, Value::String(s)) => Some(s.encode_utf16().count()),
        (ShapeKind::List(_), Value::Array(a)) => Some(a.len()),
        (ShapeKind::Map(..), Value::Object(m)) => Some(m.len()),
        _ => None,
    };
    if let Some(len) = length.map(|l| i64::try_from(l).unwrap()) {
        if shape.min.is_some_and(|m| len < m) || shape.max.is_some_and(|m| len > m) {
            return fail("length out of bounds");
        }
    }
    if let (ShapeKind::Integer | ShapeKind::Long, Some(n)) = (&shape.kind, v.as_i64()) {
        if shape.min.is_some_and(|m| n < m) || shape.max.is_some_and(|m| n > m) {
            return fail("value out of range");
        }
    }
    // DomainType's pattern is left to the domain operations, which take custom domains'
    // names too and answer with Cognito's own messages (`validate.rs`).
    if let (Value::String(s), Some(p)) = (v, shape.pattern.filter(|_| shape.name != "DomainType")) {
        if !p.is_match(s) {
            return fail(&format!("does not match {}", p.source));
        }
    }
    Ok(())
}
