//! Property tests of the SigV4 header parser and the verifier: arbitrary and near-valid
//! `Authorization` headers, arbitrary requests. Never a panic; always `Ok` or a
//! [`SigV4Error`]; what parses round-trips; what is signed verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use hmac::{Hmac, Mac};
use proptest::prelude::*;
use proptest::test_runner::Config;
use sha2::Sha256;
use userpool_sigv4::{
    canonical_request, format_amz_date, parse_amz_date, parse_authorization, signing_key, string_to_sign,
    Authorization, Expect, SigV4Error, SignedRequest, Verifier, ALGORITHM,
};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, the dates `yyyymmddThhmmssZ` can spell.
const YEAR_0: i64 = -62_167_219_200;
const YEAR_9999_END: i64 = 253_402_300_799;

/// What any `Ok` of the parser must satisfy.
fn check_parsed(header: &str, r: &Result<Authorization, SigV4Error>) -> Result<(), TestCaseError> {
    match r {
        Ok(a) => {
            prop_assert_eq!(a.signature.len(), 32);
            prop_assert!(!a.signed_headers.is_empty());
            for h in &a.signed_headers {
                prop_assert!(!h.is_empty());
                prop_assert_eq!(h, &h.to_ascii_lowercase());
            }
            for part in [&a.access_key_id, &a.date, &a.region, &a.service] {
                prop_assert!(!part.contains('/'), "{:?}", a);
            }
            prop_assert!(header.starts_with(ALGORITHM));
        }
        Err(SigV4Error::Incomplete(m) | SigV4Error::BadScope(m)) => prop_assert!(!m.is_empty()),
        Err(e) => prop_assert!(false, "the parser answered {:?}", e),
    }
    Ok(())
}

/// Characters that are safe inside a credential part or a header name (no separator).
const PART: &str = "[A-Za-z0-9_.~+-]{1,16}";

/// A valid header's pieces and the `Authorization` they must parse to.
#[derive(Debug, Clone)]
struct Pieces {
    auth: Authorization,
    /// Spelling of the signed headers (any case; the parser lowercases).
    signed_spelling: Vec<String>,
    /// `true`: upper-case hex digits.
    upper_hex: bool,
    /// Separator after each `,` (AWS SDKs send `", "`; some clients `","`).
    space: String,
    /// Order of Credential, SignedHeaders, Signature (a permutation of 0..3).
    order: Vec<usize>,
    /// Unknown `k=v` parameters, ignored by the parser.
    extra: Vec<String>,
}

fn pieces() -> impl Strategy<Value = Pieces> {
    (
        (PART, "[0-9]{8}", PART, PART),
        prop::collection::vec("[A-Za-z0-9-]{1,12}", 1..6),
        prop::collection::vec(any::<u8>(), 32),
        any::<bool>(),
        prop_oneof![Just(""), Just(" "), Just("  "), Just("\t")],
        Just(vec![0usize, 1, 2]).prop_shuffle(),
        prop::collection::vec("[A-Za-z]{1,8}=[A-Za-z0-9/]{0,8}", 0..2),
    )
        .prop_map(
            |((key, date, region, service), signed, signature, upper_hex, space, order, extra)| Pieces {
                auth: Authorization {
                    access_key_id: key,
                    date,
                    region,
                    service,
                    signed_headers: signed.iter().map(|h| h.to_ascii_lowercase()).collect(),
                    signature,
                },
                signed_spelling: signed,
                upper_hex,
                space: space.into(),
                order,
                extra,
            },
        )
}

fn render(p: &Pieces) -> String {
    let sig = hex::encode(&p.auth.signature);
    let sig = if p.upper_hex { sig.to_ascii_uppercase() } else { sig };
    let params = [
        format!("Credential={}/{}", p.auth.access_key_id, p.auth.scope()),
        format!("SignedHeaders={}", p.signed_spelling.join(";")),
        format!("Signature={sig}"),
    ];
    let mut parts: Vec<String> = p.order.iter().map(|&i| params[i].clone()).collect();
    parts.extend(p.extra.iter().cloned());
    format!("{ALGORITHM} {}", parts.join(&format!(",{}", p.space)))
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, char),
    Delete(usize),
    Duplicate(usize, usize),
    Truncate(usize),
    Replace(usize, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        prop::sample::select(vec![',', '=', '/', ';', ' ', '\t', 'é', '\u{0}', 'ß', '😀', 'A', '0']),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), 1usize..20).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), interesting).prop_map(|(i, c)| Mutation::Replace(i, c)),
    ]
}

/// Applies mutations on characters (so every result is a valid `str`).
fn mutate(s: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for m in mutations {
        let n = chars.len();
        match *m {
            Mutation::Insert(i, c) => chars.insert(i % (n + 1), c),
            Mutation::Delete(i) if n > 0 => {
                chars.remove(i % n);
            }
            Mutation::Duplicate(i, len) if n > 0 => {
                let at = i % n;
                let piece: Vec<char> = chars[at..(at + len).min(n)].to_vec();
                chars.splice(at..at, piece);
            }
            Mutation::Truncate(i) => chars.truncate(i % (n + 1)),
            Mutation::Replace(i, c) if n > 0 => chars[i % n] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any string at all.
    #[test]
    fn parse_any_string(header in prop_oneof![
        ".*",
        ".*".prop_map(|s| format!("{ALGORITHM} {s}")),
        "[ ,=/;a-zA-Z0-9]*".prop_map(|s| format!("{ALGORITHM} {s}")),
    ]) {
        let r = parse_authorization(&header);
        check_parsed(&header, &r)?;
    }

    /// A valid header, however spaced and ordered, parses to exactly its pieces.
    #[test]
    fn parse_round_trip(p in pieces()) {
        let header = render(&p);
        prop_assert_eq!(parse_authorization(&header), Ok(p.auth.clone()), "{}", header);
    }

    /// A valid header with a few character-level mutations.
    #[test]
    fn parse_mutated(p in pieces(), mutations in prop::collection::vec(mutation(), 1..5)) {
        let header = mutate(&render(&p), &mutations);
        let r = parse_authorization(&header);
        check_parsed(&header, &r)?;
    }

    /// `yyyymmddThhmmssZ` round-trips for every second of years 0000..9999; the
    /// formatter takes any i64.
    #[test]
    fn amz_date_round_trip(secs in YEAR_0..=YEAR_9999_END, any_secs in any::<i64>()) {
        let s = format_amz_date(secs);
        prop_assert_eq!(parse_amz_date(&s), Some(secs), "{}", s);
        let _ = format_amz_date(any_secs);
    }

    /// The date parser on arbitrary and near-valid strings.
    #[test]
    fn amz_date_any_string(s in prop_oneof![
        ".{0,20}",
        "[0-9+-]{8}T[0-9+-]{6}Z",
        "[0-9]{8}T[0-9]{6}Z",
        "[0-9]{4}[0-1][0-9][0-3][0-9]T[0-2][0-9][0-5][0-9][0-6][0-9]Z",
    ]) {
        // Years -999..=9999 (a sign counts as a digit), months 1..=12, days 1..=31.
        if let Some(secs) = parse_amz_date(&s) {
            prop_assert!((-94_000_000_000..=YEAR_9999_END + 3 * 86_400).contains(&secs), "{} {}", s, secs);
        }
    }
}

/// A header name: the two the verifier requires, common ones, or arbitrary.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Host",
            "host",
            "X-Amz-Date",
            "x-amz-date",
            "Content-Type",
            "X-Amz-Target"
        ])
        .prop_map(str::to_string),
        "[A-Za-z0-9-]{1,12}",
        ".{0,8}",
    ]
}

/// A header value: near-valid dates (of the instant `now`) or arbitrary text.
fn header_value(now: i64) -> impl Strategy<Value = String> {
    prop_oneof![
        (-1_000i64..1_000).prop_map(move |d| format_amz_date(now + d)),
        ".{0,24}",
        "[ \t]{0,3}[a-z0-9.:-]{0,16}[ \t]{0,3}",
    ]
}

/// An arbitrary request with an `Authorization` for it (parsed from a near-valid header,
/// so some scopes and signed headers match), a clock and expectations.
#[derive(Debug, Clone)]
struct Case {
    now: i64,
    headers: Vec<(String, String)>,
    method: String,
    path: String,
    query: String,
    body: Vec<u8>,
    pieces: Pieces,
    service: String,
    region: Option<String>,
    skew: i64,
    normalize: bool,
    secret: String,
}

fn arbitrary_case() -> impl Strategy<Value = Case> {
    (0i64..=YEAR_9999_END - 86_400).prop_flat_map(|now| {
        let headers = (
            prop::option::weighted(0.8, header_value(now)),
            prop::option::weighted(0.8, header_value(now)),
            prop::collection::vec((header_name(), header_value(now)), 0..5),
        )
            .prop_map(|(host, date, extra)| {
                let mut headers: Vec<(String, String)> = Vec::new();
                headers.extend(host.map(|v| ("Host".to_string(), v)));
                headers.extend(date.map(|v| ("X-Amz-Date".to_string(), v)));
                headers.extend(extra);
                headers
            });
        let request = (
            prop_oneof![Just("POST".to_string()), "[A-Z]{0,7}", ".{0,4}"],
            prop_oneof!["(/[a-z0-9%.]{0,4}){0,5}/?", ".{0,24}"],
            prop_oneof!["([a-zA-Z0-9%+=&.~-]{0,6}&?){0,4}", ".{0,24}"],
            prop::collection::vec(any::<u8>(), 0..64),
        );
        let pieces = (pieces(), any::<bool>()).prop_map(move |(mut p, plausible)| {
            // Half the time the scope of the clock's date, with host and x-amz-date signed.
            if plausible {
                p.auth.date = format_amz_date(now)[..8].to_string();
                p.auth.service = "cognito-idp".into();
                p.auth.region = "us-east-1".into();
                p.signed_spelling = vec!["Host".to_string(), "X-Amz-Date".to_string()];
                p.auth.signed_headers = p.signed_spelling.iter().map(|h| h.to_ascii_lowercase()).collect();
            }
            p
        });
        let expect = (
            prop_oneof![Just("cognito-idp".to_string()), PART],
            prop::option::of(prop_oneof![Just("us-east-1".to_string()), PART]),
            0i64..=86_400,
            any::<bool>(),
        );
        (headers, request, pieces, expect, ".{0,12}").prop_map(
            move |(headers, (method, path, query, body), pieces, (service, region, skew, normalize), secret)| Case {
                now,
                headers,
                method,
                path,
                query,
                body,
                pieces,
                service,
                region,
                skew,
                normalize,
                secret,
            },
        )
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// `check_request` and `verify` on arbitrary requests: typed errors only, and a random
    /// signature never verifies.
    #[test]
    fn verify_arbitrary_requests(c in arbitrary_case()) {
        let header = render(&c.pieces);
        let auth = parse_authorization(&header).unwrap();
        let req = SignedRequest {
            method: &c.method,
            path: &c.path,
            query: &c.query,
            headers: c.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            body: &c.body,
        };
        let expect = Expect {
            service: &c.service,
            region: c.region.as_deref(),
            max_skew_secs: c.skew,
            normalize: c.normalize,
        };
        let v = Verifier::new();
        let checked = v.check_request(&req, &auth, &expect, c.now);
        let verified = v.verify(&req, &auth, &c.secret, &expect, c.now);
        prop_assert!(verified.is_err());
        match checked {
            Ok(()) => prop_assert_eq!(verified, Err(SigV4Error::Mismatch)),
            Err(e) => {
                prop_assert!(!matches!(e, SigV4Error::Missing | SigV4Error::Mismatch), "{:?}", e);
                prop_assert_eq!(verified, Err(e));
            }
        }
        let _ = canonical_request(&req, &auth.signed_headers, c.normalize);
    }
}

/// Signs `req` as a client would, with the crate's own canonical request.
fn sign(req: &SignedRequest<'_>, auth: &Authorization, secret: &str, amz_date: &str, normalize: bool) -> Vec<u8> {
    let creq = canonical_request(req, &auth.signed_headers, normalize);
    let sts = string_to_sign(amz_date, &auth.scope(), &creq);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(sts.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

proptest! {
    #![proptest_config(config(256))]

    /// A request signed with the right secret verifies, through a header the parser read;
    /// a flipped signature bit, a wrong secret or a clock past the window do not.
    #[test]
    fn signed_requests_verify(
        now in 0i64..=YEAR_9999_END - 86_400,
        lag in -300i64..=300,
        extra in prop::collection::vec(("[A-Za-z0-9-]{1,12}", ".{0,24}"), 0..5),
        method in prop_oneof![Just("POST".to_string()), "[A-Z]{1,7}"],
        path in prop_oneof!["(/[a-z0-9%.]{0,4}){0,5}/?", "/.{0,24}"],
        query in prop_oneof!["([a-zA-Z0-9%+=&.~-]{0,6}&?){0,4}", ".{0,24}"],
        body in prop::collection::vec(any::<u8>(), 0..64),
        (key, region, secret) in (PART, PART, ".{0,40}"),
        normalize in any::<bool>(),
        flip in 0usize..256,
    ) {
        let amz_date = format_amz_date(now + lag);
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), "cognito-idp.example".into()),
            ("X-Amz-Date".into(), amz_date.clone()),
        ];
        headers.extend(extra);
        let mut signed: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        signed.sort();
        signed.dedup();
        let mut auth = Authorization {
            access_key_id: key,
            date: amz_date[..8].to_string(),
            region,
            service: "cognito-idp".into(),
            signed_headers: signed,
            signature: Vec::new(),
        };
        let req = SignedRequest {
            method: &method,
            path: &path,
            query: &query,
            headers: headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            body: &body,
        };
        auth.signature = sign(&req, &auth, &secret, &amz_date, normalize);
        let header = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            auth.access_key_id,
            auth.scope(),
            auth.signed_headers.join(";"),
            hex::encode(&auth.signature)
        );
        let parsed = parse_authorization(&header).unwrap();
        prop_assert_eq!(&parsed, &auth);
        let expect = Expect { service: "cognito-idp", region: None, max_skew_secs: 300, normalize };
        let v = Verifier::new();
        prop_assert_eq!(v.verify(&req, &parsed, &secret, &expect, now), Ok(()));
        // Twice: the second time from the key cache.
        prop_assert_eq!(v.verify(&req, &parsed, &secret, &expect, now), Ok(()));
        let mut flipped = parsed.clone();
        flipped.signature[flip / 8] ^= 1 << (flip % 8);
        prop_assert_eq!(v.verify(&req, &flipped, &secret, &expect, now), Err(SigV4Error::Mismatch));
        prop_assert_eq!(v.verify(&req, &parsed, &format!("{secret}x"), &expect, now), Err(SigV4Error::Mismatch));
        prop_assert!(matches!(v.verify(&req, &parsed, &secret, &expect, now + 601), Err(SigV4Error::Expired(_))));
    }
}
