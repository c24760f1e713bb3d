//! The registry of workspaces and clients: a small SQLite database (`lab.db`, owner-only) in the
//! lab folder. The server reads it on every authenticated request, so a revocation or a
//! suspension made with `crosscare admin` on the same data folder takes effect at once.

use crate::model::{check_id, Client, ServiceClass, Workspace, WorkspaceStatus};
use crate::scope::Scopes;
use crate::secret::{hash_secret, new_secret, random_hex, verify_secret};
use crate::{files, LabError};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS workspace (
    id TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    class TEXT NOT NULL,
    purpose TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires TEXT,
    status TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS client (
    client_id TEXT PRIMARY KEY,
    workspace TEXT REFERENCES workspace(id),
    allowed_scopes TEXT NOT NULL,
    admin INTEGER NOT NULL,
    revoked INTEGER NOT NULL,
    salt TEXT NOT NULL,
    hash TEXT NOT NULL,
    created TEXT NOT NULL,
    jwks TEXT
);
CREATE TABLE IF NOT EXISTS assertion_jti (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    exp INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
";

/// Columns added after the first release, as `(table, column, type)`: added to an older
/// `lab.db` when it is opened.
const ADDED_COLUMNS: [(&str, &str, &str); 4] = [
    ("workspace", "rate_limit", "REAL"),
    ("workspace", "max_resources", "INTEGER"),
    ("workspace", "template", "TEXT"),
    ("client", "rate_limit", "REAL"),
];

/// What `workspace create` takes.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    /// `None`: a random id.
    pub id: Option<String>,
    pub organisation: String,
    pub class: ServiceClass,
    pub purpose: String,
    pub owner: String,
    pub expires: Option<DateTime<Utc>>,
    /// A training workspace's template (another training workspace).
    pub template: Option<String>,
}

/// What `workspace quota` changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuotaChange {
    /// Requests per second per client; `Some(None)` goes back to the server default.
    pub rate_limit: Option<Option<f64>>,
    /// Most current resources in the partition; `Some(None)` goes back to the server default.
    pub max_resources: Option<Option<u64>>,
}

pub struct Registry {
    conn: Mutex<Connection>,
    /// Clients and workspaces as last read, for the server's per-request lookups.
    cache: Mutex<Cache>,
    /// Writes made through this registry (SQLite's `data_version` counts only the others').
    writes: AtomicU64,
    /// How long one `data_version` check stays good (zero: every lookup checks).
    recheck: Duration,
    /// When the last check started, and what it read.
    checked: Mutex<Option<(Instant, i64)>>,
}

/// How often the server checks `lab.db` for changes made by other processes
/// ([`Registry::set_recheck`]). Each check is a read transaction with file-lock system calls,
/// which cost about 7 % of a read by id when made on every request. A change committed by
/// `crosscare admin` is enforced by every request that starts this long after the commit, and
/// the administration commands wait this long before they return, so that when one returns
/// every running server enforces it. Changes made through the server's own registry are seen
/// at once.
pub const SERVER_RECHECK: Duration = Duration::from_millis(50);

/// The cache is valid while the database is unchanged: `PRAGMA data_version` (commits by
/// other connections, e.g. `crosscare admin` on the same folder) and this registry's own write
/// count are both as they were when it was filled. A suspension or a revocation therefore
/// still takes effect on the next request.
#[derive(Default)]
struct Cache {
    stamp: Option<(i64, u64)>,
    clients: HashMap<String, Option<Client>>,
    workspaces: HashMap<String, Option<Workspace>>,
}

/// Lookups sharing one check that the database is unchanged ([`Registry::now`]).
pub struct Lookup<'r> {
    registry: &'r Registry,
    stamp: (i64, u64),
}

impl Lookup<'_> {
    pub fn client(&self, client_id: &str) -> Result<Option<Client>, LabError> {
        self.registry.client_at(self.stamp, client_id)
    }

    pub fn workspace(&self, id: &str) -> Result<Option<Workspace>, LabError> {
        self.registry.workspace_at(self.stamp, id)
    }
}

impl Registry {
    /// Opens (creating if needed) `lab.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Registry, LabError> {
        files::private_dir(dir)?;
        let path = dir.join("lab.db");
        let existed = path.exists();
        let conn = Connection::open(&path)?;
        if !existed {
            files::restrict(&path, 0o600)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        for (table, column, ty) in ADDED_COLUMNS {
            let present: bool = conn.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column],
                |r| r.get(0),
            )?;
            if !present {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
            }
        }
        Ok(Registry {
            conn: Mutex::new(conn),
            cache: Mutex::new(Cache::default()),
            writes: AtomicU64::new(0),
            recheck: Duration::ZERO,
            checked: Mutex::new(None),
        })
    }

    pub fn create_workspace(&self, new: NewWorkspace) -> Result<Workspace, LabError> {
        let id = match new.id {
            Some(id) => id,
            None => random_hex(4),
        };
        check_id("workspace", &id)?;
        for (name, value) in [
            ("organisation", &new.organisation),
            ("purpose", &new.purpose),
            ("owner", &new.owner),
        ] {
            if value.trim().is_empty() {
                return Err(LabError::Invalid(format!("a workspace needs an {name}")));
            }
        }
        if let Some(t) = &new.template {
            let template = self.existing(t)?;
            if new.class != ServiceClass::Training
                || template.class != ServiceClass::Training
                || template.template.is_some()
            {
                return Err(LabError::Invalid(format!(
                    "a template is a training workspace without a template of its own, for a \
                     training workspace ('{t}' is a {} workspace{})",
                    template.class,
                    if template.template.is_some() {
                        " with a template"
                    } else {
                        ""
                    }
                )));
            }
        }
        let ws = Workspace {
            id,
            organisation: new.organisation,
            class: new.class,
            purpose: new.purpose,
            owner: new.owner,
            expires: new.expires,
            status: WorkspaceStatus::Active,
            created: Utc::now(),
            rate_limit: None,
            max_resources: None,
            template: new.template,
        };
        let conn = self.conn.lock();
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO workspace (id, organisation, class, purpose, owner, expires, status, created, template)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                ws.id,
                ws.organisation,
                ws.class.as_str(),
                ws.purpose,
                ws.owner,
                ws.expires.map(|e| e.to_rfc3339()),
                ws.status.as_str(),
                ws.created.to_rfc3339(),
                ws.template,
            ],
        )?;
        if inserted == 0 {
            return Err(LabError::Invalid(format!(
                "workspace '{}' exists or existed (ids are never reused)",
                ws.id
            )));
        }
        drop(conn);
        self.touch();
        Ok(ws)
    }

    pub fn workspaces(&self) -> Result<Vec<Workspace>, LabError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT * FROM workspace ORDER BY created, id")?;
        let rows = stmt.query_map([], raw_workspace)?;
        rows.map(|r| r.map_err(LabError::from).and_then(workspace_of))
            .collect()
    }

    pub fn workspace(&self, id: &str) -> Result<Option<Workspace>, LabError> {
        self.workspace_at(self.stamp()?, id)
    }

    /// One look at whether the database changed, for several lookups of one request (the
    /// server's `authenticate` reads a client and its workspace): each `data_version` check is
    /// a read transaction on `lab.db`. A change made after the look is seen by the next one,
    /// exactly as with a look per lookup.
    pub fn now(&self) -> Result<Lookup<'_>, LabError> {
        Ok(Lookup {
            registry: self,
            stamp: self.stamp()?,
        })
    }

    fn workspace_at(&self, stamp: (i64, u64), id: &str) -> Result<Option<Workspace>, LabError> {
        if let Some(hit) = self.cached(stamp, |c| c.workspaces.get(id).cloned()) {
            return Ok(hit);
        }
        let fresh = self.read_workspace(id)?;
        self.remember(stamp, |c| {
            c.workspaces.insert(id.to_string(), fresh.clone());
        });
        Ok(fresh)
    }

    /// Lets one check for other processes' changes stand for `every` ([`SERVER_RECHECK`]).
    pub fn set_recheck(&mut self, every: Duration) {
        self.recheck = every;
    }

    /// What the cache is valid for now.
    fn stamp(&self) -> Result<(i64, u64), LabError> {
        let writes = self.writes.load(Ordering::SeqCst);
        if let Some((at, version)) = *self.checked.lock() {
            if at.elapsed() < self.recheck {
                return Ok((version, writes));
            }
        }
        // Taken before the check: a commit after this instant is seen by every check that
        // starts `recheck` later, so the bound holds from the commit.
        let started = Instant::now();
        let version = self
            .conn
            .lock()
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get::<_, i64>(0))?;
        if !self.recheck.is_zero() {
            *self.checked.lock() = Some((started, version));
        }
        Ok((version, writes))
    }

    fn cached<T>(&self, stamp: (i64, u64), get: impl FnOnce(&Cache) -> Option<T>) -> Option<T> {
        let cache = self.cache.lock();
        if cache.stamp == Some(stamp) {
            get(&cache)
        } else {
            None
        }
    }

    /// Stores what was read at `stamp`; an older cache is dropped first.
    fn remember(&self, stamp: (i64, u64), put: impl FnOnce(&mut Cache)) {
        let mut cache = self.cache.lock();
        if cache.stamp != Some(stamp) {
            *cache = Cache {
                stamp: Some(stamp),
                ..Cache::default()
            };
        }
        put(&mut cache);
    }

    /// Called after every write through this registry: the cache is stale.
    fn touch(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn read_workspace(&self, id: &str) -> Result<Option<Workspace>, LabError> {
        let conn = self.conn.lock();
        // Cached statements: the server looks a client and its workspace up on every request.
        let raw = conn
            .prepare_cached("SELECT * FROM workspace WHERE id = ?1")?
            .query_row([id], raw_workspace)
            .optional()?;
        raw.map(workspace_of).transpose()
    }

    fn existing(&self, id: &str) -> Result<Workspace, LabError> {
        match self.workspace(id)? {
            Some(ws) if ws.status != WorkspaceStatus::Deleted => Ok(ws),
            _ => Err(LabError::NotFound(format!("no workspace '{id}'"))),
        }
    }

    /// Suspends (`false`) or reactivates (`true`) a workspace.
    pub fn set_active(&self, id: &str, active: bool) -> Result<Workspace, LabError> {
        self.existing(id)?;
        let status = if active {
            WorkspaceStatus::Active
        } else {
            WorkspaceStatus::Suspended
        };
        self.conn.lock().execute(
            "UPDATE workspace SET status = ?2 WHERE id = ?1",
            params![id, status.as_str()],
        )?;
        self.touch();
        self.existing(id)
    }

    /// Marks the workspace deleted (a tombstone: its id is never reused) and revokes its clients.
    /// Deleting a training template deletes its trainees' workspaces with it (the end of the
    /// course). Returns the ids deleted, the workspace's own first.
    pub fn delete_workspace(&self, id: &str) -> Result<Vec<String>, LabError> {
        self.existing(id)?;
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let mut ids = vec![id.to_string()];
        {
            let mut stmt = tx.prepare(
                "SELECT id FROM workspace WHERE template = ?1 AND status != 'deleted' ORDER BY id",
            )?;
            let trainees = stmt.query_map([id], |r| r.get::<_, String>(0))?;
            for t in trainees {
                ids.push(t?);
            }
        }
        for ws in &ids {
            tx.execute(
                "UPDATE workspace SET status = 'deleted' WHERE id = ?1",
                [ws],
            )?;
            tx.execute("UPDATE client SET revoked = 1 WHERE workspace = ?1", [ws])?;
        }
        tx.commit()?;
        drop(conn);
        self.touch();
        Ok(ids)
    }

    /// The live workspaces created from template `id`.
    pub fn trainees(&self, id: &str) -> Result<Vec<String>, LabError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT id FROM workspace WHERE template = ?1 AND status != 'deleted' ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changes a workspace's quotas.
    pub fn set_workspace_quota(
        &self,
        id: &str,
        change: QuotaChange,
    ) -> Result<Workspace, LabError> {
        self.existing(id)?;
        check_quota(change.rate_limit.flatten())?;
        let conn = self.conn.lock();
        if let Some(rate) = change.rate_limit {
            conn.execute(
                "UPDATE workspace SET rate_limit = ?2 WHERE id = ?1",
                params![id, rate],
            )?;
        }
        if let Some(max) = change.max_resources {
            let max = max.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
            conn.execute(
                "UPDATE workspace SET max_resources = ?2 WHERE id = ?1",
                params![id, max],
            )?;
        }
        drop(conn);
        self.touch();
        self.existing(id)
    }

    /// Sets (or, with `None`, clears) a client's own rate limit.
    pub fn set_client_rate(&self, client_id: &str, rate: Option<f64>) -> Result<Client, LabError> {
        check_quota(rate)?;
        let n = self.conn.lock().execute(
            "UPDATE client SET rate_limit = ?2 WHERE client_id = ?1",
            params![client_id, rate],
        )?;
        self.touch();
        if n == 0 {
            return Err(LabError::NotFound(format!("no client '{client_id}'")));
        }
        self.client(client_id)?
            .ok_or_else(|| LabError::NotFound(format!("no client '{client_id}'")))
    }

    /// Registers a client and returns it with its secret (shown once, stored only hashed).
    pub fn create_client(
        &self,
        workspace: Option<&str>,
        allowed_scopes: &str,
        admin: bool,
    ) -> Result<(Client, String), LabError> {
        let scopes = Scopes::parse(allowed_scopes).map_err(LabError::Invalid)?;
        if scopes.is_empty() {
            return Err(LabError::Invalid(
                "a client needs at least one allowed scope (e.g. 'system/Patient.rs')".into(),
            ));
        }
        if let Some(ws) = workspace {
            self.existing(ws)?;
        }
        let client = Client {
            client_id: format!("cc-{}", random_hex(8)),
            workspace: workspace.map(str::to_string),
            allowed_scopes: scopes.to_string(),
            admin,
            revoked: false,
            created: Utc::now(),
            rate_limit: None,
        };
        let secret = new_secret();
        let (salt, hash) = hash_secret(&secret);
        self.conn.lock().execute(
            "INSERT INTO client (client_id, workspace, allowed_scopes, admin, revoked, salt, hash, created)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)",
            params![
                client.client_id,
                client.workspace,
                client.allowed_scopes,
                admin,
                salt,
                hash,
                client.created.to_rfc3339()
            ],
        )?;
        self.touch();
        Ok((client, secret))
    }

    /// Registers a SMART Backend Services client authenticating with `private_key_jwt`: its
    /// public keys (a JWKS with RSA or EC keys) are kept; it has no usable secret.
    pub fn create_jwks_client(
        &self,
        workspace: &str,
        allowed_scopes: &str,
        jwks: &str,
    ) -> Result<Client, LabError> {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks)
            .map_err(|e| LabError::Invalid(format!("the JWKS is not valid: {e}")))?;
        if set.keys.is_empty() {
            return Err(LabError::Invalid("the JWKS has no key".into()));
        }
        for key in &set.keys {
            jsonwebtoken::DecodingKey::from_jwk(key).map_err(|e| {
                LabError::Invalid(format!("a JWKS key cannot verify signatures: {e}"))
            })?;
        }
        let (client, _unused_secret) =
            self.create_client(Some(workspace), allowed_scopes, false)?;
        self.conn.lock().execute(
            "UPDATE client SET jwks = ?2 WHERE client_id = ?1",
            params![client.client_id, jwks],
        )?;
        self.touch();
        Ok(client)
    }

    /// The registered JWKS of a client, if it uses `private_key_jwt`.
    pub fn client_jwks(&self, client_id: &str) -> Result<Option<String>, LabError> {
        Ok(self
            .conn
            .lock()
            .query_row(
                "SELECT jwks FROM client WHERE client_id = ?1",
                [client_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Records an assertion's `jti`; `false` if it was seen before (a replay). Forgets ids
    /// whose assertions have expired.
    pub fn record_jti(&self, client_id: &str, jti: &str, exp: i64) -> Result<bool, LabError> {
        let conn = self.conn.lock();
        conn.execute(
            "DELETE FROM assertion_jti WHERE exp < ?1",
            [Utc::now().timestamp() - 60],
        )?;
        let n = conn.execute(
            "INSERT OR IGNORE INTO assertion_jti (client_id, jti, exp) VALUES (?1, ?2, ?3)",
            params![client_id, jti, exp],
        )?;
        Ok(n == 1)
    }

    /// A new secret for a client; the old one stops working at once.
    pub fn rotate_secret(&self, client_id: &str) -> Result<String, LabError> {
        let client = self
            .client(client_id)?
            .ok_or_else(|| LabError::NotFound(format!("no client '{client_id}'")))?;
        if client.revoked {
            return Err(LabError::Invalid(format!(
                "client '{client_id}' is revoked; create a new one"
            )));
        }
        let secret = new_secret();
        let (salt, hash) = hash_secret(&secret);
        self.conn.lock().execute(
            "UPDATE client SET salt = ?2, hash = ?3 WHERE client_id = ?1",
            params![client_id, salt, hash],
        )?;
        self.touch();
        Ok(secret)
    }

    pub fn revoke_client(&self, client_id: &str) -> Result<(), LabError> {
        let n = self.conn.lock().execute(
            "UPDATE client SET revoked = 1 WHERE client_id = ?1",
            [client_id],
        )?;
        self.touch();
        if n == 0 {
            return Err(LabError::NotFound(format!("no client '{client_id}'")));
        }
        Ok(())
    }

    pub fn client(&self, client_id: &str) -> Result<Option<Client>, LabError> {
        self.client_at(self.stamp()?, client_id)
    }

    fn client_at(&self, stamp: (i64, u64), client_id: &str) -> Result<Option<Client>, LabError> {
        if let Some(hit) = self.cached(stamp, |c| c.clients.get(client_id).cloned()) {
            return Ok(hit);
        }
        let fresh = self.client_with_hash(client_id)?.map(|(c, _, _)| c);
        self.remember(stamp, |c| {
            c.clients.insert(client_id.to_string(), fresh.clone());
        });
        Ok(fresh)
    }

    fn client_with_hash(
        &self,
        client_id: &str,
    ) -> Result<Option<(Client, String, String)>, LabError> {
        let conn = self.conn.lock();
        let row = conn
            .prepare_cached(
                "SELECT client_id, workspace, allowed_scopes, admin, revoked, created, salt, hash,
                        rate_limit
                 FROM client WHERE client_id = ?1",
            )?
            .query_row([client_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<f64>>(8)?,
                ))
            })
            .optional()?;
        row.map(
            |(client_id, workspace, allowed_scopes, admin, revoked, created, salt, hash, rate)| {
                Ok((
                    Client {
                        client_id,
                        workspace,
                        allowed_scopes,
                        admin,
                        revoked,
                        created: parse_time(&created)?,
                        rate_limit: rate,
                    },
                    salt,
                    hash,
                ))
            },
        )
        .transpose()
    }

    /// The clients of a workspace (or the administrators, with `None`).
    pub fn clients(&self, workspace: Option<&str>) -> Result<Vec<Client>, LabError> {
        let ids: Vec<String> = {
            let conn = self.conn.lock();
            let mut stmt = conn.prepare(
                "SELECT client_id FROM client WHERE workspace IS ?1 ORDER BY created, client_id",
            )?;
            let rows = stmt.query_map([workspace], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(c) = self.client(&id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The client whose id and secret these are, if not revoked. An unknown id costs the same
    /// hash as a known one.
    pub fn authenticate(&self, client_id: &str, secret: &str) -> Result<Option<Client>, LabError> {
        match self.client_with_hash(client_id)? {
            Some((client, salt, hash)) => {
                let ok = verify_secret(secret, &salt, &hash);
                Ok((ok && !client.revoked).then_some(client))
            }
            None => {
                let _ = verify_secret(secret, "0", "0");
                Ok(None)
            }
        }
    }
}

/// A rate must be a positive, finite number of requests per second.
fn check_quota(rate: Option<f64>) -> Result<(), LabError> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => Err(LabError::Invalid(format!(
            "a rate limit is a positive number of requests per second, not {r}"
        ))),
        _ => Ok(()),
    }
}

type RawWorkspace = (
    (String, String, String, String, String),
    Option<String>,
    String,
    String,
    Option<f64>,
    Option<i64>,
    Option<String>,
);

fn raw_workspace(r: &Row<'_>) -> rusqlite::Result<RawWorkspace> {
    Ok((
        (
            r.get("id")?,
            r.get("organisation")?,
            r.get("class")?,
            r.get("purpose")?,
            r.get("owner")?,
        ),
        r.get("expires")?,
        r.get("status")?,
        r.get("created")?,
        r.get("rate_limit")?,
        r.get("max_resources")?,
        r.get("template")?,
    ))
}

fn workspace_of(raw: RawWorkspace) -> Result<Workspace, LabError> {
    let ((id, organisation, class, purpose, owner), expires, status, created, rate, max, template) =
        raw;
    Ok(Workspace {
        id,
        organisation,
        class: class
            .parse()
            .map_err(|_| LabError::Corrupt(format!("service class '{class}'")))?,
        purpose,
        owner,
        expires: expires.as_deref().map(parse_time).transpose()?,
        status: WorkspaceStatus::parse(&status)?,
        created: parse_time(&created)?,
        rate_limit: rate,
        max_resources: max.map(|m| u64::try_from(m).unwrap_or(0)),
        template,
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, LabError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| LabError::Corrupt(format!("time '{s}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(id: &str, class: ServiceClass) -> NewWorkspace {
        NewWorkspace {
            id: Some(id.into()),
            organisation: "Universität des Saarlandes".into(),
            class,
            purpose: "testing".into(),
            owner: "owner@example.org".into(),
            expires: None,
            template: None,
        }
    }

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        let w = reg
            .create_workspace(ws("w1", ServiceClass::Sandbox))
            .unwrap();
        assert_eq!(w.partition().0, "ws-w1");
        assert!(reg
            .create_workspace(ws("w1", ServiceClass::Sandbox))
            .is_err());
        let (client, secret) = reg
            .create_client(Some("w1"), "system/Patient.rs", false)
            .unwrap();
        assert!(reg
            .authenticate(&client.client_id, &secret)
            .unwrap()
            .is_some());
        assert!(reg
            .authenticate(&client.client_id, "nope")
            .unwrap()
            .is_none());
        assert!(reg.authenticate("cc-unknown", &secret).unwrap().is_none());

        let new_secret = reg.rotate_secret(&client.client_id).unwrap();
        assert!(reg
            .authenticate(&client.client_id, &secret)
            .unwrap()
            .is_none());
        assert!(reg
            .authenticate(&client.client_id, &new_secret)
            .unwrap()
            .is_some());

        let s = reg.set_active("w1", false).unwrap();
        assert_eq!(s.status, WorkspaceStatus::Suspended);
        assert!(s.usable_at(Utc::now()).is_err());

        reg.delete_workspace("w1").unwrap();
        assert!(reg
            .authenticate(&client.client_id, &new_secret)
            .unwrap()
            .is_none());
        assert!(reg
            .create_workspace(ws("w1", ServiceClass::Sandbox))
            .is_err());
        assert!(reg.create_client(Some("w1"), "system/*.rs", false).is_err());
        assert!(reg.create_client(None, "", true).is_err());
    }

    #[test]
    fn templates_quotas_and_the_end_of_a_course() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        reg.create_workspace(ws("course", ServiceClass::Training))
            .unwrap();
        reg.create_workspace(ws("box", ServiceClass::Sandbox))
            .unwrap();
        let trainee = |id: &str, template: &str| NewWorkspace {
            template: Some(template.into()),
            ..ws(id, ServiceClass::Training)
        };
        let t1 = reg.create_workspace(trainee("t1", "course")).unwrap();
        assert_eq!(t1.template.as_deref(), Some("course"));
        reg.create_workspace(trainee("t2", "course")).unwrap();
        // A template is a training workspace without a template, for a training workspace.
        assert!(reg.create_workspace(trainee("t3", "t1")).is_err());
        assert!(reg.create_workspace(trainee("t4", "box")).is_err());
        assert!(reg.create_workspace(trainee("t5", "nope")).is_err());
        assert!(reg
            .create_workspace(NewWorkspace {
                template: Some("course".into()),
                ..ws("s1", ServiceClass::Sandbox)
            })
            .is_err());
        assert_eq!(reg.trainees("course").unwrap(), ["t1", "t2"]);

        let q = reg
            .set_workspace_quota(
                "t1",
                QuotaChange {
                    rate_limit: Some(Some(5.0)),
                    max_resources: Some(Some(10)),
                },
            )
            .unwrap();
        assert_eq!((q.rate_limit, q.max_resources), (Some(5.0), Some(10)));
        let q = reg
            .set_workspace_quota(
                "t1",
                QuotaChange {
                    rate_limit: Some(None),
                    max_resources: None,
                },
            )
            .unwrap();
        assert_eq!((q.rate_limit, q.max_resources), (None, Some(10)));
        let (c, secret) = reg.create_client(Some("t2"), "system/*.rs", false).unwrap();
        assert_eq!(
            reg.set_client_rate(&c.client_id, Some(2.5))
                .unwrap()
                .rate_limit,
            Some(2.5)
        );
        assert!(reg.set_client_rate(&c.client_id, Some(0.0)).is_err());
        assert!(reg.set_client_rate("cc-none", Some(1.0)).is_err());

        // Deleting the template ends the course: its trainees go with it.
        assert_eq!(
            reg.delete_workspace("course").unwrap(),
            ["course", "t1", "t2"]
        );
        assert!(reg.authenticate(&c.client_id, &secret).unwrap().is_none());
        assert_eq!(
            reg.workspace("t2").unwrap().unwrap().status,
            WorkspaceStatus::Deleted
        );
        assert_eq!(reg.delete_workspace("box").unwrap(), ["box"]);
    }

    #[test]
    fn the_cache_sees_writes_of_other_connections_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let server = Registry::open(dir.path()).unwrap();
        server
            .create_workspace(ws("w3", ServiceClass::Sandbox))
            .unwrap();
        let (c, _) = server
            .create_client(Some("w3"), "system/*.rs", false)
            .unwrap();
        assert!(!server.client(&c.client_id).unwrap().unwrap().revoked);
        assert!(server.workspace("w3").unwrap().is_some());
        // `crosscare admin` on the same folder: another connection.
        let admin = Registry::open(dir.path()).unwrap();
        admin.revoke_client(&c.client_id).unwrap();
        admin.set_active("w3", false).unwrap();
        assert!(server.client(&c.client_id).unwrap().unwrap().revoked);
        assert_eq!(
            server.workspace("w3").unwrap().unwrap().status,
            WorkspaceStatus::Suspended
        );
        // And its own writes.
        server.set_active("w3", true).unwrap();
        assert_eq!(
            server.workspace("w3").unwrap().unwrap().status,
            WorkspaceStatus::Active
        );
    }

    #[test]
    fn with_a_recheck_other_connections_writes_are_seen_within_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Registry::open(dir.path()).unwrap();
        server.set_recheck(SERVER_RECHECK);
        server
            .create_workspace(ws("w4", ServiceClass::Sandbox))
            .unwrap();
        let (c, _) = server
            .create_client(Some("w4"), "system/*.rs", false)
            .unwrap();
        assert!(!server.client(&c.client_id).unwrap().unwrap().revoked);
        let admin = Registry::open(dir.path()).unwrap();
        admin.revoke_client(&c.client_id).unwrap();
        // What `crosscare admin` waits before it returns.
        std::thread::sleep(SERVER_RECHECK);
        assert!(server.client(&c.client_id).unwrap().unwrap().revoked);
        // Its own writes are seen at once, whatever the recheck.
        server.set_active("w4", false).unwrap();
        assert_eq!(
            server.workspace("w4").unwrap().unwrap().status,
            WorkspaceStatus::Suspended
        );
    }

    #[test]
    fn older_databases_gain_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("lab.db")).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO workspace VALUES ('old', 'o', 'sandbox', 'p', 'w', NULL, 'active', \
                 '2026-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
        }
        let reg = Registry::open(dir.path()).unwrap();
        let old = reg.workspace("old").unwrap().unwrap();
        assert_eq!((old.rate_limit, old.template), (None, None));
    }

    #[test]
    fn secret_is_not_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        reg.create_workspace(ws("w2", ServiceClass::Integration))
            .unwrap();
        let (_, secret) = reg
            .create_client(Some("w2"), "system/*.cruds", false)
            .unwrap();
        drop(reg);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains(&secret));
        }
    }
}
