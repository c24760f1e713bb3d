//! The backend-neutral types of [`crate::ReadTx::scan`]: a batched walk over the current
//! resources of one type for Bulk Data export and views over the store.

use chrono::{DateTime, Utc};

/// Restricts a scan to the members of some compartments, e.g. the `Patient` compartments of
/// the patients of a Group. The caller derives `params` from the spec's
/// `CompartmentDefinition` (`crosscare_search::compartment::compartment_params`); the store only
/// follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompartmentScope {
    /// The compartment type (`Patient`).
    pub compartment: String,
    /// Reference search parameters of the scanned type that place a resource in the
    /// compartment of the resource they point to.
    pub params: Vec<String>,
    /// The scanned type is the compartment type itself: a resource is in its own compartment.
    pub includes_self: bool,
    /// The compartment owners (`Patient` ids); `None` means any resource of the compartment
    /// type (every patient).
    pub ids: Option<Vec<String>>,
}

/// One batch request of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanQuery {
    pub resource_type: String,
    /// Only resources whose version is newer than this (`_since`, exclusive).
    pub since: Option<DateTime<Utc>>,
    /// The versions current at this instant (a Bulk export's transaction time); resources
    /// created later are left out, resources updated or deleted later appear as they were.
    pub until: Option<DateTime<Utc>>,
    pub compartment: Option<CompartmentScope>,
    /// Where the previous batch ended (`None`: from the start).
    pub after: Option<ScanCursor>,
    /// Most resources in the batch (at least 1).
    pub limit: usize,
}

impl ScanQuery {
    /// A scan of every current resource of a type, from the start, in batches of `limit`.
    pub fn new(resource_type: impl Into<String>, limit: usize) -> ScanQuery {
        ScanQuery {
            resource_type: resource_type.into(),
            since: None,
            until: None,
            compartment: None,
            after: None,
            limit,
        }
    }
}

/// A position in a scan, opaque to callers, safe to persist (a restarted export resumes from
/// it) as long as the backend stays the same.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScanCursor(pub String);

/// One batch of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    pub versions: Vec<crate::ResourceVersion>,
    /// Where to continue; `None` when the scan is complete.
    pub next: Option<ScanCursor>,
}
