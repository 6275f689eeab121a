//! Secrets the server must be able to read back (app client secrets, which SECRET_HASH
//! needs in clear and DescribeUserPoolClient returns) are kept sealed with AES-256-GCM
//! under a data key that lives outside the database (`--data-key-file`, by default beside
//! the data file, mode 0600). A copy of the database alone reveals no secret.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use std::path::Path;

/// Seals and opens secrets with the server's data key.
pub struct Sealer {
    cipher: Aes256Gcm,
    /// HMAC key for [`Sealer::derive`], itself derived from the data key (so the AES key
    /// is never used as an HMAC key).
    derive_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

/// Why the data key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file could not be read or created.
    #[error("data key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file does not hold 32 bytes.
    #[error("data key file {0} must hold exactly 32 bytes")]
    BadKey(String),
}

const NONCE_LEN: usize = 12;

impl Sealer {
    /// Loads the key file, creating it with a fresh random key if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        let io = |source| SealError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Aes256Gcm::generate_key(OsRng);
                write_private(path, key.as_slice()).map_err(io)?;
                key.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        if bytes.len() != 32 {
            return Err(SealError::BadKey(path.display().to_string()));
        }
        Ok(Self::from_key(&bytes))
    }

    /// A sealer with this 32-byte key.
    pub fn from_key(key: &[u8]) -> Self {
        Sealer {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
            derive_key: hmac_sha256(key, b"userpool derivation key v1"),
        }
    }

    /// A value only holders of the data key can compute, the same on every node and every
    /// call for the same `label` (HMAC-SHA256): stable stand-ins for things that must not
    /// reveal whether they are real (the decoy SRP challenge of an unknown user).
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.derive_key, label)
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, clear: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for inputs under 64 GiB.
        out.extend(self.cipher.encrypt(&nonce, clear).unwrap_or_default());
        out
    }

    /// The clear bytes, or `None` if the blob was not sealed by this key.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ct) = (sealed.get(..NONCE_LEN)?, sealed.get(NONCE_LEN..)?);
        self.cipher.decrypt(Nonce::from_slice(nonce), ct).ok()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    match <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let s = Sealer::load_or_create(&path).unwrap();
        let sealed = s.seal(b"secret");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let again = Sealer::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), b"secret");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(again.open(&bad).is_none());
    }
}
