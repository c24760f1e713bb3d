//! Builds the benchmark scenarios from the data a server actually holds: a few hundred
//! resources are sampled by search, and each scenario is a list of request URLs using their ids,
//! codes, names and dates (so the benchmark works on any synthetic territory, at any size).

use serde_json::Value;
use std::collections::BTreeSet;

/// (scenario name, request URLs).
pub type Scenario = (String, Vec<String>);

/// Samples the server at `base` and returns the scenarios, reads first.
pub async fn scenarios(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<Scenario>> {
    let patients = resources(client, base, "Patient?_count=200").await?;
    let observations = resources(client, base, "Observation?_count=200").await?;
    let conditions = resources(client, base, "Condition?_count=100").await?;
    anyhow::ensure!(
        !patients.is_empty() && !observations.is_empty(),
        "no Patient or Observation found at {base}: load data first (docs/benchmarks.md)"
    );

    let patient_ids: Vec<&str> = patients.iter().filter_map(|p| p["id"].as_str()).collect();
    let families: BTreeSet<String> = patients
        .iter()
        .filter_map(|p| p["name"][0]["family"].as_str())
        .map(|f| f.chars().take(4).collect())
        .collect();
    let obs_ids: Vec<&str> = observations
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    let obs_codes = codes(&observations);
    let cond_codes = codes(&conditions);
    let days: BTreeSet<String> = observations
        .iter()
        .filter_map(|o| o["effectiveDateTime"].as_str())
        .filter(|d| d.len() >= 10)
        .map(|d| d[..10].to_string())
        .collect();

    let each = |items: &[String], f: &dyn Fn(&str) -> String| -> Vec<String> {
        items.iter().map(|i| f(i)).collect()
    };
    let pids: Vec<String> = patient_ids.iter().map(|s| s.to_string()).collect();
    let oids: Vec<String> = obs_ids.iter().map(|s| s.to_string()).collect();
    let fams: Vec<String> = families.into_iter().collect();
    let days: Vec<String> = days.into_iter().collect();

    let mut out: Vec<Scenario> = vec![
        (
            "read Patient by id".into(),
            each(&pids, &|id| format!("{base}/Patient/{id}")),
        ),
        (
            "read Observation by id".into(),
            each(&oids, &|id| format!("{base}/Observation/{id}")),
        ),
        (
            "search token: Observation?code=system|code&_count=20".into(),
            each(&obs_codes, &|c| {
                format!("{base}/Observation?code={}&_count=20", enc(c))
            }),
        ),
        (
            "search string: Patient?family=prefix".into(),
            each(&fams, &|f| format!("{base}/Patient?family={}", enc(f))),
        ),
        (
            "search date: Observation?date=day&_count=20".into(),
            each(&days, &|d| format!("{base}/Observation?date={d}&_count=20")),
        ),
        (
            "search reference: Observation?subject=Patient/id&_count=20".into(),
            each(&pids, &|id| {
                format!("{base}/Observation?subject=Patient/{id}&_count=20")
            }),
        ),
        (
            "search chained: Observation?subject:Patient.family=prefix&_count=20".into(),
            each(&fams, &|f| {
                format!(
                    "{base}/Observation?subject:Patient.family={}&_count=20",
                    enc(f)
                )
            }),
        ),
        (
            "search _include: Observation?subject=Patient/id&_include=Observation:subject".into(),
            each(&pids, &|id| {
                format!(
                    "{base}/Observation?subject=Patient/{id}&_include=Observation:subject&_count=20"
                )
            }),
        ),
        (
            "search _revinclude: Patient?_id=id&_revinclude=Condition:subject".into(),
            each(&pids, &|id| {
                format!("{base}/Patient?_id={id}&_revinclude=Condition:subject")
            }),
        ),
        (
            "search sort: Observation?subject=Patient/id&_sort=-date&_count=10".into(),
            each(&pids, &|id| {
                format!("{base}/Observation?subject=Patient/{id}&_sort=-date&_count=10")
            }),
        ),
        (
            "$everything: Patient/id/$everything?_count=50".into(),
            each(&pids, &|id| {
                format!("{base}/Patient/{id}/$everything?_count=50")
            }),
        ),
        (
            "search count: Observation?code=system|code&_summary=count".into(),
            each(&obs_codes, &|c| {
                format!("{base}/Observation?code={}&_summary=count", enc(c))
            }),
        ),
    ];
    if !cond_codes.is_empty() {
        out.push((
            "search _has: Patient?_has:Condition:subject:code=system|code&_count=20".into(),
            each(&cond_codes, &|c| {
                format!(
                    "{base}/Patient?_has:Condition:subject:code={}&_count=20",
                    enc(c)
                )
            }),
        ));
    }
    out.retain(|(_, urls)| !urls.is_empty());
    Ok(out)
}

/// The `resource`s of a search's first page.
async fn resources(
    client: &reqwest::Client,
    base: &str,
    query: &str,
) -> anyhow::Result<Vec<Value>> {
    let resp = client.get(format!("{base}/{query}")).send().await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "{base}/{query} answered {}",
        resp.status()
    );
    let bundle: Value = resp.json().await?;
    Ok(bundle["entry"]
        .as_array()
        .map(|entries| entries.iter().map(|e| e["resource"].clone()).collect())
        .unwrap_or_default())
}

/// Distinct `system|code` of the first coding of `code`.
fn codes(resources: &[Value]) -> Vec<String> {
    let set: BTreeSet<String> = resources
        .iter()
        .filter_map(|r| {
            let coding = &r["code"]["coding"][0];
            Some(format!(
                "{}|{}",
                coding["system"].as_str()?,
                coding["code"].as_str()?
            ))
        })
        .collect();
    set.into_iter().collect()
}

/// Percent-encodes what a query value must not carry raw.
fn enc(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_pipes_and_non_ascii() {
        assert_eq!(enc("http://loinc.org|718-7"), "http://loinc.org%7C718-7");
        assert_eq!(enc("Mü"), "M%C3%BC");
    }

    #[test]
    fn codes_are_distinct_system_code_pairs() {
        let rs = vec![
            json!({"code": {"coding": [{"system": "s", "code": "a"}]}}),
            json!({"code": {"coding": [{"system": "s", "code": "a"}]}}),
            json!({"code": {"coding": [{"code": "nosystem"}]}}),
        ];
        assert_eq!(codes(&rs), vec!["s|a".to_string()]);
    }
}
