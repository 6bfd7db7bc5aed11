//! `--trace-out FILE.json`: the traces as a Chrome Trace Event file (JSON object format),
//! which Perfetto (ui.perfetto.dev) and chrome://tracing open: one process per child,
//! phases as complete slices (`ph: "X"`), system calls and page allocations per
//! millisecond as counters (`ph: "C"`), Go panics as instant events (`ph: "i"`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::runtime::LoadReport;
use crate::runtime::trace::{PanicKind, Trace};

/// One event of the Trace Event format (the fields every event needs, and the others
/// its phase type needs).
#[derive(Debug, Serialize)]
pub struct TraceEvent {
    pub name: String,
    pub ph: &'static str,
    /// Microseconds.
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dur: Option<u64>,
    /// Instant events: `p` (process scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cat: Option<&'static str>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub args: Value,
}

fn event(name: impl Into<String>, ph: &'static str, ts: u64, pid: u32) -> TraceEvent {
    TraceEvent {
        name: name.into(),
        ph,
        ts,
        pid,
        tid: pid,
        dur: None,
        s: None,
        cat: None,
        args: Value::Null,
    }
}

/// The file's text for the traced children of a load: one process each, on one timeline
/// that starts with the first child.
pub fn timeline(report: &LoadReport) -> String {
    let traces: Vec<(&str, u64, &Trace)> = report
        .runs
        .iter()
        .filter_map(|r| {
            r.trace
                .as_ref()
                .map(|t| (r.label.as_str(), t.started_ns, t))
        })
        .collect();
    let first = traces.iter().map(|t| t.1).min().unwrap_or(0);
    let runs: Vec<(&str, u64, &Trace)> = traces
        .iter()
        .map(|(l, s, t)| (*l, (s - first) / 1000, *t))
        .collect();
    serde_json::to_string(&document(&runs)).expect("a timeline serialises") + "\n"
}

/// The file's JSON for `(child label, child start in µs on one clock, trace)`.
pub fn document(runs: &[(&str, u64, &Trace)]) -> Value {
    let mut events = Vec::new();
    for (n, (label, offset_us, t)) in runs.iter().enumerate() {
        let pid = n as u32 + 1;
        let mut meta = event("process_name", "M", 0, pid);
        meta.args = json!({"name": format!("{label} ({:?} trace)", t.backend).to_lowercase()});
        events.push(meta);
        for p in &t.phases {
            let mut e = event(
                format!("{} [{}]", p.name, p.index),
                "X",
                offset_us + p.start_us,
                pid,
            );
            e.dur = Some(p.end_us.saturating_sub(p.start_us));
            e.cat = Some("phase");
            e.args = json!({
                "syscalls": p.syscall_total,
                "page_alloc_bytes": p.page_alloc_bytes,
                "file_calls": p.file_calls,
                "connects": p.connects,
            });
            events.push(e);
        }
        for b in &t.series {
            let mut c = event("syscalls per ms", "C", offset_us + b.at_us, pid);
            c.args = json!({"syscalls": b.syscalls});
            events.push(c);
            let mut m = event(
                "page allocations (KiB per ms)",
                "C",
                offset_us + b.at_us,
                pid,
            );
            m.args = json!({"KiB": b.page_alloc_bytes / 1024});
            events.push(m);
        }
        for p in &t.panics {
            let mut i = event(
                format!(
                    "{}: {}",
                    match p.kind {
                        PanicKind::Panic => "panic",
                        PanicKind::Fatal => "fatal",
                    },
                    p.value.as_deref().unwrap_or("(value not read)")
                ),
                "i",
                offset_us + p.at_us,
                pid,
            );
            i.s = Some("p");
            i.cat = Some("go");
            i.args = json!({"goroutine": p.goroutine, "phase": p.phase, "recovered": p.recovered});
            events.push(i);
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}
