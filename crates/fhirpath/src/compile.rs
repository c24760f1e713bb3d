//! Compilation from the syntax tree to the evaluable form: literals decoded, functions resolved
//! and their arity checked, type specifiers parsed.

use crate::infer::{self, MemberHint};
use crate::parser::{Ast, BinOp, Literal};
use crate::temporal::Temporal;
use crate::types::TypeSpec;
use crate::value::{parse_decimal, Item, Quantity};
use crate::ParseError;

/// A compiled expression with its source.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub source: String,
    pub root: Expr,
    /// The members of the root that every path of the expression starts with, when the result
    /// is empty unless the root has one of them (see [`root_members`]).
    pub root_members: Option<Vec<String>>,
}

/// The three type operations that take a type specifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeFn {
    Is,
    As,
    OfType,
}

#[derive(Debug)]
pub(crate) enum Expr {
    Literal(Item<'static>),
    Empty,
    This,
    Index,
    Total,
    Env(String),
    /// An identifier at the start of a path that names a FHIR type (`Patient` in
    /// `Patient.name`): selects the focus items of that type.
    TypeName(String),
    Member {
        target: Option<Box<Expr>>,
        name: String,
        /// The member resolved ahead of evaluation (see `infer`).
        hint: MemberHint,
    },
    Call {
        target: Option<Box<Expr>>,
        func: Func,
        args: Vec<Expr>,
    },
    TypeCall {
        target: Option<Box<Expr>>,
        kind: TypeFn,
        ty: TypeSpec,
    },
    Indexer(Box<Expr>, Box<Expr>),
    Negate(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

macro_rules! functions {
    ($($variant:ident = $name:literal ($min:literal, $max:literal),)*) => {
        /// Every function the evaluator knows, with its FHIRPath name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $($variant,)* }

        impl Func {
            fn lookup(name: &str) -> Option<(Func, usize, usize)> {
                match name {
                    $($name => Some((Func::$variant, $min, $max)),)*
                    _ => None,
                }
            }

            #[allow(dead_code)]
            pub fn name(self) -> &'static str {
                match self { $(Func::$variant => $name,)* }
            }
        }
    };
}

functions! {
    Empty = "empty"(0, 0),
    Exists = "exists"(0, 1),
    All = "all"(1, 1),
    AllTrue = "allTrue"(0, 0),
    AnyTrue = "anyTrue"(0, 0),
    AllFalse = "allFalse"(0, 0),
    AnyFalse = "anyFalse"(0, 0),
    SubsetOf = "subsetOf"(1, 1),
    SupersetOf = "supersetOf"(1, 1),
    Count = "count"(0, 0),
    Distinct = "distinct"(0, 0),
    IsDistinct = "isDistinct"(0, 0),
    Where = "where"(1, 1),
    Select = "select"(1, 1),
    Repeat = "repeat"(1, 1),
    Single = "single"(0, 0),
    First = "first"(0, 0),
    Last = "last"(0, 0),
    Tail = "tail"(0, 0),
    Skip = "skip"(1, 1),
    Take = "take"(1, 1),
    Intersect = "intersect"(1, 1),
    Exclude = "exclude"(1, 1),
    Union = "union"(1, 1),
    Combine = "combine"(1, 1),
    Iif = "iif"(2, 3),
    ToBoolean = "toBoolean"(0, 0),
    ConvertsToBoolean = "convertsToBoolean"(0, 0),
    ToInteger = "toInteger"(0, 0),
    ConvertsToInteger = "convertsToInteger"(0, 0),
    ToDecimal = "toDecimal"(0, 0),
    ConvertsToDecimal = "convertsToDecimal"(0, 0),
    ToStringFn = "toString"(0, 0),
    ConvertsToString = "convertsToString"(0, 0),
    ToDate = "toDate"(0, 0),
    ConvertsToDate = "convertsToDate"(0, 0),
    ToDateTime = "toDateTime"(0, 0),
    ConvertsToDateTime = "convertsToDateTime"(0, 0),
    ToTime = "toTime"(0, 0),
    ConvertsToTime = "convertsToTime"(0, 0),
    ToQuantity = "toQuantity"(0, 1),
    ConvertsToQuantity = "convertsToQuantity"(0, 1),
    IndexOf = "indexOf"(1, 1),
    Substring = "substring"(1, 2),
    StartsWith = "startsWith"(1, 1),
    EndsWith = "endsWith"(1, 1),
    Contains = "contains"(1, 1),
    Upper = "upper"(0, 0),
    Lower = "lower"(0, 0),
    Replace = "replace"(2, 2),
    Matches = "matches"(1, 1),
    MatchesFull = "matchesFull"(1, 1),
    Escape = "escape"(1, 1),
    Unescape = "unescape"(1, 1),
    Sort = "sort"(0, 16),
    ReplaceMatches = "replaceMatches"(2, 2),
    Length = "length"(0, 0),
    ToChars = "toChars"(0, 0),
    Trim = "trim"(0, 0),
    Split = "split"(1, 1),
    Join = "join"(0, 1),
    Encode = "encode"(1, 1),
    Decode = "decode"(1, 1),
    Abs = "abs"(0, 0),
    Ceiling = "ceiling"(0, 0),
    Exp = "exp"(0, 0),
    Floor = "floor"(0, 0),
    Ln = "ln"(0, 0),
    Log = "log"(1, 1),
    Power = "power"(1, 1),
    Round = "round"(0, 1),
    Sqrt = "sqrt"(0, 0),
    Truncate = "truncate"(0, 0),
    Children = "children"(0, 0),
    Descendants = "descendants"(0, 0),
    Trace = "trace"(1, 2),
    Now = "now"(0, 0),
    Today = "today"(0, 0),
    TimeOfDay = "timeOfDay"(0, 0),
    Aggregate = "aggregate"(1, 2),
    Not = "not"(0, 0),
    Type = "type"(0, 0),
    Extension = "extension"(1, 1),
    HasExtension = "hasExtension"(1, 1),
    HasValue = "hasValue"(0, 0),
    GetValue = "getValue"(0, 0),
    Resolve = "resolve"(0, 0),
    ConformsTo = "conformsTo"(1, 1),
    HtmlChecks = "htmlChecks"(0, 0),
    MemberOf = "memberOf"(1, 1),
    LowBoundary = "lowBoundary"(0, 1),
    HighBoundary = "highBoundary"(0, 1),
    Precision = "precision"(0, 0),
    Comparable = "comparable"(1, 1),
    Sum = "sum"(0, 0),
    Min = "min"(0, 0),
    Max = "max"(0, 0),
    Avg = "avg"(0, 0),
}

pub(crate) fn compile(ast: &Ast, source: &str) -> Result<Compiled, ParseError> {
    let mut root = expr(ast)?;
    // The root's type is only known at evaluation time; paths below a type name are not.
    infer::annotate(&mut root, None);
    let root_members = root_members(&root);
    Ok(Compiled {
        source: source.to_string(),
        root,
        root_members,
    })
}

/// The members of the root (`$this`) that an expression navigates first, if its result is
/// empty whenever none of them is present: a union of member paths (`Observation.code`,
/// `subject.where(resolve() is Patient)`, `(value as Quantity) | component.value`) whose other
/// steps are functions that map an empty input to an empty result. `None` when some part of
/// the result does not depend on a root member (`exists()`, literals, `%resource`, `$this`).
pub(crate) fn root_members(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Member { target, name, .. } => match target.as_deref() {
            None | Some(Expr::This | Expr::TypeName(_)) => Some(vec![name.clone()]),
            Some(t) => root_members(t),
        },
        Expr::TypeCall {
            target: Some(t),
            kind: TypeFn::As | TypeFn::OfType,
            ..
        } => root_members(t),
        Expr::Call {
            target: Some(t),
            func,
            ..
        } if empty_in_empty_out(*func) => root_members(t),
        Expr::Indexer(t, _) => root_members(t),
        Expr::Binary(BinOp::Union, a, b) => {
            let mut names = root_members(a)?;
            names.extend(root_members(b)?);
            Some(names)
        }
        _ => None,
    }
}

/// Functions whose result on an empty focus is empty, whatever their arguments.
fn empty_in_empty_out(func: Func) -> bool {
    use Func::*;
    matches!(
        func,
        Where
            | Select
            | Repeat
            | First
            | Last
            | Tail
            | Skip
            | Take
            | Single
            | Distinct
            | Intersect
            | Exclude
            | Resolve
            | Extension
            | Children
            | Descendants
    )
}

/// Whether an object holds the member `name`: the key itself, its `_name` sibling, or a
/// choice key (`valueQuantity` for `value`, `_valueString`).
pub(crate) fn has_member(object: &serde_json::Map<String, serde_json::Value>, name: &str) -> bool {
    object.keys().any(|key| {
        let key = key.strip_prefix('_').unwrap_or(key);
        key == name || crate::eval::is_choice_key(key, name)
    })
}

fn boxed(ast: &Option<Box<Ast>>) -> Result<Option<Box<Expr>>, ParseError> {
    match ast {
        Some(a) => Ok(Some(Box::new(expr(a)?))),
        None => Ok(None),
    }
}

fn expr(ast: &Ast) -> Result<Expr, ParseError> {
    Ok(match ast {
        Ast::Literal(l) => literal(l)?,
        Ast::This => Expr::This,
        Ast::Index => Expr::Index,
        Ast::Total => Expr::Total,
        Ast::Env(n) => Expr::Env(n.clone()),
        Ast::Invoke {
            target: None,
            name,
            args: None,
        } if is_type_name(name) => Expr::TypeName(name.clone()),
        Ast::Invoke {
            target,
            name,
            args: None,
        } => Expr::Member {
            target: boxed(target)?,
            name: name.clone(),
            hint: MemberHint::default(),
        },
        Ast::Invoke {
            target,
            name,
            args: Some(args),
        } => call(target, name, args)?,
        Ast::Indexer(a, b) => Expr::Indexer(Box::new(expr(a)?), Box::new(expr(b)?)),
        Ast::Negate(neg, inner) => {
            let e = expr(inner)?;
            match (neg, e) {
                (false, e) => e,
                (true, Expr::Literal(Item::Integer(i))) => Expr::Literal(Item::Integer(-i)),
                (true, Expr::Literal(Item::Decimal(d))) => Expr::Literal(Item::Decimal(-d)),
                (true, Expr::Literal(Item::Quantity(mut q))) => {
                    q.value = -q.value;
                    Expr::Literal(Item::Quantity(q))
                }
                (true, e) => Expr::Negate(Box::new(e)),
            }
        }
        Ast::Binary(op, a, b) => Expr::Binary(*op, Box::new(expr(a)?), Box::new(expr(b)?)),
        Ast::TypeOp(is, a, ty) => Expr::TypeCall {
            target: Some(Box::new(expr(a)?)),
            kind: if *is { TypeFn::Is } else { TypeFn::As },
            ty: TypeSpec::parse(ty),
        },
    })
}

/// Reads a type specifier written as a function argument (`ofType(FHIR.Patient)`).
fn type_arg(ast: &Ast) -> Option<String> {
    match ast {
        Ast::Invoke {
            target: None,
            name,
            args: None,
        } => Some(name.clone()),
        Ast::Invoke {
            target: Some(t),
            name,
            args: None,
        } => Some(format!("{}.{name}", type_arg(t)?)),
        _ => None,
    }
}

fn call(target: &Option<Box<Ast>>, name: &str, args: &[Ast]) -> Result<Expr, ParseError> {
    let kind = match name {
        "is" => Some(TypeFn::Is),
        "as" => Some(TypeFn::As),
        "ofType" => Some(TypeFn::OfType),
        _ => None,
    };
    if let Some(kind) = kind {
        let [arg] = args else {
            return Err(ParseError::new(
                0,
                format!("{name}() takes one type argument"),
            ));
        };
        let ty = type_arg(arg)
            .ok_or_else(|| ParseError::new(0, format!("{name}() needs a type name")))?;
        return Ok(Expr::TypeCall {
            target: boxed(target)?,
            kind,
            ty: TypeSpec::parse(&ty),
        });
    }
    let Some((func, min, max)) = Func::lookup(name) else {
        return Err(ParseError::new(0, format!("unknown function {name}()")));
    };
    if args.len() < min || args.len() > max {
        return Err(ParseError::new(
            0,
            format!("{name}() takes {min}..={max} arguments, got {}", args.len()),
        ));
    }
    Ok(Expr::Call {
        target: boxed(target)?,
        func,
        args: args.iter().map(expr).collect::<Result<_, _>>()?,
    })
}

fn literal(l: &Literal) -> Result<Expr, ParseError> {
    let bad = |what: &str, s: &str| ParseError::new(0, format!("invalid {what} literal `{s}`"));
    Ok(Expr::Literal(match l {
        Literal::Empty => return Ok(Expr::Empty),
        Literal::Boolean(b) => Item::Boolean(*b),
        Literal::String(s) => Item::String(s.clone()),
        Literal::Number(n) if !n.contains('.') => match n.parse::<i64>() {
            Ok(i) if i <= i64::from(i32::MAX) => Item::Integer(i),
            _ => Item::Decimal(parse_decimal(n).ok_or_else(|| bad("number", n))?),
        },
        Literal::Number(n) => Item::Decimal(parse_decimal(n).ok_or_else(|| bad("number", n))?),
        Literal::Long(n) => Item::Integer(n.parse().map_err(|_| bad("long", n))?),
        Literal::DateTime(s) => {
            let t = Temporal::parse_date_time(s, true).ok_or_else(|| bad("date", s))?;
            if s.contains('T') {
                Item::DateTime(t)
            } else {
                Item::Date(t)
            }
        }
        Literal::Time(s) => Item::Time(Temporal::parse_time(s).ok_or_else(|| bad("time", s))?),
        Literal::Quantity { value, unit, .. } => Item::Quantity(Quantity {
            value: parse_decimal(value).ok_or_else(|| bad("quantity", value))?,
            unit: unit.clone(),
        }),
    }))
}

/// FHIR element names start in lower case, type names in upper case.
fn is_type_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && crosscare_spec::Spec::r4().type_def(name).is_some()
}

#[cfg(test)]
mod tests {
    use crate::Expression;
    use serde_json::json;

    fn members(src: &str) -> Option<Vec<String>> {
        let ast = crate::parser::parse(src).unwrap();
        super::compile(&ast, src).unwrap().root_members
    }

    #[test]
    fn root_members_of_member_paths() {
        let v = |names: &[&str]| Some(names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(members("Observation.code"), v(&["code"]));
        assert_eq!(
            members("Observation.subject.where(resolve() is Patient)"),
            v(&["subject"])
        );
        assert_eq!(
            members(
                "(Observation.value as Quantity) | Observation.component.value.ofType(Quantity)"
            ),
            v(&["value", "component"])
        );
        assert_eq!(members("value.as(Quantity)"), v(&["value"]));
        assert_eq!(members("Resource.meta.tag"), v(&["meta"]));
        assert_eq!(members("telecom.where(system='phone')[0]"), v(&["telecom"]));
        // Results that do not come from a root member.
        assert_eq!(
            members("Patient.deceased.exists() and Patient.deceased != false"),
            None
        );
        assert_eq!(members("name.exists()"), None);
        assert_eq!(members("%resource.referenceSeq.chromosome"), None);
        assert_eq!(members("Observation"), None);
        assert_eq!(members("code | 'x'"), None);
        assert_eq!(members("$this"), None);
    }

    #[test]
    fn empty_only_when_no_first_member_is_present() {
        let obs = json!({"resourceType": "Observation", "status": "final",
            "valueQuantity": {"value": 1}, "_issued": {"extension": []}});
        let empty = |src: &str| Expression::compile(src).unwrap().is_empty_on(&obs);
        assert!(empty("Observation.code"));
        assert!(empty("Resource.meta.tag"));
        assert!(!empty("Observation.status"));
        // A choice key and a primitive's `_name` sibling count as the member.
        assert!(!empty("Observation.value.ofType(Quantity)"));
        assert!(!empty("Observation.issued"));
        assert!(empty("Observation.valueString"));
        assert!(!empty("Observation.code | Observation.status"));
        // Not a member path: never reported empty.
        assert!(!empty("code.exists()"));
        assert!(!Expression::compile("code")
            .unwrap()
            .is_empty_on(&json!("x")));
    }
}
