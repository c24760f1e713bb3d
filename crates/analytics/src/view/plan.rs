//! A ViewDefinition compiled once into a plan: paths compiled, column list fixed in output
//! order, and the cross-cutting rules checked (unique names, matching `unionAll` branches,
//! boolean `where` paths).

use serde_json::Value;

use crate::view::definition::{ColumnDef, SelectDef, ViewDefinition};
use crate::view::path::ViewPath;
use crate::ViewError;

/// One output column, in the order rows carry their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    /// The declared FHIR type (`column.type`), when the view gives one.
    pub fhir_type: Option<String>,
    /// True when the column holds an array of values (`column.collection`).
    pub collection: bool,
    pub description: Option<String>,
}

/// How a select chooses its focus nodes.
#[derive(Debug, Clone)]
pub(crate) enum Iteration {
    /// The parent's focus.
    Parent,
    ForEach(ViewPath),
    ForEachOrNull(ViewPath),
    /// Every node reached by following the paths recursively, in pre-order.
    Repeat(Vec<ViewPath>),
}

#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub name: String,
    pub path: ViewPath,
    pub collection: bool,
}

/// A compiled select: it fills the columns `start..start + width` of a row.
#[derive(Debug, Clone)]
pub(crate) struct SelectPlan {
    pub iteration: Iteration,
    pub columns: Vec<ColumnPlan>,
    pub selects: Vec<SelectPlan>,
    pub union_all: Vec<SelectPlan>,
    pub width: usize,
}

/// A compiled ViewDefinition, ready to turn resources into rows.
#[derive(Debug, Clone)]
pub struct ViewPlan {
    pub(crate) name: Option<String>,
    pub(crate) resource: String,
    pub(crate) columns: Vec<ColumnSpec>,
    pub(crate) root: SelectPlan,
    pub(crate) wheres: Vec<ViewPath>,
}

impl ViewPlan {
    /// Reads, validates and compiles a ViewDefinition.
    pub fn compile(view: &Value) -> Result<ViewPlan, ViewError> {
        let def = ViewDefinition::parse(view)?;
        ViewPlan::from_definition(&def)
    }

    pub fn from_definition(def: &ViewDefinition) -> Result<ViewPlan, ViewError> {
        let root_def = SelectDef {
            select: def.select.clone(),
            ..SelectDef::default()
        };
        let mut columns = Vec::new();
        let root = compile_select(
            &root_def,
            def,
            "ViewDefinition",
            &mut columns,
            Some(&def.resource),
        )?;
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if !seen.insert(c.name.as_str()) {
                return Err(ViewError::Definition {
                    at: "ViewDefinition.select".into(),
                    message: format!("column name {:?} is used more than once", c.name),
                });
            }
        }
        let mut wheres = Vec::new();
        for (i, w) in def.where_paths.iter().enumerate() {
            let at = format!("ViewDefinition.where[{i}].path");
            let path = ViewPath::compile(w, &def.constants, &at)?;
            if let Some(t) = path.result_type(Some(&def.resource)) {
                if t != "boolean" && t != "Boolean" {
                    return Err(ViewError::Path {
                        at,
                        path: w.clone(),
                        message: format!("must evaluate to a boolean, but its type is {t}"),
                    });
                }
            }
            wheres.push(path);
        }
        Ok(ViewPlan {
            name: def.name.clone(),
            resource: def.resource.clone(),
            columns,
            root,
            wheres,
        })
    }

    /// The output columns, in row order.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// The resource type the view runs over.
    pub fn resource_type(&self) -> &str {
        &self.resource
    }

    /// `ViewDefinition.name`, when given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

fn compile_select(
    def: &SelectDef,
    view: &ViewDefinition,
    at: &str,
    columns: &mut Vec<ColumnSpec>,
    context: Option<&str>,
) -> Result<SelectPlan, ViewError> {
    let start = columns.len();
    let path =
        |p: &str, field: &str| ViewPath::compile(p, &view.constants, &format!("{at}.{field}"));
    let iteration = if let Some(p) = &def.for_each {
        Iteration::ForEach(path(p, "forEach")?)
    } else if let Some(p) = &def.for_each_or_null {
        Iteration::ForEachOrNull(path(p, "forEachOrNull")?)
    } else if !def.repeat.is_empty() {
        Iteration::Repeat(
            def.repeat
                .iter()
                .map(|p| path(p, "repeat"))
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        Iteration::Parent
    };
    // The static type of this select's focus nodes, when the spec tables determine it.
    let focus_type = match &iteration {
        Iteration::Parent => context.map(str::to_string),
        Iteration::ForEach(p) | Iteration::ForEachOrNull(p) => p.result_type(context),
        Iteration::Repeat(_) => None,
    };
    let focus_type = focus_type.as_deref();
    let mut column_plans = Vec::new();
    for (i, c) in def.column.iter().enumerate() {
        let mut plan = compile_column(c, view, &format!("{at}.column[{i}]"))?;
        plan.path.enable_fast_path(focus_type);
        column_plans.push(plan);
        columns.push(spec_of(c));
    }
    let mut selects = Vec::new();
    for (i, s) in def.select.iter().enumerate() {
        let select_at = format!("{at}.select[{i}]");
        selects.push(compile_select(s, view, &select_at, columns, focus_type)?);
    }
    let mut union_all = Vec::new();
    let mut first_branch: Option<Vec<ColumnSpec>> = None;
    for (i, s) in def.union_all.iter().enumerate() {
        let branch_at = format!("{at}.unionAll[{i}]");
        let mut branch_columns = Vec::new();
        union_all.push(compile_select(
            s,
            view,
            &branch_at,
            &mut branch_columns,
            focus_type,
        )?);
        match &first_branch {
            None => first_branch = Some(branch_columns),
            Some(first) => {
                let names =
                    |cs: &[ColumnSpec]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
                if names(first) != names(&branch_columns) {
                    return Err(ViewError::Definition {
                        at: branch_at,
                        message: format!(
                            "unionAll branches must have the same columns in the same order: {:?} vs {:?}",
                            names(first),
                            names(&branch_columns)
                        ),
                    });
                }
            }
        }
    }
    if let Some(first) = first_branch {
        columns.extend(first);
    }
    Ok(SelectPlan {
        iteration,
        columns: column_plans,
        selects,
        union_all,
        width: columns.len() - start,
    })
}

fn compile_column(c: &ColumnDef, view: &ViewDefinition, at: &str) -> Result<ColumnPlan, ViewError> {
    Ok(ColumnPlan {
        name: c.name.clone(),
        path: ViewPath::compile(&c.path, &view.constants, &format!("{at}.path"))?,
        collection: c.collection,
    })
}

fn spec_of(c: &ColumnDef) -> ColumnSpec {
    ColumnSpec {
        name: c.name.clone(),
        fhir_type: c.type_.clone(),
        collection: c.collection,
        description: c.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(view: Value, expected: Result<&[&str], &str>) {
        match (ViewPlan::compile(&view), expected) {
            (Ok(plan), Ok(names)) => {
                let got: Vec<_> = plan.columns().iter().map(|c| c.name.as_str()).collect();
                assert_eq!(got, names);
            }
            (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
            (Ok(p), Err(needle)) => panic!("expected {needle:?}, got columns {:?}", p.columns()),
            (Err(e), Ok(_)) => panic!("unexpected error {e}"),
        }
    }

    #[test]
    fn column_order_and_rules() {
        check(
            json!({"resource": "Patient", "select": [
                {"column": [{"name": "a", "path": "id"}],
                 "select": [{"forEach": "name", "column": [{"name": "b", "path": "family"}]}],
                 "unionAll": [{"column": [{"name": "c", "path": "'x'"}]}, {"column": [{"name": "c", "path": "'y'"}]}]},
                {"column": [{"name": "d", "path": "gender"}]}]}),
            Ok(&["a", "b", "c", "d"]),
        );
        check(
            json!({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "gender"}]}]}),
            Err("more than once"),
        );
        check(
            json!({"resource": "Patient", "select": [{"unionAll": [
                {"column": [{"name": "a", "path": "id"}, {"name": "b", "path": "id"}]},
                {"column": [{"name": "b", "path": "id"}, {"name": "a", "path": "id"}]}]}]}),
            Err("same columns"),
        );
        check(
            json!({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id"}]}], "where": [{"path": "name.family"}]}),
            Err("must evaluate to a boolean"),
        );
        check(
            json!({"resource": "Patient", "select": [{"forEach": "@@", "column": [{"name": "a", "path": "id"}]}]}),
            Err("forEach"),
        );
    }
}
