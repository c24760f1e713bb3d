//! Writing search index entries: one row per [`IndexEntry`] in the table of its value type,
//! replaced whenever the resource gets a new version and removed on delete.
//!
//! A composite entry (a tuple numbered `grp`, 1, 2, … per resource) becomes one row per
//! component in the component's own table, under the parameter code `<composite>$<position>`
//! and the same `grp`, so a composite search is a join on `(rid, grp)` of ordinary component
//! predicates, and `:missing` looks for the first component's rows. The `idx_composite`
//! table, which held one more row per tuple, is no longer written (rows of older versions
//! stay until their resource is written again; nothing reads them).

use super::engine;
use super::schema::INDEX_TABLES;
use crate::search_sql::component_param;
use crate::Result;
use crosscare_search::{IndexEntry, IndexValue};
use rusqlite::{params, Connection};

/// Deletes every index row of a resource.
pub(crate) fn clear(conn: &Connection, rid: i64) -> Result<()> {
    for table in INDEX_TABLES {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE rid = ?1"))
            .map_err(engine)?
            .execute([rid])
            .map_err(engine)?;
    }
    Ok(())
}

/// Where the rows of one resource go.
struct Target<'a> {
    conn: &'a Connection,
    rid: i64,
    pid: i64,
    rtype: &'a str,
}

/// Inserts the index rows of one resource version.
pub(crate) fn insert(
    conn: &Connection,
    rid: i64,
    pid: i64,
    rtype: &str,
    entries: &[IndexEntry],
) -> Result<()> {
    let t = Target {
        conn,
        rid,
        pid,
        rtype,
    };
    let mut grp = 0i64;
    for e in entries {
        // `_id` and `_lastUpdated` are answered from the resource row, which knows the
        // timestamp this transaction assigns (the extracted entry cannot).
        if crate::search_sql::on_resource_row(&e.param) {
            continue;
        }
        let cid = e.contained.as_ref().map(|c| c.id.as_str());
        match &e.value {
            IndexValue::Composite(parts) => {
                grp += 1;
                for (i, part) in parts.iter().enumerate() {
                    // Nested composites do not occur in R4; a component that is one is skipped.
                    if !matches!(part, IndexValue::Composite(_)) {
                        t.value(&component_param(&e.param, i), grp, cid, part)?;
                    }
                }
            }
            v => t.value(&e.param, 0, cid, v)?,
        }
    }
    Ok(())
}

impl Target<'_> {
    fn value(&self, param: &str, grp: i64, cid: Option<&str>, value: &IndexValue) -> Result<()> {
        let (rid, pid, rtype) = (self.rid, self.pid, self.rtype);
        let n = match value {
            IndexValue::Token(t) => self
                .conn
                .prepare_cached(
                    "INSERT INTO idx_token (rid, pid, rtype, param, grp, cid, system, code, text, \
                     type_system, type_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(engine)?
                .execute(params![
                    rid,
                    pid,
                    rtype,
                    param,
                    grp,
                    cid,
                    t.system,
                    t.code,
                    t.text,
                    t.type_system,
                    t.type_code
                ]),
            IndexValue::String(s) => self
                .conn
                .prepare_cached(
                    "INSERT INTO idx_string (rid, pid, rtype, param, grp, cid, norm, exact) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(engine)?
                .execute(params![
                    rid,
                    pid,
                    rtype,
                    param,
                    grp,
                    cid,
                    s.normalized,
                    s.exact
                ]),
            IndexValue::Date(d) => self
                .conn
                .prepare_cached(
                    "INSERT INTO idx_date (rid, pid, rtype, param, grp, cid, lo, hi) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(engine)?
                .execute(params![
                    rid,
                    pid,
                    rtype,
                    param,
                    grp,
                    cid,
                    d.low_micros(),
                    d.high_micros()
                ]),
            IndexValue::Number(n) => self
                .conn
                .prepare_cached(
                    "INSERT INTO idx_number (rid, pid, rtype, param, grp, cid, val, lo, hi) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(engine)?
                .execute(params![
                    rid, pid, rtype, param, grp, cid, n.value, n.low, n.high
                ]),
            IndexValue::Quantity(q) => self
                .conn
                .prepare_cached(
                    "INSERT INTO idx_quantity (rid, pid, rtype, param, grp, cid, system, code, \
                     unit, val, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(engine)?
                .execute(params![
                    rid,
                    pid,
                    rtype,
                    param,
                    grp,
                    cid,
                    q.system,
                    q.code,
                    q.unit,
                    q.number.value,
                    q.number.low,
                    q.number.high
                ]),
            IndexValue::Reference(r) => {
                let (idf_system, idf_code) = r
                    .identifier
                    .as_ref()
                    .map_or((None, None), |t| (t.system.clone(), t.code.clone()));
                self.conn
                    .prepare_cached(
                        "INSERT INTO idx_reference (rid, pid, rtype, param, grp, cid, ttype, tid, \
                         tversion, url, local, idf_system, idf_code) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    )
                    .map_err(engine)?
                    .execute(params![
                        rid,
                        pid,
                        rtype,
                        param,
                        grp,
                        cid,
                        r.resource_type,
                        r.id,
                        r.version,
                        r.url,
                        r.contained,
                        idf_system,
                        idf_code
                    ])
            }
            IndexValue::Uri(u) => self
                .conn
                .prepare_cached(
                    "INSERT INTO idx_uri (rid, pid, rtype, param, grp, cid, uri) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(engine)?
                .execute(params![rid, pid, rtype, param, grp, cid, u]),
            IndexValue::Composite(_) => Ok(0),
        };
        n.map_err(engine)?;
        Ok(())
    }
}
