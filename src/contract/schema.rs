//! JSON Schema (draft 2020-12) for a Go struct as encoding/json reads it: keys from
//! `json` tags (unexported and `json:"-"` fields left out, untagged embedded structs
//! promoted), types from the Go kinds, and constraints from `schema:`/`validate:` tags
//! (grammar in `tags`). Named structs go to `$defs` and are referenced, so recursive
//! types are finite. Unknown keys are allowed, as encoding/json ignores them.
//!
//! Go kind -> schema: bool -> boolean; integers -> integer with the type's range
//! (`uint64`/`int64` beyond 2^53 keep `format`); floats -> number; string -> string;
//! `[]byte` -> base64 string; slices/arrays -> array (arrays: exact length); maps with
//! string or integer keys -> object; pointers -> the element or null; interfaces -> any;
//! `time.Time` -> date-time string; other types with a `MarshalText` method -> string,
//! with `MarshalJSON` -> any.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::tags::{self, Bound, Constraints};
use super::{Contract, StructContract};
use crate::golang::{TypeGraph, TypeId, TypeKind, TypeNode};

pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of `root`, with every named struct it reaches in `$defs`.
pub fn for_struct(contract: &Contract, root: &StructContract) -> Value {
    let mut b = Builder {
        graph: &contract.graph,
        defs: BTreeMap::new(),
        pending: Vec::new(),
    };
    let mut schema = b.object(root.id);
    // Nested structs found while building go to $defs (the root is inlined).
    while let Some(id) = b.pending.pop() {
        let key = def_key(b.graph.node(id));
        if b.defs.get(&key).is_some_and(Option::is_some) {
            continue;
        }
        let def = b.object(id);
        b.defs.insert(key, Some(def));
    }
    let obj = schema.as_object_mut().expect("object schema");
    let mut head = Map::new();
    head.insert("$schema".into(), json!(DRAFT));
    head.insert(
        "$id".into(),
        json!(format!(
            "urn:plugctl:contract:{}",
            def_key(contract.graph.node(root.id))
        )),
    );
    head.insert("title".into(), json!(root.name));
    head.append(obj);
    let defs: Map<String, Value> = b
        .defs
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    if !defs.is_empty() {
        head.insert("$defs".into(), Value::Object(defs));
    }
    Value::Object(head)
}

fn def_key(n: &TypeNode) -> String {
    // Readable and safe in a URI fragment and a JSON pointer: `main.Endpoint`,
    // `main.Box_string_` for `main.Box[string]`.
    n.string
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct Builder<'g> {
    graph: &'g TypeGraph,
    /// Named structs: `None` while queued.
    defs: BTreeMap<String, Option<Value>>,
    pending: Vec<TypeId>,
}

impl Builder<'_> {
    /// An object schema for the struct `id`: properties, required.
    fn object(&mut self, id: TypeId) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        self.collect_fields(id, &mut properties, &mut required, 0);
        let mut out = Map::new();
        out.insert("type".into(), json!("object"));
        out.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
        Value::Object(out)
    }

    /// encoding/json's field list: embedded structs without a JSON name are promoted
    /// (outer fields win over promoted ones with the same key).
    fn collect_fields(
        &mut self,
        id: TypeId,
        properties: &mut Map<String, Value>,
        required: &mut Vec<String>,
        depth: usize,
    ) {
        let graph = self.graph;
        let node = graph.node(id);
        let mut promoted = Vec::new();
        for f in &node.fields {
            let json_name = tags::json_name(&f.tag, &f.name);
            let Some(key) = json_name.name.clone() else {
                continue;
            };
            let mut ftype = f.typ;
            if f.embedded && !json_name.explicit {
                let mut t = ftype;
                if graph.node(t).kind == TypeKind::Ptr
                    && let Some(e) = graph.node(t).elem
                {
                    t = e;
                }
                if graph.node(t).kind == TypeKind::Struct {
                    promoted.push(t);
                    continue;
                }
                ftype = f.typ;
            }
            if !f.exported {
                continue;
            }
            let c = tags::constraints(&f.tag);
            let mut schema = self.schema_of(ftype, &c, json_name.as_string);
            if !c.unsupported.is_empty()
                && let Some(obj) = schema.as_object_mut()
            {
                obj.insert("x-plugctl-unsupported-rules".into(), json!(c.unsupported));
            }
            if c.is_required() && !required.contains(&key) {
                required.push(key.clone());
            }
            properties.insert(key, schema);
        }
        if depth < 16 {
            for t in promoted {
                let mut inner = Map::new();
                let mut inner_required = Vec::new();
                self.collect_fields(t, &mut inner, &mut inner_required, depth + 1);
                for (k, v) in inner {
                    if !properties.contains_key(&k) {
                        if inner_required.contains(&k) && !required.contains(&k) {
                            required.push(k.clone());
                        }
                        properties.insert(k, v);
                    }
                }
            }
        }
    }

    fn has_method(n: &TypeNode, name: &str) -> bool {
        n.methods.iter().any(|m| m.name == name)
    }

    /// The schema of a value of type `id` with the field's constraints.
    fn schema_of(&mut self, id: TypeId, c: &Constraints, as_string: bool) -> Value {
        let graph = self.graph;
        let n = graph.node(id);
        let mut out = Map::new();
        let kind = n.kind;
        if n.string == "time.Time" {
            out.insert("type".into(), json!("string"));
            out.insert("format".into(), json!("date-time"));
            return self.finish(out, c, Shape::String);
        }
        if Self::has_method(n, "MarshalJSON") {
            return self.finish(out, c, Shape::Any);
        }
        if Self::has_method(n, "MarshalText") {
            out.insert("type".into(), json!("string"));
            return self.finish(out, c, Shape::String);
        }
        let shape = match kind {
            TypeKind::Bool if as_string => {
                out.insert("type".into(), json!("string"));
                out.insert("enum".into(), json!(["true", "false"]));
                Shape::Any
            }
            TypeKind::Bool => {
                out.insert("type".into(), json!("boolean"));
                Shape::Any
            }
            k if k.is_integer() || matches!(k, TypeKind::Float32 | TypeKind::Float64) => {
                if as_string {
                    out.insert("type".into(), json!("string"));
                    out.insert("pattern".into(), json!("^-?[0-9][0-9.eE+-]*$"));
                    Shape::Any
                } else {
                    let integer = k.is_integer();
                    out.insert(
                        "type".into(),
                        json!(if integer { "integer" } else { "number" }),
                    );
                    if integer {
                        let (lo, hi) = int_range(k, n.size);
                        out.insert("minimum".into(), lo);
                        out.insert("maximum".into(), hi);
                        if matches!(k, TypeKind::Int64 | TypeKind::Uint64) {
                            let f = if k.is_unsigned() { "uint64" } else { "int64" };
                            out.insert("format".into(), json!(f));
                        }
                    }
                    Shape::Number
                }
            }
            TypeKind::String => {
                out.insert("type".into(), json!("string"));
                Shape::String
            }
            TypeKind::Slice
                if n.elem
                    .is_some_and(|e| graph.node(e).kind == TypeKind::Uint8) =>
            {
                out.insert("type".into(), json!(["string", "null"]));
                out.insert("contentEncoding".into(), json!("base64"));
                Shape::String
            }
            TypeKind::Slice | TypeKind::Array => {
                if kind == TypeKind::Slice {
                    out.insert("type".into(), json!(["array", "null"]));
                } else {
                    out.insert("type".into(), json!("array"));
                    if let Some(len) = n.len {
                        out.insert("minItems".into(), json!(len));
                        out.insert("maxItems".into(), json!(len));
                    }
                }
                if let Some(e) = n.elem {
                    let item_c = c.items.as_deref().cloned().unwrap_or_default();
                    out.insert("items".into(), self.schema_of(e, &item_c, false));
                }
                Shape::Items
            }
            TypeKind::Map => {
                out.insert("type".into(), json!(["object", "null"]));
                if let Some(k) = n.key
                    && graph.node(k).kind.is_integer()
                {
                    out.insert("propertyNames".into(), json!({"pattern": "^-?[0-9]+$"}));
                }
                if let Some(e) = n.elem {
                    let item_c = c.items.as_deref().cloned().unwrap_or_default();
                    out.insert(
                        "additionalProperties".into(),
                        self.schema_of(e, &item_c, false),
                    );
                }
                Shape::Properties
            }
            TypeKind::Ptr => {
                let inner = match n.elem {
                    Some(e) => self.schema_of(e, c, as_string),
                    None => json!({}),
                };
                // if/else rather than anyOf: a violation inside keeps its own path.
                return json!({"if": {"type": "null"}, "else": inner});
            }
            TypeKind::Struct => {
                if n.named {
                    let key = def_key(n);
                    if !self.defs.contains_key(&key) {
                        self.defs.insert(key.clone(), None);
                        self.pending.push(id);
                    }
                    out.insert("$ref".into(), json!(format!("#/$defs/{key}")));
                } else {
                    return self.object(id);
                }
                Shape::Any
            }
            _ => Shape::Any, // interfaces, funcs, chans: anything (funcs/chans do not encode)
        };
        self.finish(out, c, shape)
    }

    fn finish(&mut self, mut out: Map<String, Value>, c: &Constraints, shape: Shape) -> Value {
        let (min_key, max_key) = match shape {
            Shape::Number => ("minimum", "maximum"),
            Shape::String => ("minLength", "maxLength"),
            Shape::Items => ("minItems", "maxItems"),
            Shape::Properties => ("minProperties", "maxProperties"),
            Shape::Any => ("", ""),
        };
        let count = !matches!(shape, Shape::Number);
        if let Some(b) = c.min
            && !min_key.is_empty()
        {
            put_bound(&mut out, min_key, "exclusiveMinimum", b, count, true);
        }
        if let Some(b) = c.max
            && !max_key.is_empty()
        {
            put_bound(&mut out, max_key, "exclusiveMaximum", b, count, false);
        }
        if let Some(values) = &c.enumeration {
            let typed: Vec<Value> = values
                .iter()
                .map(|v| match shape {
                    Shape::Number => v
                        .parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| v.parse::<f64>().map(Value::from))
                        .unwrap_or_else(|_| Value::from(v.as_str())),
                    _ => Value::from(v.as_str()),
                })
                .collect();
            out.insert("enum".into(), Value::Array(typed));
        }
        if let Some(f) = &c.format {
            out.insert("format".into(), json!(f));
        }
        if let Some(p) = &c.pattern {
            out.insert("pattern".into(), json!(p));
        }
        Value::Object(out)
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Number,
    String,
    Items,
    Properties,
    Any,
}

/// Writes a bound: numbers keep their value (exclusive bounds use the exclusive
/// keyword); counts are integers (an exclusive count bound moves by one).
fn put_bound(
    out: &mut Map<String, Value>,
    key: &str,
    exclusive_key: &str,
    b: Bound,
    count: bool,
    lower: bool,
) {
    if count {
        let v = b.value.max(0.0).floor() as u64;
        let v = match (b.exclusive, lower) {
            (true, true) => v + 1,
            (true, false) => v.saturating_sub(1),
            _ => v,
        };
        out.insert(key.into(), json!(v));
    } else if b.exclusive {
        out.insert(exclusive_key.into(), number(b.value));
    } else {
        out.insert(key.into(), number(b.value));
    }
}

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn int_range(kind: TypeKind, size: u64) -> (Value, Value) {
    let bits = (size * 8).clamp(8, 64) as u32;
    if kind.is_unsigned() {
        let hi: u64 = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        (json!(0), json!(hi))
    } else {
        let hi: i64 = if bits == 64 {
            i64::MAX
        } else {
            (1i64 << (bits - 1)) - 1
        };
        (json!(-hi - 1), json!(hi))
    }
}
