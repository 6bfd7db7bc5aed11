//! The type contract and lifecycle settings: `--expect 'Name=TYPE'` flags (parsed in
//! `commands::values`) and a contract file (`plugctl.toml`):
//!
//! ```toml
//! [expect]
//! Handler = "func(context.Context, string) (string, error)"
//! Name = "*string"           # exported variables are pointers, as Lookup returns them
//! Init = ""                  # must exist, any type
//!
//! [lifecycle]
//! init = "Init"              # names of the lifecycle functions ("" = none)
//! run = "Run"
//! close = "Close"
//! phase_timeout = "5s"
//! run_for = "0s"             # cancel Run's context after this long (0: never)
//!
//! [lifecycle_check]          # plugctl load --lifecycle-check
//! run_before_init = "refused"   # refused | panicked | hung | crashed | accepted | any
//! init_twice = "refused"
//! run_after_close = "refused"
//! close_twice = "accepted"
//! init_timeout = "3s"        # the seed's Init budget; run_timeout, close_timeout too
//! ```
//!
//! Types are compared as Go's `reflect.Type.String()` prints them, whitespace ignored:
//! types from non-std packages cannot be named by the harness, only spelled.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::lifecycle_check::{CheckSpec, Reaction};

/// One expected export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    pub name: String,
    /// `None`: must exist, any type.
    #[serde(rename = "type")]
    pub ty: Option<String>,
}

/// Names and timeouts of the lifecycle phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub init: Option<String>,
    pub run: Option<String>,
    pub close: Option<String>,
    pub phase_timeout: Duration,
    pub run_for: Duration,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            init: Some("Init".into()),
            run: Some("Run".into()),
            close: Some("Close".into()),
            phase_timeout: Duration::from_secs(10),
            run_for: Duration::ZERO,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expect: BTreeMap<String, String>,
    #[serde(default)]
    lifecycle: Option<LifecycleFile>,
    #[serde(default)]
    lifecycle_check: Option<LifecycleCheckFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleCheckFile {
    run_before_init: Option<String>,
    init_twice: Option<String>,
    run_after_close: Option<String>,
    close_twice: Option<String>,
    init_timeout: Option<String>,
    run_timeout: Option<String>,
    close_timeout: Option<String>,
    run_for: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleFile {
    init: Option<String>,
    run: Option<String>,
    close: Option<String>,
    phase_timeout: Option<String>,
    run_for: Option<String>,
}

/// A parsed contract file: expectations and lifecycle overrides.
#[derive(Debug, Clone, Default)]
pub struct ContractFile {
    pub expect: Vec<Expect>,
    pub init: Option<Option<String>>,
    pub run: Option<Option<String>>,
    pub close: Option<Option<String>>,
    pub phase_timeout: Option<Duration>,
    pub run_for: Option<Duration>,
    /// `[lifecycle_check]`: expectations and timeouts for `--lifecycle-check`.
    pub lifecycle_check: CheckSpec,
}

/// A trimmed name, `None` for an empty one (`""` means none).
pub fn name_or_none(text: String) -> Option<String> {
    let t = text.trim().to_string();
    (!t.is_empty()).then_some(t)
}

pub fn read_contract_file(path: &Path) -> Result<ContractFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("contract {}", path.display()))?;
    parse_contract(&text).with_context(|| format!("contract {}", path.display()))
}

pub fn parse_contract(text: &str) -> Result<ContractFile> {
    let file: File = toml::from_str(text)?;
    let mut out = ContractFile::default();
    for (name, ty) in file.expect {
        check_ident(&name)?;
        out.expect.push(Expect {
            name,
            ty: name_or_none(ty),
        });
    }
    if let Some(l) = file.lifecycle {
        out.init = l.init.map(name_or_none);
        out.run = l.run.map(name_or_none);
        out.close = l.close.map(name_or_none);
        out.phase_timeout = l.phase_timeout.as_deref().map(parse_duration).transpose()?;
        out.run_for = l.run_for.as_deref().map(parse_duration).transpose()?;
    }
    if let Some(c) = file.lifecycle_check {
        let check = &mut out.lifecycle_check;
        for (name, value) in [
            ("run_before_init", c.run_before_init),
            ("init_twice", c.init_twice),
            ("run_after_close", c.run_after_close),
            ("close_twice", c.close_twice),
        ] {
            if let Some(v) = value {
                let reaction =
                    Reaction::parse(&v).with_context(|| format!("lifecycle_check.{name}"))?;
                check.expected.retain(|e| e.0 != name);
                check.expected.push((name.to_string(), reaction));
            }
        }
        for (slot, value) in [
            (&mut check.init_timeout, c.init_timeout),
            (&mut check.run_timeout, c.run_timeout),
            (&mut check.close_timeout, c.close_timeout),
            (&mut check.run_for, c.run_for),
        ] {
            if let Some(v) = value {
                *slot = parse_duration(&v)?;
            }
        }
    }
    Ok(out)
}

/// An exported Go identifier, as `Plugin.Lookup` takes it.
pub fn check_ident(name: &str) -> Result<()> {
    let mut chars = name.chars();
    if !chars.next().is_some_and(char::is_uppercase)
        || !chars.all(|c| c.is_alphanumeric() || c == '_')
    {
        bail!("`{name}` is not an exported Go identifier (Plugin.Lookup takes an upper-case name)");
    }
    Ok(())
}

/// Whether `actual` (reflect's spelling) is the type `expected` names: whitespace is
/// ignored and `any` is `interface {}`.
pub fn type_matches(expected: &str, actual: &str) -> bool {
    normalize_type(expected) == normalize_type(actual)
}

pub fn normalize_type(t: &str) -> String {
    let squeezed: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    // `any` as a whole word → interface{}.
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word == "any" {
            out.push_str("interface{}");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in squeezed.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

// Durations and sizes of the contract file (and the matrix file) are read as the flags' are.
pub use crate::units::{parse_duration, parse_size};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_compare_like_reflect_prints_them() {
        assert!(type_matches(
            "func(context.Context) error",
            "func(context.Context) error"
        ));
        assert!(type_matches(
            "func( context.Context )error",
            "func(context.Context) error"
        ));
        assert!(type_matches(
            "func(any) any",
            "func(interface {}) interface {}"
        ));
        assert!(!type_matches("func(context.Context) error", "func() error"));
        assert!(!type_matches("*string", "*int"));
    }

    #[test]
    fn contract_files_parse() {
        let c = parse_contract(
            "[expect]\nHandler = \"func(context.Context, string) (string, error)\"\nName = \"\"\n[lifecycle]\ninit = \"Start\"\nclose = \"\"\nphase_timeout = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(c.expect.len(), 2);
        assert_eq!(
            c.expect[1],
            Expect {
                name: "Name".into(),
                ty: None
            }
        );
        assert_eq!(c.init, Some(Some("Start".into())));
        assert_eq!(c.close, Some(None));
        assert_eq!(c.phase_timeout, Some(Duration::from_secs(2)));
        assert!(parse_contract("[expect]\nlower = \"int\"\n").is_err());
        assert!(parse_contract("[bogus]\n").is_err());
        let c = parse_contract(
            "[lifecycle_check]\nclose_twice = \"accepted\"\ninit_twice = \"any\"\ninit_timeout = \"1s\"\n",
        )
        .unwrap();
        let check = &c.lifecycle_check;
        assert_eq!(check.expected("close_twice"), Some(Reaction::Accepted));
        assert_eq!(check.expected("init_twice"), None);
        assert_eq!(check.expected("run_before_init"), Some(Reaction::Refused));
        assert_eq!(check.init_timeout, Duration::from_secs(1));
        assert!(parse_contract("[lifecycle_check]\nclose_twice = \"maybe\"\n").is_err());
    }
}
