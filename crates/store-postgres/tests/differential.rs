//! Differential suite: random sequences of transactions (puts, deletes, rollbacks) applied to
//! `PostgresStore` and to the embedded `SqliteStore` must leave both answering every read,
//! count and history query the same way (timestamps aside).

#![allow(clippy::unwrap_used)]

use crosscare_store::sqlite::SqliteStore;
use crosscare_store::{ChangeKind, HistoryQuery, PartitionId, ResourceVersion, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

const TYPES: [&str; 2] = ["Patient", "Basic"];
const IDS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Put(&'static str, String, i64),
    Delete(&'static str, String),
}

fn random_tx(rng: &mut ChaCha8Rng) -> (Vec<Op>, bool) {
    let parts = ["default", "ws1"];
    let n = rng.gen_range(1..=3);
    let ops = (0..n)
        .map(|_| {
            let ty = TYPES[rng.gen_range(0..TYPES.len())];
            let id = format!("r{}", rng.gen_range(0..IDS));
            let part = parts[rng.gen_range(0..parts.len())];
            if rng.gen_bool(0.25) {
                Op::Delete(ty, format!("{part}:{id}"))
            } else {
                Op::Put(ty, format!("{part}:{id}"), rng.gen_range(0..1000))
            }
        })
        .collect();
    (ops, rng.gen_bool(0.85))
}

fn split(key: &str) -> (PartitionId, String) {
    let (p, id) = key.split_once(':').unwrap();
    (PartitionId(p.to_string()), id.to_string())
}

fn apply(store: &dyn Store, ops: &[Op], commit: bool) -> Vec<Option<(u64, ChangeKind)>> {
    let mut tx = store.write_tx().unwrap();
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Put(ty, key, n) => {
                let (part, id) = split(key);
                let r = json!({"resourceType": ty, "id": id,
                    "extension": [{"url": "http://example.org/n", "valueInteger": n}]});
                let v = tx.put(&part, r, Vec::new()).unwrap();
                out.push(Some((v.version_id, v.change)));
            }
            Op::Delete(ty, key) => {
                let (part, id) = split(key);
                let v = tx.delete(&part, ty, &id).unwrap();
                out.push(v.map(|v| (v.version_id, v.change)));
            }
        }
    }
    if commit {
        tx.commit().unwrap();
    }
    out
}

/// A version without its timestamps, for comparison.
fn comparable(v: &ResourceVersion) -> (String, String, u64, ChangeKind, Option<Value>) {
    let body = v.body.as_deref().map(|b| {
        let mut b: Value = serde_json::from_str(b).unwrap();
        b["meta"].as_object_mut().unwrap().remove("lastUpdated");
        b
    });
    (
        v.resource_type.clone(),
        v.id.clone(),
        v.version_id,
        v.change,
        body,
    )
}

type Snapshot = Vec<String>;

fn snapshot(store: &dyn Store) -> Snapshot {
    let mut r = store.read_tx().unwrap();
    let mut out = Vec::new();
    for part in ["default", "ws1"].map(|p| PartitionId(p.to_string())) {
        out.push(format!("count {:?}", r.count(&part, None).unwrap()));
        for ty in TYPES {
            out.push(format!(
                "count {ty} {:?}",
                r.count(&part, Some(ty)).unwrap()
            ));
            for i in 0..IDS {
                let id = format!("r{i}");
                let v = r.read(&part, ty, &id).unwrap();
                out.push(format!("read {ty}/{id} {:?}", v.as_ref().map(comparable)));
                let h = r
                    .history(
                        &part,
                        &HistoryQuery {
                            resource_type: Some(ty.into()),
                            id: Some(id.clone()),
                            count: 100,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                let h: Vec<_> = h.0.iter().map(comparable).collect();
                out.push(format!("history {ty}/{id} {h:?}"));
                if let Some(v) = v {
                    let old = r.vread(&part, ty, &id, 1).unwrap();
                    out.push(format!(
                        "vread {ty}/{id}/1 {:?} of {}",
                        old.map(|o| comparable(&o)),
                        v.version_id
                    ));
                }
            }
            let (page, total) = r
                .history(
                    &part,
                    &HistoryQuery {
                        resource_type: Some(ty.into()),
                        count: 3,
                        offset: 1,
                        ..Default::default()
                    },
                )
                .unwrap();
            out.push(format!(
                "type history {ty} total {total} page {}",
                page.len()
            ));
        }
        let (_, total) = r
            .history(
                &part,
                &HistoryQuery {
                    count: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        out.push(format!("system history total {total}"));
    }
    out
}

#[test]
fn postgres_and_sqlite_agree_on_random_histories() {
    for seed in 0..4u64 {
        let Some(db) = testing::database_or_skip() else {
            return;
        };
        let pg = PostgresStore::connect(&db.url, 2).unwrap();
        let lite = SqliteStore::temporary().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for step in 0..40 {
            let (ops, commit) = random_tx(&mut rng);
            let a = apply(&pg, &ops, commit);
            let b = apply(&lite, &ops, commit);
            assert_eq!(a, b, "seed {seed} step {step}: {ops:?}");
        }
        let (a, b) = (snapshot(&pg), snapshot(&lite));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "seed {seed}");
        }
        assert_eq!(a.len(), b.len());
    }
}
