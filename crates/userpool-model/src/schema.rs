//! Static descriptions of the model's shapes, as `generated/shapes.rs` spells them.

use std::sync::LazyLock;

/// One shape of the model with the constraints validation checks.
#[derive(Debug)]
pub struct Shape {
    /// The model's shape name.
    pub name: &'static str,
    /// What JSON value it is and what it contains.
    pub kind: ShapeKind,
    /// `min`: length for strings, lists, maps and blobs; value for numbers.
    pub min: Option<i64>,
    /// `max`: as `min`.
    pub max: Option<i64>,
    /// `pattern`, matched against the whole string.
    pub pattern: Option<&'static Pattern>,
    /// `enum`: the allowed values (empty when the shape is not an enum).
    pub enum_values: &'static [&'static str],
    /// `sensitive`: the value is never echoed in an error message.
    pub sensitive: bool,
}

/// The JSON form of a shape.
#[derive(Debug)]
pub enum ShapeKind {
    /// An object with named members.
    Structure(&'static [Member]),
    /// An array of the member shape.
    List(&'static Shape),
    /// An object of key shape → value shape.
    Map(&'static Shape, &'static Shape),
    /// A JSON string.
    String,
    /// A JSON integer within i32.
    Integer,
    /// A JSON integer within i64.
    Long,
    /// true / false.
    Boolean,
    /// Epoch seconds as a JSON number.
    Timestamp,
    /// Base64 in a JSON string.
    Blob,
    /// Any JSON (`document` trait).
    Document,
}

/// A member of a structure.
#[derive(Debug)]
pub struct Member {
    /// The wire name (`DeviceKey`).
    pub name: &'static str,
    /// Its shape.
    pub shape: &'static Shape,
    /// Whether the model lists it as required.
    pub required: bool,
}

/// A model pattern, compiled on first use and kept for the life of the process.
pub struct Pattern {
    /// The pattern as the model writes it (Java syntax); this is what error messages quote.
    pub source: &'static str,
    /// The anchored Rust translation, compiled once (see `codegen`'s `translate_java_regex`).
    pub(crate) compiled: LazyLock<Option<fancy_regex::Regex>>,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.source)
    }
}

/// Compiles a translated pattern; `None` only if it does not compile, which a unit test
/// rules out for every pattern of the model.
pub(crate) fn compile(translated: &str) -> Option<fancy_regex::Regex> {
    fancy_regex::Regex::new(translated).ok()
}

impl Pattern {
    /// Whether `value` matches the whole pattern. A value that exceeds the engine's
    /// backtracking limit is not rejected by the pattern (the length limits still apply).
    pub fn is_match(&self, value: &str) -> bool {
        match &*self.compiled {
            Some(re) => re.is_match(value).unwrap_or(true),
            None => true,
        }
    }

    /// Whether the pattern compiled.
    pub fn compiles(&self) -> bool {
        self.compiled.is_some()
    }
}
