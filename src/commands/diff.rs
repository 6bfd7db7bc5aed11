//! `plugctl diff A B`: what differs between two artifacts' build facts, and why.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{Format, GlobalArgs};
use crate::compare;

use crate::report;

pub const EXAMPLES: &str = "\
Examples:
  plugctl diff ./server plugin.so        why the plugin's package hashes differ from the host's
  plugctl diff old.so new.so             what changed between two builds of a plugin
  plugctl diff --format json a.so b.so   the same, for machines
Between two Go plugins the exported API is compared too (symbols, signatures, struct fields and
tags), each change classified breaking or compatible for a host built against A.
Exit status: 0 same build facts and no breaking contract change, 1 differences, 2 an input could
not be read.";

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first artifact (a host, a plugin, any ELF object).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The second artifact.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Output format; `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: &DiffArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let d = compare::compare_paths(&args.a, &args.b)?;
    let text = match args.format {
        Format::Json => report::diff::json(&d),
        Format::Table => report::build::diff(&d, stdout_style(global.color)),
    };
    if !(global.quiet && args.format == Format::Table) {
        write_stdout(&text)?;
    }
    let breaking = d.contract.as_ref().is_some_and(|c| c.breaking > 0);
    Ok(if d.same_build_facts && !breaking {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
