//! Identifiers as Cognito forms them.

use rand::distributions::{Alphanumeric, DistString, Distribution, Uniform};

/// A pool id: `<region>_<9 alphanumerics>` (e.g. `us-east-1_aB3dE5fG7`).
/// The region a pool id carries (`us-west-2` of `us-west-2_AbC123xyz`).
pub fn region_of(pool_id: &str) -> Option<&str> {
    pool_id.split_once('_').map(|(r, _)| r).filter(|r| is_region(r))
}

/// Whether `s` has the form of an AWS region name (`us-east-1`, `eu-central-2`,
/// `us-gov-west-1`, `ap-southeast-5`): lowercase words joined by `-`, the last one a number.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    s.len() <= 32
        && words.len() >= 2
        && !last.is_empty()
        && last.len() <= 2
        && last.bytes().all(|b| b.is_ascii_digit())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

pub fn pool_id(region: &str) -> String {
    format!("{region}_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 9))
}

/// A random (version 4) UUID drawn from the thread's CSPRNG (ChaCha, seeded from the OS),
/// not from a `getrandom` system call per id (`Uuid::new_v4`), which cost 1.6% of a
/// request's CPU for its request id alone.
pub fn uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn lower_alnum(n: usize) -> String {
    let mut rng = rand::thread_rng();
    let pick = Uniform::from(0..LOWER_ALNUM.len());
    (0..n)
        .map(|_| LOWER_ALNUM.get(pick.sample(&mut rng)).copied().map_or('a', char::from))
        .collect()
}

/// An app client id: 26 lowercase alphanumerics.
pub fn client_id() -> String {
    lower_alnum(26)
}

/// An app client secret: 51 lowercase alphanumerics (about 263 bits), as long as Cognito's.
pub fn client_secret() -> String {
    lower_alnum(51)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let p = super::pool_id("eu-west-1");
        assert!(p.starts_with("eu-west-1_") && p.len() == "eu-west-1_".len() + 9);
        let c = super::client_id();
        assert_eq!(c.len(), 26);
        assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let (a, b) = (super::uuid(), super::uuid());
        assert_ne!(a, b);
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }
}
