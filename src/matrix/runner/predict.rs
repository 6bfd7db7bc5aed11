//! What plugctl predicts for a row's load: the library's `inspect` ([`crate::predict`]),
//! in this process, for the row's host process (its directory and environment).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::super::builder::Built;
use super::super::claims::Facts;
use super::super::cross;
use super::super::def::{Build, Row, Via};
use super::super::outcome::PluginOutcome;
use super::super::results::{Observed, Prediction};
use super::rowdir::{load_env, plugin_args, strip_dir};
use super::via_runtime::watched_var;
use crate::loader::ProcessEnv;
use crate::predict::{self, ProcessMode};

pub(super) fn predict(
    row: &Row,
    dir: &Path,
    host: Option<&Build>,
    libs: &BTreeMap<String, Built>,
) -> Result<Prediction> {
    let started = Instant::now();
    let plugins = plugin_args(row);
    // A host run under qemu-user: the target's libraries come from its sysroot.
    let runner = host.map(|h| cross::runner_of_file(&dir.join(&h.name)));
    let options = predict::Options {
        host: host.map(|h| dir.join(&h.name)),
        sysroot: runner.as_ref().and_then(|r| r.sysroot.clone()),
        lazy: row.load.options.lazy,
        // A row's host opens its plugins in one process, in order.
        mode: Some(ProcessMode::Sequence),
        process: Some(ProcessEnv {
            cwd: dir.to_path_buf(),
            vars: load_env(row, dir, libs),
        }),
        ..Default::default()
    };
    // Absolute paths: this process's directory is not the row's. Messages name the
    // row's files relative to it again (`strip_dir`), as from inside it.
    let paths: Vec<_> = plugins.iter().map(|p| dir.join(p)).collect();
    let report = predict::inspect(&paths, &options).context("predicting the row's load")?;
    let observed: Vec<Observed> = row
        .plugins
        .iter()
        .zip(&report.artifacts)
        .map(|(b, a)| Observed {
            name: b.name.clone(),
            outcome: PluginOutcome::Load(a.load.outcome),
            error: a.load.error.as_deref().map(|e| strip_dir(e, dir)),
            cause: Some(strip_dir(&a.load.cause, dir)),
        })
        .collect();
    let mut facts = Facts::of(&observed);
    if row.load.via == Via::Runtime
        && let Some(var) = watched_var(row)
    {
        let reads = report
            .artifacts
            .first()
            .and_then(|a| a.go.as_ref())
            .is_some_and(|go| go.init_env_reads.contains(&var));
        facts.env = Some(
            match (reads, row.load.options.env_after_open) {
                (true, true) => "missed",
                (true, false) => "seen",
                (false, _) => "not-read",
            }
            .to_string(),
        );
    }
    // The command that shows the same prediction, run in the row's directory.
    let mut command = vec!["plugctl inspect --sequence".to_string()];
    if let Some(h) = host {
        command.push(format!("--host {}", h.name));
    }
    command.extend(runner.as_ref().map(cross::predict_args).unwrap_or_default());
    if row.load.options.lazy {
        command.push("--lazy".into());
    }
    command.extend(plugins);
    Ok(Prediction {
        command: command.join(" "),
        plugins: observed,
        facts,
        seconds: started.elapsed().as_secs_f64(),
    })
}
