//! Reality through `plugctl load`'s runtime ([`crate::runtime::load`]): sandboxed
//! children, a Go harness mirroring the host, env timing, hot reload, quotas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};

use super::super::builder::Built;
use super::super::claims::Facts;
use super::super::def::{Build, Row, Via};
use super::super::outcome::PluginOutcome;
use super::super::results::{Observed, Reality};
use super::Ctx;
use super::rowdir::{load_env, plugin_args, strip_dir, timeout_of};
use crate::runtime;

pub(super) fn load_with_runtime(
    ctx: &Ctx,
    row: &Row,
    dir: &Path,
    host: Option<&Build>,
    libs: &BTreeMap<String, Built>,
    key: &str,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Reality> {
    let o = &row.load.options;
    let env = load_env(row, dir, libs);
    let vars: Vec<runtime::EnvVar> = env
        .iter()
        .map(|(k, v)| runtime::EnvVar {
            name: k.clone(),
            value: v.clone(),
            origin: "matrix row".into(),
        })
        .collect();
    let plugins: Vec<PathBuf> = row
        .plugins
        .iter()
        .map(|b| dir.join("plugins").join(&b.name))
        .collect();
    let parse_duration = |t: &Option<String>| {
        t.as_deref()
            .map(runtime::contract::parse_duration)
            .transpose()
    };
    let options = runtime::LoadOptions {
        host: host.map(|h| dir.join(&h.name)),
        lazy: o.lazy,
        env: vars,
        env_after_open: o.env_after_open,
        reload: o.reload,
        source: (o.reload > 0).then(|| ctx.builder.src().join(&row.plugins[0].dir)),
        timeout: timeout_of(row),
        limits: runtime::Limits {
            memory: o
                .memory
                .as_deref()
                .map(runtime::contract::parse_size)
                .transpose()?,
            cpu_time: parse_duration(&o.cpu_time)?,
            max_pids: o.max_pids,
            open_files: o.open_files,
            cpus: o.cpus,
        },
        ..runtime::LoadOptions::new(plugins)
    };
    let started = Instant::now();
    let report = runtime::load(&options, &|m| step(m))?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(e) = &report.harness_error {
        bail!("the runtime could not build its Go harness: {e}");
    }
    let mut observed = Vec::new();
    for (b, a) in row.plugins.iter().zip(&report.artifacts) {
        let error = a.load.error.as_deref().map(|e| strip_dir(e, dir));
        observed.push(Observed {
            name: b.name.clone(),
            outcome: PluginOutcome::Load(a.load.outcome),
            error,
            cause: None,
        });
    }
    let mut facts = Facts::of(&observed);
    let mut notes = Vec::new();
    if let Some(first) = report.artifacts.first() {
        for layer in &first.layers {
            match layer.layer {
                "env" => {
                    facts.env = env_fact_real(
                        layer.details.as_ref(),
                        o.env_after_open,
                        watched_var(row).as_deref(),
                    );
                    notes.push(format!("env: {}", layer.reason));
                }
                "reload" => {
                    if let Some(runtime::Details::Reload(d)) = &layer.details {
                        facts.goroutines_per_reload =
                            d.growth.as_ref().map(|g| g.goroutines_per_reload);
                        facts.rss_mib_per_reload = d.growth.as_ref().map(|g| g.rss_mib_per_reload);
                    }
                    notes.push(format!("reload: {}", strip_dir(&layer.reason, dir)));
                }
                "limits" if layer.status == runtime::LayerStatus::Fail => {
                    notes.push(format!("limits: {}", layer.reason))
                }
                "go-open" | "lifecycle" if layer.status != runtime::LayerStatus::Pass => notes
                    .push(format!(
                        "{}: {}",
                        layer.layer,
                        strip_dir(&layer.reason, dir)
                    )),
                _ => {}
            }
        }
    }
    let shown_env: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            format!(
                "--env {k}={}",
                if runtime::env::is_secret_name(k) {
                    "***"
                } else {
                    v
                }
            )
        })
        .collect();
    let mut command = vec!["plugctl load".to_string()];
    if let Some(h) = host {
        command.push(format!("--host ./{}", h.name));
    }
    command.extend(shown_env);
    if o.env_after_open {
        command.push("--env-after-open".into());
    }
    if o.reload > 0 {
        command.push(format!(
            "--reload {} --source <src>/{}",
            o.reload, row.plugins[0].dir
        ));
    }
    command.extend(plugin_args(row));
    Ok(Reality {
        facts,
        notes,
        seconds,
        ..Reality::of(Via::Runtime, key, command.join(" "), observed)
    })
}

/// The variable the `env` fact is about: the row's first load variable that is not a
/// loader or Go runtime setting.
pub(super) fn watched_var(row: &Row) -> Option<String> {
    row.load
        .options
        .env
        .keys()
        .find(|k| !(k.starts_with("LD_") || k.starts_with("GLIBC_") || k.starts_with("GO")))
        .cloned()
}

fn env_fact_real(
    details: Option<&runtime::Details>,
    after_open: bool,
    var: Option<&str>,
) -> Option<String> {
    let var = var?;
    let Some(runtime::Details::Env(env)) = details else {
        return None;
    };
    let row = env.vars.iter().find(|v| v.name == var)?;
    let seen_after_open = !row.seen_after_open.is_empty();
    let fact = if after_open {
        if row.missed() {
            "missed"
        } else if seen_after_open || !row.seen_after_init.is_empty() {
            "seen"
        } else {
            "not-read"
        }
    } else if seen_after_open {
        "seen"
    } else {
        "not-read"
    };
    Some(fact.to_string())
}
