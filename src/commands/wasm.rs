//! `plugctl load --wasm` and `plugctl inspect --wasm-ready`: a plugin's source package as
//! a WebAssembly module (built by [`crate::wasm`], run by [`crate::runtime::wasm`]).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::load::LoadArgs;
use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{Format, GlobalArgs, InspectArgs, InspectFormat};
use crate::report;
use crate::report::progress::Progress;
use crate::runtime;
use crate::wasm::build::{self, Request};
use crate::wasm::wrapper::Names;

/// `load`'s WebAssembly flags.
#[derive(Debug, Args)]
pub struct WasmArgs {
    /// Build each PLUGIN (a source package directory) as a WASI module and run its
    /// lifecycle in an embedded interpreter (wasmi) in the sandboxed child; with --host HOST,
    /// also build and load it natively for HOST and compare each phase (result, time, slowdown).
    #[arg(long)]
    pub wasm: bool,
    /// With --wasm: fuel per call (the deterministic CPU limit, about one unit per
    /// instruction; default 50000000000).
    #[arg(long, value_name = "N", requires = "wasm")]
    pub fuel: Option<u64>,
    /// With --wasm: preopen DIR read-only for the module (default: no file system); repeatable.
    #[arg(long = "allow-dir", value_name = "DIR", requires = "wasm")]
    pub allow_dir: Vec<PathBuf>,
}

/// `load --wasm`: exit 2 when a layer could not run, 1 when one failed, else 0.
pub fn load(
    args: &LoadArgs,
    options: runtime::LoadOptions,
    global: &GlobalArgs,
) -> Result<ExitStatus> {
    if options.reload > 0 || options.lifecycle_check.is_some() || options.env_after_open {
        bail!(
            "--wasm runs the lifecycle once: --reload, --lifecycle-check and --env-after-open are for native plugins"
        );
    }
    if options.seccomp.is_some() {
        bail!(
            "--wasm: --seccomp profiles are for native plugins (the interpreter child runs under the default deny-list)"
        );
    }
    let wasm = runtime::wasm::WasmOptions {
        fuel: args.wasm.fuel.unwrap_or(runtime::wasm::DEFAULT_FUEL),
        allow_dirs: args.wasm.allow_dir.clone(),
    };
    let progress = Progress::new(global.quiet);
    let step = |text: &str| progress.step(text);
    let report = match &options.host {
        Some(host) => runtime::wasm::compare::load(&options, &wasm, host, &step)?,
        None => runtime::wasm::load(&options, &wasm, &step)?,
    };
    progress.finish();
    let text = match args.format {
        Format::Json => report::wasm::load_json(&report),
        Format::Table => report::wasm::load_table(&report, stdout_style(global.color)),
    };
    if !(global.quiet && args.format == Format::Table) {
        write_stdout(&text)?;
    }
    Ok(ExitStatus::of_loads(
        report.artifacts.iter().map(|a| a.worst()),
    ))
}

/// `inspect --wasm-ready PKG_DIR...`: 1 when something blocks a package's build.
pub fn ready(args: &InspectArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    if args.format == InspectFormat::Sarif {
        bail!("--wasm-ready: --format sarif is not supported (use table or json)");
    }
    let progress = Progress::new(global.quiet);
    let mut items = Vec::new();
    for dir in &args.artifacts {
        let work = tempfile::Builder::new()
            .prefix("plugctl-wasm-")
            .tempdir()
            .context("creating a build directory")?;
        let outcome = build::build(
            &Request {
                package_dir: dir.clone(),
                go: args.go.clone(),
                names: Names {
                    init: Some("Init".into()),
                    run: Some("Run".into()),
                    close: Some("Close".into()),
                },
                out_dir: work.path().to_path_buf(),
            },
            &|step: &str| progress.step(step),
        )?;
        items.push(report::wasm::Ready {
            path: dir.display().to_string(),
            ready: !outcome.blockers.iter().any(|b| b.kind.blocks_build()),
            outcome,
        });
    }
    progress.finish();
    let text = match args.format {
        InspectFormat::Table => report::wasm::ready_table(&items, stdout_style(global.color)),
        _ => report::wasm::ready_json(&items),
    };
    if !(global.quiet && args.format == InspectFormat::Table) {
        write_stdout(&text)?;
    }
    Ok(if items.iter().all(|i| i.ready) {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
