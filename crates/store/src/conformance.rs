//! The backend conformance suite: every [`Store`] implementation must pass [`run_all`].
//!
//! Each check takes a fresh, empty store from the factory, so checks are independent. The
//! suite panics (like a test) on the first failure, naming the check.

use crate::{ChangeKind, HistoryQuery, PartitionId, ResourceVersion, Store, StoreError};
use serde_json::{json, Value};

/// A boxed store factory.
pub type MakeStore<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// Runs every check against fresh stores from `make_store`.
pub fn run_all(make_store: MakeStore<'_>) {
    for (name, check) in CHECKS {
        let store = make_store();
        // Printed first so that a failing assertion is attributed to its check.
        eprintln!("conformance: {name}");
        check(store.as_ref());
        if let Err(e) = store.close() {
            panic!("{name}: close failed: {e}");
        }
    }
    crate::conformance_search::run_all(make_store);
}

/// One named check of a fresh store.
pub type Check = (&'static str, fn(&dyn Store));

/// Every check, by name.
pub const CHECKS: &[Check] = &[
    ("create_read", create_read),
    ("update_versions", update_versions),
    ("delete_is_a_version", delete_is_a_version),
    ("history_order", history_order),
    ("history_since_at", history_since_at),
    ("partitions_isolated", partitions_isolated),
    ("rollback_leaves_nothing", rollback_leaves_nothing),
    ("read_your_writes", read_your_writes),
    ("prefetch_is_only_a_hint", prefetch_is_only_a_hint),
    ("snapshot_isolation", snapshot_isolation),
    ("invalid_resource", invalid_resource),
    ("exact_decimals", exact_decimals),
    (
        "reindex_replaces_current_entries",
        reindex_replaces_current_entries,
    ),
    ("settings_are_transactional", settings_are_transactional),
    ("partitions_are_listed", partitions_are_listed),
];

/// Unwraps a store result, panicking with the error (this is test support code).
pub fn ok<T>(r: crate::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("store call failed: {e}"),
    }
}

pub fn p(name: &str) -> PartitionId {
    PartitionId(name.to_string())
}

/// Puts resources in one committed transaction; returns the stored versions.
pub fn put_all(
    store: &dyn Store,
    partition: &PartitionId,
    resources: &[Value],
) -> Vec<ResourceVersion> {
    let mut tx = ok(store.write_tx());
    let out = resources
        .iter()
        .map(|r| ok(tx.put(partition, r.clone(), Vec::new())))
        .collect();
    ok(tx.commit());
    out
}

fn body(v: &ResourceVersion) -> Value {
    match &v.body {
        Some(b) => match serde_json::from_str(b) {
            Ok(v) => v,
            Err(e) => panic!("stored body is not JSON: {e}"),
        },
        None => panic!("expected a body"),
    }
}

fn patient(id: &str, family: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": family}]})
}

fn create_read(store: &dyn Store) {
    let d = PartitionId::default_partition();
    let v = put_all(store, &d, &[patient("a", "Smith")]).remove(0);
    assert_eq!((v.version_id, v.change), (1, ChangeKind::Create));
    let mut r = ok(store.read_tx());
    let got = ok(r.read(&d, "Patient", "a")).expect("created resource is readable");
    assert_eq!(got.version_id, 1);
    assert_eq!(got.last_updated, v.last_updated);
    let b = body(&got);
    assert_eq!(b["meta"]["versionId"], "1");
    let lu = b["meta"]["lastUpdated"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        lu.ends_with('Z') && lu.len() == "2024-01-01T00:00:00.000000Z".len(),
        "{lu}"
    );
    assert_eq!(b["name"][0]["family"], "Smith");
    assert!(ok(r.read(&d, "Patient", "b")).is_none());
    assert!(ok(r.read(&d, "Observation", "a")).is_none());
    assert_eq!(ok(r.count(&d, Some("Patient"))), 1);
    assert_eq!(ok(r.count(&d, None)), 1);
}

fn update_versions(store: &dyn Store) {
    let d = PartitionId::default_partition();
    put_all(store, &d, &[patient("a", "One")]);
    let v2 = put_all(store, &d, &[patient("a", "Two")]).remove(0);
    assert_eq!((v2.version_id, v2.change), (2, ChangeKind::Update));
    let mut r = ok(store.read_tx());
    assert_eq!(
        body(&ok(r.read(&d, "Patient", "a")).expect("v2"))["name"][0]["family"],
        "Two"
    );
    let v1 = ok(r.vread(&d, "Patient", "a", 1)).expect("v1 kept");
    assert_eq!(body(&v1)["name"][0]["family"], "One");
    assert!(ok(r.vread(&d, "Patient", "a", 3)).is_none());
    assert!(v1.last_updated < v2.last_updated);
}

fn delete_is_a_version(store: &dyn Store) {
    let d = PartitionId::default_partition();
    put_all(store, &d, &[patient("a", "One")]);
    let mut tx = ok(store.write_tx());
    let del = ok(tx.delete(&d, "Patient", "a")).expect("deleted");
    assert_eq!((del.version_id, del.change), (2, ChangeKind::Delete));
    assert!(
        ok(tx.delete(&d, "Patient", "a")).is_none(),
        "second delete is a no-op"
    );
    assert!(ok(tx.delete(&d, "Patient", "never")).is_none());
    ok(tx.commit());
    let mut r = ok(store.read_tx());
    let cur = ok(r.read(&d, "Patient", "a")).expect("the deletion is returned");
    assert!(cur.is_deleted() && cur.body.is_none());
    assert!(ok(r.vread(&d, "Patient", "a", 1)).is_some());
    assert_eq!(ok(r.count(&d, Some("Patient"))), 0);
    drop(r);
    let again = put_all(store, &d, &[patient("a", "Back")]).remove(0);
    assert_eq!((again.version_id, again.change), (3, ChangeKind::Create));
}

fn ids(h: &[ResourceVersion]) -> Vec<String> {
    h.iter()
        .map(|v| format!("{}/{}/{}", v.resource_type, v.id, v.version_id))
        .collect()
}

fn history_order(store: &dyn Store) {
    let d = PartitionId::default_partition();
    put_all(store, &d, &[patient("a", "1"), patient("b", "1")]);
    put_all(
        store,
        &d,
        &[json!({"resourceType": "Observation", "id": "o", "status": "final"})],
    );
    put_all(store, &d, &[patient("a", "2")]);
    let mut tx = ok(store.write_tx());
    ok(tx.delete(&d, "Patient", "b"));
    ok(tx.commit());
    let mut r = ok(store.read_tx());
    let q = |ty: Option<&str>, id: Option<&str>| HistoryQuery {
        resource_type: ty.map(str::to_string),
        id: id.map(str::to_string),
        count: 100,
        ..Default::default()
    };
    let (all, n) = ok(r.history(&d, &q(None, None)));
    assert_eq!(n, 5);
    assert_eq!(
        ids(&all),
        [
            "Patient/b/2",
            "Patient/a/2",
            "Observation/o/1",
            "Patient/b/1",
            "Patient/a/1"
        ]
    );
    let (pat, n) = ok(r.history(&d, &q(Some("Patient"), None)));
    assert_eq!((n, ids(&pat).len()), (4, 4));
    let (inst, n) = ok(r.history(&d, &q(Some("Patient"), Some("a"))));
    assert_eq!(
        (n, ids(&inst)),
        (2, vec!["Patient/a/2".into(), "Patient/a/1".into()])
    );
    let mut paged = q(None, None);
    paged.count = 2;
    paged.offset = 1;
    let (page, n) = ok(r.history(&d, &paged));
    assert_eq!(
        (n, ids(&page)),
        (5, vec!["Patient/a/2".into(), "Observation/o/1".into()])
    );
    assert!(all
        .windows(2)
        .all(|w| w[0].last_updated >= w[1].last_updated));
}

fn history_since_at(store: &dyn Store) {
    let d = PartitionId::default_partition();
    let v1 = put_all(store, &d, &[patient("a", "1")]).remove(0);
    let v2 = put_all(store, &d, &[patient("a", "2")]).remove(0);
    let v3 = put_all(store, &d, &[patient("a", "3")]).remove(0);
    let mut r = ok(store.read_tx());
    let base = HistoryQuery {
        resource_type: Some("Patient".into()),
        id: Some("a".into()),
        count: 10,
        ..Default::default()
    };
    let since = HistoryQuery {
        since: Some(v2.last_updated),
        ..base.clone()
    };
    assert_eq!(
        ids(&ok(r.history(&d, &since)).0),
        ["Patient/a/3", "Patient/a/2"]
    );
    let at = HistoryQuery {
        at: Some(v2.last_updated),
        ..base.clone()
    };
    assert_eq!(ids(&ok(r.history(&d, &at)).0), ["Patient/a/2"]);
    let before = HistoryQuery {
        at: Some(v1.last_updated - chrono::Duration::microseconds(1)),
        ..base.clone()
    };
    assert_eq!(ok(r.history(&d, &before)).1, 0);
    let later = HistoryQuery {
        at: Some(v3.last_updated),
        ..base
    };
    assert_eq!(ids(&ok(r.history(&d, &later)).0), ["Patient/a/3"]);
}

fn partitions_isolated(store: &dyn Store) {
    let (a, b) = (p("ws-a"), p("ws-b"));
    put_all(store, &a, &[patient("x", "A")]);
    put_all(store, &b, &[patient("x", "B"), patient("y", "B")]);
    let mut tx = ok(store.write_tx());
    ok(tx.delete(&b, "Patient", "x"));
    ok(tx.commit());
    let mut r = ok(store.read_tx());
    let xa = ok(r.read(&a, "Patient", "x")).expect("x in a");
    assert_eq!((xa.version_id, xa.is_deleted()), (1, false));
    assert_eq!(body(&xa)["name"][0]["family"], "A");
    assert!(ok(r.read(&a, "Patient", "y")).is_none());
    assert!(ok(r.read(&p("nowhere"), "Patient", "x")).is_none());
    let all = HistoryQuery {
        count: 100,
        ..Default::default()
    };
    assert_eq!(ok(r.history(&a, &all)).1, 1);
    assert_eq!(ok(r.history(&b, &all)).1, 3);
    assert_eq!(ok(r.count(&a, None)), 1);
    assert_eq!(ok(r.count(&b, None)), 1);
}

fn rollback_leaves_nothing(store: &dyn Store) {
    let d = PartitionId::default_partition();
    put_all(store, &d, &[patient("keep", "K")]);
    {
        let mut tx = ok(store.write_tx());
        ok(tx.put(&d, patient("gone", "G"), Vec::new()));
        ok(tx.put(&d, patient("keep", "changed"), Vec::new()));
        ok(tx.delete(&d, "Patient", "keep"));
        // A failing call inside the transaction; the caller then drops it without commit.
        assert!(matches!(
            tx.put(&d, json!({"resourceType": "Patient"}), Vec::new()),
            Err(StoreError::InvalidResource(_))
        ));
    }
    let mut r = ok(store.read_tx());
    assert!(ok(r.read(&d, "Patient", "gone")).is_none());
    let keep = ok(r.read(&d, "Patient", "keep")).expect("kept");
    assert_eq!(keep.version_id, 1);
    let all = HistoryQuery {
        count: 100,
        ..Default::default()
    };
    assert_eq!(ok(r.history(&d, &all)).1, 1);
    drop(r);
    // The next transaction continues the version sequence as if nothing happened.
    let v = put_all(store, &d, &[patient("keep", "2")]).remove(0);
    assert_eq!(v.version_id, 2);
}

fn read_your_writes(store: &dyn Store) {
    let d = PartitionId::default_partition();
    let mut tx = ok(store.write_tx());
    ok(tx.put(&d, patient("a", "1"), Vec::new()));
    let seen = ok(tx.read(&d, "Patient", "a")).expect("own write visible");
    assert_eq!(seen.version_id, 1);
    ok(tx.put(&d, patient("a", "2"), Vec::new()));
    assert_eq!(
        ok(tx.read(&d, "Patient", "a")).map(|v| v.version_id),
        Some(2)
    );
    assert_eq!(
        ok(tx.history(
            &d,
            &HistoryQuery {
                count: 10,
                ..Default::default()
            }
        ))
        .1,
        2
    );
    // Both versions of one transaction share its timestamp.
    let v1 = ok(tx.vread(&d, "Patient", "a", 1)).expect("v1");
    assert_eq!(v1.last_updated, seen.last_updated);
    ok(tx.commit());
}

/// `prefetch` of present, deleted, absent and repeated keys changes nothing that reads, writes,
/// counts and history report, inside the transaction and after it.
fn prefetch_is_only_a_hint(store: &dyn Store) {
    let d = PartitionId::default_partition();
    put_all(store, &d, &[patient("a", "1"), patient("b", "1")]);
    let mut tx = ok(store.write_tx());
    ok(tx.delete(&d, "Patient", "b"));
    ok(tx.commit());

    let keys: Vec<(String, String)> = ["a", "b", "c", "a", "unused"]
        .iter()
        .map(|id| ("Patient".to_string(), id.to_string()))
        .collect();
    let mut tx = ok(store.write_tx());
    ok(tx.prefetch(&d, &keys));
    ok(tx.prefetch(&d, &keys));
    assert_eq!(
        ok(tx.read(&d, "Patient", "a")).map(|v| v.version_id),
        Some(1)
    );
    let b = ok(tx.read(&d, "Patient", "b")).expect("the deletion");
    assert!(b.is_deleted() && b.version_id == 2);
    assert!(ok(tx.read(&d, "Patient", "c")).is_none());
    assert_eq!(ok(tx.count(&d, Some("Patient"))), 1);
    let a2 = ok(tx.put(&d, patient("a", "2"), Vec::new()));
    assert_eq!((a2.version_id, a2.change), (2, ChangeKind::Update));
    let c1 = ok(tx.put(&d, patient("c", "1"), Vec::new()));
    assert_eq!((c1.version_id, c1.change), (1, ChangeKind::Create));
    let b3 = ok(tx.put(&d, patient("b", "3"), Vec::new()));
    assert_eq!((b3.version_id, b3.change), (3, ChangeKind::Create));
    assert!(ok(tx.delete(&d, "Patient", "unused")).is_none());
    assert_eq!(ok(tx.count(&d, Some("Patient"))), 3);
    assert_eq!(ok(tx.count(&d, None)), 3);
    ok(tx.delete(&d, "Patient", "a"));
    assert_eq!(ok(tx.count(&d, Some("Patient"))), 2);
    assert_eq!(
        ok(tx.read(&d, "Patient", "a")).map(|v| (v.version_id, v.is_deleted())),
        Some((3, true))
    );
    let all = HistoryQuery {
        count: 20,
        ..Default::default()
    };
    assert_eq!(ok(tx.history(&d, &all)).1, 7);
    // Writes after a statement that read the database are still read back.
    ok(tx.put(&d, patient("c", "2"), Vec::new()));
    assert_eq!(
        ok(tx.read(&d, "Patient", "c")).map(|v| v.version_id),
        Some(2)
    );
    ok(tx.commit());

    let mut r = ok(store.read_tx());
    assert_eq!(ok(r.count(&d, Some("Patient"))), 2);
    assert!(ok(r.read(&d, "Patient", "unused")).is_none());
    assert_eq!(
        ok(r.read(&d, "Patient", "c")).map(|v| v.version_id),
        Some(2)
    );
    assert_eq!(ok(r.history(&d, &all)).1, 8);
    drop(r);
    // The ids prefetched but never written stay free for others.
    put_all(store, &d, &[patient("unused", "1")]);
}

fn snapshot_isolation(store: &dyn Store) {
    let d = PartitionId::default_partition();
    put_all(store, &d, &[patient("a", "1")]);
    let mut before = ok(store.read_tx());
    assert!(ok(before.read(&d, "Patient", "a")).is_some());
    put_all(store, &d, &[patient("a", "2"), patient("b", "1")]);
    assert_eq!(
        ok(before.read(&d, "Patient", "a")).map(|v| v.version_id),
        Some(1)
    );
    assert!(ok(before.read(&d, "Patient", "b")).is_none());
    drop(before);
    let mut after = ok(store.read_tx());
    assert_eq!(
        ok(after.read(&d, "Patient", "a")).map(|v| v.version_id),
        Some(2)
    );
}

fn invalid_resource(store: &dyn Store) {
    let d = PartitionId::default_partition();
    let mut tx = ok(store.write_tx());
    for bad in [
        json!({"id": "x"}),
        json!({"resourceType": "Patient", "id": ""}),
        json!([1]),
    ] {
        assert!(matches!(
            tx.put(&d, bad, Vec::new()),
            Err(StoreError::InvalidResource(_))
        ));
    }
    let meta_bad = json!({"resourceType": "Patient", "id": "m", "meta": "x"});
    assert!(matches!(
        tx.put(&d, meta_bad, Vec::new()),
        Err(StoreError::InvalidResource(_))
    ));
}

fn exact_decimals(store: &dyn Store) {
    let d = PartitionId::default_partition();
    let text = r#"{"resourceType":"Observation","id":"o","meta":{"profile":["http://x"]},"valueQuantity":{"value":1.50,"unit":"mg"},"component":[{"valueQuantity":{"value":100.000}}]}"#;
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    let stored = put_all(store, &d, &[v]).remove(0);
    let b = stored.body.as_deref().unwrap_or_default().to_string();
    assert!(b.contains(r#""value":1.50"#), "{b}");
    assert!(b.contains(r#""value":100.000"#), "{b}");
    assert!(b.contains(r#""profile":["http://x"]"#), "{b}");
    assert!(!b.contains(' '), "compact JSON: {b}");
}

/// A registry with one custom parameter (`nick`: nicknames), for the reindex check.
fn nick_registry() -> crosscare_search::ParamRegistry {
    let def = crosscare_search::definition_from_resource(&json!({
        "resourceType": "SearchParameter", "url": "https://example.org/sp/nick",
        "status": "active", "code": "nick", "base": ["Patient"], "type": "string",
        "expression": "Patient.name.where(use = 'nickname').given"
    }));
    match def {
        Ok(def) => crosscare_search::ParamRegistry::new(vec![def]),
        Err(e) => panic!("the test parameter is invalid: {e}"),
    }
}

fn nicknamed(id: &str, nick: &str) -> Value {
    json!({"resourceType": "Patient", "id": id,
           "name": [{"family": "Martin"}, {"use": "nickname", "given": [nick]}]})
}

fn search_ids(
    store: &dyn Store,
    registry: &crosscare_search::ParamRegistry,
    qs: &str,
) -> Vec<String> {
    let params = crosscare_search::parse_query_string(qs);
    let query = match crosscare_search::SearchQuery::parse_with(
        registry,
        Some("Patient"),
        &params,
        false,
    ) {
        Ok(q) => q,
        Err(e) => panic!("{qs}: {e}"),
    };
    let mut tx = ok(store.read_tx());
    let page = ok(tx.search(&[PartitionId::default_partition()], &query));
    let mut ids: Vec<String> = page.matches.into_iter().map(|v| v.id).collect();
    ids.sort();
    ids
}

/// `reindex` replaces every index entry of the named current versions, leaves stale and
/// deleted versions alone, writes no version, and rolls back with its transaction.
fn reindex_replaces_current_entries(store: &dyn Store) {
    let d = PartitionId::default_partition();
    let core = crosscare_search::ParamRegistry::r4();
    let nick = nick_registry();
    let mut tx = ok(store.write_tx());
    for (id, name) in [("a", "Jo"), ("b", "Al"), ("c", "Bo")] {
        let r = nicknamed(id, name);
        let entries = core.extract("Patient", &r).0;
        ok(tx.put(&d, r, entries));
    }
    ok(tx.commit());
    // b moves on to version 2 (indexed with `nick` by its writer); c is deleted.
    let mut tx = ok(store.write_tx());
    let b2 = nicknamed("b", "Ali");
    let entries = nick.extract("Patient", &b2).0;
    ok(tx.put(&d, b2, entries));
    ok(tx.delete(&d, "Patient", "c"));
    ok(tx.commit());
    assert_eq!(search_ids(store, &nick, "nick=al"), ["b"]);
    assert!(search_ids(store, &nick, "nick=jo").is_empty());

    let items = |registry: &crosscare_search::ParamRegistry| -> Vec<crate::Reindexed> {
        [
            ("a", "Jo", 1),
            ("b", "Al", 1),
            ("c", "Bo", 1),
            ("zz", "No", 1),
        ]
        .iter()
        .map(|(id, name, version)| crate::Reindexed {
            resource_type: "Patient".into(),
            id: id.to_string(),
            version_id: *version,
            index: registry.extract("Patient", &nicknamed(id, name)).0,
        })
        .collect()
    };
    // Dropped without commit: nothing changes.
    let mut tx = ok(store.write_tx());
    assert_eq!(ok(tx.reindex(&d, items(&nick))), 1);
    drop(tx);
    assert!(search_ids(store, &nick, "nick=jo").is_empty());

    let mut tx = ok(store.write_tx());
    assert_eq!(
        ok(tx.reindex(&d, items(&nick))),
        1,
        "only a's version 1 is current"
    );
    assert_eq!(
        ok(tx.reindex(&PartitionId("nowhere".into()), items(&nick))),
        0
    );
    ok(tx.commit());
    assert_eq!(search_ids(store, &nick, "nick=jo"), ["a"]);
    assert_eq!(
        search_ids(store, &nick, "nick=al"),
        ["b"],
        "b's own entries stay"
    );
    assert!(
        search_ids(store, &nick, "nick=bo").is_empty(),
        "a deleted resource stays unindexed"
    );
    assert_eq!(search_ids(store, &nick, "family=martin"), ["a", "b"]);
    let mut tx = ok(store.read_tx());
    let a = ok(tx.read(&d, "Patient", "a")).expect("a");
    assert_eq!(a.version_id, 1, "a reindex writes no version");
    drop(tx);

    // A reindex with fewer entries removes the others.
    let mut tx = ok(store.write_tx());
    let only_id = vec![crate::Reindexed {
        resource_type: "Patient".into(),
        id: "a".into(),
        version_id: 1,
        index: Vec::new(),
    }];
    assert_eq!(ok(tx.reindex(&d, only_id)), 1);
    ok(tx.commit());
    assert!(search_ids(store, &nick, "nick=jo").is_empty());
    assert_eq!(search_ids(store, &nick, "family=martin"), ["b"]);
}

/// Settings: absent until set, overwritten, committed with the transaction or not at all.
fn settings_are_transactional(store: &dyn Store) {
    let read = |key: &str| ok(ok(store.read_tx()).setting(key));
    assert_eq!(read("k"), None);
    let mut tx = ok(store.write_tx());
    ok(tx.put_setting("k", "one"));
    assert_eq!(
        ok(tx.setting("k")).as_deref(),
        Some("one"),
        "read your writes"
    );
    ok(tx.commit());
    assert_eq!(read("k").as_deref(), Some("one"));
    let mut tx = ok(store.write_tx());
    ok(tx.put_setting("k", "two"));
    ok(tx.put_setting("other", "{\"json\": [1, 2]}"));
    drop(tx);
    assert_eq!(read("k").as_deref(), Some("one"));
    assert_eq!(read("other"), None);
    let mut tx = ok(store.write_tx());
    ok(tx.put_setting("k", "two"));
    ok(tx.commit());
    assert_eq!(read("k").as_deref(), Some("two"));
}

/// `partitions` names every partition written to, sorted.
fn partitions_are_listed(store: &dyn Store) {
    assert!(ok(ok(store.read_tx()).partitions()).is_empty());
    put_all(store, &p("ws-b"), &[patient("x", "1")]);
    put_all(
        store,
        &PartitionId::default_partition(),
        &[patient("x", "1")],
    );
    put_all(store, &p("ws-a"), &[patient("x", "1")]);
    assert_eq!(
        ok(ok(store.read_tx()).partitions()),
        [p("default"), p("ws-a"), p("ws-b")]
    );
}
