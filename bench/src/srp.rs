//! The client side of Cognito SRP, for setting up devices and for the full SRP sign-in
//! scenario (S4). Mirrors pycognito / amazon-cognito-identity-js on `userpool-srp`'s math.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use userpool_srp::{Int, GROUP};

pub struct Challenge {
    pub a: Int,
    pub big_a: Int,
}

pub fn start() -> Challenge {
    let a = userpool_srp::new_private();
    let big_a = userpool_srp::pow_g(&a);
    Challenge { a, big_a }
}

/// The PASSWORD_VERIFIER (or DEVICE_PASSWORD_VERIFIER) answer to a challenge.
pub fn answer(
    c: &Challenge,
    params: &Value,
    pool_name: &str,
    user_id: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Result<HashMap<String, String>, String> {
    let get = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("challenge lacks {k}: {params}"))
    };
    let big_b = userpool_srp::from_hex(get("SRP_B")?).ok_or("bad SRP_B")?;
    let salt = hex::decode(get("SALT")?).map_err(|e| e.to_string())?;
    let block = get("SECRET_BLOCK")?;
    let x = userpool_srp::compute_x(&salt, pool_name, user_id, password);
    let key = userpool_srp::client_key(&c.a, &c.big_a, &big_b, &x).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ts = userpool_srp::timestamp::canonical(i64::try_from(now).unwrap_or(0)).ok_or("clock")?;
    let sig = userpool_srp::claim_signature(
        &key,
        pool_name,
        user_id,
        &STANDARD
            .decode(block)
            .map_err(|_| format!("SECRET_BLOCK {block:?} is not base64: the SRP is not real"))?,
        &ts,
    );
    let mut out: HashMap<String, String> = HashMap::from([
        ("USERNAME".into(), get("USERNAME")?.to_string()),
        ("PASSWORD_CLAIM_SECRET_BLOCK".into(), block.to_string()),
        ("TIMESTAMP".into(), ts),
        ("PASSWORD_CLAIM_SIGNATURE".into(), STANDARD.encode(sig)),
    ]);
    for (k, v) in extra {
        out.insert((*k).to_string(), (*v).to_string());
    }
    Ok(out)
}

/// A device's secret and the verifier ConfirmDevice sends, as the clients make them.
pub fn device_verifier(group_key: &str, device_key: &str) -> (String, Value) {
    let password = STANDARD.encode(rand::random::<[u8; 32]>());
    let salt_raw: [u8; 16] = rand::random();
    let salt = userpool_srp::pad(&userpool_srp::from_bytes_be(&salt_raw));
    let x = userpool_srp::compute_x(&salt, group_key, device_key, &password);
    let v = userpool_srp::pow_g(&x);
    let _ = &GROUP.n;
    (
        password,
        json!({"PasswordVerifier": STANDARD.encode(userpool_srp::pad(&v)), "Salt": STANDARD.encode(&salt)}),
    )
}
