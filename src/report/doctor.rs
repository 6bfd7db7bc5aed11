//! `plugctl doctor` output: a table for people, a JSON document for machines.

use comfy_table::{Attribute, Cell, Color};
use serde::Serialize;

use super::Style;
use crate::doctor::{Check, DoctorReport, Status};

/// Version of the doctor JSON document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

const WIDTH: u16 = 100;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    plugctl_version: &'static str,
    cache_dir: String,
    checks: &'a [Check],
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    ok: usize,
    warn: usize,
    fail: usize,
    skip: usize,
}

fn summary(report: &DoctorReport) -> Summary {
    Summary {
        ok: report.count(Status::Ok),
        warn: report.count(Status::Warn),
        fail: report.count(Status::Fail),
        skip: report.count(Status::Skip),
    }
}

pub fn render_json(report: &DoctorReport) -> String {
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        plugctl_version: env!("CARGO_PKG_VERSION"),
        cache_dir: report.cache_dir.display().to_string(),
        checks: &report.checks,
        summary: summary(report),
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("doctor types serialize infallibly");
    text.push('\n');
    text
}

pub fn render_table(report: &DoctorReport, style: Style) -> String {
    let mut table = super::borderless_table(style, WIDTH);
    for check in &report.checks {
        let (color, label) = match check.status {
            Status::Ok => (Color::Green, "ok"),
            Status::Skip => (Color::Blue, "skip"),
            Status::Warn => (Color::Yellow, "warn"),
            Status::Fail => (Color::Red, "FAIL"),
        };
        let mut status = Cell::new(label);
        if style.color {
            status = status.fg(color).add_attribute(Attribute::Bold);
        }
        let mut text = check.observed.clone();
        if !check.fix.is_empty() {
            text.push_str(&format!("\nfix: {}", check.fix));
        }
        table.add_row(vec![status, Cell::new(&check.title), Cell::new(text)]);
    }
    let mut out: String = table
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    let s = summary(report);
    out.push_str(&format!(
        "\n{} checks: {} ok, {} warn, {} fail, {} skipped (cache: {})\n",
        report.checks.len(),
        s.ok,
        s.warn,
        s.fail,
        s.skip,
        report.cache_dir.display()
    ));
    out
}

/// With -q: only the failed checks, and nothing at all when none failed.
pub fn render_failed(report: &DoctorReport, style: Style) -> String {
    let failed: Vec<Check> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .cloned()
        .collect();
    if failed.is_empty() {
        return String::new();
    }
    let only = DoctorReport {
        cache_dir: report.cache_dir.clone(),
        checks: failed,
    };
    render_table(&only, style)
}
