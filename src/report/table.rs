//! The human view of `inspect`: one block per artifact, facts then verdict then findings.

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};

use crate::elf::{Artifact, Libc, ObjectKind, TlsModel};
use crate::findings::{Finding, Severity};
use crate::predict::{ArtifactReport, Report};
use crate::verdict::LoadVerdict;

use super::{Style, json::Summary};

const WIDTH: u16 = 100;

pub fn render(report: &Report, style: Style, list_symbols: bool) -> String {
    let mut out = String::new();
    for item in &report.artifacts {
        render_artifact(&mut out, item, style, list_symbols);
        out.push('\n');
    }
    let s = Summary::of(report);
    out.push_str(&format!(
        "{} artifact(s): {} would not load, {} unreadable; findings: {} error, {} warning, {} info\n",
        s.artifacts, s.would_not_load, s.unreadable, s.errors, s.warnings, s.infos
    ));
    out
}

fn render_artifact(out: &mut String, item: &ArtifactReport, style: Style, list_symbols: bool) {
    let title = item.path.display().to_string();
    match &item.result {
        Err(err) => {
            out.push_str(&style.paint(&title, Some(Color::Red), true));
            out.push_str(&format!("\n  error: {err}\n"));
        }
        Ok(analysis) => {
            out.push_str(&style.paint(&title, None, true));
            out.push('\n');
            let mut table = facts_table(style);
            add_fact_rows(&mut table, &analysis.artifact, list_symbols);
            if let Some(load) = &analysis.load {
                add_load_rows(&mut table, load, &analysis.basis, style);
            }
            out.push_str(&indent(&table.to_string()));
            out.push('\n');
            if !analysis.findings.is_empty() {
                out.push_str(&indent(
                    &findings_table(&analysis.findings, style).to_string(),
                ));
                out.push('\n');
            }
        }
    }
}

fn facts_table(style: Style) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH - 2);
    if !style.color {
        table.force_no_tty();
    }
    table
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {}", l.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Executable => "executable",
        ObjectKind::PieExecutable => "PIE executable",
        ObjectKind::SharedObject => "shared object",
        ObjectKind::Relocatable => "relocatable object",
        ObjectKind::Other => "other ELF",
    }
}

fn libc_name(libc: Libc) -> &'static str {
    match libc {
        Libc::Glibc => "glibc",
        Libc::Musl => "musl",
        Libc::None => "no libc",
        Libc::Unknown => "unknown libc",
    }
}

fn add_fact_rows(table: &mut Table, artifact: &Artifact, list_symbols: bool) {
    let id = &artifact.identity;
    let mut file = format!(
        "{} {:?} {}, {}, {}, {} bytes",
        id.class
            .glibc_name()
            .trim_start_matches("ELFCLASS")
            .replace("32", "ELF32")
            .replace("64", "ELF64"),
        id.endianness,
        id.machine,
        kind_name(id.kind),
        libc_name(id.libc),
        artifact.file_size
    );
    if let Some(interp) = &id.interpreter {
        file.push_str(&format!(", interpreter {interp}"));
    }
    table.add_row(vec!["file".to_string(), file]);

    let dynamic = &artifact.dynamic;
    if !dynamic.needed.is_empty() || dynamic.soname.is_some() {
        let mut needs = dynamic.needed.join(", ");
        if let Some(glibc) = &artifact.versions.max_glibc {
            needs.push_str(&format!(" (up to {glibc})"));
        }
        if let Some(soname) = &dynamic.soname {
            table.add_row(vec!["soname".to_string(), soname.clone()]);
        }
        table.add_row(vec![
            "needs".to_string(),
            if needs.is_empty() {
                "nothing".into()
            } else {
                needs
            },
        ]);
    }
    for (label, paths) in [("rpath", &dynamic.rpath), ("runpath", &dynamic.runpath)] {
        if !paths.is_empty() {
            table.add_row(vec![label.to_string(), paths.join(":")]);
        }
    }
    if !dynamic.flag_names.is_empty() {
        table.add_row(vec!["flags".to_string(), dynamic.flag_names.join(" ")]);
    }
    let tls = &artifact.tls;
    if tls.model != TlsModel::None {
        let model = match tls.model {
            TlsModel::InitialExec => "initial-exec (static TLS)",
            TlsModel::Dynamic => "dynamic",
            TlsModel::None => "none",
        };
        table.add_row(vec![
            "tls".to_string(),
            format!(
                "{model}, {} bytes, align {}",
                tls.size.unwrap_or(0),
                tls.align.unwrap_or(0)
            ),
        ]);
    }
    let defined = artifact.symbols.iter().filter(|s| s.defined).count();
    let undefined: Vec<&str> = artifact
        .symbols
        .iter()
        .filter(|s| !s.defined && !s.name.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    let mut symbols = format!("{defined} defined, {} undefined", undefined.len());
    if list_symbols && !undefined.is_empty() {
        symbols.push_str(&format!("\nundefined: {}", undefined.join(" ")));
    }
    table.add_row(vec!["symbols".to_string(), symbols]);
    let seg = &artifact.segments;
    table.add_row(vec![
        "segments".to_string(),
        format!(
            "{} PT_LOAD, stack {}, {}",
            seg.load_segments,
            if seg.exec_stack {
                "EXECUTABLE"
            } else {
                "non-executable"
            },
            if seg.relro { "RELRO" } else { "no RELRO" }
        ),
    ]);
}

fn add_load_rows(table: &mut Table, load: &LoadVerdict, basis: &[String], style: Style) {
    let verdict = if load.outcome.loads() {
        style.paint("loads", Some(Color::Green), true)
    } else {
        style.paint(
            &format!("WILL NOT LOAD ({})", load.outcome),
            Some(Color::Red),
            true,
        )
    };
    let mut text = verdict;
    if let Some(error) = &load.error {
        text.push_str(&format!("\nerror: {error}"));
    }
    if !load.cause.is_empty() {
        text.push_str(&format!("\ncause: {}", load.cause));
    }
    if !load.fix.is_empty() {
        text.push_str(&format!("\nfix:   {}", load.fix));
    }
    if !basis.is_empty() {
        text.push_str(&format!("\nbasis: {}", basis.join("; ")));
    }
    table.add_row(vec!["load".to_string(), text]);
}

fn findings_table(findings: &[Finding], style: Style) -> Table {
    let mut table = facts_table(style);
    for finding in findings {
        let (color, label) = match finding.severity {
            Severity::Error => (Color::Red, "error"),
            Severity::Warning => (Color::Yellow, "warning"),
            Severity::Info => (Color::Blue, "info"),
        };
        let mut text = finding.message.clone();
        if !finding.why.is_empty() {
            text.push_str(&format!("\nwhy: {}", finding.why));
        }
        if !finding.fix.is_empty() {
            text.push_str(&format!("\nfix: {}", finding.fix));
        }
        let mut severity = Cell::new(format!("{label} {}", finding.code));
        if style.color {
            severity = severity.fg(color).add_attribute(Attribute::Bold);
        }
        table.add_row(vec![severity, Cell::new(text)]);
    }
    table
}
