//! The ViewDefinition resource read from JSON into typed structures, with the structural rules
//! of the SQL-on-FHIR v2 specification checked (resource, names, constants, select shape).

use serde_json::{Map, Value};

use crate::ViewError;

/// A parsed ViewDefinition: the parts that drive row generation.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewDefinition {
    /// `ViewDefinition.name`, when given.
    pub name: Option<String>,
    /// `ViewDefinition.resource`: the FHIR resource type the view runs over.
    pub resource: String,
    pub constants: Vec<Constant>,
    pub select: Vec<SelectDef>,
    /// `ViewDefinition.where.path`, all of which must be true for a resource to produce rows.
    pub where_paths: Vec<String>,
}

/// `ViewDefinition.constant`: a named value referenced as `%name` in paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub name: String,
    /// The FHIR type of the value (`string`, `dateTime`, `positiveInt`, ...), from `value[x]`.
    pub value_type: String,
    pub value: Value,
}

/// `ViewDefinition.select`: columns, nested selects, an optional iteration and `unionAll`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectDef {
    pub column: Vec<ColumnDef>,
    pub select: Vec<SelectDef>,
    pub for_each: Option<String>,
    pub for_each_or_null: Option<String>,
    /// `repeat`: paths followed recursively, every visited node becoming a focus.
    pub repeat: Vec<String>,
    pub union_all: Vec<SelectDef>,
}

/// `ViewDefinition.select.column`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub collection: bool,
    /// The declared FHIR type (`string`, `integer`, `dateTime`, ...), when given.
    pub type_: Option<String>,
}

/// The FHIR types a constant may carry, as `value[x]` suffixes and type codes.
const CONSTANT_TYPES: [&str; 19] = [
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "integer64",
    "oid",
    "string",
    "positiveInt",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
];

/// True for names usable as SQL column names: a letter, then letters, digits and `_`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ViewDefinition {
    /// Reads a ViewDefinition, rejecting malformed structure with a message naming the element.
    pub fn parse(view: &Value) -> Result<ViewDefinition, ViewError> {
        let obj = view
            .as_object()
            .ok_or_else(|| invalid("ViewDefinition", "must be a JSON object"))?;
        if let Some(rt) = obj.get("resourceType") {
            if rt.as_str() != Some("ViewDefinition") {
                return Err(invalid(
                    "ViewDefinition.resourceType",
                    "must be \"ViewDefinition\"",
                ));
            }
        }
        let resource = match obj.get("resource") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => {
                return Err(invalid(
                    "ViewDefinition.resource",
                    "must be a non-empty string",
                ))
            }
            None => return Err(invalid("ViewDefinition.resource", "is required")),
        };
        if !crosscare_spec::Spec::r4().is_resource_type(&resource) {
            return Err(invalid(
                "ViewDefinition.resource",
                &format!("{resource:?} is not a FHIR R4 resource type"),
            ));
        }
        let name = optional_string(obj, "name", "ViewDefinition")?;
        let constants = array(obj, "constant", "ViewDefinition")?
            .iter()
            .enumerate()
            .map(|(i, c)| constant(c, &format!("ViewDefinition.constant[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let select = selects(obj, "select", "ViewDefinition")?;
        if select.is_empty() {
            return Err(invalid(
                "ViewDefinition.select",
                "at least one select is required",
            ));
        }
        let mut where_paths = Vec::new();
        for (i, w) in array(obj, "where", "ViewDefinition")?.iter().enumerate() {
            let at = format!("ViewDefinition.where[{i}]");
            let w = w
                .as_object()
                .ok_or_else(|| invalid(&at, "must be an object"))?;
            match optional_string(w, "path", &at)? {
                Some(p) => where_paths.push(p),
                None => return Err(invalid(&format!("{at}.path"), "is required")),
            }
        }
        Ok(ViewDefinition {
            name,
            resource,
            constants,
            select,
            where_paths,
        })
    }
}

fn invalid(at: &str, message: &str) -> ViewError {
    ViewError::Definition {
        at: at.to_string(),
        message: message.to_string(),
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, ViewError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(&format!("{at}.{key}"), "must be a string")),
    }
}

fn array<'v>(obj: &'v Map<String, Value>, key: &str, at: &str) -> Result<&'v [Value], ViewError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(invalid(&format!("{at}.{key}"), "must be an array")),
    }
}

fn selects(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Vec<SelectDef>, ViewError> {
    array(obj, key, at)?
        .iter()
        .enumerate()
        .map(|(i, s)| select(s, &format!("{at}.{key}[{i}]")))
        .collect()
}

fn select(v: &Value, at: &str) -> Result<SelectDef, ViewError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(at, "must be an object"))?;
    let column = array(obj, "column", at)?
        .iter()
        .enumerate()
        .map(|(i, c)| column(c, &format!("{at}.column[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let repeat = array(obj, "repeat", at)?
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(&format!("{at}.repeat"), "entries must be strings"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let def = SelectDef {
        column,
        select: selects(obj, "select", at)?,
        for_each: optional_string(obj, "forEach", at)?,
        for_each_or_null: optional_string(obj, "forEachOrNull", at)?,
        repeat,
        union_all: selects(obj, "unionAll", at)?,
    };
    let iterations = usize::from(def.for_each.is_some())
        + usize::from(def.for_each_or_null.is_some())
        + usize::from(!def.repeat.is_empty());
    if iterations > 1 {
        return Err(invalid(
            at,
            "only one of forEach, forEachOrNull and repeat may be given",
        ));
    }
    if def.column.is_empty() && def.select.is_empty() && def.union_all.is_empty() {
        return Err(invalid(
            at,
            "needs at least one of column, select or unionAll",
        ));
    }
    Ok(def)
}

fn column(v: &Value, at: &str) -> Result<ColumnDef, ViewError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(at, "must be an object"))?;
    let name = optional_string(obj, "name", at)?
        .ok_or_else(|| invalid(&format!("{at}.name"), "is required"))?;
    if !is_valid_name(&name) {
        return Err(invalid(
            &format!("{at}.name"),
            &format!("{name:?} must start with a letter and contain only letters, digits and _"),
        ));
    }
    let path = optional_string(obj, "path", at)?
        .ok_or_else(|| invalid(&format!("{at}.path"), "is required"))?;
    let collection = match obj.get("collection") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid(&format!("{at}.collection"), "must be a boolean")),
    };
    Ok(ColumnDef {
        name,
        path,
        description: optional_string(obj, "description", at)?,
        collection,
        type_: optional_string(obj, "type", at)?,
    })
}

fn constant(v: &Value, at: &str) -> Result<Constant, ViewError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(at, "must be an object"))?;
    let name = optional_string(obj, "name", at)?
        .ok_or_else(|| invalid(&format!("{at}.name"), "is required"))?;
    if !is_valid_name(&name) {
        return Err(invalid(
            &format!("{at}.name"),
            &format!("{name:?} is not a valid constant name"),
        ));
    }
    let mut found = None;
    for (key, value) in obj {
        let Some(suffix) = key.strip_prefix("value") else {
            continue;
        };
        let ty = CONSTANT_TYPES
            .iter()
            .find(|t| {
                t.len() == suffix.len()
                    && t[..1].eq_ignore_ascii_case(&suffix[..1])
                    && t[1..] == suffix[1..]
            })
            .ok_or_else(|| invalid(&format!("{at}.{key}"), "is not a permitted constant type"))?;
        if found.is_some() {
            return Err(invalid(at, "must have exactly one value[x]"));
        }
        found = Some((ty.to_string(), value.clone()));
    }
    let (value_type, value) = found.ok_or_else(|| invalid(at, "must have a value[x]"))?;
    Ok(Constant {
        name,
        value_type,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(view: Value, expected_error: Option<&str>) {
        match (ViewDefinition::parse(&view), expected_error) {
            (Ok(_), None) => {}
            (Err(e), Some(needle)) => assert!(e.to_string().contains(needle), "{e}"),
            (Ok(v), Some(needle)) => panic!("expected error {needle:?}, parsed {v:?}"),
            (Err(e), None) => panic!("unexpected error {e}"),
        }
    }

    #[test]
    fn structure_rules() {
        let col = json!([{"column": [{"name": "id", "path": "id"}]}]);
        check(json!({"resource": "Patient", "select": col}), None);
        check(json!({}), Some("resource"));
        check(
            json!({"resource": "Patiant", "select": col}),
            Some("not a FHIR R4 resource type"),
        );
        check(json!({"resource": "Patient"}), Some("at least one select"));
        check(
            json!({"resource": "Patient", "select": [{"forEach": 1, "column": []}]}),
            Some("forEach"),
        );
        check(
            json!({"resource": "Patient", "select": [{"column": [{"name": "1id", "path": "id"}]}]}),
            Some("name"),
        );
        check(
            json!({"resource": "Patient", "select": [{"forEach": "a", "repeat": ["b"], "column": [{"name": "x", "path": "x"}]}]}),
            Some("only one of"),
        );
        check(
            json!({"resource": "Patient", "select": col, "constant": [{"name": "c"}]}),
            Some("value[x]"),
        );
        check(
            json!({"resource": "Patient", "select": col, "constant": [{"name": "c", "valueQuantity": {}}]}),
            Some("permitted"),
        );
        check(
            json!({"resource": "Patient", "select": col, "where": [{"path": 3}]}),
            Some("where"),
        );
    }

    #[test]
    fn constant_types_are_read() {
        let v = json!({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}],
            "constant": [{"name": "d", "valueDateTime": "2020"}, {"name": "p", "valuePositiveInt": 3}]});
        let def = ViewDefinition::parse(&v).unwrap();
        assert_eq!(def.constants[0].value_type, "dateTime");
        assert_eq!(def.constants[1].value_type, "positiveInt");
    }

    #[test]
    fn names() {
        assert!(is_valid_name("a_1"));
        assert!(!is_valid_name("_a"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("a-b"));
    }
}
