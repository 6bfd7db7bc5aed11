//! `plugctl inspect`: read artifacts, predict how they load, report.

use anyhow::Result;

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{FailOn, GlobalArgs, InspectArgs, InspectFormat};
use crate::findings::Severity;
use crate::predict::{self, Options, Report};
use crate::report;

pub fn run(args: &InspectArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let options = Options {
        host: args.host.clone(),
        ld_library_path: args.ld_library_path.clone(),
        sysroot: args.sysroot.clone(),
        lazy: args.lazy,
    };
    let report = predict::inspect(&args.artifacts, &options)?;
    for item in &report.artifacts {
        if let Err(err) = &item.artifact {
            eprintln!("plugctl: {}: {err}", item.path.display());
        }
    }
    let detail = report::json::Detail { symbols: args.symbols, tree: args.tree };
    let text = match args.format {
        InspectFormat::Json => report::json::render(&report, detail),
        InspectFormat::Sarif => report::sarif::render(&report),
        InspectFormat::Table => report::table::render(&report, stdout_style(global.color), detail),
    };
    if !(global.quiet && args.format == InspectFormat::Table) {
        write_stdout(&text)?;
    }
    Ok(exit_status(&report, args.fail_on))
}

/// 2 when any input could not be read; 1 when a finding reaches `fail_on`; else 0.
pub fn exit_status(report: &Report, fail_on: FailOn) -> ExitStatus {
    if report.artifacts.iter().any(|a| a.artifact.is_err()) {
        return ExitStatus::Error;
    }
    let threshold = match fail_on {
        FailOn::Never => return ExitStatus::Success,
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
        FailOn::Info => Severity::Info,
    };
    let worst = report
        .artifacts
        .iter()
        .filter_map(|a| a.worst_severity())
        .max();
    if worst.is_some_and(|w| w >= threshold) {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    }
}
