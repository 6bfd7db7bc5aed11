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
pub mod wasm;

use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;
use crate::report::Style;

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
}

/// Decides colour for stdout: `--color`, then `NO_COLOR`, `TERM=dumb` and whether stdout is a terminal.
pub fn stdout_style(choice: ColorChoice) -> Style {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
                && std::io::stdout().is_terminal()
        }
    };
    Style { color }
}

/// A `--verbose` log line on stderr (`plugctl: ...`), when `-v` was given `level` times
/// or more; never with `-q`. Data goes to stdout, logs never do.
pub fn verbose(global: &crate::cli::GlobalArgs, level: u8, message: impl std::fmt::Display) {
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
