//! Command-line arguments (clap derive). Validation beyond clap's lives in the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to colour output: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read ELF shared objects and Go plugins (never executing them) and predict how they load.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
}

const INSPECT_EXAMPLES: &str = "\
Examples:
  plugctl inspect plugin.so                      facts, findings and the loader's verdict
  plugctl inspect --host ./server plugin.so      will ./server's plugin.Open accept it?
  plugctl inspect --host ./server a.so b.so      both, opened in that order by one process
  plugctl inspect --format json lib*.so          the stable JSON document (schema_version 1)
  plugctl inspect --tree --sysroot /img libx.so  dependency tree against a container rootfs";

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Files to inspect (shared objects, Go plugins, executables).
    #[arg(required = true, value_name = "ARTIFACT")]
    pub artifacts: Vec<PathBuf>,

    /// The Go (or C) program that will load the artifacts; enables Go's plugin checks.
    #[arg(long, value_name = "HOST")]
    pub host: Option<PathBuf>,

    /// Output format; `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Exit 1 when a finding of this severity or above is present.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// List undefined dynamic symbols and Go plugin exports in full.
    #[arg(long)]
    pub symbols: bool,

    /// Show the dependency tree with where each library was found and why.
    #[arg(long)]
    pub tree: bool,

    /// LD_LIBRARY_PATH to assume (default: this process's environment).
    #[arg(long, value_name = "DIRS")]
    pub ld_library_path: Option<String>,

    /// Resolve libraries inside this root file system (a container image, a sysroot).
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,

    /// Predict for dlopen(RTLD_LAZY) instead of RTLD_NOW (only for C hosts; Go always uses RTLD_NOW).
    #[arg(long)]
    pub lazy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
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
