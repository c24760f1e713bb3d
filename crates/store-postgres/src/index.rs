//! Writing search index entries: the rows of one resource version go to the table of their
//! value type, one `INSERT … SELECT … FROM unnest(arrays)` per table, all of them (and the
//! deletion of the previous version's rows) in one statement — one round trip per write,
//! whatever the number of values.
//!
//! A composite entry becomes one `idx_composite` row numbered `grp` (1, 2, … per resource)
//! plus one row per component in the component's own table, under the parameter code
//! `<composite>$<position>` and the same `grp` — the layout of the SQLite backend.

use crate::error::store_error;
use crosscare_search::{IndexEntry, IndexValue};
use crosscare_store::{PartitionId, Result};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;

/// The parameter code under which component `i` of composite `param` is indexed.
pub(crate) fn component_param(param: &str, i: usize) -> String {
    format!("{param}${i}")
}

/// The SQL type of a value column.
#[derive(Clone, Copy)]
pub(crate) enum ColType {
    Text,
    BigInt,
    Float,
}

pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, ColType)],
}

pub(crate) use ColType::{BigInt, Float, Text};

const TOKEN: usize = 0;
const STRING: usize = 1;
const DATE: usize = 2;
const NUMBER: usize = 3;
const QUANTITY: usize = 4;
const REFERENCE: usize = 5;
const URI: usize = 6;
const COMPOSITE: usize = 7;

/// Every index table with its value columns (after `part, rtype, id, param, grp, cid`).
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "idx_token",
        columns: &[
            ("system", Text),
            ("code", Text),
            ("display", Text),
            ("type_system", Text),
            ("type_code", Text),
        ],
    },
    Table {
        name: "idx_string",
        columns: &[("norm", Text), ("exact", Text)],
    },
    Table {
        name: "idx_date",
        columns: &[("lo", BigInt), ("hi", BigInt)],
    },
    Table {
        name: "idx_number",
        columns: &[("val", Float), ("lo", Float), ("hi", Float)],
    },
    Table {
        name: "idx_quantity",
        columns: &[
            ("system", Text),
            ("code", Text),
            ("unit", Text),
            ("val", Float),
            ("lo", Float),
            ("hi", Float),
        ],
    },
    Table {
        name: "idx_reference",
        columns: &[
            ("ttype", Text),
            ("tid", Text),
            ("tversion", Text),
            ("url", Text),
            ("local", Text),
            ("idf_system", Text),
            ("idf_code", Text),
        ],
    },
    Table {
        name: "idx_uri",
        columns: &[("uri", Text)],
    },
    Table {
        name: "idx_composite",
        columns: &[],
    },
];

/// One value cell of an index row.
pub(crate) enum Cell {
    Text(Option<String>),
    BigInt(i64),
    Float(f64),
}

/// The rows headed for one table, as `(param, grp, cid, cells)`.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) params: Vec<String>,
    pub(crate) grps: Vec<i32>,
    pub(crate) cids: Vec<Option<String>>,
    pub(crate) cells: Vec<Vec<Cell>>,
}

impl Rows {
    fn push(&mut self, param: &str, grp: i32, cid: Option<&str>, cells: Vec<Cell>) {
        self.params.push(param.to_string());
        self.grps.push(grp);
        self.cids.push(cid.map(str::to_string));
        self.cells.push(cells);
    }
}

fn text(s: &Option<String>) -> Cell {
    Cell::Text(s.clone())
}

/// The table and cells of one non-composite value.
fn cells(value: &IndexValue) -> Option<(usize, Vec<Cell>)> {
    Some(match value {
        IndexValue::Token(t) => (
            TOKEN,
            vec![
                text(&t.system),
                text(&t.code),
                text(&t.text),
                text(&t.type_system),
                text(&t.type_code),
            ],
        ),
        IndexValue::String(s) => (
            STRING,
            vec![
                Cell::Text(Some(s.normalized.clone())),
                Cell::Text(Some(s.exact.clone())),
            ],
        ),
        IndexValue::Date(d) => (
            DATE,
            vec![Cell::BigInt(d.low_micros()), Cell::BigInt(d.high_micros())],
        ),
        IndexValue::Number(n) => (
            NUMBER,
            vec![
                Cell::Float(n.value),
                Cell::Float(n.low),
                Cell::Float(n.high),
            ],
        ),
        IndexValue::Quantity(q) => (
            QUANTITY,
            vec![
                text(&q.system),
                text(&q.code),
                text(&q.unit),
                Cell::Float(q.number.value),
                Cell::Float(q.number.low),
                Cell::Float(q.number.high),
            ],
        ),
        IndexValue::Reference(r) => {
            let (idf_system, idf_code) = r
                .identifier
                .as_ref()
                .map_or((None, None), |t| (t.system.clone(), t.code.clone()));
            (
                REFERENCE,
                vec![
                    text(&r.resource_type),
                    text(&r.id),
                    text(&r.version),
                    text(&r.url),
                    text(&r.contained),
                    Cell::Text(idf_system),
                    Cell::Text(idf_code),
                ],
            )
        }
        IndexValue::Uri(u) => (URI, vec![Cell::Text(Some(u.clone()))]),
        IndexValue::Composite(_) => return None,
    })
}

/// Groups the entries of one resource by table.
pub(crate) fn rows_by_table(entries: &[IndexEntry]) -> Vec<Rows> {
    let mut out: Vec<Rows> = TABLES.iter().map(|_| Rows::default()).collect();
    let mut grp = 0i32;
    for e in entries {
        let cid = e.contained.as_ref().map(|c| c.id.as_str());
        match &e.value {
            IndexValue::Composite(parts) => {
                grp += 1;
                out[COMPOSITE].push(&e.param, grp, cid, Vec::new());
                for (i, part) in parts.iter().enumerate() {
                    // Nested composites do not occur in R4; a component that is one is skipped.
                    if let Some((t, c)) = cells(part) {
                        out[t].push(&component_param(&e.param, i), grp, cid, c);
                    }
                }
            }
            v => {
                if let Some((t, c)) = cells(v) {
                    out[t].push(&e.param, 0, cid, c);
                }
            }
        }
    }
    out
}

/// The `INSERT … SELECT FROM unnest(…)` of one table, its arrays numbered from `$first`
/// (`$1`–`$3` are the resource key).
fn insert_sql(table: &Table, first: usize) -> String {
    let mut cols = vec!["part", "rtype", "id", "param", "grp", "cid"];
    let mut arrays = vec![
        format!("${first}::text[]"),
        format!("${}::int4[]", first + 1),
        format!("${}::text[]", first + 2),
    ];
    for (i, (name, ty)) in table.columns.iter().enumerate() {
        cols.push(name);
        let ty = match ty {
            Text => "text[]",
            BigInt => "int8[]",
            Float => "float8[]",
        };
        arrays.push(format!("${}::{ty}", first + 3 + i));
    }
    format!(
        "INSERT INTO {} ({}) SELECT $1, $2, $3, u.* FROM unnest({}) AS u",
        table.name,
        cols.join(", "),
        arrays.join(", ")
    )
}

/// Column `j` of `rows` as one typed array parameter.
fn column(rows: &Rows, j: usize, ty: ColType) -> Box<dyn ToSql + Sync + Send> {
    match ty {
        Text => Box::new(
            rows.cells
                .iter()
                .map(|r| match r.get(j) {
                    Some(Cell::Text(s)) => s.clone(),
                    _ => None,
                })
                .collect::<Vec<Option<String>>>(),
        ),
        BigInt => Box::new(
            rows.cells
                .iter()
                .map(|r| match r.get(j) {
                    Some(Cell::BigInt(v)) => *v,
                    _ => 0,
                })
                .collect::<Vec<i64>>(),
        ),
        Float => Box::new(
            rows.cells
                .iter()
                .map(|r| match r.get(j) {
                    Some(Cell::Float(v)) => *v,
                    _ => 0.0,
                })
                .collect::<Vec<f64>>(),
        ),
    }
}

/// The single statement that replaces a resource's index rows: a `DELETE` per table (when
/// `clear`) and an `INSERT … unnest` per table with values, as data-modifying CTEs. They all
/// run on the statement's snapshot, so the deletes see only the old rows and never the new
/// ones. Returns `None` when there is nothing to do.
fn replace_sql(rows: &[Rows], clear: bool) -> Option<String> {
    let mut ctes = Vec::new();
    if clear {
        for t in TABLES {
            ctes.push(format!(
                "d_{0} AS (DELETE FROM {0} WHERE part = $1 AND rtype = $2 AND id = $3)",
                t.name
            ));
        }
    }
    let mut next = 4;
    for (table, r) in TABLES.iter().zip(rows) {
        if r.params.is_empty() {
            continue;
        }
        ctes.push(format!("i_{} AS ({})", table.name, insert_sql(table, next)));
        next += 3 + table.columns.len();
    }
    (!ctes.is_empty()).then(|| format!("WITH {} SELECT 1", ctes.join(", ")))
}

/// Replaces the index rows of one resource (removing the old ones when `clear`) by those of
/// `entries`, in one statement.
pub(crate) async fn replace(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
    entries: &[IndexEntry],
    clear: bool,
) -> Result<()> {
    let rows = rows_by_table(entries);
    let Some(sql) = replace_sql(&rows, clear) else {
        return Ok(());
    };
    let mut arrays: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    for (table, r) in TABLES.iter().zip(&rows) {
        if r.params.is_empty() {
            continue;
        }
        arrays.push(Box::new(r.params.clone()));
        arrays.push(Box::new(r.grps.clone()));
        arrays.push(Box::new(r.cids.clone()));
        for (j, (_, ty)) in table.columns.iter().enumerate() {
            arrays.push(column(r, j, *ty));
        }
    }
    let stmt = client.prepare_cached(&sql).await.map_err(store_error)?;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&partition.0, &resource_type, &id];
    params.extend(arrays.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)));
    client.execute(&stmt, &params).await.map_err(store_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_statement_shape() {
        assert_eq!(
            insert_sql(&TABLES[URI], 4),
            "INSERT INTO idx_uri (part, rtype, id, param, grp, cid, uri) SELECT $1, $2, $3, u.* \
             FROM unnest($4::text[], $5::int4[], $6::text[], $7::text[]) AS u"
        );
    }

    #[test]
    fn replace_statement_numbers_arrays_per_table() {
        let entries = vec![
            IndexEntry::new("url", IndexValue::Uri("a".into())),
            IndexEntry::new("cv", IndexValue::Composite(vec![])),
        ];
        let sql = replace_sql(&rows_by_table(&entries), true).unwrap();
        assert!(sql.starts_with("WITH d_idx_token AS (DELETE FROM idx_token WHERE part = $1"));
        assert!(sql.contains("i_idx_uri AS (INSERT INTO idx_uri"));
        assert!(sql.contains("unnest($4::text[], $5::int4[], $6::text[], $7::text[])"));
        assert!(sql.contains("i_idx_composite AS (INSERT INTO idx_composite (part, rtype, id, param, grp, cid) SELECT $1, $2, $3, u.* FROM unnest($8::text[], $9::int4[], $10::text[])"));
        assert!(sql.ends_with("SELECT 1"));
        assert_eq!(replace_sql(&rows_by_table(&[]), false), None);
    }

    #[test]
    fn composites_number_their_tuples() {
        let entries = vec![
            IndexEntry::new(
                "cv",
                IndexValue::Composite(vec![IndexValue::Uri("a".into())]),
            ),
            IndexEntry::new(
                "cv",
                IndexValue::Composite(vec![IndexValue::Uri("b".into())]),
            ),
            IndexEntry::new("url", IndexValue::Uri("c".into())),
        ];
        let rows = rows_by_table(&entries);
        assert_eq!(rows[COMPOSITE].grps, vec![1, 2]);
        assert_eq!(rows[URI].params, vec!["cv$0", "cv$0", "url"]);
        assert_eq!(rows[URI].grps, vec![1, 2, 0]);
    }
}
