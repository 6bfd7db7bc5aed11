//! Runs rows: build (cached), load for real (cached by content), predict with
//! [`crate::predict`] (always, it is cheap and it is what is under test), compare, and
//! judge the claim. Rows run on `jobs` worker threads; a row that cannot run is reported
//! as an error, never stops the others.
//!
//! Reality comes from one of two runtimes:
//! - `host`: the row's own host program (`loadhost`: plugin.Open + Lookup, or `dlhost`:
//!   dlopen) run on the plugins in a fresh process, its `OK`/`ERR` lines read; a plugin
//!   after the last line crashed the host (its first stderr line is the crash).
//! - `runtime`: `plugctl load`'s runtime ([`crate::runtime::load`]): sandboxed children,
//!   a Go harness mirroring the host, env timing, hot reload, quotas.

mod compare;
mod predict;
mod rowdir;
mod spawn;
mod via_host;
mod via_runtime;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use super::builder::{Builder, Built};
use super::claims;
use super::def::{Build, Row, Via};
use super::outcome::PluginOutcome;
use super::results::{BuildReport, Machine, Observed, Reality, Reporter, RowResult, RowStatus};
use compare::compare;
use predict::predict;
use rowdir::{load_key, prepare_dir};
use via_host::load_with_host;
use via_runtime::load_with_runtime;

/// Bump when the way loads are run or read changes (invalidates cached results).
const LOAD_SCHEME: &str = "plugctl-matrix-load-2";

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    /// Load again even when a result for the same artifacts is cached.
    pub fresh: bool,
    /// `<plugctl cache>/matrix`.
    pub cache: PathBuf,
}

struct Ctx<'a> {
    builder: &'a Builder,
    options: &'a Options,
    machine: &'a Machine,
}

/// Runs `rows`; results come back in the order of `rows`. A pool of `jobs` threads
/// takes the rows in file order (`par_bridge` pulls from one iterator), so at most `jobs`
/// rows are in flight; a row's own rayon work (`predict::inspect`) runs in the same pool.
pub fn run(
    rows: &[Row],
    builder: &Builder,
    options: &Options,
    machine: &Machine,
    reporter: &dyn Reporter,
) -> Result<Vec<RowResult>> {
    let jobs = options.jobs.clamp(1, rows.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("matrix-row-{i}"))
        .build()
        .context("starting the row threads")?;
    let ctx = Ctx {
        builder,
        options,
        machine,
    };
    reporter.begin(rows.len(), jobs);
    let mut results: Vec<(usize, RowResult)> = pool.install(|| {
        rows.iter()
            .enumerate()
            .par_bridge()
            .map(|(i, row)| {
                reporter.row_started(&row.id);
                let result = run_row(&ctx, row, reporter);
                reporter.row_finished(&result);
                (i, result)
            })
            .collect()
    });
    reporter.end();
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

fn run_row(ctx: &Ctx, row: &Row, reporter: &dyn Reporter) -> RowResult {
    let started = Instant::now();
    let mut result = RowResult::new(row);
    let missing: Vec<&str> = row
        .needs
        .iter()
        .map(String::as_str)
        .filter(|t| which::which(t).is_err())
        .collect();
    if !missing.is_empty() {
        result.status = RowStatus::Skipped;
        result.reason = Some(format!("needs {} (not on PATH)", missing.join(", ")));
        return result;
    }
    let step = |m: &str| reporter.row_step(&row.id, m);
    if let Err(e) = execute(ctx, row, &mut result, &step) {
        result.status = RowStatus::Error;
        result.reason = Some(format!("{e:#}"));
    }
    result.seconds.total = started.elapsed().as_secs_f64();
    result
}

fn report(role: &str, b: &Build, built: &Built) -> BuildReport {
    BuildReport {
        role: role.to_string(),
        name: b.name.clone(),
        label: built.label.clone(),
        engine: built.engine.clone(),
        command: built.command.clone(),
        cached: built.cached,
        seconds: built.seconds,
        failure: built.failure.clone(),
    }
}

fn execute(
    ctx: &Ctx,
    row: &Row,
    result: &mut RowResult,
    step: &(dyn Fn(&str) + Sync),
) -> Result<()> {
    // Builds: libraries, host, plugins.
    let no_libs = BTreeMap::new();
    let mut libs: BTreeMap<String, Built> = BTreeMap::new();
    for (name, b) in &row.libs {
        let built = ctx
            .builder
            .get(b, &no_libs, step)
            .with_context(|| format!("library {name}"))?;
        result
            .builds
            .push(report(&format!("lib {name}"), b, &built));
        if let Some(f) = &built.failure {
            bail!("library {name} did not build: {f}");
        }
        libs.insert(name.clone(), built);
    }
    let host = match &row.host {
        Some(b) => {
            let built = ctx.builder.get(b, &libs, step).context("host")?;
            result.builds.push(report("host", b, &built));
            if let Some(f) = &built.failure {
                bail!("the host did not build: {f}");
            }
            Some((b, built))
        }
        None => None,
    };
    let mut plugins = Vec::new();
    for b in &row.plugins {
        let built = ctx
            .builder
            .get(b, &libs, step)
            .with_context(|| format!("plugin {}", b.name))?;
        result.builds.push(report("plugin", b, &built));
        plugins.push((b, built));
    }
    result.seconds.build = result
        .builds
        .iter()
        .filter(|b| !b.cached)
        .fold(0.0, |sum, b| sum + b.seconds);
    let names: Vec<String> = row.plugins.iter().map(|b| b.name.clone()).collect();

    // Reality.
    let reality = if plugins.iter().any(|(_, b)| b.failure.is_some()) {
        let observed: Vec<Observed> = plugins
            .iter()
            .map(|(b, built)| Observed {
                name: b.name.clone(),
                outcome: if built.failure.is_some() {
                    PluginOutcome::BuildFailed
                } else {
                    PluginOutcome::NotRun
                },
                error: built.failure.as_deref().map(first_error_line),
                cause: None,
            })
            .collect();
        Reality::of(
            row.load.via,
            "",
            "(not loaded: a plugin did not build)".into(),
            observed,
        )
    } else {
        let key = load_key(ctx, row, host.as_ref().map(|h| &h.1), &plugins, &libs);
        let dir = prepare_dir(
            &ctx.options.cache.join("runs").join(&key),
            host.as_ref(),
            &plugins,
        )?;
        let cache_file = ctx
            .options
            .cache
            .join("results")
            .join(format!("{key}.json"));
        let cached = if ctx.options.fresh {
            None
        } else {
            std::fs::read_to_string(&cache_file)
                .ok()
                .and_then(|t| serde_json::from_str::<Reality>(&t).ok())
        };
        let reality = match cached {
            Some(mut r) => {
                r.cached = true;
                r
            }
            None => {
                step("loading for real");
                let r = match row.load.via {
                    Via::Host => load_with_host(
                        row,
                        &dir,
                        host.as_ref()
                            .map(|h| h.0)
                            .context("via host needs a host")?,
                        &libs,
                        &key,
                    )?,
                    Via::Runtime => load_with_runtime(
                        ctx,
                        row,
                        &dir,
                        host.as_ref().map(|h| h.0),
                        &libs,
                        &key,
                        step,
                    )?,
                };
                if let Some(parent) = cache_file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let tmp = cache_file.with_extension(format!(
                    "tmp{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::write(&tmp, serde_json::to_vec_pretty(&r)?)?;
                std::fs::rename(&tmp, &cache_file)?;
                r
            }
        };
        // Prediction: always, with the current plugctl.
        step("predicting");
        let prediction = predict(row, &dir, host.as_ref().map(|h| h.0), &libs)?;
        result.seconds.predict = prediction.seconds;
        result.agreement = compare(&reality, &prediction);
        result.prediction = Some(prediction);
        reality
    };
    if !reality.cached {
        result.seconds.load = reality.seconds;
    }
    result.says = claims::evaluate(&row.says, &reality.facts, &names);
    result.verdict = claims::verdict(&result.says);
    if let Some(expect) = &row.expect {
        result.expected = claims::evaluate(expect, &reality.facts, &names);
        result.expected_met = Some(result.expected.iter().all(|c| c.holds));
    }
    result.reality = Some(reality);
    Ok(())
}

fn first_error_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| !l.starts_with('`') && !l.starts_with('#'))
        .or(lines.last())
        .map(|s| s.to_string())
        .unwrap_or_default()
}
