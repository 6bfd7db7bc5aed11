//! `load --wasm`: a plugin's package built as a WASI reactor module ([`crate::wasm`]) and
//! run in an embedded interpreter (wasmi, [`interp`]) inside the same sandboxed child as
//! the other layers (`plugctl __sandbox` → `plugctl __wasm`), so the sandbox's quotas and
//! isolation apply around the interpreter's own limits: fuel (deterministic CPU),
//! linear-memory cap (`--memory`), and the phase wall clock (`--phase-timeout`).

pub mod compare;
pub mod interp;
pub mod layers;
pub mod spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use super::child::{self, ChildRun};
use super::{EnvShown, LoadOptions, Masker, Sandbox, bwrap, runsc, seccomp};
use crate::wasm::build::{self as wasm_build, Outcome};
use crate::wasm::wrapper::Names;
use layers::WasmLayer;
use spec::{Event, PhaseName, Spec};

/// Default fuel per call: about a minute of interpretation; `--fuel` changes it.
pub const DEFAULT_FUEL: u64 = 50_000_000_000;

/// Headroom above `--memory` for the interpreter process itself (its code, the compiled
/// module, buffers), so the linear-memory cap trips first and is named.
const PROCESS_HEADROOM: u64 = 256 << 20;

/// What `load --wasm` adds to the load options.
#[derive(Debug, Clone)]
pub struct WasmOptions {
    pub fuel: u64,
    /// Preopened read-only for the module (and bound read-only into the sandbox).
    pub allow_dirs: Vec<PathBuf>,
}

/// One package's result.
#[derive(Debug, Clone, Serialize)]
pub struct WasmArtifact {
    /// The package directory as given.
    pub path: String,
    pub layers: Vec<WasmLayer>,
}

impl WasmArtifact {
    pub fn worst(&self) -> super::LayerStatus {
        layers::worst(&self.layers)
    }
}

/// The whole `load --wasm` result.
#[derive(Debug, Clone, Serialize)]
pub struct WasmReport {
    pub mode: &'static str,
    pub sandbox: Sandbox,
    pub env: Vec<EnvShown>,
    pub artifacts: Vec<WasmArtifact>,
    pub runs: Vec<ChildRun>,
    pub notes: Vec<String>,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The phases to call, in order.
pub fn phases(lifecycle: &super::Lifecycle) -> Vec<PhaseName> {
    [
        (&lifecycle.init, PhaseName::Init),
        (&lifecycle.run, PhaseName::Run),
        (&lifecycle.close, PhaseName::Close),
    ]
    .into_iter()
    .filter(|(n, _)| n.is_some())
    .map(|(_, p)| p)
    .collect()
}

/// Builds each package as WebAssembly and runs it in a sandboxed interpreter child.
pub fn load(
    options: &LoadOptions,
    wasm: &WasmOptions,
    progress: &dyn Fn(&str),
) -> Result<WasmReport> {
    match options.sandbox {
        Sandbox::Native => {
            bwrap::find()?;
        }
        Sandbox::Gvisor => {
            runsc::find()?;
        }
    }
    for d in &wasm.allow_dirs {
        if !d.is_dir() {
            anyhow::bail!("--allow-dir {}: not a directory", d.display());
        }
    }
    let masker = Masker::new(&options.env);
    let exe = child::own_exe()?;
    let mut artifacts = Vec::new();
    let mut runs = Vec::new();
    for dir in &options.plugins {
        let work = tempfile::Builder::new()
            .prefix("plugctl-wasm-")
            .tempdir()
            .context("creating a build directory")?;
        let outcome = wasm_build::build(
            &wasm_build::Request {
                package_dir: dir.clone(),
                go: options.go.clone(),
                names: Names {
                    init: options.lifecycle.init.clone(),
                    run: options.lifecycle.run.clone(),
                    close: options.lifecycle.close.clone(),
                },
                out_dir: work.path().to_path_buf(),
            },
            progress,
        )?;
        let run = match &outcome.module {
            Some(module) => {
                progress(&format!(
                    "wasm: running {} in the interpreter, in a sandboxed child",
                    dir.display()
                ));
                Some(run_module(options, wasm, module, &exe, &masker)?)
            }
            None => None,
        };
        artifacts.push(WasmArtifact {
            path: dir.display().to_string(),
            layers: artifact_layers(options, wasm, &outcome, run.as_ref()),
        });
        runs.extend(run);
    }
    Ok(WasmReport {
        mode: "wasm",
        sandbox: options.sandbox,
        env: EnvShown::list(&options.env, &masker),
        artifacts,
        runs,
        notes: vec![
            "random_get returns a fixed stream in the interpreter, so the same module and input burn the same fuel (not for making secrets)".into(),
        ],
    })
}

fn run_module(
    options: &LoadOptions,
    wasm: &WasmOptions,
    module: &Path,
    exe: &Path,
    masker: &Masker,
) -> Result<ChildRun> {
    let phases = phases(&options.lifecycle);
    let phase_timeout = options.lifecycle.phase_timeout;
    let spec = Spec {
        module: module.display().to_string(),
        env: options
            .env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect(),
        allow_dirs: wasm
            .allow_dirs
            .iter()
            .map(|d| absolute(d).display().to_string())
            .collect(),
        fuel: wasm.fuel,
        memory_limit: options.limits.memory,
        phase_timeout_ms: phase_timeout.as_millis() as u64,
        phases: phases.clone(),
    };
    let mut limits = options.limits.clone();
    limits.memory = limits.memory.map(|m| m.saturating_add(PROCESS_HEADROOM));
    // The child's own wall clock: every phase's and instantiation's, plus start-up.
    let timeout = options
        .timeout
        .max(phase_timeout * (phases.len() as u32 + 1) + Duration::from_secs(10));
    let launch = child::Launch {
        label: "wasm".into(),
        program: exe.to_path_buf(),
        args: vec!["__wasm".into()],
        env: Vec::new(),
        stdin: serde_json::to_vec(&spec)?,
        timeout,
        isolate_network: options.isolate_network,
        readonly: options.readonly,
        limits,
        seccomp: Arc::new(seccomp::Plan::deny_list_only()),
        sandbox: options.sandbox,
        inputs: vec![module.to_path_buf()],
        binds: wasm.allow_dirs.iter().map(|d| absolute(d)).collect(),
        trace: None,
    };
    child::run(&launch, masker)
}

/// The interpreter's events, typed.
pub fn events(run: &ChildRun) -> Vec<Event> {
    run.target_events()
        .filter_map(|e| match e {
            super::events::Event::Wasm { event } => Some((**event).clone()),
            _ => None,
        })
        .collect()
}

fn artifact_layers(
    options: &LoadOptions,
    wasm: &WasmOptions,
    outcome: &Outcome,
    run: Option<&ChildRun>,
) -> Vec<WasmLayer> {
    let evs = run.map(events).unwrap_or_default();
    let mut out = vec![
        layers::wasm_layer(outcome, &evs, run, wasm.fuel),
        layers::contract_layer(outcome, &options.lifecycle, &evs),
        layers::lifecycle_layer(outcome, &options.lifecycle, &evs, run),
    ];
    if let Some(r) = run {
        out.push(layers::limits_layer(options, wasm.fuel, &evs, r));
        out.push(WasmLayer::from(super::containment::isolation_layer(
            options,
            &[r],
        )));
    }
    out
}
