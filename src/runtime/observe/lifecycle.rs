//! The lifecycle layer: the plugin's Init/Start/Stop-style functions, as the harness ran them.

use serde::Serialize;

use super::run::death;
use crate::runtime::child::ChildRun;
use crate::runtime::details::LifecycleDetails;
use crate::runtime::events::Event;
use crate::runtime::{Layer, LayerStatus};

/// One lifecycle phase, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub phase: String,
    pub symbol: String,
    pub status: String,
    pub ms: Option<f64>,
    pub error: Option<String>,
    pub panic: Option<String>,
    pub stack: Vec<String>,
    pub goroutines_before: Option<i64>,
    pub goroutines_after: Option<i64>,
    #[serde(rename = "type")]
    pub ty: Option<String>,
}

pub fn phases(run: &ChildRun, i: usize) -> Vec<Phase> {
    let idx = i as i64;
    let mut out: Vec<Phase> = run
        .target_events()
        .filter_map(|e| match e {
            Event::Phase(p) if p.index == idx => Some(Phase {
                phase: p.phase.clone(),
                symbol: p.symbol.clone(),
                status: p.status.clone(),
                ms: p.ms,
                error: p.error.clone(),
                panic: p.panic.clone(),
                stack: p.stack.clone().unwrap_or_default(),
                goroutines_before: p.goroutines_before,
                goroutines_after: p.goroutines_after,
                ty: p.ty.clone(),
            }),
            _ => None,
        })
        .collect();
    // A phase that began and never ended: the process died in it.
    let last_begun = run
        .target_events()
        .filter_map(|e| match e {
            Event::PhaseBegin(b) if b.index == idx => Some(b),
            _ => None,
        })
        .last();
    if let Some(last) = last_begun {
        let name = last.phase.as_str();
        if !out.iter().any(|p| p.phase == name) && !run.finished() {
            out.push(Phase {
                phase: name.into(),
                symbol: last.symbol.clone(),
                status: "crash".into(),
                ms: Some(run.elapsed_ms as f64),
                error: Some(death(run)),
                panic: None,
                stack: Vec::new(),
                goroutines_before: None,
                goroutines_after: None,
                ty: None,
            });
        }
    }
    out
}

pub fn lifecycle_layer(run: &ChildRun, i: usize, opened: bool) -> Layer {
    if !opened {
        return Layer::new("lifecycle", LayerStatus::Skip, "plugin not opened");
    }
    let ps = phases(run, i);
    if ps.is_empty() || ps.iter().all(|p| p.status == "missing") {
        let names: Vec<&str> = ps.iter().map(|p| p.symbol.as_str()).collect();
        return Layer::new(
            "lifecycle",
            LayerStatus::Skip,
            format!(
                "no lifecycle functions exported (looked for {})",
                names.join(", ")
            ),
        )
        .with(LifecycleDetails { phases: ps });
    }
    let mut parts = Vec::new();
    let mut failed = false;
    for p in &ps {
        let g = match (p.goroutines_before, p.goroutines_after) {
            (Some(a), Some(b)) if a != b => format!(", goroutines {a} → {b}"),
            _ => String::new(),
        };
        let ms = p.ms.map(|m| format!(" in {m:.1} ms")).unwrap_or_default();
        let text = match p.status.as_str() {
            "ok" => format!("{} ok{ms}{g}", p.symbol),
            "missing" => format!("{} not exported", p.symbol),
            "skipped" => format!(
                "{} skipped ({})",
                p.symbol,
                p.error.as_deref().unwrap_or("")
            ),
            "panic" => {
                failed = true;
                format!(
                    "{} PANICKED: {}{}{g}",
                    p.symbol,
                    p.panic.as_deref().unwrap_or(""),
                    p.stack
                        .first()
                        .map(|s| format!(" at {s}"))
                        .unwrap_or_default()
                )
            }
            "timeout" => {
                failed = true;
                format!(
                    "{} TIMED OUT{ms}{g}: {}",
                    p.symbol,
                    p.error.as_deref().unwrap_or("")
                )
            }
            "crash" => {
                failed = true;
                format!(
                    "{} CRASHED the process: {}",
                    p.symbol,
                    p.error.as_deref().unwrap_or("")
                )
            }
            other => {
                failed = true;
                format!(
                    "{} {}{ms}: {}",
                    p.symbol,
                    other.to_uppercase(),
                    p.error.as_deref().unwrap_or("")
                )
            }
        };
        parts.push(text);
    }
    let status = if failed {
        LayerStatus::Fail
    } else {
        LayerStatus::Pass
    };
    Layer::new("lifecycle", status, parts.join("; ")).with(LifecycleDetails { phases: ps })
}
