//! `plugctl doctor`: can this machine build Go plugins and hosts that load into each other?

use anyhow::Result;
use clap::Args;

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{Format, GlobalArgs};
use crate::doctor::{self, DoctorReport};
use crate::report;
use crate::report::progress::Progress;

pub const EXAMPLES: &str = "\
Examples:
  plugctl doctor                     every check, then build a plugin and a host and load it
  plugctl doctor --quick             skip the smoke test (no build; seconds instead of a minute)
  plugctl doctor --format json       the checks as JSON (status ok/warn/fail/skip, observed, fix)
  plugctl doctor -v                  also log every command run (go env, go build) on stderr
  PATH=/opt/go/bin:$PATH plugctl doctor   check with another go first on PATH

Exit status: 0 when no check fails (warnings allowed), 1 when one does.";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Output format; `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Skip the smoke test (building a plugin and a host and loading it).
    #[arg(long, visible_alias = "offline")]
    pub quick: bool,
}

pub fn run(args: &DoctorArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let progress = Progress::new(global.quiet);
    let verbose = global.verbose > 0 && !global.quiet;
    let on_step = |text: &str| {
        progress.status(text);
        if verbose {
            progress.line(text);
        }
    };
    let on_detail = |text: &str| {
        if verbose {
            progress.line(text);
        }
    };
    let options = doctor::Options {
        smoke: !args.quick,
        keep_failed: verbose,
        on_step: &on_step,
        on_detail: &on_detail,
    };
    let report = doctor::run(&options);
    progress.finish();
    let text = match args.format {
        Format::Json => report::doctor::render_json(&report),
        Format::Table if global.quiet => {
            report::doctor::render_failed(&report, stdout_style(global.color))
        }
        Format::Table => report::doctor::render_table(&report, stdout_style(global.color)),
    };
    write_stdout(&text)?;
    Ok(exit_status(&report))
}

/// 1 when any check failed, else 0 (warnings and skipped checks do not fail).
pub fn exit_status(report: &DoctorReport) -> ExitStatus {
    if report.failed() {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Check, Status};

    fn report(statuses: &[Status]) -> DoctorReport {
        let checks = statuses
            .iter()
            .map(|&status| Check {
                id: "x".into(),
                title: "x".into(),
                status,
                observed: String::new(),
                fix: String::new(),
            })
            .collect();
        DoctorReport {
            cache_dir: "/cache".into(),
            checks,
        }
    }

    #[test]
    fn only_failures_fail() {
        assert_eq!(
            exit_status(&report(&[Status::Ok, Status::Warn, Status::Skip])),
            ExitStatus::Success
        );
        assert_eq!(
            exit_status(&report(&[Status::Ok, Status::Fail])),
            ExitStatus::Findings
        );
    }
}
