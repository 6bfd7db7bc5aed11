//! `plugctl explain`: the long form of a finding code, and the list of all codes. The
//! text comes from [`crate::findings::Code`], the one table of codes.

use serde::Serialize;

use super::Style;
use super::wrap::paragraph;
use crate::findings::Code;

const WIDTH: usize = 88;

/// The full explanation of one code, as plain (optionally coloured) text.
pub fn render_code(code: Code, style: Style) -> String {
    let mut out = String::new();
    let heading = format!(
        "{} {}: {}",
        code.id(),
        code.severity().as_str(),
        code.title()
    );
    out.push_str(&style.paint(&heading, None, true));
    out.push_str("\n\n");
    out.push_str(&paragraph(code.explanation(), "", WIDTH));
    let sections = [
        ("How plugctl detects it", code.detection()),
        ("Runtime error", code.runtime_error()),
        ("Fix", code.fix()),
    ];
    for (title, text) in sections {
        if text.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(&style.paint(title, None, true));
        out.push('\n');
        out.push_str(&paragraph(text, "  ", WIDTH));
    }
    if code.severity() == crate::findings::Severity::Error {
        out.push('\n');
        out.push_str(&style.paint("Exit status", None, true));
        out.push('\n');
        out.push_str(&paragraph(
            "An error-level finding: `plugctl inspect` exits 1 under the default `--fail-on error`, and SARIF marks it `error`. Every artifact that will not load carries at least one.",
            "  ",
            WIDTH,
        ));
    }
    if !code.docs().is_empty() {
        out.push('\n');
        out.push_str(&style.paint("Documentation", None, true));
        out.push('\n');
        for link in code.docs() {
            out.push_str(&format!("  {link}\n"));
        }
    }
    out
}

/// The rule CI gates rely on, as `explain` states it.
pub const EXIT_RULE: &str = "Exit status: an artifact whose predicted load outcome is not `ok` always carries at least one error-level finding (the code that names the cause, or the outcome's own code), so `plugctl inspect` exits 1 under the default `--fail-on error` and SARIF marks it `error`; an artifact that loads exits 0 unless a real error finding exists. Exit 2: an input could not be read or the command line is wrong.";

/// One line per code: id, severity, title; then the exit-status rule.
pub fn render_list(style: Style) -> String {
    let mut out = String::new();
    for code in Code::ALL {
        let severity = format!("{:<7}", code.severity().as_str());
        out.push_str(&format!(
            "{}  {severity}  {}\n",
            style.paint(code.id(), None, true),
            code.title()
        ));
    }
    out.push('\n');
    out.push_str(&paragraph(EXIT_RULE, "", WIDTH));
    out
}

#[derive(Serialize)]
struct CodeJson {
    code: &'static str,
    severity: &'static str,
    title: &'static str,
    explanation: &'static str,
    detection: &'static str,
    runtime_error: &'static str,
    fix: &'static str,
    docs: &'static [&'static str],
}

fn code_json(code: Code) -> CodeJson {
    CodeJson {
        code: code.id(),
        severity: code.severity().as_str(),
        title: code.title(),
        explanation: code.explanation(),
        detection: code.detection(),
        runtime_error: code.runtime_error(),
        fix: code.fix(),
        docs: code.docs(),
    }
}

/// The codes as a JSON array (one code, or all of them for `--list`).
pub fn render_json(codes: &[Code]) -> String {
    let items: Vec<CodeJson> = codes.iter().copied().map(code_json).collect();
    let mut text = serde_json::to_string_pretty(&items).expect("codes serialize infallibly");
    text.push('\n');
    text
}
