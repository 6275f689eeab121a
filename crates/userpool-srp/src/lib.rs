//! `userpool-srp`: the server side of Cognito's SRP-6a, byte for byte as
//! amazon-cognito-identity-js and pycognito compute the client side
//! (`../shared/notes/srp.md`).
//!
//! - Group: the 3072-bit MODP prime of RFC 3526, g = 2, H = SHA-256 over bytes.
//! - [`pad`]: Java `BigInteger.toByteArray()` (minimal two's complement, a `00` sign byte
//!   when the top bit is set); every hash input is padded this way, never to |N|.
//! - `k = H(pad(N) ‖ pad(g))`, `x = H(pad(salt) ‖ H(poolName ‖ userId ‖ ":" ‖ password))`,
//!   `v = g^x`, `B = k·v + g^b`, `u = H(pad(A) ‖ pad(B))`, `S = (A·v^u)^b`,
//!   `K = HKDF-SHA256(salt = pad(u), ikm = pad(S), info = "Caldera Derived Key")[..16]`,
//!   signature = `HMAC(K, poolName ‖ userId ‖ secretBlock ‖ timestamp)`.
//! - Devices use the same math with DeviceGroupKey in the pool-name slot and DeviceKey in
//!   the user slot; their verifier is made by the client.
//!
//! GMP (through `rug`) does the modular arithmetic: a full sign-in is three 3072-bit
//! exponentiations, and GMP's `mpz_powm_sec` does them in constant time and 4-5x faster
//! than the pure-Rust crates measured (num-bigint took 6 ms for one `g^b`). The server's
//! private `b` is 256 random bits: the group offers about 128-bit security, and a 256-bit
//! exponent keeps the discrete logarithm of `B` at 2^128 work (RFC 5054 asks for at least
//! 256 bits), at a quarter of the cost of the 1024-bit `a` the clients draw.

use hmac::{Hmac, Mac};
use rug::integer::Order;
use rug::Integer;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The big integers of this crate.
pub type Int = Integer;

/// An integer from big-endian bytes.
pub fn from_bytes_be(bytes: &[u8]) -> Int {
    Integer::from_digits(bytes, Order::Msf)
}

/// Big-endian bytes of a non-negative integer (empty for zero).
pub fn to_bytes_be(n: &Int) -> Vec<u8> {
    n.to_digits::<u8>(Order::Msf)
}

/// `g^e mod N` for exponents of up to 256 bits (every `x` and `b` of this crate) from a
/// table of `g^(j·256^i)` built once (32 rows of 256, 3 MiB): at most 32 modular
/// multiplications instead of 256 squarings, 8x faster than `mpz_powm_sec`. The table is
/// read at positions given by the exponent's bytes; each exponent is used once per
/// sign-in (`b`) or is a salted hash (`x`), which leaves a cache-timing observer no
/// repeated measurements of the same secret to combine.
pub fn pow_g(e: &Int) -> Int {
    static TABLE: LazyLock<Vec<Vec<Int>>> = LazyLock::new(|| {
        let group = &*GROUP;
        let mut rows = Vec::with_capacity(32);
        let mut base = group.g.clone();
        for _ in 0..32 {
            let mut row = Vec::with_capacity(256);
            let mut acc = Integer::from(1);
            for _ in 0..256 {
                row.push(acc.clone());
                acc *= &base;
                acc %= &group.n;
            }
            // `acc` is now base^256: the next row's base.
            base = acc;
            rows.push(row);
        }
        rows
    });
    let group = &*GROUP;
    let bytes = to_bytes_be(e);
    if bytes.len() > 32 {
        return powm(&group.g, e, &group.n);
    }
    let mut out = Integer::from(1);
    for (i, byte) in bytes.iter().rev().enumerate() {
        if *byte == 0 {
            continue;
        }
        if let Some(entry) = TABLE.get(i).and_then(|row| row.get(usize::from(*byte))) {
            out *= entry;
            out %= &group.n;
        }
    }
    out
}

/// `base^exp mod m` in constant time (`mpz_powm_sec`), for secret exponents.
fn powm(base: &Int, exp: &Int, m: &Int) -> Int {
    if exp.cmp0() == std::cmp::Ordering::Greater {
        base.secure_pow_mod_ref(exp, m).into()
    } else {
        Integer::from(1)
    }
}

type HmacSha256 = Hmac<Sha256>;

const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
);

/// The group constants, computed once.
pub struct Group {
    /// The prime.
    pub n: Int,
    /// The generator (2).
    pub g: Int,
    /// `k = H(pad(N) ‖ pad(g))`.
    pub k: Int,
}

/// The one group Cognito uses.
pub static GROUP: LazyLock<Group> = LazyLock::new(|| {
    let n = Integer::from_str_radix(N_HEX, 16).unwrap_or_default();
    let g = Integer::from(2);
    let k = from_bytes_be(&Sha256::new().chain_update(pad(&n)).chain_update(pad(&g)).finalize());
    Group { n, g, k }
});

/// Why an SRP step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// `A mod N == 0` (or A is not a number).
    #[error("SRP_A is not a valid public value")]
    BadA,
    /// `u == 0`.
    #[error("the scrambling parameter is zero")]
    ZeroU,
}

/// Java `BigInteger.toByteArray()` of a non-negative integer.
pub fn pad(n: &Int) -> Vec<u8> {
    let mut bytes = to_bytes_be(n);
    if bytes.is_empty() {
        bytes.push(0);
    }
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

/// Lowercase hex without padding (`BigInteger.toString(16)`), as SRP_B is sent.
pub fn to_hex(n: &Int) -> String {
    n.to_string_radix(16)
}

/// Parses a hex integer (SRP_A).
pub fn from_hex(s: &str) -> Option<Int> {
    if s.is_empty() || s.len() > 2048 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Integer::from_str_radix(s, 16).ok()
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A fresh user salt: 16 random bytes whose first byte is not zero, so it is canonical
/// (`salt == pad(int(salt))` without a redundant `00`) and both clients hash it alike.
pub fn new_salt() -> [u8; 16] {
    let mut salt: [u8; 16] = rand::random();
    if salt[0] == 0 {
        salt[0] = 1;
    }
    salt
}

/// `x = H(pad(salt) ‖ H(utf8(poolName ‖ userId ‖ ":" ‖ password)))`.
pub fn compute_x(salt: &[u8], pool_name: &str, user_id: &str, password: &str) -> Int {
    let inner = sha256(&[pool_name.as_bytes(), user_id.as_bytes(), b":", password.as_bytes()]);
    let salt = pad(&from_bytes_be(salt));
    from_bytes_be(&sha256(&[&salt, &inner]))
}

/// The verifier `v = g^x mod N` stored for a password.
pub fn verifier(salt: &[u8], pool_name: &str, user_id: &str, password: &str) -> Int {
    pow_g(&compute_x(salt, pool_name, user_id, password))
}

/// A fresh private `b`: 256 random bits (see the crate docs), never zero.
pub fn new_private() -> Int {
    let mut bytes: [u8; 32] = rand::random();
    bytes[0] |= 0x80;
    from_bytes_be(&bytes)
}

/// `B = (k·v + g^b) mod N`.
pub fn server_public(v: &Int, b: &Int) -> Int {
    let group = &*GROUP;
    let gb = pow_g(b);
    let mut out = Integer::from(&group.k * v) + gb;
    out %= &group.n;
    out
}

/// Checks `A mod N != 0`.
pub fn check_a(a: &Int) -> Result<(), SrpError> {
    if a.cmp0() != std::cmp::Ordering::Greater || Integer::from(a % &GROUP.n).cmp0() == std::cmp::Ordering::Equal {
        Err(SrpError::BadA)
    } else {
        Ok(())
    }
}

/// The 16-byte session key `K` the client derived, from the server's side.
pub fn server_key(a: &Int, big_b: &Int, b: &Int, v: &Int) -> Result<[u8; 16], SrpError> {
    check_a(a)?;
    let group = &*GROUP;
    let u = from_bytes_be(&sha256(&[&pad(a), &pad(big_b)]));
    if u.cmp0() == std::cmp::Ordering::Equal {
        return Err(SrpError::ZeroU);
    }
    // `u` is public (a hash of A and B): the faster variable-time exponentiation is fine.
    let vu: Int = v.pow_mod_ref(&u, &group.n).map(Integer::from).unwrap_or_default();
    let mut base = Integer::from(a * &vu);
    base %= &group.n;
    let s = powm(&base, b, &group.n);
    Ok(hkdf(&pad(&u), &pad(&s)))
}

/// The client's side of the key (for test clients and the load harness):
/// `S = (B − k·g^x)^(a + u·x)`, then the same HKDF.
pub fn client_key(a: &Int, big_a: &Int, big_b: &Int, x: &Int) -> Result<[u8; 16], SrpError> {
    let group = &*GROUP;
    let u = from_bytes_be(&sha256(&[&pad(big_a), &pad(big_b)]));
    if u.cmp0() == std::cmp::Ordering::Equal {
        return Err(SrpError::ZeroU);
    }
    let kgx = &group.k * pow_g(x);
    let mut base = big_b - kgx;
    base %= &group.n;
    if base.cmp0() == std::cmp::Ordering::Less {
        base += &group.n;
    }
    let exp = a + Integer::from(&u * x);
    let s = powm(&base, &exp, &group.n);
    Ok(hkdf(&pad(&u), &pad(&s)))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 with info "Caldera Derived Key", first 16 bytes (one expand block).
fn hkdf(salt: &[u8], ikm: &[u8]) -> [u8; 16] {
    let prk = hmac(salt, &[ikm]);
    let okm = hmac(&prk, &[b"Caldera Derived Key", &[1u8]]);
    let mut out = [0u8; 16];
    out.copy_from_slice(okm.get(..16).unwrap_or(&[0u8; 16]));
    out
}

/// `HMAC(K, poolName ‖ userId ‖ secretBlock ‖ timestamp)`: PASSWORD_CLAIM_SIGNATURE.
pub fn claim_signature(
    key: &[u8; 16],
    pool_name: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    hmac(
        key,
        &[
            pool_name.as_bytes(),
            user_id.as_bytes(),
            secret_block,
            timestamp.as_bytes(),
        ],
    )
}

/// Constant-time comparison of a claimed signature.
pub fn signature_matches(expected: &[u8; 32], claimed: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    claimed.len() == 32 && bool::from(expected.as_slice().ct_eq(claimed))
}

/// `Base64(HMAC-SHA256(key = client secret, msg = username ‖ client id))` as raw bytes.
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> [u8; 32] {
    hmac(client_secret.as_bytes(), &[username.as_bytes(), client_id.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/notes/srp-vectors.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn big(v: &Value) -> Int {
        Integer::from_str_radix(v.as_str().unwrap(), 16).unwrap()
    }

    fn b64(v: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    #[test]
    fn group_constants() {
        let v = vectors();
        assert_eq!(GROUP.n, big(&v["group"]["N_hex"]));
        assert_eq!(GROUP.k, big(&v["group"]["k_hex"]));
    }

    #[test]
    fn user_flow_vectors() {
        let v = vectors();
        let u = &v["user_srp"];
        let i = &u["inputs"];
        let salt = hex::decode(i["salt_hex"].as_str().unwrap()).unwrap();
        let pool = i["pool_name"].as_str().unwrap();
        let user = i["USER_ID_FOR_SRP"].as_str().unwrap();
        let pw = i["password"].as_str().unwrap();
        assert_eq!(compute_x(&salt, pool, user, pw), big(&u["x_hex"]));
        let vv = verifier(&salt, pool, user, pw);
        assert_eq!(vv, big(&u["v_hex"]));
        let b = big(&i["b_hex"]);
        let big_b = server_public(&vv, &b);
        assert_eq!(big_b, big(&u["B_hex"]));
        assert_eq!(
            to_hex(&big_b),
            u["PASSWORD_VERIFIER_ChallengeParameters"]["SRP_B"].as_str().unwrap()
        );
        let a = from_hex(u["SRP_A_sent"].as_str().unwrap()).unwrap();
        let key = server_key(&a, &big_b, &b, &vv).unwrap();
        assert_eq!(hex::encode(key), u["key_hex"].as_str().unwrap());
        let block = b64(&i["secret_block_b64"]);
        let ts = u["TIMESTAMP"].as_str().unwrap();
        let sig = claim_signature(&key, pool, user, &block, ts);
        let claimed = b64(&u["RespondToAuthChallenge_ChallengeResponses"]["PASSWORD_CLAIM_SIGNATURE"]);
        assert!(signature_matches(&sig, &claimed));
        // The zero-padded day is a different message, so a different signature.
        let padded = claim_signature(&key, pool, user, &block, u["zero_padded_TIMESTAMP"].as_str().unwrap());
        assert!(!signature_matches(&padded, &claimed));
        let sh = secret_hash(
            i["client_secret"].as_str().unwrap(),
            "alice",
            i["client_id"].as_str().unwrap(),
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(sh),
            u["InitiateAuth_AuthParameters_with_secret"]["SECRET_HASH"]
                .as_str()
                .unwrap()
        );
    }

    #[test]
    fn device_flow_vectors() {
        let v = vectors();
        let d = &v["device"];
        let i = &d["inputs"];
        let cfg = &d["ConfirmDevice_DeviceSecretVerifierConfig"];
        let vv = from_bytes_be(&b64(&cfg["PasswordVerifier"]));
        assert_eq!(vv, big(&d["verifier_hex"]));
        let salt = b64(&cfg["Salt"]);
        assert_eq!(
            hex::encode(&salt),
            d["DEVICE_PASSWORD_VERIFIER_ChallengeParameters"]["SALT"]
                .as_str()
                .unwrap()
        );
        let b = big(&i["b_hex"]);
        let big_b = server_public(&vv, &b);
        assert_eq!(big_b, big(&d["B_hex"]));
        let a = from_hex(d["DEVICE_SRP_AUTH_ChallengeResponses"]["SRP_A"].as_str().unwrap()).unwrap();
        let key = server_key(&a, &big_b, &b, &vv).unwrap();
        assert_eq!(hex::encode(key), d["key_hex"].as_str().unwrap());
        let r = &d["DEVICE_PASSWORD_VERIFIER_ChallengeResponses"];
        let sig = claim_signature(
            &key,
            i["DeviceGroupKey"].as_str().unwrap(),
            i["DeviceKey"].as_str().unwrap(),
            &b64(&i["secret_block_b64"]),
            r["TIMESTAMP"].as_str().unwrap(),
        );
        assert!(signature_matches(&sig, &b64(&r["PASSWORD_CLAIM_SIGNATURE"])));
    }

    #[test]
    fn fixed_base_table_agrees_with_powm() {
        for _ in 0..20 {
            let e = new_private();
            assert_eq!(pow_g(&e), powm(&GROUP.g, &e, &GROUP.n));
        }
        let small = Integer::from(0x1_0001);
        assert_eq!(pow_g(&small), powm(&GROUP.g, &small, &GROUP.n));
        assert_eq!(pow_g(&Integer::new()), Integer::from(1));
    }

    #[test]
    fn client_and_server_agree() {
        let salt = new_salt();
        let x = compute_x(&salt, "Pool", "bob", "pw");
        let v = pow_g(&x);
        let (a, b) = (new_private(), new_private());
        let big_a = pow_g(&a);
        let big_b = server_public(&v, &b);
        assert_eq!(
            client_key(&a, &big_a, &big_b, &x).unwrap(),
            server_key(&big_a, &big_b, &b, &v).unwrap()
        );
    }

    #[test]
    fn refuses_degenerate_a() {
        assert_eq!(check_a(&Integer::new()), Err(SrpError::BadA));
        assert_eq!(check_a(&GROUP.n), Err(SrpError::BadA));
        assert_eq!(check_a(&Integer::from(&GROUP.n * 3u32)), Err(SrpError::BadA));
        let s = new_salt();
        assert_ne!(s[0], 0);
    }
}

/// Cognito's SRP `TIMESTAMP`: `EEE MMM d HH:mm:ss UTC yyyy` in English, the day without a
/// leading zero (`Tue Mar 5 09:07:03 UTC 2024`).
pub mod timestamp {
    use time::format_description::FormatItem;
    use time::macros::format_description;
    use time::{OffsetDateTime, PrimitiveDateTime};

    /// The format, tolerant of a padded day on input (`[day padding:none]` also reads `05`).
    const FORMAT: &[FormatItem<'static>] = format_description!(
        "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] UTC [year]"
    );

    /// Epoch seconds of a timestamp, or `None` if it is not in the format. The weekday is
    /// parsed but not checked here: a wrong one changes the canonical text, so the
    /// signature over it fails, as on the real service.
    pub fn parse(s: &str) -> Option<i64> {
        let parts: Vec<&str> = s.split(' ').collect();
        // `d` without padding: a single space between month and day.
        let [dow, mon, day, hms, tz, year] = parts.as_slice() else {
            return None;
        };
        if *tz != "UTC" && *tz != "GMT" {
            return None;
        }
        let normalized = format!("{dow} {mon} {day} {hms} UTC {year}");
        let date = PrimitiveDateTime::parse(&normalized, FORMAT).ok().or_else(|| {
            // `time` checks the weekday against the date; parse without it to get the
            // instant and leave the mismatch to the signature.
            let rest = format!("{mon} {day} {hms} UTC {year}");
            PrimitiveDateTime::parse(
                &rest,
                format_description!("[month repr:short] [day padding:none] [hour]:[minute]:[second] UTC [year]"),
            )
            .ok()
        })?;
        Some(date.assume_utc().unix_timestamp())
    }

    /// The canonical text of an instant.
    pub fn canonical(epoch_secs: i64) -> Option<String> {
        OffsetDateTime::from_unix_timestamp(epoch_secs)
            .ok()?
            .format(FORMAT)
            .ok()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip() {
            let t = parse("Tue Mar 5 09:07:03 UTC 2024").unwrap();
            assert_eq!(canonical(t).unwrap(), "Tue Mar 5 09:07:03 UTC 2024");
            // A padded day or a wrong weekday parses, but is not canonical.
            assert_eq!(
                canonical(parse("Tue Mar 05 09:07:03 UTC 2024").unwrap()).unwrap(),
                "Tue Mar 5 09:07:03 UTC 2024"
            );
            assert_eq!(parse("Wed Mar 5 09:07:03 UTC 2024"), Some(t));
            assert_eq!(parse("2024-03-05T09:07:03Z"), None);
            assert_eq!(parse("Tue Mar 5 09:07:03 PST 2024"), None);
        }
    }
}
