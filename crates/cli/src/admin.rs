//! `crosscare admin …` and `crosscare audit verify`: the lab's administration on a data folder.
//! Secrets are printed once, on standard output, and stored only as salted hashes.

use anyhow::Context;
use crosscare_lab::model::ServiceClass;
use crosscare_lab::registry::NewWorkspace;
use crosscare_lab::Lab;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct DataArg {
    /// Data folder of the server (the lab keeps its files in its `lab/` sub-folder).
    #[arg(long, env = "CROSSCARE_DATA", default_value = "./crosscare-data")]
    pub data: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Workspaces: a partner's space under one service class.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Clients: the applications of a workspace, with their allowed scopes.
    #[command(subcommand)]
    Client(ClientCommand),
    /// The token signing key.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace (its partition is created on its first write).
    Create {
        #[command(flatten)]
        data: DataArg,
        /// Workspace id (lowercase letters, digits, '-'); random when omitted.
        #[arg(long)]
        id: Option<String>,
        /// The partner organisation.
        #[arg(long)]
        organisation: String,
        /// sandbox, training or integration.
        #[arg(long)]
        class: String,
        #[arg(long)]
        purpose: String,
        /// Who answers for the workspace.
        #[arg(long)]
        owner: String,
        /// Expiry: a date (2027-06-30, midnight UTC) or an RFC 3339 instant.
        #[arg(long)]
        expires: Option<String>,
        /// Training only: the course's template workspace (a training workspace), whose data
        /// `$reset` copies into this one; deleting the template deletes this workspace too.
        #[arg(long)]
        template: Option<String>,
    },
    /// Set a workspace's quotas ("default": back to the server's default).
    Quota {
        #[command(flatten)]
        data: DataArg,
        id: String,
        /// Requests per second for each of its clients.
        #[arg(long)]
        rate_limit: Option<String>,
        /// Most current resources in its partition (sandbox and training).
        #[arg(long)]
        max_resources: Option<String>,
    },
    /// List every workspace (one JSON object per line).
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Show one workspace and its clients.
    Show {
        #[command(flatten)]
        data: DataArg,
        id: String,
    },
    /// Suspend a workspace: its clients get no token and their tokens stop working at once.
    Suspend {
        #[command(flatten)]
        data: DataArg,
        id: String,
    },
    /// Reactivate a suspended workspace.
    Resume {
        #[command(flatten)]
        data: DataArg,
        id: String,
    },
    /// Delete a workspace: its clients are revoked; its id is never reused.
    Delete {
        #[command(flatten)]
        data: DataArg,
        id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Register a client of a workspace; prints its secret once.
    Create {
        #[command(flatten)]
        data: DataArg,
        /// The workspace the client belongs to.
        #[arg(long)]
        workspace: String,
        /// Allowed SMART v2 scopes, space-separated (`system/Patient.rs system/Observation.rs`).
        #[arg(long)]
        scope: String,
        /// SMART Backend Services: the client's public keys (a JWKS file, RS384/ES384); it
        /// then authenticates with signed assertions (private_key_jwt) and gets no secret.
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
    /// A new secret for a client (printed once); the old one stops working.
    Rotate {
        #[command(flatten)]
        data: DataArg,
        client_id: String,
    },
    /// Revoke a client: no new token, and its current tokens stop working at once.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        client_id: String,
    },
    /// Set a client's own rate limit in requests per second ("default": its workspace's).
    Quota {
        #[command(flatten)]
        data: DataArg,
        client_id: String,
        #[arg(long)]
        rate_limit: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Sign new tokens with a new key; the previous key still verifies until its tokens expire.
    Rotate {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain of the audit trail; names the first broken record.
    Verify {
        #[command(flatten)]
        data: DataArg,
    },
}

fn open(data: &DataArg) -> anyhow::Result<Lab> {
    Lab::open(&data.data).with_context(|| format!("opening the lab in {}", data.data.display()))
}

fn parse_expiry(s: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--expires '{s}' is neither a date (YYYY-MM-DD) nor RFC 3339"))?;
    Ok(date.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// A quota setting: a number, or "default" (`None`) to use the next level's.
fn parse_setting<T: std::str::FromStr>(name: &str, s: &str) -> anyhow::Result<Option<T>> {
    if s == "default" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("--{name} '{s}' is neither a number nor 'default'"))
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

pub fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Workspace(c) => enforced(workspace(c)),
        AdminCommand::Client(c) => enforced(client(c)),
        AdminCommand::Key(KeyCommand::Rotate { data }) => {
            let dir = crosscare_lab::lab_dir(&data.data);
            let kid = crosscare_lab::token::KeyRing::rotate(&dir).context("rotating the key")?;
            println!("New signing key {kid}; the previous key verifies tokens until they expire.");
            Ok(())
        }
    }
}

/// A running server looks for changes to `lab.db` at most every
/// [`crosscare_lab::registry::SERVER_RECHECK`]: waiting that long after a change means that
/// when the command returns (a revocation, a suspension, a quota), every server on the data
/// folder enforces it.
fn enforced(result: anyhow::Result<()>) -> anyhow::Result<()> {
    if result.is_ok() {
        std::thread::sleep(crosscare_lab::registry::SERVER_RECHECK);
    }
    result
}

fn workspace(command: WorkspaceCommand) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create {
            data,
            id,
            organisation,
            class,
            purpose,
            owner,
            expires,
            template,
        } => {
            let class: ServiceClass = class.parse()?;
            let expires = expires.as_deref().map(parse_expiry).transpose()?;
            let ws = open(&data)?.registry().create_workspace(NewWorkspace {
                id,
                organisation,
                class,
                purpose,
                owner,
                expires,
                template,
            })?;
            print_json(&ws.to_json());
        }
        WorkspaceCommand::Quota {
            data,
            id,
            rate_limit,
            max_resources,
        } => {
            let change = crosscare_lab::registry::QuotaChange {
                rate_limit: rate_limit
                    .as_deref()
                    .map(|s| parse_setting("rate-limit", s))
                    .transpose()?,
                max_resources: max_resources
                    .as_deref()
                    .map(|s| parse_setting("max-resources", s))
                    .transpose()?,
            };
            print_json(
                &open(&data)?
                    .registry()
                    .set_workspace_quota(&id, change)?
                    .to_json(),
            );
        }
        WorkspaceCommand::List { data } => {
            for ws in open(&data)?.registry().workspaces()? {
                print_json(&ws.to_json());
            }
        }
        WorkspaceCommand::Show { data, id } => {
            let lab = open(&data)?;
            let ws = lab
                .registry()
                .workspace(&id)?
                .with_context(|| format!("no workspace '{id}'"))?;
            let mut v = ws.to_json();
            v["clients"] = lab
                .registry()
                .clients(Some(&id))?
                .iter()
                .map(|c| c.to_json())
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        WorkspaceCommand::Suspend { data, id } => {
            print_json(&open(&data)?.registry().set_active(&id, false)?.to_json())
        }
        WorkspaceCommand::Resume { data, id } => {
            print_json(&open(&data)?.registry().set_active(&id, true)?.to_json())
        }
        WorkspaceCommand::Delete { data, id } => {
            let deleted = open(&data)?.registry().delete_workspace(&id)?;
            println!(
                "Workspace '{id}' deleted: its clients are revoked and its id will not be reused."
            );
            if deleted.len() > 1 {
                println!(
                    "Its trainee workspaces were deleted with it: {}.",
                    deleted[1..].join(", ")
                );
            }
        }
    }
    Ok(())
}

fn client(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create {
            data,
            workspace,
            scope,
            jwks: Some(jwks),
        } => {
            let text = std::fs::read_to_string(&jwks)
                .with_context(|| format!("reading {}", jwks.display()))?;
            let client = open(&data)?
                .registry()
                .create_jwks_client(&workspace, &scope, &text)?;
            print_json(&client.to_json());
        }
        ClientCommand::Create {
            data,
            workspace,
            scope,
            jwks: None,
        } => {
            let (client, secret) =
                open(&data)?
                    .registry()
                    .create_client(Some(&workspace), &scope, false)?;
            let mut v = client.to_json();
            v["client_secret"] = secret.into();
            print_json(&v);
            eprintln!("The secret is shown this once and is not stored; keep it now.");
        }
        ClientCommand::Rotate { data, client_id } => {
            let secret = open(&data)?.registry().rotate_secret(&client_id)?;
            print_json(&serde_json::json!({ "client_id": client_id, "client_secret": secret }));
            eprintln!(
                "The secret is shown this once and is not stored; the old one no longer works."
            );
        }
        ClientCommand::Revoke { data, client_id } => {
            open(&data)?.registry().revoke_client(&client_id)?;
            println!("Client '{client_id}' revoked; its tokens stop working at once.");
        }
        ClientCommand::Quota {
            data,
            client_id,
            rate_limit,
        } => {
            let rate = parse_setting("rate-limit", &rate_limit)?;
            print_json(
                &open(&data)?
                    .registry()
                    .set_client_rate(&client_id, rate)?
                    .to_json(),
            );
        }
    }
    Ok(())
}

pub fn audit(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { data } => {
            let dir = crosscare_lab::lab_dir(&data.data);
            match crosscare_lab::audit::verify(&dir)? {
                crosscare_lab::audit::Verification::Intact { records, last_hash } => {
                    println!("audit trail intact: {records} records, last hash {last_hash}");
                    Ok(())
                }
                crosscare_lab::audit::Verification::Broken { line, reason } => {
                    anyhow::bail!("audit trail broken at record {line}: {reason}")
                }
            }
        }
    }
}
