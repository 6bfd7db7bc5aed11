//! Struct tags as contracts: the `json` key (encoding/json's name and options), the
//! seed article's `schema:` key and go-playground/validator's `validate:` key, parsed
//! into one set of [`Constraints`].
//!
//! Supported grammar (anything else is kept in `unsupported` and reported, never
//! silently dropped):
//!
//! ```text
//! json:"NAME[,omitempty][,string]"     NAME "-" = not encoded; "" = the Go field name
//! schema:"RULE[,RULE...]"              RULE = required | optional
//!                                             | min=N | max=N      (numbers: value; strings: length;
//!                                                                    slices, arrays, maps: item count)
//!                                             | enum=A|B|C         (allowed values)
//!                                             | format=F           (uint64, int64, date-time, email,
//!                                                                    uri, uuid, ...: JSON Schema "format")
//!                                             | pattern=REGEX
//! validate:"RULE[,RULE...]"            RULE = required | omitempty
//!                                             | min=N | max=N | len=N
//!                                             | gte=N | lte=N | gt=N | lt=N
//!                                             | oneof=A B C        (space-separated)
//!                                             | email | url | uri | uuid | ip | ipv4 | ipv6 | hostname
//!                                             | dive               (rules after it apply to the elements)
//! ```
//!
//! `optional` (schema) wins over `required` from either key. Numbers accept Go's
//! decimal, hex (`0x`) and exponent forms as `f64`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Go's `reflect.StructTag.Lookup`: the value of `key` in a conventional tag.
pub fn lookup(tag: &str, key: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return None;
        }
        let name_end = rest
            .find(|c: char| c <= ' ' || c == ':' || c == '"' || c == '\x7f')
            .unwrap_or(rest.len());
        if name_end == 0 || !rest[name_end..].starts_with(":\"") {
            return None;
        }
        let name = &rest[..name_end];
        let body = &rest[name_end + 2..];
        // Find the closing quote, skipping escapes.
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let quoted = &body[..i];
        rest = &body[i + 1..];
        if name == key {
            return Some(unquote(quoted));
        }
    }
}

fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What encoding/json does with a field, from its `json` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonName {
    /// The key in JSON objects; `None` for `json:"-"`.
    pub name: Option<String>,
    /// The tag named the key explicitly (an embedded struct with a name is not promoted).
    pub explicit: bool,
    pub omitempty: bool,
    /// `,string`: numbers and bools travel as JSON strings.
    pub as_string: bool,
}

pub fn json_name(tag: &str, field: &str) -> JsonName {
    let Some(value) = lookup(tag, "json") else {
        return JsonName {
            name: Some(field.to_string()),
            explicit: false,
            omitempty: false,
            as_string: false,
        };
    };
    if value == "-" {
        return JsonName {
            name: None,
            explicit: true,
            omitempty: false,
            as_string: false,
        };
    }
    let mut parts = value.split(',');
    let name = parts.next().unwrap_or("");
    let options: Vec<&str> = parts.collect();
    JsonName {
        name: Some(if name.is_empty() { field } else { name }.to_string()),
        explicit: !name.is_empty(),
        omitempty: options.contains(&"omitempty"),
        as_string: options.contains(&"string"),
    }
}

/// A bound with whether it is exclusive (`gt`/`lt`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    pub value: f64,
    pub exclusive: bool,
}

/// The constraints of one field (or of its elements, after `dive`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Constraints {
    pub required: bool,
    /// `schema:"optional"` was given (wins over `required`).
    pub optional: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Constraints for the elements (`validate:"dive,..."`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Constraints>>,
    /// Rules that are not in the supported grammar: `key:"rule"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

impl Constraints {
    pub fn is_required(&self) -> bool {
        self.required && !self.optional
    }

    pub fn is_empty(&self) -> bool {
        *self == Constraints::default()
    }
}

fn number(s: &str) -> Option<f64> {
    let s = s.trim().replace('_', "");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    s.parse().ok()
}

/// Parses the `schema` and `validate` keys of a struct tag.
pub fn constraints(tag: &str) -> Constraints {
    let mut c = Constraints::default();
    if let Some(schema) = lookup(tag, "schema") {
        for rule in schema.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (key, value) = rule.split_once('=').unwrap_or((rule, ""));
            let ok = match key {
                "required" => {
                    c.required = true;
                    true
                }
                "optional" => {
                    c.optional = true;
                    true
                }
                "min" => number(value).map(|v| set_min(&mut c, v, false)).is_some(),
                "max" => number(value).map(|v| set_max(&mut c, v, false)).is_some(),
                "enum" => {
                    c.enumeration = Some(value.split('|').map(str::to_string).collect());
                    true
                }
                "format" if !value.is_empty() => {
                    c.format = Some(value.to_string());
                    true
                }
                "pattern" if !value.is_empty() => {
                    c.pattern = Some(value.to_string());
                    true
                }
                _ => false,
            };
            if !ok {
                c.unsupported.push(format!("schema:\"{rule}\""));
            }
        }
    }
    if let Some(validate) = lookup(tag, "validate") {
        let mut target = &mut c;
        for rule in validate.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            if rule == "dive" {
                target = target.items.get_or_insert_with(Default::default).as_mut();
                continue;
            }
            let (key, value) = rule.split_once('=').unwrap_or((rule, ""));
            let ok = match key {
                "required" => {
                    target.required = true;
                    true
                }
                "omitempty" => true,
                "min" | "gte" => number(value).map(|v| set_min(target, v, false)).is_some(),
                "max" | "lte" => number(value).map(|v| set_max(target, v, false)).is_some(),
                "gt" => number(value).map(|v| set_min(target, v, true)).is_some(),
                "lt" => number(value).map(|v| set_max(target, v, true)).is_some(),
                "len" => number(value)
                    .map(|v| {
                        set_min(target, v, false);
                        set_max(target, v, false)
                    })
                    .is_some(),
                "oneof" => {
                    target.enumeration =
                        Some(value.split_whitespace().map(str::to_string).collect());
                    true
                }
                "email" | "uuid" | "ipv4" | "ipv6" | "hostname" => {
                    target.format = Some(key.to_string());
                    true
                }
                "url" | "uri" => {
                    target.format = Some("uri".into());
                    true
                }
                "ip" => {
                    target.format = Some("ip".into());
                    true
                }
                _ => false,
            };
            if !ok {
                target.unsupported.push(format!("validate:\"{rule}\""));
            }
        }
    }
    c
}

fn set_min(c: &mut Constraints, value: f64, exclusive: bool) {
    c.min = Some(Bound { value, exclusive });
}

fn set_max(c: &mut Constraints, value: f64, exclusive: bool) {
    c.max = Some(Bound { value, exclusive });
}

/// How a constraint set changed from `old` to `new`, for a host (and its configs)
/// written against `old`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tightening {
    Same,
    /// Everything `old` accepted is still accepted.
    Loosened,
    /// Something `old` accepted is now rejected.
    Tightened,
}

/// Compares two constraint sets: any rule that now rejects a value the old one
/// accepted makes the change `Tightened`.
pub fn compare(old: &Constraints, new: &Constraints) -> Tightening {
    if old == new {
        return Tightening::Same;
    }
    let mut tighter = false;
    if new.is_required() && !old.is_required() {
        tighter = true;
    }
    let lower = |b: &Option<Bound>| b.map(|b| (b.value, b.exclusive));
    match (lower(&old.min), lower(&new.min)) {
        (None, Some(_)) => tighter = true,
        (Some((o, oe)), Some((n, ne))) if n > o || (n == o && ne && !oe) => tighter = true,
        _ => {}
    }
    match (lower(&old.max), lower(&new.max)) {
        (None, Some(_)) => tighter = true,
        (Some((o, oe)), Some((n, ne))) if n < o || (n == o && ne && !oe) => tighter = true,
        _ => {}
    }
    match (&old.enumeration, &new.enumeration) {
        (None, Some(_)) => tighter = true,
        (Some(o), Some(n)) if o.iter().any(|v| !n.contains(v)) => tighter = true,
        _ => {}
    }
    if new.format.is_some() && new.format != old.format {
        tighter = true;
    }
    if new.pattern.is_some() && new.pattern != old.pattern {
        tighter = true;
    }
    match (&old.items, &new.items) {
        (None, Some(n)) if !n.is_empty() => tighter = true,
        (Some(o), Some(n)) if compare(o, n) == Tightening::Tightened => tighter = true,
        _ => {}
    }
    if tighter {
        Tightening::Tightened
    } else {
        Tightening::Loosened
    }
}

/// All keys of a tag, in order (for reporting which keys changed).
pub fn keys(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in [
        "json",
        "schema",
        "validate",
        "yaml",
        "toml",
        "mapstructure",
        "env",
    ] {
        if let Some(v) = lookup(tag, key) {
            out.insert(key.to_string(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_reflect() {
        let tag = r#"json:"name,omitempty" schema:"required,min=2,max=50" validate:"oneof=a b""#;
        assert_eq!(lookup(tag, "json").as_deref(), Some("name,omitempty"));
        assert_eq!(
            lookup(tag, "schema").as_deref(),
            Some("required,min=2,max=50")
        );
        assert_eq!(lookup(tag, "validate").as_deref(), Some("oneof=a b"));
        assert_eq!(lookup(tag, "yaml"), None);
        assert_eq!(lookup(r#"a:"x\"y""#, "a").as_deref(), Some("x\"y"));
        assert_eq!(lookup("broken", "json"), None);
    }

    #[test]
    fn json_names() {
        assert_eq!(json_name(r#"json:"-""#, "F").name, None);
        assert_eq!(
            json_name(r#"json:",omitempty""#, "F").name.as_deref(),
            Some("F")
        );
        assert!(!json_name(r#"json:",omitempty""#, "F").explicit);
        assert!(json_name(r#"json:"n,string""#, "F").as_string);
        assert_eq!(json_name("", "F").name.as_deref(), Some("F"));
    }

    #[test]
    fn seed_and_playground_grammars() {
        let c = constraints(r#"schema:"required,min=2,max=50""#);
        assert!(c.is_required());
        assert_eq!(c.min.unwrap().value, 2.0);
        assert_eq!(c.max.unwrap().value, 50.0);
        let c = constraints(r#"validate:"required,oneof=deepseek-chat deepseek-coder""#);
        assert_eq!(
            c.enumeration.unwrap(),
            vec!["deepseek-chat", "deepseek-coder"]
        );
        let c = constraints(r#"validate:"omitempty,max=8,dive,min=1""#);
        assert!(!c.required);
        assert_eq!(c.max.unwrap().value, 8.0);
        assert_eq!(c.items.unwrap().min.unwrap().value, 1.0);
        let c = constraints(r#"schema:"optional,min=0" validate:"required""#);
        assert!(!c.is_required());
        let c = constraints(r#"validate:"required_if=X 1,gt=0x10""#);
        assert_eq!(c.unsupported, vec![r#"validate:"required_if=X 1""#]);
        assert!(c.min.unwrap().exclusive);
        assert_eq!(c.min.unwrap().value, 16.0);
    }

    #[test]
    fn tightening() {
        let a = constraints(r#"schema:"required,min=2,max=50""#);
        let b = constraints(r#"schema:"required,min=3,max=50""#);
        assert_eq!(compare(&a, &b), Tightening::Tightened);
        assert_eq!(compare(&b, &a), Tightening::Loosened);
        assert_eq!(compare(&a, &a), Tightening::Same);
        let e1 = constraints(r#"schema:"enum=a|b""#);
        let e2 = constraints(r#"schema:"enum=a|b|c""#);
        assert_eq!(compare(&e1, &e2), Tightening::Loosened);
        assert_eq!(compare(&e2, &e1), Tightening::Tightened);
        let opt = constraints(r#"validate:"min=1""#);
        let req = constraints(r#"validate:"required,min=1""#);
        assert_eq!(compare(&opt, &req), Tightening::Tightened);
    }
}
