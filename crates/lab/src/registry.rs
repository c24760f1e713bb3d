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
use std::path::Path;

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
}

pub struct Registry {
    conn: Mutex<Connection>,
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
        Ok(Registry {
            conn: Mutex::new(conn),
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
        let ws = Workspace {
            id,
            organisation: new.organisation,
            class: new.class,
            purpose: new.purpose,
            owner: new.owner,
            expires: new.expires,
            status: WorkspaceStatus::Active,
            created: Utc::now(),
        };
        let conn = self.conn.lock();
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO workspace (id, organisation, class, purpose, owner, expires, status, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                ws.id,
                ws.organisation,
                ws.class.as_str(),
                ws.purpose,
                ws.owner,
                ws.expires.map(|e| e.to_rfc3339()),
                ws.status.as_str(),
                ws.created.to_rfc3339(),
            ],
        )?;
        if inserted == 0 {
            return Err(LabError::Invalid(format!(
                "workspace '{}' exists or existed (ids are never reused)",
                ws.id
            )));
        }
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
        let conn = self.conn.lock();
        let raw = conn
            .query_row("SELECT * FROM workspace WHERE id = ?1", [id], raw_workspace)
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
        self.existing(id)
    }

    /// Marks the workspace deleted (a tombstone: its id is never reused) and revokes its clients.
    pub fn delete_workspace(&self, id: &str) -> Result<(), LabError> {
        self.existing(id)?;
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE workspace SET status = 'deleted' WHERE id = ?1",
            [id],
        )?;
        tx.execute("UPDATE client SET revoked = 1 WHERE workspace = ?1", [id])?;
        tx.commit()?;
        Ok(())
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
        Ok(secret)
    }

    pub fn revoke_client(&self, client_id: &str) -> Result<(), LabError> {
        let n = self.conn.lock().execute(
            "UPDATE client SET revoked = 1 WHERE client_id = ?1",
            [client_id],
        )?;
        if n == 0 {
            return Err(LabError::NotFound(format!("no client '{client_id}'")));
        }
        Ok(())
    }

    pub fn client(&self, client_id: &str) -> Result<Option<Client>, LabError> {
        Ok(self.client_with_hash(client_id)?.map(|(c, _, _)| c))
    }

    fn client_with_hash(
        &self,
        client_id: &str,
    ) -> Result<Option<(Client, String, String)>, LabError> {
        let conn = self.conn.lock();
        let row = conn
            .query_row(
                "SELECT client_id, workspace, allowed_scopes, admin, revoked, created, salt, hash
                 FROM client WHERE client_id = ?1",
                [client_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, bool>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                },
            )
            .optional()?;
        row.map(
            |(client_id, workspace, allowed_scopes, admin, revoked, created, salt, hash)| {
                Ok((
                    Client {
                        client_id,
                        workspace,
                        allowed_scopes,
                        admin,
                        revoked,
                        created: parse_time(&created)?,
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

type RawWorkspace = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn raw_workspace(r: &Row<'_>) -> rusqlite::Result<RawWorkspace> {
    Ok((
        r.get("id")?,
        r.get("organisation")?,
        r.get("class")?,
        r.get("purpose")?,
        r.get("owner")?,
        r.get("expires")?,
        r.get("status")?,
        r.get("created")?,
    ))
}

fn workspace_of(raw: RawWorkspace) -> Result<Workspace, LabError> {
    let (id, organisation, class, purpose, owner, expires, status, created) = raw;
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
