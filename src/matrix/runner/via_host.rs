//! Reality through the row's own host program (`loadhost`: plugin.Open + Lookup, or
//! `dlhost`: dlopen): its `OK`/`ERR` lines read, a crash taken from its stderr.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use super::super::builder::Built;
use super::super::cross;
use super::super::def::{Build, Protocol, Row, Via};
use super::super::outcome::PluginOutcome;
use super::super::results::{Observed, Reality};
use super::rowdir::{apply_env, load_env, plugin_args, strip_dir, timeout_of};
use super::spawn::{Finished, run_with_timeout};
use crate::loader::texts;

pub(super) fn load_with_host(
    row: &Row,
    dir: &Path,
    host: &Build,
    libs: &BTreeMap<String, Built>,
    key: &str,
) -> Result<Reality> {
    let plugins = plugin_args(row);
    let mut args: Vec<String> = Vec::new();
    if host.protocol == Some(Protocol::Dlhost) && row.load.options.lazy {
        args.push("--lazy".into());
    }
    args.extend(row.load.options.args.iter().cloned());
    args.extend(plugins.iter().cloned());
    let env = load_env(row, dir, libs);
    // A host of another architecture runs under qemu-user (matrix::cross).
    let runner = cross::runner_of_file(&dir.join(&host.name));
    let (mut command, shown_host) = cross::host_command(&dir.join(&host.name), &runner);
    command.current_dir(dir).args(&args);
    apply_env(&mut command, &env);
    let finished = run_with_timeout(command, timeout_of(row))?;
    let reported = finished
        .stdout
        .lines()
        .filter(|l| l.starts_with("OK ") || l.starts_with("ERR "))
        .count();
    if finished.code == Some(0) && !finished.timed_out && reported < plugins.len() {
        bail!(
            "./{} exited 0 after reporting {reported} of {} plugins: does it follow the {:?} protocol (`OK <path>` / `ERR <path>: <error>` per plugin)?",
            host.name,
            plugins.len(),
            host.protocol.unwrap_or(Protocol::Loadhost)
        );
    }
    let observed = parse_host_output(&finished, row, &plugins, dir);
    let shown_env: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            if k == "LD_LIBRARY_PATH" {
                format!("{k}=<{}>", row.load.options.ld_library_path.join(":"))
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let command = shown_env
        .into_iter()
        .chain(std::iter::once(shown_host))
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Reality {
        exit: finished.code,
        signal: finished.signal,
        timed_out: finished.timed_out,
        stderr_head: finished
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(6)
            .map(str::to_string)
            .collect(),
        seconds: finished.seconds,
        ..Reality::of(Via::Host, key, command, observed)
    })
}

/// `OK <path>` / `ERR <path>: <error>` per plugin; a plugin after the last line crashed
/// the host; later ones never ran.
fn parse_host_output(f: &Finished, row: &Row, plugins: &[String], dir: &Path) -> Vec<Observed> {
    let mut out: Vec<Observed> = Vec::new();
    for line in f.stdout.lines() {
        let Some(path) = plugins.get(out.len()) else {
            break;
        };
        let name = row.plugins[out.len()].name.clone();
        if line.strip_prefix("OK ").is_some() {
            out.push(Observed {
                name,
                outcome: PluginOutcome::OK,
                error: None,
                cause: None,
            });
        } else if let Some(rest) = line.strip_prefix("ERR ") {
            let error = rest
                .strip_prefix(&format!("{path}: "))
                .unwrap_or(rest)
                .to_string();
            // Reality is read from what the host prints, never from the prediction.
            let outcome = texts::classify(&error, &dir.join(path))
                .map_or(PluginOutcome::Unrecognised, |c| {
                    PluginOutcome::Load(c.outcome)
                });
            out.push(Observed {
                name,
                outcome,
                error: Some(strip_dir(&error, dir)),
                cause: None,
            });
        }
    }
    if out.len() < plugins.len() {
        let first = f.stderr.lines().find(|l| !l.trim().is_empty());
        let crash = match (first, f.signal) {
            (Some(line), _) => strip_dir(line, dir),
            (None, Some(7)) => "Bus error".into(),
            (None, Some(11)) => "Segmentation fault".into(),
            (None, signal) if f.timed_out => format!("timed out (killed, signal {signal:?})"),
            (None, signal) => format!("exit {:?}, signal {signal:?}, no output", f.code),
        };
        let name = row.plugins[out.len()].name.clone();
        out.push(Observed {
            name,
            outcome: PluginOutcome::CRASH,
            error: Some(crash),
            cause: None,
        });
        while out.len() < plugins.len() {
            let name = row.plugins[out.len()].name.clone();
            out.push(Observed {
                name,
                outcome: PluginOutcome::NotRun,
                error: None,
                cause: None,
            });
        }
    }
    out
}
