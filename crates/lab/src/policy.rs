//! The policy decision point: who may do what, in which partition.
//!
//! `crosscare-rest` calls [`authorize`] for every interaction before it reaches the store
//! (top-level requests, each batch/transaction entry, the searches behind conditional
//! interactions), takes the partition from [`Access::partition`], and drops from every result
//! Bundle the resources [`Access::may_see`] refuses (`_include`, `_revinclude`, compartment
//! searches, `$everything`). Nothing else in the server decides access.

use crate::model::{partition_of, ServiceClass};
use crate::scope::{Perm, Restriction, Scopes};
use crosscare_store::PartitionId;
use serde_json::Value;

/// The real (production) INS-NIR OID. Synthetic data uses the test OID
/// `urn:oid:1.2.250.1.213.1.4.10`; a sandbox refuses the real one anywhere.
pub const INS_NIR_PRODUCTION_OID: &str = "urn:oid:1.2.250.1.213.1.4.8";

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No authentication: `crosscare serve --insecure-no-auth` (loopback only) and in-process
    /// callers (offline import, tests). Sees the default partition; only the audit-trail rule
    /// applies.
    Unrestricted,
    /// An authenticated client, from a verified access token.
    Client(Principal),
}

/// An authenticated client and what its token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: String,
    /// `None` for an administrator client (the hospital's own operators).
    pub workspace: Option<WorkspaceGrant>,
    /// The granted scopes (the token's, narrowed to what the client is still allowed).
    pub scopes: Scopes,
    /// The token's `jti`, recorded in the audit trail.
    pub token_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceGrant {
    pub id: String,
    pub class: ServiceClass,
    /// Most current resources in its partition (sandbox and training only); `None`: no limit.
    pub max_resources: Option<u64>,
    /// A training workspace's template workspace, whose partition `$reset` copies.
    pub template: Option<String>,
}

impl Access {
    /// The partition every read and write of this request goes to. `requested` is what the
    /// transport asked for, honoured only without authentication.
    pub fn partition(&self, requested: &PartitionId) -> PartitionId {
        match self {
            Access::Unrestricted => requested.clone(),
            Access::Client(p) => match &p.workspace {
                None => PartitionId::default_partition(),
                Some(ws) => match ws.class {
                    ServiceClass::Integration => PartitionId::default_partition(),
                    ServiceClass::Sandbox | ServiceClass::Training => partition_of(&ws.id),
                },
            },
        }
    }

    /// Whether a resource of `resource_type` may appear in a response (granted `r` or `s`;
    /// AuditEvents only to administrators).
    pub fn may_see(&self, resource_type: &str) -> bool {
        match self {
            Access::Unrestricted => true,
            Access::Client(p) => {
                (p.workspace.is_none() || resource_type != "AuditEvent")
                    && (p.scopes.allows(resource_type, Perm::Read)
                        || p.scopes.allows(resource_type, Perm::Search))
            }
        }
    }

    /// Which resources of `resource_type` the request may see through any of `perms`: all,
    /// those matching one of the scopes' restrictions (applied by the REST layer), or none.
    pub fn restriction(&self, resource_type: &str, perms: &[Perm]) -> Restriction<'_> {
        match self {
            Access::Unrestricted => Restriction::All,
            Access::Client(p) if p.workspace.is_some() && resource_type == "AuditEvent" => {
                Restriction::Denied
            }
            Access::Client(p) => p.scopes.restriction(resource_type, perms),
        }
    }

    /// The storage quota of the request's partition: most current resources it may hold, for a
    /// sandbox or training workspace with a limit (integration writes to the hospital's data).
    pub fn storage_quota(&self) -> Option<u64> {
        match self {
            Access::Client(Principal {
                workspace: Some(ws),
                ..
            }) if matches!(ws.class, ServiceClass::Sandbox | ServiceClass::Training) => {
                ws.max_resources
            }
            _ => None,
        }
    }

    /// The workspace of the request, if it has one.
    pub fn workspace(&self) -> Option<&WorkspaceGrant> {
        match self {
            Access::Client(Principal { workspace, .. }) => workspace.as_ref(),
            Access::Unrestricted => None,
        }
    }

    /// Whether this is an administrator client (no workspace: the hospital's own operators).
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Access::Client(Principal {
                workspace: None,
                ..
            })
        )
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            Access::Unrestricted => None,
            Access::Client(p) => Some(&p.client_id),
        }
    }

    pub fn workspace_id(&self) -> Option<&str> {
        match self {
            Access::Client(Principal {
                workspace: Some(ws),
                ..
            }) => Some(&ws.id),
            _ => None,
        }
    }

    fn class(&self) -> Option<ServiceClass> {
        match self {
            Access::Client(Principal {
                workspace: Some(ws),
                ..
            }) => Some(ws.class),
            _ => None,
        }
    }
}

/// What is being done, transport-agnostic (the REST layer maps its routes onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Capabilities,
    Read,
    VRead,
    HistoryInstance,
    HistoryType,
    HistorySystem,
    SearchType,
    SearchSystem,
    /// `Patient/1/Observation` (or `Patient/1/*`): the compartment owner's type is the
    /// request's type; `target` is `None` for `*`.
    SearchCompartment,
    /// `Patient/[id]/$everything`.
    Everything,
    Create,
    Update,
    Patch,
    Delete,
    ConditionalUpdate,
    ConditionalDelete,
    ConditionalPatch,
    /// The search behind a conditional interaction or reference.
    ConditionalMatch,
    /// `[type]/$validate`: no store access.
    Validate,
    /// A batch or transaction Bundle as a whole (each entry is authorised on its own).
    Bundle,
    /// Bulk Data `$export` (kick-off, status, cancel, file download).
    BulkExport,
    /// Bulk Data `$import` (kick-off, status, cancel, error report).
    BulkImport,
    /// SQL-on-FHIR `ViewDefinition/$run` over the store.
    ViewRun,
    /// `$reset`: a training workspace's partition back to its template's data.
    Reset,
    /// `$reindex` (kick-off, status, cancel): index entries recomputed for the whole store.
    Reindex,
}

impl Interaction {
    /// The code in `http://hl7.org/fhir/restful-interaction` (operations by name).
    pub fn code(self) -> &'static str {
        match self {
            Interaction::Capabilities => "capabilities",
            Interaction::Read => "read",
            Interaction::VRead => "vread",
            Interaction::HistoryInstance => "history-instance",
            Interaction::HistoryType => "history-type",
            Interaction::HistorySystem => "history-system",
            Interaction::SearchType | Interaction::SearchCompartment => "search-type",
            Interaction::SearchSystem => "search-system",
            Interaction::Everything | Interaction::Validate => "operation",
            Interaction::Create => "create",
            Interaction::Update | Interaction::ConditionalUpdate => "update",
            Interaction::Patch | Interaction::ConditionalPatch => "patch",
            Interaction::Delete | Interaction::ConditionalDelete => "delete",
            Interaction::ConditionalMatch => "search-type",
            Interaction::Bundle => "transaction",
            Interaction::BulkExport
            | Interaction::BulkImport
            | Interaction::ViewRun
            | Interaction::Reset
            | Interaction::Reindex => "operation",
        }
    }

    /// The AuditEvent `action`: C, R, U, D or E.
    pub fn action(self) -> &'static str {
        match self {
            Interaction::Create => "C",
            Interaction::Update
            | Interaction::ConditionalUpdate
            | Interaction::Patch
            | Interaction::ConditionalPatch => "U",
            Interaction::Delete | Interaction::ConditionalDelete => "D",
            Interaction::Everything
            | Interaction::Validate
            | Interaction::Bundle
            | Interaction::BulkExport
            | Interaction::BulkImport
            | Interaction::ViewRun
            | Interaction::Reset
            | Interaction::Reindex => "E",
            _ => "R",
        }
    }

    fn writes(self) -> bool {
        matches!(self.action(), "C" | "U" | "D")
    }
}

/// One request to decide on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub interaction: Interaction,
    /// The type in the path (the compartment type for compartment searches and `$everything`).
    pub resource_type: Option<&'a str>,
    /// The target type of a compartment search (`None` for `*`).
    pub target_type: Option<&'a str>,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
}

impl<'a> Request<'a> {
    pub fn new(interaction: Interaction, resource_type: Option<&'a str>) -> Request<'a> {
        Request {
            interaction,
            resource_type,
            target_type: None,
            query: &[],
            body: None,
        }
    }
}

/// A refusal, with the HTTP status and `OperationOutcome` issue code to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    /// `forbidden`, `business-rule`, `not-supported` …
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Permit,
    Deny(Denial),
}

fn deny(status: u16, code: &'static str, message: String) -> Decision {
    Decision::Deny(Denial {
        status,
        code,
        message,
    })
}

/// The decision for one request. Pure: same inputs, same answer.
pub fn authorize(access: &Access, req: &Request<'_>) -> Decision {
    let ty = req.resource_type.unwrap_or("*");
    if req.interaction.writes() && ty == "AuditEvent" {
        return deny(
            405,
            "not-supported",
            "AuditEvents are written by the server's audit trail only; no API call can \
             create, change or delete one"
                .into(),
        );
    }
    if req.interaction == Interaction::Capabilities {
        return Decision::Permit;
    }
    let Access::Client(p) = access else {
        return Decision::Permit;
    };
    if p.workspace.is_some() && (ty == "AuditEvent" || req.target_type == Some("AuditEvent")) {
        return deny(
            403,
            "forbidden",
            "AuditEvents (the audit trail) are for the hospital's administrators only".into(),
        );
    }
    if access.class() == Some(ServiceClass::Sandbox) {
        if let Some(d) = production_ins_nir(req) {
            return d;
        }
    }
    use Interaction::*;
    let needs: Vec<(&str, Perm)> = match req.interaction {
        Capabilities | Bundle => Vec::new(),
        Read | VRead | HistoryInstance | Everything => vec![(ty, Perm::Read)],
        SearchType | HistoryType | ConditionalMatch => vec![(ty, Perm::Search)],
        SearchCompartment => match req.target_type {
            Some(t) => vec![(ty, Perm::Read), (t, Perm::Search)],
            None => vec![(ty, Perm::Read)],
        },
        SearchSystem | HistorySystem => {
            if p.scopes.allows_all_types(Perm::Search) {
                Vec::new()
            } else {
                return deny(
                    403,
                    "forbidden",
                    format!(
                        "a system-level {} needs the scope system/*.s; the token grants '{}' \
                         — search by type instead",
                        if req.interaction == SearchSystem {
                            "search"
                        } else {
                            "history"
                        },
                        p.scopes
                    ),
                );
            }
        }
        Create => vec![(ty, Perm::Create)],
        Update | Patch => vec![(ty, Perm::Update)],
        Delete => vec![(ty, Perm::Delete)],
        ConditionalUpdate | ConditionalPatch => vec![(ty, Perm::Update), (ty, Perm::Search)],
        ConditionalDelete => vec![(ty, Perm::Delete), (ty, Perm::Search)],
        // Whole-population reads: their per-type scope filtering, partition scoping of jobs and
        // files, and audit of each file are not built yet, so a client token is refused rather
        // than trusted; local (unauthenticated, loopback) use is unaffected.
        BulkExport | ViewRun => {
            return deny(
                403,
                "forbidden",
                "Bulk export and ViewDefinition/$run are not yet available to client tokens in \
                 the lab; use them on a server started with --insecure-no-auth or `crosscare \
                 export` on the data folder"
                    .into(),
            );
        }
        // A whole-population write whose per-type scopes, partition of the jobs and audit of
        // each resource are not built yet: refused to client tokens like the bulk reads.
        // Server-wide maintenance over every partition: the hospital's operators only.
        Reindex => {
            return if p.workspace.is_none() {
                Decision::Permit
            } else {
                deny(
                    403,
                    "forbidden",
                    "$reindex works on the whole server; it is for the hospital's \
                     administrators only"
                        .into(),
                )
            };
        }
        BulkImport => {
            return deny(
                403,
                "forbidden",
                "Bulk $import is not yet available to client tokens in the lab; use it on a \
                 server started with --insecure-no-auth or `crosscare import` on the data folder"
                    .into(),
            );
        }
        Reset => {
            return match &p.workspace {
                Some(ws) if ws.class == ServiceClass::Training && ws.template.is_none() => deny(
                    400,
                    "business-rule",
                    format!(
                        "training workspace '{}' has no template to reset to (a course's \
                         template workspace is never reset; trainee workspaces are created \
                         with --template)",
                        ws.id
                    ),
                ),
                Some(ws) if ws.class == ServiceClass::Training => {
                    if p.scopes.allows_some_write() {
                        Decision::Permit
                    } else {
                        deny(
                            403,
                            "forbidden",
                            format!(
                                "$reset rewrites the workspace: it needs a token with some \
                                 c, u or d scope; this one grants '{}'",
                                p.scopes
                            ),
                        )
                    }
                }
                Some(ws) => deny(
                    403,
                    "forbidden",
                    format!(
                        "$reset is only available in a training workspace; '{}' is a {} \
                         workspace",
                        ws.id, ws.class
                    ),
                ),
                None => deny(
                    403,
                    "forbidden",
                    "$reset is only available in a training workspace; administrators work \
                     on the hospital's own data, which is never reset"
                        .into(),
                ),
            };
        }
        Validate => {
            if p.scopes.mentions(ty) {
                Vec::new()
            } else {
                return deny(
                    403,
                    "forbidden",
                    format!("the token grants no scope on {ty}"),
                );
            }
        }
    };
    for (t, perm) in needs {
        if !p.scopes.allows(t, perm) {
            let letter = match perm {
                Perm::Create => "c",
                Perm::Read => "r",
                Perm::Update => "u",
                Perm::Delete => "d",
                Perm::Search => "s",
            };
            return deny(
                403,
                "forbidden",
                format!(
                    "{} on {t} needs the scope system/{t}.{letter}; the token grants '{}'",
                    req.interaction.code(),
                    p.scopes
                ),
            );
        }
    }
    // A restriction by search parameter cannot be applied to past versions: the history of a
    // type or a resource needs a scope on the whole type.
    let history = match req.interaction {
        HistoryInstance => Some(Perm::Read),
        HistoryType => Some(Perm::Search),
        _ => None,
    };
    if let Some(perm) = history {
        if p.scopes.restriction(ty, &[perm]) != Restriction::All {
            return deny(
                403,
                "forbidden",
                format!(
                    "the history of {ty} needs a scope on the whole type; the token's scopes \
                     on {ty} are restricted by search parameters ('{}')",
                    p.scopes
                ),
            );
        }
    }
    Decision::Permit
}

/// A sandbox refuses the production INS-NIR OID in bodies and in search parameters.
fn production_ins_nir(req: &Request<'_>) -> Option<Decision> {
    if req.body.is_some_and(contains_oid) {
        return Some(deny(
            422,
            "business-rule",
            format!(
                "a sandbox holds synthetic data only: the identifier system \
                 {INS_NIR_PRODUCTION_OID} is the real INS-NIR; use the test OID \
                 urn:oid:1.2.250.1.213.1.4.10"
            ),
        ));
    }
    let in_query = req.query.iter().any(|(_, v)| {
        v.split(',')
            .any(|one| one.split('|').next() == Some(INS_NIR_PRODUCTION_OID))
    });
    in_query.then(|| {
        deny(
            400,
            "business-rule",
            format!(
                "a sandbox holds synthetic data only: searching the real INS-NIR system \
                 {INS_NIR_PRODUCTION_OID} is refused"
            ),
        )
    })
}

fn contains_oid(v: &Value) -> bool {
    match v {
        Value::String(s) => s == INS_NIR_PRODUCTION_OID,
        Value::Array(a) => a.iter().any(contains_oid),
        Value::Object(o) => o.values().any(contains_oid),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(class: Option<ServiceClass>, scopes: &str) -> Access {
        Access::Client(Principal {
            client_id: "cc-1".into(),
            workspace: class.map(|class| WorkspaceGrant {
                id: "w".into(),
                class,
                max_resources: None,
                template: None,
            }),
            scopes: Scopes::parse(scopes).unwrap(),
            token_id: "t".into(),
        })
    }

    fn status(access: &Access, req: Request<'_>) -> u16 {
        match authorize(access, &req) {
            Decision::Permit => 200,
            Decision::Deny(d) => d.status,
        }
    }

    #[test]
    fn partitions() {
        let default = PartitionId::default_partition();
        assert_eq!(Access::Unrestricted.partition(&default), default);
        assert_eq!(
            client(Some(ServiceClass::Sandbox), "system/*.rs").partition(&default),
            PartitionId("ws-w".into())
        );
        assert_eq!(
            client(Some(ServiceClass::Training), "system/*.rs").partition(&default),
            PartitionId("ws-w".into())
        );
        assert_eq!(
            client(Some(ServiceClass::Integration), "system/*.rs")
                .partition(&PartitionId("ws-other".into())),
            default
        );
    }

    #[test]
    fn audit_events_are_never_written() {
        for access in [
            Access::Unrestricted,
            client(None, "system/*.cruds"),
            client(Some(ServiceClass::Sandbox), "system/*.cruds"),
        ] {
            for i in [
                Interaction::Create,
                Interaction::Update,
                Interaction::Patch,
                Interaction::Delete,
                Interaction::ConditionalDelete,
            ] {
                assert_eq!(
                    status(&access, Request::new(i, Some("AuditEvent"))),
                    405,
                    "{i:?}"
                );
            }
        }
        for (access, read) in [
            (Access::Unrestricted, 200),
            (client(None, "system/*.cruds"), 200),
            (client(Some(ServiceClass::Sandbox), "system/*.cruds"), 403),
            (
                client(Some(ServiceClass::Integration), "system/*.cruds"),
                403,
            ),
        ] {
            for i in [Interaction::Read, Interaction::SearchType] {
                assert_eq!(status(&access, Request::new(i, Some("AuditEvent"))), read);
            }
            assert_eq!(access.may_see("AuditEvent"), read == 200);
        }
    }

    #[test]
    fn reindex_is_for_administrators() {
        for (access, expected) in [
            (Access::Unrestricted, 200),
            (client(None, "system/*.rs"), 200),
            (
                client(Some(ServiceClass::Integration), "system/*.cruds"),
                403,
            ),
            (client(Some(ServiceClass::Sandbox), "system/*.cruds"), 403),
            (client(Some(ServiceClass::Training), "system/*.cruds"), 403),
        ] {
            for ty in [None, Some("Patient")] {
                assert_eq!(
                    status(&access, Request::new(Interaction::Reindex, ty)),
                    expected,
                    "{access:?} {ty:?}"
                );
            }
        }
    }

    #[test]
    fn system_level_needs_wildcard() {
        let a = client(Some(ServiceClass::Integration), "system/Patient.rs");
        assert_eq!(
            status(&a, Request::new(Interaction::SearchSystem, None)),
            403
        );
        assert_eq!(
            status(&a, Request::new(Interaction::HistorySystem, None)),
            403
        );
        let w = client(Some(ServiceClass::Integration), "system/*.s");
        assert_eq!(
            status(&w, Request::new(Interaction::SearchSystem, None)),
            200
        );
    }

    #[test]
    fn sandbox_refuses_the_real_ins_nir() {
        let body = json!({"resourceType": "Patient", "identifier": [
            {"system": INS_NIR_PRODUCTION_OID, "value": "1"}]});
        let test_body = json!({"resourceType": "Patient", "identifier": [
            {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": "1"}]});
        let sandbox = client(Some(ServiceClass::Sandbox), "system/*.cruds");
        let mut req = Request::new(Interaction::Create, Some("Patient"));
        req.body = Some(&body);
        assert_eq!(status(&sandbox, req), 422);
        req.body = Some(&test_body);
        assert_eq!(status(&sandbox, req), 200);
        let q = vec![(
            "identifier".to_string(),
            format!("{INS_NIR_PRODUCTION_OID}|123"),
        )];
        let mut search = Request::new(Interaction::SearchType, Some("Patient"));
        search.query = &q;
        assert_eq!(status(&sandbox, search), 400);
        let integration = client(Some(ServiceClass::Integration), "system/*.cruds");
        assert_eq!(status(&integration, search), 200);
    }
}
