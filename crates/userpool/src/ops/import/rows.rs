//! The user import file's rules: the header GetCSVHeader gives, the header a file must
//! carry, and what one row must hold to become a user (the developer guide's "Formatting
//! the CSV file").
//!
//! - The header names every column of [`header`] once, in any order; a column missing,
//!   unknown or repeated fails the job (Cognito "is unable to parse the .csv file").
//! - A row holds one value per column. A value's leading and trailing white space is
//!   trimmed. A comma inside a value is written `\,` (the guide's rule); RFC 4180 quoting
//!   (`"a,b"`, which Python's `csv` module and spreadsheets write) is read as well.
//! - `cognito:username` is required, at most 128 characters, without spaces or tabs, and
//!   follows the pool's username rules as AdminCreateUser's `Username` does (with email
//!   or phone number as the username, it must be one, and the user's username is its sub).
//! - `cognito:mfa_enabled` is `true` or `false` (any case): `true` where the pool
//!   requires MFA, `false` where MFA is off. `true` turns SMS MFA on (and preferred) for a
//!   user with a phone number when the pool offers SMS MFA; otherwise the pool's own MFA
//!   setting governs the user's sign-in.
//! - `email_verified` and `phone_number_verified` are empty, `true` or `false`; one of
//!   the pool's auto-verified attributes must be `true` (so with one auto-verified
//!   attribute, that one), and a `true` one needs its attribute's value.
//! - `birthdate` is `mm/dd/yyyy` in the file, kept as `YYYY-MM-DD` (the form the
//!   attribute has everywhere else); `updated_at` is epoch seconds.
//! - Every other value is checked against the schema as AdminCreateUser checks its
//!   attributes (types, lengths, email and phone number forms), and the pool's required
//!   attributes must have values.
//! - A row longer than 16,000 characters fails. A record whose raw bytes pass four
//!   times that (64,000 bytes and a little, more than any 16,000 characters can take)
//!   fails the whole file as soon as the reader has read that much of it ("The row at
//!   line N of the CSV file is longer than 16000 characters."), so that no larger record
//!   is ever held in memory.
//!
//! A row that breaks a rule is a failed user (`FailedUsers`), with the reason logged;
//! the job goes on. The user is created `RESET_REQUIRED`, enabled, without a password.

use crate::ops::mfa::{UserMfa, SMS};
use crate::ops::users::{self, Pool};
use userpool_model::types::{AttributeType, UserPoolMfaType};
use userpool_store::UserRecord;

/// The standard columns of the header, in the order GetCSVHeader lists them (the
/// developer guide's sample answer); the pool's custom attributes follow.
pub const STANDARD: [&str; 21] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "cognito:mfa_enabled",
    "cognito:username",
];

/// The username column.
pub const USERNAME: &str = "cognito:username";
/// The MFA column.
pub const MFA_ENABLED: &str = "cognito:mfa_enabled";
/// The longest row, in characters.
pub const MAX_ROW_CHARS: usize = 16_000;
/// The most rows (users) a file may hold, the header aside.
pub const MAX_ROWS: u64 = 500_000;

/// "The User Record does not set any of the auto verified attributes to true. ..." (the
/// developer guide's example of a failed user's log line).
pub const NO_AUTO_VERIFIED: &str =
    "The User Record does not set any of the auto verified attributes to true. (Example: email_verified to true).";

/// The header of a pool's import file: the standard columns, then its custom attributes
/// (as the schema names them, `custom:` or `dev:custom:`), in schema order.
pub fn header(pool: &Pool) -> Vec<String> {
    let mut out: Vec<String> = STANDARD.iter().map(|s| (*s).to_string()).collect();
    for s in pool.settings().schema_attributes.as_deref().unwrap_or_default() {
        if let Some(name) = s.name.as_deref().filter(|n| n.contains("custom:")) {
            out.push(name.to_string());
        }
    }
    out
}

/// A file's header, checked against the pool's: the index of each column.
#[derive(Debug, Clone)]
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    /// Checks a file's header: every column of [`header`] once, nothing else. The error
    /// is the job's CompletionMessage (and is logged): a name from the file in it is
    /// escaped ([`crate::protocol::printable`]), so that it cannot forge a log line.
    pub fn check(pool: &Pool, file: &[String]) -> Result<Columns, String> {
        let expected = header(pool);
        let names: Vec<String> = file
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let n = n.trim();
                // A byte order mark before the first name is not part of it.
                if i == 0 {
                    n.trim_start_matches('\u{feff}').to_string()
                } else {
                    n.to_string()
                }
            })
            .collect();
        for (i, n) in names.iter().enumerate() {
            if names.iter().skip(i + 1).any(|m| m == n) {
                let n = crate::protocol::printable(n);
                return Err(cut(format!("The CSV header names the column {n} twice.")));
            }
            if !expected.contains(n) {
                let n = crate::protocol::printable(n);
                return Err(cut(format!(
                    "The CSV header column {n} is not an attribute of the user pool."
                )));
            }
        }
        if let Some(missing) = expected.iter().find(|e| !names.contains(e)) {
            return Err(cut(format!("The CSV header is missing the column {missing}.")));
        }
        Ok(Columns { names })
    }

    /// How many columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none (never, once checked).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A CompletionMessage is at most 128 characters.
fn cut(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(128) {
        s.truncate(i);
    }
    s
}

/// Joins the values a `\,` split: a value ending in a backslash continues, after a comma,
/// with the next one.
pub fn unescape_commas(fields: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(fields.len());
    let mut rest = fields.into_iter().peekable();
    while let Some(mut value) = rest.next() {
        while value.ends_with('\\') {
            let Some(next) = rest.next() else { break };
            value.pop();
            value.push(',');
            value.push_str(&next);
        }
        out.push(value);
    }
    out
}

/// `mm/dd/yyyy` as `yyyy-mm-dd`.
fn birthdate(v: &str) -> Option<String> {
    let mut parts = v.split('/');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(m, 2) || !digits(d, 2) || !digits(y, 4) {
        return None;
    }
    let (mn, dn) = (m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
    if !(1..=12).contains(&mn) || !(1..=31).contains(&dn) {
        return None;
    }
    Some(format!("{y}-{m}-{d}"))
}

/// One row as the user it makes (`RESET_REQUIRED`, no password), or why it makes none
/// (the reason logged for its line). `fields` are the row's values as the CSV reader
/// split them.
pub fn check_row(pool: &Pool, columns: &Columns, fields: Vec<String>, now_ms: i64) -> Result<UserRecord, String> {
    let chars: usize = fields.iter().map(|f| f.chars().count()).sum::<usize>() + fields.len().saturating_sub(1);
    if chars > MAX_ROW_CHARS {
        return Err(format!("The row is longer than {MAX_ROW_CHARS} characters."));
    }
    let fields = unescape_commas(fields);
    if fields.len() != columns.len() {
        return Err(format!(
            "The row has {} values but the header has {} columns.",
            fields.len(),
            columns.len()
        ));
    }
    let values: Vec<(&str, &str)> = columns
        .names
        .iter()
        .map(String::as_str)
        .zip(fields.iter().map(|f| f.trim()))
        .collect();
    let value = |name: &str| values.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| *v);
    let username = value(USERNAME);
    if username.is_empty() {
        return Err("The cognito:username value is required.".into());
    }
    if username.contains([' ', '\t']) {
        return Err("The cognito:username value cannot contain spaces or tabs.".into());
    }
    if username.chars().count() > 128 {
        return Err("The cognito:username value is longer than 128 characters.".into());
    }
    let mfa = match value(MFA_ENABLED).to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => return Err("The cognito:mfa_enabled value must be true or false.".into()),
    };
    match pool.settings().mfa_configuration {
        Some(UserPoolMfaType::On) if !mfa => {
            return Err("The cognito:mfa_enabled value must be true: the user pool requires MFA.".into())
        }
        Some(UserPoolMfaType::Off) | None if mfa => {
            return Err("The cognito:mfa_enabled value must be false: MFA is off in the user pool.".into())
        }
        _ => {}
    }
    let mut attributes = Vec::new();
    for (name, v) in &values {
        if v.is_empty() || name.starts_with("cognito:") {
            continue;
        }
        let v = match *name {
            "email_verified" | "phone_number_verified" => match v.to_ascii_lowercase().as_str() {
                b @ ("true" | "false") => b.to_string(),
                _ => return Err(format!("The {name} value must be true or false.")),
            },
            "birthdate" => {
                birthdate(v).ok_or_else(|| "The birthdate value must be in the format mm/dd/yyyy.".to_string())?
            }
            _ => (*v).to_string(),
        };
        attributes.push(AttributeType {
            name: (*name).to_string(),
            value: Some(v),
        });
    }
    let verified = |attr: &str| {
        attributes
            .iter()
            .any(|a| a.name == format!("{attr}_verified") && a.value.as_deref() == Some("true"))
    };
    let auto = pool.settings().auto_verified_attributes.clone().unwrap_or_default();
    if !auto.iter().any(|a| verified(a.as_str())) {
        return Err(NO_AUTO_VERIFIED.into());
    }
    for attr in ["email", "phone_number"] {
        if verified(attr) && value(attr).is_empty() {
            return Err(format!("The {attr} value is required when {attr}_verified is true."));
        }
    }
    users::check_attributes(pool, &attributes, true).map_err(|e| e.message)?;
    let identity = users::new_identity(pool, username, &attributes).map_err(|e| e.message)?;
    users::check_required(pool, &identity.2).map_err(|e| e.message)?;
    let mut user = users::new_user(pool, identity, "RESET_REQUIRED", None, now_ms);
    if mfa && !value("phone_number").is_empty() && pool.mfa().sms.is_some() {
        UserMfa {
            enabled: vec![SMS.to_string()],
            preferred: Some(SMS.to_string()),
            ..UserMfa::default()
        }
        .store(&mut user);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use userpool_model::types::{
        AttributeDataType, SchemaAttributeType, StringAttributeConstraintsType, UserPoolType, VerifiedAttributeType,
    };
    use userpool_store::PoolRecord;

    fn pool(auto: Vec<VerifiedAttributeType>, mfa: Option<UserPoolMfaType>) -> Pool {
        let string = |name: &str, required: bool| SchemaAttributeType {
            name: Some(name.into()),
            attribute_data_type: Some(AttributeDataType::String),
            mutable: Some(true),
            required: Some(required),
            string_attribute_constraints: Some(StringAttributeConstraintsType {
                min_length: Some("0".into()),
                max_length: Some("2048".into()),
            }),
            ..SchemaAttributeType::default()
        };
        let mut schema: Vec<SchemaAttributeType> = STANDARD
            .iter()
            .filter(|n| !n.starts_with("cognito:"))
            .map(|n| string(n, false))
            .collect();
        for s in &mut schema {
            if matches!(s.name.as_deref(), Some("email_verified" | "phone_number_verified")) {
                s.attribute_data_type = Some(AttributeDataType::Boolean);
                s.string_attribute_constraints = None;
            }
            if s.name.as_deref() == Some("updated_at") {
                s.attribute_data_type = Some(AttributeDataType::Number);
                s.string_attribute_constraints = None;
            }
        }
        schema.push(string("sub", true));
        schema.push(string("custom:team", false));
        let settings = UserPoolType {
            schema_attributes: Some(schema),
            auto_verified_attributes: Some(auto),
            mfa_configuration: mfa,
            ..UserPoolType::default()
        };
        let record = PoolRecord {
            id: "us-east-1_test".into(),
            name: "p".into(),
            created_ms: 1,
            modified_ms: 1,
            settings: String::new(),
        };
        Pool::from_parts(record, settings)
    }

    fn columns(p: &Pool) -> Columns {
        Columns::check(p, &header(p)).unwrap()
    }

    /// A row in the header's order from `(column, value)` pairs (others empty), split on
    /// its commas as the CSV reader splits an unquoted line.
    fn row(p: &Pool, values: &[(&str, &str)]) -> Vec<String> {
        let line: Vec<String> = header(p)
            .iter()
            .map(|h| {
                values
                    .iter()
                    .find(|(n, _)| n == h)
                    .map_or(String::new(), |(_, v)| (*v).to_string())
            })
            .collect();
        line.join(",").split(',').map(str::to_string).collect()
    }

    const ALICE: &[(&str, &str)] = &[
        ("cognito:username", "alice"),
        ("cognito:mfa_enabled", "FALSE"),
        ("email", " alice@example.com "),
        ("email_verified", "TRUE"),
        ("birthdate", "02/01/1985"),
        ("custom:team", "red\\, blue"),
    ];

    #[test]
    fn the_header_lists_the_standard_columns_then_the_custom_ones() {
        let p = pool(vec![VerifiedAttributeType::Email], None);
        let h = header(&p);
        assert_eq!(h.first().map(String::as_str), Some("name"));
        assert_eq!(h.get(20).map(String::as_str), Some("cognito:username"));
        assert_eq!(h.last().map(String::as_str), Some("custom:team"));
        assert_eq!(h.len(), 22);
    }

    #[test]
    fn the_header_must_name_every_column_once_in_any_order() {
        let p = pool(vec![VerifiedAttributeType::Email], None);
        let mut h = header(&p);
        h.reverse();
        h[0] = format!("\u{feff}{}", h[0]);
        assert!(Columns::check(&p, &h).is_ok());
        let missing: Vec<String> = header(&p).into_iter().filter(|n| n != "custom:team").collect();
        assert_eq!(
            Columns::check(&p, &missing).unwrap_err(),
            "The CSV header is missing the column custom:team."
        );
        let mut extra = header(&p);
        extra.push("custom:nope".into());
        assert!(Columns::check(&p, &extra).unwrap_err().contains("custom:nope"));
        let mut twice = header(&p);
        twice.push("email".into());
        assert!(Columns::check(&p, &twice).unwrap_err().contains("twice"));
    }

    #[test]
    fn header_names_in_messages_are_escaped() {
        let p = pool(vec![VerifiedAttributeType::Email], None);
        let mut forged = header(&p);
        forged.push("x\n2024-01-01T00:00:00Z  INFO forged\u{1b}[0m".into());
        let message = Columns::check(&p, &forged).unwrap_err();
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(message.contains("x\\n2024"), "{message:?}");
        let mut twice = header(&p);
        twice.push("a\rb".into());
        twice.push("a\rb".into());
        let message = Columns::check(&p, &twice).unwrap_err();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }

    #[test]
    fn a_good_row_makes_a_reset_required_user_with_its_attributes() {
        let p = pool(vec![VerifiedAttributeType::Email], None);
        let user = check_row(&p, &columns(&p), row(&p, ALICE), 1_000).unwrap();
        assert_eq!(
            (user.username.as_str(), user.status.as_str()),
            ("alice", "RESET_REQUIRED")
        );
        assert!(user.password.is_none() && user.enabled);
        let get = |n: &str| users::attr(&user, n).map(str::to_string);
        assert_eq!(get("email").as_deref(), Some("alice@example.com"));
        assert_eq!(get("email_verified").as_deref(), Some("true"));
        assert_eq!(get("birthdate").as_deref(), Some("1985-02-01"));
        assert_eq!(get("custom:team").as_deref(), Some("red, blue"));
        assert_eq!(get("name"), None);
        assert!(get("sub").is_some());
    }

    #[test]
    fn rows_that_break_a_rule_say_which() {
        let p = pool(vec![VerifiedAttributeType::Email], None);
        let c = columns(&p);
        let with = |changes: &[(&str, &str)]| {
            let mut values: Vec<(&str, &str)> = ALICE.to_vec();
            for (n, v) in changes {
                values.retain(|(m, _)| m != n);
                values.push((n, v));
            }
            check_row(&p, &c, row(&p, &values), 1).unwrap_err()
        };
        assert_eq!(with(&[("email_verified", "false")]), NO_AUTO_VERIFIED);
        assert_eq!(with(&[("email_verified", "")]), NO_AUTO_VERIFIED);
        assert!(with(&[("cognito:username", "")]).contains("required"));
        assert!(with(&[("cognito:username", "al ice")]).contains("spaces or tabs"));
        assert!(with(&[("cognito:mfa_enabled", "")]).contains("true or false"));
        assert!(with(&[("cognito:mfa_enabled", "true")]).contains("must be false"));
        assert!(with(&[("email", "")]).contains("email value is required"));
        assert_eq!(with(&[("email", "not-an-email")]), "Invalid email address format.");
        assert!(with(&[("birthdate", "1985-02-01")]).contains("mm/dd/yyyy"));
        assert!(with(&[("updated_at", "yesterday")]).contains("updated_at"));
        assert!(with(&[("phone_number_verified", "yes")]).contains("true or false"));
        let mut short = row(&p, ALICE.get(..5).unwrap());
        short.pop();
        assert!(check_row(&p, &c, short, 1)
            .unwrap_err()
            .contains("header has 22 columns"));
        let mut long = row(&p, ALICE);
        long[0] = "x".repeat(MAX_ROW_CHARS);
        assert!(check_row(&p, &c, long, 1).unwrap_err().contains("16000"));
    }

    #[test]
    fn the_pools_auto_verified_attribute_and_mfa_setting_decide() {
        // Only phone_number is auto-verified: a verified email is not enough.
        let p = pool(vec![VerifiedAttributeType::PhoneNumber], Some(UserPoolMfaType::On));
        let c = columns(&p);
        let mut values: Vec<(&str, &str)> = ALICE.to_vec();
        values.retain(|(n, _)| *n != "cognito:mfa_enabled");
        values.push(("cognito:mfa_enabled", "true"));
        assert_eq!(check_row(&p, &c, row(&p, &values), 1).unwrap_err(), NO_AUTO_VERIFIED);
        values.push(("phone_number", "+12345550100"));
        values.push(("phone_number_verified", "true"));
        assert!(check_row(&p, &c, row(&p, &values), 1).is_ok());
        values.retain(|(n, _)| *n != "cognito:mfa_enabled");
        values.push(("cognito:mfa_enabled", "false"));
        assert!(check_row(&p, &c, row(&p, &values), 1)
            .unwrap_err()
            .contains("must be true"));
    }

    #[test]
    fn escaped_commas_join_their_values() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert_eq!(unescape_commas(v(&["a\\", "b", "c"])), v(&["a,b", "c"]));
        assert_eq!(unescape_commas(v(&["a\\", "b\\", "c"])), v(&["a,b,c"]));
        assert_eq!(unescape_commas(v(&["a", "b"])), v(&["a", "b"]));
        assert_eq!(unescape_commas(v(&["a\\"])), v(&["a\\"]));
    }
}
