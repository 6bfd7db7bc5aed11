//! `load --wasm` and `inspect --wasm-ready` output: the same layer table and JSON shape
//! (`artifacts[]`, `layers[]`) as `load`, with the `wasm` layer and the blockers.

use comfy_table::Color;
use serde::Serialize;

use super::Style;
use super::indent;
use super::load::{env_line, layer_table, new_table, run_line};
use crate::runtime::LayerStatus;
use crate::runtime::wasm::WasmReport;
use crate::runtime::wasm::compare::CompareDetails;
use crate::runtime::wasm::layers::Details;
use crate::wasm::build::Outcome;
use crate::wasm::ready::BlockerKind;

#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    schema_version: u32,
    command: &'static str,
    plugctl_version: &'static str,
    #[serde(flatten)]
    report: &'a T,
}

fn document<T: Serialize>(command: &'static str, report: &T) -> String {
    let doc = Document {
        schema_version: super::json::SCHEMA_VERSION,
        command,
        plugctl_version: env!("CARGO_PKG_VERSION"),
        report,
    };
    serde_json::to_string_pretty(&doc).expect("wasm report serialises") + "\n"
}

pub fn load_json(report: &WasmReport) -> String {
    document("load", report)
}

pub fn load_table(report: &WasmReport, style: Style) -> String {
    let mut out = String::new();
    for a in &report.artifacts {
        out.push_str(&style.paint(&format!("{} (WebAssembly)", a.path), None, true));
        out.push('\n');
        out.push_str(&layer_table(style, &a.layers));
        for l in &a.layers {
            if let Some(Details::Compare(c)) = &l.details
                && !c.phases.is_empty()
            {
                out.push_str(&compare_table(c, style));
            }
        }
    }
    if !report.env.is_empty() {
        out.push_str(&env_line("WASI environment", &report.env));
    }
    if !report.runs.is_empty() {
        out.push_str("child processes:\n");
        for r in &report.runs {
            out.push_str(&format!("  {}: {}\n", r.label, run_line(r)));
        }
    }
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    let failed = report
        .artifacts
        .iter()
        .flat_map(|a| &a.layers)
        .filter(|l| l.status == LayerStatus::Fail)
        .count();
    out.push_str(&format!(
        "{} package(s) as WebAssembly: {} failed layer(s)\n",
        report.artifacts.len(),
        failed
    ));
    out
}

/// `load --wasm --host`: native vs WebAssembly, one row per phase.
fn compare_table(c: &CompareDetails, style: Style) -> String {
    let ms = |m: Option<f64>| m.map(|m| format!("{m:.2}")).unwrap_or_else(|| "-".into());
    let mut t = new_table(style);
    t.set_header(vec![
        "phase",
        "native",
        "wasm",
        "same",
        "native ms",
        "wasm ms",
        "slowdown",
    ]);
    for p in &c.phases {
        t.add_row(vec![
            p.phase.as_str().to_string(),
            p.native_status.clone().unwrap_or_else(|| "not run".into()),
            p.wasm_status
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "not run".into()),
            if p.same { "yes" } else { "NO" }.to_string(),
            ms(p.native_ms),
            ms(p.wasm_ms),
            p.slowdown
                .map(|f| format!("×{f:.1}"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut out = indent(&format!(
        "native (Go {}, built in {:.0} ms for {}) vs WebAssembly:",
        c.native_go_version.as_deref().unwrap_or("?"),
        c.native_build_ms.unwrap_or(0.0),
        c.host
    ));
    out.push('\n');
    out.push_str(&indent(&t.to_string()));
    out.push_str("\n\n");
    out
}

/// One package's readiness, for `inspect --wasm-ready`.
#[derive(Debug, Serialize)]
pub struct Ready {
    pub path: String,
    /// Nothing blocks the build (stubs may still behave differently).
    pub ready: bool,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Serialize)]
struct ReadyReport<'a> {
    mode: &'static str,
    artifacts: &'a [Ready],
}

pub fn ready_json(items: &[Ready]) -> String {
    document(
        "inspect",
        &ReadyReport {
            mode: "wasm-ready",
            artifacts: items,
        },
    )
}

pub fn ready_table(items: &[Ready], style: Style) -> String {
    let mut out = String::new();
    for r in items {
        let o = &r.outcome;
        let head = if r.ready {
            style.paint(
                &format!("{}: ready for wasip1 (Go {})", r.path, o.go_version),
                Some(Color::Green),
                true,
            )
        } else {
            style.paint(
                &format!(
                    "{}: NOT ready for wasip1 (Go {}): {} blocker(s)",
                    r.path,
                    o.go_version,
                    o.blockers.iter().filter(|b| b.kind.blocks_build()).count()
                ),
                Some(Color::Red),
                true,
            )
        };
        out.push_str(&head);
        out.push('\n');
        if !o.blockers.is_empty() {
            let mut t = new_table(style);
            t.set_header(vec!["kind", "where", "what", "import chain"]);
            for b in &o.blockers {
                t.add_row(vec![
                    if b.kind == BlockerKind::Stub {
                        format!("{} (runs)", b.kind.as_str())
                    } else {
                        b.kind.as_str().to_string()
                    },
                    b.location(),
                    b.message.clone(),
                    b.import_chain.join(" → "),
                ]);
            }
            out.push_str(&indent(&t.to_string()));
            out.push('\n');
        }
        if o.module.is_some() {
            out.push_str(&indent(&format!(
                "builds: {} bytes in {:.0} ms ({})",
                o.module_bytes, o.build_ms, o.command
            )));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}
