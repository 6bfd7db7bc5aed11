//! `matrix`: tests claims about Go plugin loading by building real hosts and plugins
//! (toolchains, flags, environments, C objects) and loading them for real, next to what
//! `inspect` predicts for the same files.
//!
//! [`def`] reads the definition (TOML: claims, named builds, rows) and selects rows;
//! [`sources`] copies the source tree under its content hash; [`builder`] builds with a
//! content-addressed cache; [`runner`] loads, predicts, compares and judges on worker
//! threads ([`cross`]: foreign-architecture builds and hosts under qemu-user); [`claims`] holds the facts, conditions and verdicts; `report::matrix` draws the
//! report as a table, JSON or Markdown. Never prints: progress goes to a
//! [`results::Reporter`].

pub mod builder;
pub mod claims;
pub mod cross;
pub mod def;
pub mod outcome;
pub mod results;
pub mod runner;
pub mod sources;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use claims::Verdict;
pub use def::{Claim, Definition, Selection};
pub use results::{Machine, Reporter, RowResult, RowStatus};

/// Version of the JSON report.
pub const REPORT_SCHEMA: u32 = 1;

/// What was run: enough to merge shards and to tell which rows are missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixInfo {
    pub title: String,
    /// The definition file, or `built-in matrix/default.toml`.
    pub origin: String,
    /// Hash of the selected rows (all shards of one selection share it).
    pub hash: String,
    /// The `--go` releases (empty: the definition's own).
    pub go: Vec<String>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// Every row of the selection, before sharding.
    pub rows: Vec<String>,
    /// The claims those rows test, in the definition's order.
    pub claims: Vec<Claim>,
}

/// Per claim: its rows and the verdict they add up to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimResult {
    #[serde(flatten)]
    pub claim: Claim,
    pub rows: Vec<String>,
    pub confirmed: usize,
    pub refuted: usize,
    pub partly: usize,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub rows: usize,
    pub done: usize,
    pub skipped: usize,
    pub errors: usize,
    /// Rows whose real load came from an earlier run.
    pub cached: usize,
    /// Prediction/reality comparisons, and how many agree.
    pub compared: usize,
    pub agree: usize,
    pub disagree: usize,
    /// Rows whose reality differs from the outcome the definition expects.
    pub unexpected: usize,
    pub claims_confirmed: usize,
    pub claims_refuted: usize,
    pub claims_partly: usize,
    pub claims_untested: usize,
    /// Rows of the selection no shard reported (merge).
    pub missing: Vec<String>,
}

/// The result of `plugctl matrix` (and of `plugctl matrix merge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub command: String,
    pub plugctl_version: String,
    pub matrix: MatrixInfo,
    /// `I/N` of this run, or every shard merged.
    pub shards: Vec<String>,
    pub machine: Machine,
    /// Merged shards that ran on other machines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_machines: Vec<Machine>,
    pub rows: Vec<RowResult>,
    pub claims: Vec<ClaimResult>,
    pub summary: Summary,
    /// Wall time of the run (merge: the sum over shards).
    pub seconds: f64,
}

impl Report {
    /// 1 when a prediction disagrees with reality; 2 when a row could not run or a
    /// shard is missing; else 0.
    pub fn exit_code(&self) -> u8 {
        if self.summary.disagree > 0 {
            1
        } else if self.summary.errors > 0 || !self.summary.missing.is_empty() {
            2
        } else {
            0
        }
    }
}

/// How to run a definition.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub selection: Selection,
    pub jobs: usize,
    pub fresh: bool,
    /// Use `plugctl build`'s engine for the plugins it can build.
    pub engine: bool,
    /// `<plugctl cache>/matrix` unless overridden.
    pub cache: PathBuf,
}

/// The matrix cache directory: `<plugctl cache>/matrix`.
pub fn default_cache() -> PathBuf {
    crate::toolchain::cache_dir().join("matrix")
}

fn hash_rows(rows: &[def::Row], claims: &[Claim]) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(rows).unwrap_or_default());
    h.update(serde_json::to_vec(claims).unwrap_or_default());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the selected rows of `def`.
pub fn run(def: &Definition, options: &RunOptions, reporter: &dyn Reporter) -> Result<Report> {
    let started = Instant::now();
    let (rows, selected) = def.expand(&options.selection)?;
    let machine = Machine::detect();
    let tree =
        sources::materialize(&def.sources, &options.cache).context("copying the source tree")?;
    let builder = builder::Builder::new(
        tree.root.clone(),
        tree.hash.clone(),
        &options.cache,
        options.engine,
    );
    let runner_options = runner::Options {
        jobs: options.jobs,
        fresh: options.fresh,
        cache: options.cache.clone(),
    };
    let results = runner::run(&rows, &builder, &runner_options, &machine, reporter)?;
    let info = MatrixInfo {
        title: def.title.clone(),
        origin: def.origin.clone(),
        hash: hash_rows(&selected, &def.claims),
        go: options.selection.go.clone(),
        only: options.selection.only.clone(),
        skip: options.selection.skip.clone(),
        rows: selected.iter().map(|r| r.id.clone()).collect(),
        claims: def
            .claims
            .iter()
            .filter(|c| selected.iter().any(|r| r.claim == c.id))
            .cloned()
            .collect(),
    };
    let shards = match options.selection.shard {
        Some((i, n)) => vec![format!("{i}/{n}")],
        None => Vec::new(),
    };
    Ok(assemble(
        info,
        shards,
        machine,
        results,
        started.elapsed().as_secs_f64(),
        options.selection.shard.is_some(),
    ))
}

/// Claims, summary and report from row results. `partial`: a shard (missing rows are
/// expected, not reported).
fn assemble(
    matrix: MatrixInfo,
    shards: Vec<String>,
    machine: Machine,
    rows: Vec<RowResult>,
    seconds: f64,
    partial: bool,
) -> Report {
    let mut claim_results = Vec::new();
    for c in &matrix.claims {
        if !rows.iter().any(|r| r.claim == c.id) {
            continue;
        }
        let of: Vec<&RowResult> = rows
            .iter()
            .filter(|r| r.claim == c.id && r.status == RowStatus::Done)
            .collect();
        let count = |v: Verdict| of.iter().filter(|r| r.verdict == v).count();
        claim_results.push(ClaimResult {
            claim: c.clone(),
            rows: rows
                .iter()
                .filter(|r| r.claim == c.id)
                .map(|r| r.id.clone())
                .collect(),
            confirmed: count(Verdict::Confirmed),
            refuted: count(Verdict::Refuted),
            partly: count(Verdict::Partly),
            verdict: Verdict::combine(of.iter().map(|r| r.verdict)),
        });
    }
    let mut s = Summary {
        rows: rows.len(),
        ..Default::default()
    };
    for r in &rows {
        match r.status {
            RowStatus::Done => s.done += 1,
            RowStatus::Skipped => s.skipped += 1,
            RowStatus::Error => s.errors += 1,
        }
        if r.reality.as_ref().is_some_and(|x| x.cached) {
            s.cached += 1;
        }
        s.compared += r.agreement.compared;
        s.agree += r.agreement.agree;
        s.disagree += r.agreement.disagreements.len();
        if r.expected_met == Some(false) {
            s.unexpected += 1;
        }
    }
    for c in &claim_results {
        match c.verdict {
            Verdict::Confirmed => s.claims_confirmed += 1,
            Verdict::Refuted => s.claims_refuted += 1,
            Verdict::Partly => s.claims_partly += 1,
            Verdict::Untested => s.claims_untested += 1,
        }
    }
    if !partial {
        s.missing = matrix
            .rows
            .iter()
            .filter(|id| !rows.iter().any(|r| &r.id == *id))
            .cloned()
            .collect();
    }
    Report {
        schema_version: REPORT_SCHEMA,
        command: "matrix".into(),
        plugctl_version: env!("CARGO_PKG_VERSION").into(),
        matrix,
        shards,
        machine,
        other_machines: Vec::new(),
        rows,
        claims: claim_results,
        summary: s,
        seconds,
    }
}

/// Combines shard reports (`--format json` outputs) of one selection into one report.
pub fn merge(reports: Vec<Report>) -> Result<Report> {
    let Some(first) = reports.first() else {
        bail!("nothing to merge")
    };
    let matrix = first.matrix.clone();
    let machine = first.machine.clone();
    let mut rows: Vec<RowResult> = Vec::new();
    let mut shards = Vec::new();
    let mut others: Vec<Machine> = Vec::new();
    let mut seconds = 0.0;
    for (i, r) in reports.into_iter().enumerate() {
        if r.schema_version != REPORT_SCHEMA {
            bail!(
                "input {}: report schema {} (this plugctl merges schema {REPORT_SCHEMA})",
                i + 1,
                r.schema_version
            );
        }
        if r.matrix.hash != matrix.hash {
            bail!(
                "input {}: matrix {} ({}), the first input is matrix {} ({}): shards of different definitions or selections",
                i + 1,
                r.matrix.hash,
                r.matrix.origin,
                matrix.hash,
                matrix.origin
            );
        }
        for row in r.rows {
            if rows.iter().any(|x| x.id == row.id) {
                bail!("input {}: row {} is in more than one input", i + 1, row.id);
            }
            rows.push(row);
        }
        shards.extend(r.shards);
        for m in std::iter::once(r.machine).chain(r.other_machines) {
            if m != machine && !others.contains(&m) {
                others.push(m);
            }
        }
        seconds += r.seconds;
    }
    let order = |id: &str| {
        matrix
            .rows
            .iter()
            .position(|x| x == id)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| order(&r.id));
    let mut report = assemble(matrix, shards, machine, rows, seconds, false);
    report.other_machines = others;
    Ok(report)
}

/// Reads a report written by `plugctl matrix --format json`.
pub fn read_report(path: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a plugctl matrix JSON report", path.display()))
}
