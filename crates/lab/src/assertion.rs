//! SMART Backend Services client authentication (`private_key_jwt`): the client signs a short
//! JWT with one of the keys of its registered JWKS (RS384 or ES384), audience = the token
//! endpoint, `iss` = `sub` = its client id, a `jti` never used before, and `exp` at most five
//! minutes ahead. A replayed `jti` is refused.

use crate::model::Client;
use crate::registry::Registry;
use crate::OAuthError;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest an assertion's `exp` may be in the future (SMART: five minutes).
const MAX_LIFETIME_SECS: i64 = 300;

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
}

fn refuse(description: impl Into<String>) -> OAuthError {
    OAuthError::new(401, "invalid_client", description)
}

/// The client a `client_assertion` authenticates.
pub fn verify(registry: &Registry, jwt: &str, token_endpoint: &str) -> Result<Client, OAuthError> {
    let header = decode_header(jwt).map_err(|_| refuse("the client assertion is not a JWT"))?;
    if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
        return Err(refuse(format!(
            "client assertions must be signed with RS384 or ES384, not {:?}",
            header.alg
        )));
    }
    // Who claims to be signing: read before verifying, to find the key to verify with.
    let payload = jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .ok_or_else(|| refuse("the client assertion's claims are not readable"))?;
    let client_id = payload["iss"]
        .as_str()
        .ok_or_else(|| refuse("the client assertion has no iss"))?;
    let registry_error = |_| OAuthError::new(500, "server_error", "the client registry failed");
    let client = registry
        .client(client_id)
        .map_err(registry_error)?
        .filter(|c| !c.revoked)
        .ok_or_else(|| refuse("unknown or revoked client"))?;
    let jwks = registry
        .client_jwks(client_id)
        .map_err(registry_error)?
        .ok_or_else(|| refuse("this client has no registered JWKS (it uses a secret)"))?;
    let set: JwkSet =
        serde_json::from_str(&jwks).map_err(|_| refuse("the client's JWKS is damaged"))?;
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
    .ok_or_else(|| refuse("no registered key matches the assertion's kid"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| refuse("the registered key is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 5;
    validation.set_audience(&[token_endpoint]);
    validation.set_issuer(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = decode::<AssertionClaims>(jwt, &key, &validation)
        .map_err(|e| refuse(format!("the client assertion is not valid: {e}")))?
        .claims;
    if claims.sub != claims.iss {
        return Err(refuse(
            "the assertion's sub must equal its iss (the client id)",
        ));
    }
    if claims.exp > chrono::Utc::now().timestamp() + MAX_LIFETIME_SECS + 5 {
        return Err(refuse(
            "the assertion expires more than five minutes from now",
        ));
    }
    let jti = claims
        .jti
        .ok_or_else(|| refuse("the client assertion has no jti"))?;
    if !registry
        .record_jti(client_id, &jti, claims.exp)
        .map_err(registry_error)?
    {
        return Err(refuse(
            "this client assertion was already used (jti replay)",
        ));
    }
    Ok(client)
}
