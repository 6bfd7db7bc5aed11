//! `plugctl diff` output: the JSON document (the text table is rendered by
//! `gobuild::render::diff`, on its way here).

use crate::compare::Diff;

/// `plugctl diff --format json`: the comparison as one pretty JSON document.
pub fn json(diff: &Diff) -> String {
    serde_json::to_string_pretty(diff).expect("a diff serialises") + "\n"
}
