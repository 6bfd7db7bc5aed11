//! Validates a JSON config against a schema from `schema` with the `jsonschema` crate
//! (draft 2020-12, all violations, each with the JSON pointer of the offending value).

use anyhow::{Result, anyhow};
use serde::Serialize;
use serde_json::Value;

/// One violation.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// JSON pointer into the config, e.g. `/primary/url`; empty for the whole document.
    pub path: String,
    /// The schema keyword's location, e.g. `/properties/name/minLength`.
    pub schema_path: String,
    pub message: String,
}

/// The verdict on one config file.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub config: String,
    pub schema: String,
    pub valid: bool,
    pub violations: Vec<Violation>,
}

/// Validates `instance` against `schema`; an error only when the schema itself does not
/// compile (a bug in plugctl's schema, not in the config).
pub fn check(schema: &Value, instance: &Value) -> Result<Vec<Violation>> {
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| anyhow!("the emitted schema does not compile: {e}"))?;
    let mut out: Vec<Violation> = validator
        .iter_errors(instance)
        .map(|e| Violation {
            path: e.instance_path().to_string(),
            schema_path: e.schema_path().to_string(),
            message: e.to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path).then(a.message.cmp(&b.message)));
    Ok(out)
}
