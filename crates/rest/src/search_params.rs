//! The search parameters in force on this server: the R4 core ones plus the custom
//! `SearchParameter` resources of the default partition whose `status` is `active`
//! ([`SearchParams`]), and what keeps them in step with the store.
//!
//! **Life of a custom parameter.** Writing an active `SearchParameter` checks it against the
//! parameters in force (`ParamRegistry::check_custom`: a 400 names the element at fault) and
//! changes the store's [`SETTING_STAMP`] in the same transaction. The server that wrote it
//! reloads at once, every other server sharing the store within
//! [`RestConfig::search_params_refresh`](crate::RestConfig). From then on every write indexes
//! the parameter, but it stays *pending* (searches on it are a 400) until a `$reindex` that
//! covers its base types completes ([`crate::operation::reindex`]) and records its version in
//! [`SETTING_READY`]. A new version of the `SearchParameter` is pending again; a retired or
//! deleted one is dropped (its index rows stay, unread, until the next reindex of the type).
//!
//! Custom parameters of lab workspaces' partitions are stored as data and never put in force:
//! the parameters are server-wide.

use crate::error::{FhirError, IssueCode};
use crosscare_search::{definition_from_resource, CustomParamError, ParamRegistry};
use crosscare_spec::model::SearchParamDef;
use crosscare_store::{PartitionId, ScanQuery, Store, StoreError, WriteTx};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

/// Setting: the versions of the custom parameters a completed reindex made searchable, as a
/// JSON object `{url: versionId}`.
pub const SETTING_READY: &str = "search.parameters.ready";
/// Setting: a value that changes whenever a `SearchParameter` of the default partition is
/// written or deleted, or a reindex completes; servers reload when they see it change.
pub const SETTING_STAMP: &str = "search.parameters.stamp";

/// The `SearchParameter` resources read per scan batch when loading.
const LOAD_BATCH: usize = 500;

/// What the store holds about custom parameters.
#[derive(Debug, Default)]
struct Stored {
    /// Active definitions with the `versionId` of their resource, by URL.
    active: BTreeMap<String, (SearchParamDef, u64)>,
    ready: BTreeMap<String, u64>,
    stamp: Option<String>,
}

/// The custom parameter definitions in force, with the version of each `SearchParameter`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomVersions(pub BTreeMap<String, u64>);

struct Loaded {
    registry: Arc<ParamRegistry>,
    versions: CustomVersions,
    stamp: Option<String>,
}

/// The live search parameters of one server (shared by every request and job).
pub struct SearchParams {
    loaded: RwLock<Loaded>,
    /// Registries replaced by a reload, which requests begun before it may still use.
    retired: Mutex<Vec<Weak<ParamRegistry>>>,
    /// Set by a write of a `SearchParameter` in this process: reload after the request.
    changed: AtomicBool,
    /// When the store's stamp is next compared, in milliseconds since `epoch` (the request
    /// that moves it forward does the comparison).
    next_check: AtomicU64,
    epoch: Instant,
    refresh: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SearchParams {
    /// The R4 core parameters only, never reloaded (a store without custom parameters).
    pub fn core() -> SearchParams {
        SearchParams {
            loaded: RwLock::new(Loaded {
                registry: Arc::new(ParamRegistry::new(Vec::new())),
                versions: CustomVersions::default(),
                stamp: None,
            }),
            retired: Mutex::new(Vec::new()),
            changed: AtomicBool::new(false),
            next_check: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
            refresh: Duration::MAX,
        }
    }

    /// The core parameters until the first successful reload (see [`SearchParams::load`]).
    pub fn core_refreshing(refresh: Duration) -> SearchParams {
        let params = SearchParams {
            refresh,
            ..SearchParams::core()
        };
        params
            .next_check
            .store(params.due_after(0), Ordering::Relaxed);
        params
    }

    /// The `next_check` value `refresh` after `now_ms` (never, for an unbounded refresh).
    fn due_after(&self, now_ms: u64) -> u64 {
        u64::try_from(self.refresh.as_millis())
            .map_or(u64::MAX, |r| now_ms.saturating_add(r.max(1)))
    }

    /// The parameters the store defines; the store's stamp is compared again every `refresh`.
    pub fn load(store: &dyn Store, refresh: Duration) -> Result<SearchParams, FhirError> {
        let params = SearchParams::core_refreshing(refresh);
        params.reload(store)?;
        Ok(params)
    }

    /// The registry for one request or batch: hold it for the whole of it.
    pub fn current(&self) -> Arc<ParamRegistry> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .registry
            .clone()
    }

    /// The custom definitions in force with their `SearchParameter` versions.
    pub fn versions(&self) -> CustomVersions {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .versions
            .clone()
    }

    /// Reads the custom parameters from the store and puts them in force.
    pub fn reload(&self, store: &dyn Store) -> Result<(), FhirError> {
        let stored = read_stored(store)?;
        let (registry, versions) = build(&stored);
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut loaded.registry, Arc::new(registry));
        loaded.versions = versions;
        loaded.stamp = stored.stamp;
        drop(loaded);
        let mut retired = lock(&self.retired);
        retired.retain(|w| w.strong_count() > 0);
        retired.push(Arc::downgrade(&old));
        Ok(())
    }

    /// Notes that this process wrote a `SearchParameter` (see [`SearchParams::after_request`]).
    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::SeqCst);
    }

    /// Called once a request is answered: reloads after a `SearchParameter` write of this
    /// process, so that the writer's next request sees it. A failure is retried by the next
    /// request.
    pub fn after_request(&self, store: &dyn Store) {
        // A plain load first: this runs after every request, on every core.
        if self.changed.load(Ordering::Relaxed) && self.changed.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.reload(store) {
                self.changed.store(true, Ordering::SeqCst);
                tracing::warn!(error = %e, "search parameters could not be reloaded");
            }
        }
    }

    /// Called before a request takes its registry: at most every `refresh`, compares the
    /// store's stamp and reloads when another server changed the parameters. Checking before
    /// (not after) the request is what bounds how stale a write's registry can be: even a
    /// server idle for an hour indexes its next write with the parameters in force.
    pub fn before_request(&self, store: &dyn Store) {
        self.after_request(store);
        let due = self.next_check.load(Ordering::Relaxed);
        if due == u64::MAX {
            return;
        }
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        if now < due {
            return;
        }
        let next = self.due_after(now);
        if self
            .next_check
            .compare_exchange(due, next, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let stamp = store.read_tx().and_then(|mut tx| tx.setting(SETTING_STAMP));
        let known = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .stamp
            .clone();
        match stamp {
            Ok(stamp) if stamp == known => {}
            Ok(_) => {
                if let Err(e) = self.reload(store) {
                    tracing::warn!(error = %e, "search parameters could not be reloaded");
                }
            }
            Err(e) => tracing::warn!(error = %e, "search parameter stamp could not be read"),
        }
    }

    /// How long another server sharing the store may take to see a change.
    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    /// Waits until no request still uses a registry replaced by a reload (each request holds
    /// its registry for its whole duration), or until `stop` says so. Returns `false` if
    /// stopped.
    pub fn wait_for_retired(&self, stop: &dyn Fn() -> bool) -> bool {
        loop {
            {
                let mut retired = lock(&self.retired);
                retired.retain(|w| w.strong_count() > 0);
                if retired.is_empty() {
                    return true;
                }
            }
            if stop() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The registry of the stored definitions: each checked against those accepted before it (in
/// URL order); one that does not fit (written before it could be checked, by an offline
/// import) is left out with a warning.
fn build(stored: &Stored) -> (ParamRegistry, CustomVersions) {
    let mut accepted: Vec<SearchParamDef> = Vec::new();
    let mut versions = BTreeMap::new();
    let mut registry = ParamRegistry::new(Vec::new());
    for (url, (def, version)) in &stored.active {
        match registry.check_custom(def) {
            Ok(()) => {
                accepted.push(def.clone());
                versions.insert(url.clone(), *version);
                registry = ParamRegistry::new(accepted.clone());
            }
            Err(e) => {
                tracing::warn!(%url, error = %e, "SearchParameter left out of the search parameters in force");
            }
        }
    }
    let pending: HashSet<String> = versions
        .iter()
        .filter(|(url, v)| stored.ready.get(*url) != Some(v))
        .map(|(url, _)| url.clone())
        .collect();
    (
        ParamRegistry::with_pending(accepted, pending),
        CustomVersions(versions),
    )
}

fn store_error(e: StoreError) -> FhirError {
    FhirError::from(e)
}

/// The active custom `SearchParameter`s of the default partition, the ready versions and the
/// stamp.
fn read_stored(store: &dyn Store) -> Result<Stored, FhirError> {
    let partition = PartitionId::default_partition();
    let mut tx = store.read_tx().map_err(store_error)?;
    let mut stored = Stored {
        stamp: tx.setting(SETTING_STAMP).map_err(store_error)?,
        ready: tx
            .setting(SETTING_READY)
            .map_err(store_error)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default(),
        ..Stored::default()
    };
    let mut query = ScanQuery::new("SearchParameter", LOAD_BATCH);
    loop {
        let page = tx.scan(&partition, &query).map_err(store_error)?;
        for version in page.versions {
            let Some(body) = version.body.as_deref() else {
                continue;
            };
            let Ok(resource) = serde_json::from_str::<Value>(body) else {
                continue;
            };
            if !is_in_force(&resource) {
                continue;
            }
            match definition_from_resource(&resource) {
                Ok(def) => {
                    stored
                        .active
                        .insert(def.url.clone(), (def, version.version_id));
                }
                Err(e) => tracing::warn!(
                    id = %version.id,
                    error = %e,
                    "SearchParameter left out of the search parameters in force"
                ),
            }
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    Ok(stored)
}

/// Whether a stored `SearchParameter` is a custom parameter to put in force: active, and not
/// one of the R4 core parameters (whose URL it would merely repeat).
fn is_in_force(resource: &Value) -> bool {
    resource["status"] == "active"
        && !resource["url"]
            .as_str()
            .is_some_and(crosscare_search::custom::is_core)
}

fn custom_error(e: CustomParamError) -> FhirError {
    FhirError::new(400, IssueCode::Invalid, e.to_string())
        .at(format!("SearchParameter.{}", e.element()))
}

/// The write of a resource to `partition`: for a `SearchParameter` of the default partition,
/// checks that it can be put in force (when it is active) and changes the store's stamp in
/// the same transaction. Called by every write path before the resource is stored.
pub fn before_write(
    params: &ParamRegistry,
    live: Option<&SearchParams>,
    tx: &mut dyn WriteTx,
    partition: &PartitionId,
    resource_type: &str,
    resource: Option<&Value>,
) -> Result<(), FhirError> {
    if resource_type != "SearchParameter" || partition.0 != crosscare_store::DEFAULT_PARTITION {
        return Ok(());
    }
    if let Some(resource) = resource.filter(|r| is_in_force(r)) {
        let def = definition_from_resource(resource).map_err(custom_error)?;
        params.check_custom(&def).map_err(custom_error)?;
    }
    tx.put_setting(SETTING_STAMP, &uuid::Uuid::new_v4().to_string())
        .map_err(store_error)?;
    if let Some(live) = live {
        live.mark_changed();
    }
    Ok(())
}

/// Records that a reindex made `covered` searchable: each URL whose `SearchParameter` is still
/// at the covered version gets it in [`SETTING_READY`]; the stamp changes so that every server
/// reloads. Returns the URLs recorded.
pub fn record_ready(
    store: &dyn Store,
    covered: &BTreeMap<String, u64>,
) -> Result<Vec<String>, FhirError> {
    let stored = read_stored(store)?;
    let mut tx = store.write_tx().map_err(store_error)?;
    let mut ready: BTreeMap<String, u64> = tx
        .setting(SETTING_READY)
        .map_err(store_error)?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    // Entries of parameters no longer in force are dropped: a parameter re-activated later
    // comes back with a newer version and must be reindexed again.
    ready.retain(|url, _| stored.active.contains_key(url));
    let mut recorded = Vec::new();
    for (url, version) in covered {
        if stored.active.get(url).map(|(_, v)| v) == Some(version) {
            ready.insert(url.clone(), *version);
            recorded.push(url.clone());
        }
    }
    let text = serde_json::to_string(&ready).map_err(|e| FhirError::internal(e.to_string()))?;
    tx.put_setting(SETTING_READY, &text).map_err(store_error)?;
    tx.put_setting(SETTING_STAMP, &uuid::Uuid::new_v4().to_string())
        .map_err(store_error)?;
    tx.commit().map_err(store_error)?;
    Ok(recorded)
}
