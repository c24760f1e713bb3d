//! FHIRPath expressions of a view: constants substituted, `getResourceKey()` and
//! `getReferenceKey()` rewritten onto engine functions, variables checked, and the static type
//! of an iteration's result inferred from the spec tables so nested paths see typed nodes.

use crosscare_fhirpath::parser::{self, Ast, BinOp, Literal};
use crosscare_fhirpath::{print, Expression};
use crosscare_spec::Spec;

use crate::view::definition::Constant;
use crate::ViewError;

/// A FHIR `id` as the regular expression fragment used to take a key out of a reference.
const ID_PATTERN: &str = "[A-Za-z0-9\\-\\.]{1,64}";

/// Variables the engine or the view runner supply besides constants.
const BUILT_IN_VARIABLES: [&str; 7] = [
    "resource",
    "rootResource",
    "context",
    "ucum",
    "sct",
    "loinc",
    "rowIndex",
];

/// A compiled view path.
#[derive(Debug, Clone)]
pub struct ViewPath {
    pub expression: Expression,
    /// The path as written in the ViewDefinition (before rewriting), for error messages.
    pub source: String,
    /// True when the path reads `%rowIndex`, which must then be supplied per evaluation.
    pub uses_row_index: bool,
    pub(crate) ast: Ast,
    /// For a plain member chain (`name.family`) whose every step the spec tables resolve to a
    /// non-choice element of the static focus type: the JSON keys, walked without the engine.
    pub(crate) fast: Option<Vec<String>>,
}

impl ViewPath {
    /// Compiles `source` with the view's constants substituted as literals.
    pub fn compile(source: &str, constants: &[Constant], at: &str) -> Result<ViewPath, ViewError> {
        let bad = |message: String| ViewError::Path {
            at: at.to_string(),
            path: source.to_string(),
            message,
        };
        let ast = parser::parse(source).map_err(|e| bad(e.to_string()))?;
        let mut uses_row_index = false;
        let ast = rewrite(ast, constants, &mut uses_row_index).map_err(bad)?;
        let text = print::print(&ast);
        let expression = Expression::compile(&text).map_err(|e| bad(e.to_string()))?;
        Ok(ViewPath {
            expression,
            source: source.to_string(),
            uses_row_index,
            ast,
            fast: None,
        })
    }

    /// Enables the direct JSON walk when the path is a member chain that resolves, step by
    /// step, to non-choice elements under `context`, with only the last step primitive.
    pub(crate) fn enable_fast_path(&mut self, context: Option<&str>) {
        let Some(context) = context else { return };
        let mut raw = Vec::new();
        if !member_chain(&self.ast, &mut raw) {
            return;
        }
        let spec = Spec::r4();
        if raw[0].starts_with(|c: char| c.is_ascii_uppercase()) {
            return;
        }
        // `value.ofType(Quantity)` walks the JSON key `valueQuantity`.
        let mut steps: Vec<String> = Vec::new();
        let mut typed_choice: Vec<bool> = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            let step = &raw[i];
            if step.starts_with(OF_TYPE) {
                return;
            }
            match raw.get(i + 1).and_then(|n| n.strip_prefix(OF_TYPE)) {
                Some(ty) if step != FIRST => {
                    let mut key = step.clone();
                    let mut chars = ty.chars();
                    if let Some(c) = chars.next() {
                        key.push(c.to_ascii_uppercase());
                        key.push_str(chars.as_str());
                    }
                    steps.push(key);
                    typed_choice.push(true);
                    i += 2;
                }
                _ => {
                    steps.push(step.clone());
                    typed_choice.push(false);
                    i += 1;
                }
            }
        }
        let mut ty = context.to_string();
        let members: Vec<usize> = (0..steps.len()).filter(|&i| steps[i] != FIRST).collect();
        for (n, &i) in members.iter().enumerate() {
            let step = &steps[i];
            let Some(child) = spec.child(&ty, step) else {
                return;
            };
            if child.is_choice != typed_choice[i] || step.starts_with('_') {
                return;
            }
            let primitive = child
                .type_code
                .starts_with(|c: char| c.is_ascii_lowercase())
                || child.type_code.starts_with("http://");
            if primitive && n + 1 < members.len() {
                return;
            }
            ty = child.children_path.to_string();
        }
        self.fast = Some(steps);
    }

    /// Walks the fast path over `focus`: `None` when the engine must decide (a primitive with
    /// a `_name` extension sibling at the last step).
    pub(crate) fn fast_values<'v>(
        &self,
        steps: &[String],
        focus: &'v serde_json::Value,
    ) -> Option<Vec<&'v serde_json::Value>> {
        use serde_json::Value;
        let mut current: Vec<&Value> = vec![focus];
        for (i, step) in steps.iter().enumerate() {
            if step == FIRST {
                current.truncate(1);
                continue;
            }
            let last = steps[i + 1..].iter().all(|s| s == FIRST);
            let mut next = Vec::new();
            for v in current {
                let Value::Object(obj) = v else { continue };
                if last
                    && obj.keys().any(|k| {
                        k.len() == step.len() + 1 && k.starts_with('_') && k[1..] == **step
                    })
                {
                    return None;
                }
                match obj.get(step.as_str()) {
                    Some(Value::Array(items)) => next.extend(items.iter().filter(|x| !x.is_null())),
                    Some(Value::Null) | None => {}
                    Some(x) => next.push(x),
                }
            }
            current = next;
        }
        Some(current)
    }

    /// The static type (type name or inline element path) of this path's result when evaluated
    /// on a node of type `context`; `None` when it cannot be known before evaluation.
    pub fn result_type(&self, context: Option<&str>) -> Option<String> {
        result_type(&self.ast, context)
    }
}

/// The step marker for `first()` in a fast path (not a valid member name).
const FIRST: &str = "()";
/// The step prefix for `ofType(T)` right after a choice element (`value.ofType(Quantity)`).
const OF_TYPE: &str = "()ofType:";

/// Collects `a.b.first().c` into its member names and `first()` markers; false otherwise.
fn member_chain(ast: &Ast, out: &mut Vec<String>) -> bool {
    match ast {
        Ast::Invoke { target, name, args } => {
            let is_first = name == "first" && args.as_ref().is_some_and(Vec::is_empty);
            if name == "ofType" {
                if let (
                    Some(t),
                    Some(
                        [Ast::Invoke {
                            target: None,
                            name: ty,
                            args: None,
                        }],
                    ),
                ) = (target, args.as_deref())
                {
                    if !member_chain(t, out) {
                        return false;
                    }
                    out.push(format!("{OF_TYPE}{}", ty.trim_start_matches("FHIR.")));
                    return true;
                }
                return false;
            }
            if args.is_some() && !is_first {
                return false;
            }
            match target {
                Some(t) if !member_chain(t, out) => return false,
                None if is_first => return false,
                _ => {}
            }
            out.push(if is_first {
                FIRST.to_string()
            } else {
                name.clone()
            });
            true
        }
        _ => false,
    }
}

fn rewrite(ast: Ast, constants: &[Constant], row_index: &mut bool) -> Result<Ast, String> {
    let mut go = |a: Box<Ast>| rewrite(*a, constants, row_index).map(Box::new);
    Ok(match ast {
        Ast::Env(name) => {
            if let Some(c) = constants.iter().find(|c| c.name == name) {
                return constant_literal(c);
            }
            if name == "rowIndex" {
                *row_index = true;
            }
            let known = BUILT_IN_VARIABLES.contains(&name.as_str())
                || name.starts_with("vs-")
                || name.starts_with("ext-");
            if !known {
                return Err(format!(
                    "%{name} is neither a constant of the view nor a built-in variable"
                ));
            }
            Ast::Env(name)
        }
        Ast::Invoke { target, name, args } => {
            let target = match target {
                Some(t) => Some(go(t)?),
                None => None,
            };
            let args = match args {
                Some(list) => Some(
                    list.into_iter()
                        .map(|a| rewrite(a, constants, row_index))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            };
            match (name.as_str(), args) {
                ("getResourceKey", Some(a)) if a.is_empty() => Ast::Invoke {
                    target,
                    name: "id".to_string(),
                    args: None,
                },
                ("getResourceKey", Some(_)) => {
                    return Err("getResourceKey() takes no arguments".into())
                }
                ("getReferenceKey", Some(a)) => reference_key(target, &a)?,
                (_, args) => Ast::Invoke { target, name, args },
            }
        }
        Ast::Indexer(a, b) => Ast::Indexer(go(a)?, go(b)?),
        Ast::Negate(sign, a) => Ast::Negate(sign, go(a)?),
        Ast::Binary(op, a, b) => Ast::Binary(op, go(a)?, go(b)?),
        Ast::TypeOp(is, a, ty) => Ast::TypeOp(is, go(a)?, ty),
        other => other,
    })
}

/// `x.getReferenceKey([Type])` becomes `x.reference.where(matches(re)).replaceMatches(re, '$1')`
/// where `re` takes the id of a relative or absolute reference (optionally of `Type` only),
/// so that it equals `getResourceKey()` (the `id`) of the referenced resource.
fn reference_key(target: Option<Box<Ast>>, args: &[Ast]) -> Result<Ast, String> {
    let type_pattern = match args {
        [] => "[A-Za-z]+".to_string(),
        [Ast::Invoke {
            target: None,
            name,
            args: None,
        }]
        | [Ast::Literal(Literal::String(name))] => {
            if !Spec::r4().is_resource_type(name) {
                return Err(format!(
                    "getReferenceKey({name}): {name} is not a resource type"
                ));
            }
            name.clone()
        }
        _ => return Err("getReferenceKey takes at most one resource type argument".into()),
    };
    let re = format!("^(?:.*/)?{type_pattern}/({ID_PATTERN})(?:/_history/.*)?$");
    let reference = Ast::Invoke {
        target,
        name: "reference".to_string(),
        args: None,
    };
    let filtered = Ast::Invoke {
        target: Some(Box::new(reference)),
        name: "where".to_string(),
        args: Some(vec![Ast::Invoke {
            target: None,
            name: "matches".to_string(),
            args: Some(vec![Ast::Literal(Literal::String(re.clone()))]),
        }]),
    };
    Ok(Ast::Invoke {
        target: Some(Box::new(filtered)),
        name: "replaceMatches".to_string(),
        args: Some(vec![
            Ast::Literal(Literal::String(re)),
            Ast::Literal(Literal::String("$1".to_string())),
        ]),
    })
}

/// A constant as a FHIRPath literal of the matching System type.
fn constant_literal(c: &Constant) -> Result<Ast, String> {
    let wrong = || {
        format!(
            "constant %{} has a {} value of the wrong JSON type",
            c.name, c.value_type
        )
    };
    let text = || c.value.as_str().map(str::to_string).ok_or_else(wrong);
    Ok(match c.value_type.as_str() {
        "boolean" => Ast::Literal(Literal::Boolean(c.value.as_bool().ok_or_else(wrong)?)),
        "integer" | "positiveInt" | "unsignedInt" | "decimal" => {
            let n = match &c.value {
                serde_json::Value::Number(n) => n.to_string(),
                _ => return Err(wrong()),
            };
            number_literal(&n)
        }
        "integer64" => {
            let n = match &c.value {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                _ => return Err(wrong()),
            };
            match n.strip_prefix('-') {
                Some(abs) => {
                    Ast::Negate(true, Box::new(Ast::Literal(Literal::Long(abs.to_string()))))
                }
                None => Ast::Literal(Literal::Long(n)),
            }
        }
        "date" | "instant" => Ast::Literal(Literal::DateTime(text()?)),
        "dateTime" => {
            // A dateTime without a time part must still be a DateTime literal: `@2016-11-12T`.
            let t = text()?;
            if t.contains('T') {
                Ast::Literal(Literal::DateTime(t))
            } else {
                Ast::Literal(Literal::DateTime(format!("{t}T")))
            }
        }
        "time" => Ast::Literal(Literal::Time(text()?)),
        _ => Ast::Literal(Literal::String(text()?)),
    })
}

fn number_literal(n: &str) -> Ast {
    match n.strip_prefix('-') {
        Some(abs) => Ast::Negate(
            true,
            Box::new(Ast::Literal(Literal::Number(abs.to_string()))),
        ),
        None => Ast::Literal(Literal::Number(n.to_string())),
    }
}

/// Functions whose result has the type of their input collection.
const TYPE_PRESERVING: [&str; 12] = [
    "where",
    "first",
    "last",
    "single",
    "tail",
    "skip",
    "take",
    "distinct",
    "trace",
    "intersect",
    "exclude",
    "descendants",
];

fn result_type(ast: &Ast, context: Option<&str>) -> Option<String> {
    let spec = Spec::r4();
    match ast {
        Ast::This => context.map(str::to_string),
        Ast::Indexer(base, _) => result_type(base, context),
        Ast::TypeOp(false, _, ty) => Some(ty.trim_start_matches("FHIR.").to_string()),
        Ast::Binary(BinOp::Union, a, b) => {
            let (a, b) = (result_type(a, context), result_type(b, context));
            if a == b {
                a
            } else {
                None
            }
        }
        Ast::Invoke { target, name, args } => {
            let base = match target {
                Some(t) => result_type(t, context),
                None => context.map(str::to_string),
            };
            match args {
                None => {
                    // A leading type name (`Patient.name`) selects the focus itself.
                    if target.is_none()
                        && name.starts_with(|c: char| c.is_ascii_uppercase())
                        && spec.type_def(name).is_some()
                    {
                        return Some(name.clone());
                    }
                    let child = spec.child(&base?, name)?;
                    Some(child.children_path.to_string())
                }
                Some(args) => match name.as_str() {
                    n if TYPE_PRESERVING.contains(&n) && n != "descendants" => base,
                    "ofType" => match args.first() {
                        Some(Ast::Invoke { name, .. }) => {
                            Some(name.trim_start_matches("FHIR.").to_string())
                        }
                        _ => None,
                    },
                    "extension" => Some("Extension".to_string()),
                    "select" | "repeat" => {
                        args.first().and_then(|a| result_type(a, base.as_deref()))
                    }
                    _ => None,
                },
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn constant(name: &str, ty: &str, value: serde_json::Value) -> Constant {
        Constant {
            name: name.into(),
            value_type: ty.into(),
            value,
        }
    }

    fn check(source: &str, constants: &[Constant], expected: &str) {
        let p = ViewPath::compile(source, constants, "test").unwrap();
        assert_eq!(print::print(&p.ast), expected);
    }

    #[test]
    fn rewrites() {
        let c = [
            constant("s", "string", json!("it's")),
            constant("n", "integer", json!(-2)),
            constant("d", "dateTime", json!("2016-11-12")),
            constant("t", "time", json!("10:00:00")),
        ];
        check("name.where(use = %s)", &c, "name.where(use = 'it\\'s')");
        check("name[%n]", &c, "name[-2]");
        check("x = %d", &c, "x = @2016-11-12T");
        check("x = %t", &c, "x = @T10:00:00");
        check("getResourceKey()", &c, "id");
        check(
            "link.other.getReferenceKey(Patient)",
            &c,
            "link.other.reference.where(matches('^(?:.*/)?Patient/([A-Za-z0-9\\\\-\\\\.]{1,64})(?:/_history/.*)?$')).replaceMatches('^(?:.*/)?Patient/([A-Za-z0-9\\\\-\\\\.]{1,64})(?:/_history/.*)?$', '$1')",
        );
    }

    #[test]
    fn unknown_variable_is_an_error() {
        let e = ViewPath::compile("name.where(use = %nope)", &[], "at").unwrap_err();
        assert!(e.to_string().contains("%nope"), "{e}");
        assert!(
            ViewPath::compile("%rowIndex", &[], "at")
                .unwrap()
                .uses_row_index
        );
        assert!(ViewPath::compile("getReferenceKey(Nope)", &[], "at").is_err());
    }

    #[test]
    fn reference_keys_evaluate() {
        let p = ViewPath::compile("link.other.getReferenceKey(Patient)", &[], "t").unwrap();
        let r = json!({"resourceType": "Patient", "link": [{"other": {"reference": "http://x/fhir/Patient/p3/_history/2"}},
            {"other": {"reference": "Observation/o1"}}]});
        let out: Vec<_> = p
            .expression
            .evaluate(&r)
            .unwrap()
            .iter()
            .map(|i| i.to_json())
            .collect();
        assert_eq!(out, vec![json!("p3")]);
    }

    #[test]
    fn fast_path_only_for_typed_member_chains() {
        let fast = |src: &str, ctx: &str| {
            let mut p = ViewPath::compile(src, &[], "t").unwrap();
            p.enable_fast_path(Some(ctx));
            p.fast
        };
        assert_eq!(
            fast("name.family", "Patient"),
            Some(vec!["name".to_string(), "family".to_string()])
        );
        assert_eq!(
            fast("system", "Identifier"),
            Some(vec!["system".to_string()])
        );
        assert_eq!(fast("value", "Observation"), None, "choice");
        assert_eq!(
            fast("value.ofType(Quantity).value", "Observation"),
            Some(vec!["valueQuantity".into(), "value".into()])
        );
        assert_eq!(
            fast("effective.ofType(dateTime)", "Observation"),
            Some(vec!["effectiveDateTime".into()])
        );
        assert_eq!(
            fast("code.ofType(CodeableConcept)", "Observation"),
            None,
            "not a choice"
        );
        assert_eq!(fast("value.ofType(Nope)", "Observation"), None);
        assert_eq!(
            fast("valueQuantity.value", "Observation"),
            None,
            "not FHIRPath"
        );
        assert_eq!(fast("nickname", "Patient"), None, "unknown element");
        assert_eq!(
            fast("birthDate.extension", "Patient"),
            None,
            "into a primitive"
        );
        assert_eq!(fast("first()", "Patient"), None);
        assert_eq!(
            fast("name.first().family", "Patient"),
            Some(vec!["name".into(), FIRST.into(), "family".into()])
        );
        assert_eq!(fast("name.where(use = 'x').family", "Patient"), None);
        assert_eq!(fast("Patient.id", "Patient"), None);

        // The walk agrees with the engine, and defers to it for primitive extensions.
        let mut p = ViewPath::compile("name.first().given", &[], "t").unwrap();
        p.enable_fast_path(Some("Patient"));
        let r = json!({"resourceType": "Patient", "name": [{"given": ["a", "b"]}, {"given": ["c"]}, {}]});
        let steps = p.fast.clone().unwrap();
        let walked: Vec<_> = p
            .fast_values(&steps, &r)
            .unwrap()
            .into_iter()
            .cloned()
            .collect();
        let engine: Vec<_> = p
            .expression
            .evaluate(&r)
            .unwrap()
            .iter()
            .map(|i| i.to_json())
            .collect();
        assert_eq!(walked, engine);
        let ext =
            json!({"resourceType": "Patient", "name": [{"given": ["a"], "_given": [{"id": "x"}]}]});
        assert!(p.fast_values(&steps, &ext).is_none());
    }

    #[test]
    fn static_types() {
        let t = |src: &str, ctx: &str| {
            ViewPath::compile(src, &[], "t")
                .unwrap()
                .result_type(Some(ctx))
        };
        assert_eq!(t("name", "Patient").as_deref(), Some("HumanName"));
        assert_eq!(
            t("contact.where(name.exists())", "Patient").as_deref(),
            Some("Patient.contact")
        );
        assert_eq!(
            t("item", "QuestionnaireResponse.item").as_deref(),
            Some("QuestionnaireResponse.item")
        );
        assert_eq!(
            t("answer.item", "QuestionnaireResponse.item").as_deref(),
            Some("QuestionnaireResponse.item")
        );
        assert_eq!(
            t("value.ofType(Quantity)", "Observation").as_deref(),
            Some("Quantity")
        );
        assert_eq!(
            t("component", "Observation").as_deref(),
            Some("Observation.component")
        );
    }
}
