//! The index tables and the rows of search index entries: each value goes to the table of its
//! type (`rows_by_table`); write transactions and `bulk_load` send them with `COPY`
//! (`copy.rs`).
//!
//! A composite entry (a tuple numbered `grp`, 1, 2, … per resource) becomes one row per
//! component in the component's own table, under the parameter code `<composite>$<position>`
//! and the same `grp` — the layout of the SQLite backend. `idx_composite` is no longer
//! written (`:missing` reads the first component's rows); it stays in the table list so that
//! rewriting a resource clears the rows older versions left there.

use crosscare_search::{IndexEntry, IndexValue};

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
/// `idx_composite`: cleared with the others, no longer written.
#[cfg(test)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(rows[COMPOSITE].grps.is_empty());
        assert_eq!(rows[URI].params, vec!["cv$0", "cv$0", "url"]);
        assert_eq!(rows[URI].grps, vec![1, 2, 0]);
    }
}
