//! Client secrets: generated here, shown once, stored only as a salted SHA-256 hash.
//!
//! A secret is 32 random bytes from the OS (256 bits), so a fast hash is enough: there is no
//! dictionary to slow down, only a brute force of 2^256. The salt keeps two equal hashes from
//! revealing anything and defeats precomputation. Comparison is constant-time.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new secret, base64url without padding (43 characters).
pub fn new_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// A random hex token of `bytes` bytes (ids, salts).
pub fn random_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

/// `(salt, hash)` of a secret, both hex.
pub fn hash_secret(secret: &str) -> (String, String) {
    let salt = random_hex(16);
    let hash = salted_hash(&salt, secret);
    (salt, hash)
}

fn salted_hash(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `secret` matches the stored `(salt, hash)`, in time independent of where they differ.
pub fn verify_secret(secret: &str, salt: &str, hash: &str) -> bool {
    constant_time_eq(salted_hash(salt, secret).as_bytes(), hash.as_bytes())
}

/// Equality whose running time depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let s = new_secret();
        assert_eq!(s.len(), 43);
        let (salt, hash) = hash_secret(&s);
        assert!(verify_secret(&s, &salt, &hash));
        assert!(!verify_secret("wrong", &salt, &hash));
        assert!(!hash.contains(&s));
        let (salt2, hash2) = hash_secret(&s);
        assert_ne!((salt, hash), (salt2, hash2), "salted");
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
