//! Row generation: a compiled view run over one resource, following the SQL-on-FHIR v2
//! processing model (foci per select, columns, cartesian product of nested selects, `unionAll`
//! concatenation, `forEachOrNull` null rows, `repeat` pre-order traversal, `%rowIndex`).

use std::borrow::Cow;

use crosscare_fhirpath::{EvalContext, Item};
use serde_json::Value;

use crate::view::path::ViewPath;
use crate::view::plan::{ColumnPlan, Iteration, SelectPlan, ViewPlan};
use crate::ViewError;

/// One output row: a value per column of [`ViewPlan::columns`], `Null` when absent, an array
/// for `collection` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub values: Vec<Value>,
}

/// The node paths are evaluated on.
struct Focus<'f> {
    value: &'f Value,
    /// The FHIR type or inline element path of the node; `None` for the resource itself.
    context_type: Option<Cow<'f, str>>,
    row_index: i64,
    /// The resource being viewed, `%resource` for paths on nested nodes.
    resource: &'f Value,
}

/// Partial rows produced by one select: each holds `width` values.
type Fragments = Vec<Vec<Value>>;

impl ViewPlan {
    /// True when the resource has the view's resource type.
    pub fn applies_to(&self, resource: &Value) -> bool {
        resource.get("resourceType").and_then(Value::as_str) == Some(self.resource.as_str())
    }

    /// The rows a resource produces; none when it is of another type or fails a `where`.
    pub fn rows(&self, resource: &Value) -> Result<Vec<Row>, ViewError> {
        let mut out = Vec::new();
        self.for_each_row(resource, &mut |row| {
            out.push(row);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `sink` for every row the resource produces, in the order the spec defines.
    /// Returns whether the resource matched (right type, every `where` true).
    pub fn for_each_row(
        &self,
        resource: &Value,
        sink: &mut dyn FnMut(Row) -> Result<(), ViewError>,
    ) -> Result<bool, ViewError> {
        if !self.applies_to(resource) {
            return Ok(false);
        }
        let focus = Focus {
            value: resource,
            context_type: None,
            row_index: 0,
            resource,
        };
        for w in &self.wheres {
            let items = evaluate(w, &focus)?;
            match items.as_slice() {
                [] => return Ok(false),
                [one] => match one.as_bool() {
                    Some(true) => {}
                    Some(false) => return Ok(false),
                    None => return Err(path_error(w, "a where path must evaluate to a boolean")),
                },
                many => {
                    return Err(path_error(
                        w,
                        &format!(
                            "a where path must evaluate to one boolean, got {} items",
                            many.len()
                        ),
                    ))
                }
            }
        }
        for values in process(&self.root, &focus)? {
            sink(Row { values })?;
        }
        Ok(true)
    }
}

fn path_error(path: &ViewPath, message: &str) -> ViewError {
    ViewError::Evaluation {
        path: path.source.clone(),
        message: message.to_string(),
    }
}

fn evaluate<'f>(path: &ViewPath, focus: &Focus<'f>) -> Result<Vec<Item<'f>>, ViewError> {
    let mut ctx = EvalContext::new(focus.value);
    if let Some(t) = &focus.context_type {
        ctx = ctx.with_context_type(t).with_resource(focus.resource);
    }
    if path.uses_row_index {
        ctx = ctx.with_variable("rowIndex", vec![Item::Integer(focus.row_index)]);
    }
    path.expression
        .evaluate_with(&ctx)
        .map_err(|e| path_error(path, &e.to_string()))
}

/// The JSON of one item: the input node, or the System value; a primitive that carries only
/// extensions has no value and gives `Null`.
fn item_value(item: &Item<'_>) -> Value {
    match item {
        Item::Node(_) if item.json().is_none() => Value::Null,
        _ => item.to_json(),
    }
}

fn process(select: &SelectPlan, focus: &Focus<'_>) -> Result<Fragments, ViewError> {
    match &select.iteration {
        Iteration::Parent => process_focus(select, focus),
        Iteration::ForEach(path) | Iteration::ForEachOrNull(path) => {
            let items = evaluate(path, focus)?;
            if items.is_empty() {
                if !matches!(select.iteration, Iteration::ForEachOrNull(_)) {
                    return Ok(Vec::new());
                }
                // The null row: paths see an empty focus (so `%rowIndex` is 0 and member
                // paths are null); if nested iterations still produce nothing, the row is all
                // nulls, because forEachOrNull always yields a row.
                let null = Focus {
                    value: &Value::Null,
                    context_type: None,
                    row_index: 0,
                    resource: focus.resource,
                };
                let rows = process_focus(select, &null)?;
                return Ok(if rows.is_empty() {
                    vec![vec![Value::Null; select.width]]
                } else {
                    rows
                });
            }
            let owned: Vec<Option<Value>> = items
                .iter()
                .map(|i| i.json().is_none().then(|| i.to_json()))
                .collect();
            let mut out = Vec::new();
            for (index, (item, own)) in items.iter().zip(&owned).enumerate() {
                let Some(value) = item.json().or(own.as_ref()) else {
                    continue;
                };
                let child = Focus {
                    value,
                    context_type: context_type(item, path, focus),
                    row_index: i64::try_from(index).unwrap_or(i64::MAX),
                    resource: focus.resource,
                };
                out.extend(process_focus(select, &child)?);
            }
            Ok(out)
        }
        Iteration::Repeat(paths) => {
            let mut out = Vec::new();
            let mut index = 0i64;
            repeat(select, paths, focus, &mut index, &mut out)?;
            Ok(out)
        }
    }
}

/// Visits the nodes the repeat paths reach from `node`: each child is a focus, then its own
/// children follow before its next sibling. Depth is bounded by the JSON nesting limit.
fn repeat(
    select: &SelectPlan,
    paths: &[ViewPath],
    node: &Focus<'_>,
    index: &mut i64,
    out: &mut Fragments,
) -> Result<(), ViewError> {
    let mut children = Vec::new();
    for path in paths {
        for item in evaluate(path, node)? {
            children.push((item, path));
        }
    }
    for (item, path) in &children {
        let Some(value) = item.json() else { continue };
        let child = Focus {
            value,
            context_type: context_type(item, path, node),
            row_index: *index,
            resource: node.resource,
        };
        *index += 1;
        out.extend(process_focus(select, &child)?);
        repeat(select, paths, &child, index, out)?;
    }
    Ok(())
}

/// The type to evaluate nested paths with: the node's own type, or for inline structures
/// (BackboneElement) the element path inferred statically from the path that produced it.
fn context_type<'i>(
    item: &'i Item<'_>,
    path: &ViewPath,
    parent: &Focus<'_>,
) -> Option<Cow<'i, str>> {
    match item.fhir_type() {
        Some("BackboneElement" | "Element") | None => path
            .result_type(
                parent
                    .context_type
                    .as_deref()
                    .or_else(|| parent.value.get("resourceType").and_then(Value::as_str)),
            )
            .map(Cow::Owned),
        Some(t) => Some(Cow::Borrowed(t)),
    }
}

fn process_focus(select: &SelectPlan, focus: &Focus<'_>) -> Result<Fragments, ViewError> {
    let mut first = Vec::with_capacity(select.width);
    for column in &select.columns {
        if let Some(steps) = &column.path.fast {
            if let Some(found) = column.path.fast_values(steps, focus.value) {
                first.push(fast_value(column, found)?);
                continue;
            }
        }
        let items = evaluate(&column.path, focus)?;
        let value = if column.collection {
            Value::Array(items.iter().map(item_value).collect())
        } else {
            match items.as_slice() {
                [] => Value::Null,
                [one] => item_value(one),
                many => {
                    return Err(ViewError::Evaluation {
                        path: column.path.source.clone(),
                        message: format!(
                            "column {:?} returned {} values; declare it with \"collection\": true",
                            column.name,
                            many.len()
                        ),
                    })
                }
            }
        };
        first.push(value);
    }
    let mut acc: Fragments = vec![first];
    for child in &select.selects {
        let parts = process(child, focus)?;
        acc = product(acc, &parts);
        if acc.is_empty() {
            return Ok(acc);
        }
    }
    if !select.union_all.is_empty() {
        let mut parts = Vec::new();
        for branch in &select.union_all {
            parts.extend(process(branch, focus)?);
        }
        acc = product(acc, &parts);
    }
    Ok(acc)
}

/// A column value from the direct JSON walk, with the same cardinality rules as the engine path.
fn fast_value(column: &ColumnPlan, found: Vec<&Value>) -> Result<Value, ViewError> {
    if column.collection {
        return Ok(Value::Array(found.into_iter().cloned().collect()));
    }
    match found.as_slice() {
        [] => Ok(Value::Null),
        [one] => Ok((*one).clone()),
        many => Err(ViewError::Evaluation {
            path: column.path.source.clone(),
            message: format!(
                "column {:?} returned {} values; declare it with \"collection\": true",
                column.name,
                many.len()
            ),
        }),
    }
}

/// Every left fragment followed by every right fragment.
fn product(left: Fragments, right: &Fragments) -> Fragments {
    if right.len() == 1 {
        let mut left = left;
        for l in &mut left {
            l.extend(right[0].iter().cloned());
        }
        return left;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in &left {
        for r in right {
            let mut row = Vec::with_capacity(l.len() + r.len());
            row.extend(l.iter().cloned());
            row.extend(r.iter().cloned());
            out.push(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Runs `select` (the view's select array) over `resource` and compares the rows.
    fn check(select: Value, resource: Value, expected: Result<Value, &str>) {
        let view = json!({"resource": resource["resourceType"], "select": select});
        let result = ViewPlan::compile(&view).and_then(|plan| plan.rows(&resource));
        match (result, expected) {
            (Ok(rows), Ok(want)) => {
                let got: Vec<Value> = rows.into_iter().map(|r| Value::Array(r.values)).collect();
                assert_eq!(Value::Array(got), want);
            }
            (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
            (r, e) => panic!("{r:?} vs {e:?}"),
        }
    }

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "p1",
            "name": [{"family": "A", "given": ["x", "y"]}, {"family": "B"}],
            "contact": [{"gender": "male", "telecom": [{"value": "1"}, {"value": "2"}]}]})
    }

    #[test]
    fn for_each_and_product() {
        check(
            json!([{"column": [{"name": "id", "path": "id"}]},
                   {"forEach": "name", "column": [{"name": "f", "path": "family"}, {"name": "r", "path": "%resource.id"}]}]),
            patient(),
            Ok(json!([["p1", "A", "p1"], ["p1", "B", "p1"]])),
        );
    }

    #[test]
    fn for_each_or_null_yields_a_null_row() {
        check(
            json!([{"column": [{"name": "id", "path": "id"}]},
                   {"forEachOrNull": "address", "column": [{"name": "city", "path": "city"}, {"name": "i", "path": "%rowIndex"}]}]),
            patient(),
            Ok(json!([["p1", null, 0]])),
        );
        check(
            json!([{"column": [{"name": "id", "path": "id"}]},
                   {"forEach": "address", "column": [{"name": "city", "path": "city"}]}]),
            patient(),
            Ok(json!([])),
        );
    }

    #[test]
    fn backbone_elements_are_typed() {
        check(
            json!([{"forEach": "contact", "column": [{"name": "g", "path": "gender"}],
                    "select": [{"forEach": "telecom", "column": [{"name": "v", "path": "value"}, {"name": "i", "path": "%rowIndex"}]}]}]),
            patient(),
            Ok(json!([["male", "1", 0], ["male", "2", 1]])),
        );
    }

    #[test]
    fn union_all_concatenates() {
        check(
            json!([{"unionAll": [{"forEach": "name", "column": [{"name": "v", "path": "family"}]},
                                 {"forEach": "name.given", "column": [{"name": "v", "path": "$this"}]}]}]),
            patient(),
            Ok(json!([["A"], ["B"], ["x"], ["y"]])),
        );
    }

    #[test]
    fn repeat_is_pre_order() {
        let qr = json!({"resourceType": "QuestionnaireResponse", "status": "completed", "item": [
            {"linkId": "1", "item": [{"linkId": "1.1"}], "answer": [{"item": [{"linkId": "1.a"}]}]},
            {"linkId": "2"}]});
        check(
            json!([{"repeat": ["item", "answer.item"], "column": [{"name": "l", "path": "linkId"}, {"name": "i", "path": "%rowIndex"}]}]),
            qr,
            Ok(json!([["1", 0], ["1.1", 1], ["1.a", 2], ["2", 3]])),
        );
    }

    #[test]
    fn collections_and_cardinality() {
        check(
            json!([{"column": [{"name": "g", "path": "name.given", "collection": true}]}]),
            patient(),
            Ok(json!([[["x", "y"]]])),
        );
        check(
            json!([{"column": [{"name": "g", "path": "name.family"}]}]),
            patient(),
            Err("collection"),
        );
    }

    #[test]
    fn where_filters_and_types() {
        let view = |w: &str| json!({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}], "where": [{"path": w}]});
        let rows = |w: &str| ViewPlan::compile(&view(w)).and_then(|p| p.rows(&patient()));
        assert_eq!(rows("name.exists()").unwrap().len(), 1);
        assert_eq!(rows("active").unwrap().len(), 0);
        assert!(rows("name.family.first()").is_err());
        let other = json!({"resourceType": "Observation", "id": "o"});
        assert!(ViewPlan::compile(&view("true"))
            .unwrap()
            .rows(&other)
            .unwrap()
            .is_empty());
    }
}
