//! Building a plugin's package as a WASI reactor module: the Go toolchain (`--go`, else
//! the go.mod's release when installed and new enough, else the newest installed one
//! with `//go:wasmexport`, Go ≥ 1.24), the package graph and blockers for wasip1
//! ([`super::ready`]), then `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` with
//! the lifecycle wrapper added through `-overlay` ([`super::wrapper`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::ready::{self, Blocker, Readiness};
use super::wrapper::{self, Names};
// The build engine's one entry point used here: a `go` command with plugctl's fixed
// environment (GOTOOLCHAIN=local, GOFLAGS=-mod=mod, GOWORK=off, the shared GOCACHE).
use crate::gobuild::gocmd::GoEnv;
use crate::toolchain::{self, Toolchain};

/// The first release with `//go:wasmexport`.
const MIN_GO: (u32, u32) = (1, 24);

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    pub package_dir: PathBuf,
    pub go: Option<String>,
    pub names: Names,
    /// Where the module and the generated files go (a private temporary directory).
    pub out_dir: PathBuf,
}

/// The result of one attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub package: String,
    pub go_version: String,
    /// The command that was run (or would have been, when `go list` already failed).
    pub command: String,
    pub build_ms: f64,
    /// The module, when it built.
    pub module: Option<PathBuf>,
    pub module_bytes: u64,
    /// Lifecycle names the package does not declare (exported as "missing").
    pub missing: Vec<String>,
    /// A `func main` was added (the package had none).
    pub added_main: bool,
    pub blockers: Vec<Blocker>,
}

fn version_tuple(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.trim_start_matches("go").split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let patch = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

fn new_enough(v: &str) -> bool {
    version_tuple(v).is_some_and(|(a, b, _)| (a, b) >= MIN_GO)
}

/// The `go` and `toolchain` lines of the nearest go.mod above `dir`.
fn gomod_versions(dir: &Path) -> Vec<String> {
    let Some(text) = dir
        .ancestors()
        .find_map(|d| std::fs::read_to_string(d.join("go.mod")).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("toolchain"), Some(v)) => out.insert(0, v.trim_start_matches("go").to_string()),
            (Some("go"), Some(v)) => out.push(v.to_string()),
            _ => {}
        }
    }
    out
}

/// The toolchain to build with (installing `--go` when it is not installed).
pub fn choose_toolchain(
    package_dir: &Path,
    go: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<Toolchain> {
    if let Some(v) = go {
        let tc = toolchain::ensure(v, progress)?;
        if !new_enough(&tc.version) {
            bail!(
                "--go {v}: //go:wasmexport needs Go {}.{} or newer",
                MIN_GO.0,
                MIN_GO.1
            );
        }
        return Ok(tc);
    }
    for v in gomod_versions(package_dir) {
        if new_enough(&v)
            && v.split('.').count() == 3
            && let Ok(Some(tc)) = toolchain::find(&v)
        {
            return Ok(tc);
        }
    }
    toolchain::installed()
        .into_iter()
        .filter(|t| new_enough(&t.version))
        .max_by_key(|t| version_tuple(&t.version))
        .with_context(|| {
            format!(
                "no Go {}.{} or newer is installed (needed for //go:wasmexport): give --go VERSION to install one",
                MIN_GO.0, MIN_GO.1
            )
        })
}

fn wasip1_env(tc: Toolchain) -> GoEnv {
    let target: BTreeMap<String, String> =
        [("GOOS", "wasip1"), ("GOARCH", "wasm"), ("CGO_ENABLED", "0")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    GoEnv::new(tc, &target)
}

/// The package graph and blockers for wasip1 (`go list -e -json -deps .`).
pub fn readiness(go: &GoEnv, package_dir: &Path) -> Result<Readiness> {
    let args: Vec<String> = ["list", "-e", "-json", "-deps", "."]
        .into_iter()
        .map(String::from)
        .collect();
    let output = go.run(package_dir, &args)?;
    if !output.status.success() && output.stdout.is_empty() {
        bail!(
            "{}",
            crate::gobuild::gocmd::failure_text(&go.display(&args), &output)
        );
    }
    ready::analyze(
        &String::from_utf8_lossy(&output.stdout),
        go.goroot().as_deref(),
    )
}

/// Reads the package, and builds it when nothing blocks the build.
pub fn build(request: &Request, progress: &dyn Fn(&str)) -> Result<Outcome> {
    let package_dir = std::path::absolute(&request.package_dir)
        .with_context(|| format!("{}", request.package_dir.display()))?;
    if !package_dir.is_dir() {
        bail!(
            "{}: not a directory (load --wasm takes the plugin's source package)",
            request.package_dir.display()
        );
    }
    let tc = choose_toolchain(&package_dir, request.go.as_deref(), progress)?;
    let go_version = tc.version.clone();
    let go = wasip1_env(tc);
    let started = Instant::now();
    progress(&format!(
        "wasm: reading {} for wasip1 (Go {go_version})",
        request.package_dir.display()
    ));
    let readiness = readiness(&go, &package_dir)?;
    if readiness.root.name != "main" && readiness.root.error.is_none() {
        bail!(
            "{}: package {} is not a main package (a plugin is built from package main)",
            request.package_dir.display(),
            readiness.root.name
        );
    }
    let sources: Vec<String> = readiness
        .root
        .go_files
        .iter()
        .filter_map(|f| std::fs::read_to_string(package_dir.join(f)).ok())
        .collect();
    let declared = wrapper::declared(&sources.iter().map(String::as_str).collect::<Vec<_>>());
    let names = &request.names;
    let missing: Vec<String> = [&names.init, &names.run, &names.close]
        .into_iter()
        .flatten()
        .filter(|n| !declared.names.contains(n))
        .cloned()
        .collect();
    let exports = request.out_dir.join(wrapper::EXPORTS_FILE);
    std::fs::write(&exports, wrapper::exports_file(names, &declared))
        .with_context(|| format!("writing {}", exports.display()))?;
    let main = request.out_dir.join(wrapper::MAIN_FILE);
    let mut files: Vec<(&str, &Path)> = vec![(wrapper::EXPORTS_FILE, &exports)];
    if !declared.has_main {
        std::fs::write(&main, wrapper::main_file())
            .with_context(|| format!("writing {}", main.display()))?;
        files.push((wrapper::MAIN_FILE, &main));
    }
    let overlay = request.out_dir.join("overlay.json");
    std::fs::write(&overlay, wrapper::overlay_json(&package_dir, &files))
        .with_context(|| format!("writing {}", overlay.display()))?;
    let module = request.out_dir.join("plugin.wasm");
    let args: Vec<String> = vec![
        "build".into(),
        "-buildmode=c-shared".into(),
        "-buildvcs=false".into(),
        format!("-overlay={}", overlay.display()),
        "-o".into(),
        module.display().to_string(),
        ".".into(),
    ];
    let command = format!("GOOS=wasip1 GOARCH=wasm {}", go.display(&args));
    let mut blockers = readiness.blockers.clone();
    let mut outcome = Outcome {
        package: readiness.root.import_path.clone(),
        go_version,
        command,
        build_ms: 0.0,
        module: None,
        module_bytes: 0,
        missing,
        added_main: !declared.has_main,
        blockers: Vec::new(),
    };
    if blockers.iter().any(|b| b.kind.blocks_build()) {
        // go build would stop at the first of them: the list is the migration report.
        outcome.build_ms = started.elapsed().as_secs_f64() * 1000.0;
        outcome.blockers = blockers;
        return Ok(outcome);
    }
    progress("wasm: go build -buildmode=c-shared (GOOS=wasip1 GOARCH=wasm)");
    let output = go.run(&package_dir, &args)?;
    outcome.build_ms = started.elapsed().as_secs_f64() * 1000.0;
    if output.status.success() {
        outcome.module_bytes = std::fs::metadata(&module).map(|m| m.len()).unwrap_or(0);
        outcome.module = Some(module);
    } else {
        let generated: Vec<PathBuf> = files.iter().map(|(n, _)| package_dir.join(n)).collect();
        blockers.extend(ready::compile_blockers(
            &String::from_utf8_lossy(&output.stderr),
            &package_dir,
            &readiness,
            &generated,
        ));
    }
    outcome.blockers = blockers;
    Ok(outcome)
}
