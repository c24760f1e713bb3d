//! TLS to the database: `sslmode=require` against a server without TLS fails in one line;
//! against a server with TLS the store's connections are encrypted; with `PGSSLROOTCERT` the
//! server certificate is verified (a certificate from another root is refused).
//!
//! One test function in its own binary, because it sets a process-wide environment variable.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store, StoreError};
use crosscare_store_postgres::{testing, PostgresStore, ROOT_CERT_ENV};
use serde_json::json;

/// Writes and reads one resource through a fresh store on `url`.
fn round_trip(url: &str) -> Result<PostgresStore, StoreError> {
    let store = PostgresStore::connect(url, 1)?;
    let part = PartitionId::default_partition();
    let mut tx = store.write_tx()?;
    tx.put(
        &part,
        json!({"resourceType": "Patient", "id": "t"}),
        Vec::new(),
    )?;
    tx.commit()?;
    let mut r = store.read_tx()?;
    assert!(r.read(&part, "Patient", "t")?.is_some());
    drop(r);
    Ok(store)
}

#[test]
fn sslmode_require_encrypts_and_a_root_certificate_authenticates_the_server() {
    let Some(cluster) = testing::dedicated_cluster() else {
        return;
    };
    cluster.psql("postgres", "CREATE DATABASE s").unwrap();
    let url = format!("{}?sslmode=require", cluster.url("s"));

    // No TLS on the server: refused at connect, in one line.
    let err = round_trip(&url).err().unwrap();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");

    let root = cluster.enable_tls().unwrap();
    let store = round_trip(&url).unwrap();
    // The pooled connection of the store (application_name crosscare) is encrypted.
    let encrypted = cluster
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.application_name = 'crosscare'",
        )
        .unwrap();
    assert_ne!(encrypted, "0", "no encrypted crosscare connection");
    drop(store);

    // Verified against the server's own (self-signed) certificate: accepted.
    std::env::set_var(ROOT_CERT_ENV, &root);
    round_trip(&url).unwrap();

    // Verified against an unrelated root: refused.
    let other = tempfile::tempdir().unwrap();
    let wrong = testing::self_signed_certificate(other.path(), "other").unwrap();
    std::env::set_var(ROOT_CERT_ENV, &wrong);
    let err = round_trip(&url).err().unwrap();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    std::env::remove_var(ROOT_CERT_ENV);
}
