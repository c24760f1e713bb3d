//! The search parameters in force: the R4 definitions from the spec tables, plus any custom
//! `SearchParameter` definitions registered at run time. Both the query parser and the index
//! extractor read parameters from a [`ParamRegistry`].
//!
//! A custom parameter is either *searchable* or *pending*. Writes index both (so nothing
//! written after its registration is missed), but a pending one is refused by the query parser
//! with [`SearchError::NotYetIndexed`] until a reindex has covered the resources stored before
//! it: a search on it would otherwise silently miss them.

use crate::derived::Derivation;
use crate::extract::CompiledTable;
use crate::SearchError;
use crosscare_spec::model::SearchParamDef;
use crosscare_spec::Spec;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, OnceLock};

static R4: LazyLock<ParamRegistry> = LazyLock::new(|| ParamRegistry::new(Vec::new()));

/// Search parameters per resource type, with their compiled FHIRPath expressions built lazily
/// (once per resource type, shared between threads).
#[derive(Debug)]
pub struct ParamRegistry {
    by_type: HashMap<String, Vec<Arc<SearchParamDef>>>,
    by_url: HashMap<String, Arc<SearchParamDef>>,
    compiled: HashMap<String, OnceLock<CompiledTable>>,
    /// Per type, the derived parameters (see `derived`), found on first use.
    derived: HashMap<String, OnceLock<HashMap<String, Derivation>>>,
    /// The custom definitions, in registration order.
    custom: Vec<Arc<SearchParamDef>>,
    /// URLs of the custom definitions that are indexed on write but not searchable yet.
    pending: HashSet<String>,
}

impl ParamRegistry {
    /// The R4 core search parameters only.
    pub fn r4() -> &'static ParamRegistry {
        &R4
    }

    /// The R4 core parameters plus `extra` (custom `SearchParameter` definitions). An extra
    /// parameter with the same code as a core one on the same base replaces it.
    pub fn new(extra: Vec<SearchParamDef>) -> ParamRegistry {
        Self::with_pending(extra, HashSet::new())
    }

    /// Like [`ParamRegistry::new`], with the extra definitions whose URL is in `pending`
    /// indexed on write but refused in searches (see the module documentation).
    pub fn with_pending(extra: Vec<SearchParamDef>, pending: HashSet<String>) -> ParamRegistry {
        let spec = Spec::r4();
        let mut by_url: HashMap<String, Arc<SearchParamDef>> = HashMap::new();
        for def in spec
            .search_params()
            .iter()
            .cloned()
            .chain(extra.iter().cloned())
        {
            by_url.insert(def.url.clone(), Arc::new(def));
        }
        let mut by_type: HashMap<String, Vec<Arc<SearchParamDef>>> = HashMap::new();
        let mut compiled = HashMap::new();
        let mut derived = HashMap::new();
        for t in spec.resource_types() {
            let mut params: Vec<Arc<SearchParamDef>> = spec
                .search_params_for(&t.name)
                .filter_map(|d| by_url.get(&d.url).cloned())
                .collect();
            for def in &extra {
                let applies = def
                    .base
                    .iter()
                    .any(|b| b == &t.name || spec.is_subtype_of(&t.name, b));
                if applies {
                    params.retain(|p| p.code != def.code);
                    if let Some(d) = by_url.get(&def.url) {
                        params.push(d.clone());
                    }
                }
            }
            // The spec tables carry one example definition that repeats a core code (`_id`);
            // a code means one parameter, the first definition.
            let mut seen = std::collections::HashSet::new();
            params.retain(|p| seen.insert(p.code.clone()));
            by_type.insert(t.name.clone(), params);
            compiled.insert(t.name.clone(), OnceLock::new());
            derived.insert(t.name.clone(), OnceLock::new());
        }
        let custom = extra
            .iter()
            .filter_map(|d| by_url.get(&d.url).cloned())
            .collect();
        ParamRegistry {
            by_type,
            by_url,
            compiled,
            derived,
            custom,
            pending,
        }
    }

    /// The custom definitions (core R4 ones excluded), searchable or pending.
    pub fn custom(&self) -> &[Arc<SearchParamDef>] {
        &self.custom
    }

    /// Whether a custom definition is indexed on write but not searchable yet.
    pub fn is_pending(&self, url: &str) -> bool {
        self.pending.contains(url)
    }

    /// The error for a parameter code that [`ParamRegistry::param`] does not give: not yet
    /// indexed when a pending custom definition has it, unknown otherwise.
    pub fn unknown(&self, resource_type: &str, code: &str) -> SearchError {
        match self.indexed_param(resource_type, code) {
            Some(def) if self.pending.contains(&def.url) => SearchError::NotYetIndexed {
                resource_type: resource_type.to_string(),
                param: code.to_string(),
                url: def.url.clone(),
            },
            _ => SearchError::UnknownParameter {
                resource_type: resource_type.to_string(),
                param: code.to_string(),
            },
        }
    }

    pub fn is_resource_type(&self, name: &str) -> bool {
        self.by_type.contains_key(name)
    }

    /// All parameters indexed for a resource type, pending ones included (empty for an
    /// unknown type).
    pub fn params(&self, resource_type: &str) -> &[Arc<SearchParamDef>] {
        self.by_type
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The parameters of a resource type that searches may use (pending ones left out).
    pub fn searchable_params<'a>(
        &'a self,
        resource_type: &str,
    ) -> impl Iterator<Item = &'a SearchParamDef> + 'a {
        let params = self.params(resource_type);
        params
            .iter()
            .filter(|p| !self.pending.contains(&p.url))
            .map(Arc::as_ref)
    }

    /// The searchable parameter `code` of a resource type.
    pub fn param(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        self.indexed_param(resource_type, code)
            .filter(|d| !self.pending.contains(&d.url))
    }

    /// The parameter `code` of a resource type, pending or not.
    fn indexed_param(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        self.params(resource_type)
            .iter()
            .find(|p| p.code == code)
            .map(Arc::as_ref)
    }

    /// A parameter that applies to every resource type (`_id`, `_lastUpdated`, `_tag`…), for
    /// system-level search.
    pub fn common_param(&self, code: &str) -> Option<&SearchParamDef> {
        self.by_url
            .values()
            .find(|p| {
                p.code == code
                    && p.base.iter().any(|b| b == "Resource")
                    && !self.pending.contains(&p.url)
            })
            .map(Arc::as_ref)
    }

    pub fn by_url(&self, url: &str) -> Option<&SearchParamDef> {
        self.by_url.get(url).map(Arc::as_ref)
    }

    /// For a derived parameter of a resource type (see `derived`), how the stored parameters
    /// answer it; `None` for a parameter that is stored itself.
    pub fn derivation(&self, resource_type: &str, code: &str) -> Option<&Derivation> {
        let cell = self.derived.get(resource_type)?;
        let table = cell.get_or_init(|| {
            crate::derived::derivations(
                resource_type,
                self.params(resource_type),
                &|d| !self.custom.iter().any(|c| c.url == d.url),
                &|url| self.by_url(url).map(|d| d.param_type),
            )
        });
        table.get(code)
    }

    /// The compiled expressions of a resource type, built on first use.
    pub(crate) fn compiled(&self, resource_type: &str) -> Option<&CompiledTable> {
        let cell = self.compiled.get(resource_type)?;
        Some(cell.get_or_init(|| CompiledTable::build(self, resource_type)))
    }

    /// Every resource type the registry knows, sorted.
    pub fn resource_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.by_type.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}
