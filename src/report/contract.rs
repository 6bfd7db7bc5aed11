//! The human and JSON views of `plugctl contract` and the contract part of `plugctl diff`.

use serde::Serialize;

use crate::contract::drift::{Class, ContractDiff};
use crate::contract::validate::Verdict;
use crate::contract::{Contract, StructContract, Symbol};

use super::Style;

/// `contract --schema NAME`: the JSON Schema of one struct, as one pretty document.
pub fn schema_json(schema: &serde_json::Value) -> String {
    serde_json::to_string_pretty(schema).expect("a schema serialises") + "\n"
}

/// `contract --format json`: the whole contract, or one symbol with the structs it reaches.
pub fn json(contract: &Contract, symbol: Option<&Symbol>) -> String {
    #[derive(Serialize)]
    struct One<'a> {
        path: &'a str,
        go_version: &'a str,
        plugin_path: Option<&'a str>,
        symbols: Vec<&'a Symbol>,
        structs: Vec<&'a StructContract>,
        problems: &'a [String],
    }
    let text = match symbol {
        None => serde_json::to_string_pretty(contract),
        Some(sym) => {
            let reach = contract.graph.reachable(sym.typ.id);
            serde_json::to_string_pretty(&One {
                path: &contract.path,
                go_version: &contract.go_version,
                plugin_path: contract.plugin_path.as_deref(),
                symbols: vec![sym],
                structs: contract
                    .structs
                    .iter()
                    .filter(|s| reach.contains(&s.id))
                    .collect(),
                problems: &contract.problems,
            })
        }
    };
    text.expect("contract serializes") + "\n"
}

/// `contract --format table`.
pub fn table(contract: &Contract, symbol: Option<&Symbol>, style: Style) -> String {
    let mut out = format!(
        "{}  {} plugin {}\n",
        style.paint(&contract.path, None, true),
        contract.go_version,
        contract.plugin_path.as_deref().unwrap_or("(unknown path)")
    );
    let symbols: Vec<&Symbol> = match symbol {
        Some(s) => vec![s],
        None => contract.symbols.iter().collect(),
    };
    let reach: Vec<usize> = symbols
        .iter()
        .flat_map(|s| contract.graph.reachable(s.typ.id))
        .collect();
    out.push_str(&format!("\nexports ({}):\n", symbols.len()));
    let width = symbols.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &symbols {
        let kind = format!("{:?}", s.kind).to_lowercase();
        out.push_str(&format!(
            "  {:<4} {:<width$}  {}  [{}]\n",
            kind, s.name, s.type_string, s.fingerprint
        ));
    }
    let structs: Vec<&StructContract> = contract
        .structs
        .iter()
        .filter(|s| reach.contains(&s.id))
        .collect();
    for st in structs {
        out.push_str(&format!(
            "\nstruct {}  [{}]\n",
            style.paint(&st.name, None, true),
            st.fingerprint
        ));
        let fw = st.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
        let tw = st
            .fields
            .iter()
            .map(|f| f.type_string.len())
            .max()
            .unwrap_or(0);
        for f in &st.fields {
            let mut line = format!("  {:<fw$}  {:<tw$}", f.name, f.type_string);
            if f.embedded {
                line.push_str("  (embedded)");
            }
            if !f.tag.is_empty() {
                line.push_str(&format!("  `{}`", f.tag));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for m in &st.methods {
            out.push_str(&format!(
                "  method {} {}\n",
                m.name,
                m.signature
                    .as_deref()
                    .unwrap_or("(type not kept by the linker)")
            ));
        }
    }
    for p in &contract.problems {
        out.push_str(&format!("\nproblem: {p}\n"));
    }
    out
}

/// `contract --config`: one line per violation, or `valid`.
pub fn verdict_table(v: &Verdict, style: Style) -> String {
    if v.valid {
        return format!(
            "{}: {} against {}\n",
            v.config,
            style.paint("valid", Some(comfy_table::Color::Green), true),
            v.schema
        );
    }
    let mut out = format!(
        "{}: {} against {} ({} violation(s))\n",
        v.config,
        style.paint("invalid", Some(comfy_table::Color::Red), true),
        v.schema,
        v.violations.len()
    );
    for x in &v.violations {
        let path = if x.path.is_empty() { "/" } else { &x.path };
        out.push_str(&format!("  {path}: {}\n", x.message));
    }
    out
}

pub fn verdict_json(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).expect("verdict serializes") + "\n"
}

/// The contract section of `plugctl diff`'s table.
pub fn diff_table(d: &ContractDiff, style: Style) -> String {
    let mut out = format!(
        "contract: {} breaking, {} compatible change(s); {} symbol(s) unchanged\n",
        d.breaking, d.compatible, d.unchanged_symbols
    );
    for c in &d.changes {
        let class = match c.class {
            Class::Breaking => style.paint("breaking  ", Some(comfy_table::Color::Red), true),
            Class::Compatible => style.paint("compatible", Some(comfy_table::Color::Green), false),
        };
        out.push_str(&format!("  {class} {}: {}", c.subject, c.detail));
        match (&c.old, &c.new) {
            (Some(o), Some(n)) if o != n && !c.detail.contains(o.as_str()) => {
                out.push_str(&format!("\n             {o}  ->  {n}"));
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}
