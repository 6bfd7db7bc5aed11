//! The matrix report as a table (people), JSON (machines, `merge`) or Markdown (a page).

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

use super::Style;
use crate::matrix::claims::Verdict;
use crate::matrix::def::{Row, Via};
use crate::matrix::outcome::PluginOutcome;
use crate::matrix::results::{Observed, Reality, RowResult, RowStatus};
use crate::matrix::{Report, Summary};

const WIDTH: u16 = 140;

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("the report serialises") + "\n"
}

/// `matrix --list`: each selected row with its builds, then the count.
pub fn list(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!("{}  [{}] {}\n", r.id, r.claim, r.title));
        if let Some(h) = &r.host {
            out.push_str(&format!("    host    {}\n", h.label()));
        }
        for p in &r.plugins {
            out.push_str(&format!("    plugin  {}\n", p.label()));
        }
        for (n, l) in &r.libs {
            out.push_str(&format!("    lib {n}  {}\n", l.label()));
        }
    }
    out.push_str(&format!("{} row(s)\n", rows.len()));
    out
}

/// The progress line for a finished row: its outcome, the prediction's agreement and the
/// claim's verdict.
pub fn finished_line(r: &RowResult) -> String {
    match r.status {
        RowStatus::Skipped => format!("{}: skipped ({})", r.id, r.reason.as_deref().unwrap_or("")),
        RowStatus::Error => {
            let reason = r.reason.as_deref().unwrap_or("");
            format!("{}: ERROR {}", r.id, reason.lines().next().unwrap_or(""))
        }
        RowStatus::Done => {
            let reality = r
                .reality
                .as_ref()
                .map(|x| outcomes(&x.facts.outcome))
                .unwrap_or_default();
            let cached = if r.reality.as_ref().is_some_and(|x| x.cached) {
                " (cached)"
            } else {
                ""
            };
            let pred = if r.prediction.is_none() {
                "no prediction".to_string()
            } else if r.agrees() {
                "prediction agrees".to_string()
            } else {
                format!(
                    "PREDICTION DISAGREES: {}",
                    r.agreement.disagreements.join("; ")
                )
            };
            format!(
                "{}: {reality}{cached}; {pred}; claim {} {} ({:.1}s)",
                r.id, r.claim, r.verdict, r.seconds.total
            )
        }
    }
}

fn verdict_color(v: Verdict) -> Color {
    match v {
        Verdict::Confirmed => Color::Green,
        Verdict::Refuted => Color::Red,
        Verdict::Partly => Color::Yellow,
        Verdict::Untested => Color::Reset,
    }
}

/// `ok, already-loaded`.
fn outcomes(list: &[PluginOutcome]) -> String {
    list.iter()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ok, already-loaded`, then the measured facts.
fn reality_text(r: &Reality) -> String {
    let mut parts = vec![outcomes(&r.facts.outcome)];
    if let Some(e) = &r.facts.env {
        parts.push(format!("env {e}"));
    }
    if let Some(g) = r.facts.goroutines_per_reload {
        parts.push(format!("{g:+.1} goroutines/reload"));
    }
    if let Some(m) = r.facts.rss_mib_per_reload {
        parts.push(format!("{m:+.1} MiB/reload"));
    }
    parts.join("; ")
}

fn first_error(r: &Reality) -> Option<String> {
    r.plugins.iter().find_map(|p| p.error.clone())
}

fn truncate(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n - 1).collect::<String>())
    }
}

fn prediction_text(row: &RowResult) -> String {
    match (&row.prediction, row.agreement.compared) {
        (None, _) => "—".into(),
        (Some(_), 0) => "nothing to compare".into(),
        (Some(_), n) if row.agrees() => format!("agrees ({n})"),
        (Some(_), n) => format!("DISAGREES ({}/{n})", row.agreement.disagreements.len()),
    }
}

fn seconds(s: f64) -> String {
    if s >= 60.0 {
        format!("{}m{:02.0}s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{s:.1}s")
    }
}

fn summary_line(s: &Summary, total_seconds: f64) -> String {
    let mut line = format!(
        "{} row(s): {} done ({} loads cached), {} skipped, {} error(s); predictions: {}/{} agree; claims: {} confirmed, {} refuted, {} partly",
        s.rows,
        s.done,
        s.cached,
        s.skipped,
        s.errors,
        s.agree,
        s.compared,
        s.claims_confirmed,
        s.claims_refuted,
        s.claims_partly
    );
    if s.claims_untested > 0 {
        line.push_str(&format!(", {} untested", s.claims_untested));
    }
    if s.unexpected > 0 {
        line.push_str(&format!(
            "; {} row(s) differ from the expected outcome",
            s.unexpected
        ));
    }
    if !s.missing.is_empty() {
        line.push_str(&format!("; {} row(s) missing", s.missing.len()));
    }
    line.push_str(&format!("; {}", seconds(total_seconds)));
    line
}

fn header(report: &Report) -> String {
    let shard = if report.shards.is_empty() {
        String::new()
    } else {
        format!(", shard {}", report.shards.join("+"))
    };
    format!(
        "{} ({}, matrix {}{shard}) on {} glibc {} ({} CPUs)",
        report.matrix.title,
        report.matrix.origin,
        report.matrix.hash,
        report.machine.arch,
        glibc_shown(report),
        report.machine.cpus
    )
}

fn new_table(style: Style) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH);
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

pub fn table(report: &Report, style: Style) -> String {
    let mut out = style.paint(&header(report), None, true);
    out.push('\n');
    let mut t = new_table(style);
    t.set_header(vec![
        "row",
        "reality",
        "prediction",
        "claim",
        "verdict",
        "time",
    ]);
    for r in &report.rows {
        let (reality, verdict) = match r.status {
            RowStatus::Done => {
                let reality = r.reality.as_ref().map(|x| {
                    let mut text = reality_text(x);
                    if let Some(e) = first_error(x) {
                        text.push_str(&format!("\n{}", truncate(&e, 160)));
                    }
                    if x.cached {
                        text.push_str(" (cached)");
                    }
                    text
                });
                (reality.unwrap_or_default(), Cell::new(r.verdict.as_str()))
            }
            RowStatus::Skipped => (
                format!("skipped: {}", r.reason.as_deref().unwrap_or("")),
                Cell::new("—"),
            ),
            RowStatus::Error => (
                format!(
                    "ERROR: {}",
                    truncate(r.reason.as_deref().unwrap_or(""), 200)
                ),
                Cell::new("—"),
            ),
        };
        let verdict = if style.color && r.status == RowStatus::Done {
            verdict.fg(verdict_color(r.verdict))
        } else {
            verdict
        };
        let mut pred = Cell::new(prediction_text(r));
        if style.color && !r.agrees() {
            pred = pred.fg(Color::Red);
        }
        t.add_row(vec![
            Cell::new(format!("{}\n{}", r.id, r.title)),
            Cell::new(reality),
            pred,
            Cell::new(&r.claim),
            verdict,
            Cell::new(seconds(r.seconds.total)),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    if !report.claims.is_empty() {
        let mut c = new_table(style);
        c.set_header(vec!["claim", "verdict", "rows", "source"]);
        for claim in &report.claims {
            let mut v = Cell::new(claim.verdict.as_str());
            if style.color {
                v = v.fg(verdict_color(claim.verdict));
            }
            c.add_row(vec![
                Cell::new(format!("{}\n{}", claim.claim.id, claim.claim.text)),
                v,
                Cell::new(format!(
                    "{} confirmed, {} refuted, {} partly",
                    claim.confirmed, claim.refuted, claim.partly
                )),
                Cell::new(&claim.claim.source),
            ]);
        }
        out.push_str(&c.to_string());
        out.push('\n');
    }
    for r in &report.rows {
        for d in &r.agreement.disagreements {
            out.push_str(&style.paint(
                &format!("disagreement: {}: {d}\n", r.id),
                Some(Color::Red),
                false,
            ));
        }
        if r.expected_met == Some(false) {
            let misses: Vec<String> = r
                .expected
                .iter()
                .filter(|c| !c.holds)
                .map(|c| format!("{} expected {}, got {}", c.fact, c.wanted, c.got))
                .collect();
            out.push_str(&format!("unexpected: {}: {}\n", r.id, misses.join("; ")));
        }
    }
    if !report.summary.missing.is_empty() {
        out.push_str(&format!(
            "missing rows: {}\n",
            report.summary.missing.join(", ")
        ));
    }
    out.push_str(&summary_line(&report.summary, report.seconds));
    out.push('\n');
    out
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(report: &Report) -> String {
    let mut out = format!("# {}\n\n", report.matrix.title);
    out.push_str(&format!(
        "Matrix `{}` from `{}`; plugctl {}; {} glibc {} ({} CPUs){}.\n\n",
        report.matrix.hash,
        report.matrix.origin,
        report.plugctl_version,
        report.machine.arch,
        glibc_shown(report),
        report.machine.cpus,
        if report.shards.is_empty() {
            String::new()
        } else {
            format!("; shards {}", report.shards.join(", "))
        }
    ));
    out.push_str(&format!(
        "{}.\n\n",
        summary_line(&report.summary, report.seconds)
    ));
    if !report.claims.is_empty() {
        out.push_str("## Claims\n\n| Claim | Verdict | Rows | Source |\n|---|---|---|---|\n");
        for c in &report.claims {
            out.push_str(&format!(
                "| {} (`{}`) | **{}** | {} |  {} |\n",
                md(&c.claim.text),
                c.claim.id,
                c.verdict,
                c.rows
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                md(&c.claim.source)
            ));
        }
        out.push('\n');
    }
    out.push_str("## Rows\n\n| Row | Reality | Prediction | Claim | Verdict | Time |\n|---|---|---|---|---|---|\n");
    for r in &report.rows {
        let reality = match (r.status, &r.reality) {
            (RowStatus::Done, Some(x)) => {
                let mut t = md(&reality_text(x));
                if x.cached {
                    t.push_str(" (cached)");
                }
                t
            }
            (RowStatus::Skipped, _) => {
                format!("skipped: {}", md(r.reason.as_deref().unwrap_or("")))
            }
            _ => format!(
                "**error**: {}",
                md(&truncate(r.reason.as_deref().unwrap_or(""), 300))
            ),
        };
        let verdict = if r.status == RowStatus::Done {
            r.verdict.as_str()
        } else {
            "—"
        };
        out.push_str(&format!(
            "| `{}` {} | {} | {} | `{}` | {} | {} |\n",
            r.id,
            md(&r.title),
            reality,
            prediction_text(r),
            r.claim,
            verdict,
            seconds(r.seconds.total)
        ));
    }
    out.push_str("\n## Details\n");
    for r in &report.rows {
        out.push_str(&format!("\n### `{}`: {}\n\n", r.id, md(&r.title)));
        for b in &r.builds {
            out.push_str(&format!(
                "- {} `{}`: {} ({}{}): `{}`{}\n",
                b.role,
                b.name,
                md(&b.label),
                b.engine,
                if b.cached {
                    ", cached".to_string()
                } else {
                    format!(", {}", seconds(b.seconds))
                },
                md(&b.command),
                b.failure
                    .as_deref()
                    .map(|f| format!(" — **failed**: {}", md(&truncate(f, 300))))
                    .unwrap_or_default()
            ));
        }
        if let Some(x) = &r.reality {
            let via = match x.via {
                Via::Host => "the row's host",
                Via::Runtime => "plugctl load's runtime",
            };
            out.push_str(&format!(
                "- loaded by {via}: `{}`{}\n",
                md(&x.command),
                if x.cached { " (cached)" } else { "" }
            ));
            for p in &x.plugins {
                out.push_str(&observed_line("real", p));
            }
            for n in &x.notes {
                out.push_str(&format!("  - {}\n", md(n)));
            }
        }
        if let Some(p) = &r.prediction {
            out.push_str(&format!("- predicted: `{}`\n", md(&p.command)));
            for o in &p.plugins {
                out.push_str(&observed_line("predicted", o));
            }
            if let Some(e) = &p.facts.env {
                out.push_str(&format!("  - predicted env: {e}\n"));
            }
        }
        for d in &r.agreement.disagreements {
            out.push_str(&format!("- **disagreement**: {}\n", md(d)));
        }
        for c in &r.says {
            out.push_str(&format!(
                "- claim says {} is {}: got {} ({})\n",
                c.fact,
                c.wanted,
                c.got,
                if c.holds { "holds" } else { "does not hold" }
            ));
        }
        if let Some(reason) = &r.reason {
            out.push_str(&format!(
                "- {}: {}\n",
                if r.status == RowStatus::Skipped {
                    "skipped"
                } else {
                    "error"
                },
                md(reason)
            ));
        }
    }
    out
}

/// The machine's glibc release (`2.36`), `?` when unknown.
fn glibc_shown(report: &Report) -> &str {
    report
        .machine
        .glibc
        .as_deref()
        .unwrap_or("?")
        .trim_start_matches("GLIBC_")
}

/// A Markdown list line for one plugin's outcome: `  - real `NAME`: OUTCOME: `ERROR``.
fn observed_line(label: &str, o: &Observed) -> String {
    format!(
        "  - {label} `{}`: {}{}\n",
        o.name,
        o.outcome,
        o.error
            .as_deref()
            .map(|e| format!(": `{}`", md(e)))
            .unwrap_or_default()
    )
}
