//! Properties of a generated population: determinism, identifiers, referential integrity,
//! volume, cross-border care and consent.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{collect, small_config};
use crosscare_synth::{ids, write_to_dir, OutputFormat, SynthConfig};
use serde_json::Value;

fn dir_bytes(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        out.insert(
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path()).unwrap(),
        );
    }
    out
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    for format in [OutputFormat::Ndjson, OutputFormat::Bundles] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let sa = write_to_dir(&small_config(12, 7), a.path(), format).unwrap();
        let sb = write_to_dir(&small_config(12, 7), b.path(), format).unwrap();
        write_to_dir(&small_config(12, 8), c.path(), format).unwrap();
        assert_eq!(sa, sb);
        let (ba, bb, bc) = (
            dir_bytes(a.path()),
            dir_bytes(b.path()),
            dir_bytes(c.path()),
        );
        assert!(!ba.is_empty());
        assert_eq!(ba, bb, "{format:?} output differs between identical runs");
        assert_ne!(ba, bc, "{format:?} output ignores the seed");
    }
}

#[test]
fn patients_are_independent_of_population_size() {
    // Patient i depends only on (seed, i): a larger population starts with the same patients.
    let (small, _) = collect(&small_config(3, 5));
    let (large, _) = collect(&small_config(6, 5));
    assert_eq!(small[..], large[..small.len()]);
}

#[test]
fn ndjson_has_one_file_per_type_and_counts_match() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write_to_dir(&small_config(5, 1), dir.path(), OutputFormat::Ndjson).unwrap();
    for (ty, n) in &stats.by_type {
        let text = std::fs::read_to_string(dir.path().join(format!("{ty}.ndjson"))).unwrap();
        assert_eq!(text.lines().count() as u64, *n, "{ty}");
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["resourceType"], ty.as_str());
        }
    }
    assert_eq!(stats.by_type.values().sum::<u64>(), stats.resources);
}

#[test]
fn bundles_are_transactions_with_put_entries() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write_to_dir(&small_config(3, 1), dir.path(), OutputFormat::Bundles).unwrap();
    let files = dir_bytes(dir.path());
    assert_eq!(files.len(), 4);
    let mut entries = 0;
    for bytes in files.values() {
        let b: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(b["type"], "transaction");
        for e in b["entry"].as_array().unwrap() {
            let r = &e["resource"];
            assert_eq!(e["request"]["method"], "PUT");
            assert_eq!(
                e["request"]["url"].as_str().unwrap(),
                format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                )
            );
            entries += 1;
        }
    }
    assert_eq!(entries, stats.resources);
}

#[test]
fn french_ins_uses_only_the_test_oid_and_valid_nir() {
    let dir = tempfile::tempdir().unwrap();
    write_to_dir(&small_config(40, 3), dir.path(), OutputFormat::Ndjson).unwrap();
    for (name, bytes) in dir_bytes(dir.path()) {
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains("1.2.250.1.213.1.4.8"),
            "production INS OID in {name}"
        );
    }
    let (all, _) = collect(&small_config(40, 3));
    let mut french = 0;
    for p in all.iter().filter(|r| r["resourceType"] == "Patient") {
        let ident = &p["identifier"][0];
        if p["id"].as_str().unwrap().starts_with("fr-") {
            french += 1;
            assert_eq!(ident["system"], "urn:oid:1.2.250.1.213.1.4.10");
            let nir = ident["value"].as_str().unwrap();
            assert!(ids::nir_valid(nir), "{nir}");
            let sex = if p["gender"] == "male" { "1" } else { "2" };
            assert_eq!(&nir[..1], sex);
            assert_eq!(&nir[1..3], &p["birthDate"].as_str().unwrap()[2..4]);
            assert_eq!(&nir[3..5], &p["birthDate"].as_str().unwrap()[5..7]);
            assert_eq!(&nir[5..7], "57");
        } else {
            assert_eq!(ident["system"], "http://fhir.de/sid/gkv/kvid-10");
            assert_eq!(
                ident["type"]["coding"][0]["system"],
                "http://fhir.de/CodeSystem/identifier-type-de-basis"
            );
            assert_eq!(ident["type"]["coding"][0]["code"], "GKV");
            let kvnr = ident["value"].as_str().unwrap();
            assert!(ids::kvnr_valid(kvnr), "{kvnr}");
        }
    }
    assert!(french > 5 && french < 35, "{french} French patients of 40");
}

#[test]
fn organizations_and_practitioners_carry_valid_national_identifiers() {
    let (all, _) = collect(&small_config(1, 3));
    let mut seen = HashSet::new();
    for r in &all {
        let Some(ident) = r["identifier"].get(0) else {
            continue;
        };
        let system = ident["system"].as_str().unwrap();
        let value = ident["value"].as_str().unwrap();
        let ok = match system {
            "https://finess.esante.gouv.fr" => value.len() == 9 && ids::luhn_valid(value),
            "https://rpps.esante.gouv.fr" => value.len() == 11 && ids::luhn_valid(value),
            "https://fhir.kbv.de/NamingSystem/KBV_NS_Base_ANR" => ids::lanr_valid(value),
            "http://fhir.de/sid/arge-ik/iknr" => ids::iknr_valid(value),
            _ => true,
        };
        assert!(ok, "{system} {value}");
        seen.insert(system.to_string());
    }
    for s in [
        "https://finess.esante.gouv.fr",
        "https://rpps.esante.gouv.fr",
        "https://fhir.kbv.de/NamingSystem/KBV_NS_Base_ANR",
        "http://fhir.de/sid/arge-ik/iknr",
    ] {
        assert!(seen.contains(s), "{s} never used");
    }
}

fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "reference" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    references(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_ids_are_unique_and_well_formed() {
    let (all, _) = collect(&small_config(30, 11));
    let mut ids = HashSet::new();
    for r in &all {
        let id = r["id"].as_str().unwrap();
        assert!(
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
            "bad id {id}"
        );
        assert!(
            ids.insert(format!("{}/{}", r["resourceType"].as_str().unwrap(), id)),
            "duplicate {id}"
        );
    }
    let mut refs = Vec::new();
    for r in &all {
        references(r, &mut refs);
    }
    assert!(refs.len() > all.len());
    for reference in refs {
        assert!(ids.contains(&reference), "dangling reference {reference}");
    }
}

#[test]
fn volume_per_patient_is_in_range_and_scales() {
    let config = SynthConfig {
        patients: 40,
        seed: 2,
        ..SynthConfig::default()
    };
    let (all, stats) = collect(&config);
    let per_patient = stats.resources as f64 / 40.0;
    assert!(
        (600.0..1600.0).contains(&per_patient),
        "{per_patient} resources per patient"
    );
    // Every patient has a Patient resource and some care.
    let mut by_patient: BTreeMap<String, u64> = BTreeMap::new();
    for r in &all {
        if let Some(id) = r["id"].as_str().filter(|id| id.contains("-p-")) {
            let pid: String = id.split('-').take(3).collect::<Vec<_>>().join("-");
            *by_patient.entry(pid).or_default() += 1;
        }
    }
    assert_eq!(by_patient.len(), 40);
    for (pid, n) in &by_patient {
        assert!((5..6000).contains(n), "{pid} has {n} resources");
    }
    let light = SynthConfig {
        volume: 0.2,
        ..config
    };
    let (_, light_stats) = collect(&light);
    assert!(light_stats.resources * 2 < stats.resources);
    assert!(
        stats.by_type["Observation"] * 2 > stats.resources,
        "Observations dominate"
    );
}

#[test]
fn care_crosses_the_border_and_pathways_appear() {
    let config = SynthConfig {
        patients: 150,
        seed: 4,
        volume: 0.1,
        ..SynthConfig::default()
    };
    let (all, _) = collect(&config);
    let mut cross = 0;
    let mut codes = HashSet::new();
    for r in &all {
        if r["resourceType"] == "Encounter" {
            let pid = r["subject"]["reference"].as_str().unwrap();
            let org = r["serviceProvider"]["reference"].as_str().unwrap();
            if (pid.starts_with("Patient/fr-") && org.starts_with("Organization/de-"))
                || (pid.starts_with("Patient/de-") && org.starts_with("Organization/fr-"))
            {
                cross += 1;
            }
        }
        if r["resourceType"] == "Condition" {
            codes.insert(r["code"]["coding"][0]["code"].as_str().unwrap().to_string());
        }
    }
    assert!(cross > 0, "no cross-border encounter");
    for icd in ["E11.9", "I50.9", "J44.9", "I10", "Z34.9"] {
        assert!(codes.contains(icd), "pathway {icd} never generated");
    }
}

#[test]
fn consents_follow_each_country_model() {
    let (all, _) = collect(&SynthConfig {
        patients: 200,
        seed: 9,
        volume: 0.05,
        ..SynthConfig::default()
    });
    let consents: Vec<&Value> = all
        .iter()
        .filter(|r| r["resourceType"] == "Consent")
        .collect();
    let mut fr = 0;
    let mut de = 0;
    for c in consents {
        assert_eq!(c["status"], "active");
        if c["patient"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Patient/fr-")
        {
            fr += 1;
            assert_eq!(c["provision"]["type"], "deny");
        } else {
            de += 1;
            let nested = c["provision"]["provision"].as_array().unwrap();
            assert!(nested
                .iter()
                .any(|p| p["code"][0]["coding"][0]["code"]
                    == "2.16.840.1.113883.3.1937.777.24.5.3.8"));
            for p in nested {
                assert_eq!(
                    p["code"][0]["coding"][0]["system"],
                    "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3"
                );
            }
        }
    }
    assert!(fr > 0 && de > fr, "fr {fr} de {de}");
}

fn dates(v: &Value, out: &mut Vec<(String, String)>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            match x {
                Value::String(s)
                    if k.ends_with("DateTime")
                        || [
                            "start",
                            "end",
                            "authoredOn",
                            "recordedDate",
                            "issued",
                            "dateTime",
                        ]
                        .contains(&k.as_str()) =>
                {
                    out.push((k.clone(), s.clone()));
                }
                _ => dates(x, out),
            }
        }
    } else if let Value::Array(a) = v {
        a.iter().for_each(|x| dates(x, out));
    }
}

#[test]
fn care_happens_between_birth_and_death_inside_the_window() {
    let (all, _) = collect(&SynthConfig {
        patients: 60,
        seed: 13,
        volume: 0.2,
        ..SynthConfig::default()
    });
    let mut birth: BTreeMap<String, (String, String)> = BTreeMap::new();
    for p in all.iter().filter(|r| r["resourceType"] == "Patient") {
        let last = p["deceasedDateTime"]
            .as_str()
            .unwrap_or("2026-06-30T23:59:59+01:00");
        birth.insert(
            format!("Patient/{}", p["id"].as_str().unwrap()),
            (
                p["birthDate"].as_str().unwrap().to_string(),
                last[..10].to_string(),
            ),
        );
    }
    for r in &all {
        let subject = r.get("subject").or_else(|| r.get("patient"));
        let Some(pid) = subject.and_then(|s| s["reference"].as_str()) else {
            continue;
        };
        let (born, last) = &birth[pid];
        let mut found = Vec::new();
        dates(r, &mut found);
        for (k, d) in found {
            // Provision periods of consents look decades ahead by design.
            if r["resourceType"] == "Consent" && k == "end" {
                continue;
            }
            let day = &d[..10];
            assert!(
                day >= born.as_str(),
                "{} {k}={d} before birth {born}",
                r["id"]
            );
            assert!(
                day <= last.as_str(),
                "{} {k}={d} after end of care {last}",
                r["id"]
            );
        }
        if r["resourceType"] == "Encounter" {
            assert!(
                r["period"]["start"].as_str() <= r["period"]["end"].as_str(),
                "{}",
                r["id"]
            );
        }
    }
    // A transfer (`partOf`) starts no earlier than the encounter it continues.
    let starts: BTreeMap<String, &str> = all
        .iter()
        .filter(|r| r["resourceType"] == "Encounter")
        .map(|r| {
            (
                format!("Encounter/{}", r["id"].as_str().unwrap()),
                r["period"]["start"].as_str().unwrap(),
            )
        })
        .collect();
    let mut transfers = 0;
    for r in all.iter().filter(|r| r["resourceType"] == "Encounter") {
        if let Some(parent) = r["partOf"]["reference"].as_str() {
            transfers += 1;
            assert!(
                starts[parent] <= r["period"]["start"].as_str().unwrap(),
                "{}",
                r["id"]
            );
        }
    }
    assert!(transfers > 0);
}
