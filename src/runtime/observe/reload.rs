//! The reload layer: the same plugin opened again from copies, and what each copy cost.

use serde::Serialize;

use super::paths::PathMap;
use super::run::{death, opened};
use crate::runtime::child::ChildRun;
use crate::runtime::details::{ReloadDetails, ReloadGrowth};
use crate::runtime::events::Event;
use crate::runtime::{Layer, LayerStatus};

/// Growth per reload, from the `reload` measurements.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadStep {
    pub copy: i64,
    pub path: String,
    pub opened: bool,
    /// `plugin.Open`'s error for a copy that did not open.
    pub error: Option<String>,
    pub goroutines: i64,
    pub rss_kb: i64,
    pub heap_kb: i64,
    pub goroutine_growth: i64,
    pub rss_growth_kb: i64,
}

pub fn reload_layer(run: &ChildRun, n_plugins: usize, paths: &PathMap) -> Layer {
    let mut steps: Vec<ReloadStep> = Vec::new();
    let samples = run.target_events().filter_map(|e| match e {
        Event::Reload(r) => Some(r),
        _ => None,
    });
    for e in samples {
        let index = e.index;
        let open = opened(run, index);
        let opened = index == 0 || open.is_some_and(|o| o.ok);
        let error = if opened {
            None
        } else {
            Some(
                paths.apply_go(
                    open.and_then(|o| o.error.as_deref())
                        .unwrap_or("did not open"),
                ),
            )
        };
        let prev = steps.last();
        let g = e.goroutines;
        let rss = e.rss_kb;
        steps.push(ReloadStep {
            copy: e.copy,
            path: paths.apply(&e.path),
            opened,
            error,
            goroutines: g,
            rss_kb: rss,
            heap_kb: e.heap_kb,
            goroutine_growth: prev.map_or(0, |p| g - p.goroutines),
            rss_growth_kb: prev.map_or(0, |p| rss - p.rss_kb),
        });
    }
    let reloads = steps.len().saturating_sub(1);
    if reloads == 0 {
        let why = if run.finished() {
            "no reload measured".to_string()
        } else {
            format!("the harness died: {}", death(run))
        };
        return Layer::new("reload", LayerStatus::Fail, why).with(ReloadDetails {
            steps,
            growth: None,
        });
    }
    let _ = n_plugins;
    let first = &steps[0];
    let last = &steps[steps.len() - 1];
    let g_per = (last.goroutines - first.goroutines) as f64 / reloads as f64;
    let rss_per = (last.rss_kb - first.rss_kb) as f64 / reloads as f64 / 1024.0;
    let failed_opens: Vec<String> = steps
        .iter()
        .filter(|s| !s.opened)
        .map(|s| format!("copy {}: {}", s.copy, s.error.as_deref().unwrap_or("")))
        .collect();
    let leak = steps[1..].iter().all(|s| s.goroutine_growth > 0);
    let unload = format!(
        "Go cannot unload plugins: after {reloads} reload(s) all {} copies stay mapped in the process",
        reloads + 1
    );
    let reason = format!(
        "{reloads} reload(s): goroutines {} → {} ({g_per:+.1} per reload), RSS {:.1} → {:.1} MiB ({rss_per:+.1} MiB per reload){}. {unload}",
        first.goroutines,
        last.goroutines,
        first.rss_kb as f64 / 1024.0,
        last.rss_kb as f64 / 1024.0,
        if leak {
            "; GOROUTINE LEAK: every reload leaves goroutines running"
        } else {
            ""
        }
    );
    let status = if leak || !failed_opens.is_empty() {
        LayerStatus::Fail
    } else {
        LayerStatus::Pass
    };
    let reason = if failed_opens.is_empty() {
        reason
    } else {
        format!("{reason}; FAILED TO OPEN: {}", failed_opens.join("; "))
    };
    Layer::new("reload", status, reason).with(ReloadDetails {
        steps,
        growth: Some(ReloadGrowth {
            failed_opens,
            goroutine_leak: leak,
            goroutines_per_reload: g_per,
            note: unload,
            rss_mib_per_reload: rss_per,
            unloadable: false,
        }),
    })
}
