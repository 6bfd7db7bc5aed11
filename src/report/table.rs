//! The human view of `inspect`: one block per artifact, facts then verdict then findings.

use comfy_table::{Attribute, Cell, Color, Table};

use crate::elf::{Artifact, Libc, ObjectKind, TlsModel};
use crate::findings::{Finding, Severity};
use crate::golang::{GoFacts, GoRole};
use crate::loader::{DepNode, DepTree};
use crate::predict::{ArtifactReport, ProcessMode, Report};
use crate::verdict::LoadVerdict;

use super::{
    Style, indent,
    json::{Detail, Summary},
    wrap,
};

pub fn render(report: &Report, style: Style, detail: Detail) -> String {
    let mut out = String::new();
    if let Some(host) = &report.host {
        out.push_str(&style.paint(
            &format!("host {}", host.artifact.path.display()),
            None,
            true,
        ));
        out.push('\n');
        let mut table = facts_table(style);
        add_fact_rows(&mut table, &host.artifact, detail.symbols);
        match &host.go {
            Some(go) => add_go_rows(&mut table, go),
            None => {
                table.add_row(vec!["go", "not a Go program: loader checks only"]);
            }
        }
        if !host.setup.problems.is_empty() {
            table.add_row(vec!["start-up".to_string(), host.setup.problems.join("\n")]);
        }
        out.push_str(&indent(&laid_out(&table, style)));
        out.push_str("\n\n");
    }
    if report.artifacts.len() > 1 {
        out.push_str(&process_line(report));
        out.push_str("\n\n");
    }
    for item in &report.artifacts {
        render_artifact(&mut out, item, style, detail);
        out.push('\n');
    }
    let s = Summary::of(report);
    out.push_str(&format!(
        "{} artifact(s): {} would not load, {} unreadable; findings: {} error, {} warning, {} info\n",
        s.artifacts, s.would_not_load, s.unreadable, s.errors, s.warnings, s.infos
    ));
    out
}

/// How the artifacts relate to processes, and the flag that changes it.
fn process_line(report: &Report) -> String {
    let program = match &report.host {
        Some(host) => host.artifact.path.display().to_string(),
        None => "a minimal C program".to_string(),
    };
    match report.mode {
        ProcessMode::Sequence => format!(
            "mode: sequence: one process of {program} opens the {} artifacts in this order; each sees what the earlier ones left (--each: a fresh process each)",
            report.artifacts.len()
        ),
        ProcessMode::Each => format!(
            "mode: each: every artifact in a fresh process of {program} (--sequence: one process, in order)"
        ),
    }
}

fn render_artifact(out: &mut String, item: &ArtifactReport, style: Style, detail: Detail) {
    let title = item.path.display().to_string();
    let mut table = facts_table(style);
    match &item.artifact {
        Err(err) => {
            out.push_str(&style.paint(&title, Some(Color::Red), true));
            out.push('\n');
            table.add_row(vec!["error".to_string(), err.to_string()]);
        }
        Ok(artifact) => {
            out.push_str(&style.paint(&title, None, true));
            out.push('\n');
            add_fact_rows(&mut table, artifact, detail.symbols);
        }
    }
    if let Some(go) = &item.go {
        add_go_rows(&mut table, go);
        if detail.symbols && !go.package_hashes.is_empty() {
            let hashes: Vec<String> = go
                .package_hashes
                .iter()
                .map(|p| format!("{} {}", p.hex(), p.path))
                .collect();
            table.add_row(vec!["hashes".to_string(), hashes.join("\n")]);
        }
    }
    add_load_rows(&mut table, &item.load, &item.basis, style);
    if detail.tree {
        table.add_row(vec!["tree".to_string(), render_tree(&item.tree)]);
    }
    out.push_str(&indent(&laid_out(&table, style)));
    out.push('\n');
    if !item.findings.is_empty() {
        out.push_str(&indent(&laid_out(
            &findings_table(&item.findings, style),
            style,
        )));
        out.push('\n');
    }
}

fn add_go_rows(table: &mut Table, go: &GoFacts) {
    let role = match go.role {
        GoRole::Plugin => "plugin",
        GoRole::Executable => "executable",
        GoRole::CShared => "c-shared library",
        GoRole::Other => "binary",
    };
    let mut text = format!("{} {role}", go.version);
    if let Some(path) = &go.main_path {
        text.push_str(&format!(", main package {path}"));
    }
    if let Some(pp) = &go.plugin_path
        && Some(pp) != go.main_path.as_ref()
    {
        text.push_str(&format!(", plugin path {pp}"));
    }
    let settings: Vec<String> = go
        .settings
        .iter()
        .filter(|s| {
            !s.key.starts_with("vcs")
                && !matches!(s.key.as_str(), "-buildmode" | "-compiler" | "GOOS")
        })
        .map(|s| format!("{}={}", s.key, s.value))
        .collect();
    if !settings.is_empty() {
        text.push_str(&format!("\nbuild: {}", settings.join(" ")));
    }
    if !go.deps.is_empty() {
        let deps: Vec<String> = go
            .deps
            .iter()
            .map(|m| match &m.replace {
                Some(r) => format!("{}@{} => {} {}", m.path, m.version, r.path, r.version)
                    .trim_end()
                    .to_string(),
                None => format!("{}@{}", m.path, m.version),
            })
            .collect();
        text.push_str(&format!("\nmodules: {}", deps.join(", ")));
    }
    if !go.package_hashes.is_empty() {
        text.push_str(&format!(
            "\n{} package hashes ({})",
            go.package_hashes.len(),
            go.hash_order_detail
        ));
    }
    if !go.exports.is_empty() {
        let names: Vec<&str> = go.exports.iter().map(|e| e.name.as_str()).collect();
        text.push_str(&format!("\nexports: {}", names.join(", ")));
    }
    table.add_row(vec!["go".to_string(), text]);
}

/// The dependency tree, one line per edge: name => path [rule], or what failed.
pub fn render_tree(tree: &DepTree) -> String {
    let mut lines = Vec::new();
    if let Some(root) = tree.root() {
        walk(tree, root, 0, &mut lines);
    }
    lines.join("\n")
}

fn walk(tree: &DepTree, node: &DepNode, depth: usize, lines: &mut Vec<String>) {
    // `  ` per level and a `- ` marker, so a wrapped line (indented by two more spaces)
    // is never mistaken for a child.
    let pad = if depth == 0 {
        String::new()
    } else {
        format!("{}- ", "  ".repeat(depth - 1))
    };
    let line = match (&node.path, node.rule) {
        (Some(path), Some(rule)) if path != &node.name => {
            format!("{pad}{} => {path} [{}]", node.name, rule.as_str())
        }
        (Some(_), Some(rule)) => format!("{pad}{} [{}]", node.name, rule.as_str()),
        (Some(path), None) => format!("{pad}{path}"),
        (None, _) => format!(
            "{pad}{} NOT FOUND{}",
            node.name,
            node.error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    };
    lines.push(line);
    if depth > 64 {
        return;
    }
    for &child in &node.children {
        if let Some(child) = tree.nodes.get(child) {
            walk(tree, child, depth + 1, lines);
        }
    }
}

/// A (label, text) table as text: wrapped at spaces and commas to the terminal's width
/// (less the two-space indent), never inside a word.
fn laid_out(table: &Table, style: Style) -> String {
    wrap::two_columns(table, || facts_table(style), wrap::columns() - 2).to_string()
}

fn facts_table(style: Style) -> Table {
    super::borderless_table(
        style,
        u16::try_from(wrap::columns() - 2).unwrap_or(u16::MAX),
    )
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
    let undefined = artifact.undefined_names();
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
