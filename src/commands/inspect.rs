//! `plugctl inspect`: read artifacts, predict how they load, report.

use anyhow::Result;

use super::{ExitStatus, inputs, stdout_style, write_stdout};
use crate::cli::{FailOn, GlobalArgs, InspectArgs, InspectFormat};
use crate::findings::Severity;
use crate::predict::{self, ArtifactReport, Options};
use crate::report;

pub fn run(args: &InspectArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    if args.wasm_ready {
        return super::wasm::ready(args, global);
    }
    let options = Options {
        host: args.host.clone(),
        ld_library_path: args.ld_library_path.clone(),
        sysroot: args.sysroot.clone(),
        lazy: args.lazy,
        mode: args.process_mode(),
        process: None,
    };
    let paths = inputs::expand(&args.artifacts, args.recursive)?;
    let detail = report::json::Detail {
        symbols: args.symbols,
        tree: args.tree,
    };
    let mut tally = Tally::default();
    if args.format == InspectFormat::Jsonl {
        let mut summary = report::json::Summary::default();
        let mut failed = None;
        let setting = predict::inspect_each(&paths, &options, |_, item| {
            tally.add(&item);
            summary.add(&item);
            warn_unreadable(&item, args.recursive);
            if failed.is_none()
                && let Err(err) = write_stdout(&report::json::line(&item, detail))
            {
                failed = Some(err);
            }
        })?;
        if let Some(err) = failed {
            return Err(err.into());
        }
        write_stdout(&report::json::summary_line(&summary, setting.mode))?;
        return Ok(tally.status(args.fail_on));
    }
    super::verbose(
        global,
        1,
        format_args!("inspecting {} artifact(s)", paths.len()),
    );
    let report = predict::inspect(&paths, &options)?;
    let env = &report.environment;
    super::verbose(
        global,
        1,
        format_args!(
            "loader environment: glibc {} ({}), ld.so.cache {}, static TLS surplus {} bytes",
            env.glibc_version.as_deref().unwrap_or("unknown"),
            env.libc_path.as_deref().unwrap_or("no libc.so.6"),
            env.cache_status,
            env.static_tls.surplus
        ),
    );
    for item in &report.artifacts {
        tally.add(item);
        warn_unreadable(item, args.recursive);
    }
    let text = match args.format {
        InspectFormat::Json => report::json::render(&report, detail),
        InspectFormat::Sarif => report::sarif::render(&report),
        InspectFormat::Table | InspectFormat::Jsonl => {
            report::table::render(&report, stdout_style(global.color), detail)
        }
    };
    if !(global.quiet && args.format == InspectFormat::Table) {
        write_stdout(&text)?;
    }
    // The process ends right after this: unmapping and freeing a large report costs
    // more than the rest of a small run (munmap was 6% of inspecting a 15 MB plugin).
    std::mem::forget(report);
    Ok(tally.status(args.fail_on))
}

/// The one-line error for an input that could not be read, on stderr; a directory
/// given without `-r` gets the command that walks it.
fn warn_unreadable(item: &ArtifactReport, recursive: bool) {
    if let Err(err) = &item.artifact {
        let shown = item.path.display();
        if !recursive && item.path.is_dir() {
            eprintln!(
                "plugctl: {shown}: {err} (to inspect the ELF files below it: plugctl inspect -r {shown})"
            );
        } else {
            eprintln!("plugctl: {shown}: {err}");
        }
    }
}

/// What decides the exit status, gathered one artifact at a time.
#[derive(Debug, Default)]
pub struct Tally {
    unreadable: bool,
    worst: Option<Severity>,
}

impl Tally {
    pub fn add(&mut self, item: &ArtifactReport) {
        self.unreadable |= item.artifact.is_err();
        self.worst = self.worst.max(item.worst_severity());
    }

    /// 2 when any input could not be read; 1 when a finding reaches `fail_on`; else 0.
    pub fn status(&self, fail_on: FailOn) -> ExitStatus {
        if self.unreadable {
            return ExitStatus::Error;
        }
        let threshold = match fail_on {
            FailOn::Never => return ExitStatus::Success,
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        };
        if self.worst.is_some_and(|w| w >= threshold) {
            ExitStatus::Findings
        } else {
            ExitStatus::Success
        }
    }
}
