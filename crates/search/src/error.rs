//! The one error type of search query parsing, with the offending parameter named in each case.

/// Why a search request cannot be run. Every variant names the parameter (and, where relevant,
/// the value or modifier) so the REST layer can put it in the `OperationOutcome`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchError {
    #[error("unknown resource type '{0}'")]
    UnknownResourceType(String),
    #[error("unknown search parameter '{param}' for {resource_type}")]
    UnknownParameter {
        resource_type: String,
        param: String,
    },
    #[error("unknown or inapplicable modifier ':{modifier}' on search parameter '{param}'")]
    UnknownModifier { param: String, modifier: String },
    #[error("invalid value '{value}' for search parameter '{param}': {reason}")]
    InvalidValue {
        param: String,
        value: String,
        reason: String,
    },
    #[error("chained parameter '{param}' can refer to several types ({candidates}); add a type modifier such as '{param}:{example}'")]
    AmbiguousChain {
        param: String,
        candidates: String,
        example: String,
    },
    #[error("search parameter '{param}' is not supported: {reason}")]
    Unsupported { param: String, reason: String },
    /// A custom parameter (a stored `SearchParameter`) whose existing resources are not all
    /// indexed yet: searching it would silently miss them.
    #[error("search parameter '{param}' of {resource_type} (SearchParameter {url}) is not searchable until a $reindex covering it has completed")]
    NotYetIndexed {
        resource_type: String,
        param: String,
        url: String,
    },
}

impl SearchError {
    pub(crate) fn invalid(param: &str, value: &str, reason: impl Into<String>) -> Self {
        SearchError::InvalidValue {
            param: param.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(param: &str, reason: impl Into<String>) -> Self {
        SearchError::Unsupported {
            param: param.to_string(),
            reason: reason.into(),
        }
    }

    /// The parameter name the error is about, when there is one.
    pub fn param(&self) -> Option<&str> {
        match self {
            SearchError::UnknownResourceType(_) => None,
            SearchError::UnknownParameter { param, .. }
            | SearchError::UnknownModifier { param, .. }
            | SearchError::InvalidValue { param, .. }
            | SearchError::AmbiguousChain { param, .. }
            | SearchError::Unsupported { param, .. }
            | SearchError::NotYetIndexed { param, .. } => Some(param),
        }
    }
}
