//! Access tokens: short-lived JWTs signed with HS256 by keys kept in the lab folder
//! (`signing-keys.json`, owner-only).
//!
//! The server is both the issuer and the only verifier, so a symmetric key is enough. Each key
//! has an id (`kid` in the token header). `crosscare admin key rotate` retires the current key
//! and adds a new one; a retired key keeps verifying until every token it signed has expired,
//! then the next rotation drops it. A running server re-reads the file when it changes.

use crate::secret::random_bytes;
use crate::{files, LabError};
use base64::Engine;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What tells one version of the key file from the next: `rotate` replaces the file by a
/// rename, so the inode changes even when the new file's modification time falls in the same
/// clock tick as the old one's (a test rotating right after creating the file saw the same
/// `mtime` and kept the old keys); the length usually changes too.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// How long an access token lives, in seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 300;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The client id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The client's workspace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyEntry {
    kid: String,
    /// base64 of 32 random bytes.
    secret: String,
    created: i64,
    #[serde(default)]
    retired: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyFile {
    /// This installation's issuer and audience (`urn:crosscare:<uuid>`).
    issuer: String,
    keys: Vec<KeyEntry>,
}

impl KeyFile {
    fn new_key(now: i64) -> KeyEntry {
        KeyEntry {
            kid: crate::secret::random_hex(8),
            secret: base64::engine::general_purpose::STANDARD.encode(random_bytes(32)),
            created: now,
            retired: None,
        }
    }

    fn current(&self) -> Option<&KeyEntry> {
        self.keys.iter().rev().find(|k| k.retired.is_none())
    }
}

fn key_bytes(k: &KeyEntry) -> Result<Vec<u8>, LabError> {
    base64::engine::general_purpose::STANDARD
        .decode(&k.secret)
        .map_err(|_| LabError::Corrupt(format!("signing key {}", k.kid)))
}

/// The signing keys, re-read when their file changes.
pub struct KeyRing {
    path: PathBuf,
    state: Mutex<(KeyFile, Option<FileStamp>)>,
    /// Tokens whose signature, key, issuer and audience were verified, by the SHA-256 of the
    /// token text, with their claims. A token's verdict cannot change while it is unexpired:
    /// its claims are signed, and a key stays in the file until every token it signed has
    /// expired (`rotate`), so a hit only needs the expiry checked again. The server presents
    /// the same token on every request of a client, and verifying it (two JSON parses and an
    /// HMAC) was a third of authentication's cost.
    verified: Mutex<HashMap<[u8; 32], Claims>>,
}

/// Most tokens remembered as verified; beyond, the expired ones are forgotten, then all.
const VERIFIED_TOKENS: usize = 4096;
/// Seconds of clock skew allowed on `exp`.
const LEEWAY_SECS: i64 = 5;

const KEY_FILE: &str = "signing-keys.json";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl KeyRing {
    /// Opens the keys in `dir`, creating the first key (0600) if there is none.
    pub fn open(dir: &Path) -> Result<KeyRing, LabError> {
        files::private_dir(dir)?;
        let path = dir.join(KEY_FILE);
        let fresh = KeyFile {
            issuer: format!("urn:crosscare:{}", uuid::Uuid::new_v4()),
            keys: vec![KeyFile::new_key(now())],
        };
        let bytes =
            serde_json::to_vec_pretty(&fresh).map_err(|e| LabError::Corrupt(e.to_string()))?;
        files::create_private(&path, &bytes)?;
        let (file, mtime) = read_keys(&path)?;
        Ok(KeyRing {
            path,
            state: Mutex::new((file, mtime)),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Retires the current key and adds a new one; drops keys retired long enough ago that no
    /// token they signed can still be valid. Returns the new key id.
    pub fn rotate(dir: &Path) -> Result<String, LabError> {
        let ring = KeyRing::open(dir)?;
        let (mut file, _) = read_keys(&ring.path)?;
        let t = now();
        file.keys
            .retain(|k| k.retired.is_none_or(|r| t - r <= TOKEN_LIFETIME_SECS + 60));
        for k in file.keys.iter_mut().filter(|k| k.retired.is_none()) {
            k.retired = Some(t);
        }
        let key = KeyFile::new_key(t);
        let kid = key.kid.clone();
        file.keys.push(key);
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| LabError::Corrupt(e.to_string()))?;
        files::write_private(&ring.path, &bytes)?;
        Ok(kid)
    }

    /// The issuer (and audience) of this installation's tokens.
    pub fn issuer(&self) -> String {
        self.state.lock().0.issuer.clone()
    }

    fn refresh(&self) -> Result<(), LabError> {
        let mtime = stamp(&self.path);
        let mut state = self.state.lock();
        if mtime != state.1 {
            *state = read_keys(&self.path)?;
        }
        Ok(())
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &Claims) -> Result<String, LabError> {
        self.refresh()?;
        let state = self.state.lock();
        let key = state
            .0
            .current()
            .ok_or_else(|| LabError::Corrupt("no current signing key".into()))?;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        encode(&header, claims, &EncodingKey::from_secret(&key_bytes(key)?))
            .map_err(|e| LabError::Corrupt(format!("signing a token: {e}")))
    }

    /// Verifies signature (HS256 only: `alg: none` and any other algorithm are refused), key
    /// id, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let t = now();
        if let Some(claims) = self.verified.lock().get(&digest) {
            // The check `jsonwebtoken` makes, with the same leeway.
            return if claims.exp < t - LEEWAY_SECS {
                Err(TokenError::Expired)
            } else {
                Ok(claims.clone())
            };
        }
        let claims = self.verify_uncached(token)?;
        let mut verified = self.verified.lock();
        if verified.len() >= VERIFIED_TOKENS {
            verified.retain(|_, c| c.exp >= t - LEEWAY_SECS);
            if verified.len() >= VERIFIED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(digest, claims.clone());
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token)
            .map_err(|_| TokenError::Invalid("malformed token or unsupported algorithm".into()))?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("no key id".into()))?;
        let find = |ring: &KeyRing| {
            let state = ring.state.lock();
            let key = state.0.keys.iter().find(|k| k.kid == kid).cloned();
            (key, state.0.issuer.clone())
        };
        let (mut key, mut issuer) = find(self);
        if key.is_none() {
            // Perhaps rotated by `crosscare admin key rotate` since we last looked.
            let _ = self.refresh();
            (key, issuer) = find(self);
        }
        let key = key.ok_or_else(|| TokenError::Invalid("unknown signing key".into()))?;
        let secret = key_bytes(&key).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS as u64;
        validation.set_audience(&[issuer.as_str()]);
        validation.set_issuer(&[issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Claims>(token, &DecodingKey::from_secret(&secret), &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    TokenError::Invalid("wrong audience".into())
                }
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                    TokenError::Invalid("wrong issuer".into())
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    TokenError::Invalid("bad signature".into())
                }
                _ => TokenError::Invalid("malformed token".into()),
            })
    }

    /// New claims for `client_id` valid from now for [`TOKEN_LIFETIME_SECS`].
    pub fn claims(&self, client_id: &str, scope: String, ws: Option<String>) -> Claims {
        let issuer = self.issuer();
        let t = now();
        Claims {
            iss: issuer.clone(),
            sub: client_id.to_string(),
            aud: issuer,
            exp: t + TOKEN_LIFETIME_SECS,
            iat: t,
            jti: uuid::Uuid::new_v4().to_string(),
            scope,
            ws,
        }
    }
}

fn read_keys(path: &Path) -> Result<(KeyFile, Option<FileStamp>), LabError> {
    // The stamp is taken before the bytes: a rotation in between then shows as a change at
    // the next refresh, instead of the old keys being kept under the new file's stamp.
    let stamp = stamp(path);
    let bytes = std::fs::read(path)?;
    let file: KeyFile = serde_json::from_slice(&bytes)
        .map_err(|e| LabError::Corrupt(format!("{}: {e}", path.display())))?;
    Ok((file, stamp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn ring() -> (tempfile::TempDir, KeyRing) {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        (dir, ring)
    }

    #[test]
    fn key_file_is_owner_only() {
        let (dir, _ring) = ring();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let (_dir, ring) = ring();
        let claims = ring.claims("cc-1", "system/Patient.rs".into(), Some("w".into()));
        let token = ring.sign(&claims).unwrap();
        assert_eq!(ring.verify(&token).unwrap(), claims);

        // Expired.
        let mut old = claims.clone();
        old.exp = now() - 60;
        assert_eq!(
            ring.verify(&ring.sign(&old).unwrap()),
            Err(TokenError::Expired)
        );
        // Wrong audience.
        let mut other = claims.clone();
        other.aud = "urn:crosscare:someone-else".into();
        assert!(ring.verify(&ring.sign(&other).unwrap()).is_err());
        // Tampered payload (scope widened), signature unchanged.
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["scope"] = "system/*.cruds".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        assert!(ring.verify(&forged).is_err());
        // alg: none, no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(ring.verify(&none).is_err());
        assert!(ring.verify("garbage").is_err());
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let (_dir, ring) = ring();
        let claims = ring.claims("cc-1", "system/Patient.rs".into(), None);
        let token = ring.sign(&claims).unwrap();
        assert_eq!(ring.verify(&token).unwrap(), claims);
        assert_eq!(ring.verified.lock().len(), 1);
        // A hit returns the same claims; refusals are never remembered.
        assert_eq!(ring.verify(&token).unwrap(), claims);
        assert!(ring.verify(&format!("{token}x")).is_err());
        assert_eq!(ring.verified.lock().len(), 1);
        // Once past its expiry (and the leeway) the remembered token is refused too.
        for c in ring.verified.lock().values_mut() {
            c.exp = now() - LEEWAY_SECS - 1;
        }
        assert_eq!(ring.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn rotation_keeps_the_previous_key_for_verification() {
        let (dir, ring) = ring();
        let before = ring
            .sign(&ring.claims("cc-1", "system/*.rs".into(), None))
            .unwrap();
        let kid = KeyRing::rotate(dir.path()).unwrap();
        // The running ring notices the change.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let after = ring
            .sign(&ring.claims("cc-1", "system/*.rs".into(), None))
            .unwrap();
        assert_eq!(
            decode_header(&after).unwrap().kid.as_deref(),
            Some(kid.as_str())
        );
        assert!(ring.verify(&before).is_ok());
        assert!(ring.verify(&after).is_ok());
        // Another ring on the same folder (a restarted server) verifies both as well.
        let again = KeyRing::open(dir.path()).unwrap();
        assert!(again.verify(&before).is_ok());
    }
}
