//! `plugctl load` output: a table per artifact (layers → pass/fail/skip with reasons),
//! the child processes, and the JSON document (the same `load` object as `inspect`,
//! plus layers, prediction comparison and runs).

use comfy_table::{Color, Table};
use serde::Serialize;

use super::{Style, indent};
use crate::runtime::child::ms;
use crate::runtime::wasm::layers::WasmLayer;
use crate::runtime::{ChildRun, EnvShown, Layer, LayerStatus, LoadReport};

const WIDTH: u16 = 110;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    command: &'static str,
    plugctl_version: &'static str,
    #[serde(flatten)]
    report: &'a LoadReport,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    artifacts: usize,
    loaded: usize,
    failed_layers: usize,
    prediction_mismatches: usize,
}

fn summary(report: &LoadReport) -> Summary {
    Summary {
        artifacts: report.artifacts.len(),
        loaded: report
            .artifacts
            .iter()
            .filter(|a| a.load.outcome.loads())
            .count(),
        failed_layers: report
            .artifacts
            .iter()
            .flat_map(|a| &a.layers)
            .filter(|l| l.status == LayerStatus::Fail)
            .count(),
        prediction_mismatches: report.disagreements().len(),
    }
}

pub fn json(report: &LoadReport) -> String {
    let doc = Document {
        schema_version: super::json::SCHEMA_VERSION,
        command: "load",
        plugctl_version: env!("CARGO_PKG_VERSION"),
        report,
        summary: summary(report),
    };
    serde_json::to_string_pretty(&doc).expect("load report serialises") + "\n"
}

fn status_cell(style: Style, status: LayerStatus) -> String {
    let color = match status {
        LayerStatus::Pass => Color::Green,
        LayerStatus::Fail | LayerStatus::Error => Color::Red,
        LayerStatus::Skip => Color::Yellow,
    };
    style.paint(status.as_str(), Some(color), status != LayerStatus::Pass)
}

pub(super) fn new_table(style: Style) -> Table {
    super::borderless_table(style, WIDTH - 2)
}

/// A layer as the layer table shows it (a native load's and a WebAssembly load's).
pub(super) trait LayerRow {
    fn row(&self) -> (&str, LayerStatus, &str);
}

impl LayerRow for Layer {
    fn row(&self) -> (&str, LayerStatus, &str) {
        (self.layer, self.status, &self.reason)
    }
}

impl LayerRow for WasmLayer {
    fn row(&self) -> (&str, LayerStatus, &str) {
        (self.layer, self.status, &self.reason)
    }
}

/// `env (WHEN): NAME=value …` (values as shown: secrets masked).
pub(super) fn env_line(when: &str, vars: &[EnvShown]) -> String {
    let vars: Vec<String> = vars
        .iter()
        .map(|v| format!("{}={}", v.name, v.value))
        .collect();
    format!("env ({when}): {}\n", vars.join(" "))
}

/// The layers of one artifact: layer, result, detail; indented, with a blank line after.
pub(super) fn layer_table(style: Style, layers: &[impl LayerRow]) -> String {
    let mut t = new_table(style);
    t.set_header(vec!["layer", "result", "detail"]);
    for (layer, status, reason) in layers.iter().map(LayerRow::row) {
        t.add_row(vec![
            layer.to_string(),
            status_cell(style, status),
            reason.to_string(),
        ]);
    }
    format!("{}\n\n", indent(&t.to_string()))
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

pub(super) fn run_line(r: &ChildRun) -> String {
    let mut parts = vec![
        format!("pid {}", r.pid),
        format!("{} after {}", r.ended.describe(), ms(r.elapsed_ms)),
        format!("peak RSS {}", mib(r.resources.peak_rss_kb)),
        format!(
            "CPU {}",
            ms(r.resources.cpu_user_ms + r.resources.cpu_system_ms)
        ),
        format!("{} threads", r.resources.max_threads),
    ];
    if let Some(peak) = r.resources.cgroup.memory_peak_bytes {
        parts.push(format!("cgroup memory peak {}", mib(peak / 1024)));
    }
    for h in &r.limits_hit {
        parts.push(format!("LIMIT HIT {}: {} ({})", h.limit, h.by, h.detail));
    }
    parts.join("; ")
}

/// For a child that died (a signal, the wall clock, or a non-zero exit), what it wrote
/// on stderr (already masked): the first lines (Go's `fatal error:`/`panic:` and the
/// signal) and the last ones (a C program's last words), at most three of each.
fn died_with(r: &ChildRun) -> Option<String> {
    const EACH: usize = 3;
    let died = !matches!(r.ended, crate::runtime::child::Ended::Exited { code: 0 });
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if !died || lines.is_empty() {
        return None;
    }
    let shown = if lines.len() <= 2 * EACH {
        lines.join("\n")
    } else {
        format!(
            "{}\n... ({} lines)\n{}",
            lines[..EACH].join("\n"),
            lines.len() - 2 * EACH,
            lines[lines.len() - EACH..].join("\n")
        )
    };
    Some(format!("stderr:\n{shown}"))
}

/// A value as compact JSON (`[1,2,3]`, `["A"]`), as the text output has always shown lists.
fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn isolation_line(r: &ChildRun) -> String {
    let Some(i) = &r.isolation else {
        return "the sandbox stage did not report".into();
    };
    let p = &i.probe;
    let mut lines = vec![
        format!(
            "sandbox: {} — every claim below was checked by a probe inside it before the target ran",
            i.backend
        ),
        format!("network: {}", i.network),
        format!("files: {}", i.filesystem),
        format!(
            "processes: {} (visible pids {}; ptrace of its parent {})",
            if i.pid_isolated {
                "own PID namespace, plugctl not visible"
            } else {
                "NOT isolated: plugctl's processes are visible"
            },
            json_text(&p.visible_pids),
            p.ptrace_parent
        ),
        format!(
            "privileges: capabilities {}, no_new_privs {}, uid {}; setns {}, unshare(user) {}, mount tmpfs {}",
            p.cap_eff, p.no_new_privs, p.uid, p.setns, p.unshare_user, p.mount_tmpfs
        ),
        format!(
            "cgroups inside: {} (file system {}, mkdir {}, mount {})",
            if i.cgroup_locked {
                "cannot be changed"
            } else {
                "CHANGEABLE"
            },
            if p.cgroupfs_visible {
                "visible"
            } else {
                "not mounted"
            },
            p.cgroup_mkdir,
            p.cgroup_mount
        ),
        format!(
            "plugctl's environment: {}",
            if i.env_isolated {
                "no value readable from any visible /proc/*/environ".to_string()
            } else {
                format!("READABLE: {}", json_text(&i.parent_env_seen))
            }
        ),
    ];
    let env = i.env.join(" ");
    lines.push(format!(
        "env: {}",
        if env.is_empty() {
            "(empty)".to_string()
        } else {
            env
        }
    ));
    let rl = i.rlimits.join(" ");
    if !rl.is_empty() {
        lines.push(format!("rlimits: {rl}"));
    }
    let cg = i.cgroups.join(" ");
    if !cg.is_empty() {
        lines.push(format!(
            "cgroups ({}): {cg}",
            r.cgroup_version
                .map(|v| format!("{v:?}").to_lowercase())
                .unwrap_or_default()
        ));
    }
    if !r.cgroup_notes.is_empty() {
        lines.push(format!("limits applied: {}", r.cgroup_notes.join("; ")));
    }
    if !r.not_enforced.is_empty() {
        lines.push(format!(
            "limits NOT enforced: {}",
            r.not_enforced.join("; ")
        ));
    }
    if let Some(sc) = &i.seccomp {
        lines.push(format!("seccomp: {sc}"));
    }
    let errors = i.errors.join(" ");
    if !errors.is_empty() {
        lines.push(format!("problems: {errors}"));
    }
    lines.push(format!(
        "cleanup: {} leftover process(es) killed, {} cgroup(s) removed{}, working directory {}",
        r.cleanup.leftover_processes_killed,
        r.cleanup.cgroups_removed.len(),
        if r.cleanup.cgroups_not_removed.is_empty() {
            String::new()
        } else {
            format!(" ({} NOT removed)", r.cleanup.cgroups_not_removed.len())
        },
        if r.cleanup.workdir_removed {
            "removed"
        } else {
            "NOT removed"
        }
    ));
    lines.join("\n")
}

pub fn table(report: &LoadReport, style: Style) -> String {
    let mut out = String::new();
    if let Some(h) = &report.host {
        out.push_str(&style.paint(&format!("host {h}"), None, true));
        out.push('\n');
    }
    for a in &report.artifacts {
        out.push_str(&style.paint(&a.path, None, true));
        out.push('\n');
        let observed = match a.observed_by {
            "go-open" => "plugin.Open in the Go harness",
            _ => "dlopen in the C shim",
        };
        let load = match &a.load.error {
            None => format!("load: {} (observed by {observed})", a.load.outcome),
            Some(e) => format!("load: {} — {e} (observed by {observed})", a.load.outcome),
        };
        out.push_str(&indent(&style.paint(
            &load,
            Some(if a.load.outcome.loads() {
                Color::Green
            } else {
                Color::Red
            }),
            true,
        )));
        out.push('\n');
        if !a.prediction.agrees {
            let what = if a.prediction.same_outcome {
                "same outcome, different error text"
            } else {
                "DIFFERENT OUTCOME"
            };
            let text = format!(
                "!! PREDICTION MISMATCH ({what}): inspect predicted {}{}",
                a.prediction.outcome,
                a.prediction
                    .error
                    .as_deref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            );
            out.push_str(&indent(&style.paint(&text, Some(Color::Yellow), true)));
            out.push('\n');
            if let Some(note) = &a.prediction.note {
                out.push_str(&indent(&format!("   {note}")));
                out.push('\n');
            }
        } else {
            out.push_str(&indent(&format!(
                "prediction: {} (inspect agrees)",
                a.prediction.outcome
            )));
            out.push('\n');
        }
        out.push_str(&layer_table(style, &a.layers));
    }
    if let Some(h) = &report.harness {
        out.push_str(&format!(
            "harness: {} — {} in {}\n",
            h.plan.describe(),
            if h.cached { "cached" } else { "built" },
            ms(h.ms)
        ));
    }
    if let Some(e) = &report.harness_error {
        out.push_str(&style.paint(
            &format!("harness: unavailable: {e}\n"),
            Some(Color::Red),
            false,
        ));
    }
    if let Some(c) = &report.reload {
        out.push_str(&format!(
            "reload copies: {} ({} built, {} cached, {}): {}\n",
            c.paths.len(),
            c.built,
            c.cached,
            ms(c.ms),
            c.method
        ));
    }
    if let Some(s) = &report.seccomp {
        match s.mode.as_str() {
            "learn" => out.push_str(&format!(
                "seccomp: learned {} system calls (+{} Go runtime baseline) with {}; profile written to {}\n",
                s.syscalls.len(),
                s.baseline.len(),
                s.method,
                s.profile.as_deref().unwrap_or("?")
            )),
            _ => out.push_str(&format!(
                "seccomp: enforced {}: {}\n",
                s.profile.as_deref().unwrap_or("?"),
                match &s.first_denied {
                    Some(d) => format!("FIRST DENIED {} ({})", d.syscall, d.action.describe()),
                    None => "nothing denied".into(),
                }
            )),
        }
        for w in s.warnings.iter().chain(&s.errors) {
            out.push_str(&format!("  {w}\n"));
        }
    }
    if !report.env.is_empty() {
        out.push_str(&env_line(report.env_set, &report.env));
    }
    out.push_str("child processes:\n");
    for r in &report.runs {
        out.push_str(&format!("  {}: {}\n", r.label, run_line(r)));
        if let Some(tail) = died_with(r) {
            out.push_str(&indent(&indent(&tail)));
            out.push('\n');
        }
        out.push_str(&indent(&indent(&isolation_line(r))));
        out.push('\n');
        if let Some(t) = &r.trace {
            for line in super::trace::lines(t) {
                out.push_str(&indent(&indent(&line)));
                out.push('\n');
            }
        }
    }
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    let s = summary(report);
    out.push_str(&format!(
        "{} artifact(s): {} loaded, {} failed layer(s), {} prediction mismatch(es)\n",
        s.artifacts, s.loaded, s.failed_layers, s.prediction_mismatches
    ));
    out
}
