//! The views of `build` (table and JSON) and the human view of `diff`.

use comfy_table::{Color, Table};

use super::{Style, indent};
use crate::compare::Diff;
use crate::gobuild::{AlignStatus, BuildResult};

const WIDTH: u16 = 100;

fn table(style: Style) -> Table {
    super::borderless_table(style, WIDTH - 2)
}

fn mark(style: Style, ok: bool, text: &str) -> String {
    style.paint(text, Some(if ok { Color::Green } else { Color::Red }), true)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(16)]
}

/// `build --format json`: the serialised result.
pub fn json(result: &BuildResult) -> serde_json::Result<String> {
    Ok(serde_json::to_string_pretty(result)? + "\n")
}

pub fn build(result: &BuildResult, style: Style) -> String {
    let mut out = String::new();
    let title = format!(
        "{} {}",
        mark(
            style,
            result.ok(),
            if result.ok() { "built" } else { "FAILED" }
        ),
        result.output.path.display()
    );
    out.push_str(&title);
    out.push('\n');
    let mut t = table(style);
    if let Some(h) = &result.host {
        t.add_row(vec![
            "host".to_string(),
            format!(
                "{} ({}, {}{})",
                h.path.display(),
                h.go_version,
                h.main_path.as_deref().unwrap_or("?"),
                if h.records_source_dirs {
                    ", source dirs recorded"
                } else {
                    ", -trimpath"
                }
            ),
        ]);
    }
    t.add_row(vec![
        "toolchain".to_string(),
        format!(
            "go{} ({}: {})",
            result.toolchain.version,
            result.toolchain.source,
            result.toolchain.go.display()
        ),
    ]);
    t.add_row(vec![
        "target".to_string(),
        format!("{}/{}", result.target.goos, result.target.goarch),
    ]);
    let flags = if result.target.flags.is_empty() {
        "(none)".to_string()
    } else {
        result.target.flags.join(" ")
    };
    t.add_row(vec!["flags".to_string(), flags]);
    let env: Vec<String> = result
        .target
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(result.alignment.env.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    t.add_row(vec!["env".to_string(), env.join(" ")]);
    let mirrored: Vec<String> = result
        .target
        .mirrored
        .iter()
        .filter(|m| m.action.starts_with("mirrored") || m.action.starts_with("not"))
        .map(|m| format!("{}: {}", m.setting, m.action))
        .collect();
    if !mirrored.is_empty() {
        t.add_row(vec!["host settings".to_string(), mirrored.join("\n")]);
    }
    if !result.alignment.entries.is_empty() {
        let lines: Vec<String> = result
            .alignment
            .entries
            .iter()
            .map(|a| {
                let status = match a.status {
                    AlignStatus::Same => "same",
                    AlignStatus::Aligned => "aligned",
                    AlignStatus::Added => "added",
                    AlignStatus::Unsatisfied => "UNSATISFIED",
                };
                format!(
                    "{} [{status}] host {}; plugin {} -> {}\n  {}",
                    a.module, a.host, a.plugin_before, a.plugin_after, a.note
                )
            })
            .collect();
        t.add_row(vec!["modules".to_string(), lines.join("\n")]);
    }
    t.add_row(vec!["command".to_string(), result.command_line.clone()]);
    t.add_row(vec![
        "output".to_string(),
        format!(
            "{} bytes, sha256 {}",
            result.output.size, result.output.sha256
        ),
    ]);
    let s = &result.verification.static_check;
    let static_text = match (&s.load, &s.skipped) {
        (Some(load), _) => match &load.error {
            None => format!(
                "{} ({}): {}",
                mark(style, s.ok, load.outcome.as_str()),
                s.against,
                load.cause
            ),
            Some(err) => format!(
                "{} ({}): {err}\n{}",
                mark(style, s.ok, load.outcome.as_str()),
                s.against,
                load.cause
            ),
        },
        (None, Some(why)) => format!("skipped: {why}"),
        (None, None) => "skipped".to_string(),
    };
    t.add_row(vec!["static check".to_string(), static_text]);
    if let Some(l) = &result.verification.load {
        let mut text = format!(
            "{} (harness sharing {} packages with the host, {:.1} s)",
            mark(style, l.ok() || l.outcome == "skipped", &l.outcome),
            l.shared_packages,
            l.seconds
        );
        if let Some(d) = &l.detail {
            text.push_str(&format!(": {d}"));
        }
        t.add_row(vec!["load".to_string(), text]);
    }
    if let Some(r) = &result.verification.repro {
        let mut text = if r.identical {
            format!(
                "{} bit-identical rebuild (other directory, empty GOCACHE), sha256 {}",
                mark(style, true, "ok"),
                short(&r.sha256_second)
            )
        } else {
            format!(
                "{} the rebuild differs: sha256 {} vs {}",
                mark(style, false, "differs"),
                short(&r.sha256_first),
                short(&r.sha256_second)
            )
        };
        if let Some(v) = &r.verdict {
            text.push_str(&format!("\n{v}"));
        }
        t.add_row(vec!["repro".to_string(), text]);
    }
    t.add_row(vec![
        "manifest".to_string(),
        result.manifest.display().to_string(),
    ]);
    let sec = &result.seconds;
    t.add_row(vec![
        "time".to_string(),
        format!(
            "{:.1} s (toolchain {:.1}, align {:.1}, build {:.1}, check {:.1}{}{})",
            sec.total,
            sec.toolchain,
            sec.align,
            sec.build,
            sec.verify,
            if result.verification.load.is_some() {
                format!(", load {:.1}", sec.load)
            } else {
                String::new()
            },
            if result.verification.repro.is_some() {
                format!(", repro {:.1}", sec.repro)
            } else {
                String::new()
            },
        ),
    ]);
    out.push_str(&indent(&t.to_string()));
    out.push('\n');
    for w in &result.warnings {
        out.push_str(&format!(
            "{} {w}\n",
            style.paint("warning:", Some(Color::Yellow), true)
        ));
    }
    out
}

pub fn diff(d: &Diff, style: Style) -> String {
    let mut out = String::new();
    for side in [&d.a, &d.b] {
        out.push_str(&format!(
            "{:<7} {}  {} ({}{}), {} bytes, sha256 {}\n",
            side.label,
            side.path.display(),
            side.role,
            side.machine,
            side.go_version
                .as_deref()
                .map(|v| format!(", {v}"))
                .unwrap_or_default(),
            side.size,
            short(&side.sha256)
        ));
    }
    out.push_str(&format!(
        "{} {}\n",
        mark(
            style,
            d.same_build_facts,
            if d.same_build_facts {
                "same:"
            } else {
                "differs:"
            }
        ),
        d.verdict
    ));
    let (la, lb) = (&d.a.label, &d.b.label);
    let mut t = table(style);
    let unset = |v: &Option<String>| match v.as_deref() {
        None => "unset".to_string(),
        Some("") => "(empty)".to_string(),
        Some(text) => text.to_string(),
    };
    if let Some(v) = &d.go_version {
        t.add_row(vec![
            "go version".to_string(),
            format!("{la} {} | {lb} {}", unset(&v.a), unset(&v.b)),
        ]);
    }
    if !d.settings.is_empty() {
        let lines: Vec<String> = d
            .settings
            .iter()
            .map(|s| {
                let value = |v: &Option<String>| {
                    let text = unset(v);
                    if text.len() > 40 {
                        format!("{}…", &text[..text.floor_char_boundary(40)])
                    } else {
                        text
                    }
                };
                format!(
                    "{}: {la} {} | {lb} {}{}",
                    s.key,
                    value(&s.a),
                    value(&s.b),
                    if s.affects_hashes {
                        "  (changes package hashes)"
                    } else if !s.significant {
                        "  (role-specific)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        t.add_row(vec!["settings".to_string(), lines.join("\n")]);
    }
    if !d.modules.is_empty() {
        let lines: Vec<String> = d
            .modules
            .iter()
            .map(|m| format!("{}: {la} {} | {lb} {}", m.path, unset(&m.a), unset(&m.b)))
            .collect();
        t.add_row(vec!["modules".to_string(), lines.join("\n")]);
    }
    let p = &d.packages;
    let mut pkg = format!(
        "{} shared, {} equal, {} differ; {} only in {la}, {} only in {lb}",
        p.shared,
        p.equal,
        p.differing.len(),
        p.only_a,
        p.only_b
    );
    if !p.differing.is_empty() {
        pkg.push_str(&format!("\ndiffering, in {}:", p.order));
        for x in p.differing.iter().take(12) {
            pkg.push_str(&format!("\n  {} {} | {}", x.path, x.a, x.b));
        }
        if p.differing.len() > 12 {
            pkg.push_str(&format!("\n  … {} more", p.differing.len() - 12));
        }
    }
    t.add_row(vec!["package hashes".to_string(), pkg]);
    if let Some(first) = &d.first_mismatch {
        t.add_row(vec!["plugin.Open".to_string(), first.clone()]);
    }
    if let Some(pp) = &d.plugin_path {
        t.add_row(vec![
            "plugin path".to_string(),
            format!("{la} {} | {lb} {}", unset(&pp.a), unset(&pp.b)),
        ]);
    }
    if !d.source_dirs.is_empty() {
        let lines: Vec<String> = d
            .source_dirs
            .iter()
            .map(|c| format!("{la} {} | {lb} {} ({} files)", c.a, c.b, c.files))
            .collect();
        t.add_row(vec!["source dirs".to_string(), lines.join("\n")]);
    }
    if let Some(g) = &d.goroot {
        t.add_row(vec![
            "GOROOT".to_string(),
            format!("{la} {} | {lb} {} (not hashed)", unset(&g.a), unset(&g.b)),
        ]);
    }
    if !d.dynamic.is_empty() {
        let lines: Vec<String> = d
            .dynamic
            .iter()
            .map(|f| format!("{}: {la} {} | {lb} {}", f.field, f.a, f.b))
            .collect();
        t.add_row(vec!["dynamic".to_string(), lines.join("\n")]);
    }
    if !d.symbol_versions.is_empty() {
        let lines: Vec<String> = d
            .symbol_versions
            .iter()
            .map(|f| format!("{}: {la} {} | {lb} {}", f.field, f.a, f.b))
            .collect();
        t.add_row(vec!["symbol versions".to_string(), lines.join("\n")]);
    }
    if !d.sections.is_empty() {
        let size = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let lines: Vec<String> = d
            .sections
            .iter()
            .map(|s| format!("{}: {} → {} ({:+})", s.name, size(s.a), size(s.b), s.delta))
            .collect();
        t.add_row(vec!["sections".to_string(), lines.join("\n")]);
    }
    if !d.explanations.is_empty() {
        let lines: Vec<String> = d.explanations.iter().map(|e| e.text.clone()).collect();
        t.add_row(vec!["explained by".to_string(), lines.join("\n")]);
    }
    out.push_str(&indent(&t.to_string()));
    out.push('\n');
    if let Some(c) = &d.contract {
        out.push_str(&crate::report::contract::diff_table(c, style));
    }
    out
}
