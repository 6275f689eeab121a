//! USER_SRP_AUTH and its PASSWORD_VERIFIER challenge (and the decoy challenge for an
//! unknown user when the client hides existence); the SRP pieces the device step shares.

use super::password::{check_not_locked, password_proven, spend_attempt, wrong_password};
use super::state::{self, Srp, State, Step};
use super::{after_password, check_status, non_empty, param, Outcome};
use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::app_clients::{check_secret_hash, Client};
use crate::ops::{devices, users};
use crate::passwords;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::HashMap;
use userpool_model::types::ChallengeNameType;
use userpool_store::{PasswordVerifier, UserRecord};

/// Clock skew allowed on an SRP TIMESTAMP, seconds.
const TIMESTAMP_SKEW_SECS: i64 = 300;

/// The client's SRP_A, refused when it is not a number or is 0 mod N.
pub(super) fn client_public(srp_a: &str) -> OpResult<userpool_srp::Int> {
    let a = userpool_srp::from_hex(srp_a).ok_or_else(|| CognitoError::invalid_parameter("Invalid SRP_A value."))?;
    userpool_srp::check_a(&a).map_err(|_| CognitoError::invalid_parameter("SRP_A cannot be 0 mod N."))?;
    Ok(a)
}

/// A fresh server SRP half (`b`, `B`) against verifier `v`, with the client's `A`: the
/// exchange to seal into the next state, and `B`.
pub(super) fn srp_challenge(v: &userpool_srp::Int, a: &userpool_srp::Int) -> (Srp, userpool_srp::Int) {
    let (b, big_b) = crate::clock::blocking(|| {
        let b = userpool_srp::new_private();
        let big_b = userpool_srp::server_public(v, &b);
        (b, big_b)
    });
    let srp = Srp {
        b: userpool_srp::to_hex(&b),
        big_b: userpool_srp::to_hex(&big_b),
        a: userpool_srp::to_hex(a),
    };
    (srp, big_b)
}

/// The PASSWORD_VERIFIER challenge's parameters; its state rides in SECRET_BLOCK (the real
/// service sends no Session here).
fn password_verifier_challenge(salt: &[u8], big_b: &userpool_srp::Int, sealed: String, user_id: &str) -> Outcome {
    Outcome {
        challenge_name: Some(ChallengeNameType::PasswordVerifier),
        session: None,
        challenge_parameters: Some(HashMap::from([
            ("SALT".to_string(), hex::encode(salt)),
            ("SRP_B".to_string(), userpool_srp::to_hex(big_b)),
            ("SECRET_BLOCK".to_string(), sealed),
            ("USERNAME".to_string(), user_id.to_string()),
            ("USER_ID_FOR_SRP".to_string(), user_id.to_string()),
        ])),
        authentication_result: None,
        signed_in: None,
        available_challenges: None,
    }
}

/// USER_SRP_AUTH: the PASSWORD_VERIFIER challenge.
pub(super) async fn start(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    params: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(params, "USERNAME")?;
    let srp_a = param(params, "SRP_A")?;
    check_secret_hash(client, &[name], params.get("SECRET_HASH").map(String::as_str))?;
    let a = client_public(srp_a)?;
    let user = match users::find(ctx, pool, name).await? {
        Some(u) => u,
        None if client.hides_users() => {
            crate::triggers::auth::pre_authentication(ctx, pool, client.id(), None, name).await?;
            return Ok(decoy_challenge(ctx, pool, client, name, &a));
        }
        None => return Err(users::user_not_found()),
    };
    crate::triggers::auth::pre_authentication(ctx, pool, client.id(), Some(&user), name).await?;
    user_challenge(ctx, pool, client, &user, &a, None)
}

/// The PASSWORD_VERIFIER challenge for `user` and the client's `A`; `custom` carries a
/// CUSTOM_AUTH flow's history through it.
pub(super) fn user_challenge(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    user: &UserRecord,
    a: &userpool_srp::Int,
    custom: Option<Vec<crate::triggers::challenge::ChallengeResult>>,
) -> OpResult<Outcome> {
    check_not_locked(ctx, user)?;
    let stored = &stored_or_unknowable(ctx, user);
    let (srp, big_b) = srp_challenge(&passwords::verifier_int(stored), a);
    let state = State::new(
        ctx,
        Step::PasswordVerifier { srp, custom },
        pool.id(),
        &user.username_key,
        client.id(),
        client.session_ttl_ms(),
    );
    Ok(password_verifier_challenge(
        &stored.salt,
        &big_b,
        state::seal(ctx, &state),
        &user.username,
    ))
}

/// The user's verifier, or for a user whose password nobody was given
/// (users::admin_create_user keeps none) one derived from the data key: the challenge and
/// the failed proof then look and count as for any wrong password.
fn stored_or_unknowable(ctx: &Ctx, user: &UserRecord) -> PasswordVerifier {
    if let Some(stored) = &user.password {
        return stored.clone();
    }
    let seed = ctx.app.sealer.derive(
        format!(
            "unknowable-password\0{}\0{}\0{}",
            user.pool_id, user.username_key, user.password_set_ms
        )
        .as_bytes(),
    );
    PasswordVerifier {
        salt: seed.get(..16).unwrap_or_default().to_vec(),
        verifier: userpool_srp::to_bytes_be(&userpool_srp::pow_g(&userpool_srp::from_bytes_be(&seed))),
    }
}

/// The PASSWORD_VERIFIER challenge for a user who does not exist, when the client hides
/// existence: the same members, lengths and work as a real one. SALT and (for pools
/// whose usernames are emails or phones, where the real value is a UUID) USER_ID_FOR_SRP
/// are derived from the data key and the name, so asking twice gives the same answer as
/// for a real user; B is made from a derived verifier. Its state is [`Step::Decoy`], so
/// the answer to it is "Incorrect username or password.".
/// The USERNAME a challenge names for a user who does not exist, where the client hides
/// users: in pools whose usernames are emails or phone numbers, a UUID derived from the
/// name (stable, as a real user's username is), else the name as typed.
fn stand_in_username(pool: &users::Pool, seed: &[u8], name: &str) -> String {
    if pool.email_or_phone_usernames() {
        uuid::Builder::from_random_bytes(seed.get(16..32).and_then(|b| b.try_into().ok()).unwrap_or([0; 16]))
            .into_uuid()
            .to_string()
    } else {
        name.to_string()
    }
}

/// [`stand_in_username`] for `name` in `pool`.
pub(super) fn unknown_user_username(ctx: &Ctx, pool: &users::Pool, name: &str) -> String {
    stand_in_username(pool, &decoy_seed(ctx, pool, name), name)
}

/// The secret seed of an unknown user's stand-in salt, verifier and username.
fn decoy_seed(ctx: &Ctx, pool: &users::Pool, name: &str) -> [u8; 32] {
    ctx.app
        .sealer
        .derive(format!("decoy-srp\0{}\0{}", pool.id(), pool.username_key(name)).as_bytes())
}

pub(super) fn decoy_challenge(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    name: &str,
    a: &userpool_srp::Int,
) -> Outcome {
    let seed = decoy_seed(ctx, pool, name);
    let salt = seed.get(..16).unwrap_or_default();
    let user_id = stand_in_username(pool, &seed, name);
    let v = userpool_srp::pow_g(&userpool_srp::from_bytes_be(&seed));
    let (_, big_b) = srp_challenge(&v, a);
    let state = State::new(ctx, Step::Decoy, pool.id(), "", client.id(), client.session_ttl_ms());
    password_verifier_challenge(salt, &big_b, state::seal(ctx, &state), &user_id)
}

/// The parts of an SRP claim, parsed (and their format refused) before anything is spent.
pub(super) struct Claim<'a> {
    ts: &'a str,
    at: i64,
    block: Vec<u8>,
    claimed: Vec<u8>,
}

/// Parses an SRP claim: the required members and TIMESTAMP's format.
pub(super) fn parse_claim(responses: &HashMap<String, String>) -> OpResult<Claim<'_>> {
    let ts = param(responses, "TIMESTAMP")?;
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let claimed = STANDARD
        .decode(param(responses, "PASSWORD_CLAIM_SIGNATURE")?.as_bytes())
        .unwrap_or_default();
    let Some(at) = userpool_srp::timestamp::parse(ts) else {
        return Err(CognitoError::invalid_parameter(
            "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
        ));
    };
    Ok(Claim {
        ts,
        at,
        block: STANDARD.decode(block.as_bytes()).unwrap_or_default(),
        claimed,
    })
}

/// Checks a parsed SRP claim against the exchange `srp`: TIMESTAMP freshness, then the
/// signature. Infallible, so a spent attempt is always resolved.
pub(super) fn check_claim(
    ctx: &Ctx,
    claim: &Claim<'_>,
    srp: &Srp,
    verifier: &userpool_srp::Int,
    pool_name: &str,
    user_id: &str,
) -> bool {
    if (claim.at - ctx.now_ms.div_euclid(1000)).abs() > TIMESTAMP_SKEW_SECS {
        tracing::info!(
            skew_s = claim.at - ctx.now_ms.div_euclid(1000),
            "SRP TIMESTAMP outside the clock window"
        );
        return false;
    }
    // The signature is checked over the canonical text: a padded day or a wrong weekday
    // fails as on the real service.
    let Some(canonical) = userpool_srp::timestamp::canonical(claim.at) else {
        return false;
    };
    let (Some(b), Some(big_b), Some(a)) = (
        userpool_srp::from_hex(&srp.b),
        userpool_srp::from_hex(&srp.big_b),
        userpool_srp::from_hex(&srp.a),
    ) else {
        return false;
    };
    crate::clock::blocking(|| match userpool_srp::server_key(&a, &big_b, &b, verifier) {
        Ok(key) => {
            let expected = userpool_srp::claim_signature(&key, pool_name, user_id, &claim.block, &canonical);
            userpool_srp::signature_matches(&expected, &claim.claimed) && canonical == claim.ts
        }
        Err(_) => false,
    })
}

/// PASSWORD_VERIFIER: the user's SRP proof.
pub(super) async fn password_verifier(
    ctx: &Ctx,
    pool: &users::Pool,
    client: &Client,
    responses: &HashMap<String, String>,
) -> OpResult<Outcome> {
    let name = param(responses, "USERNAME")?;
    check_secret_hash(client, &[name], responses.get("SECRET_HASH").map(String::as_str))?;
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let incorrect = CognitoError::incorrect_credentials;
    let state = state::open(ctx, block)
        .filter(|s| s.is_for(pool.id(), client.id()))
        .ok_or_else(incorrect)?;
    let (srp, custom) = match &state.step {
        Step::PasswordVerifier { srp, custom } => (srp, custom.clone()),
        // A decoy (an unknown user, PreventUserExistenceErrors) or another step's state.
        _ => return Err(incorrect()),
    };
    let Some(user) = ctx.store().get_user(pool.id(), &state.user).await? else {
        return Err(incorrect());
    };
    // An unknown or forgotten device is refused before the SRP state is used, so the
    // clients' retry of this same request without DEVICE_KEY succeeds.
    let device_key = non_empty(responses, "DEVICE_KEY");
    if let Some(key) = device_key {
        devices::presented(ctx, pool, &user, key).await?;
    }
    super::check_imported(client, &user)?;
    let stored = &stored_or_unknowable(ctx, &user);
    // Everything that can be refused is refused before an attempt is spent; from the spend
    // on, the attempt is always resolved (given back or confirmed).
    let claim = parse_claim(responses)?;
    let failures = spend_attempt(ctx, pool, &user).await?;
    let v = passwords::verifier_int(stored);
    if !check_claim(
        ctx,
        &claim,
        srp,
        &v,
        passwords::srp_pool_name(pool.id()),
        &user.username,
    ) {
        return Err(wrong_password(ctx, pool, &user, failures).await);
    }
    password_proven(ctx, pool, &user).await?;
    if !ctx.store().consume_state(&state.nonce_bytes(), state.exp).await? {
        return Err(incorrect());
    }
    check_status(ctx, pool, &user)?;
    match custom {
        Some(history) => super::custom::after_password(ctx, pool, client, &user, history, device_key).await,
        None => after_password(ctx, pool, client, &user, device_key).await,
    }
}
