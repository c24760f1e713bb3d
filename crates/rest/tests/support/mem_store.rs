//! A small in-memory `Store` for the black-box tests: every version kept in a vector, searches
//! decided by `Filter::matches` (the search crate's reference semantics) over extracted index
//! entries. Write transactions work on a copy that `commit` swaps in.

use chrono::{DateTime, Duration, Utc};
use crosscare_search::{IndexEntry, SearchQuery};
use crosscare_store::{
    ChangeKind, HistoryQuery, PartitionId, ReadTx, ResourceVersion, Result, SearchPage, Store,
    StoreError, WriteTx,
};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone)]
struct Row {
    partition: PartitionId,
    version: ResourceVersion,
    index: Vec<IndexEntry>,
}

#[derive(Clone, Default)]
struct State {
    rows: Vec<Row>,
    clock: i64,
}

#[derive(Default)]
pub struct MemStore {
    state: Mutex<State>,
}

struct Snapshot {
    state: State,
}

struct Writer<'a> {
    guard: MutexGuard<'a, State>,
    work: State,
}

impl Store for MemStore {
    fn read_tx(&self) -> Result<Box<dyn ReadTx + '_>> {
        let state = self
            .state
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?
            .clone();
        Ok(Box::new(Snapshot { state }))
    }
    fn write_tx(&self) -> Result<Box<dyn WriteTx + '_>> {
        let guard = self
            .state
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let work = guard.clone();
        Ok(Box::new(Writer { guard, work }))
    }
    fn close(&self) -> Result<()> {
        Ok(())
    }
}

fn latest<'a>(s: &'a State, p: &PartitionId, t: &str, id: &str) -> Option<&'a Row> {
    s.rows
        .iter()
        .rev()
        .find(|r| &r.partition == p && r.version.resource_type == t && r.version.id == id)
}

fn read(s: &State, p: &PartitionId, t: &str, id: &str) -> Option<ResourceVersion> {
    latest(s, p, t, id).map(|r| r.version.clone())
}

fn vread(s: &State, p: &PartitionId, t: &str, id: &str, v: u64) -> Option<ResourceVersion> {
    s.rows
        .iter()
        .find(|r| {
            &r.partition == p
                && r.version.resource_type == t
                && r.version.id == id
                && r.version.version_id == v
        })
        .map(|r| r.version.clone())
}

fn history(s: &State, p: &PartitionId, q: &HistoryQuery) -> (Vec<ResourceVersion>, u64) {
    let mut out: Vec<&Row> = s
        .rows
        .iter()
        .filter(|r| &r.partition == p)
        .filter(|r| {
            q.resource_type
                .as_deref()
                .is_none_or(|t| r.version.resource_type == t)
        })
        .filter(|r| q.id.as_deref().is_none_or(|i| r.version.id == i))
        .filter(|r| q.since.is_none_or(|t| r.version.last_updated >= t))
        .filter(|r| q.at.is_none_or(|t| r.version.last_updated <= t))
        .collect();
    if let Some(at) = q.at {
        out.retain(|r| {
            !s.rows.iter().any(|o| {
                o.partition == r.partition
                    && o.version.resource_type == r.version.resource_type
                    && o.version.id == r.version.id
                    && o.version.version_id > r.version.version_id
                    && o.version.last_updated <= at
            })
        });
    }
    out.reverse();
    let total = out.len() as u64;
    let page = out
        .into_iter()
        .skip(q.offset)
        .take(q.count)
        .map(|r| r.version.clone())
        .collect();
    (page, total)
}

fn search(s: &State, partitions: &[PartitionId], q: &SearchQuery) -> Result<SearchPage> {
    let mut matches = Vec::new();
    for r in &s.rows {
        if !partitions.contains(&r.partition) || r.version.is_deleted() {
            continue;
        }
        let cur = latest(s, &r.partition, &r.version.resource_type, &r.version.id);
        if cur.map(|c| c.version.version_id) != Some(r.version.version_id) {
            continue;
        }
        let type_ok = match &q.resource_type {
            Some(t) => &r.version.resource_type == t,
            None => q.types.is_empty() || q.types.contains(&r.version.resource_type),
        };
        if !type_ok {
            continue;
        }
        let mut ok = true;
        for f in &q.filters {
            match f.matches(&r.index) {
                Some(true) => {}
                Some(false) => ok = false,
                None => return Err(StoreError::UnsupportedSearch(format!("{f:?}"))),
            }
        }
        if ok {
            matches.push(r.version.clone());
        }
    }
    let total = matches.len() as u64;
    let matches = matches
        .into_iter()
        .skip(q.result.offset)
        .take(q.result.count.unwrap_or(usize::MAX))
        .collect();
    Ok(SearchPage {
        matches,
        included: Vec::new(),
        total: Some(total),
    })
}

impl ReadTx for Snapshot {
    fn read(&mut self, p: &PartitionId, t: &str, id: &str) -> Result<Option<ResourceVersion>> {
        Ok(read(&self.state, p, t, id))
    }
    fn vread(
        &mut self,
        p: &PartitionId,
        t: &str,
        id: &str,
        v: u64,
    ) -> Result<Option<ResourceVersion>> {
        Ok(vread(&self.state, p, t, id, v))
    }
    fn history(
        &mut self,
        p: &PartitionId,
        q: &HistoryQuery,
    ) -> Result<(Vec<ResourceVersion>, u64)> {
        Ok(history(&self.state, p, q))
    }
    fn search(&mut self, partitions: &[PartitionId], q: &SearchQuery) -> Result<SearchPage> {
        search(&self.state, partitions, q)
    }
}

impl ReadTx for Writer<'_> {
    fn read(&mut self, p: &PartitionId, t: &str, id: &str) -> Result<Option<ResourceVersion>> {
        Ok(read(&self.work, p, t, id))
    }
    fn vread(
        &mut self,
        p: &PartitionId,
        t: &str,
        id: &str,
        v: u64,
    ) -> Result<Option<ResourceVersion>> {
        Ok(vread(&self.work, p, t, id, v))
    }
    fn history(
        &mut self,
        p: &PartitionId,
        q: &HistoryQuery,
    ) -> Result<(Vec<ResourceVersion>, u64)> {
        Ok(history(&self.work, p, q))
    }
    fn search(&mut self, partitions: &[PartitionId], q: &SearchQuery) -> Result<SearchPage> {
        search(&self.work, partitions, q)
    }
}

impl Writer<'_> {
    fn now(&mut self) -> DateTime<Utc> {
        self.work.clock += 1;
        let t = Utc::now() + Duration::microseconds(self.work.clock);
        DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
    }
}

impl WriteTx for Writer<'_> {
    fn put(
        &mut self,
        p: &PartitionId,
        mut resource: serde_json::Value,
        index: Vec<IndexEntry>,
    ) -> Result<ResourceVersion> {
        let t = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        let prev = read(&self.work, p, &t, &id);
        let version_id = prev.as_ref().map_or(1, |v| v.version_id + 1);
        let change = match &prev {
            Some(v) if !v.is_deleted() => ChangeKind::Update,
            _ => ChangeKind::Create,
        };
        let now = self.now();
        if !resource["meta"].is_object() {
            resource["meta"] = serde_json::json!({});
        }
        resource["meta"]["versionId"] = serde_json::json!(version_id.to_string());
        resource["meta"]["lastUpdated"] =
            serde_json::json!(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        let version = ResourceVersion {
            resource_type: t,
            id,
            version_id,
            last_updated: now,
            change,
            body: Some(Arc::from(resource.to_string())),
        };
        self.work.rows.push(Row {
            partition: p.clone(),
            version: version.clone(),
            index,
        });
        Ok(version)
    }
    fn delete(&mut self, p: &PartitionId, t: &str, id: &str) -> Result<Option<ResourceVersion>> {
        let Some(prev) = read(&self.work, p, t, id).filter(|v| !v.is_deleted()) else {
            return Ok(None);
        };
        let now = self.now();
        let version = ResourceVersion {
            resource_type: t.to_string(),
            id: id.to_string(),
            version_id: prev.version_id + 1,
            last_updated: now,
            change: ChangeKind::Delete,
            body: None,
        };
        self.work.rows.push(Row {
            partition: p.clone(),
            version: version.clone(),
            index: Vec::new(),
        });
        Ok(Some(version))
    }
    fn commit(mut self: Box<Self>) -> Result<()> {
        let work = std::mem::take(&mut self.work);
        *self.guard = work;
        Ok(())
    }
}
