//! The lab: what makes CrossCare a data lab and not only a FHIR server.
//!
//! - [`model`] / [`registry`]: workspaces (partner organisation, service class, purpose, owner,
//!   expiry, status, their own store partition) and clients (secret stored as a salted hash),
//!   in `lab.db` in the data folder's `lab/` sub-folder.
//! - [`token`]: the OAuth2 `client_credentials` token endpoint's logic and short-lived signed
//!   access tokens ([`Lab::token_request`], [`Lab::authenticate`]).
//! - [`scope`] / [`policy`]: SMART v2 system scopes and the one policy decision point,
//!   [`policy::authorize`], which `crosscare-rest` calls for every interaction.
//! - [`quota`]: request rates (a token bucket per client) and the storage quota's defaults.
//! - [`audit`]: the hash-chained audit trail of `AuditEvent`s; [`audit_query`] searches it.
//!
//! **Architecture invariant:** access is decided here and only here; the REST layer asks before
//! every store access and the HTTP layer only authenticates. **Must not:** depend on the REST or
//! HTTP crates (they depend on this one).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod assertion;
pub mod audit;
pub mod audit_query;
pub mod files;
pub mod model;
pub mod policy;
pub mod quota;
pub mod registry;
pub mod scope;
pub mod secret;
pub mod token;

pub use policy::{authorize, Access, Decision, Denial, Interaction, Principal, Request};

use model::Client;
use policy::WorkspaceGrant;
use registry::Registry;
use scope::Scopes;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use token::{KeyRing, TokenError};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the lab data is damaged: {0}")]
    Corrupt(String),
    #[error("lab database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("lab files: {0}")]
    Io(#[from] std::io::Error),
}

/// The lab folder inside a data folder.
pub fn lab_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("lab")
}

/// The file holding the first administrator credential (owner-only).
pub const ADMIN_CREDENTIAL_FILE: &str = "admin-credential.json";

/// An OAuth2 error response (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub(crate) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

/// Why a bearer token does not give access: 401 (no valid token) or 403 (valid, but the
/// workspace cannot be used now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub status: u16,
    pub message: String,
    /// With 429: seconds until the client may call again (`Retry-After`).
    pub retry_after: Option<u64>,
}

/// The lab's state over one data folder.
pub struct Lab {
    dir: PathBuf,
    registry: Registry,
    keys: KeyRing,
    audit: AuditLogSlot,
    quotas: quota::QuotaDefaults,
    limiter: quota::RateLimiter,
}

/// The audit log is opened by the server only (administration commands do not audit).
type AuditLogSlot = Option<audit::AuditLog>;

impl Lab {
    /// Opens the registry and signing keys of `data_dir` (creating them on first use).
    pub fn open(data_dir: &Path) -> Result<Lab, LabError> {
        let dir = lab_dir(data_dir);
        Ok(Lab {
            registry: Registry::open(&dir)?,
            keys: KeyRing::open(&dir)?,
            audit: None,
            quotas: quota::QuotaDefaults::UNLIMITED,
            limiter: quota::RateLimiter::default(),
            dir,
        })
    }

    /// Lets one check of `lab.db` for other processes' changes stand for `every` (the server:
    /// [`registry::SERVER_RECHECK`]); without it every authentication checks.
    pub fn with_registry_recheck(mut self, every: std::time::Duration) -> Lab {
        self.registry.set_recheck(every);
        self
    }

    /// Sets the server-wide default quotas (each workspace or client may override them).
    pub fn with_quotas(mut self, quotas: quota::QuotaDefaults) -> Lab {
        self.quotas = quotas;
        self
    }

    pub fn quotas(&self) -> quota::QuotaDefaults {
        self.quotas
    }

    /// Like [`Lab::open`], with the audit log open for appending (the server).
    pub fn open_with_audit(data_dir: &Path) -> Result<Lab, LabError> {
        let mut lab = Lab::open(data_dir)?;
        lab.audit = Some(audit::AuditLog::open(&lab.dir)?);
        Ok(lab)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Appends one record to the audit trail (when open). A failure is returned, never hidden.
    pub fn audit(&self, record: &audit::AuditRecord) -> Result<(), LabError> {
        match &self.audit {
            Some(log) => log.append(record),
            None => Ok(()),
        }
    }

    /// One page of the audit trail's events matching `query`, and how many match in all.
    pub fn audit_search(
        &self,
        query: &audit_query::AuditQuery,
    ) -> Result<(Vec<Value>, usize), LabError> {
        audit_query::search(&self.dir, query)
    }

    /// Creates the first administrator client if there is none, writing its id and secret to
    /// an owner-only file; returns that file's path when it was created now.
    pub fn ensure_admin_credential(&self) -> Result<Option<PathBuf>, LabError> {
        let admins = self.registry.clients(None)?;
        if admins.iter().any(|c| c.admin && !c.revoked) {
            return Ok(None);
        }
        let (client, secret) = self.registry.create_client(None, "system/*.cruds", true)?;
        let path = self.dir.join(ADMIN_CREDENTIAL_FILE);
        let body = json!({
            "client_id": client.client_id,
            "client_secret": secret,
            "scope": client.allowed_scopes,
            "note": "CrossCare administrator credential: full access to the hospital's own data. \
                     Keep it secret; revoke with `crosscare admin client revoke`.",
        });
        let text =
            serde_json::to_vec_pretty(&body).map_err(|e| LabError::Corrupt(e.to_string()))?;
        files::write_private(&path, &text)?;
        Ok(Some(path))
    }

    /// The token endpoint (`grant_type=client_credentials`): `form` is the decoded form body,
    /// `basic` the HTTP Basic credentials if given. Returns the RFC 6749 §5.1 JSON.
    ///
    /// A client may authenticate with its secret (HTTP Basic or form fields) or, for SMART
    /// Backend Services, with a `private_key_jwt` assertion whose audience is `token_endpoint`.
    /// Returns the client id and the RFC 6749 §5.1 JSON.
    pub fn token_request(
        &self,
        form: &[(String, String)],
        basic: Option<(String, String)>,
        token_endpoint: &str,
    ) -> Result<(String, Value), OAuthError> {
        let field = |name: &str| -> Result<Option<&str>, OAuthError> {
            let mut values = form
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            let first = values.next();
            if values.next().is_some() {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    format!("the parameter '{name}' is repeated"),
                ));
            }
            Ok(first)
        };
        match field("grant_type")? {
            None => {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    "grant_type is missing",
                ))
            }
            Some("client_credentials") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    400,
                    "unsupported_grant_type",
                    format!("grant_type '{other}' is not supported; use client_credentials"),
                ))
            }
        }
        let client = match field("client_assertion_type")? {
            Some(kind) => {
                if basic.is_some() || field("client_secret")?.is_some() {
                    return Err(OAuthError::new(
                        400,
                        "invalid_request",
                        "use one client authentication method, not a secret and an assertion",
                    ));
                }
                if kind != assertion::JWT_BEARER {
                    return Err(OAuthError::new(
                        400,
                        "invalid_request",
                        format!("client_assertion_type must be {}", assertion::JWT_BEARER),
                    ));
                }
                let jwt = field("client_assertion")?.ok_or_else(|| {
                    OAuthError::new(400, "invalid_request", "client_assertion is missing")
                })?;
                assertion::verify(&self.registry, jwt, token_endpoint)?
            }
            None => self.secret_client(basic, field("client_id")?, field("client_secret")?)?,
        };
        self.grant(client, field("scope")?)
    }

    /// The client authenticated by its secret (HTTP Basic, or form fields).
    fn secret_client(
        &self,
        basic: Option<(String, String)>,
        form_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let (client_id, secret) =
            match (basic, form_id, form_secret) {
                (Some(_), _, Some(_)) => {
                    return Err(OAuthError::new(
                        400,
                        "invalid_request",
                        "use one client authentication method, not HTTP Basic and client_secret",
                    ))
                }
                (Some((id, secret)), form_id, None) => {
                    if form_id.is_some_and(|f| f != id) {
                        return Err(OAuthError::new(
                            400,
                            "invalid_request",
                            "client_id differs from the HTTP Basic user",
                        ));
                    }
                    (id, secret)
                }
                (None, Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
                _ => return Err(OAuthError::new(
                    401,
                    "invalid_client",
                    "client authentication is missing (HTTP Basic, client_id and client_secret, \
                     or a client_assertion)",
                )),
            };
        self.registry
            .authenticate(&client_id, &secret)
            .map_err(|_| OAuthError::new(500, "server_error", "the client registry failed"))?
            .ok_or_else(|| OAuthError::new(401, "invalid_client", "client authentication failed"))
    }

    /// The token for an authenticated client: requested ∩ allowed scopes.
    fn grant(&self, client: Client, scope: Option<&str>) -> Result<(String, Value), OAuthError> {
        if let Some(ws) = &client.workspace {
            self.usable_workspace(ws)
                .map_err(|m| OAuthError::new(400, "unauthorized_client", m))?;
        }
        let allowed = Scopes::parse(&client.allowed_scopes)
            .map_err(|_| OAuthError::new(500, "server_error", "the client's scopes are damaged"))?;
        let requested = Scopes::parse(scope.unwrap_or(""))
            .map_err(|m| OAuthError::new(400, "invalid_scope", m))?;
        let granted = allowed.grant(&requested);
        if granted.is_empty() {
            return Err(OAuthError::new(
                400,
                "invalid_scope",
                format!(
                    "none of the requested scopes is allowed for this client (allowed: {})",
                    client.allowed_scopes
                ),
            ));
        }
        let claims = self.keys.claims(
            &client.client_id,
            granted.to_string(),
            client.workspace.clone(),
        );
        let token = self
            .keys
            .sign(&claims)
            .map_err(|_| OAuthError::new(500, "server_error", "cannot sign the token"))?;
        Ok((
            client.client_id,
            json!({
                "access_token": token,
                "token_type": "bearer",
                "expires_in": token::TOKEN_LIFETIME_SECS,
                "scope": claims.scope,
            }),
        ))
    }

    fn usable_workspace(&self, id: &str) -> Result<model::Workspace, String> {
        usable_workspace(&self.registry.now().map_err(|e| e.to_string())?, id)
    }

    /// The access a bearer token gives, checked against the registry now (a revoked client or a
    /// suspended workspace loses access at once, whatever its token says).
    pub fn authenticate(&self, bearer: &str) -> Result<Access, AuthFailure> {
        let unauthorized = |m: String| AuthFailure {
            status: 401,
            message: m,
            retry_after: None,
        };
        let claims = self.keys.verify(bearer).map_err(|e| match e {
            TokenError::Expired => unauthorized("the access token has expired".into()),
            other => unauthorized(other.to_string()),
        })?;
        let at = self
            .registry
            .now()
            .map_err(|e| unauthorized(e.to_string()))?;
        let client: Client = at
            .client(&claims.sub)
            .map_err(|e| unauthorized(e.to_string()))?
            .filter(|c| !c.revoked)
            .ok_or_else(|| unauthorized("the client of this token is revoked".into()))?;
        if client.workspace != claims.ws {
            return Err(unauthorized("the token does not match its client".into()));
        }
        let workspace = match &client.workspace {
            None => None,
            Some(id) => Some(usable_workspace(&at, id).map_err(|m| AuthFailure {
                status: 403,
                message: m,
                retry_after: None,
            })?),
        };
        // Administrators have no default rate: they are the hospital's operators and loaders.
        let rate = client.rate_limit.or_else(|| {
            workspace
                .as_ref()
                .and_then(|ws| ws.rate_limit.or(self.quotas.rate))
        });
        if let Some(rate) = rate {
            let now = std::time::Instant::now();
            if let Err(wait) = self.limiter.take(&client.client_id, rate, now) {
                let secs = quota::retry_after_secs(wait);
                return Err(AuthFailure {
                    status: 429,
                    message: format!(
                        "too many requests: this client may send {rate} per second (bursts of \
                         up to {} seconds' worth); retry after {secs} s",
                        quota::BURST_SECONDS
                    ),
                    retry_after: Some(secs),
                });
            }
        }
        let workspace = workspace.map(|ws| WorkspaceGrant {
            max_resources: ws.max_resources.or(self.quotas.max_resources),
            id: ws.id,
            class: ws.class,
            template: ws.template,
        });
        let token_scopes =
            Scopes::parse(&claims.scope).map_err(|_| unauthorized("malformed scope".into()))?;
        let allowed = Scopes::parse(&client.allowed_scopes).unwrap_or_default();
        let scopes = if token_scopes.is_empty() {
            Scopes::default()
        } else {
            allowed.grant(&token_scopes)
        };
        Ok(Access::Client(Principal {
            client_id: client.client_id,
            workspace,
            scopes,
            token_id: claims.jti,
        }))
    }
}

/// The workspace `id` if it exists and may be used now (not suspended, deleted or expired).
fn usable_workspace(at: &registry::Lookup<'_>, id: &str) -> Result<model::Workspace, String> {
    let ws = at
        .workspace(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("workspace '{id}' does not exist"))?;
    ws.usable_at(chrono::Utc::now())?;
    Ok(ws)
}
