//! Drift between two builds of a plugin's contract, each change classified for a host
//! (and the config files) written against the old build:
//!
//! | change                                   | class      | why                                            |
//! |------------------------------------------|------------|------------------------------------------------|
//! | symbol added                             | compatible | the old host never looks it up                 |
//! | symbol removed                           | breaking   | `Lookup` fails                                 |
//! | symbol kind or type changed (signature)  | breaking   | the host's type assertion fails                |
//! | struct added                             | compatible |                                                |
//! | struct removed                           | breaking   | a type the host used is gone                   |
//! | field added, not required                | compatible | old configs still decode and validate          |
//! | field added, required by its tags        | breaking   | old configs lack it                            |
//! | field removed, retyped, embedding changed| breaking   | old data no longer decodes into it             |
//! | JSON key changed                         | breaking   | old configs set a key nobody reads             |
//! | constraint tightened                     | breaking   | some old configs are now rejected              |
//! | constraint loosened, other tag keys      | compatible | everything accepted before still is            |
//! | method added / removed / re-signed       | compatible / breaking / breaking               |

use std::collections::BTreeMap;

use serde::Serialize;

use super::tags::{self, Tightening};
use super::{Contract, FieldContract, StructContract};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Compatible,
    Breaking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    SymbolAdded,
    SymbolRemoved,
    SymbolKindChanged,
    SignatureChanged,
    StructAdded,
    StructRemoved,
    FieldAdded,
    FieldRemoved,
    FieldRetyped,
    FieldEmbeddingChanged,
    JsonNameChanged,
    TagTightened,
    TagLoosened,
    TagChanged,
    MethodAdded,
    MethodRemoved,
    MethodChanged,
}

/// One contract change.
#[derive(Debug, Clone, Serialize)]
pub struct ContractChange {
    pub kind: ChangeKind,
    pub class: Class,
    /// What changed: `Validate`, `main.Config.Name`, `main.Service.Describe`.
    pub subject: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// One sentence for people.
    pub detail: String,
}

/// All contract changes from `old` to `new`.
#[derive(Debug, Clone, Serialize)]
pub struct ContractDiff {
    pub breaking: usize,
    pub compatible: usize,
    /// Symbols whose fingerprint is the same in both builds.
    pub unchanged_symbols: usize,
    pub changes: Vec<ContractChange>,
}

fn change(
    kind: ChangeKind,
    class: Class,
    subject: String,
    old: Option<String>,
    new: Option<String>,
    detail: impl Into<String>,
) -> ContractChange {
    ContractChange {
        kind,
        class,
        subject,
        old,
        new,
        detail: detail.into(),
    }
}

pub fn compare(old: &Contract, new: &Contract) -> ContractDiff {
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let new_syms: BTreeMap<&str, _> = new.symbols.iter().map(|s| (s.name.as_str(), s)).collect();
    let old_syms: BTreeMap<&str, _> = old.symbols.iter().map(|s| (s.name.as_str(), s)).collect();
    for (name, o) in &old_syms {
        match new_syms.get(name) {
            None => changes.push(change(
                ChangeKind::SymbolRemoved,
                Class::Breaking,
                name.to_string(),
                Some(o.type_string.clone()),
                None,
                format!("{name} is no longer exported: Lookup(\"{name}\") fails"),
            )),
            Some(n) if n.kind != o.kind => changes.push(change(
                ChangeKind::SymbolKindChanged,
                Class::Breaking,
                name.to_string(),
                Some(format!("{:?} {}", o.kind, o.type_string).to_lowercase()),
                Some(format!("{:?} {}", n.kind, n.type_string).to_lowercase()),
                format!("{name} changed between function and variable"),
            )),
            Some(n) if n.type_string != o.type_string => changes.push(change(
                ChangeKind::SignatureChanged,
                Class::Breaking,
                name.to_string(),
                Some(o.type_string.clone()),
                Some(n.type_string.clone()),
                format!(
                    "{name}'s type changed: the host's type assertion on Lookup(\"{name}\") fails"
                ),
            )),
            Some(n) if n.fingerprint == o.fingerprint => unchanged += 1,
            Some(_) => {}
        }
    }
    for (name, n) in &new_syms {
        if !old_syms.contains_key(name) {
            changes.push(change(
                ChangeKind::SymbolAdded,
                Class::Compatible,
                name.to_string(),
                None,
                Some(n.type_string.clone()),
                format!("{name} is newly exported"),
            ));
        }
    }
    let new_structs: BTreeMap<&str, &StructContract> =
        new.structs.iter().map(|s| (s.name.as_str(), s)).collect();
    let old_structs: BTreeMap<&str, &StructContract> =
        old.structs.iter().map(|s| (s.name.as_str(), s)).collect();
    for (name, o) in &old_structs {
        match new_structs.get(name) {
            None => changes.push(change(
                ChangeKind::StructRemoved,
                Class::Breaking,
                name.to_string(),
                Some(o.fingerprint.clone()),
                None,
                format!("struct {name} is no longer part of the exported API"),
            )),
            Some(n) if n.fingerprint != o.fingerprint => compare_struct(o, n, &mut changes),
            Some(_) => {}
        }
    }
    for (name, n) in &new_structs {
        if !old_structs.contains_key(name) {
            changes.push(change(
                ChangeKind::StructAdded,
                Class::Compatible,
                name.to_string(),
                None,
                Some(n.fingerprint.clone()),
                format!("struct {name} is new in the exported API"),
            ));
        }
    }
    ContractDiff {
        breaking: changes
            .iter()
            .filter(|c| c.class == Class::Breaking)
            .count(),
        compatible: changes
            .iter()
            .filter(|c| c.class == Class::Compatible)
            .count(),
        unchanged_symbols: unchanged,
        changes,
    }
}

fn compare_struct(o: &StructContract, n: &StructContract, out: &mut Vec<ContractChange>) {
    let subject = |f: &str| format!("{}.{f}", o.name);
    let new_fields: BTreeMap<&str, &FieldContract> =
        n.fields.iter().map(|f| (f.name.as_str(), f)).collect();
    let old_fields: BTreeMap<&str, &FieldContract> =
        o.fields.iter().map(|f| (f.name.as_str(), f)).collect();
    for of in &o.fields {
        let Some(nf) = new_fields.get(of.name.as_str()) else {
            out.push(change(
                ChangeKind::FieldRemoved,
                Class::Breaking,
                subject(&of.name),
                Some(of.type_string.clone()),
                None,
                format!("field {} was removed", of.name),
            ));
            continue;
        };
        if nf.type_string != of.type_string {
            out.push(change(
                ChangeKind::FieldRetyped,
                Class::Breaking,
                subject(&of.name),
                Some(of.type_string.clone()),
                Some(nf.type_string.clone()),
                format!(
                    "field {} changed type from {} to {}",
                    of.name, of.type_string, nf.type_string
                ),
            ));
        }
        if nf.embedded != of.embedded {
            out.push(change(
                ChangeKind::FieldEmbeddingChanged,
                Class::Breaking,
                subject(&of.name),
                Some(of.embedded.to_string()),
                Some(nf.embedded.to_string()),
                format!("field {} changed between embedded and named", of.name),
            ));
        }
        if nf.tag != of.tag {
            out.push(tag_change(&subject(&of.name), of, nf));
        }
    }
    for nf in &n.fields {
        if old_fields.contains_key(nf.name.as_str()) {
            continue;
        }
        let required = nf.constraints.is_required();
        out.push(change(
            ChangeKind::FieldAdded,
            if required {
                Class::Breaking
            } else {
                Class::Compatible
            },
            subject(&nf.name),
            None,
            Some(nf.type_string.clone()),
            if required {
                format!("required field {} was added: old configs lack it", nf.name)
            } else {
                format!("optional field {} was added", nf.name)
            },
        ));
    }
    let new_methods: BTreeMap<&str, _> = n.methods.iter().map(|m| (m.name.as_str(), m)).collect();
    let old_methods: BTreeMap<&str, _> = o.methods.iter().map(|m| (m.name.as_str(), m)).collect();
    for (name, om) in &old_methods {
        match new_methods.get(name) {
            None => out.push(change(
                ChangeKind::MethodRemoved,
                Class::Breaking,
                subject(name),
                om.signature.clone(),
                None,
                format!("method {name} was removed"),
            )),
            Some(nm) if nm.signature != om.signature => out.push(change(
                ChangeKind::MethodChanged,
                Class::Breaking,
                subject(name),
                om.signature.clone(),
                nm.signature.clone(),
                format!("method {name} changed signature"),
            )),
            Some(_) => {}
        }
    }
    for (name, nm) in &new_methods {
        if !old_methods.contains_key(name) {
            out.push(change(
                ChangeKind::MethodAdded,
                Class::Compatible,
                subject(name),
                None,
                nm.signature.clone(),
                format!("method {name} was added"),
            ));
        }
    }
}

fn tag_change(subject: &str, o: &FieldContract, n: &FieldContract) -> ContractChange {
    let (old, new) = (Some(o.tag.clone()), Some(n.tag.clone()));
    if o.json != n.json {
        return change(
            ChangeKind::JsonNameChanged,
            Class::Breaking,
            subject.to_string(),
            old,
            new,
            format!(
                "JSON key changed from {} to {}",
                o.json.as_deref().unwrap_or("(none)"),
                n.json.as_deref().unwrap_or("(none)")
            ),
        );
    }
    let keys_o = tags::keys(&o.tag);
    let keys_n = tags::keys(&n.tag);
    let changed: Vec<&str> = keys_o
        .keys()
        .chain(keys_n.keys())
        .filter(|k| keys_o.get(*k) != keys_n.get(*k))
        .map(String::as_str)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    match tags::compare(&o.constraints, &n.constraints) {
        Tightening::Tightened => change(
            ChangeKind::TagTightened,
            Class::Breaking,
            subject.to_string(),
            old,
            new,
            format!(
                "constraints tightened ({}): configs valid before may be rejected",
                changed.join(", ")
            ),
        ),
        Tightening::Loosened => change(
            ChangeKind::TagLoosened,
            Class::Compatible,
            subject.to_string(),
            old,
            new,
            format!("constraints loosened ({})", changed.join(", ")),
        ),
        Tightening::Same => change(
            ChangeKind::TagChanged,
            Class::Compatible,
            subject.to_string(),
            old,
            new,
            format!(
                "tag changed without changing the JSON key or constraints ({})",
                if changed.is_empty() {
                    "formatting".to_string()
                } else {
                    changed.join(", ")
                }
            ),
        ),
    }
}
