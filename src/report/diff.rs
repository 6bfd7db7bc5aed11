//! `plugctl diff` output: the JSON document (the text table is
//! `report::build::diff`, beside the build views it shares its layout with).

use crate::compare::Diff;

/// `plugctl diff --format json`: the comparison as one pretty JSON document.
pub fn json(diff: &Diff) -> String {
    serde_json::to_string_pretty(diff).expect("a diff serialises") + "\n"
}
