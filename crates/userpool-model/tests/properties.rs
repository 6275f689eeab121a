//! Property tests of [`validate`]: arbitrary and model-shaped bodies for every operation.
//! It never panics, answers `Ok` or a typed [`Rejection`], and whatever it walks through
//! comes out holding only members the model defines, without `null`s, each value of its
//! shape's JSON type (see `common::check_walked`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{any_json, any_object, check_walked, for_shape, op_and};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use userpool_model::generated::shapes::ALL_PATTERNS;
use userpool_model::validate::{validate, Rejection};
use userpool_model::Operation;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// The checks every outcome of `validate` must pass; `body` is the value after the call.
fn check_outcome(op: Operation, body: &Value, r: &Result<(), Rejection>) -> Result<(), TestCaseError> {
    let shape = op.input_shape();
    match r {
        Ok(()) => {
            check_walked(shape, body, "", true).map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
            // Validating what validation let through changes nothing.
            let mut again = body.clone();
            prop_assert_eq!(validate(shape, &mut again), Ok(()));
            prop_assert_eq!(&again, body);
        }
        Err(Rejection::Invalid(m)) => {
            // The walk went all the way through: the body is pruned and typed.
            check_walked(shape, body, "", false).map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
            let (count, rest) = m.split_once(' ').unwrap_or_default();
            let n: usize = count
                .parse()
                .map_err(|_| TestCaseError::fail(format!("message: {m}")))?;
            prop_assert!(n >= 1, "{}", m);
            let grammar = if n == 1 {
                "validation error detected: "
            } else {
                "validation errors detected: "
            };
            prop_assert!(rest.starts_with(grammar), "{}", m);
            prop_assert!(rest.len() > grammar.len(), "{}", m);
            // As many errors the second time. (Not always the same message: a list item's
            // path counts the `null` items the client sent, which are gone by then.)
            let mut again = body.clone();
            match validate(shape, &mut again) {
                Err(Rejection::Invalid(m2)) => prop_assert_eq!(m2.split_once(' ').map(|(c, _)| c), Some(count)),
                other => prop_assert!(false, "second pass: {:?} after {}", other, m),
            }
        }
        Err(Rejection::Serialization(m)) => prop_assert!(!m.is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// Bodies shaped like each operation's input, breaking constraints but not types.
    #[test]
    fn tidy_bodies((op, mut body) in op_and(|s, p| for_shape(s, p, false))) {
        let r = validate(op.input_shape(), &mut body);
        prop_assert!(!matches!(r, Err(Rejection::Serialization(_))), "{:?} {:?}", r, body);
        check_outcome(op, &body, &r)?;
    }

    /// Shaped bodies where any node may be arbitrary JSON (type errors at every depth).
    #[test]
    fn chaotic_bodies((op, mut body) in op_and(|s, p| for_shape(s, p, true))) {
        let r = validate(op.input_shape(), &mut body);
        check_outcome(op, &body, &r)?;
    }

    /// Arbitrary nested JSON objects keyed from the operation's member names.
    #[test]
    fn arbitrary_objects((op, mut body) in op_and(|_, p| any_object(p))) {
        let r = validate(op.input_shape(), &mut body);
        check_outcome(op, &body, &r)?;
    }

    /// A body that is not an object is a `SerializationException`.
    #[test]
    fn non_objects_are_serialization_errors(
        op in prop::sample::select(Operation::ALL),
        mut body in any_json(&[]).prop_filter("not an object", |v| !v.is_object()),
    ) {
        let r = validate(op.input_shape(), &mut body);
        prop_assert!(matches!(r, Err(Rejection::Serialization(_))), "{:?}", r);
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Every pattern of the model takes any string (a backtracking limit is not a panic).
    #[test]
    fn patterns_take_any_string(s in prop_oneof![".{0,64}", "[-_.:@+=/ a-zA-Z0-9{}#\\\\]{0,64}"]) {
        for p in ALL_PATTERNS {
            let _ = p.is_match(&s);
        }
    }
}

/// The tidy generator still reaches both outcomes (a guard against a generator that
/// silently only ever produces refused bodies, which would leave `Ok` untested).
#[test]
fn tidy_generator_reaches_ok_and_invalid() {
    let mut runner = TestRunner::deterministic();
    let strategy = op_and(|s, p| for_shape(s, p, false));
    let (mut ok, mut invalid, mut ops_ok) = (0, 0, std::collections::BTreeSet::new());
    for _ in 0..400 {
        let (op, mut body) = strategy.new_tree(&mut runner).unwrap().current();
        match validate(op.input_shape(), &mut body) {
            Ok(()) => {
                ok += 1;
                ops_ok.insert(op.name());
            }
            Err(Rejection::Invalid(_)) => invalid += 1,
            Err(Rejection::Serialization(m)) => panic!("{op:?}: {m}"),
        }
    }
    assert!(ok >= 40 && invalid >= 40, "ok {ok}, invalid {invalid}");
    assert!(ops_ok.len() >= 20, "{ops_ok:?}");
}
