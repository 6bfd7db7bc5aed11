//! `load --wasm --host HOST`: the same package also built natively for HOST (by the build
//! engine, [`crate::gobuild`], as `plugctl build --host` does) and loaded by the runtime's
//! Go harness ([`crate::runtime::load`]), then compared with the WebAssembly run phase by
//! phase: the same result or not, each side's wall time, and the interpreter's slowdown.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::layers::{Details, WasmLayer};
use super::spec::{PhaseName, PhaseResult, PhaseStatus};
use super::{WasmOptions, WasmReport};
use crate::gobuild::{self, Progress, Request};
use crate::runtime::{self, LayerStatus, LoadOptions};

/// One phase on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseComparison {
    pub phase: PhaseName,
    /// The native harness's status (`ok`, `error`, `panic`, `timeout`, `crash`, ...);
    /// `None`: the native side never reached the phase.
    pub native_status: Option<String>,
    pub wasm_status: Option<PhaseStatus>,
    pub native_error: Option<String>,
    pub wasm_error: Option<String>,
    /// Same status, and for an error the same text.
    pub same: bool,
    pub native_ms: Option<f64>,
    pub wasm_ms: Option<f64>,
    /// `wasm_ms / native_ms` (how many times slower the interpreter was).
    pub slowdown: Option<f64>,
}

/// The `compare` layer's details.
#[derive(Debug, Clone, Serialize)]
pub struct CompareDetails {
    pub host: String,
    /// The native build's Go version and `go build` command (mirrored from the host).
    pub native_go_version: Option<String>,
    pub native_command: Option<String>,
    pub native_build_ms: Option<f64>,
    /// The native load's verdict (`loads`, `fails`, ...) and its error.
    pub native_load: Option<String>,
    pub native_error: Option<String>,
    pub phases: Vec<PhaseComparison>,
    /// Every phase has the same result on both sides.
    pub same: bool,
}

/// The build engine's steps, as `load`'s progress lines.
struct Steps<'a>(&'a dyn Fn(&str));

impl Progress for Steps<'_> {
    fn step(&self, message: &str) {
        (self.0)(&format!("native: {message}"));
    }
}

/// `load --wasm` plus, for each package, the native build and load for `host` and a
/// `compare` layer; the native children join the report's `runs`.
pub fn load(
    options: &LoadOptions,
    wasm: &WasmOptions,
    host: &Path,
    progress: &dyn Fn(&str),
) -> Result<WasmReport> {
    std::fs::metadata(host).with_context(|| format!("--host {}", host.display()))?;
    let mut report = super::load(options, wasm, progress)?;
    for (dir, artifact) in options.plugins.iter().zip(report.artifacts.iter_mut()) {
        let (layer, runs) = native(options, host, dir, &artifact.layers, progress)?;
        artifact.layers.push(layer);
        report.runs.extend(runs);
    }
    Ok(report)
}

fn wasm_phases(layers: &[WasmLayer]) -> Option<&[PhaseResult]> {
    layers.iter().find_map(|l| match &l.details {
        Some(Details::Lifecycle(d)) if l.layer == "lifecycle" => Some(d.phases.as_slice()),
        _ => None,
    })
}

fn native(
    options: &LoadOptions,
    host: &Path,
    dir: &Path,
    wasm_layers: &[WasmLayer],
    progress: &dyn Fn(&str),
) -> Result<(WasmLayer, Vec<runtime::child::ChildRun>)> {
    let mut details = CompareDetails {
        host: host.display().to_string(),
        native_go_version: None,
        native_command: None,
        native_build_ms: None,
        native_load: None,
        native_error: None,
        phases: Vec::new(),
        same: false,
    };
    let work = tempfile::Builder::new()
        .prefix("plugctl-native-")
        .tempdir()
        .context("creating a build directory")?;
    let output = work.path().join("plugin.so");
    progress(&format!(
        "native: building {} for {}",
        dir.display(),
        host.display()
    ));
    let started = Instant::now();
    let built = gobuild::build(
        &Request {
            package_dir: dir.to_path_buf(),
            output: output.clone(),
            host: Some(host.to_path_buf()),
            load_timeout: Duration::from_secs(30),
            ..Request::default()
        },
        &Steps(progress),
    );
    details.native_build_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    let built = match built {
        Ok(b) => b,
        Err(e) => {
            let reason = format!("the native plugin could not be built for the host: {e:#}");
            details.native_error = Some(format!("{e:#}"));
            return Ok((layer(LayerStatus::Error, reason, details), Vec::new()));
        }
    };
    details.native_go_version = Some(built.target.go_version.clone());
    details.native_command = Some(built.command_line.clone());

    progress(&format!(
        "native: loading it into {} in a sandboxed child",
        host.display()
    ));
    let mut native_options = options.clone();
    native_options.plugins = vec![output];
    let native = runtime::load(&native_options, progress)?;
    let Some(a) = native.artifacts.first() else {
        return Ok((
            layer(
                LayerStatus::Error,
                "the native load reported nothing",
                details,
            ),
            native.runs,
        ));
    };
    details.native_load = Some(a.load.outcome.as_str().to_string());
    details.native_error = a.load.error.clone();
    let native_phases = a
        .layers
        .iter()
        .find(|l| l.layer == "lifecycle")
        .and_then(|l| match &l.details {
            Some(runtime::details::Details::Lifecycle(d)) => Some(d.phases.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let wasm = wasm_phases(wasm_layers).unwrap_or(&[]);
    details.phases = super::phases(&options.lifecycle)
        .into_iter()
        .map(|p| pair(p, &native_phases, wasm))
        .collect();
    details.same = !details.phases.is_empty() && details.phases.iter().all(|p| p.same);
    let (status, reason) = if details.phases.iter().all(|p| p.native_status.is_none()) {
        (
            LayerStatus::Error,
            format!(
                "the native plugin ran no phase (load: {}{})",
                details.native_load.as_deref().unwrap_or("?"),
                details
                    .native_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        )
    } else {
        let status = if details.same {
            LayerStatus::Pass
        } else {
            LayerStatus::Fail
        };
        (status, summary(&details))
    };
    Ok((layer(status, reason, details), native.runs))
}

fn layer(status: LayerStatus, reason: impl Into<String>, details: CompareDetails) -> WasmLayer {
    WasmLayer {
        layer: "compare",
        status,
        reason: reason.into(),
        details: Some(Details::Compare(details)),
    }
}

fn pair(
    phase: PhaseName,
    native: &[runtime::observe::Phase],
    wasm: &[PhaseResult],
) -> PhaseComparison {
    let n = native.iter().find(|p| p.phase == phase.as_str());
    let w = wasm.iter().find(|r| r.phase == phase);
    let native_status = n.map(|p| p.status.clone());
    let native_error = n.and_then(|p| p.error.clone().or_else(|| p.panic.clone()));
    let native_ms = n.and_then(|p| p.ms);
    let wasm_status = w.map(|r| r.status);
    let wasm_error = w.and_then(|r| r.error.clone());
    let wasm_ms = w.map(|r| r.ms);
    let same = match (native_status.as_deref(), wasm_status) {
        (Some("error"), Some(PhaseStatus::Error)) => native_error == wasm_error,
        (Some(ns), Some(ws)) => ns == ws.as_str(),
        (None, None) => true,
        _ => false,
    };
    let slowdown = match (native_ms, wasm_ms) {
        (Some(n), Some(w)) if n > 0.0 => Some(w / n),
        _ => None,
    };
    PhaseComparison {
        phase,
        native_status,
        wasm_status,
        native_error,
        wasm_error,
        same,
        native_ms,
        wasm_ms,
        slowdown,
    }
}

fn summary(details: &CompareDetails) -> String {
    let ms = |m: Option<f64>| m.map(|m| format!("{m:.2} ms")).unwrap_or("-".into());
    details
        .phases
        .iter()
        .map(|p| {
            let result = if p.same {
                format!("same ({})", p.native_status.as_deref().unwrap_or("not run"))
            } else {
                format!(
                    "DIFFERENT (native {}, wasm {})",
                    p.native_status.as_deref().unwrap_or("not run"),
                    p.wasm_status.map(|s| s.as_str()).unwrap_or("not run")
                )
            };
            let factor = p
                .slowdown
                .map(|f| format!(", slowdown ×{f:.1}"))
                .unwrap_or_default();
            format!(
                "{} {result}: native {}, wasm {}{factor}",
                p.phase.as_str(),
                ms(p.native_ms),
                ms(p.wasm_ms)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
