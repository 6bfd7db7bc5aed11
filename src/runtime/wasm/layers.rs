//! The layers of a `load --wasm` artifact, with typed details: `wasm` (build,
//! instantiation, blockers), `contract` (the lifecycle exports and their Go types),
//! `lifecycle` (each call: result, time, fuel, memory), `limits` (fuel, linear memory,
//! wall clock, and the sandbox's quotas) and `isolation` (the sandbox, as for native).

use serde::Serialize;

use super::spec::{Event, PhaseName, PhaseResult, PhaseStatus};
use crate::runtime::child::{ChildRun, Ended};
use crate::runtime::{Layer, LayerStatus, Lifecycle, LoadOptions};
use crate::wasm::build::Outcome;
use crate::wasm::ready::{Blocker, BlockerKind};

/// One layer, as `load`'s (`layer`, `status`, `reason`, `details`).
#[derive(Debug, Clone, Serialize)]
pub struct WasmLayer {
    pub layer: &'static str,
    pub status: LayerStatus,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

/// The typed details of each layer.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Details {
    Wasm(WasmDetails),
    Contract(ContractDetails),
    Lifecycle(LifecycleDetails),
    Limits(LimitsDetails),
    Compare(super::compare::CompareDetails),
}

#[derive(Debug, Clone, Serialize)]
pub struct WasmDetails {
    pub package: String,
    pub go_version: String,
    pub command: String,
    pub build_ms: f64,
    pub module_bytes: u64,
    pub added_main: bool,
    /// Reading, validating and translating the module to the interpreter's bytecode.
    pub compile_ms: Option<f64>,
    /// `_initialize`: the Go runtime and the package's init.
    pub instantiate_ms: Option<f64>,
    pub instantiate_fuel: Option<u64>,
    pub blockers: Vec<Blocker>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportType {
    pub phase: PhaseName,
    pub symbol: String,
    /// `None`: the package does not declare it.
    pub go_type: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContractDetails {
    pub exports: Vec<ExportType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LifecycleDetails {
    pub phases: Vec<PhaseResult>,
    /// What the module wrote (captured with the sandbox's limits, secrets masked).
    pub stdout: String,
    pub stderr: String,
    /// Go's `panic:`/`fatal error:` line, when the module printed one.
    pub go_panic: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitsDetails {
    pub fuel_per_call: u64,
    pub fuel_burned_max: u64,
    pub memory_limit_bytes: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
    pub hits: Vec<String>,
}

impl WasmLayer {
    fn new(layer: &'static str, status: LayerStatus, reason: impl Into<String>) -> WasmLayer {
        WasmLayer {
            layer,
            status,
            reason: reason.into(),
            details: None,
        }
    }

    fn with(mut self, details: Details) -> WasmLayer {
        self.details = Some(details);
        self
    }
}

impl From<Layer> for WasmLayer {
    /// A layer shared with native loads (isolation), without its details.
    fn from(l: Layer) -> WasmLayer {
        WasmLayer::new(l.layer, l.status, l.reason)
    }
}

pub fn worst(layers: &[WasmLayer]) -> LayerStatus {
    crate::runtime::worst(layers.iter().map(|l| l.status))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn blocking(outcome: &Outcome) -> Vec<&Blocker> {
    outcome
        .blockers
        .iter()
        .filter(|b| b.kind.blocks_build())
        .collect()
}

/// `kind at file:line: message (chain a → b)`.
pub fn describe(b: &Blocker) -> String {
    let chain = if b.import_chain.len() > 1 {
        format!(" (imported via {})", b.import_chain.join(" → "))
    } else {
        String::new()
    };
    format!(
        "{} at {}: {}{chain}",
        b.kind.as_str(),
        b.location(),
        b.message
    )
}

pub fn wasm_layer(
    outcome: &Outcome,
    events: &[Event],
    run: Option<&ChildRun>,
    _fuel: u64,
) -> WasmLayer {
    let mut details = WasmDetails {
        package: outcome.package.clone(),
        go_version: outcome.go_version.clone(),
        command: outcome.command.clone(),
        build_ms: outcome.build_ms,
        module_bytes: outcome.module_bytes,
        added_main: outcome.added_main,
        compile_ms: None,
        instantiate_ms: None,
        instantiate_fuel: None,
        blockers: outcome.blockers.clone(),
    };
    let blocked = blocking(outcome);
    let stubs: Vec<String> = outcome
        .blockers
        .iter()
        .filter(|b| b.kind == BlockerKind::Stub)
        .map(describe)
        .collect();
    if !blocked.is_empty() {
        let text: Vec<String> = blocked.iter().map(|b| describe(b)).collect();
        return WasmLayer::new(
            "wasm",
            LayerStatus::Fail,
            format!(
                "not buildable for wasip1 (Go {}): {} blocker(s): {}",
                outcome.go_version,
                text.len(),
                text.join("; ")
            ),
        )
        .with(Details::Wasm(details));
    }
    for e in events {
        match e {
            Event::Compiled { ms, .. } => details.compile_ms = Some(*ms),
            Event::Instantiated { ms, fuel, .. } => {
                details.instantiate_ms = Some(*ms);
                details.instantiate_fuel = Some(*fuel);
            }
            _ => {}
        }
    }
    let failed = events.iter().find_map(|e| match e {
        Event::InstantiateFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    let built = format!(
        "module {} built in {:.0} ms (Go {})",
        mib(outcome.module_bytes),
        outcome.build_ms,
        outcome.go_version
    );
    let stub_text = if stubs.is_empty() {
        String::new()
    } else {
        format!("; runs differently on wasip1: {}", stubs.join("; "))
    };
    let (status, reason) = match (failed, details.instantiate_ms) {
        (Some(error), _) => (
            LayerStatus::Fail,
            format!("{built}; instantiation FAILED: {error}"),
        ),
        (None, Some(ms)) => (
            LayerStatus::Pass,
            format!(
                "{built}; compiled in {:.0} ms, instantiated in {ms:.1} ms ({} fuel){stub_text}",
                details.compile_ms.unwrap_or(0.0),
                details.instantiate_fuel.unwrap_or(0)
            ),
        ),
        (None, None) => (
            LayerStatus::Error,
            format!(
                "{built}; the interpreter child did not instantiate it ({}){}",
                run.map(|r| r.ended.describe()).unwrap_or_default(),
                run.and_then(|r| r.fatal_line().or_else(|| r
                    .stderr
                    .lines()
                    .last()
                    .map(str::to_string)))
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ),
        ),
    };
    WasmLayer::new("wasm", status, reason).with(Details::Wasm(details))
}

fn symbol(lifecycle: &Lifecycle, phase: PhaseName) -> String {
    match phase {
        PhaseName::Init => lifecycle.init.clone(),
        PhaseName::Run => lifecycle.run.clone(),
        PhaseName::Close => lifecycle.close.clone(),
    }
    .unwrap_or_default()
}

fn phase_results(events: &[Event]) -> Vec<PhaseResult> {
    let mut out: Vec<PhaseResult> = Vec::new();
    for e in events {
        match e {
            Event::Phase(p) => out.push(p.clone()),
            Event::PhaseTimeout { phase, after_ms } => out.push(PhaseResult {
                phase: *phase,
                status: PhaseStatus::Timeout,
                go_type: None,
                error: Some(format!(
                    "did not return within the phase timeout ({after_ms} ms, wall clock): the interpreter child stopped itself"
                )),
                ms: *after_ms as f64,
                fuel: 0,
                memory_bytes: 0,
            }),
            _ => {}
        }
    }
    out
}

pub fn contract_layer(outcome: &Outcome, lifecycle: &Lifecycle, events: &[Event]) -> WasmLayer {
    let wrapper: Vec<String> = outcome
        .blockers
        .iter()
        .filter(|b| b.kind == BlockerKind::Wrapper)
        .map(describe)
        .collect();
    if !wrapper.is_empty() {
        return WasmLayer::new(
            "contract",
            LayerStatus::Fail,
            format!(
                "the lifecycle wrapper does not compile against the package: {}",
                wrapper.join("; ")
            ),
        );
    }
    if outcome.module.is_none() {
        return WasmLayer::new("contract", LayerStatus::Skip, "not built");
    }
    let results = phase_results(events);
    let mut exports = Vec::new();
    for p in super::phases(lifecycle) {
        let r = results.iter().find(|r| r.phase == p);
        let missing = outcome.missing.contains(&symbol(lifecycle, p));
        exports.push(ExportType {
            phase: p,
            symbol: symbol(lifecycle, p),
            go_type: r.and_then(|r| r.go_type.clone()),
            ok: !missing && r.is_none_or(|r| r.status != PhaseStatus::BadSignature),
        });
    }
    if results.is_empty() && outcome.missing.len() < exports.len() {
        return WasmLayer::new(
            "contract",
            LayerStatus::Skip,
            "the module was not instantiated",
        )
        .with(Details::Contract(ContractDetails { exports }));
    }
    let text: Vec<String> = exports
        .iter()
        .map(|e| match (&e.go_type, e.ok) {
            (_, false) if outcome.missing.contains(&e.symbol) => {
                format!("{} not declared", e.symbol)
            }
            (Some(t), true) => format!("{} {t}", e.symbol),
            (Some(t), false) => format!("{} has type {t}, not a lifecycle signature", e.symbol),
            (None, _) => format!("{} (type not read)", e.symbol),
        })
        .collect();
    let bad = exports
        .iter()
        .any(|e| !e.ok && !outcome.missing.contains(&e.symbol));
    WasmLayer::new(
        "contract",
        if bad {
            LayerStatus::Fail
        } else {
            LayerStatus::Pass
        },
        text.join(", "),
    )
    .with(Details::Contract(ContractDetails { exports }))
}

fn first_line(text: &str) -> String {
    let l = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if l.chars().count() > 100 {
        format!("{}…", l.chars().take(100).collect::<String>())
    } else {
        l.to_string()
    }
}

pub fn lifecycle_layer(
    outcome: &Outcome,
    lifecycle: &Lifecycle,
    events: &[Event],
    run: Option<&ChildRun>,
) -> WasmLayer {
    let Some(run) = run else {
        return WasmLayer::new("lifecycle", LayerStatus::Skip, "not built");
    };
    if !events
        .iter()
        .any(|e| matches!(e, Event::Instantiated { .. }))
    {
        return WasmLayer::new("lifecycle", LayerStatus::Skip, "not instantiated");
    }
    let _ = outcome;
    let mut phases = phase_results(events);
    let go_panic = run.fatal_line();
    // A phase that began and never reported: the child died in it.
    let begun = events.iter().rev().find_map(|e| match e {
        Event::PhaseBegin { phase } => Some(*phase),
        _ => None,
    });
    if let Some(p) = begun
        && !phases.iter().any(|r| r.phase == p)
    {
        phases.push(PhaseResult {
            phase: p,
            status: PhaseStatus::Trap,
            go_type: None,
            error: Some(format!(
                "the interpreter child died: {}{}",
                run.ended.describe(),
                go_panic
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )),
            ms: 0.0,
            fuel: 0,
            memory_bytes: 0,
        });
    }
    let mut failed = false;
    let parts: Vec<String> = phases
        .iter()
        .map(|p| {
            let name = symbol(lifecycle, p.phase);
            let err = p.error.clone().unwrap_or_default();
            match p.status {
                PhaseStatus::Ok => format!("{name} ok in {:.1} ms ({} fuel)", p.ms, p.fuel),
                PhaseStatus::Missing => format!("{name} not declared"),
                PhaseStatus::Skipped => format!("{name} skipped ({err})"),
                other => {
                    failed = true;
                    let panic = match (other, &go_panic) {
                        (PhaseStatus::Exit, Some(l)) => format!(" — {l}"),
                        _ => String::new(),
                    };
                    format!(
                        "{name} {} in {:.1} ms ({} fuel): {err}{panic}",
                        other.as_str().to_uppercase(),
                        p.ms,
                        p.fuel
                    )
                }
            }
        })
        .collect();
    let mut reason = parts.join("; ");
    let printed = first_line(&run.stdout);
    if !printed.is_empty() {
        reason.push_str(&format!("; stdout: {printed:?}"));
    }
    WasmLayer::new(
        "lifecycle",
        if failed {
            LayerStatus::Fail
        } else {
            LayerStatus::Pass
        },
        reason,
    )
    .with(Details::Lifecycle(LifecycleDetails {
        phases,
        stdout: run.stdout.clone(),
        stderr: run.stderr.clone(),
        go_panic,
    }))
}

pub fn limits_layer(
    options: &LoadOptions,
    fuel: u64,
    events: &[Event],
    run: &ChildRun,
) -> WasmLayer {
    let results = phase_results(events);
    let mut hits = Vec::new();
    for r in &results {
        let err = r.error.clone().unwrap_or_default();
        match r.status {
            PhaseStatus::OutOfFuel => hits.push(format!(
                "fuel: {} burned all {fuel} fuel (the deterministic CPU limit, --fuel)",
                r.phase.as_str()
            )),
            PhaseStatus::MemoryLimit => hits.push(format!("{} in {}", err, r.phase.as_str())),
            PhaseStatus::Timeout => hits.push(format!(
                "wall-clock: {} still running after {:.0} ms (--phase-timeout); child stopped",
                r.phase.as_str(),
                r.ms
            )),
            _ => {}
        }
    }
    for e in events {
        if let Event::InstantiateFailed { status, error, .. } = e
            && matches!(status, PhaseStatus::OutOfFuel | PhaseStatus::MemoryLimit)
        {
            hits.push(format!("{error} during instantiation"));
        }
    }
    for h in &run.limits_hit {
        hits.push(format!("{} (sandbox): {} — {}", h.limit, h.by, h.detail));
    }
    if let Ended::TimedOut { after_ms } = run.ended
        && run.limits_hit.is_empty()
    {
        hits.push(format!("wall-clock (sandbox): killed after {after_ms} ms"));
    }
    let burned_max = results
        .iter()
        .map(|r| r.fuel)
        .chain(events.iter().filter_map(|e| match e {
            Event::Instantiated { fuel, .. } => Some(*fuel),
            _ => None,
        }))
        .max()
        .unwrap_or(0);
    let peak = events.iter().find_map(|e| match e {
        Event::Done { peak_memory_bytes } => Some(*peak_memory_bytes),
        _ => None,
    });
    let details = LimitsDetails {
        fuel_per_call: fuel,
        fuel_burned_max: burned_max,
        memory_limit_bytes: options.limits.memory,
        peak_memory_bytes: peak,
        hits: hits.clone(),
    };
    let gaps = if run.not_enforced.is_empty() {
        String::new()
    } else {
        format!("; NOT enforced here: {}", run.not_enforced.join("; "))
    };
    if hits.is_empty() {
        WasmLayer::new(
            "limits",
            LayerStatus::Pass,
            format!(
                "no limit hit (fuel: at most {burned_max} of {fuel} per call; linear memory peak {}{}; peak RSS {}){gaps}",
                peak.map(mib).unwrap_or_else(|| "unknown".into()),
                options
                    .limits
                    .memory
                    .map(|m| format!(" of {}", mib(m)))
                    .unwrap_or_default(),
                mib(run.resources.peak_rss_kb * 1024)
            ),
        )
    } else {
        WasmLayer::new("limits", LayerStatus::Fail, format!("{}{gaps}", hits.join("; ")))
    }
    .with(Details::Limits(details))
}
