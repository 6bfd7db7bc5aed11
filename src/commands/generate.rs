//! `plugctl generate --out-dir DIR`: shell completions and man pages from the clap
//! definition, into `DIR/completions` and `DIR/man`. A special mode, parsed before the
//! main command line and absent from it, so it appears in none of the files it writes.
//! The repository keeps the output checked in; `tests/generated.rs` fails when it is
//! stale. Refresh with `cargo run -- generate --out-dir .`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use clap_complete::Shell;

use super::Cli;
use super::ExitStatus;

/// The command that refreshes the checked-in files (printed by the staleness test).
pub const REFRESH: &str = "cargo run -- generate --out-dir .";

/// Writes shell completions (bash, zsh, fish, elvish, PowerShell) and man pages.
#[derive(Debug, Parser)]
#[command(name = "plugctl generate", disable_version_flag = true)]
pub struct GenerateArgs {
    /// Directory to write `completions/` and `man/` into (`.` refreshes the repository's).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,

    /// Do not list the files written.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `plugctl generate ...` when that is the command line; `None` otherwise.
pub fn special_mode() -> Option<ExitStatus> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != "generate" {
        return None;
    }
    let args =
        GenerateArgs::parse_from(std::iter::once(OsString::from("plugctl generate")).chain(args));
    Some(match run(&args) {
        Ok(status) => status,
        Err(err) => {
            eprintln!("plugctl: {err:#}");
            ExitStatus::Error
        }
    })
}

/// Writes every completion script and man page; returns the files written.
pub fn generate(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let completions = out_dir.join("completions");
    let man = out_dir.join("man");
    for dir in [&completions, &man] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Pages of subcommands that no longer exist must not linger.
    for entry in std::fs::read_dir(&man)
        .with_context(|| format!("reading {}", man.display()))?
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "1") {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    let mut written = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut command = Cli::command();
        let path = clap_complete::generate_to(shell, &mut command, "plugctl", &completions)
            .with_context(|| {
                format!("writing {shell} completions into {}", completions.display())
            })?;
        written.push(path);
    }
    clap_mangen::generate_to(Cli::command(), &man)
        .with_context(|| format!("writing man pages into {}", man.display()))?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .collect();
    pages.sort();
    written.extend(pages);
    Ok(written)
}

pub fn run(args: &GenerateArgs) -> Result<ExitStatus> {
    let written = generate(&args.out_dir)?;
    if !args.quiet {
        for path in &written {
            eprintln!("plugctl: wrote {}", path.display());
        }
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_arguments_are_consistent() {
        GenerateArgs::command().debug_assert();
    }
}
