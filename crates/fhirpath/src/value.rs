//! Items of a FHIRPath collection: nodes of the input JSON (with their FHIR type) and System values.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::temporal::Temporal;

/// A reference to JSON: borrowed from the input, or owned (resources returned by a resolver).
#[derive(Debug, Clone)]
pub enum JsonRef<'a> {
    Borrowed(&'a Value),
    Owned(Arc<Value>),
}

impl<'a> JsonRef<'a> {
    pub fn get(&self) -> &Value {
        match self {
            JsonRef::Borrowed(v) => v,
            JsonRef::Owned(v) => v,
        }
    }

    /// A reference to a value inside this one, keeping borrowed data borrowed.
    pub(crate) fn project(&self, f: impl Fn(&Value) -> Option<&Value>) -> Option<JsonRef<'a>> {
        match self {
            JsonRef::Borrowed(v) => f(v).map(JsonRef::Borrowed),
            JsonRef::Owned(v) => f(v).map(|c| JsonRef::Owned(Arc::new(c.clone()))),
        }
    }
}

/// A node of the input: an element value (possibly absent for a primitive that carries only
/// extensions) with its `_name` sibling and the FHIR type it was reached as.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub(crate) value: Option<JsonRef<'a>>,
    /// The `_name` object of a primitive (its `id` and `extension`).
    pub(crate) ext: Option<JsonRef<'a>>,
    /// FHIR type name (`HumanName`, `dateTime`, `Patient`, `BackboneElement`); empty if unknown.
    pub(crate) fhir_type: &'static str,
    /// The spec path under which this node's children are defined (`Patient.contact`).
    pub(crate) path: &'static str,
}

/// A System quantity: a decimal value with a UCUM unit or a calendar duration keyword.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: Decimal,
    /// UCUM code (`mg`, `'1'` is `1`) or calendar keyword (`year`, `days`).
    pub unit: String,
}

/// One element of a FHIRPath collection.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    Node(Node<'a>),
    Boolean(bool),
    String(String),
    Integer(i64),
    Decimal(Decimal),
    Date(Temporal),
    DateTime(Temporal),
    Time(Temporal),
    Quantity(Quantity),
}

/// The System-level view of an item, borrowing strings from the input where possible.
#[derive(Debug, Clone)]
pub(crate) enum Prim<'b> {
    Boolean(bool),
    String(&'b str),
    Integer(i64),
    Decimal(Decimal),
    Date(Temporal),
    DateTime(Temporal),
    Time(Temporal),
    Quantity(Cow<'b, Quantity>),
    /// A complex node (or a primitive node without a value).
    Complex,
}

pub(crate) fn parse_decimal(s: &str) -> Option<Decimal> {
    if s.contains(['e', 'E']) {
        return Decimal::from_scientific(s).ok();
    }
    Decimal::from_str_exact(s)
        .ok()
        .or_else(|| Decimal::from_str(s).ok())
}

/// Classifies FHIR primitive type names by the System type they map to.
pub(crate) fn system_type_of(fhir_type: &str) -> Option<&'static str> {
    Some(match fhir_type {
        "boolean" => "Boolean",
        "integer" | "positiveInt" | "unsignedInt" | "integer64" => "Integer",
        "decimal" => "Decimal",
        "date" => "Date",
        "dateTime" | "instant" => "DateTime",
        "time" => "Time",
        "string" | "code" | "id" | "uri" | "url" | "canonical" | "oid" | "uuid" | "markdown"
        | "base64Binary" | "xhtml" => "String",
        _ => return None,
    })
}

pub(crate) fn is_quantity_type(fhir_type: &str) -> bool {
    matches!(
        fhir_type,
        "Quantity" | "Age" | "Duration" | "Count" | "Distance" | "SimpleQuantity" | "MoneyQuantity"
    )
}

impl<'a> Item<'a> {
    pub(crate) fn node(
        value: JsonRef<'a>,
        fhir_type: &'static str,
        path: &'static str,
    ) -> Item<'a> {
        Item::Node(Node {
            value: Some(value),
            ext: None,
            fhir_type,
            path,
        })
    }

    /// The FHIR type name of a node (`CodeableConcept`, `dateTime`), `None` for System values.
    pub fn fhir_type(&self) -> Option<&str> {
        match self {
            Item::Node(n) if !n.fhir_type.is_empty() => Some(n.fhir_type),
            _ => None,
        }
    }

    /// The qualified type name: `FHIR.CodeableConcept` for nodes, `System.String` for values.
    pub fn type_name(&self) -> String {
        match self {
            Item::Node(n) if !n.fhir_type.is_empty() => format!("FHIR.{}", n.fhir_type),
            Item::Node(_) => match self.prim() {
                Prim::Complex => "System.Any".to_string(),
                p => format!("System.{}", p.system_name()),
            },
            other => format!("System.{}", other.prim().system_name()),
        }
    }

    /// The input JSON node, if this item is one.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Item::Node(n) => n.value.as_ref().map(JsonRef::get),
            _ => None,
        }
    }

    /// The `_name` extension object of a primitive node, if present.
    pub fn primitive_extension(&self) -> Option<&Value> {
        match self {
            Item::Node(n) => n.ext.as_ref().map(JsonRef::get),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.prim() {
            Prim::Boolean(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.prim() {
            Prim::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any item as JSON: the node itself, or the System value (dates as strings, quantities as
    /// `{"value", "unit"}`).
    pub fn to_json(&self) -> Value {
        match self {
            Item::Node(n) => match &n.value {
                Some(v) => v.get().clone(),
                None => n
                    .ext
                    .as_ref()
                    .map(|e| e.get().clone())
                    .unwrap_or(Value::Null),
            },
            Item::Boolean(b) => Value::Bool(*b),
            Item::String(s) => Value::String(s.clone()),
            Item::Integer(i) => Value::from(*i),
            Item::Decimal(d) => decimal_json(d),
            Item::Date(t) => Value::String(t.format_date_time(false)),
            Item::DateTime(t) => Value::String(t.format_date_time(false)),
            Item::Time(t) => Value::String(t.format_time()),
            Item::Quantity(q) => {
                serde_json::json!({"value": decimal_json(&q.value), "unit": q.unit})
            }
        }
    }

    /// The System-level view used by operators and functions.
    pub(crate) fn prim(&self) -> Prim<'_> {
        match self {
            Item::Node(n) => n.prim(),
            Item::Boolean(b) => Prim::Boolean(*b),
            Item::String(s) => Prim::String(s),
            Item::Integer(i) => Prim::Integer(*i),
            Item::Decimal(d) => Prim::Decimal(*d),
            Item::Date(t) => Prim::Date(*t),
            Item::DateTime(t) => Prim::DateTime(*t),
            Item::Time(t) => Prim::Time(*t),
            Item::Quantity(q) => Prim::Quantity(Cow::Borrowed(q)),
        }
    }

    /// Converts a node to an owned System value (identity for System values).
    pub(crate) fn to_system(&self) -> Option<Item<'static>> {
        Some(match self.prim() {
            Prim::Boolean(b) => Item::Boolean(b),
            Prim::String(s) => Item::String(s.to_string()),
            Prim::Integer(i) => Item::Integer(i),
            Prim::Decimal(d) => Item::Decimal(d),
            Prim::Date(t) => Item::Date(t),
            Prim::DateTime(t) => Item::DateTime(t),
            Prim::Time(t) => Item::Time(t),
            Prim::Quantity(q) => Item::Quantity(q.into_owned()),
            Prim::Complex => return None,
        })
    }
}

pub(crate) fn decimal_json(d: &Decimal) -> Value {
    serde_json::from_str(&d.to_string()).unwrap_or(Value::Null)
}

impl<'a> Node<'a> {
    fn prim(&self) -> Prim<'_> {
        let Some(v) = self.value.as_ref().map(JsonRef::get) else {
            return Prim::Complex;
        };
        if is_quantity_type(self.fhir_type) {
            return quantity_of(v).map_or(Prim::Complex, |q| Prim::Quantity(Cow::Owned(q)));
        }
        let sys = if self.fhir_type.is_empty() {
            None
        } else {
            system_type_of(self.fhir_type)
        };
        match (sys, v) {
            (Some("Boolean") | None, Value::Bool(b)) => Prim::Boolean(*b),
            (Some("Integer"), Value::Number(n)) => {
                n.as_i64().map_or_else(|| num_prim(n), Prim::Integer)
            }
            (Some("Decimal") | None, Value::Number(n)) => num_prim(n),
            (Some("Date"), Value::String(s)) => {
                Temporal::parse_date_time(s, false).map_or(Prim::String(s), Prim::Date)
            }
            (Some("DateTime"), Value::String(s)) => {
                Temporal::parse_date_time(s, true).map_or(Prim::String(s), Prim::DateTime)
            }
            (Some("Time"), Value::String(s)) => {
                Temporal::parse_time(s).map_or(Prim::String(s), Prim::Time)
            }
            (_, Value::String(s)) => Prim::String(s),
            (_, Value::Bool(b)) => Prim::Boolean(*b),
            (_, Value::Number(n)) => num_prim(n),
            _ => Prim::Complex,
        }
    }
}

fn num_prim(n: &serde_json::Number) -> Prim<'static> {
    let s = n.to_string();
    if !s.contains(['.', 'e', 'E']) {
        if let Ok(i) = s.parse::<i64>() {
            return Prim::Integer(i);
        }
    }
    parse_decimal(&s).map_or(Prim::Complex, Prim::Decimal)
}

/// Reads a FHIR Quantity object as a System quantity: UCUM code when the system is UCUM,
/// otherwise the human unit.
pub(crate) fn quantity_of(v: &Value) -> Option<Quantity> {
    let value = match v.get("value")? {
        Value::Number(n) => parse_decimal(&n.to_string())?,
        _ => return None,
    };
    let code = v.get("code").and_then(Value::as_str);
    let system = v.get("system").and_then(Value::as_str);
    let unit = match (system, code) {
        (Some("http://unitsofmeasure.org"), Some(c)) => c,
        (None, Some(c)) => c,
        _ => v
            .get("unit")
            .and_then(Value::as_str)
            .or(code)
            .unwrap_or("1"),
    };
    Some(Quantity {
        value,
        unit: unit.to_string(),
    })
}

impl Prim<'_> {
    pub(crate) fn system_name(&self) -> &'static str {
        match self {
            Prim::Boolean(_) => "Boolean",
            Prim::String(_) => "String",
            Prim::Integer(_) => "Integer",
            Prim::Decimal(_) => "Decimal",
            Prim::Date(_) => "Date",
            Prim::DateTime(_) => "DateTime",
            Prim::Time(_) => "Time",
            Prim::Quantity(_) => "Quantity",
            Prim::Complex => "Any",
        }
    }
}
