//! The contract layer: the plugin's exports looked up, and the types the user expected.

use crate::runtime::child::ChildRun;
use crate::runtime::contract::{Expect, type_matches};
use crate::runtime::details::{ContractDetails, ExportType};
use crate::runtime::events::{self, Event};
use crate::runtime::{Layer, LayerStatus};

/// The contract layer: expected exports and their types, and every export's type.
pub fn contract_layer(run: &ChildRun, i: usize, expect: &[Expect]) -> Layer {
    let idx = i as i64;
    let lookups: Vec<&events::Lookup> = run
        .target_events()
        .filter_map(|e| match e {
            Event::Lookup(l) if l.index == idx => Some(l),
            _ => None,
        })
        .collect();
    if lookups.is_empty() {
        return Layer::new(
            "contract",
            LayerStatus::Skip,
            "plugin not opened (or exports no symbols)",
        );
    }
    let mut failures = Vec::new();
    let mut types = Vec::new();
    let mut checked = Vec::new();
    for e in &lookups {
        let name = e.name.as_deref().unwrap_or("?");
        let actual = e.ty.as_deref();
        if !e.ok {
            failures.push(format!(
                "{name}: Lookup failed: {}",
                e.error.as_deref().unwrap_or("")
            ));
            continue;
        }
        types.push(ExportType {
            name: name.to_string(),
            ty: actual.map(str::to_string),
        });
        if e.role == "expect" {
            let expected = e.expected.as_deref();
            match (expected, actual) {
                (Some(want), Some(got)) if !type_matches(want, got) => {
                    failures.push(format!("{name} is {got}, expected {want}"));
                }
                _ => checked.push(format!("{name} {}", actual.unwrap_or("?"))),
            }
        }
    }
    let details = ContractDetails {
        expected: expect.to_vec(),
        exports: types,
    };
    if failures.is_empty() {
        let reason = if expect.is_empty() {
            format!(
                "{} export(s) looked up: {}",
                details.exports.len(),
                lookups
                    .iter()
                    .filter_map(|e| Some(format!("{} {}", e.name.as_deref()?, e.ty.as_deref()?)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "{} expectation(s) met: {}",
                checked.len(),
                checked.join(", ")
            )
        };
        Layer::new("contract", LayerStatus::Pass, reason).with(details)
    } else {
        Layer::new("contract", LayerStatus::Fail, failures.join("; ")).with(details)
    }
}
