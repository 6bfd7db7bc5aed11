//! What plugctl predicts for a row's load.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::Value;

use super::super::builder::Built;
use super::super::claims::Facts;
use super::super::def::{Build, Row, Via};
use super::super::results::{Observed, Prediction};
use super::Ctx;
use super::rowdir::{apply_env, load_env, plugin_args, strip_dir};
use super::via_runtime::watched_var;

pub(super) fn predict(
    ctx: &Ctx,
    row: &Row,
    dir: &Path,
    host: Option<&Build>,
    libs: &BTreeMap<String, Built>,
) -> Result<Prediction> {
    let started = Instant::now();
    // A row's host opens its plugins in one process, in order.
    let mut args = vec![
        "inspect".to_string(),
        "--sequence".into(),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "never".into(),
    ];
    if let Some(h) = host {
        args.push("--host".into());
        args.push(h.name.clone());
    }
    if row.load.options.lazy {
        args.push("--lazy".into());
    }
    let plugins = plugin_args(row);
    args.extend(plugins.iter().cloned());
    let mut command = Command::new(&ctx.options.plugctl);
    command.current_dir(dir).args(&args);
    apply_env(&mut command, &load_env(row, dir, libs));
    let out = command
        .output()
        .with_context(|| format!("running {} inspect", ctx.options.plugctl.display()))?;
    let doc: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "plugctl inspect gave no JSON (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    let artifacts = doc["artifacts"]
        .as_array()
        .context("inspect JSON has no artifacts")?;
    let mut observed = Vec::new();
    for (b, a) in row.plugins.iter().zip(artifacts) {
        observed.push(Observed {
            name: b.name.clone(),
            outcome: a["load"]["outcome"].as_str().unwrap_or("error").to_string(),
            error: a["load"]["error"].as_str().map(|e| strip_dir(e, dir)),
            cause: a["load"]["cause"].as_str().map(str::to_string),
        });
    }
    let mut facts = Facts {
        outcome: observed.iter().map(|o| o.outcome.clone()).collect(),
        ..Default::default()
    };
    if row.load.via == Via::Runtime
        && let Some(var) = watched_var(row)
    {
        let reads = artifacts
            .first()
            .and_then(|a| a["go"]["init_env_reads"].as_array())
            .is_some_and(|r| r.iter().any(|v| v == var.as_str()));
        facts.env = Some(
            match (reads, row.load.options.env_after_open) {
                (true, true) => "missed",
                (true, false) => "seen",
                (false, _) => "not-read",
            }
            .to_string(),
        );
    }
    let mut shown = vec!["plugctl".to_string()];
    shown.extend(
        args.iter()
            .filter(|a| !["--format", "json", "--fail-on", "never"].contains(&a.as_str()))
            .cloned(),
    );
    Ok(Prediction {
        command: shown.join(" "),
        plugins: observed,
        facts,
        seconds: started.elapsed().as_secs_f64(),
    })
}
