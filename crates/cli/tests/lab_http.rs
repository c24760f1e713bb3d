//! The lab over HTTP on the real server: tokens, the authorisation matrix (service class ×
//! interaction × in/out of scope), tenant isolation, include filtering, the audit trail, and
//! the secure default of `crosscare serve`.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_lab::model::ServiceClass;
use crosscare_lab::quota::QuotaDefaults;
use crosscare_lab::registry::{NewWorkspace, QuotaChange};
use crosscare_lab::Lab;
use crosscare_rest::{Rest, RestConfig};
use crosscare_server::{Auth, ServerConfig};
use crosscare_store::sqlite::{SqliteOptions, SqliteStore};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::Arc;

struct Server {
    origin: String,
    lab: Arc<Lab>,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
    http: Client,
}

struct Creds {
    id: String,
    secret: String,
}

fn start() -> Server {
    start_with(QuotaDefaults::UNLIMITED)
}

fn start_with(quotas: QuotaDefaults) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let lab = Arc::new(
        Lab::open_with_audit(dir.path())
            .unwrap()
            .with_quotas(quotas),
    );
    let rest = Arc::new(Rest::new(store, RestConfig::default()).with_lab(lab.clone()));
    let config = ServerConfig {
        auth: Auth {
            lab: Some(lab.clone()),
            required: true,
            ..Auth::default()
        },
        ..ServerConfig::default()
    };
    let (rt, addr) = support::spawn(rest, config);
    Server {
        origin: format!("http://{addr}"),
        lab,
        dir,
        _rt: rt,
        http: Client::new(),
    }
}

impl Server {
    fn workspace(&self, id: &str, class: ServiceClass) {
        self.lab
            .registry()
            .create_workspace(NewWorkspace {
                id: Some(id.into()),
                organisation: format!("partner of {id}"),
                class,
                purpose: "tests".into(),
                owner: "tests@example.org".into(),
                expires: None,
                template: None,
            })
            .unwrap();
    }

    /// A training workspace created from template `template`.
    fn trainee(&self, id: &str, template: &str) {
        self.lab
            .registry()
            .create_workspace(NewWorkspace {
                id: Some(id.into()),
                organisation: format!("trainee {id}"),
                class: ServiceClass::Training,
                purpose: "course".into(),
                owner: "tests@example.org".into(),
                expires: None,
                template: Some(template.into()),
            })
            .unwrap();
    }

    fn client(&self, workspace: Option<&str>, scopes: &str) -> Creds {
        let (c, secret) = self
            .lab
            .registry()
            .create_client(workspace, scopes, workspace.is_none())
            .unwrap();
        Creds {
            id: c.client_id,
            secret,
        }
    }

    /// POST /auth/token with form fields; returns status and JSON.
    fn token_request(&self, basic: Option<&Creds>, form: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.http.post(format!("{}/auth/token", self.origin));
        if let Some(c) = basic {
            req = req.basic_auth(&c.id, Some(&c.secret));
        }
        let resp = req.form(form).send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    fn token(&self, c: &Creds, scope: &str) -> String {
        let (status, body) = self.token_request(
            Some(c),
            &[("grant_type", "client_credentials"), ("scope", scope)],
        );
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A FHIR request; returns status and JSON body (Null if none).
    fn fhir(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            method.parse().unwrap(),
            format!("{}/fhir/{path}", self.origin),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/fhir+json")
                .body(b.to_string());
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn audit_lines(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("lab/audit.ndjson"))
            .unwrap_or_default()
            .lines()
            .count()
    }
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": id}]})
}

fn observation(id: &str, subject: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "code": {"text": "test"}, "subject": {"reference": subject}})
}

fn types_in(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["resource"]["resourceType"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn is_outcome(body: &Value) -> bool {
    body["resourceType"] == "OperationOutcome"
}

/// The authorisation matrix: for each service class, a client allowed
/// `system/Patient.cruds system/Observation.rs`, and one table of (interaction, expected) run
/// against each, in its own partition.
#[test]
fn authorisation_matrix() {
    let s = start();
    let classes = [
        ("sb", ServiceClass::Sandbox),
        ("tr", ServiceClass::Training),
        ("in", ServiceClass::Integration),
    ];
    // (name, method, path, body, expected status). `{p}` is the class's own patient id.
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        Option<fn(&str) -> Value>,
        u16,
    );
    let rows: Vec<Row> = vec![
        ("create in scope", "PUT", "Patient/{p}", Some(patient), 201),
        ("read in scope", "GET", "Patient/{p}", None, 200),
        ("vread in scope", "GET", "Patient/{p}/_history/1", None, 200),
        ("update in scope", "PUT", "Patient/{p}", Some(patient), 200),
        ("search in scope", "GET", "Patient?_id={p}", None, 200),
        (
            "instance history in scope",
            "GET",
            "Patient/{p}/_history",
            None,
            200,
        ),
        (
            "type history in scope",
            "GET",
            "Patient/_history",
            None,
            200,
        ),
        (
            "search Observation (rs)",
            "GET",
            "Observation?status=final",
            None,
            200,
        ),
        (
            "create Observation (no c)",
            "POST",
            "Observation",
            Some(|p| observation("o", &format!("Patient/{p}"))),
            403,
        ),
        ("read out of scope", "GET", "Encounter/e1", None, 403),
        (
            "search out of scope",
            "GET",
            "Encounter?status=finished",
            None,
            403,
        ),
        (
            "type history out of scope",
            "GET",
            "Encounter/_history",
            None,
            403,
        ),
        (
            "system search without *.s",
            "GET",
            "?_type=Patient",
            None,
            403,
        ),
        ("system history without *.s", "GET", "_history", None, 403),
        (
            "compartment search",
            "GET",
            "Patient/{p}/Observation",
            None,
            200,
        ),
        (
            "compartment out of scope",
            "GET",
            "Patient/{p}/Encounter",
            None,
            403,
        ),
        ("$everything", "GET", "Patient/{p}/$everything", None, 200),
        (
            "AuditEvent cannot be created",
            "POST",
            "AuditEvent",
            Some(|_| json!({"resourceType": "AuditEvent"})),
            405,
        ),
        (
            "AuditEvent cannot be deleted",
            "DELETE",
            "AuditEvent/a1",
            None,
            405,
        ),
        ("capabilities", "GET", "metadata", None, 200),
        (
            "transaction with an out-of-scope entry",
            "POST",
            "",
            Some(|p| {
                json!({"resourceType": "Bundle", "type": "transaction", "entry": [
             {"resource": patient(&format!("{p}-t")), "request": {"method": "PUT", "url": format!("Patient/{p}-t")}},
             {"resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}},
              "request": {"method": "POST", "url": "Encounter"}}]})
            }),
            403,
        ),
        (
            "conditional delete (no d on Observation)",
            "DELETE",
            "Observation?status=final",
            None,
            403,
        ),
        ("delete in scope", "DELETE", "Patient/{p}", None, 204),
        // Whole-population operations are not yet filtered per scoped type: refused.
        ("system $export", "GET", "$export", None, 403),
        ("Patient $export", "GET", "Patient/$export", None, 403),
        ("export status", "GET", "_export/some-job", None, 403),
        (
            "system $import",
            "POST",
            "$import",
            Some(|_| json!({"resourceType": "Parameters"})),
            403,
        ),
        ("import status", "GET", "_import/some-job", None, 403),
        (
            "ViewDefinition/$run",
            "POST",
            "ViewDefinition/$run",
            Some(|_| json!({"resourceType": "Parameters"})),
            403,
        ),
    ];
    for (ws, class) in classes {
        s.workspace(ws, class);
        let c = s.client(Some(ws), "system/Patient.cruds system/Observation.rs");
        let token = s.token(&c, "system/Patient.cruds system/Observation.rs");
        let p = format!("p-{ws}");
        for (name, method, path, body, expected) in &rows {
            let path = path.replace("{p}", &p);
            let (status, resp) = s.fhir(Some(&token), method, &path, body.map(|f| f(&p)));
            assert_eq!(status, *expected, "{class:?} {name}: {resp}");
            if status >= 400 {
                assert!(is_outcome(&resp), "{class:?} {name}: {resp}");
            }
        }
        // Batch: entries are decided one by one.
        let (status, resp) = s.fhir(
            Some(&token),
            "POST",
            "",
            Some(json!({"resourceType": "Bundle", "type": "batch", "entry": [
                {"request": {"method": "GET", "url": "Patient?_count=1"}},
                {"request": {"method": "GET", "url": "Encounter?_count=1"}}]})),
        );
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp["entry"][0]["response"]["status"], "200 OK", "{resp}");
        assert!(
            resp["entry"][1]["response"]["status"]
                .as_str()
                .unwrap()
                .starts_with("403"),
            "{resp}"
        );
    }
}

#[test]
fn tenants_are_isolated_and_includes_filtered() {
    let s = start();
    s.workspace("sb", ServiceClass::Sandbox);
    s.workspace("in", ServiceClass::Integration);
    let admin = s.client(None, "system/*.cruds");
    let admin_t = s.token(&admin, "system/*.cruds");
    let sb = s.client(Some("sb"), "system/*.cruds");
    let sb_t = s.token(&sb, "system/*.cruds");
    let obs_only = s.client(Some("in"), "system/Observation.rs");
    let obs_t = s.token(&obs_only, "");
    let pat_only = s.client(Some("in"), "system/Patient.rs");
    let pat_t = s.token(&pat_only, "system/Patient.rs");

    // The hospital's data (default partition), written by the administrator.
    for (path, body) in [
        ("Patient/h1", patient("h1")),
        ("Observation/o1", observation("o1", "Patient/h1")),
    ] {
        assert_eq!(s.fhir(Some(&admin_t), "PUT", path, Some(body)).0, 201);
    }
    // The sandbox's own patient.
    assert_eq!(
        s.fhir(Some(&sb_t), "PUT", "Patient/s1", Some(patient("s1")))
            .0,
        201
    );

    // A sandbox never sees the default partition; the hospital never sees the sandbox.
    assert_eq!(s.fhir(Some(&sb_t), "GET", "Patient/h1", None).0, 404);
    let (_, b) = s.fhir(Some(&sb_t), "GET", "Patient", None);
    assert_eq!(b["total"], 1, "{b}");
    let (_, b) = s.fhir(Some(&sb_t), "GET", "_history", None);
    assert!(!b.to_string().contains("h1"), "{b}");
    assert_eq!(s.fhir(Some(&admin_t), "GET", "Patient/s1", None).0, 404);
    assert_eq!(s.fhir(Some(&pat_t), "GET", "Patient/s1", None).0, 404);
    // Integration reads the default partition within its scopes.
    assert_eq!(s.fhir(Some(&pat_t), "GET", "Patient/h1", None).0, 200);

    // _include cannot bring in a type out of scope …
    let q = "Observation?_include=Observation:subject";
    let (status, b) = s.fhir(Some(&obs_t), "GET", q, None);
    assert_eq!(status, 200);
    assert_eq!(types_in(&b), vec!["Observation"], "{b}");
    let (_, b) = s.fhir(Some(&admin_t), "GET", q, None);
    assert_eq!(types_in(&b), vec!["Observation", "Patient"], "{b}");
    // … nor _revinclude or $everything.
    let q = "Patient?_revinclude=Observation:subject";
    let (_, b) = s.fhir(Some(&pat_t), "GET", q, None);
    assert_eq!(types_in(&b), vec!["Patient"], "{b}");
    let (_, b) = s.fhir(Some(&pat_t), "GET", "Patient/h1/$everything", None);
    assert_eq!(types_in(&b), vec!["Patient"], "{b}");
    let (_, b) = s.fhir(Some(&admin_t), "GET", "Patient/h1/$everything", None);
    assert_eq!(types_in(&b).len(), 2, "{b}");

    // Nor can a search look through a type out of scope (chains, _has).
    let q = "Observation?subject:Patient.family=h1";
    assert_eq!(s.fhir(Some(&obs_t), "GET", q, None).0, 403);
    assert_eq!(s.fhir(Some(&admin_t), "GET", q, None).0, 200);
    let q = "Patient?_has:Observation:subject:status=final";
    assert_eq!(s.fhir(Some(&pat_t), "GET", q, None).0, 403);
    let (status, b) = s.fhir(Some(&admin_t), "GET", q, None);
    assert_eq!((status, b["total"].as_u64()), (200, Some(1)), "{b}");

    // The sandbox refuses the real INS-NIR; the test OID is fine.
    let real = json!({"resourceType": "Patient", "identifier": [
        {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "180017512345678"}]});
    let (status, b) = s.fhir(Some(&sb_t), "POST", "Patient", Some(real.clone()));
    assert_eq!(status, 422, "{b}");
    assert!(b["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("INS-NIR"));
    let mut test = real.clone();
    test["identifier"][0]["system"] = json!("urn:oid:1.2.250.1.213.1.4.10");
    assert_eq!(s.fhir(Some(&sb_t), "POST", "Patient", Some(test)).0, 201);
    let (status, _) = s.fhir(
        Some(&sb_t),
        "GET",
        "Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|1",
        None,
    );
    assert_eq!(status, 400);
    // The hospital's own data may carry it.
    assert_eq!(s.fhir(Some(&admin_t), "POST", "Patient", Some(real)).0, 201);
}

#[test]
fn token_endpoint_and_refusals() {
    let s = start();
    s.workspace("in", ServiceClass::Integration);
    let c = s.client(Some("in"), "system/Patient.rs");
    let cc = [("grant_type", "client_credentials")];

    // Discovery and the public CapabilityStatement.
    let conf: Value = s
        .http
        .get(format!("{}/fhir/.well-known/smart-configuration", s.origin))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(conf["token_endpoint"], format!("{}/auth/token", s.origin));
    assert_eq!(conf["grant_types_supported"], json!(["client_credentials"]));
    assert!(conf["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("client_secret_basic")));
    assert_eq!(s.fhir(None, "GET", "metadata", None).0, 200);

    // Granted = requested ∩ allowed; by HTTP Basic or by form fields.
    let (status, b) = s.token_request(
        Some(&c),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/Patient.cruds system/Encounter.rs"),
        ],
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["scope"], "system/Patient.rs");
    assert_eq!(b["token_type"], "bearer");
    assert_eq!(b["expires_in"], 300);
    let (status, _) = s.token_request(
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ],
    );
    assert_eq!(status, 200);

    // RFC 6749 refusals.
    let wrong = Creds {
        id: c.id.clone(),
        secret: "not-the-secret".into(),
    };
    let unknown = Creds {
        id: "cc-unknown".into(),
        secret: c.secret.clone(),
    };
    type Case<'a> = (
        &'a str,
        Option<&'a Creds>,
        Vec<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "wrong secret",
            Some(&wrong),
            cc.to_vec(),
            401,
            "invalid_client",
        ),
        (
            "unknown client",
            Some(&unknown),
            cc.to_vec(),
            401,
            "invalid_client",
        ),
        ("no credentials", None, cc.to_vec(), 401, "invalid_client"),
        ("no grant type", Some(&c), vec![], 400, "invalid_request"),
        (
            "other grant",
            Some(&c),
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (
            "scope not allowed",
            Some(&c),
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "system/Encounter.rs"),
            ],
            400,
            "invalid_scope",
        ),
        (
            "restricted write scope",
            Some(&c),
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "system/Patient.cruds?gender=female"),
            ],
            400,
            "invalid_scope",
        ),
        (
            "restriction by an unknown parameter",
            Some(&c),
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "system/Patient.rs?colour=blue"),
            ],
            400,
            "invalid_scope",
        ),
        (
            "patient scope",
            Some(&c),
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "patient/Patient.rs"),
            ],
            400,
            "invalid_scope",
        ),
    ];
    for (name, creds, form, status, error) in cases {
        let (got, body) = s.token_request(creds, &form);
        assert_eq!(got, status, "{name}: {body}");
        assert_eq!(body["error"], error, "{name}: {body}");
    }

    // Tokens the FHIR API refuses: 401 OperationOutcome with WWW-Authenticate.
    let good = s.token(&c, "system/Patient.rs");
    assert_eq!(s.fhir(Some(&good), "GET", "Patient", None).0, 200);
    let keys = s.lab.keys();
    let mut expired = keys.claims(&c.id, "system/Patient.rs".into(), Some("in".into()));
    expired.exp = expired.iat - 600;
    let mut audience = keys.claims(&c.id, "system/Patient.rs".into(), Some("in".into()));
    audience.aud = "https://elsewhere.example/fhir".into();
    let mut other_ws = keys.claims(&c.id, "system/Patient.rs".into(), Some("sb".into()));
    other_ws.scope = "system/*.cruds".into();
    let parts: Vec<&str> = good.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["scope"] = json!("system/*.cruds");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let refused = vec![
        ("no token", None),
        ("garbage", Some("not.a.token".to_string())),
        ("expired", Some(keys.sign(&expired).unwrap())),
        ("wrong audience", Some(keys.sign(&audience).unwrap())),
        (
            "claims another workspace",
            Some(keys.sign(&other_ws).unwrap()),
        ),
        ("tampered", Some(tampered)),
        ("alg none", Some(none)),
    ];
    for (name, token) in refused {
        let resp = s
            .http
            .get(format!("{}/fhir/Patient", s.origin))
            .bearer_auth(token.unwrap_or_default())
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{name}");
        assert!(resp.headers().contains_key("www-authenticate"), "{name}");
        let body: Value = resp.json().unwrap();
        assert!(is_outcome(&body), "{name}: {body}");
    }

    // Suspension and revocation take effect at once, whatever the token says.
    s.lab.registry().set_active("in", false).unwrap();
    assert_eq!(s.fhir(Some(&good), "GET", "Patient", None).0, 403);
    let (status, b) = s.token_request(Some(&c), &cc);
    assert_eq!(
        (status, b["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    s.lab.registry().set_active("in", true).unwrap();
    assert_eq!(s.fhir(Some(&good), "GET", "Patient", None).0, 200);
    s.lab.registry().revoke_client(&c.id).unwrap();
    assert_eq!(s.fhir(Some(&good), "GET", "Patient", None).0, 401);
    assert_eq!(s.token_request(Some(&c), &cc).0, 401);
}

#[test]
fn every_request_is_audited_and_the_chain_verifies() {
    let s = start();
    s.workspace("in", ServiceClass::Integration);
    let c = s.client(Some("in"), "system/Patient.cruds");
    let before = s.audit_lines();
    let token = s.token(&c, "");
    let requests: Vec<(Option<&str>, &str, &str, Option<Value>)> = vec![
        (Some(&token), "PUT", "Patient/a1", Some(patient("a1"))),
        (Some(&token), "GET", "Patient/a1", None),
        (Some(&token), "GET", "Patient?name=a1&_count=5", None),
        (Some(&token), "GET", "Encounter/x", None),
        (None, "GET", "Patient/a1", None),
        (
            Some(&token),
            "POST",
            "AuditEvent",
            Some(json!({"resourceType": "AuditEvent"})),
        ),
        (None, "GET", "metadata", None),
    ];
    let n = requests.len();
    for (t, m, p, b) in requests {
        s.fhir(t, m, p, b);
    }
    // The token request and each FHIR request: one record each, nothing more.
    assert_eq!(s.audit_lines() - before, n + 1);
    let text = std::fs::read_to_string(s.dir.path().join("lab/audit.ndjson")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let search = &records[records.len() - n + 2]["event"];
    assert_eq!(search["resourceType"], "AuditEvent");
    assert_eq!(search["subtype"][0]["code"], "search-type");
    assert_eq!(
        search["agent"][0]["who"]["identifier"]["value"],
        c.id.as_str()
    );
    assert_eq!(search["agent"][0]["network"]["address"], "127.0.0.1");
    assert_eq!(search["entity"][0]["what"]["identifier"]["value"], "in");
    let refused = &records[records.len() - 3]["event"];
    assert_eq!(refused["outcome"], "4");
    assert_eq!(refused["agent"][0]["who"]["display"], "unauthenticated");
    assert!(!text.contains(&c.secret), "the secret is never recorded");
    assert!(!text.contains(&token), "nor the token");

    // `crosscare audit verify` checks the chain and names the first broken record.
    let data = s.dir.path().to_str().unwrap();
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_crosscare"))
            .args(["audit", "verify", "--data", data])
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = lines[2].replace("\"outcome\":\"0\"", "\"outcome\":\"4\"");
    std::fs::write(
        s.dir.path().join("lab/audit.ndjson"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let out = verify();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken at record 3"), "{err}");
}

fn crosscare(args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_crosscare"))
        .args(args)
        .env("CROSSCARE_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn serve_is_secure_by_default() {
    // --insecure-no-auth refuses anything but loopback.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = crosscare(&[
        "serve",
        "--insecure-no-auth",
        "--listen",
        "0.0.0.0:0",
        "--data",
        d,
    ])
    .wait_with_output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));

    // Without it: the first admin credential is created, owner-only, and only its path is
    // logged; requests without a token are refused.
    let mut child = crosscare(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        d,
        "--log-format",
        "json",
    ]);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let base = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("server did not start");
        log.push_str(&line);
        if let Some(i) = line.find("listening at http://") {
            break line[i + "listening at ".len()..]
                .split('"')
                .next()
                .unwrap()
                .to_string();
        }
    };
    let cred_path = dir.path().join("lab/admin-credential.json");
    let cred: Value = serde_json::from_slice(&std::fs::read(&cred_path).unwrap()).unwrap();
    let secret = cred["client_secret"].as_str().unwrap();
    assert!(log.contains("admin-credential.json"), "{log}");
    assert!(!log.contains(secret), "the secret is never logged");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cred_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let http = Client::new();
    let status = http.get(format!("{base}/Patient")).send().unwrap().status();
    assert_eq!(status.as_u16(), 401);
    let origin = base.trim_end_matches("/fhir");
    let token: Value = http
        .post(format!("{origin}/auth/token"))
        .basic_auth(cred["client_id"].as_str().unwrap(), Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let status = http
        .get(format!("{base}/Patient"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);

    // `crosscare import --server` gets its own tokens from a credential file.
    let ndjson = dir.path().join("in.ndjson");
    std::fs::write(&ndjson, "{\"resourceType\":\"Patient\",\"id\":\"imp-1\"}\n").unwrap();
    let checkpoint = dir.path().join("ck.json");
    let args = [
        "import",
        "--server",
        &base,
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        ndjson.to_str().unwrap(),
    ];
    let out = crosscare(&args).wait_with_output().unwrap();
    assert!(!out.status.success(), "refused without a credential");
    let with_cred = [
        &args[..5],
        &["--credential", cred_path.to_str().unwrap()],
        &args[5..],
    ]
    .concat();
    let out = crosscare(&with_cred).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = http
        .get(format!("{base}/Patient/imp-1"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Test keys of a SMART Backend Services client (generated for these tests only).
const ES384_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCvC7coxQ3NaQcaYH3n\nzR8J/Cowiyx9pSqhiAsEvI3EiBPjacDf86roPTGZlCCh2hihZANiAASrdbM4BDo+\nU1qw+pxzjprFUVZu41AQPU6K/gzhQmqo/3sbgfXOe079e0stV6hR1ASMSWpIdj00\nPpblLbEkMfBd2XPcuGylwVblHGGr36EIiw/R9fLKno7b9+3mvMLfkNE=\n-----END PRIVATE KEY-----\n";
const RS384_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCG72ZnOxFx2db4\n+sWiGUbVWl3Ss/9IWcM5V9kUGKhrrR36xFlK8C84IuDwLwX2oOZKccPleKBlkA/t\nioVNgkEmpIfLgZ7sk0XMRem8uw9DY7u01aeQiQv22/0guk6SLolrfSAS5jrdyoD7\n/2RV2enNS+SPMWr7Y3vMkjERNFqJElVLD/93YMbGJWkEt0bpxMHOcKBi3pd+mH02\n5Lt1amF3N/S+hzTtXSYVQbkAt6+yaCTsqi/9XSLLMm24V0ZrL9K7qr7t6tuyHBlj\nEcFTIzt9n27s5SGYDgtZh+Lmzz2I7k6hpn/a2PULpZla57aanqR6ur/bEklcDwXZ\nS22XImmhAgMBAAECggEAEPwqljz7taqXolCitwRag7mzzLWGoVtXNS0nMJ3n+WHZ\nv7qeiM3SC81sJh+tLv3S7zUB1S1Jd29aaerBW9/VBqG4TDgdQqdJJmz4fp7HTZLM\nyncIeCugG2tWohuBj2oXNzYRZv+fElMOyGm9/gaHpSVz+EhesJU1vKr8TS+bY9yB\noDJCJjZYENAUEfhO6zU+WIwrP78IlKndS3QdEkIDlDbZUyETMK3fIyGprs6m0c11\n7ZUK/int+bQyxvW+Biuo0m5i7LmjM0j4m3bNXVLqG3xq+lh8efDyj8MeoApOfFi+\ndlYpPMlmxZ3g7Em5Qd30GEkB/Zxxw5LvjRM2aJSXSQKBgQC7Yf9ox0hlbZQmMFcc\ndm42XIA4zYhKAaXSCHPoZ85qDE3Y3pzoV0qN9pHw3iXjPQAIRH79nwD5HHA9vhjX\nUYu0oImoz2I0GNnyxtJzWKZw1Yzn0YlfgzqEPwp4l7uB6eqYf3OuAQcbnOLTPjiq\nvzVy3hlcKHAs7YNf7f7xzPXZ3QKBgQC4WMDTP4K8BGNeOsEtBpSrYjiHnHc7s1Vi\nIyXZkuu9YV/UCSz2Py477FPexiE5uW+hTXpjeHnbNrCL0+8dwILOBkzYpBwjL85D\ntHx5b2R+3Q8dhvaxG+drVrPFid6i0lmhRwem04wCdOaJiDSrZAYIGVCGyp+GFI+9\nkLkgs4FMlQKBgQCVJNwIxs1txbksaD99rRnt9NQt4hG/be5Q7V9sNOuLZv2zRwS2\nvXve4MmqYPbhFpVm/zXgomVA4gzIZ/0XrJU5EKphDafJdZpL7UpmesIHf0Hm5dWk\niyvRROgNsh+RuOB7vr4RWkoRBV9Y6eZqqUReiD7BJoKaj/WILkNErHFmlQKBgB64\nI4HQXo/IR2rHbbN8GkApAPSQPUpEiyDsbH1CP2hylo517Pkn9CNmMV+5MoY1AYYm\nrBNxWxUNmwPiEEGr9+AvKpUbW9j9OWkM5YUy69M8MS2hdPB0ju7TJufvHpuRZAA9\nHuhM7lLmehhHC0fYRi0JUuLzVvv35zAWstLhNtW1AoGAfbNy2NVcpb+Vv6HZe+6Q\nyUAfqz3cTdjWk2Ms4XFkk2bJx4hyyIXrQY9cq0zEqT3Fs9xhO+4ZHkPASrzrEKdb\n0si5BjADVNcTNDcc8NZuECCsNLzd2JrPr5avBZh0Vkc1qKwm0sNEZ44+4ayMcDqD\n57CNGslebXwxM3gUsRYndco=\n-----END PRIVATE KEY-----\n";
const JWKS: &str = "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-384\", \"x\": \"q3WzOAQ6PlNasPqcc46axVFWbuNQED1Oiv4M4UJqqP97G4H1zntO_XtLLVeoUdQE\", \"y\": \"jElqSHY9ND6W5S2xJDHwXdlz3LhspcFW5Rxhq9-hCIsP0fXyyp6O2_ft5rzC35DR\", \"kid\": \"es-test\", \"alg\": \"ES384\", \"use\": \"sig\"}, {\"kty\": \"RSA\", \"n\": \"hu9mZzsRcdnW-PrFohlG1Vpd0rP_SFnDOVfZFBioa60d-sRZSvAvOCLg8C8F9qDmSnHD5XigZZAP7YqFTYJBJqSHy4Ge7JNFzEXpvLsPQ2O7tNWnkIkL9tv9ILpOki6Ja30gEuY63cqA-_9kVdnpzUvkjzFq-2N7zJIxETRaiRJVSw__d2DGxiVpBLdG6cTBznCgYt6Xfph9NuS7dWphdzf0voc07V0mFUG5ALevsmgk7Kov_V0iyzJtuFdGay_Su6q-7erbshwZYxHBUyM7fZ9u7OUhmA4LWYfi5s89iO5OoaZ_2tj1C6WZWue2mp6kerq_2xJJXA8F2UttlyJpoQ\", \"e\": \"AQAB\", \"kid\": \"rs-test\", \"alg\": \"RS384\", \"use\": \"sig\"}]}";

#[test]
fn private_key_jwt_assertions() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let s = start();
    s.workspace("bs", ServiceClass::Integration);
    let client = s
        .lab
        .registry()
        .create_jwks_client("bs", "system/Patient.rs", JWKS)
        .unwrap();
    let endpoint = format!("{}/auth/token", s.origin);
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64, jti: &str| json!({"iss": client.client_id, "sub": client.client_id, "aud": aud, "exp": exp, "jti": jti});
    let sign = |alg: Algorithm, kid: &str, claims: &Value| {
        let mut h = Header::new(alg);
        h.kid = Some(kid.into());
        let key = match alg {
            Algorithm::ES384 => EncodingKey::from_ec_pem(ES384_PEM.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(RS384_PEM.as_bytes()).unwrap(),
        };
        encode(&h, claims, &key).unwrap()
    };
    let request = |assertion: &str| {
        s.token_request(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "system/Patient.rs"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ],
        )
    };
    let es = sign(
        Algorithm::ES384,
        "es-test",
        &claims(&endpoint, now + 120, "j1"),
    );
    let (status, body) = request(&es);
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.fhir(Some(&token), "GET", "Patient", None).0, 200);
    let rs = sign(
        Algorithm::RS384,
        "rs-test",
        &claims(&endpoint, now + 120, "j2"),
    );
    assert_eq!(request(&rs).0, 200);

    let hs = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("es-test".into());
        encode(
            &h,
            &claims(&endpoint, now + 120, "j6"),
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap()
    };
    let refused = [
        ("replayed jti", es.clone()),
        (
            "wrong audience",
            sign(
                Algorithm::ES384,
                "es-test",
                &claims("https://other.example/token", now + 120, "j3"),
            ),
        ),
        (
            "expired",
            sign(
                Algorithm::ES384,
                "es-test",
                &claims(&endpoint, now - 120, "j4"),
            ),
        ),
        (
            "too long-lived",
            sign(
                Algorithm::ES384,
                "es-test",
                &claims(&endpoint, now + 3600, "j5"),
            ),
        ),
        ("HS256", hs),
        (
            "unknown kid",
            sign(
                Algorithm::ES384,
                "nope",
                &claims(&endpoint, now + 120, "j7"),
            ),
        ),
        (
            "key of another kid",
            sign(
                Algorithm::ES384,
                "rs-test",
                &claims(&endpoint, now + 120, "j8"),
            ),
        ),
        (
            "no jti",
            sign(
                Algorithm::ES384,
                "es-test",
                &json!({"iss": client.client_id, "sub": client.client_id, "aud": endpoint, "exp": now + 60}),
            ),
        ),
    ];
    for (name, assertion) in refused {
        let (status, body) = request(&assertion);
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{name}: {body}"
        );
    }
}

/// Quotas: a client over its rate gets 429 with `Retry-After` and a `throttled`
/// OperationOutcome, in its own bucket; a workspace whose partition is full cannot add a
/// resource (429 with a long `Retry-After`), while reads, updates and deletes go on.
#[test]
fn quotas_throttle_requests_and_cap_storage() {
    let s = start_with(QuotaDefaults {
        rate: Some(1.0),
        max_resources: Some(1000),
    });
    s.workspace("rated", ServiceClass::Sandbox);
    let (c1, c2) = (
        s.client(Some("rated"), "system/Patient.cruds"),
        s.client(Some("rated"), "system/Patient.cruds"),
    );
    let (t1, t2) = (
        s.token(&c1, "system/Patient.rs"),
        s.token(&c2, "system/Patient.rs"),
    );
    let get = |token: &str| {
        s.http
            .get(format!("{}/fhir/Patient?_count=1", s.origin))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    // 1 per second, bursts of 2: the third request at once is refused.
    assert_eq!(get(&t1).status().as_u16(), 200);
    assert_eq!(get(&t1).status().as_u16(), 200);
    let refused = get(&t1);
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(
        refused.headers()["retry-after"].to_str().unwrap(),
        "1",
        "Retry-After in whole seconds"
    );
    let body: Value = refused.json().unwrap();
    assert!(is_outcome(&body), "{body}");
    assert_eq!(body["issue"][0]["code"], "throttled", "{body}");
    // Another client of the same workspace has its own bucket.
    assert_eq!(get(&t2).status().as_u16(), 200);
    // After Retry-After, the client is served again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get(&t1).status().as_u16(), 200);
    // A client's own rate overrides the workspace's and the server's.
    s.lab
        .registry()
        .set_client_rate(&c2.id, Some(1000.0))
        .unwrap();
    for _ in 0..10 {
        assert_eq!(get(&t2).status().as_u16(), 200);
    }

    // Storage: a workspace of at most 2 resources (and a rate that does not get in the way).
    s.workspace("small", ServiceClass::Sandbox);
    s.lab
        .registry()
        .set_workspace_quota(
            "small",
            QuotaChange {
                rate_limit: Some(Some(1000.0)),
                max_resources: Some(Some(2)),
            },
        )
        .unwrap();
    let c = s.client(Some("small"), "system/Patient.cruds");
    let token = s.token(&c, "system/Patient.cruds");
    let t = Some(token.as_str());
    assert_eq!(s.fhir(t, "PUT", "Patient/p1", Some(patient("p1"))).0, 201);
    assert_eq!(s.fhir(t, "POST", "Patient", Some(patient("x"))).0, 201);
    let full = s
        .http
        .put(format!("{}/fhir/Patient/p3", s.origin))
        .bearer_auth(&token)
        .header("content-type", "application/fhir+json")
        .body(patient("p3").to_string())
        .send()
        .unwrap();
    assert_eq!(full.status().as_u16(), 429);
    assert_eq!(
        full.headers()["retry-after"].to_str().unwrap(),
        "3600",
        "a full storage quota asks the client to come back much later"
    );
    let body: Value = full.json().unwrap();
    assert!(is_outcome(&body), "{body}");
    assert_eq!(body["issue"][0]["code"], "business-rule", "{body}");
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("storage quota"),
        "{body}"
    );
    assert_eq!(s.fhir(t, "POST", "Patient", Some(patient("y"))).0, 429);
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient("t1"), "request": {"method": "POST", "url": "Patient"}}]});
    assert_eq!(s.fhir(t, "POST", "", Some(tx.clone())).0, 429);
    // Reads and updates of what is there go on.
    assert_eq!(s.fhir(t, "GET", "Patient/p1", None).0, 200);
    let (status, bundle) = s.fhir(t, "GET", "Patient", None);
    assert_eq!((status, types_in(&bundle).len()), (200, 2), "{bundle}");
    let mut changed = patient("p1");
    changed["gender"] = json!("female");
    assert_eq!(s.fhir(t, "PUT", "Patient/p1", Some(changed)).0, 200);
    // A delete frees room.
    assert_eq!(s.fhir(t, "DELETE", "Patient/p1", None).0, 204);
    assert_eq!(s.fhir(t, "POST", "", Some(tx)).0, 200);
    assert_eq!(s.fhir(t, "PUT", "Patient/p3", Some(patient("p3"))).0, 429);
}

fn ids_in(bundle: &Value) -> Vec<String> {
    let mut ids: Vec<String> = bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["resource"]["id"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Training: `$reset` brings a trainee's partition back to the course template's data in one
/// call, and nothing else can be reset; deleting the template ends the course.
#[test]
fn training_reset_and_end_of_course() {
    let s = start();
    s.workspace("course", ServiceClass::Training);
    s.trainee("trainee-1", "course");
    s.trainee("trainee-2", "course");
    let teacher = s.client(Some("course"), "system/Patient.cruds");
    let teacher_token = s.token(&teacher, "system/Patient.cruds");
    let teacher = Some(teacher_token.as_str());
    assert_eq!(
        s.fhir(teacher, "PUT", "Patient/p1", Some(patient("p1"))).0,
        201
    );
    assert_eq!(
        s.fhir(teacher, "PUT", "Patient/p2", Some(patient("p2"))).0,
        201
    );
    let c1 = s.client(Some("trainee-1"), "system/Patient.cruds");
    let t1_token = s.token(&c1, "system/Patient.cruds");
    let t1 = Some(t1_token.as_str());

    // The trainee's partition starts empty; the first $reset loads the course's data.
    assert!(ids_in(&s.fhir(t1, "GET", "Patient", None).1).is_empty());
    let (status, body) = s.fhir(t1, "POST", "$reset", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issue"][0]["code"], "informational", "{body}");
    assert_eq!(ids_in(&s.fhir(t1, "GET", "Patient", None).1), ["p1", "p2"]);

    // The trainee works: creates, changes, deletes; then one call puts everything back.
    assert_eq!(s.fhir(t1, "PUT", "Patient/p3", Some(patient("p3"))).0, 201);
    let mut changed = patient("p2");
    changed["gender"] = json!("male");
    assert_eq!(s.fhir(t1, "PUT", "Patient/p2", Some(changed)).0, 200);
    assert_eq!(s.fhir(t1, "DELETE", "Patient/p1", None).0, 204);
    assert_eq!(ids_in(&s.fhir(t1, "GET", "Patient", None).1), ["p2", "p3"]);
    let (status, body) = s.fhir(t1, "POST", "$reset", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids_in(&s.fhir(t1, "GET", "Patient", None).1), ["p1", "p2"]);
    let (_, p2) = s.fhir(t1, "GET", "Patient/p2", None);
    assert!(p2.get("gender").is_none(), "{p2}");
    // The template and the other trainee are untouched.
    assert_eq!(
        ids_in(&s.fhir(teacher, "GET", "Patient", None).1),
        ["p1", "p2"]
    );
    let c2 = s.client(Some("trainee-2"), "system/Patient.cruds");
    let t2 = s.token(&c2, "system/Patient.cruds");
    assert!(ids_in(&s.fhir(Some(&t2), "GET", "Patient", None).1).is_empty());

    // Refused elsewhere, with an OperationOutcome: the template itself, a read-only token,
    // a sandbox, an integration workspace, an administrator; and a GET.
    let refused = |token: &str, expected: u16, what: &str| {
        let (status, body) = s.fhir(Some(token), "POST", "$reset", None);
        assert_eq!(status, expected, "{what}: {body}");
        assert!(is_outcome(&body), "{what}: {body}");
    };
    refused(&teacher_token, 400, "the template");
    let read_only = s.token(&c1, "system/Patient.rs");
    refused(&read_only, 403, "read-only token");
    for (id, class) in [
        ("sb", ServiceClass::Sandbox),
        ("int", ServiceClass::Integration),
    ] {
        s.workspace(id, class);
        let c = s.client(Some(id), "system/Patient.cruds");
        refused(&s.token(&c, "system/Patient.cruds"), 403, id);
    }
    let admin = s.client(None, "system/*.cruds");
    refused(&s.token(&admin, "system/*.cruds"), 403, "administrator");
    let (status, _) = s.fhir(t1, "GET", "$reset", None);
    assert!(status >= 400, "GET $reset: {status}");
    // The default partition kept nothing of the trainees' resets.
    let admin_token = s.token(&admin, "system/*.cruds");
    assert!(ids_in(&s.fhir(Some(&admin_token), "GET", "Patient", None).1).is_empty());

    // End of the course: deleting the template deletes the trainees' workspaces with it.
    let deleted = s.lab.registry().delete_workspace("course").unwrap();
    assert_eq!(deleted, ["course", "trainee-1", "trainee-2"]);
    for t in [t1_token.as_str(), t2.as_str()] {
        assert_eq!(s.fhir(Some(t), "GET", "Patient", None).0, 401);
    }
}

/// The audit trail through the API: administrators search and read AuditEvents (by date,
/// agent, entity, patient, type, subtype, action, outcome; paged by `_count`); workspace
/// clients cannot see them; nobody can write one.
#[test]
fn administrators_search_the_audit_trail() {
    let s = start();
    s.workspace("aud", ServiceClass::Sandbox);
    let partner = s.client(Some("aud"), "system/*.cruds");
    let pt = s.token(&partner, "system/*.cruds");
    let pt = Some(pt.as_str());
    assert_eq!(s.fhir(pt, "PUT", "Patient/p1", Some(patient("p1"))).0, 201);
    assert_eq!(s.fhir(pt, "GET", "Patient/p1", None).0, 200);
    assert_eq!(s.fhir(pt, "GET", "Patient/nope", None).0, 404);
    // A workspace client sees no AuditEvent, even with system/*.cruds.
    for path in [
        "AuditEvent",
        "AuditEvent/x",
        "AuditEvent?agent=x",
        "Patient/p1/AuditEvent",
    ] {
        let (status, body) = s.fhir(pt, "GET", path, None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(is_outcome(&body), "{body}");
    }
    let admin = s.client(None, "system/*.cruds");
    let admin_token = s.token(&admin, "system/*.cruds");
    let at = Some(admin_token.as_str());
    // Nobody writes an AuditEvent.
    let fake = json!({"resourceType": "AuditEvent", "id": "f", "type": {"code": "rest"},
                      "recorded": "2026-01-01T00:00:00Z", "agent": [], "source": {}});
    for token in [at, pt] {
        for (method, path) in [
            ("POST", "AuditEvent"),
            ("PUT", "AuditEvent/f"),
            ("DELETE", "AuditEvent/f"),
        ] {
            let body = (method != "DELETE").then(|| fake.clone());
            let (status, resp) = s.fhir(token, method, path, body);
            assert_eq!(status, 405, "{method} {path}: {resp}");
            assert!(is_outcome(&resp), "{resp}");
        }
    }

    let search = |query: &str| -> Value {
        let (status, body) = s.fhir(at, "GET", &format!("AuditEvent?{query}"), None);
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["type"], "searchset", "{body}");
        body
    };
    let total = |query: &str| search(query)["total"].as_u64().unwrap();
    let agent = format!("agent={}", partner.id);
    // The partner: its token request, 3 interactions, 4 refused reads, 3 refused writes.
    assert_eq!(total(&agent), 11);
    assert_eq!(total(&format!("{agent}&subtype=update")), 2);
    assert_eq!(total(&format!("{agent}&action=U")), 2);
    assert_eq!(total(&format!("{agent}&outcome=0")), 3);
    assert_eq!(total(&format!("{agent}&outcome=4")), 8);
    assert_eq!(total(&format!("{agent}&subtype=read&outcome=0")), 1);
    // PUT and GET of Patient/p1, and the refused compartment search Patient/p1/AuditEvent.
    assert_eq!(total(&format!("{agent}&entity=Patient/p1")), 3);
    assert_eq!(total(&format!("{agent}&patient=p1")), 3);
    assert_eq!(total(&format!("{agent}&entity=aud&outcome=0")), 2);
    assert_eq!(total(&format!("{agent}&type=rest")), 11);
    assert_eq!(total(&format!("{agent},{}&subtype=read", admin.id)), 3);
    assert_eq!(total(&format!("{agent}&date=lt2000-01-01")), 0);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(total(&format!("{agent}&date=ge{today}&date=lt2999")), 11);
    assert_eq!(total("agent=cc-nobody"), 0);

    // Paging: _count, with a next link that gives the rest.
    let page = search(&format!("{agent}&_count=10"));
    assert_eq!(page["entry"].as_array().unwrap().len(), 10);
    let next = page["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .expect("a next link")["url"]
        .as_str()
        .unwrap()
        .to_string();
    let rest = s
        .http
        .get(&next)
        .bearer_auth(&admin_token)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(rest["entry"].as_array().unwrap().len(), 1, "{rest}");
    // Read by id.
    let id = page["entry"][0]["resource"]["id"].as_str().unwrap();
    let (status, event) = s.fhir(at, "GET", &format!("AuditEvent/{id}"), None);
    assert_eq!((status, event["id"].as_str()), (200, Some(id)));
    assert_eq!(s.fhir(at, "GET", "AuditEvent/no-such-event", None).0, 404);
    // A parameter the trail cannot apply is refused, not ignored.
    let (status, body) = s.fhir(at, "GET", "AuditEvent?site=x", None);
    assert_eq!(status, 400, "{body}");
    assert!(is_outcome(&body));
}

/// Scopes restricted by search parameters (SMART v2 finer-grained constraints): the token
/// `system/Observation.rs?category=laboratory` reads and searches laboratory Observations only
/// — searches are filtered, a read by id of another Observation is refused, `_include` and
/// `$everything` drop what does not match, and history (which the restriction cannot filter)
/// is refused.
#[test]
fn restricted_scopes_in_the_matrix() {
    let s = start();
    let admin = s.client(None, "system/*.cruds");
    let at = s.token(&admin, "system/*.cruds");
    let at = Some(at.as_str());
    let obs = |id: &str, category: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
               "code": {"text": id}, "subject": {"reference": "Patient/rp"}})
    };
    assert_eq!(s.fhir(at, "PUT", "Patient/rp", Some(patient("rp"))).0, 201);
    for (id, cat) in [
        ("lab1", "laboratory"),
        ("lab2", "laboratory"),
        ("vs1", "vital-signs"),
    ] {
        assert_eq!(
            s.fhir(at, "PUT", &format!("Observation/{id}"), Some(obs(id, cat)))
                .0,
            201
        );
    }
    s.workspace("rs", ServiceClass::Integration);
    let c = s.client(
        Some("rs"),
        "system/Observation.rs?category=laboratory system/Patient.rs",
    );
    // Asking for the whole type gives the restricted scope the client is allowed.
    let (status, body) = s.token_request(
        Some(&c),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/Observation.rs system/Patient.rs"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "system/Observation.rs?category=laboratory system/Patient.rs"
    );
    let t = body["access_token"].as_str().unwrap().to_string();
    let t = Some(t.as_str());
    // (path, expected status, expected Observation ids when 200)
    let rows: [(&str, u16, &[&str]); 12] = [
        // Looking through the restricted type would tell which patients have vital signs.
        (
            "Patient?_has:Observation:subject:category=vital-signs",
            403,
            &[],
        ),
        ("Observation", 200, &["lab1", "lab2"]),
        ("Observation?_id=vs1", 200, &[]),
        ("Observation?_id=vs1,lab2", 200, &["lab2"]),
        ("Observation?category=vital-signs", 200, &[]),
        ("Observation/lab1", 200, &["lab1"]),
        ("Observation/vs1", 403, &[]),
        ("Observation/vs1/_history/1", 403, &[]),
        ("Observation/lab1/_history", 403, &[]),
        (
            "Patient?_revinclude=Observation:subject",
            200,
            &["lab1", "lab2"],
        ),
        ("Patient/rp/$everything", 200, &["lab1", "lab2"]),
        ("Patient/rp/Observation", 200, &["lab1", "lab2"]),
    ];
    for (path, expected, ids) in rows {
        let (status, body) = s.fhir(t, "GET", path, None);
        assert_eq!(status, expected, "{path}: {body}");
        if status != 200 {
            assert!(is_outcome(&body), "{path}: {body}");
            continue;
        }
        let mut got: Vec<String> = if body["resourceType"] == "Bundle" {
            body["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["resource"]["resourceType"] == "Observation")
                .filter_map(|e| e["resource"]["id"].as_str())
                .map(str::to_string)
                .collect()
        } else {
            vec![body["id"].as_str().unwrap_or_default().to_string()]
        };
        got.sort();
        assert_eq!(got, ids, "{path}: {body}");
    }
    // Writes were never granted by this scope.
    assert_eq!(
        s.fhir(
            t,
            "PUT",
            "Observation/lab1",
            Some(obs("lab1", "laboratory"))
        )
        .0,
        403
    );
}

/// The administration commands of quotas and templates, on a data folder.
#[test]
fn admin_commands_for_quotas_and_templates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| -> (bool, String) {
        let out = crosscare(args).wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let create = |id: &str, template: Option<&str>| {
        let mut args = vec![
            "admin",
            "workspace",
            "create",
            "--data",
            data,
            "--id",
            id,
            "--class",
            "training",
            "--organisation",
            "o",
            "--purpose",
            "p",
            "--owner",
            "w",
        ];
        if let Some(t) = template {
            args.extend(["--template", t]);
        }
        run(&args)
    };
    assert!(create("course", None).0);
    let (ok, out) = create("t1", Some("course"));
    assert!(ok, "{out}");
    let t1: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(t1["template"], "course");
    assert!(!create("t2", Some("t1")).0, "a trainee is not a template");

    let (ok, out) = run(&[
        "admin",
        "workspace",
        "quota",
        "t1",
        "--data",
        data,
        "--rate-limit",
        "2.5",
        "--max-resources",
        "100",
    ]);
    assert!(ok, "{out}");
    let q: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (q["rate_limit"].as_f64(), q["max_resources"].as_u64()),
        (Some(2.5), Some(100))
    );
    let (ok, out) = run(&[
        "admin",
        "workspace",
        "quota",
        "t1",
        "--data",
        data,
        "--rate-limit",
        "default",
    ]);
    assert!(ok, "{out}");
    let q: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        q["rate_limit"].is_null() && q["max_resources"] == 100,
        "{q}"
    );
    assert!(
        !run(&[
            "admin",
            "workspace",
            "quota",
            "t1",
            "--data",
            data,
            "--rate-limit",
            "fast"
        ])
        .0
    );

    let (ok, out) = run(&[
        "admin",
        "client",
        "create",
        "--data",
        data,
        "--workspace",
        "t1",
        "--scope",
        "system/*.cruds",
    ]);
    assert!(ok, "{out}");
    let c: Value = serde_json::from_str(out.trim()).unwrap();
    let id = c["client_id"].as_str().unwrap();
    let (ok, out) = run(&[
        "admin",
        "client",
        "quota",
        id,
        "--data",
        data,
        "--rate-limit",
        "7",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("\"rate_limit\":7.0"), "{out}");

    let (ok, out) = run(&["admin", "workspace", "delete", "course", "--data", data]);
    assert!(ok && out.contains("t1"), "{out}");
    let (_, out) = run(&["admin", "workspace", "show", "t1", "--data", data]);
    assert!(out.contains("\"status\": \"deleted\""), "{out}");
}
