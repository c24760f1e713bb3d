//! SQL conditions for one search value of each parameter type, over the columns of that type's
//! index table (`col` is the column prefix: `""` or `"k1."`).
//!
//! Every condition mirrors the reference semantics in `crosscare_search` (`matches` methods);
//! the conformance suite checks both agree on the shapes it covers.

use super::{Dialect, Sql};
use crate::{Result, StoreError};
use crosscare_search::param::date::ap_tolerance_micros;
use crosscare_search::param::reference::ReferencePredicate;
use crosscare_search::param::string::StringMode;
use crosscare_search::param::token::{TokenMatch, TokenPredicate};
use crosscare_search::param::uri::{UriMode, UriPredicate};
use crosscare_search::{Predicate, Prefix};
use unicode_normalization::UnicodeNormalization;

/// The index table holding values a predicate is matched against.
pub(crate) fn table_of(p: &Predicate) -> &'static str {
    match p {
        Predicate::Token(_) => "idx_token",
        Predicate::String(_) => "idx_string",
        Predicate::Date(_) => "idx_date",
        Predicate::Number(_) => "idx_number",
        Predicate::Quantity(_) => "idx_quantity",
        Predicate::Reference(_) => "idx_reference",
        Predicate::Uri(_) => "idx_uri",
        Predicate::Composite(_) => "idx_composite",
    }
}

/// The upper bound of a prefix range: every string starting with `prefix` sorts below it.
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Writes the condition of one (non-composite) predicate.
pub(crate) fn condition(d: &dyn Dialect, sql: &mut Sql, col: &str, p: &Predicate) -> Result<()> {
    let (ge, lt) = d.text_range_ops();
    match p {
        Predicate::Token(t) => token(d, sql, col, "system", "code", t),
        Predicate::String(s) => {
            match s.mode {
                StringMode::Prefix => {
                    sql.push(&format!("{col}norm {ge} "));
                    sql.bind(s.value.clone());
                    sql.push(&format!(" AND {col}norm {lt} "));
                    sql.bind(prefix_end(&s.value));
                }
                StringMode::Contains => {
                    sql.push(&format!("{}({col}norm, ", d.position_fn()));
                    sql.bind(s.value.clone());
                    sql.push(") > 0");
                }
                StringMode::Exact => {
                    // The folded form narrows the index range; the exact column decides.
                    sql.push(&format!("{col}norm = "));
                    sql.bind(crosscare_search::normalize::normalize(&s.value));
                    sql.push(&format!(" AND {col}exact = "));
                    sql.bind(s.value.nfc().collect::<String>());
                }
            }
            Ok(())
        }
        Predicate::Date(v) => {
            let (mut sl, mut sh) = (v.range.low_micros(), v.range.high_micros());
            if v.prefix == Prefix::Ap {
                let tol = ap_tolerance_micros(&v.range, chrono::Utc::now());
                sl = sl.saturating_sub(tol);
                sh = sh.saturating_add(tol);
            }
            range_compare(
                sql,
                &format!("{col}lo"),
                &format!("{col}hi"),
                d.hint(),
                v.prefix,
                &sl.to_string(),
                &sh.to_string(),
            );
            Ok(())
        }
        Predicate::Number(n) => {
            number(
                sql,
                &format!("{col}val"),
                n.prefix,
                n.number.value,
                n.number.low,
                n.number.high,
            );
            Ok(())
        }
        Predicate::Quantity(q) => {
            number(
                sql,
                &format!("{col}val"),
                q.prefix,
                q.number.value,
                q.number.low,
                q.number.high,
            );
            if let Some(system) = &q.system {
                sql.push(&format!(" AND {col}system = "));
                sql.bind(system.clone());
            }
            if let Some(code) = &q.code {
                if q.system.is_some() {
                    sql.push(&format!(" AND {col}code = "));
                    sql.bind(code.clone());
                } else {
                    sql.push(&format!(" AND ({col}code = "));
                    sql.bind(code.clone());
                    sql.push(&format!(" OR {col}unit = "));
                    sql.bind(code.clone());
                    sql.push(")");
                }
            }
            Ok(())
        }
        Predicate::Reference(r) => reference(d, sql, col, r),
        Predicate::Uri(u) => {
            uri(d, sql, &format!("{col}uri"), u);
            Ok(())
        }
        Predicate::Composite(_) => Err(StoreError::UnsupportedSearch(
            "a composite inside a composite".into(),
        )),
    }
}

/// Token matching over a `(system, code)` column pair (also used for `:identifier`).
pub(crate) fn token(
    d: &dyn Dialect,
    sql: &mut Sql,
    col: &str,
    system_col: &str,
    code_col: &str,
    t: &TokenPredicate,
) -> Result<()> {
    let (s, c) = (format!("{col}{system_col}"), format!("{col}{code_col}"));
    match &t.matcher {
        TokenMatch::Code(code) => {
            sql.push(&format!("{c} = "));
            sql.bind(code.clone());
        }
        TokenMatch::SystemCode { system, code } => {
            sql.push(&format!("{c} = "));
            sql.bind(code.clone());
            sql.push(&format!(" AND {s} = "));
            sql.bind(system.clone());
        }
        TokenMatch::NoSystem(code) => {
            sql.push(&format!("{c} = "));
            sql.bind(code.clone());
            sql.push(&format!(" AND {s} IS NULL"));
        }
        TokenMatch::System(system) => {
            sql.push(&format!("{s} = "));
            sql.bind(system.clone());
        }
        TokenMatch::Text(prefix) => {
            if code_col != "code" {
                return Err(StoreError::UnsupportedSearch(
                    ":text on a reference identifier".into(),
                ));
            }
            let (ge, lt) = d.text_range_ops();
            let text = d.token_text();
            sql.push(&format!("{col}{text} {ge} "));
            sql.bind(prefix.clone());
            sql.push(&format!(" AND {col}{text} {lt} "));
            sql.bind(prefix_end(prefix));
        }
        TokenMatch::OfType {
            system,
            code,
            value,
        } => {
            if code_col != "code" {
                return Err(StoreError::UnsupportedSearch(
                    ":of-type on a reference".into(),
                ));
            }
            sql.push(&format!("{c} = "));
            sql.bind(value.clone());
            sql.push(&format!(" AND {col}type_system = "));
            sql.bind(system.clone());
            sql.push(&format!(" AND {col}type_code = "));
            sql.bind(code.clone());
        }
        TokenMatch::AnyOf { codes, .. } => {
            if codes.is_empty() {
                sql.push(d.falsum());
            } else {
                sql.push("(");
                for (i, (system, code)) in codes.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.push(&format!("({c} = "));
                    sql.bind(code.clone());
                    sql.push(&format!(" AND {s} = "));
                    sql.bind(system.clone());
                    sql.push(")");
                }
                sql.push(")");
            }
        }
    }
    Ok(())
}

/// The spec's prefix semantics over a target range `[lo, hi]` and a search range `[sl, sh]`
/// (see `Prefix::compare_ranges`). `hint` is the dialect's planner hint, written on `hi` in
/// `eq` so that SQLite seeks the closed `lo` range rather than the half-open `hi` one.
pub(crate) fn range_compare(
    sql: &mut Sql,
    lo: &str,
    hi: &str,
    hint: &str,
    prefix: Prefix,
    sl: &str,
    sh: &str,
) {
    let contains = format!("({lo} >= {sl} AND {hi} <= {sh})");
    let text = match prefix {
        // `lo <= hi` always, so `lo <= sh` is implied; written out, it bounds the range scan
        // of the `lo` index on both sides instead of reading every later value. The redundant
        // bounds of `ge` and `le` do the same for the `hi` and `lo` indexes.
        Prefix::Eq => format!("({lo} >= {sl} AND {lo} <= {sh} AND {hint}{hi} <= {sh})"),
        Prefix::Ne => format!("NOT {contains}"),
        Prefix::Gt => format!("{hi} > {sh}"),
        Prefix::Lt => format!("{lo} < {sl}"),
        Prefix::Ge => format!("({hi} >= {sl} AND ({hi} > {sh} OR {contains}))"),
        Prefix::Le => format!("({lo} <= {sh} AND ({lo} < {sl} OR {contains}))"),
        Prefix::Sa => format!("{lo} > {sh}"),
        Prefix::Eb => format!("{hi} < {sl}"),
        Prefix::Ap => format!("({lo} <= {sh} AND {hi} >= {sl})"),
    };
    sql.push(&text);
}

/// Number semantics (`NumberPredicate::matches`) on the column `val`.
fn number(sql: &mut Sql, val: &str, prefix: Prefix, value: f64, low: f64, high: f64) {
    let f = |sql: &mut Sql, op: &str, x: f64| {
        sql.push(&format!("{val} {op} "));
        sql.bind(x);
    };
    match prefix {
        Prefix::Eq => {
            f(sql, ">=", low);
            sql.push(" AND ");
            f(sql, "<", high);
        }
        Prefix::Ne => {
            sql.push("NOT (");
            f(sql, ">=", low);
            sql.push(" AND ");
            f(sql, "<", high);
            sql.push(")");
        }
        Prefix::Gt | Prefix::Sa => f(sql, ">", value),
        Prefix::Lt | Prefix::Eb => f(sql, "<", value),
        Prefix::Ge => f(sql, ">=", value),
        Prefix::Le => f(sql, "<=", value),
        Prefix::Ap => {
            let tol = (value.abs() * 0.1).max((high - low) / 2.0);
            f(sql, ">=", value - tol);
            sql.push(" AND ");
            f(sql, "<=", value + tol);
        }
    }
}

fn reference(d: &dyn Dialect, sql: &mut Sql, col: &str, r: &ReferencePredicate) -> Result<()> {
    match r {
        ReferencePredicate::Local {
            resource_type,
            id,
            version,
        } => {
            sql.push(&format!("{col}tid = "));
            sql.bind(id.clone());
            if let Some(t) = resource_type {
                sql.push(&format!(" AND {col}ttype = "));
                sql.bind(t.clone());
                sql.push(&format!(" AND {col}url IS NULL"));
            } else {
                // Every local reference of the type has `url IS NULL`: without the hint SQLite
                // seeks `idx_reference_url` with it and walks them all instead of seeking the id.
                sql.push(&format!(" AND {}{col}url IS NULL", d.hint()));
            }
            if let Some(v) = version {
                sql.push(&format!(" AND {col}tversion = "));
                sql.bind(v.clone());
            }
        }
        ReferencePredicate::Url { url, version } => {
            sql.push(&format!("{col}url = "));
            sql.bind(url.clone());
            if let Some(v) = version {
                sql.push(&format!(" AND {col}tversion = "));
                sql.bind(v.clone());
            }
        }
        ReferencePredicate::Identifier(t) => token(d, sql, col, "idf_system", "idf_code", t)?,
    }
    Ok(())
}

/// The uris a value of `:above` may be indexed as: the value itself and every prefix ending
/// before a path boundary, each also with a trailing `/`.
fn above_candidates(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string(), format!("{value}/")];
    for (i, ch) in value.char_indices() {
        if i > 0 && matches!(ch, '/' | '|' | '#' | '?') {
            out.push(value[..i].to_string());
            out.push(format!("{}/", &value[..i]));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn uri(d: &dyn Dialect, sql: &mut Sql, c: &str, u: &UriPredicate) {
    let (ge, lt) = d.text_range_ops();
    match u.mode {
        UriMode::Exact => {
            sql.push(&format!("{c} = "));
            sql.bind(u.value.clone());
        }
        UriMode::Below => {
            let outer = u.value.trim_end_matches('/').to_string();
            sql.push(&format!("{c} {ge} "));
            sql.bind(outer.clone());
            sql.push(&format!(" AND {c} {lt} "));
            sql.bind(prefix_end(&outer));
            sql.push(&format!(" AND ({c} = "));
            sql.bind(outer.clone());
            sql.push(&format!(
                " OR substr({c}, {}, 1) IN ('/', '|', '#', '?'))",
                outer.chars().count() + 1
            ));
        }
        UriMode::Above => {
            sql.push(&format!("{c} IN ("));
            for (i, cand) in above_candidates(&u.value).into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(cand);
            }
            sql.push(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expected: &[&str]) {
        assert_eq!(above_candidates(value), expected);
    }

    #[test]
    fn above_candidates_stop_at_boundaries() {
        check(
            "http://a/b",
            &[
                "http:",
                "http:/",
                "http://",
                "http://a",
                "http://a/",
                "http://a/b",
                "http://a/b/",
            ],
        );
        check("urn:x", &["urn:x", "urn:x/"]);
    }
}
