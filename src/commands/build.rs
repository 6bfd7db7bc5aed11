//! `plugctl build`: build a plugin that loads into a host, verify it, write a manifest.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{Format, GlobalArgs};
use crate::gobuild::{self, AlignOptions, BuildError, Explicit, Request};
use crate::report;
use crate::report::progress::Progress;

pub const EXAMPLES: &str = "\
Examples:
  plugctl build --host ./server -o greeter.so ./plugins/greeter
                                      same toolchain, flags and shared modules as ./server
  plugctl build --host ./server --load --verify-repro -o g.so .
                                      also load it for real and check a clean rebuild is bit-identical
  plugctl build --go 1.26.6 --trimpath -o g.so .       no host: explicit toolchain and flags
  plugctl build --host ./server --goarch arm64 -o g.so .   cross build (needs aarch64-linux-gnu-gcc)
  plugctl build --host ./server --replace example.com/shared=../shared -o g.so .
                                      say where the host's local module is (a -trimpath host records no directory)";

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin's main package directory.
    #[arg(value_name = "PKG_DIR", default_value = ".")]
    pub package: PathBuf,

    /// Where to write the plugin; the manifest goes to OUT.plugctl.json.
    #[arg(short, long, value_name = "OUT.so")]
    pub output: PathBuf,

    /// The Go program that will load the plugin: its toolchain, flags and modules are mirrored.
    #[arg(long, value_name = "HOST")]
    pub host: Option<PathBuf>,

    /// Go release to build with (default: the host's).
    #[arg(long = "go", value_name = "VERSION")]
    pub go: Option<String>,

    /// Target OS (default: the host's, else linux).
    #[arg(long, value_name = "GOOS")]
    pub goos: Option<String>,

    /// Target architecture (default: the host's, else this machine's).
    #[arg(long, value_name = "GOARCH")]
    pub goarch: Option<String>,

    /// Build with -trimpath (mirrored from the host when it has it).
    #[arg(long)]
    pub trimpath: bool,
    /// Build with -race.
    #[arg(long)]
    pub race: bool,
    /// Build with -msan.
    #[arg(long)]
    pub msan: bool,
    /// Build with -asan.
    #[arg(long)]
    pub asan: bool,
    /// -gcflags value.
    #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
    pub gcflags: Option<String>,
    /// -tags value.
    #[arg(long, value_name = "TAGS")]
    pub tags: Option<String>,
    /// -ldflags value (never mirrored from a host: link flags do not change package hashes).
    #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
    pub ldflags: Option<String>,
    /// Extra build environment, e.g. GOAMD64=v3 or GOEXPERIMENT=... (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// The host's source of a shared module: a directory or PATH@VERSION (repeatable).
    #[arg(long = "replace", value_name = "MODULE=DIR")]
    pub replace: Vec<String>,

    /// The host's module directory: the host's relative replacements resolve against it.
    #[arg(long, value_name = "DIR")]
    pub host_src: Option<PathBuf>,

    /// Write the alignment into the plugin's go.mod and go.sum (default: a temporary copy).
    #[arg(long)]
    pub write: bool,

    /// Also load the plugin for real, in a harness built like the host.
    #[arg(long)]
    pub load: bool,

    /// Seconds the --load harness may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub load_timeout: u64,

    /// Rebuild in another directory with an empty build cache and compare the SHA-256.
    #[arg(long)]
    pub verify_repro: bool,

    /// Output format; `table` for people, `json` for machines (the manifest).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn key_value(text: &str, what: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("{what} `{text}` is not KEY=VALUE"),
    }
}

impl BuildArgs {
    pub fn request(&self) -> Result<Request> {
        if self.host.is_none() && self.go.is_none() {
            bail!("give --host HOST (a Go program to match) or --go VERSION");
        }
        let env = self
            .env
            .iter()
            .map(|e| key_value(e, "--env"))
            .collect::<Result<Vec<_>>>()?;
        let replaces = self
            .replace
            .iter()
            .map(|r| key_value(r, "--replace"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Request {
            package_dir: self.package.clone(),
            output: self.output.clone(),
            host: self.host.clone(),
            explicit: Explicit {
                go: self.go.clone(),
                goos: self.goos.clone(),
                goarch: self.goarch.clone(),
                trimpath: self.trimpath,
                race: self.race,
                msan: self.msan,
                asan: self.asan,
                gcflags: self.gcflags.clone(),
                tags: self.tags.clone(),
                ldflags: self.ldflags.clone(),
                env,
            },
            align: AlignOptions {
                replaces,
                host_src: self.host_src.clone(),
            },
            write: self.write,
            load: self.load,
            load_timeout: Duration::from_secs(self.load_timeout.max(1)),
            verify_repro: self.verify_repro,
        })
    }
}

pub fn run(args: &BuildArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let request = args.request()?;
    let progress = Progress::new(global.quiet);
    let result = gobuild::build(&request, &progress);
    progress.finish();
    let result = match result {
        Ok(result) => result,
        Err(err) => {
            if let Some(BuildError::HostCannotLoad(text)) = err.downcast_ref::<BuildError>() {
                eprintln!("plugctl: {text}");
                return Ok(ExitStatus::Findings);
            }
            return Err(err);
        }
    };
    let text = match args.format {
        Format::Json => report::build::json(&result)?,
        Format::Table => report::build::build(&result, stdout_style(global.color)),
    };
    if !(global.quiet && args.format == Format::Table) {
        write_stdout(&text)?;
    }
    Ok(if result.ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
