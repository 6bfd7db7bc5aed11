//! `runtime`: loads for real, in sandboxed child processes, never in plugctl's own.
//!
//! Every child runs in a sandbox built by bubblewrap ([`bwrap`]) or gVisor ([`runsc`])
//! over the same [`view`] of the file system; inside, `plugctl __sandbox` ([`sandbox`])
//! installs the seccomp filter ([`seccomp`]: the default deny-list plus `--seccomp`),
//! runs the isolation [`probe`] and executes the target: the C loader shim
//! (`plugctl __shim`, [`shim`]) for the loader layer, and a generated Go host harness
//! ([`harness`]) for the Go layers (`plugin.Open`, type contract, lifecycle, env timing,
//! hot reload). [`child`] watches each child (deadline, threads, memory, exit, cgroups,
//! leftovers); [`observe`] turns what the children reported into layers and the same
//! `load` verdict `inspect` predicts, which [`load`] then compares with
//! `predict::inspect`.

mod bwrap;
pub mod cgroup;
pub mod child;
mod containment;
pub mod contract;
pub mod details;
pub mod env;
pub mod events;
pub mod harness;
pub mod isolation;
pub mod lifecycle_check;
pub mod observe;
mod pipeline;
pub mod probe;
mod procs;
mod quota;
pub mod reload;
pub mod runsc;
mod sandbox;
pub mod seccomp;
mod shim;
pub mod trace;
pub mod view;
pub mod wasm;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::verdict::{LoadVerdict, Outcome};

pub use child::{ChildRun, Ended, LimitHit, Limits};
pub use containment::GO_RUNTIME_BASELINE;
pub use contract::{Expect, Lifecycle};
pub use details::Details;
pub use env::{EnvVar, Masker};
pub use pipeline::load;

/// Runs plugctl's hidden child entry points (`__sandbox`, `__shim`); `None` for a normal
/// command line. Called first thing in `main`.
pub fn hidden_main() -> Option<i32> {
    let mut args = std::env::args_os();
    let _ = args.next();
    match args.next()?.to_str()? {
        "__sandbox" => Some(sandbox::main()),
        "__shim" => Some(shim::main(args)),
        "__wasm" => Some(wasm::interp::main()),
        _ => None,
    }
}

/// A layer's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerStatus {
    Pass,
    Fail,
    Skip,
    /// plugctl could not run the layer (e.g. no toolchain).
    Error,
}

impl LayerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerStatus::Pass => "pass",
            LayerStatus::Fail => "fail",
            LayerStatus::Skip => "skip",
            LayerStatus::Error => "error",
        }
    }
}

/// One layer of one artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub layer: &'static str,
    pub status: LayerStatus,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

impl Layer {
    pub fn new(layer: &'static str, status: LayerStatus, reason: impl Into<String>) -> Layer {
        Layer {
            layer,
            status,
            reason: reason.into(),
            details: None,
        }
    }

    pub fn with(mut self, details: impl Into<Details>) -> Layer {
        self.details = Some(details.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sandbox {
    Native,
    Gvisor,
}

/// What `load` should do: typed values only (the commands parse the flags).
///
/// Build it with [`LoadOptions::new`] and struct update syntax, so every caller (`plugctl
/// load`, the matrix runner, doctor's smoke load) gets the same defaults:
/// `runtime::LoadOptions { host: Some(h), ..runtime::LoadOptions::new(plugins) }`.
/// A new option: add the field here with its default in [`LoadOptions::new`]; callers that
/// do not set it need no change.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub plugins: Vec<PathBuf>,
    pub host: Option<PathBuf>,
    pub go: Option<String>,
    pub lazy: bool,
    pub env: Vec<EnvVar>,
    pub env_after_open: bool,
    pub expect: Vec<Expect>,
    pub lifecycle: Lifecycle,
    pub reload: usize,
    pub source: Option<PathBuf>,
    pub timeout: Duration,
    pub limits: Limits,
    pub isolate_network: bool,
    pub readonly: bool,
    pub seccomp: Option<seccomp::Mode>,
    pub sandbox: Sandbox,
    /// Skip the Go layers even for Go plugins.
    pub loader_only: bool,
    /// `--lifecycle-check`: run the illegal call orders, each in a fresh harness.
    pub lifecycle_check: Option<lifecycle_check::CheckSpec>,
    /// `--trace`: eBPF observation of every child (see [`trace`]).
    pub trace: bool,
}

/// `plugctl load`'s defaults: 60 s per child, no network, read-only file system, the
/// native sandbox, every layer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl LoadOptions {
    pub fn new(plugins: Vec<PathBuf>) -> LoadOptions {
        LoadOptions {
            plugins,
            host: None,
            go: None,
            lazy: false,
            env: Vec::new(),
            env_after_open: false,
            expect: Vec::new(),
            lifecycle: Lifecycle::default(),
            reload: 0,
            source: None,
            timeout: DEFAULT_TIMEOUT,
            limits: Limits::default(),
            isolate_network: true,
            readonly: true,
            seccomp: None,
            sandbox: Sandbox::Native,
            loader_only: false,
            lifecycle_check: None,
            trace: false,
        }
    }
}

/// The prediction for one artifact and whether the observation agrees.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub outcome: Outcome,
    pub error: Option<String>,
    /// Same outcome and the same error text.
    pub agrees: bool,
    /// Same outcome (the error text may differ).
    pub same_outcome: bool,
    /// Why a disagreement is expected, when it is.
    pub note: Option<String>,
    pub basis: Vec<String>,
}

/// One artifact's result.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactLoad {
    pub path: String,
    /// Observed, in the same shape as `inspect`'s `load`.
    pub load: LoadVerdict,
    /// Which layer the `load` verdict comes from: `go-open` or `loader`.
    pub observed_by: &'static str,
    pub prediction: Comparison,
    pub layers: Vec<Layer>,
    /// The file could not be read (exit 2, as `inspect`).
    pub unreadable: Option<String>,
}

impl ArtifactLoad {
    pub fn worst(&self) -> LayerStatus {
        worst(self.layers.iter().map(|l| l.status))
    }
}

/// Error over fail over pass (a skip counts as a pass).
pub fn worst(statuses: impl Iterator<Item = LayerStatus>) -> LayerStatus {
    let s: Vec<LayerStatus> = statuses.collect();
    if s.contains(&LayerStatus::Error) {
        LayerStatus::Error
    } else if s.contains(&LayerStatus::Fail) {
        LayerStatus::Fail
    } else {
        LayerStatus::Pass
    }
}

/// An env variable as shown (secrets masked).
#[derive(Debug, Clone, Serialize)]
pub struct EnvShown {
    pub name: String,
    pub value: String,
    pub secret: bool,
    pub origin: String,
}

impl EnvShown {
    /// The variables as the report shows them.
    pub fn list(vars: &[EnvVar], masker: &Masker) -> Vec<EnvShown> {
        vars.iter()
            .map(|v| EnvShown {
                name: v.name.clone(),
                value: masker.show(v),
                secret: v.is_secret(),
                origin: v.origin.clone(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SeccompSummary {
    pub mode: String,
    pub method: String,
    pub profile: Option<String>,
    /// learn: calls seen (by name, with counts over every run).
    pub syscalls: BTreeMap<String, u64>,
    /// learn: calls added because the Go runtime makes them at random.
    pub baseline: Vec<String>,
    /// enforce: the first denied call over all runs.
    pub first_denied: Option<seccomp::Denial>,
    pub denied: Vec<seccomp::Denial>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// The whole `load` result.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub host: Option<String>,
    pub sandbox: Sandbox,
    pub env: Vec<EnvShown>,
    pub env_set: &'static str,
    pub artifacts: Vec<ArtifactLoad>,
    pub harness: Option<harness::Harness>,
    pub harness_error: Option<String>,
    pub reload: Option<reload::Copies>,
    pub seccomp: Option<SeccompSummary>,
    pub runs: Vec<ChildRun>,
    pub notes: Vec<String>,
}

impl LoadReport {
    /// Artifacts whose observed outcome or error differs from `inspect`'s prediction.
    pub fn disagreements(&self) -> Vec<&ArtifactLoad> {
        self.artifacts
            .iter()
            .filter(|a| !a.prediction.agrees)
            .collect()
    }
}
