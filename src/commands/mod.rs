//! One module per subcommand: wires arguments to the library and chooses the exit status.

pub mod build;
pub mod contract;
pub mod diff;
pub mod doctor;
pub mod explain;
pub mod generate;
pub mod inputs;
pub mod inspect;
pub mod load;
pub mod matrix;
pub mod values;
pub mod wasm;

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::cli::{ColorChoice, Deferred, GlobalArgs};
use crate::report::Style;

// The command line: global flags and one subcommand (here, so `cli` imports no command).
#[derive(Debug, Parser)]
#[command(
    name = "plugctl",
    version,
    about = "Tells why a Go plugin or ELF shared object will not load into its host, before production does.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read ELF shared objects and Go plugins (never executing them) and predict how they load.
    #[command(after_help = crate::cli::INSPECT_EXAMPLES)]
    Inspect(Deferred<crate::cli::InspectArgs>),
    /// Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified.
    #[command(after_help = build::EXAMPLES)]
    Build(Deferred<build::BuildArgs>),
    /// Read a Go plugin's exported API statically: types, struct tags, fingerprints, JSON Schema, config checks.
    #[command(after_help = contract::EXAMPLES)]
    Contract(Deferred<contract::ContractArgs>),
    /// Compare two artifacts' build facts and say which difference explains the others.
    #[command(after_help = diff::EXAMPLES)]
    Diff(Deferred<diff::DiffArgs>),
    /// Load plugins for real in sandboxed child processes and report every layer.
    #[command(after_help = load::EXAMPLES)]
    Load(Deferred<load::LoadArgs>),
    /// Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin.
    #[command(after_help = doctor::EXAMPLES)]
    Doctor(Deferred<doctor::DoctorArgs>),
    /// Explain a finding code: what it means, how it is detected, the runtime error, the fix.
    #[command(after_help = explain::EXAMPLES)]
    Explain(Deferred<explain::ExplainArgs>),
    /// Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect.
    #[command(after_help = matrix::EXAMPLES)]
    // Not deferred: its own subcommands (`merge`) must exist when clap builds `help`.
    Matrix(matrix::MatrixArgs),
}

/// How a command ended; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing at or above the failure threshold.
    Success,
    /// Findings at or above the threshold (or an artifact would not load).
    Findings,
    /// Usage error or an input that could not be read.
    Error,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Findings => 1,
            ExitStatus::Error => 2,
        }
    }

    /// A load's status from its artifacts' worst layers: 2 when a layer could not run,
    /// 1 when one failed, else 0.
    pub fn of_loads(worst: impl Iterator<Item = crate::runtime::LayerStatus>) -> ExitStatus {
        match crate::runtime::worst(worst) {
            crate::runtime::LayerStatus::Error => ExitStatus::Error,
            crate::runtime::LayerStatus::Fail => ExitStatus::Findings,
            _ => ExitStatus::Success,
        }
    }
}

/// Decides colour for stdout: `--color`, then (auto) what `anstream` decides for a stream:
/// `NO_COLOR`, `CLICOLOR`/`CLICOLOR_FORCE`, `TERM=dumb` and whether stdout is a terminal.
pub fn stdout_style(choice: ColorChoice) -> Style {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    };
    Style { color }
}

/// A `--verbose` log line on stderr (`plugctl: ...`), when `-v` was given `level` times
/// or more; never with `-q`. Data goes to stdout, logs never do.
pub fn verbose(global: &GlobalArgs, level: u8, message: impl std::fmt::Display) {
    if !global.quiet && global.verbose >= level {
        eprintln!("plugctl: {message}");
    }
}

/// Writes the command's data to stdout. A closed pipe (`plugctl … | head`) is not an error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
