//! `contract`: a Go plugin's exported API read statically (see `golang::types`), with a
//! stable fingerprint per exported symbol and per named struct, the drift between two
//! builds classified for a host built against the old one (`drift`), JSON Schema for a
//! struct from its `json`/`schema`/`validate` tags (`schema`, grammar in `tags`), and
//! config validation against that schema (`validate`).
//!
//! Fingerprints hash type strings, field names, tags, embedded flags and method
//! signatures: never addresses, offsets or sizes, so they do not change with
//! `-trimpath`, `-race`, `-ldflags` or the Go patch release.

pub mod drift;
pub mod schema;
pub mod tags;
pub mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::elf::Artifact;
use crate::golang::{
    self, ExportKind, ExportType, GoFacts, GoRole, TypeGraph, TypeId, TypeKind, TypeNode,
};

/// The exported API of one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct Contract {
    pub path: String,
    pub go_version: String,
    pub plugin_path: Option<String>,
    pub symbols: Vec<Symbol>,
    /// Every named struct type reachable from the exports (not through method
    /// signatures), sorted by type string.
    pub structs: Vec<StructContract>,
    /// What could not be read.
    pub problems: Vec<String>,
    #[serde(skip)]
    pub graph: Arc<TypeGraph>,
}

/// One exported symbol.
#[derive(Debug, Clone, Serialize)]
pub struct Symbol {
    pub name: String,
    pub kind: ExportKind,
    /// `reflect.TypeOf(sym).String()` of what `Lookup` returns.
    pub type_string: String,
    /// sha256 (16 hex digits) of the symbol's name, kind and the shape of every named
    /// type reachable from it.
    pub fingerprint: String,
    #[serde(rename = "type")]
    pub typ: ExportType,
}

/// One named struct type.
#[derive(Debug, Clone, Serialize)]
pub struct StructContract {
    /// Type string, e.g. `main.Config`.
    pub name: String,
    pub pkg_path: String,
    pub fingerprint: String,
    pub fields: Vec<FieldContract>,
    pub methods: Vec<MethodContract>,
    #[serde(skip)]
    pub id: TypeId,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldContract {
    pub name: String,
    pub type_string: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag: String,
    pub embedded: bool,
    pub exported: bool,
    /// The JSON key (`None`: not encoded: `json:"-"` or unexported).
    pub json: Option<String>,
    #[serde(skip_serializing_if = "tags::Constraints::is_empty")]
    pub constraints: tags::Constraints,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodContract {
    pub name: String,
    pub signature: Option<String>,
}

/// Reads the contract of the plugin at `path`.
pub fn read_path(path: &Path) -> Result<Contract> {
    let artifact = Artifact::read(path)
        .map_err(anyhow::Error::from)
        .with_context(|| path.display().to_string())?;
    read(&artifact, &path.display().to_string())
}

/// The contract of a Go plugin; an error naming the file when it is not one or its
/// export table cannot be read.
pub fn read(artifact: &Artifact, label: &str) -> Result<Contract> {
    let Some(go) = golang::read(artifact) else {
        bail!("{label}: not a Go binary (no Go build info)");
    };
    from_facts(&go, label)
}

/// The contract from Go facts already read.
pub fn from_facts(go: &GoFacts, label: &str) -> Result<Contract> {
    if go.role != GoRole::Plugin {
        bail!(
            "{label}: not a Go plugin (-buildmode={})",
            go.setting("-buildmode").unwrap_or("?")
        );
    }
    let graph = go
        .exports
        .iter()
        .find_map(|e| e.type_.as_ref().map(|t| Arc::clone(&t.graph)));
    let Some(graph) = graph else {
        let why = go
            .problems
            .iter()
            .find(|p| p.contains("export") || p.contains("moduledata"))
            .cloned()
            .unwrap_or_else(|| "no export table with types found".into());
        bail!("{label}: export types not readable: {why}");
    };
    let mut symbols: Vec<Symbol> = go
        .exports
        .iter()
        .filter_map(|e| {
            let typ = e.type_.clone()?;
            Some(Symbol {
                fingerprint: symbol_fingerprint(&graph, &e.name, e.kind, typ.id),
                type_string: typ.node().string.clone(),
                name: e.name.clone(),
                kind: e.kind,
                typ,
            })
        })
        .collect();
    symbols.sort_by(|a, b| a.name.cmp(&b.name));
    let mut problems = go.problems.clone();
    for e in go.exports.iter().filter(|e| e.type_.is_none()) {
        problems.push(format!("export {} has no readable type", e.name));
    }
    let structs = named_structs(&graph, symbols.iter().map(|s| s.typ.id));
    Ok(Contract {
        path: label.to_string(),
        go_version: go.version.clone(),
        plugin_path: go.plugin_path.clone(),
        symbols,
        structs,
        problems,
        graph,
    })
}

impl Contract {
    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The named struct for `--schema NAME`: a type string (`main.Config`), a type
    /// name (`Config`) or an exported symbol whose type is a (pointer to a) struct.
    pub fn find_struct(&self, name: &str) -> Result<&StructContract> {
        if let Some(s) = self.structs.iter().find(|s| s.name == name) {
            return Ok(s);
        }
        let by_name: Vec<&StructContract> = self
            .structs
            .iter()
            .filter(|s| self.graph.node(s.id).name() == name)
            .collect();
        match by_name.as_slice() {
            [one] => return Ok(one),
            [] => {}
            many => bail!(
                "struct name {name} is ambiguous: {}",
                many.iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        if let Some(sym) = self.symbol(name) {
            let mut id = sym.typ.id;
            while self.graph.node(id).kind == TypeKind::Ptr {
                match self.graph.node(id).elem {
                    Some(e) => id = e,
                    None => break,
                }
            }
            if let Some(s) = self.structs.iter().find(|s| s.id == id) {
                return Ok(s);
            }
        }
        let known: Vec<&str> = self.structs.iter().map(|s| s.name.as_str()).collect();
        bail!(
            "no struct {name} in {}; structs: {}",
            self.path,
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )
    }
}

fn hash16(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    crate::digest::hex(&digest[..8])
}

/// The canonical text of one node: its own shape, children by type string only.
fn shape(graph: &TypeGraph, n: &TypeNode) -> String {
    let s = |id: &TypeId| graph.node(*id).string.as_str();
    let mut out = format!("{} {}", n.kind.as_str(), n.string);
    if let Some(k) = &n.key {
        out.push_str(&format!(" key={}", s(k)));
    }
    if let Some(e) = &n.elem {
        out.push_str(&format!(" elem={}", s(e)));
    }
    if let Some(len) = n.len {
        out.push_str(&format!(" len={len}"));
    }
    if let Some(dir) = n.dir {
        out.push_str(&format!(" dir={dir:?}"));
    }
    for f in &n.fields {
        out.push_str(&format!(
            "\n field {} {} embedded={} tag={:?}",
            f.name,
            s(&f.typ),
            f.embedded,
            f.tag
        ));
    }
    for p in &n.params {
        out.push_str(&format!("\n in {}", s(p)));
    }
    for r in &n.results {
        out.push_str(&format!("\n out {}", s(r)));
    }
    if n.variadic {
        out.push_str("\n variadic");
    }
    for m in &n.methods {
        out.push_str(&format!(
            "\n method {} {}",
            m.name,
            m.signature.as_deref().unwrap_or("?")
        ));
    }
    out
}

fn symbol_fingerprint(graph: &TypeGraph, name: &str, kind: ExportKind, root: TypeId) -> String {
    let mut shapes: Vec<String> = graph
        .reachable(root)
        .into_iter()
        .map(|id| shape(graph, graph.node(id)))
        .collect();
    shapes.sort();
    shapes.dedup();
    hash16(&format!("{name} {kind:?}\n{}", shapes.join("\n")))
}

/// Every named struct reachable from `roots`, sorted by type string.
fn named_structs(graph: &TypeGraph, roots: impl Iterator<Item = TypeId>) -> Vec<StructContract> {
    let mut seen: BTreeMap<String, StructContract> = BTreeMap::new();
    for root in roots {
        for id in graph.reachable(root) {
            let n = graph.node(id);
            if n.kind != TypeKind::Struct || !n.named || seen.contains_key(&n.string) {
                continue;
            }
            let fields: Vec<FieldContract> = n
                .fields
                .iter()
                .map(|f| FieldContract {
                    name: f.name.clone(),
                    type_string: graph.node(f.typ).string.clone(),
                    tag: f.tag.clone(),
                    embedded: f.embedded,
                    exported: f.exported,
                    json: if f.exported {
                        tags::json_name(&f.tag, &f.name).name
                    } else {
                        None
                    },
                    constraints: tags::constraints(&f.tag),
                })
                .collect();
            seen.insert(
                n.string.clone(),
                StructContract {
                    name: n.string.clone(),
                    pkg_path: n.pkg_path.clone(),
                    fingerprint: hash16(&shape(graph, n)),
                    fields,
                    methods: n
                        .methods
                        .iter()
                        .map(|m| MethodContract {
                            name: m.name.clone(),
                            signature: m.signature.clone(),
                        })
                        .collect(),
                    id,
                },
            );
        }
    }
    seen.into_values().collect()
}
