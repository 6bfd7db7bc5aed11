//! The argument types shared by the commands (clap derive): global flags, formats and
//! `inspect`'s arguments. The command tree itself ([`crate::commands::Cli`]) lives with
//! the commands, so this module imports none of them. Validation beyond clap's lives in
//! the commands.

use std::path::PathBuf;

use clap::builder::{Resettable, StyledStr};
use clap::{ArgMatches, Args, Command, FromArgMatches, ValueEnum};

/// A subcommand's arguments, added to its `Command` only when that subcommand is parsed
/// (or the whole tree is built for help, completions and man pages). Building every
/// subcommand's arguments took 0.4 ms of each run, a tenth of `inspect` on a big plugin.
#[derive(Debug)]
pub struct Deferred<T>(pub T);

impl<T> std::ops::Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: Command) -> Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args_for_update))
    }

    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

/// Adds the arguments and keeps the subcommand's own description: added late, a
/// flattened struct's doc comment would otherwise replace it.
fn keep_about(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let restore = |text: Option<StyledStr>| text.map_or(Resettable::Reset, Resettable::Value);
    augment(cmd)
        .about(restore(about))
        .long_about(restore(long_about))
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to colour output: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log what plugctl does on stderr (commands run, steps); repeat for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

pub const INSPECT_EXAMPLES: &str = "\
Examples:
  plugctl inspect plugin.so                      facts, findings and the loader's verdict
  plugctl inspect --host ./server plugin.so      will ./server's plugin.Open accept it?
  plugctl inspect --host ./server a.so b.so      both, opened in that order by one process
  plugctl inspect --format json lib*.so          the stable JSON document (schema_version 1)
  plugctl inspect --format sarif --host ./server *.so > plugctl.sarif   for code scanning
  plugctl inspect --tree --sysroot /img libx.so  dependency tree against a container rootfs
  plugctl inspect --host ./arm64-server --sysroot /usr/aarch64-linux-gnu plugin.so
                                                 an arm64 host checked on this machine
  plugctl inspect --wasm-ready ./plugin          what blocks GOOS=wasip1 (cgo, syscalls)";

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Files to inspect (shared objects, Go plugins, executables).
    #[arg(required = true, value_name = "ARTIFACT")]
    pub artifacts: Vec<PathBuf>,

    /// The Go (or C) program that will load the artifacts; enables Go's plugin checks.
    #[arg(long, value_name = "HOST")]
    pub host: Option<PathBuf>,

    /// Output format; `table` for people, `json` for machines, `sarif` for code scanning.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    pub format: InspectFormat,

    /// Exit 1 when a finding of this severity or above is present.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// Walk directories given as ARTIFACT and inspect every ELF file below them.
    #[arg(short = 'r', long)]
    pub recursive: bool,

    /// List undefined dynamic symbols and Go plugin exports in full.
    #[arg(long)]
    pub symbols: bool,

    /// Show the dependency tree with where each library was found and why.
    #[arg(long)]
    pub tree: bool,

    /// LD_LIBRARY_PATH to assume (default: this process's environment).
    #[arg(long, value_name = "DIRS")]
    pub ld_library_path: Option<String>,

    /// The target's root file system (an unpacked container image, a cross sysroot such as
    /// /usr/aarch64-linux-gnu): libraries, ld.so.cache and the interpreter are read inside
    /// DIR. HOST and ARTIFACT stay paths on this machine. The target's architecture is
    /// the host's (without a host: the first artifact's, when --sysroot is given); a
    /// foreign host without --sysroot gets a Go-level prediction that assumes the
    /// target's libraries are present.
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,

    /// Predict for dlopen(RTLD_LAZY) instead of RTLD_NOW (only for C hosts; Go always uses RTLD_NOW).
    #[arg(long)]
    pub lazy: bool,

    /// One process opens every artifact, in the order given (or sorted, with -r): each
    /// sees what the earlier ones bound (static TLS, plugin paths, package hashes). The
    /// default with a Go `--host`: a program calling plugin.Open loads its plugin
    /// directory into one process, in an order.
    #[arg(long, conflicts_with = "each")]
    pub sequence: bool,

    /// Each artifact in a fresh process of its own (of `--host`, or of a minimal C
    /// program). The default without a Go host: a directory of libraries is a set of
    /// independent candidates, not one process.
    #[arg(long)]
    pub each: bool,

    /// Treat each ARTIFACT as a plugin's source package directory and report what blocks
    /// running it as WebAssembly (GOOS=wasip1): cgo, packages without wasip1 support,
    /// APIs wasip1 lacks or stubs, each with file, line and import chain.
    #[arg(long, conflicts_with_all = ["host", "recursive", "sysroot"])]
    pub wasm_ready: bool,

    /// With --wasm-ready: build with this Go release (default: go.mod's, or the newest installed ≥ 1.24).
    #[arg(long = "go", value_name = "VERSION", requires = "wasm_ready")]
    pub go: Option<String>,
}

impl InspectArgs {
    /// `--sequence`/`--each` as given; `None` lets the host decide (see their help).
    pub fn process_mode(&self) -> Option<crate::predict::ProcessMode> {
        use crate::predict::ProcessMode;
        match (self.sequence, self.each) {
            (true, _) => Some(ProcessMode::Sequence),
            (_, true) => Some(ProcessMode::Each),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// `inspect`'s formats: the generic ones and SARIF 2.1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    Table,
    Json,
    /// One JSON object per artifact, printed as soon as it is ready, then a summary line.
    Jsonl,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}
