//! The loader layer (the C shim's `dlopen`) and the go-open layer (the harness's
//! `plugin.Open`), each with the load verdict its real error text means.

use std::path::Path;

use super::paths::PathMap;
use super::run::{Step, crashed_at, death, opened, strsignal};
use crate::loader::texts;
use crate::predict::ArtifactReport;
use crate::runtime::child::{ChildRun, Ended};
use crate::runtime::details::{GoOpenDetails, GoOpenDied, LoaderDetails};
use crate::runtime::events::Event;
use crate::runtime::{Layer, LayerStatus};
use crate::verdict::{LoadVerdict, Outcome};

fn verdict_with(
    outcome: Outcome,
    error: String,
    package: Option<String>,
    predicted: &LoadVerdict,
    cause: &str,
) -> LoadVerdict {
    // When the prediction names the same outcome, its static explanation and fix apply.
    let (cause, fix) = if predicted.outcome == outcome && !predicted.cause.is_empty() {
        (
            format!("{cause}; {}", predicted.cause),
            predicted.fix.clone(),
        )
    } else {
        (cause.to_string(), String::new())
    };
    LoadVerdict {
        outcome,
        error: Some(error),
        package,
        cause,
        fix,
    }
}

/// The loader layer (and its verdict) for artifact `i`.
pub fn loader_layer(
    run: &ChildRun,
    i: usize,
    user_paths: &[String],
    predicted: &LoadVerdict,
    paths: &PathMap,
) -> (Layer, LoadVerdict) {
    let idx = i as i64;
    let flags = run
        .target_events()
        .find_map(|e| match e {
            Event::Start { flags } => flags.clone(),
            _ => None,
        })
        .unwrap_or_else(|| "RTLD_NOW".to_string());
    if let Some(e) = run.target_events().find_map(|e| match e {
        Event::Dlopen(d) if d.index == idx => Some(d),
        _ => None,
    }) {
        let us = e.us;
        if e.ok {
            let layer = Layer::new(
                "loader",
                LayerStatus::Pass,
                format!("dlopen({flags}) ok in {:.1} ms", us as f64 / 1000.0),
            )
            .with(LoaderDetails {
                dlerror: None,
                flags,
                us,
            });
            return (
                layer,
                LoadVerdict::ok("dlopen succeeded in a sandboxed child"),
            );
        }
        let error = paths.apply(e.error.as_deref().unwrap_or(""));
        let outcome = texts::classify(&error, Path::new(&user_paths[i]))
            .map_or(Outcome::NotElf, |c| c.outcome);
        let layer = Layer::new(
            "loader",
            LayerStatus::Fail,
            format!("dlopen({flags}): {error}"),
        )
        .with(LoaderDetails {
            dlerror: Some(error.clone()),
            flags,
            us,
        });
        return (
            layer,
            verdict_with(
                outcome,
                error,
                None,
                predicted,
                "dlopen failed in a sandboxed child",
            ),
        );
    }
    match crashed_at(run, Step::Dlopen) {
        Some(at) if at == idx => {
            let error = match &run.ended {
                Ended::Signaled { signal, .. } => strsignal(*signal),
                other => other.describe(),
            };
            let layer = Layer::new(
                "loader",
                LayerStatus::Fail,
                format!("the process died inside dlopen: {}", death(run)),
            );
            (
                layer,
                verdict_with(
                    Outcome::Crash,
                    error,
                    None,
                    predicted,
                    "the loader process died inside dlopen",
                ),
            )
        }
        Some(at) if at < idx => {
            let previous = user_paths.get(at as usize).cloned().unwrap_or_default();
            not_reached(
                "loader",
                format!("the process died while loading {previous}"),
                &previous,
                predicted,
                "an earlier object crashed the process",
            )
        }
        _ => died_first(
            run,
            "loader",
            "the shim died before dlopen",
            "the loader shim did not report",
        ),
    }
}

/// The go-open layer (and its verdict) for artifact `i`.
pub fn go_open_layer(
    run: &ChildRun,
    i: usize,
    user_paths: &[String],
    item: &ArtifactReport,
    paths: &PathMap,
    harness: &str,
) -> (Layer, LoadVerdict) {
    let (go, predicted) = (item.go.as_ref(), &item.load);
    let idx = i as i64;
    if let Some(e) = opened(run, idx) {
        let ms = e.ms;
        let details = GoOpenDetails {
            goroutines: e.goroutines,
            goroutines_before: e.goroutines_before,
            harness: harness.to_string(),
            ms,
            rss_kb: e.rss_kb,
        };
        if e.ok {
            let layer = Layer::new(
                "go-open",
                LayerStatus::Pass,
                format!("plugin.Open ok in {ms:.1} ms with {harness}"),
            )
            .with(details);
            return (
                layer,
                LoadVerdict::ok("plugin.Open succeeded in a sandboxed Go harness"),
            );
        }
        let error = paths.apply_go(e.error.as_deref().unwrap_or(""));
        let (outcome, package) = texts::classify(&error, Path::new(&user_paths[i]))
            .map_or((Outcome::NotElf, None), |c| (c.outcome, c.package));
        let layer = Layer::new("go-open", LayerStatus::Fail, error.clone()).with(details);
        return (
            layer,
            verdict_with(
                outcome,
                error,
                package,
                predicted,
                "plugin.Open returned an error in a sandboxed Go harness",
            ),
        );
    }
    match crashed_at(run, Step::Open) {
        Some(at) if at == idx => {
            let fatal = run.fatal_line();
            let not_plugin = go.is_none_or(|g| g.role != crate::golang::GoRole::Plugin);
            let outcome = if not_plugin
                && fatal
                    .as_deref()
                    .is_some_and(|f| f.contains("no plugin module data"))
            {
                Outcome::NotAPlugin
            } else {
                Outcome::Crash
            };
            let error = fatal.unwrap_or_else(|| run.ended.describe());
            let layer = Layer::new(
                "go-open",
                LayerStatus::Fail,
                format!("the harness died inside plugin.Open: {}", death(run)),
            )
            .with(GoOpenDied {
                ended: run.ended.clone(),
                harness: harness.to_string(),
            });
            (
                layer,
                verdict_with(
                    outcome,
                    error,
                    None,
                    predicted,
                    "the Go host process died inside plugin.Open (no error value)",
                ),
            )
        }
        Some(at) if at < idx => {
            let previous = user_paths.get(at as usize).cloned().unwrap_or_default();
            not_reached(
                "go-open",
                format!("the harness died while opening {previous}"),
                &previous,
                predicted,
                "an earlier plugin crashed the host process",
            )
        }
        Some(_) => {
            // Died later (another plugin's lifecycle): this one was never reached.
            let layer = Layer::new(
                "go-open",
                LayerStatus::Skip,
                format!("not reached: {}", death(run)),
            );
            (
                layer,
                LoadVerdict::fail(
                    Outcome::Crash,
                    death(run),
                    "the harness died before this plugin",
                    "",
                ),
            )
        }
        None => died_first(
            run,
            "go-open",
            "the harness died before plugin.Open",
            "the harness did not report",
        ),
    }
}

/// The layer of an artifact the child never got to: an earlier one (`previous`) crashed it.
fn not_reached(
    layer: &'static str,
    died: String,
    previous: &str,
    predicted: &LoadVerdict,
    cause: &str,
) -> (Layer, LoadVerdict) {
    let error = format!("(never opened: the host crashed while opening {previous})");
    (
        Layer::new(layer, LayerStatus::Skip, format!("not reached: {died}")),
        verdict_with(Outcome::Crash, error, None, predicted, cause),
    )
}

/// The layer when the child died before opening anything: a quota or the seccomp profile
/// stopped it (a finding); a child that could not even be executed is plugctl's error.
fn died_first(
    run: &ChildRun,
    layer: &'static str,
    died: &str,
    cause: &str,
) -> (Layer, LoadVerdict) {
    let status = if run.exec_failed().is_some() {
        LayerStatus::Error
    } else {
        LayerStatus::Fail
    };
    (
        Layer::new(layer, status, format!("{died}: {}", death(run))),
        LoadVerdict::fail(Outcome::Crash, death(run), cause, ""),
    )
}
