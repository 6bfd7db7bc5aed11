//! From what the children reported to layers and a load verdict: the exact error text,
//! classified into the same [`Outcome`]s `inspect` predicts.

use std::path::Path;

use serde::Serialize;

use super::child::{ChildRun, Ended};
use super::contract::{Expect, type_matches};
use super::details::{
    ContractDetails, EnvDetails, EnvVarSeen, ExportType, GoOpenDetails, GoOpenDied,
    LifecycleDetails, LoaderDetails, ReloadDetails, ReloadGrowth,
};
use super::env::{EnvVar, Masker};
use super::events::{self, Event};
use super::{Layer, LayerStatus};
use crate::golang::GoFacts;
use crate::loader::texts;
use crate::predict::ArtifactReport;
use crate::verdict::{LoadVerdict, Outcome};

/// Rewrites the absolute path plugctl passed to the child back to the path the user gave,
/// so messages read like the user's own host would print them (and like `inspect`).
#[derive(Debug, Clone)]
pub struct PathMap {
    pub pairs: Vec<(String, String)>,
}

impl PathMap {
    /// For the C shim: `dlopen(path)` messages name the path as passed, everywhere.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (abs, user) in &self.pairs {
            if abs == user {
                continue;
            }
            out = out.replace(abs.as_str(), user.as_str());
            if let (Some(a), Some(u)) = (abs.strip_suffix(".so"), user.strip_suffix(".so")) {
                out = out.replace(&format!("\"{a}\""), &format!("\"{u}\""));
            }
        }
        out
    }

    /// For Go: only the argument of `plugin.Open("...")` is the path as passed (with or
    /// without `.so`); a loader message after it names the realpath Go gave `dlopen`.
    pub fn apply_go(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (abs, user) in &self.pairs {
            let mut forms = vec![(abs.clone(), user.clone())];
            if let (Some(a), Some(u)) = (abs.strip_suffix(".so"), user.strip_suffix(".so")) {
                forms.push((a.to_string(), u.to_string()));
            }
            for (a, u) in forms {
                let from = format!("plugin.Open(\"{a}\")");
                if let Some(rest) = out.strip_prefix(&from) {
                    out = format!("plugin.Open(\"{u}\"){rest}");
                }
            }
        }
        out
    }
}

/// The C library's name for a signal (`Segmentation fault`, `Bus error`), as a shell or
/// the loader emulation prints it.
pub fn strsignal(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string.
    unsafe {
        let p = libc::strsignal(sig);
        if p.is_null() {
            return format!("signal {sig}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

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

/// A step a child reports twice, before and after: the shim's `dlopen` or the harness's
/// `plugin.Open`.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Dlopen,
    Open,
}

impl Step {
    /// `Some(index)` for the step's `-begin` event.
    fn begun(self, e: &Event) -> Option<i64> {
        match (self, e) {
            (Step::Dlopen, Event::DlopenBegin { index })
            | (Step::Open, Event::OpenBegin { index }) => Some(*index),
            _ => None,
        }
    }

    /// `Some(index)` for the step's result event.
    fn ended(self, e: &Event) -> Option<i64> {
        match (self, e) {
            (Step::Dlopen, Event::Dlopen(d)) => Some(d.index),
            (Step::Open, Event::Open(o)) => Some(o.index),
            _ => None,
        }
    }
}

/// Where a run stopped: the index it was working on when it ended without `done`.
pub fn crashed_at(run: &ChildRun, step: Step) -> Option<i64> {
    if run.finished() {
        return None;
    }
    let mut open: Option<i64> = None;
    for e in run.target_events() {
        if let Some(i) = step.begun(e) {
            open = Some(i);
        } else if step.ended(e).is_some_and(|i| Some(i) == open) {
            open = None;
        }
    }
    open
}

/// How a run that did not finish ended, in one line (with the fatal line for Go).
pub fn death(run: &ChildRun) -> String {
    let mut text = run.ended.describe();
    if let Some(line) = run.fatal_line() {
        text.push_str(&format!(": {line}"));
    }
    if let Some(hit) = run.limits_hit.first() {
        text.push_str(&format!(" [{} limit: {}]", hit.limit, hit.by));
    }
    if let Some(error) = run.exec_failed() {
        text.push_str(&format!(" [{error}]"));
    }
    text
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
            let layer = Layer::new(
                "loader",
                LayerStatus::Skip,
                format!("not reached: the process died while loading {previous}"),
            );
            let error = format!("(never opened: the host crashed while opening {previous})");
            (
                layer,
                verdict_with(
                    Outcome::Crash,
                    error,
                    None,
                    predicted,
                    "an earlier object crashed the process",
                ),
            )
        }
        _ => {
            let status = if run.exec_failed().is_some() {
                LayerStatus::Error
            } else {
                LayerStatus::Fail
            };
            let layer = Layer::new(
                "loader",
                status,
                format!("the shim died before dlopen: {}", death(run)),
            );
            (
                layer,
                LoadVerdict::fail(
                    Outcome::Crash,
                    death(run),
                    "the loader shim did not report",
                    "",
                ),
            )
        }
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
            let layer = Layer::new(
                "go-open",
                LayerStatus::Skip,
                format!("not reached: the harness died while opening {previous}"),
            );
            let error = format!("(never opened: the host crashed while opening {previous})");
            (
                layer,
                verdict_with(
                    Outcome::Crash,
                    error,
                    None,
                    predicted,
                    "an earlier plugin crashed the host process",
                ),
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
        None => {
            // Died before opening anything: a quota or the seccomp profile stopped the
            // harness (a finding); a harness that could not even be executed is plugctl's.
            let status = if run.exec_failed().is_some() {
                LayerStatus::Error
            } else {
                LayerStatus::Fail
            };
            let layer = Layer::new(
                "go-open",
                status,
                format!("the harness died before plugin.Open: {}", death(run)),
            );
            (
                layer,
                LoadVerdict::fail(Outcome::Crash, death(run), "the harness did not report", ""),
            )
        }
    }
}

/// The contract layer: expected exports and their types, and every export's type.
pub fn contract_layer(run: &ChildRun, i: usize, expect: &[Expect]) -> Layer {
    let idx = i as i64;
    let lookups: Vec<&events::Lookup> = run
        .target_events()
        .filter_map(|e| match e {
            Event::Lookup(l) if l.index == idx => Some(l),
            _ => None,
        })
        .collect();
    if lookups.is_empty() {
        return Layer::new(
            "contract",
            LayerStatus::Skip,
            "plugin not opened (or exports no symbols)",
        );
    }
    let mut failures = Vec::new();
    let mut types = Vec::new();
    let mut checked = Vec::new();
    for e in &lookups {
        let name = e.name.as_deref().unwrap_or("?");
        let actual = e.ty.as_deref();
        if !e.ok {
            failures.push(format!(
                "{name}: Lookup failed: {}",
                e.error.as_deref().unwrap_or("")
            ));
            continue;
        }
        types.push(ExportType {
            name: name.to_string(),
            ty: actual.map(str::to_string),
        });
        if e.role == "expect" {
            let expected = e.expected.as_deref();
            match (expected, actual) {
                (Some(want), Some(got)) if !type_matches(want, got) => {
                    failures.push(format!("{name} is {got}, expected {want}"));
                }
                _ => checked.push(format!("{name} {}", actual.unwrap_or("?"))),
            }
        }
    }
    let details = ContractDetails {
        expected: expect.to_vec(),
        exports: types,
    };
    if failures.is_empty() {
        let reason = if expect.is_empty() {
            format!(
                "{} export(s) looked up: {}",
                details.exports.len(),
                lookups
                    .iter()
                    .filter_map(|e| Some(format!("{} {}", e.name.as_deref()?, e.ty.as_deref()?)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "{} expectation(s) met: {}",
                checked.len(),
                checked.join(", ")
            )
        };
        Layer::new("contract", LayerStatus::Pass, reason).with(details)
    } else {
        Layer::new("contract", LayerStatus::Fail, failures.join("; ")).with(details)
    }
}

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

/// The env-timing layer: did the plugin see the user's variables?
pub fn env_layer(
    vars: &[EnvVar],
    masker: &Masker,
    after_open: bool,
    run: &ChildRun,
    comparison: Option<&ChildRun>,
    i: usize,
    go: Option<&GoFacts>,
) -> Layer {
    let idx = i as i64;
    let seen = |r: &ChildRun, when: &str, name: &str| -> Vec<String> {
        r.target_events()
            .filter_map(|e| match e {
                Event::Env(v) if v.index == idx && v.when == when && v.name == name => {
                    v.seen_in.clone()
                }
                _ => None,
            })
            .flatten()
            .collect()
    };
    let static_reads: Vec<String> = go.map(|g| g.init_env_reads.clone()).unwrap_or_default();
    let mut rows = Vec::new();
    let mut missed = Vec::new();
    let mut parts = Vec::new();
    for var in vars {
        let at_init_static = static_reads.contains(&var.name);
        let open_seen = seen(run, "after-open", &var.name);
        let init_seen = seen(run, "after-init", &var.name);
        let before_seen = comparison
            .map(|c| seen(c, "after-open", &var.name))
            .unwrap_or_default();
        let verdict = if after_open {
            if !before_seen.is_empty() && open_seen.is_empty() && init_seen.is_empty() {
                missed.push(var.name.clone());
                format!(
                    "MISSED: set after plugin.Open, {} stays empty (set before Open, it holds the value): the plugin reads {} during plugin.Open",
                    before_seen.join(", "),
                    var.name
                )
            } else if at_init_static && init_seen.is_empty() {
                missed.push(var.name.clone());
                format!(
                    "MISSED: the plugin's package init reads {} (static scan), before the host set it",
                    var.name
                )
            } else if !init_seen.is_empty() {
                format!(
                    "seen after Init ({}): the plugin reads it at Init, after Open: setting it after Open works",
                    init_seen.join(", ")
                )
            } else {
                format!(
                    "not read during plugin.Open{}: setting it after Open is fine",
                    if at_init_static {
                        ""
                    } else {
                        " (static scan and measurement agree)"
                    }
                )
            }
        } else if !open_seen.is_empty() {
            format!(
                "seen: set before plugin.Open, the plugin's {} holds its value",
                open_seen.join(", ")
            )
        } else if at_init_static {
            "set before plugin.Open; the plugin's init reads it (static scan)".to_string()
        } else {
            "set before plugin.Open; no exported variable holds its value".to_string()
        };
        parts.push(format!("{}={} {verdict}", var.name, masker.show(var)));
        rows.push(EnvVarSeen {
            name: var.name.clone(),
            value: masker.show(var),
            secret: var.is_secret(),
            set: if after_open {
                "after-open"
            } else {
                "before-open"
            },
            read_at_init_static: at_init_static,
            seen_after_open: open_seen,
            seen_after_init: init_seen,
            seen_when_set_before_open: comparison.map(|_| before_seen),
            verdict,
        });
    }
    let status = if missed.is_empty() {
        LayerStatus::Pass
    } else {
        LayerStatus::Fail
    };
    Layer::new("env", status, parts.join("; ")).with(EnvDetails {
        set: if after_open {
            "after plugin.Open"
        } else {
            "before plugin.Open"
        },
        vars: rows,
    })
}

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

/// Which artifact a run was busy with when it ended (for attributing limit hits).
pub fn busy_with(run: &ChildRun) -> Option<i64> {
    if run.finished() {
        return None;
    }
    run.target_events().filter_map(Event::index).last()
}

/// The harness's `open` event for plugin (or reload copy) `index`.
fn opened(run: &ChildRun, index: i64) -> Option<&events::Open> {
    run.target_events().find_map(|e| match e {
        Event::Open(o) if o.index == index => Some(o),
        _ => None,
    })
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
