//! Workspaces, service classes and clients: what the registry stores.

use crate::LabError;
use chrono::{DateTime, Utc};
use crosscare_store::PartitionId;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What a partner may do in a workspace (issue 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceClass {
    /// The partner's own writable partition; never the hospital's data; no real INS-NIR.
    Sandbox,
    /// Like a sandbox, one per trainee, reset to its template's data by `$reset`.
    Training,
    /// The hospital's own data (the default partition), within the client's scopes.
    Integration,
}

impl ServiceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceClass::Sandbox => "sandbox",
            ServiceClass::Training => "training",
            ServiceClass::Integration => "integration",
        }
    }
}

impl fmt::Display for ServiceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceClass {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self, LabError> {
        match s {
            "sandbox" => Ok(ServiceClass::Sandbox),
            "training" => Ok(ServiceClass::Training),
            "integration" => Ok(ServiceClass::Integration),
            "pseudonymised-pilot" | "pseudonymized-pilot" | "feasibility" => {
                Err(LabError::Invalid(format!(
                    "the service class '{s}' is not available yet (pseudonymised pilots and \
                     aggregate-only feasibility come in a later release); available: sandbox, \
                     training, integration"
                )))
            }
            other => Err(LabError::Invalid(format!(
                "unknown service class '{other}'; available: sandbox, training, integration"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceStatus {
    Active,
    Suspended,
    /// Kept as a tombstone so that the id (and so the partition) is never reused.
    Deleted,
}

impl WorkspaceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceStatus::Active => "active",
            WorkspaceStatus::Suspended => "suspended",
            WorkspaceStatus::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, LabError> {
        match s {
            "active" => Ok(WorkspaceStatus::Active),
            "suspended" => Ok(WorkspaceStatus::Suspended),
            "deleted" => Ok(WorkspaceStatus::Deleted),
            other => Err(LabError::Corrupt(format!("workspace status '{other}'"))),
        }
    }
}

/// A partner's workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: String,
    /// The partner organisation.
    pub organisation: String,
    pub class: ServiceClass,
    pub purpose: String,
    /// Who answers for it (a person or a mailbox).
    pub owner: String,
    pub expires: Option<DateTime<Utc>>,
    pub status: WorkspaceStatus,
    pub created: DateTime<Utc>,
    /// Requests per second for each of its clients (`None`: the server default).
    pub rate_limit: Option<f64>,
    /// Most current resources in its partition (`None`: the server default).
    pub max_resources: Option<u64>,
    /// A training workspace's template: the training workspace whose partition holds the
    /// starting data, copied in at creation and again by `$reset`.
    pub template: Option<String>,
}

impl Workspace {
    /// The workspace as JSON (for `crosscare admin workspace show|list`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "organisation": self.organisation,
            "class": self.class.as_str(),
            "purpose": self.purpose,
            "owner": self.owner,
            "expires": self.expires.map(|e| e.to_rfc3339()),
            "status": self.status.as_str(),
            "created": self.created.to_rfc3339(),
            "partition": self.partition().0,
            "rate_limit": self.rate_limit,
            "max_resources": self.max_resources,
            "template": self.template,
        })
    }

    /// The workspace's own store partition (`ws-<id>`); never the default partition.
    pub fn partition(&self) -> PartitionId {
        partition_of(&self.id)
    }

    /// Active and not expired at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), String> {
        match self.status {
            WorkspaceStatus::Active => {}
            other => return Err(format!("workspace '{}' is {}", self.id, other.as_str())),
        }
        match self.expires {
            Some(e) if e <= now => Err(format!("workspace '{}' expired on {e}", self.id)),
            _ => Ok(()),
        }
    }
}

/// The partition of workspace `id`.
pub fn partition_of(workspace_id: &str) -> PartitionId {
    PartitionId(format!("ws-{workspace_id}"))
}

/// A registered client (an application of a workspace, or an administrator).
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub client_id: String,
    /// `None` for an administrator client.
    pub workspace: Option<String>,
    /// The scopes it may be granted (space-separated SMART v2 scopes).
    pub allowed_scopes: String,
    pub admin: bool,
    pub revoked: bool,
    pub created: DateTime<Utc>,
    /// Requests per second (`None`: its workspace's, else the server default).
    pub rate_limit: Option<f64>,
}

impl Client {
    /// The client as JSON, without any secret (it is not stored).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "client_id": self.client_id,
            "workspace": self.workspace,
            "allowed_scopes": self.allowed_scopes,
            "admin": self.admin,
            "revoked": self.revoked,
            "created": self.created.to_rfc3339(),
            "rate_limit": self.rate_limit,
        })
    }
}

/// A workspace or client id: lowercase letters, digits and `-`, 1 to 40 characters.
pub fn check_id(kind: &str, id: &str) -> Result<(), LabError> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(LabError::Invalid(format!(
            "'{id}' is not a valid {kind} id (lowercase letters, digits and '-', at most 40)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_not_yet_available_are_errors() {
        for s in ["pseudonymised-pilot", "feasibility", "bogus"] {
            assert!(s.parse::<ServiceClass>().is_err(), "{s}");
        }
        let err = "feasibility".parse::<ServiceClass>().unwrap_err();
        assert!(err.to_string().contains("not available yet"), "{err}");
        assert_eq!(
            "integration".parse::<ServiceClass>().unwrap(),
            ServiceClass::Integration
        );
    }

    #[test]
    fn ids() {
        assert!(check_id("workspace", "uni-saar-1").is_ok());
        for bad in ["", "Default", "a/b", "-x", &"a".repeat(41)] {
            assert!(check_id("workspace", bad).is_err(), "{bad}");
        }
    }
}
