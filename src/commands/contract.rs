//! `plugctl contract PLUGIN`: the exported API of a Go plugin read statically, a JSON
//! Schema for one of its structs, and config validation against that schema.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{Format, GlobalArgs};
use crate::contract::{self, schema, validate};
use crate::report;

pub const EXAMPLES: &str = "\
Examples:
  plugctl contract plugin.so                    exported symbols, types, structs, tags
  plugctl contract plugin.so --symbol Init      one symbol and the structs it reaches
  plugctl contract plugin.so --format json      the same as JSON (type trees, fingerprints)
  plugctl contract plugin.so --schema Config    JSON Schema (draft 2020-12) for a struct
  plugctl contract plugin.so --schema Config --config app.json    validate a config file
Tag grammar (see docs/json-schema.md):
  json:\"name,omitempty,string\"
  schema:\"required,optional,min=N,max=N,enum=a|b,format=F,pattern=RE\"
  validate:\"required,omitempty,min=N,max=N,len=N,gt=N,gte=N,lt=N,lte=N,oneof=a b,
            email,url,uri,uuid,ip,ipv4,ipv6,hostname,dive\"
Exit status: 0 ok (config valid), 1 config invalid, 2 an input could not be read.";

#[derive(Debug, Args)]
pub struct ContractArgs {
    /// The Go plugin (-buildmode=plugin) to read; it is never executed.
    #[arg(value_name = "PLUGIN")]
    pub plugin: PathBuf,
    /// Show only this exported symbol (and the structs it reaches).
    #[arg(long, value_name = "NAME", conflicts_with = "schema")]
    pub symbol: Option<String>,
    /// Emit JSON Schema for a struct: a type (`main.Config`), a type name (`Config`) or an
    /// exported variable of that type.
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
    /// Validate this JSON config against the --schema struct; exit 1 on any violation.
    #[arg(long, value_name = "FILE.json", requires = "schema")]
    pub config: Option<PathBuf>,
    /// Output format; `table` for people, `json` for machines (a schema is always JSON).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: &ContractArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let c = contract::read_path(&args.plugin)?;
    let style = stdout_style(global.color);
    let quiet_table = global.quiet && args.format == Format::Table;
    if let Some(name) = &args.schema {
        let st = c.find_struct(name)?;
        let schema = schema::for_struct(&c, st);
        let Some(config) = &args.config else {
            write_stdout(&report::contract::schema_json(&schema))?;
            return Ok(ExitStatus::Success);
        };
        let text = std::fs::read_to_string(config)
            .with_context(|| format!("{}: cannot read", config.display()))?;
        let instance: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not JSON", config.display()))?;
        let violations = validate::check(&schema, &instance)?;
        let verdict = validate::Verdict {
            config: config.display().to_string(),
            schema: st.name.clone(),
            valid: violations.is_empty(),
            violations,
        };
        let out = match args.format {
            Format::Json => report::contract::verdict_json(&verdict),
            Format::Table => report::contract::verdict_table(&verdict, style),
        };
        if !quiet_table {
            write_stdout(&out)?;
        }
        return Ok(if verdict.valid {
            ExitStatus::Success
        } else {
            ExitStatus::Findings
        });
    }
    let symbol = match &args.symbol {
        None => None,
        Some(name) => Some(c.symbol(name).with_context(|| {
            let names: Vec<&str> = c.symbols.iter().map(|s| s.name.as_str()).collect();
            format!(
                "{}: no exported symbol {name}; exports: {}",
                args.plugin.display(),
                names.join(", ")
            )
        })?),
    };
    let out = match args.format {
        Format::Json => report::contract::json(&c, symbol),
        Format::Table => report::contract::table(&c, symbol, style),
    };
    if !quiet_table {
        write_stdout(&out)?;
    }
    Ok(ExitStatus::Success)
}
